/* SPDX-License-Identifier: MIT */
/* Operator commands, shared by `pdnsutil backend-cmd remote '<command>'` (directBackendCmd)
 * and `pdns-failover ctl <command>` (the control socket): help, version, zones, health,
 * explain, drain/down/up/auto, stats, reload. Text in, text out; no I/O of its own but the
 * override table and the hooks it is given. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "backend/store.h"
#include "common/sbuf.h"
#include "health/hmap.h"
#include "health/overrides.h"

struct cmd_env {
    const store_t *store;   /* NULL: no store loaded */
    const hmap_t *health;   /* NULL: no health checking */
    overrides_t *overrides; /* NULL: overrides unavailable */
    int64_t now_ms;         /* wall clock: overrides, times shown */
    int64_t boot_ms;        /* CLOCK_BOOTTIME: the prober's heartbeat (see hmap_silent_ms) */
    /* reload: rebuild the store from its file; appends the outcome to out; NULL: unavailable */
    int (*reload)(void *opaque, struct sbuf *out);
    /* stats: appends process statistics (one "key: value" per line); may be NULL */
    void (*stats)(void *opaque, struct sbuf *out);
    void *opaque;
};

/* Runs one command line (len bytes) and appends its text answer, ending in '\n', to out.
 * Returns 0, or -EINVAL for an unknown command or bad usage (out then holds the reason and a
 * usage line). */
int cmd_run(const struct cmd_env *env, const char *line, size_t len, struct sbuf *out);

/* Parses "90", "90s", "15m", "2h" or "1d" into milliseconds. Returns 0 or -EINVAL. */
int cmd_parse_duration(const char *s, int64_t *ret_ms);

/* The health table as JSON (for the metrics listener's /status): one object per pool member. */
void cmd_status_json(const struct cmd_env *env, struct sbuf *out);
