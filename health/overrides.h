/* SPDX-License-Identifier: MIT */
/* Operator overrides of pool members: drain (out of answers, still probed), forced down,
 * forced up, each optionally until a time, with a reason. Kept in a memory-mapped table in the
 * state directory, so every process serving the store (pipe co-processes, the unix daemon)
 * sees them at once, and they survive restarts. Writers serialise with an flock; readers (the
 * answering path) read without locks.
 *
 * Threads: overrides_get() from any thread; overrides_set() from any thread of any process. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/errbuf.h"

enum override_kind {
    OVERRIDE_NONE = 0,
    OVERRIDE_DRAIN = 1, /* out of answers, still probed */
    OVERRIDE_DOWN = 2,  /* forced down: out of answers whatever the probes say */
    OVERRIDE_UP = 3,    /* forced up: answered whatever the probes say */
};

#define OVERRIDES_SLOTS      4096
#define OVERRIDES_NAME_MAX   128 /* "pool/member" */
#define OVERRIDES_REASON_MAX 120

/* An override "for 5m" ends at a wall-clock time, as every process (and a restart) must agree
 * on it. A wall clock set forward ends it early: it ends at that time, as told. A wall clock set
 * back cannot make it last up to the jump longer: a timed override that was set more than
 * OVERRIDES_CLOCK_SLACK_MS after now has ended (how much of it ran is unknown; the health checks
 * decide again). So one lasts at most its duration plus the slack, or plus a smaller jump. */
#define OVERRIDES_CLOCK_SLACK_MS 60000

struct override_info {
    enum override_kind kind;
    int64_t until_ms; /* wall clock; 0: until changed */
    int64_t set_ms;
    char name[OVERRIDES_NAME_MAX];
    char reason[OVERRIDES_REASON_MAX];
};

typedef struct overrides overrides_t;

/* Opens (creating) "<dir>/overrides.map". Returns 0 or -errno with a message. */
int overrides_open(const char *dir, overrides_t **ret, struct errbuf *err);
/* For when overrides_open() failed (a read-only, full or foreign state directory): the overrides
 * saved in "<dir>/overrides.map" if it can be read (they keep applying), else an empty table.
 * overrides_set() on it tries the file again and fails, naming the path and the cause, until
 * the directory can be written; then the table becomes the file. Returns 0 or -errno (no
 * memory for a mapping) with a message. */
int overrides_open_readonly(const char *dir, overrides_t **ret, struct errbuf *err);
/* True while the table is a read-only fallback. */
bool overrides_readonly(overrides_t *o);
void overrides_close(overrides_t *o);

/* The key of member `member` of pool `pool` (stable; computed at store load). */
uint64_t overrides_key(const char *pool, const char *member);
const char *override_kind_name(enum override_kind k);

/* Sets (OVERRIDE_NONE: clears) the override of pool/member. until_ms 0: no end. */
int overrides_set(overrides_t *o,
                  const char *pool,
                  const char *member,
                  enum override_kind kind,
                  int64_t until_ms,
                  const char *reason,
                  int64_t now_ms,
                  struct errbuf *err);
/* The override in force for key at now_ms (an expired one is NONE). Lock-free. */
enum override_kind overrides_get(const overrides_t *o, uint64_t key, int64_t now_ms);
/* A value that changes whenever the overrides in effect at now_ms change: one set, cleared or
 * expired, by any process. For noticing changes without being told (cache purges). */
uint64_t overrides_fingerprint(const overrides_t *o, int64_t now_ms);
/* The full entry for key, if one is in force; false otherwise. */
bool overrides_info(const overrides_t *o, uint64_t key, int64_t now_ms, struct override_info *ret);
