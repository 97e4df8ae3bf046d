/* SPDX-License-Identifier: MIT */
/* Purges pdns's caches through its control socket, from a thread of its own, so that a health
 * transition never waits on pdns: the probe thread (or anyone) queues patterns and returns.
 * Each batch is sent as one "purge a b c" command, and sent once more PURGER_REPEAT_MS later: an
 * answer pdns computed just before the change may reach its cache just after the first purge.
 * Part of the I/O shell. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/errbuf.h"

#define PURGER_REPEAT_MS 200
#define PURGER_TICK_MS   250
/* Past this many queued patterns, the whole cache is purged instead (a storm of transitions). */
#define PURGER_QUEUE_MAX 20000

typedef struct purger purger_t;

struct purger_stats {
    uint64_t commands; /* purge commands pdns accepted */
    uint64_t failures; /* commands that failed (no pdns, timeout, refused) */
    uint64_t patterns; /* patterns sent */
};

/* Starts the thread for the control socket at `socket` (a path). Nothing is sent until asked. */
int purger_start(const char *socket, purger_t **ret, struct errbuf *err);
/* Queues patterns (copied) for the next batch. Any thread; never blocks on pdns. */
void purger_request(purger_t *p, const char *const *patterns, size_t n);
/* fn is called on the purger thread every PURGER_TICK_MS (it may call purger_request()). */
void purger_set_tick(purger_t *p, void (*fn)(void *opaque), void *opaque);
void purger_get_stats(purger_t *p, struct purger_stats *ret);
const char *purger_socket(const purger_t *p);
/* Sends what is queued (bounded by the command timeout), stops and joins the thread. NULL-safe. */
void purger_stop(purger_t *p);
