/* SPDX-License-Identifier: MIT */
/* Store reloads off the answering path: a thread that rebuilds the store when its file changes
 * (checked every RELOADER_POLL_MS), or when asked (SIGHUP, the reload command), and leaves the new
 * store for the answering thread to swap in between requests. A file that does not load is logged
 * in full and the store being served stays. Part of the I/O shell (it reads files and clocks). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "backend/store.h"
#include "common/errbuf.h"

/* A stat() four times a second costs nothing and keeps every process reading a store within
 * a quarter second of an edit committed by another (pdnsutil, another pipe co-process). */
#define RELOADER_POLL_MS 250

typedef struct reloader reloader_t;

struct reloader_hooks {
    /* Called on the reloader thread for each attempt: when ok, just before the new store is
     * handed over (so the store being served is still the old one); else after the failure. */
    void (*attempt)(void *opaque, bool ok);
    void *opaque;
};

/* Starts watching path, which was just loaded (its identity is taken now). */
int reloader_start(const char *path,
                   const struct reloader_hooks *h,
                   reloader_t **ret,
                   struct errbuf *err);
/* This process just wrote the file (identity st) and serves it already: no rebuild for it, and
 * a build of an older version still under way is dropped. Any thread. */
struct stat;
void reloader_seen(reloader_t *r, const struct stat *st);
/* True when the file (identity now in *st) is the one last built and nothing waits to be taken;
 * also true when the file is gone (nothing newer to load). Any thread. */
bool reloader_is_current(reloader_t *r, struct stat *st);
/* Asks for a rebuild even if the file looks unchanged. Any thread; async-signal-unsafe. */
void reloader_request(reloader_t *r);
/* The same for the process's reloader, from a signal handler (async-signal-safe): its thread
 * takes the request at its next poll (within RELOADER_POLL_MS). */
void reloader_request_async(void);
/* An eventfd that becomes readable when a new store waits (for the unix event loop). */
int reloader_wake_fd(const reloader_t *r);
/* The newly built store, if one waits (the caller owns it, free with store_free()); else NULL. */
store_t *reloader_take(reloader_t *r);
/* Stops and joins the thread, frees a store still waiting. NULL-safe. */
void reloader_stop(reloader_t *r);
