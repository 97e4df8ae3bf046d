/* SPDX-License-Identifier: MIT */
/* Counters and their Prometheus text rendering (see metrics.h). Histograms keep one counter per
 * bucket and are made cumulative while rendering; times are counted in whole microseconds and
 * printed as seconds with six decimals, so no floating point is involved. */
#include "backend/metrics.h"

#include <string.h>

#include "common/compiler.h"

#define PREFIX "pdns_failover_"

/* Lock-free 64-bit atomics have the plain integer's representation, which metrics_init()'s
 * memset and the shared-memory use rely on. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
_Static_assert(sizeof(_Atomic uint64_t) == sizeof(uint64_t), "atomics must not carry a lock");

static const char *const method_names[_METRICS_METHOD_MAX] = {
    [METRICS_METHOD_LOOKUP] = "lookup",
    [METRICS_METHOD_LIST] = "list",
    [METRICS_METHOD_GET_ALL_DOMAINS] = "getAllDomains",
    [METRICS_METHOD_GET_DOMAIN_INFO] = "getDomainInfo",
    [METRICS_METHOD_METADATA] = "metadata",
    [METRICS_METHOD_DIRECT_BACKEND_CMD] = "directBackendCmd",
    [METRICS_METHOD_INITIALIZE] = "initialize",
    [METRICS_METHOD_OTHER] = "other",
};

static const char *const result_names[_METRICS_RESULT_MAX] = {
    [METRICS_RESULT_OK] = "ok",
    [METRICS_RESULT_EMPTY] = "empty",
    [METRICS_RESULT_ERROR] = "error",
};

/* Bucket bounds in microseconds and the same bounds as le label values in seconds (written
 * out, as Prometheus client libraries print them, so that no float formatting is needed). */
static const uint32_t lookup_bounds_us[METRICS_LOOKUP_BUCKETS] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 5000,
};
static const char *const lookup_bounds_le[METRICS_LOOKUP_BUCKETS] = {
    "5e-06", "1e-05", "2.5e-05", "5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.005",
};
static const uint32_t probe_bounds_us[METRICS_PROBE_BUCKETS] = {
    5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
static const char *const probe_bounds_le[METRICS_PROBE_BUCKETS] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
};

static const char *const override_kinds[] = {"drain", "down", "up"}; /* override 1, 2, 3 */

static inline void inc(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static inline uint64_t get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

/* Index of the first bucket whose bound is >= v (n: the +Inf bucket). */
static size_t bucket_of(const uint32_t *bounds, size_t n, uint32_t v)
{
    size_t i = 0;
    while (i < n && v > bounds[i])
        i++;
    return i;
}

void metrics_init(struct metrics *m)
{
    memset(m, 0, sizeof(*m));
}

enum metrics_method metrics_method_of(const char *name)
{
    static const struct {
        const char *name;
        enum metrics_method method;
    } table[] = {
        {"lookup", METRICS_METHOD_LOOKUP},
        {"list", METRICS_METHOD_LIST},
        {"getAllDomains", METRICS_METHOD_GET_ALL_DOMAINS},
        {"getDomainInfo", METRICS_METHOD_GET_DOMAIN_INFO},
        {"getDomainMetadata", METRICS_METHOD_METADATA},
        {"getAllDomainMetadata", METRICS_METHOD_METADATA},
        {"directBackendCmd", METRICS_METHOD_DIRECT_BACKEND_CMD},
        {"initialize", METRICS_METHOD_INITIALIZE},
    };
    if (!name)
        return METRICS_METHOD_OTHER;
    for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
        if (strcmp(name, table[i].name) == 0)
            return table[i].method;
    }
    return METRICS_METHOD_OTHER;
}

const char *metrics_method_name(enum metrics_method method)
{
    return (unsigned)method < _METRICS_METHOD_MAX ? method_names[method] : "other";
}

const char *metrics_result_name(enum metrics_result result)
{
    return (unsigned)result < _METRICS_RESULT_MAX ? result_names[result] : "error";
}

void metrics_lookup(struct metrics *m,
                    enum metrics_method method,
                    enum metrics_result result,
                    uint32_t latency_us)
{
    if ((unsigned)method >= _METRICS_METHOD_MAX)
        method = METRICS_METHOD_OTHER;
    if ((unsigned)result >= _METRICS_RESULT_MAX)
        result = METRICS_RESULT_ERROR;
    inc(&m->requests[method][result]);
    if (method != METRICS_METHOD_LOOKUP)
        return;
    struct metrics_hist_lookup *h = &m->lookup_latency;
    inc(&h->bucket[bucket_of(lookup_bounds_us, METRICS_LOOKUP_BUCKETS, latency_us)]);
    atomic_fetch_add_explicit(&h->sum_us, latency_us, memory_order_relaxed);
}

void metrics_probe(struct metrics *m, enum probe_result result, uint32_t latency_us)
{
    if ((unsigned)result >= _PROBE_RES_MAX)
        return;
    inc(&m->probes[result]);
    if (result == PROBE_LOCAL)
        return;
    struct metrics_hist_probe *h = &m->probe_latency;
    inc(&h->bucket[bucket_of(probe_bounds_us, METRICS_PROBE_BUCKETS, latency_us)]);
    atomic_fetch_add_explicit(&h->sum_us, latency_us, memory_order_relaxed);
}

void metrics_transition(struct metrics *m, bool to_up)
{
    inc(to_up ? &m->transitions_up : &m->transitions_down);
}

void metrics_reload(struct metrics *m, bool ok, uint64_t generation)
{
    inc(ok ? &m->reloads_ok : &m->reloads_failed);
    atomic_store_explicit(&m->generation, generation, memory_order_relaxed);
}

void metrics_set_generation(struct metrics *m, uint64_t generation)
{
    atomic_store_explicit(&m->generation, generation, memory_order_relaxed);
}

void metrics_set_stale(struct metrics *m, bool stale)
{
    /* The exchange makes exactly one of several concurrent setters see the change. */
    uint64_t was = atomic_exchange_explicit(&m->stale, stale ? 1 : 0, memory_order_relaxed);
    if (stale && !was)
        inc(&m->stale_periods);
}

/* ---- rendering --------------------------------------------------------------------------- */

void metrics_put_label_value(struct sbuf *out, const char *s)
{
    if (!s)
        return;
    const char *run = s;
    for (; *s; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        if (!esc)
            continue;
        sbuf_put(out, run, (size_t)(s - run));
        sbuf_puts(out, esc);
        run = s + 1;
    }
    sbuf_put(out, run, (size_t)(s - run));
}

static void family(struct sbuf *out, const char *name, const char *type, const char *help)
{
    sbuf_printf(out, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n", name, help, name, type);
}

/* "name{label=\"value\"} n\n", or "name n\n" when label is NULL. */
static void
sample1(struct sbuf *out, const char *name, const char *label, const char *value, uint64_t n)
{
    sbuf_puts(out, PREFIX);
    sbuf_puts(out, name);
    if (label) {
        sbuf_printf(out, "{%s=\"", label);
        metrics_put_label_value(out, value);
        sbuf_puts(out, "\"}");
    }
    sbuf_printf(out, " %llu\n", (unsigned long long)n);
}

static void put_seconds(struct sbuf *out, uint64_t us)
{
    sbuf_printf(out, "%llu.%06llu", (unsigned long long)(us / 1000000),
                (unsigned long long)(us % 1000000));
}

static void histogram(struct sbuf *out,
                      const char *name,
                      const char *help,
                      const _Atomic uint64_t *bucket,
                      const char *const *le,
                      size_t n,
                      const _Atomic uint64_t *sum_us)
{
    family(out, name, "histogram", help);
    uint64_t cum = 0;
    for (size_t i = 0; i <= n; i++) {
        cum += get(&bucket[i]);
        sbuf_printf(out, PREFIX "%s_bucket{le=\"%s\"} %llu\n", name, i < n ? le[i] : "+Inf",
                    (unsigned long long)cum);
    }
    sbuf_printf(out, PREFIX "%s_sum ", name);
    put_seconds(out, get(sum_us));
    sbuf_printf(out, "\n" PREFIX "%s_count %llu\n", name, (unsigned long long)cum);
}

static void member_labels(struct sbuf *out, const char *name, const struct metrics_member *mm)
{
    sbuf_puts(out, PREFIX);
    sbuf_puts(out, name);
    sbuf_puts(out, "{pool=\"");
    metrics_put_label_value(out, mm->pool);
    sbuf_puts(out, "\",member=\"");
    metrics_put_label_value(out, mm->member);
    sbuf_puts(out, "\",address=\"");
    metrics_put_label_value(out, mm->address);
    sbuf_putc(out, '"');
}

enum member_family { MF_UP, MF_OVERRIDE, MF_PROBES, MF_FAILURES };

static void
member_family(struct sbuf *out, enum member_family f, metrics_member_iter it, void *opaque)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        [MF_UP] = {"member_up", "gauge",
                   "Whether the pool member is judged up (1) or down (0) by its health checks; "
                   "absent while it has no verdict yet."},
        [MF_OVERRIDE] = {"member_override", "gauge",
                         "Operator override in force on the pool member (1 for the kind in "
                         "force: drain, down or up)."},
        [MF_PROBES] = {"member_probes_total", "counter",
                       "Probes of the pool member's health check target."},
        [MF_FAILURES] = {"member_probe_failures_total", "counter",
                         "Failed probes of the pool member's health check target."},
    };
    family(out, fam[f].name, fam[f].type, fam[f].help);
    if (!it)
        return;
    for (size_t i = 0;; i++) {
        struct metrics_member mm = {.up = -1};
        if (!it(opaque, i, &mm))
            break;
        switch (f) {
        case MF_UP:
            if (mm.up != 0 && mm.up != 1)
                break;
            member_labels(out, fam[f].name, &mm);
            sbuf_printf(out, "} %d\n", mm.up);
            break;
        case MF_OVERRIDE:
            for (int k = 1; k <= (int)ARRAY_SIZE(override_kinds); k++) {
                member_labels(out, fam[f].name, &mm);
                sbuf_printf(out, ",kind=\"%s\"} %d\n", override_kinds[k - 1], mm.override == k);
            }
            break;
        case MF_PROBES:
        case MF_FAILURES:
            member_labels(out, fam[f].name, &mm);
            sbuf_printf(out, "} %llu\n",
                        (unsigned long long)(f == MF_PROBES ? mm.probes : mm.failures));
            break;
        }
    }
}

void metrics_render(const struct metrics *m, metrics_member_iter it, void *opaque, struct sbuf *out)
{
    family(out, "requests_total", "counter",
           "Requests from PowerDNS answered, by method and result (ok: records, empty: no "
           "records, error: result false).");
    for (size_t i = 0; i < _METRICS_METHOD_MAX; i++) {
        for (size_t j = 0; j < _METRICS_RESULT_MAX; j++) {
            sbuf_printf(out, PREFIX "requests_total{method=\"%s\",result=\"%s\"} %llu\n",
                        method_names[i], result_names[j],
                        (unsigned long long)get(&m->requests[i][j]));
        }
    }
    histogram(out, "lookup_duration_seconds",
              "Time from receiving a lookup request to writing its answer.",
              m->lookup_latency.bucket, lookup_bounds_le, METRICS_LOOKUP_BUCKETS,
              &m->lookup_latency.sum_us);

    family(out, "probes_total", "counter", "Health check probes, by result.");
    for (size_t i = 0; i < _PROBE_RES_MAX; i++)
        sample1(out, "probes_total", "result", probe_result_name((enum probe_result)i),
                get(&m->probes[i]));
    histogram(out, "probe_duration_seconds",
              "Duration of health check probes (all results but local errors).",
              m->probe_latency.bucket, probe_bounds_le, METRICS_PROBE_BUCKETS,
              &m->probe_latency.sum_us);
    family(out, "transitions_total", "counter",
           "Health verdict changes of probe targets, by the verdict reached.");
    sample1(out, "transitions_total", "to", "up", get(&m->transitions_up));
    sample1(out, "transitions_total", "to", "down", get(&m->transitions_down));

    family(out, "reloads_total", "counter", "Store reloads, by result.");
    sample1(out, "reloads_total", "result", "ok", get(&m->reloads_ok));
    sample1(out, "reloads_total", "result", "failed", get(&m->reloads_failed));
    family(out, "store_generation", "gauge", "Generation of the store being served.");
    sample1(out, "store_generation", NULL, NULL, get(&m->generation));

    family(out, "prober_stale", "gauge",
           "Whether probe results are stale (1: no results for too long, answers fail open).");
    sample1(out, "prober_stale", NULL, NULL, get(&m->stale));
    family(out, "prober_stale_periods_total", "counter", "Times the probe results became stale.");
    sample1(out, "prober_stale_periods_total", NULL, NULL, get(&m->stale_periods));

    member_family(out, MF_UP, it, opaque);
    member_family(out, MF_OVERRIDE, it, opaque);
    member_family(out, MF_PROBES, it, opaque);
    member_family(out, MF_FAILURES, it, opaque);
}
