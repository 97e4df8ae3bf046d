/* SPDX-License-Identifier: MIT */
/* The shared health view: one memory-mapped file per set of probe targets, in the state
 * directory. One process at a time (the "leader", elected with an flock on a lock file) probes
 * and writes it; every process serving the same store (all pipe co-processes, the unix daemon)
 * reads verdicts from it without locks. The file outlives the processes, so restarts keep the
 * states and rise/fall counts, and a killed leader is replaced by the next process that takes
 * the lock.
 *
 * Threads: hmap_verdict() and hmap_slot_ro() from any thread; hmap_slot_rw(), hmap_try_lead()
 * and hmap_heartbeat() only from the probe thread. */
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
const struct hmap_slot *hmap_slot_ro(const hmap_t *m, size_t i);
/* Leader only. Write the fields, then publish the verdict with hmap_set_verdict(). */
struct hmap_slot *hmap_slot_rw(hmap_t *m, size_t i);
void hmap_set_verdict(hmap_t *m, size_t i, enum health_verdict v);

/* Tries (without blocking) to become the leader; true when this process holds the lock now
 * (also when it already did). */
bool hmap_try_lead(hmap_t *m);
bool hmap_is_leader(const hmap_t *m);
/* Leader only: gives the lock up (another process may take it); a no-op otherwise. */
void hmap_resign(hmap_t *m);
/* Leader: records that probing is alive (wall clock ms); readers use it to detect a stalled
 * prober. */
void hmap_heartbeat(hmap_t *m, int64_t now_ms);
int64_t hmap_last_heartbeat(const hmap_t *m);
/* Leader: pid of the process that leads (0: none yet). */
long hmap_leader_pid(const hmap_t *m);
