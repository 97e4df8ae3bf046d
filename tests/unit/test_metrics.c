/* SPDX-License-Identifier: MIT */
/* Unit tests for backend/metrics.c (counting, histogram buckets, label escaping, the exact
 * exposition text) and backend/metrics_http.c (address parsing, and a round trip over
 * 127.0.0.1 with a plain socket client).
 *
 * `test_metrics --dump` writes a rendered sample with members, overrides, histograms and
 * awkward label values to stdout instead, for tests/metrics-promtool-test. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "backend/metrics.h"
#include "backend/metrics_http.h"
#include "common/sbuf.h"

/* ---- fixtures ---------------------------------------------------------------------------- */

struct members {
    const struct metrics_member *m;
    size_t n;
};

static bool members_iter(void *opaque, size_t i, struct metrics_member *ret)
{
    const struct members *ms = opaque;
    if (i >= ms->n)
        return false;
    *ret = ms->m[i];
    return true;
}

/* The rendering as a string (owned by the caller, free()). */
static char *render(const struct metrics *m, const struct metrics_member *mm, size_t n)
{
    struct members ms = {mm, n};
    struct sbuf out = SBUF_INIT;
    metrics_render(m, n ? members_iter : NULL, &ms, &out);
    return sbuf_take(&out);
}

/* Asserts that text has line as one whole line. */
#define assert_has_line(text, line) assert_true(has_line(text, line))
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    }
    fprintf(stderr, "missing line: %s\n", line);
    return false;
}

/* The sample of --dump and the promtool test: every family with counts in it, and members
 * whose labels need escaping. */
static const struct metrics_member sample_members[] = {
    {"web", "web1", "192.0.2.1", 1, 0, 120, 0},
    {"web", "web2", "192.0.2.2", 0, 1, 120, 37},
    {"api", "we\"ird\\na\nme", "2001:db8::1", -1, 3, 0, 0},
    {"api", "api1", "2001:db8::2", 1, 2, 5, 1},
};

static void fill_sample(struct metrics *m)
{
    metrics_init(m);
    for (uint32_t us = 1; us < 20000; us += 7)
        metrics_lookup(m, METRICS_METHOD_LOOKUP, us % 3 ? METRICS_RESULT_OK : METRICS_RESULT_EMPTY,
                       us);
    metrics_lookup(m, METRICS_METHOD_LIST, METRICS_RESULT_OK, 900);
    metrics_lookup(m, METRICS_METHOD_OTHER, METRICS_RESULT_ERROR, 10);
    for (uint32_t i = 0; i < 500; i++)
        metrics_probe(m, (enum probe_result)(i % _PROBE_RES_MAX), i * 40000);
    metrics_transition(m, false);
    metrics_transition(m, true);
    metrics_reload(m, true, 7);
    metrics_reload(m, false, 7);
    metrics_set_stale(m, true);
}

/* ---- counting ---------------------------------------------------------------------------- */

static void test_metrics_counts_requests_by_method_and_result(void **state)
{
    (void)state;
    struct metrics m;
    metrics_init(&m);
    metrics_lookup(&m, METRICS_METHOD_LOOKUP, METRICS_RESULT_OK, 3);
    metrics_lookup(&m, METRICS_METHOD_LOOKUP, METRICS_RESULT_OK, 3);
    metrics_lookup(&m, METRICS_METHOD_LOOKUP, METRICS_RESULT_EMPTY, 3);
    metrics_lookup(&m, METRICS_METHOD_METADATA, METRICS_RESULT_ERROR, 3);

    char *text = render(&m, NULL, 0);
    assert_has_line(text, "pdns_failover_requests_total{method=\"lookup\",result=\"ok\"} 2");
    assert_has_line(text, "pdns_failover_requests_total{method=\"lookup\",result=\"empty\"} 1");
    assert_has_line(text, "pdns_failover_requests_total{method=\"lookup\",result=\"error\"} 0");
    assert_has_line(text, "pdns_failover_requests_total{method=\"metadata\",result=\"error\"} 1");
    assert_has_line(text, "pdns_failover_requests_total{method=\"list\",result=\"ok\"} 0");
    free(text);
}

static void test_metrics_maps_pdns_method_names(void **state)
{
    (void)state;
    assert_int_equal(metrics_method_of("lookup"), METRICS_METHOD_LOOKUP);
    assert_int_equal(metrics_method_of("list"), METRICS_METHOD_LIST);
    assert_int_equal(metrics_method_of("getAllDomains"), METRICS_METHOD_GET_ALL_DOMAINS);
    assert_int_equal(metrics_method_of("getDomainInfo"), METRICS_METHOD_GET_DOMAIN_INFO);
    assert_int_equal(metrics_method_of("getDomainMetadata"), METRICS_METHOD_METADATA);
    assert_int_equal(metrics_method_of("getAllDomainMetadata"), METRICS_METHOD_METADATA);
    assert_int_equal(metrics_method_of("directBackendCmd"), METRICS_METHOD_DIRECT_BACKEND_CMD);
    assert_int_equal(metrics_method_of("initialize"), METRICS_METHOD_INITIALIZE);
    assert_int_equal(metrics_method_of("getUpdatedMasters"), METRICS_METHOD_OTHER);
    assert_int_equal(metrics_method_of(NULL), METRICS_METHOD_OTHER);
    assert_string_equal(metrics_method_name(METRICS_METHOD_GET_ALL_DOMAINS), "getAllDomains");
    assert_string_equal(metrics_method_name(_METRICS_METHOD_MAX), "other");
    assert_string_equal(metrics_result_name(METRICS_RESULT_EMPTY), "empty");
}

static void test_metrics_counts_out_of_range_values_as_other_and_error(void **state)
{
    (void)state;
    struct metrics m;
    metrics_init(&m);
    metrics_lookup(&m, (enum metrics_method)99, (enum metrics_result)99, 1);
    metrics_probe(&m, (enum probe_result)99, 1);
    assert_int_equal(m.requests[METRICS_METHOD_OTHER][METRICS_RESULT_ERROR], 1);
    for (size_t i = 0; i < _PROBE_RES_MAX; i++)
        assert_int_equal(m.probes[i], 0);
}

static void
test_metrics_counts_probes_by_result_and_leaves_local_errors_out_of_durations(void **state)
{
    (void)state;
    struct metrics m;
    metrics_init(&m);
    metrics_probe(&m, PROBE_OK, 1000);
    metrics_probe(&m, PROBE_L4CON, 1000);
    metrics_probe(&m, PROBE_LOCAL, 1000);

    char *text = render(&m, NULL, 0);
    assert_has_line(text, "pdns_failover_probes_total{result=\"ok\"} 1");
    assert_has_line(text, "pdns_failover_probes_total{result=\"connect refused\"} 1");
    assert_has_line(text, "pdns_failover_probes_total{result=\"local error\"} 1");
    assert_has_line(text, "pdns_failover_probes_total{result=\"tls failure\"} 0");
    assert_has_line(text, "pdns_failover_probe_duration_seconds_count 2");
    assert_has_line(text, "pdns_failover_probe_duration_seconds_sum 0.002000");
    free(text);
}

static void test_metrics_counts_transitions_reloads_and_stale_periods(void **state)
{
    (void)state;
    struct metrics m;
    metrics_init(&m);
    metrics_transition(&m, true);
    metrics_transition(&m, false);
    metrics_transition(&m, false);
    metrics_set_generation(&m, 3);
    metrics_reload(&m, true, 4);
    metrics_reload(&m, false, 4);
    metrics_set_stale(&m, true);
    metrics_set_stale(&m, true); /* still the same period */
    metrics_set_stale(&m, false);
    metrics_set_stale(&m, true);

    char *text = render(&m, NULL, 0);
    assert_has_line(text, "pdns_failover_transitions_total{to=\"up\"} 1");
    assert_has_line(text, "pdns_failover_transitions_total{to=\"down\"} 2");
    assert_has_line(text, "pdns_failover_reloads_total{result=\"ok\"} 1");
    assert_has_line(text, "pdns_failover_reloads_total{result=\"failed\"} 1");
    assert_has_line(text, "pdns_failover_store_generation 4");
    assert_has_line(text, "pdns_failover_prober_stale 1");
    assert_has_line(text, "pdns_failover_prober_stale_periods_total 2");
    free(text);
}

#define COUNT_THREADS 4
#define COUNT_EACH    100000

static void *count_many(void *arg)
{
    struct metrics *m = arg;
    for (int i = 0; i < COUNT_EACH; i++) {
        metrics_lookup(m, METRICS_METHOD_LOOKUP, METRICS_RESULT_OK, 7);
        metrics_probe(m, PROBE_OK, 7000);
    }
    return NULL;
}

static void test_metrics_loses_no_count_when_threads_count_at_once(void **state)
{
    (void)state;
    struct metrics m;
    pthread_t t[COUNT_THREADS];
    metrics_init(&m);
    for (int i = 0; i < COUNT_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, count_many, &m), 0);
    for (int i = 0; i < COUNT_THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    uint64_t total = (uint64_t)COUNT_THREADS * COUNT_EACH;
    assert_int_equal(m.requests[METRICS_METHOD_LOOKUP][METRICS_RESULT_OK], total);
    assert_int_equal(m.lookup_latency.bucket[1], total); /* 7 us: the 10 us bucket */
    assert_int_equal(m.lookup_latency.sum_us, total * 7);
    assert_int_equal(m.probe_latency.bucket[1], total); /* 7 ms: the 10 ms bucket */
}

/* ---- histograms -------------------------------------------------------------------------- */

static void test_metrics_puts_latencies_in_the_first_bucket_that_holds_them(void **state)
{
    (void)state;
    struct metrics m;
    metrics_init(&m);
    /* A bound belongs to its own bucket (le: less or equal). */
    static const struct {
        uint32_t us;
        size_t bucket;
    } cases[] = {
        {0, 0},   {5, 0},    {6, 1},    {10, 1},   {11, 2},   {25, 2},         {100, 4},
        {101, 5}, {1000, 7}, {1001, 8}, {5000, 8}, {5001, 9}, {UINT32_MAX, 9},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        metrics_init(&m);
        metrics_lookup(&m, METRICS_METHOD_LOOKUP, METRICS_RESULT_OK, cases[i].us);
        for (size_t b = 0; b <= METRICS_LOOKUP_BUCKETS; b++)
            assert_int_equal(m.lookup_latency.bucket[b], b == cases[i].bucket);
    }

    metrics_init(&m);
    metrics_probe(&m, PROBE_OK, 5000);     /* 0.005 s */
    metrics_probe(&m, PROBE_OK, 5001);     /* 0.01 s */
    metrics_probe(&m, PROBE_OK, 10000000); /* 10 s */
    metrics_probe(&m, PROBE_OK, 10000001); /* +Inf */
    assert_int_equal(m.probe_latency.bucket[0], 1);
    assert_int_equal(m.probe_latency.bucket[1], 1);
    assert_int_equal(m.probe_latency.bucket[METRICS_PROBE_BUCKETS - 1], 1);
    assert_int_equal(m.probe_latency.bucket[METRICS_PROBE_BUCKETS], 1);
}

static void test_metrics_leaves_other_methods_out_of_the_lookup_histogram(void **state)
{
    (void)state;
    struct metrics m;
    metrics_init(&m);
    metrics_lookup(&m, METRICS_METHOD_LIST, METRICS_RESULT_OK, 50);
    metrics_lookup(&m, METRICS_METHOD_GET_ALL_DOMAINS, METRICS_RESULT_OK, 50);
    for (size_t b = 0; b <= METRICS_LOOKUP_BUCKETS; b++)
        assert_int_equal(m.lookup_latency.bucket[b], 0);
    assert_int_equal(m.lookup_latency.sum_us, 0);
}

static void test_metrics_renders_cumulative_buckets_sum_and_count(void **state)
{
    (void)state;
    struct metrics m;
    metrics_init(&m);
    const uint32_t lat[] = {3, 5, 20, 20, 700, 6000, 1500000};
    for (size_t i = 0; i < ARRAY_SIZE(lat); i++)
        metrics_lookup(&m, METRICS_METHOD_LOOKUP, METRICS_RESULT_OK, lat[i]);

    char *text = render(&m, NULL, 0);
    static const char expected[] =
        "# HELP pdns_failover_lookup_duration_seconds Time from receiving a lookup request to "
        "writing its answer.\n"
        "# TYPE pdns_failover_lookup_duration_seconds histogram\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"5e-06\"} 2\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"1e-05\"} 2\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"2.5e-05\"} 4\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"5e-05\"} 4\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"0.0001\"} 4\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"0.00025\"} 4\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"0.0005\"} 4\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"0.001\"} 5\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"0.005\"} 5\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"+Inf\"} 7\n"
        "pdns_failover_lookup_duration_seconds_sum 1.506748\n"
        "pdns_failover_lookup_duration_seconds_count 7\n";
    assert_non_null(strstr(text, expected));
    free(text);
}

/* ---- labels and members ------------------------------------------------------------------ */

static void test_metrics_escapes_backslash_quote_and_newline_in_label_values(void **state)
{
    (void)state;
    struct sbuf b = SBUF_INIT;
    metrics_put_label_value(&b, "a\\b\"c\nd\te");
    assert_string_equal(sbuf_str(&b), "a\\\\b\\\"c\\nd\te");
    sbuf_reset(&b);
    metrics_put_label_value(&b, "plain");
    metrics_put_label_value(&b, "");
    metrics_put_label_value(&b, NULL);
    assert_string_equal(sbuf_str(&b), "plain");
    sbuf_free(&b);

    struct metrics m;
    metrics_init(&m);
    const struct metrics_member mm[] = {{"p\"q", "x\\y\nz", NULL, 1, 0, 0, 0}};
    char *text = render(&m, mm, 1);
    assert_has_line(text, "pdns_failover_member_up{pool=\"p\\\"q\",member=\"x\\\\y\\nz\","
                          "address=\"\"} 1");
    free(text);
}

static void test_metrics_renders_the_exact_text_for_a_small_case(void **state)
{
    (void)state;
    struct metrics m;
    metrics_init(&m);
    metrics_lookup(&m, METRICS_METHOD_LOOKUP, METRICS_RESULT_OK, 42);
    metrics_lookup(&m, METRICS_METHOD_GET_ALL_DOMAINS, METRICS_RESULT_OK, 1);
    metrics_probe(&m, PROBE_L7STS, 30000);
    metrics_transition(&m, false);
    metrics_set_generation(&m, 1);
    const struct metrics_member mm[] = {
        {"web", "web1", "192.0.2.1", 0, 1, 10, 4},
        {"web", "web2", "192.0.2.2", -1, 0, 0, 0},
    };
    char *text = render(&m, mm, ARRAY_SIZE(mm));
    static const char expected[] =
        "# HELP pdns_failover_requests_total Requests from PowerDNS answered, by method and "
        "result (ok: records, empty: no records, error: result false).\n"
        "# TYPE pdns_failover_requests_total counter\n"
        "pdns_failover_requests_total{method=\"lookup\",result=\"ok\"} 1\n"
        "pdns_failover_requests_total{method=\"lookup\",result=\"empty\"} 0\n"
        "pdns_failover_requests_total{method=\"lookup\",result=\"error\"} 0\n"
        "pdns_failover_requests_total{method=\"list\",result=\"ok\"} 0\n"
        "pdns_failover_requests_total{method=\"list\",result=\"empty\"} 0\n"
        "pdns_failover_requests_total{method=\"list\",result=\"error\"} 0\n"
        "pdns_failover_requests_total{method=\"getAllDomains\",result=\"ok\"} 1\n"
        "pdns_failover_requests_total{method=\"getAllDomains\",result=\"empty\"} 0\n"
        "pdns_failover_requests_total{method=\"getAllDomains\",result=\"error\"} 0\n"
        "pdns_failover_requests_total{method=\"getDomainInfo\",result=\"ok\"} 0\n"
        "pdns_failover_requests_total{method=\"getDomainInfo\",result=\"empty\"} 0\n"
        "pdns_failover_requests_total{method=\"getDomainInfo\",result=\"error\"} 0\n"
        "pdns_failover_requests_total{method=\"metadata\",result=\"ok\"} 0\n"
        "pdns_failover_requests_total{method=\"metadata\",result=\"empty\"} 0\n"
        "pdns_failover_requests_total{method=\"metadata\",result=\"error\"} 0\n"
        "pdns_failover_requests_total{method=\"directBackendCmd\",result=\"ok\"} 0\n"
        "pdns_failover_requests_total{method=\"directBackendCmd\",result=\"empty\"} 0\n"
        "pdns_failover_requests_total{method=\"directBackendCmd\",result=\"error\"} 0\n"
        "pdns_failover_requests_total{method=\"initialize\",result=\"ok\"} 0\n"
        "pdns_failover_requests_total{method=\"initialize\",result=\"empty\"} 0\n"
        "pdns_failover_requests_total{method=\"initialize\",result=\"error\"} 0\n"
        "pdns_failover_requests_total{method=\"other\",result=\"ok\"} 0\n"
        "pdns_failover_requests_total{method=\"other\",result=\"empty\"} 0\n"
        "pdns_failover_requests_total{method=\"other\",result=\"error\"} 0\n"
        "# HELP pdns_failover_lookup_duration_seconds Time from receiving a lookup request to "
        "writing its answer.\n"
        "# TYPE pdns_failover_lookup_duration_seconds histogram\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"5e-06\"} 0\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"1e-05\"} 0\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"2.5e-05\"} 0\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"5e-05\"} 1\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"0.0001\"} 1\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"0.00025\"} 1\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"0.0005\"} 1\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"0.001\"} 1\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"0.005\"} 1\n"
        "pdns_failover_lookup_duration_seconds_bucket{le=\"+Inf\"} 1\n"
        "pdns_failover_lookup_duration_seconds_sum 0.000042\n"
        "pdns_failover_lookup_duration_seconds_count 1\n"
        "# HELP pdns_failover_probes_total Health check probes, by result.\n"
        "# TYPE pdns_failover_probes_total counter\n"
        "pdns_failover_probes_total{result=\"ok\"} 0\n"
        "pdns_failover_probes_total{result=\"connect refused\"} 0\n"
        "pdns_failover_probes_total{result=\"connect timeout\"} 0\n"
        "pdns_failover_probes_total{result=\"tls failure\"} 0\n"
        "pdns_failover_probes_total{result=\"timeout\"} 0\n"
        "pdns_failover_probes_total{result=\"http status\"} 1\n"
        "pdns_failover_probes_total{result=\"bad response\"} 0\n"
        "pdns_failover_probes_total{result=\"local error\"} 0\n"
        "# HELP pdns_failover_probe_duration_seconds Duration of health check probes (all "
        "results but local errors).\n"
        "# TYPE pdns_failover_probe_duration_seconds histogram\n"
        "pdns_failover_probe_duration_seconds_bucket{le=\"0.005\"} 0\n"
        "pdns_failover_probe_duration_seconds_bucket{le=\"0.01\"} 0\n"
        "pdns_failover_probe_duration_seconds_bucket{le=\"0.025\"} 0\n"
        "pdns_failover_probe_duration_seconds_bucket{le=\"0.05\"} 1\n"
        "pdns_failover_probe_duration_seconds_bucket{le=\"0.1\"} 1\n"
        "pdns_failover_probe_duration_seconds_bucket{le=\"0.25\"} 1\n"
        "pdns_failover_probe_duration_seconds_bucket{le=\"0.5\"} 1\n"
        "pdns_failover_probe_duration_seconds_bucket{le=\"1\"} 1\n"
        "pdns_failover_probe_duration_seconds_bucket{le=\"2.5\"} 1\n"
        "pdns_failover_probe_duration_seconds_bucket{le=\"5\"} 1\n"
        "pdns_failover_probe_duration_seconds_bucket{le=\"10\"} 1\n"
        "pdns_failover_probe_duration_seconds_bucket{le=\"+Inf\"} 1\n"
        "pdns_failover_probe_duration_seconds_sum 0.030000\n"
        "pdns_failover_probe_duration_seconds_count 1\n"
        "# HELP pdns_failover_transitions_total Health verdict changes of probe targets, by the "
        "verdict reached.\n"
        "# TYPE pdns_failover_transitions_total counter\n"
        "pdns_failover_transitions_total{to=\"up\"} 0\n"
        "pdns_failover_transitions_total{to=\"down\"} 1\n"
        "# HELP pdns_failover_reloads_total Store reloads, by result.\n"
        "# TYPE pdns_failover_reloads_total counter\n"
        "pdns_failover_reloads_total{result=\"ok\"} 0\n"
        "pdns_failover_reloads_total{result=\"failed\"} 0\n"
        "# HELP pdns_failover_store_generation Generation of the store being served.\n"
        "# TYPE pdns_failover_store_generation gauge\n"
        "pdns_failover_store_generation 1\n"
        "# HELP pdns_failover_prober_stale Whether probe results are stale (1: no results for "
        "too long, answers fail open).\n"
        "# TYPE pdns_failover_prober_stale gauge\n"
        "pdns_failover_prober_stale 0\n"
        "# HELP pdns_failover_prober_stale_periods_total Times the probe results became stale.\n"
        "# TYPE pdns_failover_prober_stale_periods_total counter\n"
        "pdns_failover_prober_stale_periods_total 0\n"
        "# HELP pdns_failover_member_up Whether the pool member is judged up (1) or down (0) by "
        "its health checks; absent while it has no verdict yet.\n"
        "# TYPE pdns_failover_member_up gauge\n"
        "pdns_failover_member_up{pool=\"web\",member=\"web1\",address=\"192.0.2.1\"} 0\n"
        "# HELP pdns_failover_member_override Operator override in force on the pool member (1 "
        "for the kind in force: drain, down or up).\n"
        "# TYPE pdns_failover_member_override gauge\n"
        "pdns_failover_member_override{pool=\"web\",member=\"web1\",address=\"192.0.2.1\","
        "kind=\"drain\"} 1\n"
        "pdns_failover_member_override{pool=\"web\",member=\"web1\",address=\"192.0.2.1\","
        "kind=\"down\"} 0\n"
        "pdns_failover_member_override{pool=\"web\",member=\"web1\",address=\"192.0.2.1\","
        "kind=\"up\"} 0\n"
        "pdns_failover_member_override{pool=\"web\",member=\"web2\",address=\"192.0.2.2\","
        "kind=\"drain\"} 0\n"
        "pdns_failover_member_override{pool=\"web\",member=\"web2\",address=\"192.0.2.2\","
        "kind=\"down\"} 0\n"
        "pdns_failover_member_override{pool=\"web\",member=\"web2\",address=\"192.0.2.2\","
        "kind=\"up\"} 0\n"
        "# HELP pdns_failover_member_probes_total Probes of the pool member's health check "
        "target.\n"
        "# TYPE pdns_failover_member_probes_total counter\n"
        "pdns_failover_member_probes_total{pool=\"web\",member=\"web1\",address=\"192.0.2.1\"} 10\n"
        "pdns_failover_member_probes_total{pool=\"web\",member=\"web2\",address=\"192.0.2.2\"} 0\n"
        "# HELP pdns_failover_member_probe_failures_total Failed probes of the pool member's "
        "health check target.\n"
        "# TYPE pdns_failover_member_probe_failures_total counter\n"
        "pdns_failover_member_probe_failures_total{pool=\"web\",member=\"web1\","
        "address=\"192.0.2.1\"} 4\n"
        "pdns_failover_member_probe_failures_total{pool=\"web\",member=\"web2\","
        "address=\"192.0.2.2\"} 0\n";
    assert_string_equal(text, expected);
    free(text);
}

static void test_metrics_renders_member_families_empty_without_an_iterator(void **state)
{
    (void)state;
    struct metrics m;
    metrics_init(&m);
    char *text = render(&m, NULL, 0);
    assert_has_line(text, "# TYPE pdns_failover_member_up gauge");
    assert_null(strstr(text, "pdns_failover_member_up{"));
    assert_null(strstr(text, "pdns_failover_member_override{"));
    free(text);
}

/* ---- HTTP: addresses --------------------------------------------------------------------- */

static void test_metrics_http_parses_ipv4_ipv6_and_any_addresses(void **state)
{
    (void)state;
    struct sockaddr_storage a;
    struct errbuf err;
    char text[INET6_ADDRSTRLEN];

    assert_int_equal(metrics_http_parse_address("127.0.0.1:9154", &a, &err), 0);
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)&a;
    assert_int_equal(a4->sin_family, AF_INET);
    assert_int_equal(ntohs(a4->sin_port), 9154);
    assert_string_equal(inet_ntop(AF_INET, &a4->sin_addr, text, sizeof(text)), "127.0.0.1");

    assert_int_equal(metrics_http_parse_address("[::1]:65535", &a, &err), 0);
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&a;
    assert_int_equal(a6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(a6->sin6_port), 65535);
    assert_true(IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr));

    assert_int_equal(metrics_http_parse_address(":9154", &a, &err), 0);
    assert_int_equal(a6->sin6_family, AF_INET6);
    assert_true(IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr));
    assert_int_equal(ntohs(a6->sin6_port), 9154);

    assert_int_equal(metrics_http_parse_address("0.0.0.0:0", &a, &err), 0);
    assert_int_equal(a4->sin_family, AF_INET);
}

static void test_metrics_http_rejects_what_is_not_address_colon_port(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "9154",
        "127.0.0.1",
        "127.0.0.1:",
        "127.0.0.1:65536",
        "1.2.3.4:+80",
        "1.2.3.4:80x",
        "localhost:9154",
        "::1:9154",
        "[::1]9154",
        "[::1:9154",
        "[1.2.3.4]:80",
        "[]:80",
        "300.1.1.1:80",
        "1.2.3.4:000009154",
    };
    struct sockaddr_storage a;
    struct errbuf err;
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        err.msg[0] = '\0';
        if (metrics_http_parse_address(bad[i], &a, &err) != -EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
        char want[128];
        snprintf(want, sizeof(want), "--metrics: '%s' is not ADDRESS:PORT (", bad[i]);
        if (strncmp(err.msg, want, strlen(want)) != 0)
            fail_msg("'%s': got '%s'", bad[i], err.msg);
    }
    assert_int_equal(metrics_http_parse_address(NULL, &a, &err), -EINVAL);

    assert_int_equal(metrics_http_parse_address("::1:9154", &a, &err), -EINVAL);
    assert_string_equal(err.msg, "--metrics: '::1:9154' is not ADDRESS:PORT (write an IPv6 "
                                 "address in brackets: [::1]:9154)");
    assert_int_equal(metrics_http_parse_address("127.0.0.1:99999", &a, &err), -EINVAL);
    assert_string_equal(err.msg, "--metrics: '127.0.0.1:99999' is not ADDRESS:PORT (the port "
                                 "must be a number from 0 to 65535)");
}

/* ---- HTTP: round trip -------------------------------------------------------------------- */

struct server_ctx {
    struct metrics m;
    atomic_bool healthy;
    atomic_int status_calls;
};

static bool ctx_iter(void *opaque, size_t i, struct metrics_member *ret)
{
    (void)opaque;
    if (i >= 1)
        return false;
    *ret = (struct metrics_member){"web", "web1", "192.0.2.1", 1, 0, 3, 0};
    return true;
}

static void ctx_metrics(void *opaque, struct sbuf *out)
{
    struct server_ctx *c = opaque;
    metrics_render(&c->m, ctx_iter, c, out);
}

static void ctx_status(void *opaque, struct sbuf *out)
{
    struct server_ctx *c = opaque;
    atomic_fetch_add(&c->status_calls, 1);
    sbuf_puts(out, "{\"members\":[]}");
}

static bool ctx_healthy(void *opaque)
{
    struct server_ctx *c = opaque;
    return atomic_load(&c->healthy);
}

struct reply {
    int status;
    struct sbuf raw; /* status line, headers, body */
    const char *body;
};

/* Sends one request to 127.0.0.1:port and reads the whole reply (the server closes). */
static void http(uint16_t port, const char *request, struct reply *ret)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_not_equal(fd, -1);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    size_t len = strlen(request);
    assert_int_equal(send(fd, request, len, MSG_NOSIGNAL), (ssize_t)len);

    *ret = (struct reply){.status = -1, .raw = SBUF_INIT};
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
        sbuf_put(&ret->raw, buf, (size_t)n);
    assert_int_equal(n, 0); /* EOF, not a timeout */
    close(fd);

    const char *raw = sbuf_str(&ret->raw);
    assert_int_equal(sscanf(raw, "HTTP/1.%*d %d", &ret->status), 1);
    const char *end = strstr(raw, "\r\n\r\n");
    assert_non_null(end);
    ret->body = end + 4;
}

static bool has_header(const struct reply *r, const char *header)
{
    char line[256];
    snprintf(line, sizeof(line), "\r\n%s\r\n", header);
    const char *raw = sbuf_str(&r->raw);
    const char *hit = strcasestr(raw, line);
    return hit && hit < r->body;
}

static void request(uint16_t port, const char *method, const char *path, struct reply *ret)
{
    char req[256];
    snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
             method, path);
    http(port, req, ret);
}

static void test_metrics_http_serves_metrics_status_and_healthz(void **state)
{
    (void)state;
    struct server_ctx ctx;
    metrics_init(&ctx.m);
    atomic_init(&ctx.healthy, true);
    atomic_init(&ctx.status_calls, 0);
    metrics_lookup(&ctx.m, METRICS_METHOD_LOOKUP, METRICS_RESULT_OK, 30);
    struct metrics_http_handlers h = {ctx_metrics, ctx_status, ctx_healthy, &ctx};
    metrics_http_t *s = NULL;
    struct errbuf err = {""};
    if (metrics_http_start("127.0.0.1:0", &h, &s, &err) < 0)
        fail_msg("%s", err.msg);
    uint16_t port = metrics_http_port(s);
    assert_int_not_equal(port, 0);
    struct reply r;

    request(port, "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_true(has_header(&r, "Content-Type: text/plain; version=0.0.4; charset=utf-8"));
    assert_true(has_line(r.body, "pdns_failover_requests_total{method=\"lookup\","
                                 "result=\"ok\"} 1"));
    assert_true(has_line(r.body, "pdns_failover_member_up{pool=\"web\",member=\"web1\","
                                 "address=\"192.0.2.1\"} 1"));
    sbuf_free(&r.raw);

    request(port, "HEAD", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "");
    sbuf_free(&r.raw);

    request(port, "GET", "/status", &r);
    assert_int_equal(r.status, 200);
    assert_true(has_header(&r, "Content-Type: application/json"));
    assert_string_equal(r.body, "{\"members\":[]}");
    sbuf_free(&r.raw);

    request(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    sbuf_free(&r.raw);

    atomic_store(&ctx.healthy, false);
    request(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "stale\n");
    sbuf_free(&r.raw);

    metrics_http_stop(s);
    assert_int_equal(atomic_load(&ctx.status_calls), 1);
}

static void test_metrics_http_answers_404_for_other_paths_and_405_for_other_methods(void **state)
{
    (void)state;
    struct metrics_http_handlers h = {NULL, NULL, NULL, NULL}; /* nothing but /healthz */
    metrics_http_t *s = NULL;
    struct errbuf err = {""};
    if (metrics_http_start("127.0.0.1:0", &h, &s, &err) < 0)
        fail_msg("%s", err.msg);
    uint16_t port = metrics_http_port(s);
    struct reply r;

    static const char *const missing[] = {"/", "/metrics", "/status", "/nope", "/healthz/x"};
    for (size_t i = 0; i < ARRAY_SIZE(missing); i++) {
        request(port, "GET", missing[i], &r);
        assert_int_equal(r.status, 404);
        assert_string_equal(r.body, "not found\n");
        sbuf_free(&r.raw);
    }

    http(port,
         "POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
         "Connection: close\r\n\r\nhello",
         &r);
    assert_int_equal(r.status, 405);
    assert_true(has_header(&r, "Allow: GET, HEAD"));
    sbuf_free(&r.raw);

    request(port, "DELETE", "/healthz", &r);
    assert_int_equal(r.status, 405);
    sbuf_free(&r.raw);

    request(port, "GET", "/healthz?verbose=1", &r); /* the query is not part of the path */
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    sbuf_free(&r.raw);

    metrics_http_stop(s);
}

static void test_metrics_http_listens_on_ipv4_too_when_given_all_addresses(void **state)
{
    (void)state;
    struct metrics_http_handlers h = {NULL, NULL, NULL, NULL};
    metrics_http_t *s = NULL;
    struct errbuf err = {""};
    if (metrics_http_start(":0", &h, &s, &err) < 0)
        fail_msg("%s", err.msg);
    struct reply r;
    request(metrics_http_port(s), "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    sbuf_free(&r.raw);
    metrics_http_stop(s);
}

static void test_metrics_http_reports_a_port_in_use(void **state)
{
    (void)state;
    struct metrics_http_handlers h = {NULL, NULL, NULL, NULL};
    metrics_http_t *s = NULL, *s2 = NULL;
    struct errbuf err = {""};
    if (metrics_http_start("127.0.0.1:0", &h, &s, &err) < 0)
        fail_msg("%s", err.msg);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)metrics_http_port(s));

    assert_int_equal(metrics_http_start(addr, &h, &s2, &err), -EADDRINUSE);
    assert_null(s2);
    char want[128];
    snprintf(want, sizeof(want), "--metrics: cannot listen on '%s' (", addr);
    if (strncmp(err.msg, want, strlen(want)) != 0 || !strstr(err.msg, "in use"))
        fail_msg("got '%s'", err.msg);

    metrics_http_stop(s);
}

static void test_metrics_http_rejects_a_bad_address_before_listening(void **state)
{
    (void)state;
    struct metrics_http_handlers h = {NULL, NULL, NULL, NULL};
    metrics_http_t *s = NULL;
    struct errbuf err;
    assert_int_equal(metrics_http_start("localhost:9154", &h, &s, &err), -EINVAL);
    assert_null(s);
    assert_non_null(strstr(err.msg, "'localhost:9154' is not ADDRESS:PORT"));
    metrics_http_stop(NULL); /* a no-op */
}

/* ---- main -------------------------------------------------------------------------------- */

static int dump_sample(void)
{
    struct metrics m;
    fill_sample(&m);
    char *text = render(&m, sample_members, ARRAY_SIZE(sample_members));
    size_t len = strlen(text);
    int ok = fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0;
    free(text);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--dump") == 0)
        return dump_sample();

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_counts_requests_by_method_and_result),
        cmocka_unit_test(test_metrics_maps_pdns_method_names),
        cmocka_unit_test(test_metrics_counts_out_of_range_values_as_other_and_error),
        cmocka_unit_test(
            test_metrics_counts_probes_by_result_and_leaves_local_errors_out_of_durations),
        cmocka_unit_test(test_metrics_counts_transitions_reloads_and_stale_periods),
        cmocka_unit_test(test_metrics_loses_no_count_when_threads_count_at_once),
        cmocka_unit_test(test_metrics_puts_latencies_in_the_first_bucket_that_holds_them),
        cmocka_unit_test(test_metrics_leaves_other_methods_out_of_the_lookup_histogram),
        cmocka_unit_test(test_metrics_renders_cumulative_buckets_sum_and_count),
        cmocka_unit_test(test_metrics_escapes_backslash_quote_and_newline_in_label_values),
        cmocka_unit_test(test_metrics_renders_the_exact_text_for_a_small_case),
        cmocka_unit_test(test_metrics_renders_member_families_empty_without_an_iterator),
        cmocka_unit_test(test_metrics_http_parses_ipv4_ipv6_and_any_addresses),
        cmocka_unit_test(test_metrics_http_rejects_what_is_not_address_colon_port),
        cmocka_unit_test(test_metrics_http_serves_metrics_status_and_healthz),
        cmocka_unit_test(test_metrics_http_answers_404_for_other_paths_and_405_for_other_methods),
        cmocka_unit_test(test_metrics_http_listens_on_ipv4_too_when_given_all_addresses),
        cmocka_unit_test(test_metrics_http_reports_a_port_in_use),
        cmocka_unit_test(test_metrics_http_rejects_a_bad_address_before_listening),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
