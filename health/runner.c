/* SPDX-License-Identifier: MIT */
/* The probe thread (see runner.h): schedule, probe with one curl multi handle, feed the state
 * machines, log transitions, publish verdicts into the shared health map.
 *
 * DESIGN: runner_start() creates the multi handle and the thread; from then on the thread alone
 * uses the multi handle, the easy handles, the scheduler, the state machines and the map's
 * writable slots. Other threads touch only the stop flag (atomic) and the start-up phase (under
 * `lock`, with `cond` for runner_wait_initial()); runner_stop() wakes the thread with
 * curl_multi_wakeup(), which libcurl allows from any thread. The thread blocks nowhere but in
 * curl_multi_poll(): while another process leads, it polls with a 100 ms timeout and retries
 * the leader lock; once it leads, the poll timeout is the next due time. At most
 * RUNNER_MAX_INFLIGHT probes run at once; their state lives in a fixed pool, so the error
 * buffers curl writes into never move.
 *
 * On taking the lead, states come from the map. A target whose slot holds a verdict measured
 * less than an interval ago keeps that rhythm and counts as done for runner_wait_initial(); all
 * others are probed at once, and the first round is complete when each has a result. */
#include "health/runner.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "health/probe.h"
#include "health/scheduler.h"
#include "health/state.h"

#define RUNNER_MAX_INFLIGHT 512
#define LEAD_RETRY_MS       100
#define IDLE_POLL_MS        1000 /* upper bound of one poll; curl's own timers shorten it */
#define LOCAL_LOG_EVERY_MS  1000 /* at most one "possible local problem" line per second */

enum runner_phase {
    PHASE_STARTING, /* the thread has not tried to lead yet (only inside runner_start) */
    PHASE_FOLLOWER, /* another process leads: nothing to wait for */
    PHASE_INITIAL,  /* leading; the first round is not complete */
    PHASE_READY,    /* leading; every target has a fresh result */
};

struct runner {
    const struct target *targets; /* borrowed */
    size_t n;
    hmap_t *map; /* borrowed */
    CURLM *multi;
    pthread_t thread;
    atomic_bool stop;
    atomic_bool retired;

    pthread_mutex_t lock; /* guards phase */
    pthread_cond_t cond;  /* signalled on every phase change */
    enum runner_phase phase;

    /* Probe thread only. */
    sched_t *sched;
    struct health_state *states;
    bool *initial_pending; /* target still owes its first result of this leadership */
    size_t npending;
    int64_t lead_mono; /* when this process became the leader (monotonic ms) */
    struct runner_hooks hooks;
    struct probe *pool; /* cap entries; an entry with easy != NULL is in flight */
    size_t *free_slots; /* indexes of free pool entries */
    size_t nfree;
    size_t cap;
    size_t *due; /* scratch for sched_take_due */
    int64_t local_log_ms;
    unsigned local_suppressed;
    int64_t late_log_ms; /* when rounds skipped were last reported */
    unsigned late_probes, late_rounds;
};

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

/* Shared with other processes through the map: the wall clock for what people read (and what
 * survives a reboot), the boot clock for the heartbeat, which staleness is judged by. */
static int64_t wall_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

static int64_t boot_ms(void)
{
    return clock_ms(CLOCK_BOOTTIME);
}

static const char *verdict_name(unsigned v)
{
    switch (v) {
    case HEALTH_UP:
        return "up";
    case HEALTH_DOWN:
        return "down";
    default:
        return "unknown";
    }
}

static void set_phase(runner_t *r, enum runner_phase phase)
{
    pthread_mutex_lock(&r->lock);
    if (r->phase != phase) {
        r->phase = phase;
        pthread_cond_broadcast(&r->cond);
    }
    pthread_mutex_unlock(&r->lock);
}

static void initial_done(runner_t *r, size_t i)
{
    if (!r->initial_pending[i])
        return;
    r->initial_pending[i] = false;
    if (--r->npending == 0) {
        log_debug("health", "first round of %zu probes complete", r->n);
        set_phase(r, PHASE_READY);
    }
}

/* Local problems say nothing about the endpoint, but they can hit every target at once. */
static void log_local_problem(runner_t *r, const struct target *t, const char *what)
{
    int64_t now = mono_ms();
    if (r->local_log_ms != 0 && now - r->local_log_ms < LOCAL_LOG_EVERY_MS) {
        r->local_suppressed++;
        return;
    }
    if (r->local_suppressed)
        log_err("probe", "%s: %s (possible local problem; %u more suppressed)", t->label, what,
                r->local_suppressed);
    else
        log_err("probe", "%s: %s (possible local problem)", t->label, what);
    r->local_log_ms = now;
    r->local_suppressed = 0;
}

/* Takes over probing: states and schedule come from the map, so a restart or a new leader
 * continues where the previous one stopped. */
static void become_leader(runner_t *r)
{
    int64_t mono = mono_ms(), wall = wall_ms();
    uint32_t *intervals = xcalloc(r->n, sizeof(*intervals));

    r->lead_mono = mono;
    for (size_t i = 0; i < r->n; i++)
        intervals[i] = r->targets[i].check->interval_ms;
    r->sched = sched_new(intervals, r->n, mono);
    free(intervals);

    r->npending = 0;
    for (size_t i = 0; i < r->n; i++) {
        struct hmap_slot copy; /* another process may be writing it: it led until now */
        hmap_slot_get(r->map, i, &copy);
        const struct hmap_slot *s = &copy;
        enum health_verdict v = hmap_verdict_of(s);
        bool fresh;
        int64_t due = sched_resume_due(s->last_probe_ms, wall, mono,
                                       r->targets[i].check->interval_ms, &fresh);

        r->states[i].verdict = v <= HEALTH_DOWN ? (uint8_t)v : HEALTH_UNKNOWN;
        r->states[i].ok_run = s->ok_run;
        r->states[i].fail_run = s->fail_run;
        /* A verdict measured less than an interval ago is as good as a fresh one: keep the
         * previous leader's rhythm instead of probing everything again at once. */
        if (r->states[i].verdict != HEALTH_UNKNOWN && fresh) {
            sched_set_due(r->sched, i, due);
            r->initial_pending[i] = false;
        } else {
            sched_set_due(r->sched, i, mono);
            r->initial_pending[i] = true;
            r->npending++;
        }
    }
    hmap_heartbeat(r->map, (struct hmap_beat){.wall_ms = wall, .boot_ms = boot_ms()});
    log_info("health", "probing %zu targets (%zu now), leading '%s'", r->n, r->npending,
             hmap_path(r->map));
    set_phase(r, r->npending ? PHASE_INITIAL : PHASE_READY);
}

/* Writes one result into the target's slot and logs a transition. */
static void
record(runner_t *r, size_t i, enum probe_result res, const char *reason, curl_off_t latency_us)
{
    const struct target *t = &r->targets[i];
    const struct check_def *c = t->check;
    struct health_state *st = &r->states[i];

    log_debug("probe", "%s: %s (%ld ms)", t->label, reason, (long)(latency_us / 1000));
    if (r->hooks.probe)
        r->hooks.probe(r->hooks.opaque, i, res,
                       latency_us > UINT32_MAX ? UINT32_MAX : (uint32_t)latency_us);
    if (res == PROBE_LOCAL) {
        log_local_problem(r, t, reason);
        return;
    }

    unsigned old = st->verdict;
    bool changed = health_state_feed(st, res, c->rise, c->fall);
    int64_t now = wall_ms();
    struct hmap_slot copy, *s = &copy;

    hmap_slot_get(r->map, i, s); /* then changed and put back as one update */
    s->ok_run = st->ok_run;
    s->fail_run = st->fail_run;
    s->last_result = (uint8_t)res;
    s->last_latency_us = latency_us > UINT32_MAX ? UINT32_MAX : (uint32_t)latency_us;
    s->last_probe_ms = now;
    s->probes++;
    if (res != PROBE_OK)
        s->failures++;
    size_t rl = strnlen(reason, sizeof(s->reason) - 1); /* the slot keeps what fits */
    memcpy(s->reason, reason, rl);
    s->reason[rl] = '\0';
    if (changed)
        s->since_ms = now;
    hmap_slot_put(r->map, i, s);
    if (changed) {
        hmap_set_verdict(r->map, i, (enum health_verdict)st->verdict);
        if (old == HEALTH_UNKNOWN)
            log_info("health", "%s unknown -> %s (%s)", t->label, verdict_name(st->verdict),
                     reason);
        else if (st->verdict == HEALTH_DOWN)
            log_info("health", "%s up -> down (%s; %u of %u failed)", t->label, reason,
                     (unsigned)c->fall, (unsigned)c->fall);
        else
            log_info("health", "%s down -> up (%s; %u of %u succeeded)", t->label, reason,
                     (unsigned)c->rise, (unsigned)c->rise);
        if (r->hooks.transition) {
            struct health_event ev = {
                .target = t,
                .index = i,
                .from = (enum health_verdict)old,
                .to = (enum health_verdict)st->verdict,
                .reason = reason,
                .count = old == HEALTH_UNKNOWN        ? 1
                         : st->verdict == HEALTH_DOWN ? c->fall
                                                      : c->rise,
                .when_ms = now,
            };
            r->hooks.transition(r->hooks.opaque, &ev);
        }
    }
    hmap_heartbeat(r->map, (struct hmap_beat){.wall_ms = now, .boot_ms = boot_ms()});
}

static void release_slot(runner_t *r, struct probe *p)
{
    probe_cleanup(p);
    r->free_slots[r->nfree++] = (size_t)(p - r->pool);
}

/* The initial round probes every target at once (answers must follow health from the start);
 * after it, each target's rounds move to its own point of the interval, as sched_new() spreads
 * them, so that probes do not stay in lockstep. */
static void restagger(runner_t *r, size_t i)
{
    if (!r->initial_pending[i])
        return;
    int64_t iv = r->targets[i].check->interval_ms;
    sched_set_due(r->sched, i, r->lead_mono + iv + (int64_t)((uint64_t)i * (uint64_t)iv / r->n));
}

/* A probe that could not even start: a local problem; try again next round. */
static void abandon(runner_t *r, size_t i, const char *what, int64_t now)
{
    log_local_problem(r, &r->targets[i], what);
    restagger(r, i);
    sched_done(r->sched, i, now);
    initial_done(r, i);
}

static void start_due(runner_t *r, int64_t now)
{
    size_t k = sched_take_due(r->sched, now, r->due, r->nfree);

    for (size_t j = 0; j < k; j++) {
        size_t i = r->due[j];
        struct probe *p = &r->pool[r->free_slots[--r->nfree]];
        struct errbuf err;

        if (probe_prepare(p, &r->targets[i], i, now, &err) < 0) {
            release_slot(r, p);
            abandon(r, i, err.msg, now);
            continue;
        }
        CURLMcode mc = curl_multi_add_handle(r->multi, p->easy);
        if (mc != CURLM_OK) {
            release_slot(r, p);
            abandon(r, i, curl_multi_strerror(mc), now);
        }
    }
}

static void finish(runner_t *r, CURL *easy, CURLcode rc)
{
    char *priv = NULL;
    char reason[256]; /* the log gets it whole; the map slot keeps what fits */
    curl_off_t latency_us = 0;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    struct probe *p = (struct probe *)(void *)priv;
    enum probe_result res = probe_finish(p, rc, reason, sizeof(reason));
    if (curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &latency_us) != CURLE_OK)
        latency_us = 0;
    size_t i = p->target;
    curl_multi_remove_handle(r->multi, easy);
    release_slot(r, p);

    record(r, i, res, reason, latency_us);
    int64_t now = mono_ms();
    restagger(r, i);
    unsigned skipped = sched_done(r->sched, i, now);
    if (skipped) {
        /* One line per 10 s at most: when the prober falls behind (too many targets for one
         * thread, a stalled machine) it is late for thousands of them at once. */
        r->late_probes++;
        r->late_rounds += skipped;
        if (now - r->late_log_ms >= 10000) {
            log_warn("probe",
                     "%s and %u more: probe rounds started late or ran past their interval; %u "
                     "round%s skipped (the prober is behind: fewer targets per process, or "
                     "longer intervals)",
                     r->targets[i].label, r->late_probes - 1, r->late_rounds,
                     r->late_rounds == 1 ? "" : "s");
            r->late_log_ms = now;
            r->late_probes = r->late_rounds = 0;
        }
    }
    initial_done(r, i);
}

static void drain(runner_t *r)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(r->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        /* m is invalid once the handle is removed: copy what we need first. */
        CURL *easy = m->easy_handle;
        CURLcode rc = m->data.result;
        finish(r, easy, rc);
    }
}

static int poll_timeout(const runner_t *r, int64_t now)
{
    if (r->nfree == 0)
        return IDLE_POLL_MS; /* nothing can start before a probe ends, which wakes the poll */
    int64_t next = sched_next_due(r->sched);
    if (next <= now)
        return 0;
    return next - now > IDLE_POLL_MS ? IDLE_POLL_MS : (int)(next - now);
}

static void poll_once(runner_t *r, int timeout_ms)
{
    CURLMcode mc = curl_multi_poll(r->multi, NULL, 0, timeout_ms, NULL);
    if (mc != CURLM_OK) {
        /* Do not spin on a broken poll; the stop flag is checked again after this. */
        log_err("probe", "curl_multi_poll: %s (possible local problem)", curl_multi_strerror(mc));
        struct timespec ts = {.tv_sec = 0, .tv_nsec = LEAD_RETRY_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Probe thread: aborts the probes in flight and hands leadership back (see runner_retire). */
static void retire_now(runner_t *r)
{
    for (size_t k = 0; k < r->cap; k++)
        if (r->pool[k].easy) {
            curl_multi_remove_handle(r->multi, r->pool[k].easy);
            release_slot(r, &r->pool[k]);
        }
    if (hmap_is_leader(r->map)) {
        hmap_resign(r->map);
        log_debug("health", "store replaced: stopped probing for '%s'", hmap_path(r->map));
    }
    set_phase(r, PHASE_READY); /* nobody waits on a first round any more */
}

static void *runner_main(void *arg)
{
    runner_t *r = arg;

    while (!atomic_load_explicit(&r->stop, memory_order_acquire)) {
        if (atomic_load_explicit(&r->retired, memory_order_acquire)) {
            retire_now(r);
            poll_once(r, LEAD_RETRY_MS * 10);
            continue;
        }
        if (!r->sched) {
            if (!hmap_try_lead(r->map)) {
                set_phase(r, PHASE_FOLLOWER);
                poll_once(r, LEAD_RETRY_MS);
                continue;
            }
            become_leader(r);
        }

        start_due(r, mono_ms());
        int running = 0;
        CURLMcode mc = curl_multi_perform(r->multi, &running);
        if (mc != CURLM_OK)
            log_err("probe", "curl_multi_perform: %s", curl_multi_strerror(mc));
        drain(r);
        poll_once(r, poll_timeout(r, mono_ms()));
    }

    for (size_t k = 0; k < r->cap; k++) {
        if (r->pool[k].easy) {
            curl_multi_remove_handle(r->multi, r->pool[k].easy);
            probe_cleanup(&r->pool[k]);
        }
    }
    return NULL;
}

static void runner_free(runner_t *r)
{
    if (r->multi)
        curl_multi_cleanup(r->multi);
    sched_free(r->sched);
    free(r->states);
    free(r->initial_pending);
    free(r->pool);
    free(r->free_slots);
    free(r->due);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

int runner_start(const struct target *targets,
                 size_t n,
                 hmap_t *map,
                 const struct runner_hooks *hooks,
                 runner_t **ret,
                 struct errbuf *err)
{
    runner_t *r = xcalloc(1, sizeof(*r));
    if (hooks)
        r->hooks = *hooks;
    pthread_condattr_t ca;
    sigset_t all, old;
    int e;

    r->targets = targets;
    r->n = n;
    r->map = map;
    atomic_init(&r->stop, false);
    atomic_init(&r->retired, false);
    r->phase = PHASE_STARTING;
    r->multi = curl_multi_init();
    if (!r->multi)
        xalloc_die("curl_multi_init");
    r->cap = n < RUNNER_MAX_INFLIGHT ? n : RUNNER_MAX_INFLIGHT;
    r->pool = xcalloc(r->cap, sizeof(*r->pool));
    r->free_slots = xcalloc(r->cap, sizeof(*r->free_slots));
    for (size_t k = 0; k < r->cap; k++)
        r->free_slots[r->nfree++] = r->cap - 1 - k;
    r->due = xcalloc(r->cap, sizeof(*r->due));
    r->states = xcalloc(n, sizeof(*r->states));
    r->initial_pending = xcalloc(n, sizeof(*r->initial_pending));

    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &ca);
    pthread_condattr_destroy(&ca);

    /* Signals belong to the main thread. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    e = pthread_create(&r->thread, NULL, runner_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        char buf[128];
        runner_free(r);
        return errbuf_set(err, -e, "cannot start the probe thread (%s)",
                          strerror_r(e, buf, sizeof(buf)));
    }
    pthread_setname_np(r->thread, "pf-probe");
    /* The first leadership attempt does not block: wait for it, so that runner_wait_initial()
     * in a follower returns at once whatever its timeout. */
    pthread_mutex_lock(&r->lock);
    while (r->phase == PHASE_STARTING)
        pthread_cond_wait(&r->cond, &r->lock);
    pthread_mutex_unlock(&r->lock);
    *ret = r;
    return 0;
}

bool runner_wait_initial(runner_t *r, int timeout_ms)
{
    struct timespec deadline;
    bool done;

    if (timeout_ms < 0)
        timeout_ms = 0;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->lock);
    while (r->phase == PHASE_STARTING || r->phase == PHASE_INITIAL)
        if (pthread_cond_timedwait(&r->cond, &r->lock, &deadline) != 0)
            break;
    done = r->phase == PHASE_FOLLOWER || r->phase == PHASE_READY;
    pthread_mutex_unlock(&r->lock);
    return done;
}

void runner_retire(runner_t *r)
{
    if (!r)
        return;
    atomic_store_explicit(&r->retired, true, memory_order_release);
    curl_multi_wakeup(r->multi);
}

void runner_stop(runner_t *r)
{
    if (!r)
        return;
    atomic_store_explicit(&r->stop, true, memory_order_release);
    curl_multi_wakeup(r->multi);
    pthread_join(r->thread, NULL);
    runner_free(r);
}
