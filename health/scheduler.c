/* SPDX-License-Identifier: MIT */
/* The probe scheduler (see scheduler.h): a binary min-heap of the targets that are not in
 * flight, keyed by (due time, index) so equal due times pop in index order (deterministic, and
 * testable). Each target knows its heap position, so moving one is O(log n).
 *
 * A target in flight is out of the heap; its `due` keeps the due time of the round being probed,
 * which sched_done needs to keep the rounds on their grid (previous due + interval, not finish
 * time + interval, so probe durations do not make the schedule drift).
 *
 * DESIGN: sched_set_due on a target in flight does not start a second probe. The time is kept
 * and replaces the next due time when the probe finishes: sched_done then makes the target due
 * at exactly that time (at once, if it is already past) and skips no rounds. Later rounds follow
 * from it. A second sched_set_due before the probe finishes overrides the first. */
#include "health/scheduler.h"

#include <assert.h>
#include <limits.h>
#include <stdlib.h>

#include "common/xalloc.h"

#define NOT_IN_HEAP SIZE_MAX

struct slot {
    int64_t due;     /* next due time; while in flight, that of the round being probed */
    int64_t pending; /* sched_set_due while in flight: the due time to use when it finishes */
    uint32_t interval;
    bool in_flight;
    bool has_pending;
    size_t pos; /* index in heap, or NOT_IN_HEAP while in flight */
};

struct sched {
    size_t n;
    struct slot *slots;
    size_t *heap; /* target indexes */
    size_t heap_len;
};

static bool before(const sched_t *s, size_t a, size_t b)
{
    int64_t da = s->slots[a].due, db = s->slots[b].due;
    return da < db || (da == db && a < b);
}

static void heap_put(sched_t *s, size_t pos, size_t target)
{
    s->heap[pos] = target;
    s->slots[target].pos = pos;
}

static void sift_up(sched_t *s, size_t pos)
{
    size_t t = s->heap[pos];
    while (pos > 0) {
        size_t parent = (pos - 1) / 2;
        if (!before(s, t, s->heap[parent]))
            break;
        heap_put(s, pos, s->heap[parent]);
        pos = parent;
    }
    heap_put(s, pos, t);
}

static void sift_down(sched_t *s, size_t pos)
{
    size_t t = s->heap[pos];
    for (;;) {
        size_t child = 2 * pos + 1;
        if (child >= s->heap_len)
            break;
        if (child + 1 < s->heap_len && before(s, s->heap[child + 1], s->heap[child]))
            child++;
        if (!before(s, s->heap[child], t))
            break;
        heap_put(s, pos, s->heap[child]);
        pos = child;
    }
    heap_put(s, pos, t);
}

static void heap_push(sched_t *s, size_t target)
{
    s->heap[s->heap_len] = target;
    s->slots[target].pos = s->heap_len;
    s->heap_len++;
    sift_up(s, s->heap_len - 1);
}

static size_t heap_pop(sched_t *s)
{
    size_t top = s->heap[0];
    s->slots[top].pos = NOT_IN_HEAP;
    s->heap_len--;
    if (s->heap_len > 0) {
        heap_put(s, 0, s->heap[s->heap_len]);
        sift_down(s, 0);
    }
    return top;
}

sched_t *sched_new(const uint32_t *interval_ms, size_t n, int64_t now_ms)
{
    sched_t *s = xcalloc(1, sizeof(*s));
    s->n = n;
    s->slots = xcalloc(n, sizeof(*s->slots));
    s->heap = xcalloc(n, sizeof(*s->heap));

    for (size_t i = 0; i < n; i++) {
        assert(interval_ms[i] > 0);
        /* 0 would make sched_done divide by zero; validation rejects it, this only keeps a
         * release build from crashing if it ever got through. */
        uint32_t iv = interval_ms[i] ? interval_ms[i] : 1;
        s->slots[i].interval = iv;
        s->slots[i].due = now_ms + (int64_t)((uint64_t)i * iv / n);
        s->heap[i] = i;
        s->slots[i].pos = i;
    }
    s->heap_len = n;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(s, i);
    return s;
}

void sched_free(sched_t *s)
{
    if (!s)
        return;
    free(s->heap);
    free(s->slots);
    free(s);
}

void sched_set_due(sched_t *s, size_t i, int64_t at_ms)
{
    assert(i < s->n);
    struct slot *sl = &s->slots[i];

    if (sl->in_flight) {
        sl->pending = at_ms;
        sl->has_pending = true;
        return;
    }
    int64_t old = sl->due;
    sl->due = at_ms;
    if (at_ms < old)
        sift_up(s, sl->pos);
    else
        sift_down(s, sl->pos);
}

size_t sched_take_due(sched_t *s, int64_t now_ms, size_t *out, size_t max)
{
    size_t k = 0;
    while (k < max && s->heap_len > 0 && s->slots[s->heap[0]].due <= now_ms) {
        size_t i = heap_pop(s);
        s->slots[i].in_flight = true;
        out[k++] = i;
    }
    return k;
}

unsigned sched_done(sched_t *s, size_t i, int64_t now_ms)
{
    assert(i < s->n);
    struct slot *sl = &s->slots[i];
    assert(sl->in_flight);
    if (!sl->in_flight)
        return 0; /* a bug in the caller; do not put the target in the heap twice */

    unsigned skipped = 0;
    sl->in_flight = false;
    if (sl->has_pending) {
        sl->due = sl->pending;
        sl->has_pending = false;
    } else {
        int64_t next = sl->due + sl->interval;
        if (next <= now_ms) {
            /* Whole intervals up to and including now are lost, not queued. */
            int64_t k = (now_ms - next) / sl->interval + 1;
            next += k * sl->interval;
            skipped = k > UINT_MAX ? UINT_MAX : (unsigned)k;
        }
        sl->due = next;
    }
    heap_push(s, i);
    return skipped;
}

int64_t sched_resume_due(
    int64_t last_wall, int64_t now_wall, int64_t now_mono, uint32_t interval_ms, bool *fresh)
{
    int64_t iv = interval_ms;
    *fresh = last_wall > 0 && last_wall <= now_wall && now_wall - last_wall < iv;
    return *fresh ? now_mono + (last_wall + iv - now_wall) : now_mono;
}

int64_t sched_next_due(const sched_t *s)
{
    return s->heap_len > 0 ? s->slots[s->heap[0]].due : INT64_MAX;
}

bool sched_in_flight(const sched_t *s, size_t i)
{
    assert(i < s->n);
    return s->slots[i].in_flight;
}
