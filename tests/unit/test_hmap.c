/* SPDX-License-Identifier: MIT */
/* Unit tests for health/hmap (the shared health map, in a temporary directory) and for pool
 * answers through dispatch with verdicts taken from it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend/dispatch.h"
#include "backend/pools.h"
#include "health/hmap.h"
#include "helpers.h"

static struct check_def check = {
    .type = CHECK_HTTP, .interval_ms = 1000, .timeout_ms = 500, .rise = 2, .fall = 3, .path = "/"};

static void target(struct target *t, const char *addr, uint64_t key)
{
    memset(t, 0, sizeof(*t));
    t->check = &check;
    snprintf(t->address, sizeof(t->address), "%s", addr);
    t->family = AF_INET;
    t->port = 80;
    t->key = key;
    t->label = addr;
}

static void test_hmap_starts_unknown_and_keeps_verdicts_across_reopen(void **state)
{
    (void)state;
    char *dir = helpers_tmpdir("pf-hmap");
    struct target t[2];
    target(&t[0], "192.0.2.1", 11);
    target(&t[1], "192.0.2.2", 22);
    hmap_t *m;
    struct errbuf err;
    assert_int_equal(hmap_open(dir, t, 2, &m, &err), 0);
    assert_int_equal(hmap_count(m), 2);
    assert_int_equal(hmap_verdict(m, 0), HEALTH_UNKNOWN);
    assert_true(hmap_try_lead(m));
    struct hmap_slot *s = hmap_slot_rw(m, 1);
    s->fail_run = 3;
    s->last_probe_ms = 1000;
    hmap_set_verdict(m, 1, HEALTH_DOWN);
    hmap_close(m);

    assert_int_equal(hmap_open(dir, t, 2, &m, &err), 0);
    assert_int_equal(hmap_verdict(m, 0), HEALTH_UNKNOWN);
    assert_int_equal(hmap_verdict(m, 1), HEALTH_DOWN);
    assert_int_equal(hmap_slot_ro(m, 1)->fail_run, 3);
    hmap_close(m);
    helpers_rmdir_all(dir);
}

static void test_hmap_new_target_set_adopts_states_of_known_targets(void **state)
{
    (void)state;
    char *dir = helpers_tmpdir("pf-hmap");
    struct target t[3];
    target(&t[0], "192.0.2.1", 11);
    target(&t[1], "192.0.2.2", 22);
    hmap_t *m;
    struct errbuf err;
    assert_int_equal(hmap_open(dir, t, 2, &m, &err), 0);
    assert_true(hmap_try_lead(m));
    hmap_slot_rw(m, 1)->last_probe_ms = 5000;
    hmap_set_verdict(m, 1, HEALTH_DOWN);
    hmap_close(m);

    /* another store: a new target first, the known one second */
    target(&t[0], "192.0.2.9", 99);
    target(&t[1], "192.0.2.2", 22);
    hmap_t *m2;
    assert_int_equal(hmap_open(dir, t, 2, &m2, &err), 0);
    assert_string_not_equal(hmap_path(m2), "");
    assert_int_equal(hmap_verdict(m2, 0), HEALTH_UNKNOWN);
    assert_int_equal(hmap_verdict(m2, 1), HEALTH_DOWN);
    assert_int_equal(hmap_slot_ro(m2, 1)->key, 22);
    hmap_close(m2);
    helpers_rmdir_all(dir);
}

/* Update k of slot 0: every field says k. */
static void slot_of(struct hmap_slot *s, uint64_t k)
{
    memset(s, 0, sizeof(*s));
    s->ok_run = (uint16_t)k;
    s->fail_run = (uint16_t)~k;
    s->last_result = (uint8_t)(k % 7);
    s->last_latency_us = (uint32_t)(k * 3);
    s->last_probe_ms = (int64_t)k;
    s->since_ms = (int64_t)k * 5;
    s->probes = k;
    s->failures = k * 2;
    /* lengths vary, so that a copy of parts of two updates shows in the text too */
    snprintf(s->reason, sizeof(s->reason), "update %llu %.*s", (unsigned long long)k, (int)(k % 60),
             "------------------------------------------------------------");
}

static bool same_update(const struct hmap_slot *got)
{
    struct hmap_slot want;
    slot_of(&want, got->probes);
    return got->key == 11 && got->ok_run == want.ok_run && got->fail_run == want.fail_run &&
           got->last_result == want.last_result && got->last_latency_us == want.last_latency_us &&
           got->last_probe_ms == want.last_probe_ms && got->since_ms == want.since_ms &&
           got->failures == want.failures && strcmp(got->reason, want.reason) == 0;
}

struct slot_writer {
    hmap_t *m;
    atomic_bool stop;
    _Atomic uint64_t updates;
};

static void *write_slots(void *arg)
{
    struct slot_writer *w = arg;
    struct hmap_slot s;
    for (uint64_t k = 1; !atomic_load(&w->stop); k++) {
        slot_of(&s, k);
        hmap_slot_put(w->m, 0, &s);
        atomic_store(&w->updates, k);
        /* a pause, as between two probe results: readers get their turn */
        nanosleep(&(struct timespec){.tv_nsec = 20000}, NULL);
    }
    return NULL;
}

/* The probe thread rewrites slots while other threads read them: a reader gets one update
 * whole, never fields of two. (Under TSan this also shows that they do not race.) */
static void test_hmap_slot_copies_are_never_torn(void **state)
{
    (void)state;
    char *dir = helpers_tmpdir("pf-hmap");
    struct target t[1];
    target(&t[0], "192.0.2.1", 11);
    struct errbuf err;
    struct slot_writer w = {.updates = 0};
    assert_int_equal(hmap_open(dir, t, 1, &w.m, &err), 0);
    assert_true(hmap_try_lead(w.m));
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, write_slots, &w), 0);
    struct hmap_slot got = {.probes = 0};
    uint64_t seen = 0, changes = 0;
    bool torn = false;
    /* Bounded in time too: under valgrind the threads take turns in long slices, and a reader
     * that finds the writer descheduled mid-update spins until it runs again. */
    struct timespec t0, tn;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; !torn && (i < 20000 || atomic_load(&w.updates) < 500); i++) {
        if ((i & 255) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &tn);
            if (tn.tv_sec - t0.tv_sec >= 5 && changes > 10)
                break;
        }
        hmap_slot_get(w.m, 0, &got);
        if (got.probes == 0) /* not written yet */
            continue;
        torn = !same_update(&got) || got.probes < seen;
        changes += got.probes != seen;
        seen = got.probes;
    }
    atomic_store(&w.stop, true);
    assert_int_equal(pthread_join(th, NULL), 0);
    if (torn)
        fail_msg("a torn copy: probes %llu, reason '%s'", (unsigned long long)got.probes,
                 got.reason);
    assert_true(changes > 10);
    hmap_close(w.m);
    helpers_rmdir_all(dir);
}

static void test_hmap_elects_one_leader_and_hands_over_when_it_dies(void **state)
{
    (void)state;
    char *dir = helpers_tmpdir("pf-hmap");
    struct target t[1];
    target(&t[0], "192.0.2.1", 11);
    struct errbuf err;
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* the first leader: leads, reports, then is killed */
        hmap_t *c;
        if (hmap_open(dir, t, 1, &c, &err) < 0 || !hmap_try_lead(c))
            _exit(1);
        if (write(pfd[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char x;
    assert_int_equal(read(pfd[0], &x, 1), 1);
    hmap_t *m;
    assert_int_equal(hmap_open(dir, t, 1, &m, &err), 0);
    assert_false(hmap_try_lead(m));
    assert_int_equal(hmap_leader_pid(m), pid);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_true(hmap_try_lead(m)); /* the kernel released the dead leader's lock */
    assert_true(hmap_is_leader(m));
    assert_int_equal(hmap_leader_pid(m), getpid());
    hmap_close(m);
    close(pfd[0]);
    close(pfd[1]);
    helpers_rmdir_all(dir);
}

static void test_hmap_reports_an_unusable_state_directory(void **state)
{
    (void)state;
    struct target t[1];
    target(&t[0], "192.0.2.1", 11);
    hmap_t *m = NULL;
    struct errbuf err;
    assert_true(hmap_open("/proc/pf-no-such/dir", t, 1, &m, &err) < 0);
    assert_non_null(strstr(err.msg, "cannot create state directory '/proc/pf-no-such/dir'"));
    assert_null(m);
}

#define POOL_STORE                                                                              \
    "{\"checks\": {\"c\": {\"type\": \"http\"}}, \"pools\": {\"web\": {\"check\": \"c\", "      \
    "\"members\": [{\"name\": \"web1\", \"address\": \"192.0.2.1\"}, {\"name\": \"web2\", "     \
    "\"address\": \"192.0.2.2\", \"tier\": 2}]}}, \"zones\": {\"example.com.\": {\"records\": " \
    "{" HELPERS_APEX ", \"www\": [{\"type\": \"A\", \"pool\": \"web\"}, {\"type\": \"TXT\", "   \
    "\"content\": \"hi\"}]}}}}"

/* Every request twice, through json-c and through the lookup fast path: the same reply. */
static const char *ask(dispatch_t *d, struct sbuf *out, const char *req)
{
    struct session ss = {0};
    struct errbuf err;
    struct sbuf general = SBUF_INIT;
    dispatch_set_fast_lookup(d, false);
    assert_int_equal(dispatch_request(d, &ss, req, strlen(req), &general, &err), 0);
    dispatch_set_fast_lookup(d, true);
    sbuf_reset(out);
    assert_int_equal(dispatch_request(d, &ss, req, strlen(req), out, &err), 0);
    assert_string_equal(sbuf_str(&general), sbuf_str(out));
    sbuf_free(&general);
    return sbuf_str(out);
}

static void test_hmap_pool_answers_follow_the_published_verdicts(void **state)
{
    (void)state;
    char *dir = helpers_tmpdir("pf-hmap");
    store_t *s = helpers_build(POOL_STORE);
    const struct store_pools *sp = store_pools(s);
    hmap_t *m;
    struct errbuf err;
    assert_int_equal(hmap_open(dir, sp->targets, sp->ntargets, &m, &err), 0);
    dispatch_t *d = dispatch_new(NULL, NULL);
    dispatch_set_store(d, s);
    dispatch_set_health(d, m, 1);
    struct sbuf out = SBUF_INIT;
    const char *qa = "{\"method\":\"lookup\",\"parameters\":{\"qname\":\"www.example.com.\","
                     "\"qtype\":\"A\",\"zone-id\":-1}}";
    assert_string_equal(ask(d, &out, qa),
                        "{\"result\":[{\"qtype\":\"A\",\"qname\":\"www.example.com.\","
                        "\"content\":\"192.0.2.1\",\"ttl\":30,\"scopeMask\":32}]}\n");
    assert_true(hmap_try_lead(m));
    hmap_set_verdict(m, sp->pools[0].members[0].target, HEALTH_DOWN);
    assert_string_equal(ask(d, &out, qa),
                        "{\"result\":[{\"qtype\":\"A\",\"qname\":\"www.example.com.\","
                        "\"content\":\"192.0.2.2\",\"ttl\":30,\"scopeMask\":32}]}\n");
    /* ANY: the static TXT record of a pool name carries the scopeMask too */
    const char *qany = "{\"method\":\"lookup\",\"parameters\":{\"qname\":\"www.example.com.\","
                       "\"qtype\":\"ANY\",\"zone-id\":-1}}";
    assert_string_equal(ask(d, &out, qany),
                        "{\"result\":[{\"qtype\":\"A\",\"qname\":\"www.example.com.\","
                        "\"content\":\"192.0.2.2\",\"ttl\":30,\"scopeMask\":32},{\"qtype\":"
                        "\"TXT\",\"qname\":\"www.example.com.\",\"content\":\"\\\"hi\\\"\","
                        "\"ttl\":3600,\"scopeMask\":32}]}\n");
    /* the zone listing shows the current answer */
    assert_non_null(strstr(ask(d, &out,
                               "{\"method\":\"list\",\"parameters\":{\"zonename\":"
                               "\"example.com.\",\"domain_id\":-1}}"),
                           "\"content\":\"192.0.2.2\""));
    /* no AAAA members: NODATA */
    assert_string_equal(ask(d, &out,
                            "{\"method\":\"lookup\",\"parameters\":{\"qname\":"
                            "\"www.example.com.\",\"qtype\":\"AAAA\"}}"),
                        "{\"result\":[]}\n");
    sbuf_free(&out);
    dispatch_free(d);
    hmap_close(m);
    store_free(s);
    helpers_rmdir_all(dir);
}

static void test_hmap_pool_name_with_an_empty_answer_still_exists(void **state)
{
    (void)state;
    char *dir = helpers_tmpdir("pf-hmap");
    const char *json =
        "{\"checks\": {\"c\": {\"type\": \"http\"}}, \"pools\": {\"web\": {\"check\": \"c\", "
        "\"when_all_down\": \"none\", \"members\": [{\"name\": \"web1\", \"address\": "
        "\"192.0.2.1\"}]}}, \"zones\": {\"example.com.\": {\"records\": {" HELPERS_APEX
        ", \"www\": [{\"type\": \"A\", \"pool\": \"web\"}]}}}}";
    store_t *s = helpers_build(json);
    const struct store_pools *sp = store_pools(s);
    hmap_t *m;
    struct errbuf err;
    assert_int_equal(hmap_open(dir, sp->targets, sp->ntargets, &m, &err), 0);
    assert_true(hmap_try_lead(m));
    hmap_set_verdict(m, 0, HEALTH_DOWN);
    dispatch_t *d = dispatch_new(NULL, NULL);
    dispatch_set_store(d, s);
    dispatch_set_health(d, m, 1);
    struct sbuf out = SBUF_INIT;
    /* NODATA, not NXDOMAIN: the ENT pseudo-record says the name exists; its scopeMask keeps
     * the empty answer out of pdns's query cache */
    assert_string_equal(ask(d, &out,
                            "{\"method\":\"lookup\",\"parameters\":{\"qname\":"
                            "\"www.example.com.\",\"qtype\":\"ANY\"}}"),
                        "{\"result\":[{\"qtype\":\"ENT\",\"qname\":\"www.example.com.\","
                        "\"content\":\"\",\"scopeMask\":32}]}\n");
    assert_string_equal(ask(d, &out,
                            "{\"method\":\"lookup\",\"parameters\":{\"qname\":"
                            "\"www.example.com.\",\"qtype\":\"A\"}}"),
                        "{\"result\":[]}\n");
    sbuf_free(&out);
    dispatch_free(d);
    hmap_close(m);
    store_free(s);
    helpers_rmdir_all(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmap_starts_unknown_and_keeps_verdicts_across_reopen),
        cmocka_unit_test(test_hmap_new_target_set_adopts_states_of_known_targets),
        cmocka_unit_test(test_hmap_slot_copies_are_never_torn),
        cmocka_unit_test(test_hmap_elects_one_leader_and_hands_over_when_it_dies),
        cmocka_unit_test(test_hmap_reports_an_unusable_state_directory),
        cmocka_unit_test(test_hmap_pool_answers_follow_the_published_verdicts),
        cmocka_unit_test(test_hmap_pool_name_with_an_empty_answer_still_exists),
    };
    return cmocka_run_group_tests_name("hmap", tests, NULL, NULL);
}
