/* SPDX-License-Identifier: MIT */
/* The probe thread: probes every target on its schedule with one libcurl multi handle, feeds
 * the results through the state machine, logs transitions and publishes verdicts into the shared
 * health map. In a process that is not the map's leader it only waits to become leader (another
 * process is probing), so each target is probed once per interval in total.
 *
 * DESIGN: the thread owns the multi handle, every easy handle, the scheduler and the state
 * machines. The only shared data is the health map (atomic verdict words) and the stop flag;
 * runner_stop() wakes the thread with curl_multi_wakeup(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/errbuf.h"
#include "health/check.h"
#include "health/hmap.h"

typedef struct runner runner_t;

/* One verdict change of a target, as the probe thread reports it. */
struct health_event {
    const struct target *target;
    size_t index;                 /* target index */
    enum health_verdict from, to; /* from may be HEALTH_UNKNOWN */
    const char *reason;           /* the probe's reason ("connect refused", "ok") */
    unsigned count;               /* consecutive results that made the change (fall or rise) */
    int64_t when_ms;              /* wall clock */
};

/* Optional observers, called on the probe thread: they must not block (hand work to another
 * thread) and must not call back into the runner. Any member may be NULL. */
struct runner_hooks {
    void (*transition)(void *opaque, const struct health_event *ev);
    void (*probe)(void *opaque, size_t index, enum probe_result r, uint32_t latency_us);
    void *opaque;
};

/* Starts the probe thread for targets[0..n) publishing into map (both borrowed: they must
 * outlive the runner); hooks may be NULL (copied). Call curl_global_init() before. Returns 0
 * or -errno with a message. */
int runner_start(const struct target *targets,
                 size_t n,
                 hmap_t *map,
                 const struct runner_hooks *hooks,
                 runner_t **ret,
                 struct errbuf *err);
/* Waits until the first round of probes is complete or timeout_ms passed; true if complete.
 * A process that is not the leader has nothing to wait for and returns true at once. */
bool runner_wait_initial(runner_t *r, int timeout_ms);
/* The store these targets belong to is being replaced: stop probing, give the map's leadership
 * up and do not take it again (a process still on the old store must not keep probing it).
 * Verdicts stay readable. Any thread; NULL-safe; runner_stop() still frees it. */
void runner_retire(runner_t *r);
/* Stops and joins the thread, frees everything. NULL-safe. */
void runner_stop(runner_t *r);
