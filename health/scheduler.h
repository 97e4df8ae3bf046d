/* SPDX-License-Identifier: MIT */
/* When to probe what: due times per target, staggered first probes, at most one probe in
 * flight per target, rounds skipped (not queued) when a probe outlasts its interval.
 * Pure: time (milliseconds on any monotonic scale) comes in as an argument. Owned by the probe
 * thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sched sched_t;

/* n targets with their intervals (ms, > 0). Each target's first probe is due at
 * now + offset, where offsets spread the targets evenly across their interval (target i of n
 * at i * interval / n), so start-up does not probe everything at once. */
sched_t *sched_new(const uint32_t *interval_ms, size_t n, int64_t now_ms);
void sched_free(sched_t *s);
/* Makes target i due at `at` (e.g. now, for the initial round or a forced re-probe). */
void sched_set_due(sched_t *s, size_t i, int64_t at_ms);
/* Pops up to max targets that are due at now and not in flight, marks them in flight and writes
 * their indexes to out. Returns how many. O(k log n). */
size_t sched_take_due(sched_t *s, int64_t now_ms, size_t *out, size_t max);
/* A probe of target i finished at now: it is no longer in flight, and its next probe is due one
 * interval after the previous due time; if that is already past (the probe outlasted its
 * interval), whole intervals are skipped so it is due in the future. Returns the rounds
 * skipped. */
unsigned sched_done(sched_t *s, size_t i, int64_t now_ms);
/* When a target that was probed by another process (or before a restart) is next due, on this
 * scheduler's scale, now being now_wall on the wall clock and now_mono on this scale. Its last
 * probe ended at last_wall (wall clock, as shared through the health map; 0: never). A probe
 * less than an interval old keeps its rhythm: due after the rest of the interval, and *fresh is
 * set. Anything else is due at now_mono: never probed, older, or later than now_wall, which
 * only a wall clock set back makes; so such a jump never puts the next probe off by its size. */
int64_t sched_resume_due(
    int64_t last_wall, int64_t now_wall, int64_t now_mono, uint32_t interval_ms, bool *fresh);
/* The earliest due time among targets not in flight, or INT64_MAX. */
int64_t sched_next_due(const sched_t *s);
bool sched_in_flight(const sched_t *s, size_t i);
