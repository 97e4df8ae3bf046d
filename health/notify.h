/* SPDX-License-Identifier: MIT */
/* Transition notifications: a thread that POSTs one JSON body per health transition to a webhook,
 * in order, retrying with exponential backoff, without ever blocking the thread that reports the
 * transition (the probe thread).
 *
 * Threads: notify_start() and notify_stop() run on the main thread; notify_event() runs on any
 * thread (it only copies the event into a bounded queue under a mutex that is never held across
 * I/O); the counters can be read from any thread. The notifier thread alone owns its curl handles.
 *
 * Wiring (main.c): call curl_global_init() first; install a runner_hooks.transition callback that
 * fills a struct notify_event with notify_event_from_health() and calls notify_event(); stop the
 * runner before notify_stop(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/errbuf.h"
#include "common/sbuf.h"
#include "health/check.h"
#include "health/runner.h"
#include "health/state.h"

#define NOTIFY_QUEUE_DEFAULT    1024
#define NOTIFY_TIMEOUT_DEFAULT  5000 /* ms per attempt */
#define NOTIFY_ATTEMPTS_DEFAULT 6
#define NOTIFY_STOP_DEFAULT     2000 /* ms notify_stop() may spend delivering what is left */
#define NOTIFY_BACKOFF_BASE_MS  1000 /* wait after the first failed attempt; doubles */
#define NOTIFY_BACKOFF_MAX_MS   16000

typedef struct notify notify_t;

/* One transition, copied by value (no pointers), so it can cross threads and outlive the store.
 * Strings are NUL-terminated and cut to fit (at a UTF-8 character boundary). */
struct notify_event {
    char pools[256];   /* pool names using the target, comma-separated; "" if not known */
    char members[256]; /* member names using the target, comma-separated, or the target label */
    char target[160];  /* the target label: "<member> <address>:<port>" */
    char address[46];  /* numeric IPv4 or IPv6 text */
    uint16_t port;
    enum check_type check;
    enum health_verdict from, to;
    char reason[96]; /* the probe's reason ("http status 503", "ok") */
    unsigned count;  /* consecutive results that made the change */
    int64_t when_ms; /* wall clock, ms since the epoch */
    char host[72];   /* set by the notifier thread just before formatting ("" leaves it out) */
};

/* Settings; zero (or NULL) means the default. Strings are copied by notify_start(). */
struct notify_opts {
    unsigned queue_max;    /* events waiting (not counting the one being delivered); 1024 */
    unsigned timeout_ms;   /* per attempt, connect included; 5000 */
    unsigned max_attempts; /* attempts per event before it is given up; 6 */
    unsigned stop_ms;      /* bound of notify_stop(); 2000 */
    const char *proxy;     /* proxy URL; NULL: none (the environment's proxy is never used) */
    const char *ca_file;   /* https: CA bundle to verify against; NULL: the system store */
    const char *host;      /* "host" in the bodies; NULL: gethostname() */
};

/* Checks url (http:// or https:// with a host), creates the notifier and starts its thread.
 * o may be NULL (all defaults). On success *ret is owned by the caller, to be ended with
 * notify_stop(). Returns 0, or -EINVAL (bad url or option) / -ENOMEM / -errno of
 * pthread_create with a message in err. Main thread; curl_global_init() must have run. */
int notify_start(const char *url, const struct notify_opts *o, notify_t **ret, struct errbuf *err);

/* Queues a copy of ev (ev is borrowed only for the call). Never blocks on I/O: when the queue is
 * full the oldest waiting event is dropped and counted. Any thread; n may be NULL (no-op). */
void notify_event(notify_t *n, const struct notify_event *ev);

/* Stops the notifier: what is still queued or being retried gets delivered while the stop bound
 * (stop_ms) lasts, then the transfer in progress is cut off, whatever is left counts as failed,
 * and the thread is joined and everything freed. Returns within stop_ms plus a few hundred ms.
 * NULL-safe. Main thread; nothing may call notify_event() on n once this has begun. */
void notify_stop(notify_t *n);

/* Events delivered (2xx answer), given up (attempts exhausted or cut off by notify_stop) and
 * dropped from a full queue. Any thread. */
uint64_t notify_sent(const notify_t *n);
uint64_t notify_failed(const notify_t *n);
uint64_t notify_dropped(const notify_t *n);

/* ---- pure parts (no clock, no I/O), used by the thread and exposed for tests ---- */

/* Fills *out from a runner transition: address, port, check type, label, verdicts, reason,
 * count and time come from ev; pools and members are the comma-separated names of the pools and
 * members using the target (either may be NULL: pools "" and members the target label). */
void notify_event_from_health(struct notify_event *out,
                              const struct health_event *ev,
                              const char *pools,
                              const char *members);

/* Appends the JSON body of ev to out:
 * {"event":"transition","member":..,"pool":..,"target":..,"address":..,"port":80,"check":"http",
 *  "from":"up","to":"down","reason":..,"count":3,"time":"2026-11-30T08:00:00.123Z","host":..,
 *  "version":"<PF_VERSION>"} ("host" only when ev->host is not empty). */
void notify_format(const struct notify_event *ev, struct sbuf *out);

/* Milliseconds to wait after failed attempt number `attempt` (1 = the first attempt failed):
 * 1000, 2000, 4000, 8000, 16000, 16000, ... each plus up to a quarter more, chosen by `random`
 * (any 32-bit value), so that several notifiers do not retry in lockstep. */
uint32_t notify_backoff_ms(unsigned attempt, uint32_t random);

/* The bounded queue: a ring of events that drops the oldest when full. Not thread-safe by itself
 * (the notifier guards it with its mutex). */
struct notify_queue {
    struct notify_event *ring; /* cap entries */
    size_t cap, head, len;
    uint64_t dropped; /* events pushed out by newer ones */
};

/* cap >= 1. Free with notify_queue_deinit(). */
void notify_queue_init(struct notify_queue *q, size_t cap);
void notify_queue_deinit(struct notify_queue *q);
/* Appends a copy of ev; returns true if that pushed out the oldest event (counted in dropped). */
bool notify_queue_push(struct notify_queue *q, const struct notify_event *ev);
/* Moves the oldest event into *out; false if the queue is empty. */
bool notify_queue_pop(struct notify_queue *q, struct notify_event *out);
