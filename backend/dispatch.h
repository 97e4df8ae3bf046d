/* SPDX-License-Identifier: MIT */
/* The remote-backend methods: one request line in, exactly one reply line out. Knows the JSON
 * envelope and the store, nothing about sockets or pipes. One dispatcher per answering thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "backend/store.h"
#include "health/hmap.h"
#include "health/overrides.h"
#include "common/errbuf.h"
#include "common/errlist.h"
#include "common/sbuf.h"

typedef struct dispatch dispatch_t;

/* Most JSON values a request may hold (an upper bound is counted before parsing): json-c spends
 * about 70 bytes on each, so without a cap a 16 MB line of "[1,1,1,..." costs 600 MB and five
 * seconds of the answering thread. pdns's biggest request, a replaceRRSet, has some 8 values per
 * record, and no RRset that fits in a DNS message comes near. */
#define DISPATCH_MAX_VALUES 200000

struct txn;
struct dispatch_job;

/* What a connection (unix) or a co-process (pipe) carries between requests. pdns's trxid is
 * time(NULL) and not unique, so a transaction belongs to its session; dispatch_session_end()
 * rolls back what is still open when the connection or co-process ends. */
struct session {
    bool initialized;
    unsigned long requests;
    struct txn *txn;          /* the open transaction, or NULL */
    struct dispatch_job *job; /* a commit handed out by dispatch_request() (DISPATCH_DEFERRED) */
};

/* Called for the "config" option of initialize (a pipe co-process started without --config).
 * Loads and installs the store at `path`, reporting problems in errs; returns 0 or -errno. */
typedef int (*dispatch_load_fn)(void *opaque, const char *path, struct errlist *errs);

dispatch_t *dispatch_new(dispatch_load_fn load, void *opaque);
void dispatch_free(dispatch_t *d);
/* The store to answer from; borrowed, must outlive its use (NULL: nothing loaded yet). */
void dispatch_set_store(dispatch_t *d, const store_t *s);
const store_t *dispatch_store(const dispatch_t *d);
/* The health view pool answers follow (borrowed; NULL: every member counts as up) and a seed
 * for the "weighted" policy's random choices. Call after dispatch_set_store(). */
void dispatch_set_health(dispatch_t *d, const hmap_t *health, uint64_t seed);
/* Operator overrides (borrowed; NULL: none). */
void dispatch_set_overrides(dispatch_t *d, overrides_t *o);
/* Called (on the answering thread) when the staleness guard trips or clears: no probe
 * completed for 3 check intervals, so pool answers fail open. */
struct metrics;
/* Counters for every request (borrowed; NULL: none). */
void dispatch_set_metrics(dispatch_t *d, struct metrics *m);
/* What the reload and stats commands (directBackendCmd) call; NULL: unavailable. */
void dispatch_set_cmd_hooks(dispatch_t *d,
                            int (*reload)(void *opaque, struct sbuf *out),
                            void (*stats)(void *opaque, struct sbuf *out),
                            void *opaque);
typedef void (*dispatch_stale_fn)(void *opaque, bool stale, int64_t silent_ms);
void dispatch_on_stale(dispatch_t *d, dispatch_stale_fn fn, void *opaque);

/* Where edits go (transactions, setDomainMetadata). Without a writer, edits answer false with a
 * log line saying why. `read` gives the store document as committed now (for a transaction's
 * view of its own edits). `commit` applies ops durably and leaves the new store in res; it may
 * run on another thread (see dispatch_set_async()) and touches nothing the answering thread
 * uses. `install` then puts res->store in service (taking it), on the answering thread. read
 * and commit return 0 or -errno with reasons in errs (a successful commit may leave warnings
 * there). */
struct json_object;
struct edit_op;
struct dispatch_commit {
    store_t *store;
    void *extra; /* the writer's own (e.g. the identity of the file written) */
};
struct dispatch_writer {
    int (*read)(void *opaque, struct json_object **doc, struct errlist *errs);
    int (*commit)(void *opaque,
                  struct edit_op *ops,
                  size_t n,
                  struct dispatch_commit *res,
                  struct errlist *errs);
    void (*install)(void *opaque, struct dispatch_commit *res);
    void *opaque;
};
void dispatch_set_writer(dispatch_t *d, const struct dispatch_writer *w);

/* Asynchronous commits (the unix event loop): commitTransaction and setDomainMetadata then make
 * dispatch_request() return DISPATCH_DEFERRED without a reply, leaving the commit in ss->job.
 * The caller runs dispatch_job_run(ss) on another thread (the session's connection reads
 * nothing meanwhile), then dispatch_job_finish() on the answering thread, which installs the
 * new store and appends the reply. A commit takes milliseconds to seconds (the lock, the
 * rewrite, fsync): no other connection should wait for it. */
#define DISPATCH_DEFERRED 1
void dispatch_set_async(dispatch_t *d, bool on);
void dispatch_job_run(struct session *ss);
/* Returns 0, or -errno with the reason in err (the reply says it too), for the caller's log. */
int dispatch_job_finish(dispatch_t *d, struct session *ss, struct sbuf *out, struct errbuf *err);
/* Called before answering getAllDomains, and before giving up on a zone name nobody knows: the
 * store file may have changed in the last second (a zone added), and pdns caches the zone list
 * for minutes. NULL: none. */
void dispatch_set_freshen(dispatch_t *d, void (*fn)(void *opaque), void *opaque);
/* Benchmarks only: every record carries every optional field pdns reads ("domain_id", "auth",
 * "scopeMask": 0), as a backend that does not count bytes would send. It shows what the minimal
 * replies save on the pipe connector, where pdns reads replies one byte per system call. */
void dispatch_set_verbose(dispatch_t *d, bool on);
/* Lookups in pdns's usual shape skip json-c (on by default); off for tests comparing the two. */
void dispatch_set_fast_lookup(dispatch_t *d, bool on);
/* The session is over (EOF, disconnect): an open transaction is rolled back, a finished job's
 * result dropped (not while dispatch_job_run() runs). */
void dispatch_session_end(dispatch_t *d, struct session *ss);

/* Handles one request (len bytes, without the newline) and appends exactly one reply line,
 * ending in '\n', to out. Returns 0, or -EINVAL for a malformed request, with the reason in err
 * (the reply then is {"result":false,"log":[reason]}), so the caller can log it; or, in async
 * mode, DISPATCH_DEFERRED with no reply (see dispatch_set_async()). */
int dispatch_request(dispatch_t *d,
                     struct session *ss,
                     const char *line,
                     size_t len,
                     struct sbuf *out,
                     struct errbuf *err);
