/* SPDX-License-Identifier: MIT */
/* The shared health view: one memory-mapped file per set of probe targets, in the state
 * directory. One process at a time (the "leader", elected with an flock on a lock file) probes
 * and writes it; every process serving the same store (all pipe co-processes, the unix daemon)
 * reads verdicts from it without locks. The file outlives the processes, so restarts keep the
 * states and rise/fall counts, and a killed leader is replaced by the next process that takes
 * the lock.
 *
 * Threads: hmap_verdict(), hmap_slot_ro() and hmap_slot_get() from any thread; hmap_slot_put(),
 * hmap_set_verdict(), hmap_try_lead() and hmap_heartbeat() only from the probe thread. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/errbuf.h"
#include "health/check.h"
#include "health/state.h"

struct hmap_slot {
    uint64_t key;              /* target key: identifies the target across stores and restarts */
    _Atomic uint32_t verdict;  /* enum health_verdict: the only field answers depend on */
    uint16_t ok_run, fail_run; /* the state machine's counters */
    uint8_t last_result;       /* enum probe_result of the last probe */
    uint8_t reserved[3];
    uint32_t last_latency_us;
    int64_t last_probe_ms; /* wall clock (ms) of the last completed probe; 0: never */
    int64_t since_ms;      /* wall clock (ms) of the last verdict change; 0: never */
    uint64_t probes, failures;
    char reason[88]; /* why the last probe failed (or "ok") */
};

typedef struct hmap hmap_t;

/* Opens (creating it if needed) the map for these targets in dir, which is created (mode 0750)
 * if missing. A new map takes the states of targets with the same key from older maps in the
 * same directory. Returns 0 or -errno with a message. Free with hmap_close(). */
int hmap_open(
    const char *dir, const struct target *targets, size_t n, hmap_t **ret, struct errbuf *err);
/* For when hmap_open() failed on dir (read-only, full, not ours): the same map in this process's
 * memory, seeded with the states of the maps in dir that can still be read. Not shared with
 * other processes and not kept: this process leads it alone. hmap_path() names the file it
 * stands for, "(in memory)". Returns 0 or -errno with a message. */
int hmap_open_memory(
    const char *dir, const struct target *targets, size_t n, hmap_t **ret, struct errbuf *err);
void hmap_close(hmap_t *m);

size_t hmap_count(const hmap_t *m);
const char *hmap_path(const hmap_t *m);
/* The published verdict of target i (acquire load). */
static inline enum health_verdict hmap_verdict_of(const struct hmap_slot *s)
{
    return (enum health_verdict)atomic_load_explicit(&((struct hmap_slot *)s)->verdict,
                                                     memory_order_acquire);
}
enum health_verdict hmap_verdict(const hmap_t *m, size_t i);
/* Slot i in the map, for hmap_verdict_of() and its key only: the leader rewrites the other
 * fields while others read them; read those with hmap_slot_get(). */
const struct hmap_slot *hmap_slot_ro(const hmap_t *m, size_t i);
/* A copy of slot i as one hmap_slot_put() left it (never half of one update; the verdict as
 * hmap_verdict() gives it). Retries while the leader writes; if a leader died in the middle of
 * an update, takes what is there after a bounded number of tries. */
void hmap_slot_get(const hmap_t *m, size_t i, struct hmap_slot *ret);
/* Leader only: writes every field of *s but the key and the verdict into slot i as one update
 * (the reason up to its NUL, at most sizeof(reason) - 1 bytes). Then publish a changed verdict
 * with hmap_set_verdict(). */
void hmap_slot_put(hmap_t *m, size_t i, const struct hmap_slot *s);
/* Slot i to write in place: only where no other thread reads the map (tests, set-up); the probe
 * thread uses hmap_slot_put(). */
struct hmap_slot *hmap_slot_rw(hmap_t *m, size_t i);
void hmap_set_verdict(hmap_t *m, size_t i, enum health_verdict v);

/* Tries (without blocking) to become the leader; true when this process holds the lock now
 * (also when it already did). */
bool hmap_try_lead(hmap_t *m);
bool hmap_is_leader(const hmap_t *m);
/* Leader only: gives the lock up (another process may take it); a no-op otherwise. */
void hmap_resign(hmap_t *m);
/* A moment on two clocks, in ms. boot_ms (CLOCK_BOOTTIME) is what staleness is judged by: one
 * clock for every process of the machine, which setting the wall clock does not move (it starts
 * again at a reboot); wall_ms (CLOCK_REALTIME) is for people. */
struct hmap_beat {
    int64_t wall_ms;
    int64_t boot_ms;
};
/* Leader: records that probing is alive; readers use it to detect a stalled prober. */
void hmap_heartbeat(hmap_t *m, struct hmap_beat now);
/* The last heartbeat; a field is 0 when never written (boot_ms also when written by a version
 * that kept only the wall clock). */
struct hmap_beat hmap_last_heartbeat(const hmap_t *m);
/* Pure: how long (ms) the prober has been silent at `now`, given its last heartbeat and, if not
 * 0, since when (boot ms) the caller has been watching: a prober is never silent for longer than
 * it has been watched, so a reader does not call a map it just opened stale. -1: no heartbeat
 * and no watch time (nothing to tell). A heartbeat's boot time later than now's comes from
 * before a reboot and counts as none; without a boot time (an older writer) the wall clocks are
 * compared, as that version did. Jumps of the wall clock change nothing else. */
int64_t hmap_silent_ms(struct hmap_beat last, struct hmap_beat now, int64_t watch_boot_ms);
/* Leader: pid of the process that leads (0: none yet). */
long hmap_leader_pid(const hmap_t *m);
