/* SPDX-License-Identifier: MIT */
/* The store reloader thread (see reloader.h).
 *
 * DESIGN: one thread per process, sleeping on a condition variable (250 ms timeout, to poll the
 * file's identity: device, inode, size, modification time). It builds a new store with
 * store_load_file() and parks it in a one-slot mailbox under a mutex; a newer build replaces
 * an untaken older one. The answering thread takes it between requests and does the swap, so
 * no reader ever sees a store being built or freed. */
#include "backend/reloader.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/errlist.h"
#include "common/log.h"
#include "common/xalloc.h"

struct reloader {
    char *path;
    struct reloader_hooks hooks;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop, requested;
    store_t *ready;
    int wake_fd;
    struct stat seen; /* identity of the file as last loaded (or tried); under lock */
    bool have_seen;
    uint64_t epoch; /* bumped by reloader_seen(): a build started before is stale */
};

/* Set by reloader_request_async() (a signal handler), taken by the next poll. */
static atomic_bool g_signalled;
_Static_assert(ATOMIC_BOOL_LOCK_FREE == 2, "a signal handler sets it");

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void build(reloader_t *r)
{
    struct errlist errs = ERRLIST_INIT;
    store_t *s = NULL;
    struct stat before;
    bool loaded = false;
    pthread_mutex_lock(&r->lock);
    uint64_t epoch = r->epoch;
    pthread_mutex_unlock(&r->lock);
    bool have = stat(r->path, &before) == 0;
    if (store_load_file(r->path, &s, &errs) < 0) {
        for (size_t i = 0; i < errs.n; i++)
            log_err("store", "%s: %s", r->path, errs.msgs[i]);
        if (errs.dropped)
            log_err("store", "%s: %zu more errors not shown", r->path, errs.dropped);
        log_err("store", "%s: reload failed (%zu errors); still serving the previous store",
                r->path, errlist_count(&errs));
    } else {
        log_info("store", "%s: reloaded: %zu zones, %zu records", r->path, store_zone_count(s),
                 store_record_count(s));
        loaded = true;
        /* Under the lock, so that a commit of this process (reloader_seen()) cannot slip in
         * between: a build of an older file is dropped, never swapped in over a newer one. The
         * hook runs before the store is published: once it is, the answering thread may swap
         * it in at once, and the hook must still see the store it replaces. */
        pthread_mutex_lock(&r->lock);
        if (epoch == r->epoch) {
            if (r->hooks.attempt)
                r->hooks.attempt(r->hooks.opaque, true);
            store_free(r->ready); /* never taken: the newer build wins */
            r->ready = s;
            s = NULL;
            uint64_t one = 1;
            ssize_t w = write(r->wake_fd, &one, sizeof(one));
            (void)w;
        }
        pthread_mutex_unlock(&r->lock);
        store_free(s);
    }
    /* Remember what was tried, so a broken file is not rebuilt at every poll. */
    pthread_mutex_lock(&r->lock);
    if (epoch == r->epoch) {
        r->seen = before;
        r->have_seen = have;
    }
    pthread_mutex_unlock(&r->lock);
    if (!loaded && r->hooks.attempt)
        r->hooks.attempt(r->hooks.opaque, false);
    errlist_free(&errs);
}

static void *run(void *arg)
{
    reloader_t *r = arg;
    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += RELOADER_POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cond, &r->lock, &until);
        if (r->stop)
            break;
        bool requested = r->requested;
        r->requested = false;
        if (atomic_exchange(&g_signalled, false)) {
            log_info("store", "%s: reload requested by a signal", r->path);
            requested = true;
        }
        struct stat seen = r->seen;
        bool have_seen = r->have_seen;
        pthread_mutex_unlock(&r->lock);
        struct stat st;
        bool have = stat(r->path, &st) == 0;
        if (requested || have != have_seen || (have && !same_file(&st, &seen)))
            build(r);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

int reloader_start(const char *path,
                   const struct reloader_hooks *h,
                   reloader_t **ret,
                   struct errbuf *err)
{
    reloader_t *r = xcalloc(1, sizeof(*r));
    pthread_condattr_t ca;
    r->path = xstrdup(path);
    if (h)
        r->hooks = *h;
    r->have_seen = stat(path, &r->seen) == 0;
    r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->wake_fd < 0) {
        int e = errbuf_set(err, -errno, "eventfd: %m");
        free(r->path);
        free(r);
        return e;
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &ca);
    pthread_condattr_destroy(&ca);
    /* Signals belong to the main thread (signalfd or default handling). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&r->thread, NULL, run, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e) {
        close(r->wake_fd);
        pthread_cond_destroy(&r->cond);
        pthread_mutex_destroy(&r->lock);
        free(r->path);
        free(r);
        return errbuf_set(err, -e, "cannot start the reloader thread (%s)", strerror(e));
    }
    *ret = r;
    return 0;
}

void reloader_seen(reloader_t *r, const struct stat *st)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->epoch++;
    r->seen = *st;
    r->have_seen = true;
    store_free(r->ready); /* built from an older file */
    r->ready = NULL;
    pthread_mutex_unlock(&r->lock);
}

bool reloader_is_current(reloader_t *r, struct stat *st)
{
    bool have = stat(r->path, st) == 0;
    pthread_mutex_lock(&r->lock);
    bool same = have == r->have_seen && (!have || same_file(st, &r->seen)) && !r->ready;
    pthread_mutex_unlock(&r->lock);
    return same || !have;
}

void reloader_request(reloader_t *r)
{
    pthread_mutex_lock(&r->lock);
    r->requested = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

void reloader_request_async(void)
{
    atomic_store(&g_signalled, true);
}

int reloader_wake_fd(const reloader_t *r)
{
    return r->wake_fd;
}

store_t *reloader_take(reloader_t *r)
{
    pthread_mutex_lock(&r->lock);
    store_t *s = r->ready;
    r->ready = NULL;
    pthread_mutex_unlock(&r->lock);
    return s;
}

void reloader_stop(reloader_t *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    store_free(r->ready);
    close(r->wake_fd);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r->path);
    free(r);
}
