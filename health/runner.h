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

/* Starts the probe thread for targets[0..n) publishing into map (both borrowed: they must
 * outlive the runner). Call curl_global_init() before. Returns 0 or -errno with a message. */
int runner_start(
    const struct target *targets, size_t n, hmap_t *map, runner_t **ret, struct errbuf *err);
/* Waits until the first round of probes is complete or timeout_ms passed; true if complete.
 * A process that is not the leader has nothing to wait for and returns true at once. */
bool runner_wait_initial(runner_t *r, int timeout_ms);
/* Stops and joins the thread, frees everything. NULL-safe. */
void runner_stop(runner_t *r);
