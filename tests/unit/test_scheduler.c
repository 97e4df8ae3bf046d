/* SPDX-License-Identifier: MIT */
/* Unit tests for health/scheduler.c: staggered start, one probe in flight per target, rounds
 * kept on the interval grid and skipped when a probe overruns, long simulations with many
 * intervals, and the heap order against a brute-force model. Time is simulated throughout. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "health/scheduler.h"

#define T0 1000000 /* an arbitrary, non-zero start time */

/* Deterministic pseudo-random numbers (xorshift64), so failures reproduce. */
static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
    rng_state = seed ? seed : 1;
}

static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Uniform enough in [0, n) for tests. */
static uint64_t rng_below(uint64_t n)
{
    return rng_next() % n;
}

/* Takes everything due at now and asserts it is exactly want[0..n), in that order. */
static void take_exactly(sched_t *s, int64_t now, const size_t *want, size_t n)
{
    size_t out[16];
    assert_true(n < sizeof(out) / sizeof(out[0]));
    size_t got = sched_take_due(s, now, out, sizeof(out) / sizeof(out[0]));
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(out[i], want[i]);
        assert_true(sched_in_flight(s, out[i]));
    }
}

static void take_none(sched_t *s, int64_t now)
{
    take_exactly(s, now, NULL, 0);
}

static void take_one(sched_t *s, int64_t now, size_t want)
{
    take_exactly(s, now, &want, 1);
}

/* ---- construction and stagger ------------------------------------------------------------ */

static void test_sched_free_accepts_null(void **state)
{
    (void)state;
    sched_free(NULL);
}

static void test_sched_with_no_targets_has_nothing_due(void **state)
{
    (void)state;
    size_t out[4];
    sched_t *s = sched_new(NULL, 0, T0);
    assert_int_equal(sched_next_due(s), INT64_MAX);
    assert_int_equal(sched_take_due(s, INT64_MAX, out, 4), 0);
    sched_free(s);
}

static void test_sched_single_target_is_due_at_once(void **state)
{
    (void)state;
    const uint32_t iv[] = {2000};
    sched_t *s = sched_new(iv, 1, T0);
    assert_int_equal(sched_next_due(s), T0);
    assert_false(sched_in_flight(s, 0));
    take_none(s, T0 - 1);
    take_one(s, T0, 0);
    sched_free(s);
}

static void test_sched_staggers_first_probes_across_the_interval(void **state)
{
    (void)state;
    const uint32_t iv[] = {1000, 1000, 1000, 1000};
    sched_t *s = sched_new(iv, 4, T0);

    /* Target i of 4 at i * 1000 / 4. */
    const int64_t offsets[] = {0, 250, 500, 750};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(sched_next_due(s), T0 + offsets[i]);
        take_none(s, T0 + offsets[i] - 1);
        take_one(s, T0 + offsets[i], i);
    }
    assert_int_equal(sched_next_due(s), INT64_MAX);
    sched_free(s);
}

static void test_sched_staggers_each_target_by_its_own_interval(void **state)
{
    (void)state;
    /* Offsets i * interval_i / 3: 0, 1 * 3000 / 3 = 1000 and 2 * 600 / 3 = 400. */
    const uint32_t iv[] = {1000, 3000, 600};
    sched_t *s = sched_new(iv, 3, T0);
    take_one(s, T0, 0);
    assert_int_equal(sched_next_due(s), T0 + 400);
    take_one(s, T0 + 400, 2);
    assert_int_equal(sched_next_due(s), T0 + 1000);
    take_one(s, T0 + 1000, 1);
    sched_free(s);
}

static void test_sched_stagger_rounds_offsets_down(void **state)
{
    (void)state;
    /* 7 targets of 1000 ms: offsets 0, 142, 285, 428, 571, 714, 857. */
    const uint32_t iv[] = {1000, 1000, 1000, 1000, 1000, 1000, 1000};
    const int64_t offsets[] = {0, 142, 285, 428, 571, 714, 857};
    sched_t *s = sched_new(iv, 7, T0);
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(sched_next_due(s), T0 + offsets[i]);
        take_one(s, T0 + offsets[i], i);
    }
    sched_free(s);
}

static void test_sched_stagger_keeps_every_offset_below_the_interval(void **state)
{
    (void)state;
    /* Huge intervals: i * interval must not overflow 32 bits. Offsets i * (M - i) / N grow with
     * i here, so the targets come out in index order. */
    enum { N = 1000 };
    uint32_t iv[N];
    for (size_t i = 0; i < N; i++)
        iv[i] = UINT32_MAX - (uint32_t)i;
    sched_t *s = sched_new(iv, N, 0);
    for (size_t i = 0; i < N; i++) {
        int64_t offset = (int64_t)((uint64_t)i * iv[i] / N);
        assert_true(offset < (int64_t)iv[i]);
        assert_int_equal(sched_next_due(s), offset);
        take_one(s, offset, i);
    }
    sched_free(s);
}

/* ---- take_due ---------------------------------------------------------------------------- */

static void test_sched_take_due_returns_targets_in_due_order_up_to_max(void **state)
{
    (void)state;
    const uint32_t iv[] = {1000, 1000, 1000, 1000, 1000};
    sched_t *s = sched_new(iv, 5, T0);
    sched_set_due(s, 0, T0 + 40);
    sched_set_due(s, 1, T0 + 10);
    sched_set_due(s, 2, T0 + 30);
    sched_set_due(s, 3, T0 + 20);
    sched_set_due(s, 4, T0 + 500);

    size_t out[5];
    assert_int_equal(sched_take_due(s, T0 + 100, out, 2), 2);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 3);
    assert_int_equal(sched_next_due(s), T0 + 30);
    assert_int_equal(sched_take_due(s, T0 + 100, out, 5), 2);
    assert_int_equal(out[0], 2);
    assert_int_equal(out[1], 0);
    assert_int_equal(sched_next_due(s), T0 + 500);
    assert_int_equal(sched_take_due(s, T0 + 100, out, 5), 0);
    sched_free(s);
}

static void test_sched_take_due_with_max_zero_takes_nothing(void **state)
{
    (void)state;
    const uint32_t iv[] = {1000};
    sched_t *s = sched_new(iv, 1, T0);
    assert_int_equal(sched_take_due(s, T0, NULL, 0), 0);
    assert_false(sched_in_flight(s, 0));
    assert_int_equal(sched_next_due(s), T0);
    sched_free(s);
}

static void test_sched_take_due_breaks_ties_by_index(void **state)
{
    (void)state;
    const uint32_t iv[] = {1000, 1000, 1000, 1000};
    sched_t *s = sched_new(iv, 4, T0);
    for (size_t i = 0; i < 4; i++)
        sched_set_due(s, 3 - i, T0);
    const size_t want[] = {0, 1, 2, 3};
    take_exactly(s, T0, want, 4);
    sched_free(s);
}

static void test_sched_never_has_two_probes_in_flight_for_one_target(void **state)
{
    (void)state;
    const uint32_t iv[] = {1000, 1000};
    sched_t *s = sched_new(iv, 2, T0);
    take_one(s, T0, 0);
    /* Long after target 0 should have run again, only target 1 is offered. */
    take_one(s, T0 + 100000, 1);
    take_none(s, T0 + 1000000);
    assert_true(sched_in_flight(s, 0));
    assert_true(sched_in_flight(s, 1));
    assert_int_equal(sched_next_due(s), INT64_MAX);
    /* Forcing a re-probe does not start a second one either. */
    sched_set_due(s, 0, T0);
    take_none(s, T0 + 1000000);
    assert_true(sched_in_flight(s, 0));

    sched_done(s, 0, T0 + 1000000);
    assert_false(sched_in_flight(s, 0));
    take_one(s, T0 + 1000000, 0);
    sched_free(s);
}

/* ---- done: the interval grid and skipped rounds ------------------------------------------ */

static void test_sched_done_keeps_rounds_on_the_interval_grid(void **state)
{
    (void)state;
    const uint32_t iv[] = {1000};
    sched_t *s = sched_new(iv, 1, T0);
    take_one(s, T0, 0);
    /* Finished after 300 ms: next due one interval after the previous due, not after now. */
    assert_int_equal(sched_done(s, 0, T0 + 300), 0);
    assert_false(sched_in_flight(s, 0));
    assert_int_equal(sched_next_due(s), T0 + 1000);
    /* Taken late (the loop woke up late): the grid does not drift. */
    take_one(s, T0 + 1070, 0);
    assert_int_equal(sched_done(s, 0, T0 + 1500), 0);
    assert_int_equal(sched_next_due(s), T0 + 2000);
    sched_free(s);
}

static void test_sched_done_just_before_the_next_round_skips_nothing(void **state)
{
    (void)state;
    const uint32_t iv[] = {1000};
    sched_t *s = sched_new(iv, 1, T0);
    take_one(s, T0, 0);
    assert_int_equal(sched_done(s, 0, T0 + 999), 0);
    assert_int_equal(sched_next_due(s), T0 + 1000);
    sched_free(s);
}

static void test_sched_done_exactly_at_the_next_round_skips_it(void **state)
{
    (void)state;
    const uint32_t iv[] = {1000};
    sched_t *s = sched_new(iv, 1, T0);
    take_one(s, T0, 0);
    assert_int_equal(sched_done(s, 0, T0 + 1000), 1);
    assert_int_equal(sched_next_due(s), T0 + 2000);
    sched_free(s);
}

static void test_sched_done_skips_every_round_a_probe_outlasted(void **state)
{
    (void)state;
    const uint32_t iv[] = {1000};
    sched_t *s = sched_new(iv, 1, T0);
    take_one(s, T0, 0);
    /* Rounds at +1000 and +2000 were missed; the next is at +3000, in the future. */
    assert_int_equal(sched_done(s, 0, T0 + 2500), 2);
    assert_int_equal(sched_next_due(s), T0 + 3000);
    take_one(s, T0 + 3000, 0);
    /* A minute and a millisecond: the 60 rounds at +4000 .. +63000 are lost. */
    assert_int_equal(sched_done(s, 0, T0 + 3000 + 60 * 1000 + 1), 60);
    assert_int_equal(sched_next_due(s), T0 + 3000 + 61 * 1000);
    sched_free(s);
}

static void test_sched_done_skipping_is_measured_from_a_late_take(void **state)
{
    (void)state;
    const uint32_t iv[] = {1000};
    sched_t *s = sched_new(iv, 1, T0);
    /* Taken 800 ms late and running 400 ms: the round at +1000 is lost. */
    take_one(s, T0 + 800, 0);
    assert_int_equal(sched_done(s, 0, T0 + 1200), 1);
    assert_int_equal(sched_next_due(s), T0 + 2000);
    sched_free(s);
}

/* ---- set_due ----------------------------------------------------------------------------- */

static void test_sched_set_due_moves_a_waiting_target_earlier_and_later(void **state)
{
    (void)state;
    const uint32_t iv[] = {1000, 1000, 1000, 1000};
    sched_t *s = sched_new(iv, 4, T0); /* due at +0, +250, +500, +750 */

    sched_set_due(s, 3, T0 - 5); /* earlier than everything */
    assert_int_equal(sched_next_due(s), T0 - 5);
    take_one(s, T0 - 5, 3);

    sched_set_due(s, 0, T0 + 5000); /* later than everything */
    assert_int_equal(sched_next_due(s), T0 + 250);
    take_one(s, T0 + 250, 1);
    take_one(s, T0 + 4999, 2);
    take_one(s, T0 + 5000, 0);
    sched_free(s);
}

static void test_sched_set_due_to_the_same_time_changes_nothing(void **state)
{
    (void)state;
    const uint32_t iv[] = {1000, 1000};
    sched_t *s = sched_new(iv, 2, T0);
    sched_set_due(s, 1, T0 + 500);
    assert_int_equal(sched_next_due(s), T0);
    take_one(s, T0, 0);
    take_one(s, T0 + 500, 1);
    sched_free(s);
}

static void test_sched_set_due_to_now_makes_every_target_due_for_an_initial_round(void **state)
{
    (void)state;
    const uint32_t iv[] = {1000, 2000, 5000, 60000};
    sched_t *s = sched_new(iv, 4, T0);
    for (size_t i = 0; i < 4; i++)
        sched_set_due(s, i, T0);
    const size_t want[] = {0, 1, 2, 3};
    take_exactly(s, T0, want, 4);
    /* Afterwards each continues on its own interval from the forced time. */
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(sched_done(s, i, T0 + 10), 0);
    assert_int_equal(sched_next_due(s), T0 + 1000);
    take_one(s, T0 + 1000, 0);
    take_one(s, T0 + 2000, 1);
    take_one(s, T0 + 5000, 2);
    take_one(s, T0 + 60000, 3);
    sched_free(s);
}

static void test_sched_set_due_on_a_target_in_flight_applies_when_it_finishes(void **state)
{
    (void)state;
    const uint32_t iv[] = {1000};
    sched_t *s = sched_new(iv, 1, T0);
    take_one(s, T0, 0);
    sched_set_due(s, 0, T0 + 100);
    assert_true(sched_in_flight(s, 0));
    take_none(s, T0 + 100);

    /* Finishing after the forced time: due at once, and no round counted as skipped. */
    assert_int_equal(sched_done(s, 0, T0 + 300), 0);
    assert_int_equal(sched_next_due(s), T0 + 100);
    take_one(s, T0 + 300, 0);
    /* The forced time then anchors the grid. */
    assert_int_equal(sched_done(s, 0, T0 + 400), 0);
    assert_int_equal(sched_next_due(s), T0 + 1100);
    sched_free(s);
}

static void test_sched_set_due_in_flight_can_postpone_and_last_call_wins(void **state)
{
    (void)state;
    const uint32_t iv[] = {1000};
    sched_t *s = sched_new(iv, 1, T0);
    take_one(s, T0, 0);
    sched_set_due(s, 0, T0 + 50);
    sched_set_due(s, 0, T0 + 7000);
    assert_int_equal(sched_done(s, 0, T0 + 2500), 0);
    assert_int_equal(sched_next_due(s), T0 + 7000);
    /* Used once: the following round is back on the interval. */
    take_one(s, T0 + 7000, 0);
    assert_int_equal(sched_done(s, 0, T0 + 7010), 0);
    assert_int_equal(sched_next_due(s), T0 + 8000);
    sched_free(s);
}

/* ---- simulations ------------------------------------------------------------------------- */

enum { SIM_N = 200 };
#define SIM_END (T0 + 10 * 60 * 1000) /* ten minutes */

static const uint32_t sim_intervals[] = {1000, 1500, 2000,  2500,  3000,
                                         5000, 7000, 10000, 30000, 60000};

struct sim {
    sched_t *s;
    uint32_t iv[SIM_N];
    int64_t offset[SIM_N];
    int64_t expect_due[SIM_N]; /* where the target's next probe must start */
    int64_t finish[SIM_N];
    bool busy[SIM_N];
    unsigned probes[SIM_N];
    unsigned skipped[SIM_N];
};

static void sim_init(struct sim *m)
{
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < SIM_N; i++) {
        m->iv[i] = sim_intervals[i % (sizeof(sim_intervals) / sizeof(sim_intervals[0]))];
        m->offset[i] = (int64_t)((uint64_t)i * m->iv[i] / SIM_N);
        m->expect_due[i] = T0 + m->offset[i];
    }
    m->s = sched_new(m->iv, SIM_N, T0);
}

/* Number of grid points T0 + offset + k * interval strictly before end. */
static unsigned sim_rounds_before(const struct sim *m, size_t i, int64_t end)
{
    int64_t first = T0 + m->offset[i];
    if (first >= end)
        return 0;
    return (unsigned)((end - first + m->iv[i] - 1) / m->iv[i]);
}

/* Starts everything due at now, each less than `late` after its grid point; durations come from
 * dur(i). */
static void
sim_take(struct sim *m, int64_t now, int64_t late, uint32_t (*dur)(const struct sim *, size_t))
{
    size_t out[7]; /* small, so take_due is called repeatedly */
    size_t k;
    while ((k = sched_take_due(m->s, now, out, sizeof(out) / sizeof(out[0]))) > 0) {
        for (size_t j = 0; j < k; j++) {
            size_t i = out[j];
            assert_false(m->busy[i]);
            assert_true(sched_in_flight(m->s, i));
            assert_true(now >= m->expect_due[i]);
            assert_true(now - m->expect_due[i] < late);
            m->busy[i] = true;
            m->finish[i] = now + dur(m, i);
            m->probes[i]++;
        }
    }
}

/* Ends every probe finished by now, checking the rounds it skipped. */
static void sim_finish(struct sim *m, int64_t now)
{
    for (size_t i = 0; i < SIM_N; i++) {
        if (!m->busy[i] || m->finish[i] > now)
            continue;
        unsigned skipped = sched_done(m->s, i, now);
        /* The round just probed, then every later grid point up to now is lost. */
        int64_t next = m->expect_due[i] + m->iv[i];
        unsigned want = 0;
        while (next <= now) {
            next += m->iv[i];
            want++;
        }
        assert_int_equal(skipped, want);
        m->skipped[i] += skipped;
        m->expect_due[i] = next;
        m->busy[i] = false;
        assert_false(sched_in_flight(m->s, i));
    }
}

static uint32_t dur_below_interval(const struct sim *m, size_t i)
{
    return (uint32_t)rng_below(m->iv[i]); /* 0 .. interval - 1 */
}

static void test_sched_probes_every_target_once_per_interval_over_ten_minutes(void **state)
{
    (void)state;
    struct sim *m = malloc(sizeof(*m));
    assert_non_null(m);
    rng_seed(42);
    sim_init(m);

    /* Event driven: jump to the next due time or the next probe end, whichever is first. */
    for (;;) {
        int64_t now = sched_next_due(m->s);
        for (size_t i = 0; i < SIM_N; i++)
            if (m->busy[i] && m->finish[i] < now)
                now = m->finish[i];
        if (now >= SIM_END)
            break;
        sim_finish(m, now);
        /* No target was left behind: each starts exactly on its grid point (late < 1). */
        for (size_t i = 0; i < SIM_N; i++)
            if (!m->busy[i])
                assert_true(m->expect_due[i] >= now);
        sim_take(m, now, 1, dur_below_interval);
    }

    for (size_t i = 0; i < SIM_N; i++) {
        assert_int_equal(m->skipped[i], 0);
        unsigned want = sim_rounds_before(m, i, SIM_END);
        if (m->probes[i] != want)
            print_error("target %zu (interval %u): %u probes, want %u\n", i, m->iv[i], m->probes[i],
                        want);
        assert_int_equal(m->probes[i], want);
    }
    /* Sanity of the expectation itself: a 1 s target is probed 600 times in ten minutes. */
    assert_int_equal(m->probes[0], 600);
    assert_int_equal(m->probes[9], 10); /* 60 s, offset 9 * 60000 / 200 = 2700 ms */
    sched_free(m->s);
    free(m);
}

static void test_sched_polling_loop_probes_every_target_once_per_interval(void **state)
{
    (void)state;
    struct sim *m = malloc(sizeof(*m));
    assert_non_null(m);
    rng_seed(7);
    sim_init(m);

    /* A loop that wakes every 100 ms; probes end on the tick after they finish, so each lasts
     * under interval - 100 ms to never overrun. */
    const int64_t tick = 100;
    int64_t now;
    for (now = T0; now < SIM_END; now += tick) {
        sim_finish(m, now);
        sim_take(m, now, tick, dur_below_interval);
        for (size_t i = 0; i < SIM_N; i++)
            if (m->busy[i] && m->finish[i] >= now + m->iv[i] - tick)
                m->finish[i] = now + m->iv[i] - tick - 1;
    }
    for (size_t i = 0; i < SIM_N; i++) {
        assert_int_equal(m->skipped[i], 0);
        /* Grid points up to the last tick (now - tick). */
        assert_int_equal(m->probes[i], sim_rounds_before(m, i, now - tick + 1));
    }
    sched_free(m->s);
    free(m);
}

static uint32_t dur_sometimes_overruns(const struct sim *m, size_t i)
{
    /* One probe in four takes up to three and a half intervals. */
    if (rng_below(4) == 0)
        return (uint32_t)rng_below((uint64_t)m->iv[i] * 7 / 2);
    return (uint32_t)rng_below(m->iv[i]);
}

static void test_sched_skips_overrun_rounds_in_a_long_simulation(void **state)
{
    (void)state;
    struct sim *m = malloc(sizeof(*m));
    assert_non_null(m);
    rng_seed(1234);
    sim_init(m);

    unsigned last_probes[SIM_N];
    for (;;) {
        int64_t now = sched_next_due(m->s);
        for (size_t i = 0; i < SIM_N; i++)
            if (m->busy[i] && m->finish[i] < now)
                now = m->finish[i];
        if (now >= SIM_END)
            break;
        memcpy(last_probes, m->probes, sizeof(last_probes));
        sim_finish(m, now); /* checks each probe's skip count against the grid */
        sim_take(m, now, 1, dur_sometimes_overruns);
        for (size_t i = 0; i < SIM_N; i++)
            assert_true(m->probes[i] - last_probes[i] <= 1);
    }

    /* Every grid point before the next open one was probed or skipped, none twice. An idle
     * target's next open point is its first at or after the end; a busy target (its probe ends
     * after the end) has accounted for no more than the rounds before the end. */
    unsigned total_skipped = 0;
    for (size_t i = 0; i < SIM_N; i++) {
        int64_t first_open = m->busy[i] ? m->expect_due[i] + m->iv[i] : m->expect_due[i];
        unsigned accounted = (unsigned)((first_open - (T0 + m->offset[i])) / m->iv[i]);
        unsigned rounds = sim_rounds_before(m, i, SIM_END);
        assert_int_equal(m->probes[i] + m->skipped[i], accounted);
        if (m->busy[i])
            assert_true(accounted <= rounds);
        else
            assert_int_equal(accounted, rounds);
        total_skipped += m->skipped[i];
    }
    assert_true(total_skipped > 100); /* the simulation did exercise skipping */
    sched_free(m->s);
    free(m);
}

/* ---- heap order at scale ----------------------------------------------------------------- */

enum { BIG_N = 10000 };

static void test_sched_pops_10000_targets_in_due_order(void **state)
{
    (void)state;
    uint32_t *iv = malloc(BIG_N * sizeof(*iv));
    int64_t *due = malloc(BIG_N * sizeof(*due));
    size_t *out = malloc(BIG_N * sizeof(*out));
    bool *seen = calloc(BIG_N, sizeof(*seen));
    assert_true(iv && due && out && seen);
    rng_seed(99);
    for (size_t i = 0; i < BIG_N; i++)
        iv[i] = 1000 + (uint32_t)rng_below(59001);
    sched_t *s = sched_new(iv, BIG_N, T0);

    /* From sched_new: each target at its staggered offset, in (due, index) order. */
    size_t got = 0, k;
    while ((k = sched_take_due(s, INT64_MAX - 1, out + got, 13)) > 0)
        got += k;
    assert_int_equal(got, BIG_N);
    for (size_t j = 0; j < BIG_N; j++) {
        size_t i = out[j];
        assert_false(seen[i]);
        seen[i] = true;
        due[i] = T0 + (int64_t)((uint64_t)i * iv[i] / BIG_N);
        if (j > 0) {
            size_t p = out[j - 1];
            assert_true(due[p] < due[i] || (due[p] == due[i] && p < i));
        }
    }
    assert_int_equal(sched_next_due(s), INT64_MAX);

    /* Back in with random due times (many equal), then moved again, then drained by time. */
    for (size_t i = 0; i < BIG_N; i++)
        sched_done(s, i, T0);
    for (size_t i = 0; i < BIG_N; i++) {
        due[i] = T0 + (int64_t)rng_below(5000);
        sched_set_due(s, i, due[i]);
    }
    for (size_t i = 0; i < BIG_N; i += 3) {
        due[i] = T0 + (int64_t)rng_below(5000);
        sched_set_due(s, i, due[i]);
    }
    memset(seen, 0, BIG_N * sizeof(*seen));
    got = 0;
    for (int64_t now = T0; now < T0 + 5000; now += 37) {
        k = sched_take_due(s, now, out + got, BIG_N - got);
        for (size_t j = got; j < got + k; j++) {
            size_t i = out[j];
            assert_true(due[i] <= now);
            assert_true(due[i] > now - 37);
            assert_false(seen[i]);
            seen[i] = true;
            if (j > 0) {
                size_t p = out[j - 1];
                assert_true(due[p] < due[i] || (due[p] == due[i] && p < i));
            }
        }
        got += k;
        assert_true(sched_next_due(s) > now);
    }
    got += sched_take_due(s, T0 + 5000, out + got, BIG_N - got);
    assert_int_equal(got, BIG_N);

    sched_free(s);
    free(seen);
    free(out);
    free(due);
    free(iv);
}

/* A brute-force model of the scheduler's contract. */
struct model {
    size_t n;
    uint32_t *iv;
    int64_t *due;
    int64_t *pending;
    bool *has_pending;
    bool *in_flight;
};

static size_t model_take(struct model *md, int64_t now, size_t *out, size_t max)
{
    size_t k = 0;
    while (k < max) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < md->n; i++) {
            if (md->in_flight[i] || md->due[i] > now)
                continue;
            if (best == SIZE_MAX || md->due[i] < md->due[best])
                best = i; /* ascending scan: ties keep the lower index */
        }
        if (best == SIZE_MAX)
            break;
        md->in_flight[best] = true;
        out[k++] = best;
    }
    return k;
}

static unsigned model_done(struct model *md, size_t i, int64_t now)
{
    unsigned skipped = 0;
    md->in_flight[i] = false;
    if (md->has_pending[i]) {
        md->due[i] = md->pending[i];
        md->has_pending[i] = false;
        return 0;
    }
    md->due[i] += md->iv[i];
    while (md->due[i] <= now) {
        md->due[i] += md->iv[i];
        skipped++;
    }
    return skipped;
}

static int64_t model_next_due(const struct model *md)
{
    int64_t min = INT64_MAX;
    for (size_t i = 0; i < md->n; i++)
        if (!md->in_flight[i] && md->due[i] < min)
            min = md->due[i];
    return min;
}

static void test_sched_agrees_with_a_brute_force_model_under_random_operations(void **state)
{
    (void)state;
    enum { N = 1000, OPS = 20000 };
    struct model md = {
        .n = N,
        .iv = malloc(N * sizeof(uint32_t)),
        .due = malloc(N * sizeof(int64_t)),
        .pending = calloc(N, sizeof(int64_t)),
        .has_pending = calloc(N, sizeof(bool)),
        .in_flight = calloc(N, sizeof(bool)),
    };
    assert_true(md.iv && md.due && md.pending && md.has_pending && md.in_flight);
    rng_seed(2024);
    for (size_t i = 0; i < N; i++) {
        md.iv[i] = 1 + (uint32_t)rng_below(5000);
        md.due[i] = T0 + (int64_t)((uint64_t)i * md.iv[i] / N);
    }
    sched_t *s = sched_new(md.iv, N, T0);

    int64_t now = T0;
    size_t out[8], want[8];
    for (int op = 0; op < OPS; op++) {
        size_t i = (size_t)rng_below(N);
        switch (rng_below(4)) {
        case 0: { /* time passes, due targets start */
            now += (int64_t)rng_below(50);
            size_t max = (size_t)rng_below(8) + 1;
            size_t k = sched_take_due(s, now, out, max);
            size_t wk = model_take(&md, now, want, max);
            assert_int_equal(k, wk);
            for (size_t j = 0; j < k; j++)
                assert_int_equal(out[j], want[j]);
            break;
        }
        case 1: /* some probe ends */
            for (size_t j = 0; j < N && !md.in_flight[i]; j++)
                i = (i + 1) % N;
            if (md.in_flight[i])
                assert_int_equal(sched_done(s, i, now), model_done(&md, i, now));
            break;
        case 2: { /* a forced re-probe, or a postponement */
            int64_t at = now - 100 + (int64_t)rng_below(10000);
            sched_set_due(s, i, at);
            if (md.in_flight[i]) {
                md.pending[i] = at;
                md.has_pending[i] = true;
            } else {
                md.due[i] = at;
            }
            break;
        }
        default:
            assert_int_equal(sched_in_flight(s, i), md.in_flight[i]);
            break;
        }
        assert_int_equal(sched_next_due(s), model_next_due(&md));
    }

    sched_free(s);
    free(md.iv);
    free(md.due);
    free(md.pending);
    free(md.has_pending);
    free(md.in_flight);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sched_free_accepts_null),
        cmocka_unit_test(test_sched_with_no_targets_has_nothing_due),
        cmocka_unit_test(test_sched_single_target_is_due_at_once),
        cmocka_unit_test(test_sched_staggers_first_probes_across_the_interval),
        cmocka_unit_test(test_sched_staggers_each_target_by_its_own_interval),
        cmocka_unit_test(test_sched_stagger_rounds_offsets_down),
        cmocka_unit_test(test_sched_stagger_keeps_every_offset_below_the_interval),
        cmocka_unit_test(test_sched_take_due_returns_targets_in_due_order_up_to_max),
        cmocka_unit_test(test_sched_take_due_with_max_zero_takes_nothing),
        cmocka_unit_test(test_sched_take_due_breaks_ties_by_index),
        cmocka_unit_test(test_sched_never_has_two_probes_in_flight_for_one_target),
        cmocka_unit_test(test_sched_done_keeps_rounds_on_the_interval_grid),
        cmocka_unit_test(test_sched_done_just_before_the_next_round_skips_nothing),
        cmocka_unit_test(test_sched_done_exactly_at_the_next_round_skips_it),
        cmocka_unit_test(test_sched_done_skips_every_round_a_probe_outlasted),
        cmocka_unit_test(test_sched_done_skipping_is_measured_from_a_late_take),
        cmocka_unit_test(test_sched_set_due_moves_a_waiting_target_earlier_and_later),
        cmocka_unit_test(test_sched_set_due_to_the_same_time_changes_nothing),
        cmocka_unit_test(test_sched_set_due_to_now_makes_every_target_due_for_an_initial_round),
        cmocka_unit_test(test_sched_set_due_on_a_target_in_flight_applies_when_it_finishes),
        cmocka_unit_test(test_sched_set_due_in_flight_can_postpone_and_last_call_wins),
        cmocka_unit_test(test_sched_probes_every_target_once_per_interval_over_ten_minutes),
        cmocka_unit_test(test_sched_polling_loop_probes_every_target_once_per_interval),
        cmocka_unit_test(test_sched_skips_overrun_rounds_in_a_long_simulation),
        cmocka_unit_test(test_sched_pops_10000_targets_in_due_order),
        cmocka_unit_test(test_sched_agrees_with_a_brute_force_model_under_random_operations),
    };
    return cmocka_run_group_tests_name("health_scheduler", tests, NULL, NULL);
}
