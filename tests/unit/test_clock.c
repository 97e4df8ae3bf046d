/* SPDX-License-Identifier: MIT */
/* Clock jumps: the wall clock set back by an hour or forward by a day while the monotonic and
 * boot clocks run on, injected where the code takes time as an argument. The scheduler and the
 * state machine never see the wall clock; a new leader resumes the previous one's rhythm without
 * putting a probe off by the jump; timed overrides end at their wall time but do not last up to
 * an hour longer when the clock is set back; the staleness guard (the prober's heartbeat in the
 * shared map) neither calls a live prober dead after a forward jump nor keeps a dead one alive
 * after a backward one; durations shown to people are never negative; notification retries
 * depend on the attempt alone. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend/commands.h"
#include "backend/dispatch.h"
#include "backend/pools.h"
#include "health/hmap.h"
#include "health/notify.h"
#include "health/overrides.h"
#include "health/scheduler.h"
#include "health/state.h"
#include "helpers.h"

#define SEC  1000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)

#define WALL0 1796025600000LL /* 2026-11-30T08:00:00Z: where the wall clock starts */
#define MONO0 5000000LL       /* where the monotonic (and boot) clock starts */

/* ---- the scheduler and a leader taking over ---------------------------------------------------
 */

static void test_clock_new_leader_resumes_the_rhythm_without_the_wall_clock_jump(void **state)
{
    (void)state;
    const uint32_t iv = 10 * SEC;
    bool fresh;
    /* The previous leader probed 2 s ago: the next probe is due in 8 s. */
    assert_int_equal(sched_resume_due(WALL0 - 2 * SEC, WALL0, MONO0, iv, &fresh), MONO0 + 8 * SEC);
    assert_true(fresh);
    /* The wall clock was set back an hour since: the probe is "an hour and 2 s ahead". It must
     * be probed now, not in an hour. */
    int64_t due = sched_resume_due(WALL0 - 2 * SEC, WALL0 - HOUR, MONO0, iv, &fresh);
    assert_int_equal(due, MONO0);
    assert_false(fresh);
    /* Set back by less than the age of the probe: still in the past, rhythm kept. */
    assert_int_equal(sched_resume_due(WALL0 - 5 * SEC, WALL0 - 3 * SEC, MONO0, iv, &fresh),
                     MONO0 + 8 * SEC);
    assert_true(fresh);
    /* Forward a day: the verdict is a day old; probed now (once). */
    assert_int_equal(sched_resume_due(WALL0 - 2 * SEC, WALL0 + DAY, MONO0, iv, &fresh), MONO0);
    assert_false(fresh);
    /* Never probed. */
    assert_int_equal(sched_resume_due(0, WALL0, MONO0, iv, &fresh), MONO0);
    assert_false(fresh);
    /* Whatever the jump, the next probe is due within one interval. */
    for (int64_t jump = -2 * DAY; jump <= 2 * DAY; jump += 7 * MIN + 123) {
        for (int64_t age = 0; age < 3 * iv; age += 1700) {
            due = sched_resume_due(WALL0 - age, WALL0 + jump, MONO0, iv, &fresh);
            assert_true(due >= MONO0 && due <= MONO0 + iv);
        }
    }
}

/* The scheduler's clock is monotonic; the most it sees is a forward step (the process stopped,
 * the machine stalled). Each target is then probed once, the rounds missed are skipped, and the
 * rhythm goes on from now: no burst of a day's worth of probes. */
static void test_clock_scheduler_after_a_day_long_stall_probes_each_target_once(void **state)
{
    (void)state;
    enum { N = 1000 };
    uint32_t iv[N];
    for (size_t i = 0; i < N; i++)
        iv[i] = 1000 + (uint32_t)(i % 7) * 500;
    sched_t *s = sched_new(iv, N, MONO0);
    size_t *out = calloc(N, sizeof(*out));
    /* Run normally for 10 s. */
    int64_t now = MONO0;
    for (; now < MONO0 + 10 * SEC; now += 100) {
        size_t k = sched_take_due(s, now, out, N);
        for (size_t j = 0; j < k; j++)
            assert_int_equal(sched_done(s, out[j], now + 20), 0);
    }
    /* A day passes at once. */
    now += DAY;
    size_t k = sched_take_due(s, now, out, N);
    assert_int_equal(k, N); /* every target, once */
    assert_int_equal(sched_take_due(s, now, out, N), 0);
    for (size_t j = 0; j < N; j++) {
        unsigned skipped = sched_done(s, j, now + 20);
        assert_true(skipped >= DAY / 4000 - 1 && skipped <= DAY / 1000);
    }
    /* Next rounds: within one interval, and at most one probe per target per interval. */
    int64_t next = sched_next_due(s);
    assert_true(next > now && next <= now + 4000);
    size_t probes = 0;
    for (int64_t t = now; t < now + 4000; t += 100) {
        size_t m = sched_take_due(s, t, out, N);
        probes += m;
        for (size_t j = 0; j < m; j++)
            assert_int_equal(sched_done(s, out[j], t + 20), 0);
    }
    assert_true(probes >= N && probes <= 4 * N);
    free(out);
    sched_free(s);
}

/* The probe loop as the runner drives it: rounds on the monotonic clock, verdicts from the state
 * machine, the wall clock (only stamped into the map) set back an hour then forward a day in the
 * middle of a fall and of a rise. The verdict changes after exactly `fall` failures and `rise`
 * successes, one interval apart, as without the jumps. */
static void test_clock_rise_and_fall_count_probes_whatever_the_wall_clock(void **state)
{
    (void)state;
    const uint32_t iv = 2000;
    const uint16_t rise = 2, fall = 3;
    sched_t *s = sched_new(&iv, 1, MONO0);
    struct health_state st = {0};
    int64_t wall = WALL0, since_wall = 0, down_at = 0, up_at = 0;
    int round = 0;
    for (int64_t mono = MONO0; mono < MONO0 + 40 * SEC; mono += 100, wall += 100) {
        if (mono == MONO0 + 5 * SEC)
            wall -= HOUR;
        if (mono == MONO0 + 15 * SEC)
            wall += DAY;
        size_t i;
        if (sched_take_due(s, mono, &i, 1) == 0)
            continue;
        round++;
        /* rounds 1-2 ok, 3-8 fail, then ok */
        enum probe_result r = round >= 3 && round <= 8 ? PROBE_L4CON : PROBE_OK;
        if (health_state_feed(&st, r, rise, fall)) {
            since_wall = wall;
            if (st.verdict == HEALTH_DOWN)
                down_at = mono;
            else if (down_at)
                up_at = mono;
        }
        assert_int_equal(sched_done(s, i, mono + 30), 0);
    }
    assert_int_equal(round, 20); /* one probe per interval, jumps or not */
    assert_int_equal(st.verdict, HEALTH_UP);
    assert_int_equal(down_at, MONO0 + 4 * iv); /* round 5: the 3rd failure */
    assert_int_equal(up_at, MONO0 + 9 * iv);   /* round 10: the 2nd success */
    assert_int_equal(since_wall, WALL0 + 9 * iv - HOUR + DAY);
    sched_free(s);
}

/* ---- overrides --------------------------------------------------------------------------------
 */

struct ofx {
    char dir[64];
    overrides_t *ov;
    uint64_t key;
};

static int ov_setup(void **state)
{
    struct ofx *f = calloc(1, sizeof(*f));
    struct errbuf err;
    strcpy(f->dir, "/tmp/pf-clock-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(overrides_open(f->dir, &f->ov, &err), 0);
    f->key = overrides_key("web", "web1");
    *state = f;
    return 0;
}

static int ov_teardown(void **state)
{
    struct ofx *f = *state;
    char cmd[128];
    overrides_close(f->ov);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void drain(struct ofx *f, int64_t until, int64_t now)
{
    struct errbuf err;
    if (overrides_set(f->ov, "web", "web1", OVERRIDE_DRAIN, until, "maintenance", now, &err) < 0)
        fail_msg("overrides_set: %s", err.msg);
}

/* Both views of the table must agree: what answers use and what purges follow. */
static void assert_drained(struct ofx *f, int64_t now, bool want, uint64_t empty_fp)
{
    assert_int_equal(overrides_get(f->ov, f->key, now), want ? OVERRIDE_DRAIN : OVERRIDE_NONE);
    if (want)
        assert_true(overrides_fingerprint(f->ov, now) != empty_fp);
    else
        assert_true(overrides_fingerprint(f->ov, now) == empty_fp);
    struct override_info oi;
    assert_int_equal(overrides_info(f->ov, f->key, now, &oi), want);
}

static void test_clock_forward_jump_ends_a_timed_drain(void **state)
{
    struct ofx *f = *state;
    uint64_t empty = overrides_fingerprint(f->ov, WALL0);
    drain(f, WALL0 + 5 * MIN, WALL0); /* drain web1 for 5m */
    assert_drained(f, WALL0 + 1 * MIN, true, empty);
    /* a minute later the clock goes forward a day: the drain's end time has passed */
    assert_drained(f, WALL0 + 1 * MIN + DAY, false, empty);
}

static void test_clock_backward_jump_does_not_stretch_a_timed_drain_by_an_hour(void **state)
{
    struct ofx *f = *state;
    uint64_t empty = overrides_fingerprint(f->ov, WALL0);
    drain(f, WALL0 + 5 * MIN, WALL0);
    /* a minute later the clock goes back an hour: the wall end is 64 minutes away. The drain
     * ends instead (the health checks decide again) rather than lasting 68 minutes. */
    for (int64_t t = WALL0 + 1 * MIN - HOUR; t < WALL0 + 5 * MIN; t += 30 * SEC)
        assert_drained(f, t, t >= WALL0 - OVERRIDES_CLOCK_SLACK_MS, empty);
    assert_drained(f, WALL0 + 1 * MIN - HOUR, false, empty);
    assert_drained(f, WALL0 + 5 * MIN, false, empty);
}

static void test_clock_small_backward_step_keeps_a_timed_drain(void **state)
{
    struct ofx *f = *state;
    uint64_t empty = overrides_fingerprint(f->ov, WALL0);
    drain(f, WALL0 + 5 * MIN, WALL0);
    /* an NTP step back of a few seconds right after it was set: the drain goes on, and lasts at
     * most that much longer */
    assert_drained(f, WALL0 + 2 * SEC - 5 * SEC, true, empty);
    assert_drained(f, WALL0 - OVERRIDES_CLOCK_SLACK_MS, true, empty);
    assert_drained(f, WALL0 + 5 * MIN - 1, true, empty);
    assert_drained(f, WALL0 + 5 * MIN, false, empty);
}

static void test_clock_backward_jump_does_not_bring_an_ended_drain_back(void **state)
{
    struct ofx *f = *state;
    uint64_t empty = overrides_fingerprint(f->ov, WALL0);
    drain(f, WALL0 + 5 * MIN, WALL0);
    assert_drained(f, WALL0 + 6 * MIN, false, empty); /* ended */
    assert_drained(f, WALL0 + 6 * MIN - HOUR, false, empty);
    assert_drained(f, WALL0 + 6 * MIN - DAY, false, empty);
}

static void test_clock_untimed_override_ignores_jumps(void **state)
{
    struct ofx *f = *state;
    uint64_t empty = overrides_fingerprint(f->ov, WALL0);
    drain(f, 0, WALL0); /* until changed */
    assert_drained(f, WALL0 - HOUR, true, empty);
    assert_drained(f, WALL0 + DAY, true, empty);
    assert_drained(f, WALL0 - DAY, true, empty);
}

/* ---- the staleness guard: the pure rule ---------------------------------------------------------
 */

static struct hmap_beat beat(int64_t wall, int64_t boot)
{
    return (struct hmap_beat){.wall_ms = wall, .boot_ms = boot};
}

static void test_clock_silence_follows_the_boot_clock_not_the_wall_clock(void **state)
{
    (void)state;
    struct hmap_beat last = beat(WALL0, MONO0);
    /* no jump */
    assert_int_equal(hmap_silent_ms(last, beat(WALL0 + 500, MONO0 + 500), 0), 500);
    /* a live prober, the wall clock set forward a day since its last heartbeat: 500 ms */
    assert_int_equal(hmap_silent_ms(last, beat(WALL0 + DAY + 500, MONO0 + 500), 0), 500);
    /* a prober dead for 40 s, the wall clock set back an hour meanwhile: 40 s, not "-59m" */
    assert_int_equal(hmap_silent_ms(last, beat(WALL0 + 40 * SEC - HOUR, MONO0 + 40 * SEC), 0),
                     40 * SEC);
    /* watched for less time than that: never more than that */
    assert_int_equal(hmap_silent_ms(last, beat(WALL0, MONO0 + 40 * SEC), MONO0 + 39 * SEC), SEC);
    assert_int_equal(hmap_silent_ms(last, beat(WALL0, MONO0 + 40 * SEC), MONO0 - SEC), 40 * SEC);
    /* no heartbeat yet: silent since watched, or nothing to tell */
    assert_int_equal(hmap_silent_ms(beat(0, 0), beat(WALL0, MONO0 + 700), MONO0), 700);
    assert_int_equal(hmap_silent_ms(beat(0, 0), beat(WALL0, MONO0), 0), -1);
}

static void test_clock_heartbeat_from_before_a_reboot_counts_as_none(void **state)
{
    (void)state;
    /* written 30 days into the previous boot; now 5 s into this one (the wall clock says a
     * minute later) */
    struct hmap_beat last = beat(WALL0, 30 * DAY);
    assert_int_equal(hmap_silent_ms(last, beat(WALL0 + MIN, 5 * SEC), 0), -1);
    assert_int_equal(hmap_silent_ms(last, beat(WALL0 + MIN, 5 * SEC), 4 * SEC), SEC);
}

static void test_clock_heartbeat_of_an_older_writer_compares_wall_clocks(void **state)
{
    (void)state;
    /* a prober of a version that stamped only the wall clock (a rolling upgrade): as then */
    struct hmap_beat last = beat(WALL0, 0);
    assert_int_equal(hmap_silent_ms(last, beat(WALL0 + 700, MONO0), 0), 700);
    assert_int_equal(hmap_silent_ms(last, beat(WALL0 - HOUR, MONO0), 0), 0);
    assert_int_equal(hmap_silent_ms(last, beat(WALL0 + DAY, MONO0), MONO0 - 900), 900);
}

/* ---- the heartbeat in the map, and the commands reading it -------------------------------------
 */

/* A negative number in a command's text ("-3599s"). */
static bool has_negative(const char *t)
{
    for (const char *p = strchr(t, '-'); p; p = strchr(p + 1, '-'))
        if (p[1] >= '0' && p[1] <= '9')
            return true;
    return false;
}

#define STORE_JSON                                                                               \
    "{\"checks\": {\"c\": {\"type\": \"http\", \"interval\": 0.1}}, \"pools\": {\"web\": "       \
    "{\"check\": \"c\", \"members\": [{\"name\": \"web1\", \"address\": \"192.0.2.1\"}, "        \
    "{\"name\": \"web2\", \"address\": \"192.0.2.2\", \"tier\": 2}]}}, \"zones\": "              \
    "{\"example.com.\": {\"records\": {" HELPERS_APEX ", \"www\": [{\"type\": \"A\", \"pool\": " \
    "\"web\"}]}}}}"
#define STALE_AFTER 300 /* 3 intervals of 0.1 s */

struct hfx {
    char dir[64];
    store_t *store;
    hmap_t *map;
    overrides_t *ov;
    struct cmd_env env;
    struct sbuf out;
};

static int h_setup(void **state)
{
    struct hfx *f = calloc(1, sizeof(*f));
    struct errbuf err;
    strcpy(f->dir, "/tmp/pf-clock-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->store = helpers_build(STORE_JSON);
    const struct store_pools *sp = store_pools(f->store);
    assert_int_equal(hmap_open(f->dir, sp->targets, sp->ntargets, &f->map, &err), 0);
    assert_int_equal(overrides_open(f->dir, &f->ov, &err), 0);
    assert_true(hmap_try_lead(f->map));
    f->env = (struct cmd_env){.store = f->store, .health = f->map, .overrides = f->ov};
    *state = f;
    return 0;
}

static int h_teardown(void **state)
{
    struct hfx *f = *state;
    char cmd[128];
    sbuf_free(&f->out);
    overrides_close(f->ov);
    hmap_close(f->map);
    store_free(f->store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static const char *run(struct hfx *f, const char *line, int64_t wall, int64_t boot)
{
    f->env.now_ms = wall;
    f->env.boot_ms = boot;
    sbuf_reset(&f->out);
    assert_int_equal(cmd_run(&f->env, line, strlen(line), &f->out), 0);
    return sbuf_str(&f->out);
}

static bool explain_says_stale(struct hfx *f, int64_t wall, int64_t boot)
{
    const char *t = run(f, "explain www.example.com A", wall, boot);
    return strstr(t, "the prober has not reported for 3 intervals") != NULL;
}

static void test_clock_heartbeat_keeps_both_clocks_in_the_map(void **state)
{
    struct hfx *f = *state;
    hmap_heartbeat(f->map, beat(WALL0, MONO0));
    /* another process's view */
    const struct store_pools *sp = store_pools(f->store);
    hmap_t *other;
    struct errbuf err;
    assert_int_equal(hmap_open(f->dir, sp->targets, sp->ntargets, &other, &err), 0);
    struct hmap_beat b = hmap_last_heartbeat(other);
    assert_int_equal(b.wall_ms, WALL0);
    assert_int_equal(b.boot_ms, MONO0);
    hmap_close(other);
    /* The wall clock stays where it was in the header (tools and tests read it there). */
    int fd = open(hmap_path(f->map), O_RDONLY);
    assert_true(fd >= 0);
    int64_t wall_at_24 = 0;
    assert_int_equal(pread(fd, &wall_at_24, 8, 24), 8);
    close(fd);
    assert_int_equal(wall_at_24, WALL0);
}

static void test_clock_explain_keeps_a_live_prober_after_a_forward_jump(void **state)
{
    struct hfx *f = *state;
    hmap_heartbeat(f->map, beat(WALL0, MONO0));
    assert_false(explain_says_stale(f, WALL0 + 100, MONO0 + 100));
    /* the wall clock goes forward a day; the prober reported 100 ms ago */
    assert_false(explain_says_stale(f, WALL0 + DAY + 100, MONO0 + 100));
    const char *t = run(f, "stats", WALL0 + DAY + 100, MONO0 + 100);
    assert_non_null(strstr(t, "last probe: 0s ago\n"));
}

static void test_clock_explain_gives_up_on_a_dead_prober_after_a_backward_jump(void **state)
{
    struct hfx *f = *state;
    hmap_heartbeat(f->map, beat(WALL0, MONO0));
    /* the prober died; 40 s later, and the wall clock set back an hour */
    assert_true(explain_says_stale(f, WALL0 + 40 * SEC - HOUR, MONO0 + 40 * SEC));
    const char *t = run(f, "stats", WALL0 + 40 * SEC - HOUR, MONO0 + 40 * SEC);
    assert_non_null(strstr(t, "last probe: 40s ago\n"));
}

static void test_clock_health_shows_no_negative_durations_after_a_backward_jump(void **state)
{
    struct hfx *f = *state;
    struct hmap_slot *s = hmap_slot_rw(f->map, 0);
    s->since_ms = WALL0 - 2 * MIN;
    s->last_probe_ms = WALL0;
    strcpy(s->reason, "ok");
    hmap_set_verdict(f->map, 0, HEALTH_UP);
    hmap_heartbeat(f->map, beat(WALL0, MONO0));
    const char *t = run(f, "health", WALL0, MONO0);
    assert_non_null(strstr(t, " up       2m00s "));
    /* the wall clock set back an hour: the state changed "in 58 minutes" */
    t = run(f, "health", WALL0 - HOUR, MONO0 + SEC);
    assert_false(has_negative(t));
    assert_non_null(strstr(t, " up       0s "));
    t = run(f, "explain www.example.com A", WALL0 - HOUR, MONO0 + SEC);
    assert_false(has_negative(t));
}

/* ---- the staleness guard of the answers (dispatch), on the real clocks -------------------------
 */

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct stale_log {
    int calls;
    bool stale;
};

static void on_stale(void *opaque, bool stale, int64_t silent_ms)
{
    struct stale_log *l = opaque;
    assert_true(silent_ms >= 0);
    l->calls++;
    l->stale = stale;
}

/* web1 (tier 1) is down: a fresh view answers web2, a stale one fails open to web1. */
static const char *lookup(dispatch_t *d, struct sbuf *out)
{
    static const char q[] = "{\"method\":\"lookup\",\"parameters\":{\"qname\":"
                            "\"www.example.com.\",\"qtype\":\"A\"}}";
    struct session ss = {0};
    struct errbuf err;
    sbuf_reset(out);
    assert_int_equal(dispatch_request(d, &ss, q, strlen(q), out, &err), 0);
    return strstr(sbuf_str(out), "192.0.2.1") ? "web1" : "web2";
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0)
        ;
}

static dispatch_t *answering(struct hfx *f, struct stale_log *log)
{
    dispatch_t *d = dispatch_new(NULL, NULL);
    dispatch_set_store(d, f->store);
    dispatch_set_health(d, f->map, 1);
    dispatch_on_stale(d, on_stale, log);
    hmap_set_verdict(f->map, store_pools(f->store)->pools[0].members[0].target, HEALTH_DOWN);
    return d;
}

static void test_clock_answers_keep_a_live_prober_after_a_forward_jump(void **state)
{
    struct hfx *f = *state;
    struct stale_log log = {0};
    dispatch_t *d = answering(f, &log);
    sleep_ms(STALE_AFTER + 100); /* past the grace of a new view */
    /* The prober's last heartbeat was just before the wall clock went forward a day. */
    hmap_heartbeat(f->map, beat(clock_ms(CLOCK_REALTIME) - DAY, clock_ms(CLOCK_BOOTTIME)));
    assert_string_equal(lookup(d, &f->out), "web2");
    assert_int_equal(log.calls, 0);
    dispatch_free(d);
}

static void test_clock_answers_fail_open_for_a_dead_prober_after_a_backward_jump(void **state)
{
    struct hfx *f = *state;
    struct stale_log log = {0};
    /* The prober's last heartbeat was 10 s ago, and the wall clock was set back an hour
     * since: on the wall clock it is 59m50s ahead. */
    hmap_heartbeat(f->map, beat(clock_ms(CLOCK_REALTIME) + HOUR - 10 * SEC,
                                clock_ms(CLOCK_BOOTTIME) - 10 * SEC));
    dispatch_t *d = answering(f, &log);
    assert_string_equal(lookup(d, &f->out), "web2"); /* the grace of a new view */
    sleep_ms(STALE_AFTER + 100);
    assert_string_equal(lookup(d, &f->out), "web1"); /* stale: fails open */
    assert_int_equal(log.calls, 1);
    assert_true(log.stale);
    /* The prober reports again: answers follow health. */
    hmap_heartbeat(f->map, beat(clock_ms(CLOCK_REALTIME), clock_ms(CLOCK_BOOTTIME)));
    assert_string_equal(lookup(d, &f->out), "web2");
    assert_int_equal(log.calls, 2);
    assert_false(log.stale);
    dispatch_free(d);
}

/* ---- notification retries ---------------------------------------------------------------------
 */

/* The retry schedule is a function of the attempt alone (the waits run on the monotonic clock):
 * six attempts take at most 1 + 2 + 4 + 8 + 16 s, plus a quarter, whatever the wall clock does. */
static void test_clock_notify_retries_depend_on_the_attempt_only(void **state)
{
    (void)state;
    uint32_t total_min = 0, total_max = 0;
    for (unsigned a = 1; a < NOTIFY_ATTEMPTS_DEFAULT; a++) {
        total_min += notify_backoff_ms(a, 0);
        total_max += notify_backoff_ms(a, UINT32_MAX);
        assert_int_equal(notify_backoff_ms(a, 12345), notify_backoff_ms(a, 12345));
    }
    assert_int_equal(total_min, 31000);
    assert_true(total_max <= 31000 + 31000 / 4 + NOTIFY_ATTEMPTS_DEFAULT);
}

int main(void)
{
#define O(t) cmocka_unit_test_setup_teardown(t, ov_setup, ov_teardown)
#define H(t) cmocka_unit_test_setup_teardown(t, h_setup, h_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_new_leader_resumes_the_rhythm_without_the_wall_clock_jump),
        cmocka_unit_test(test_clock_scheduler_after_a_day_long_stall_probes_each_target_once),
        cmocka_unit_test(test_clock_rise_and_fall_count_probes_whatever_the_wall_clock),
        O(test_clock_forward_jump_ends_a_timed_drain),
        O(test_clock_backward_jump_does_not_stretch_a_timed_drain_by_an_hour),
        O(test_clock_small_backward_step_keeps_a_timed_drain),
        O(test_clock_backward_jump_does_not_bring_an_ended_drain_back),
        O(test_clock_untimed_override_ignores_jumps),
        cmocka_unit_test(test_clock_silence_follows_the_boot_clock_not_the_wall_clock),
        cmocka_unit_test(test_clock_heartbeat_from_before_a_reboot_counts_as_none),
        cmocka_unit_test(test_clock_heartbeat_of_an_older_writer_compares_wall_clocks),
        H(test_clock_heartbeat_keeps_both_clocks_in_the_map),
        H(test_clock_explain_keeps_a_live_prober_after_a_forward_jump),
        H(test_clock_explain_gives_up_on_a_dead_prober_after_a_backward_jump),
        H(test_clock_health_shows_no_negative_durations_after_a_backward_jump),
        H(test_clock_answers_keep_a_live_prober_after_a_forward_jump),
        H(test_clock_answers_fail_open_for_a_dead_prober_after_a_backward_jump),
        cmocka_unit_test(test_clock_notify_retries_depend_on_the_attempt_only),
    };
    return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
