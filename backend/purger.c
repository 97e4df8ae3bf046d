/* SPDX-License-Identifier: MIT */
/* The purger thread (see purger.h). */
#include "backend/purger.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/pdnsctl.h"
#include "common/log.h"
#include "common/sbuf.h"
#include "common/xalloc.h"

#define COMMAND_TIMEOUT_MS 2000
/* One command stays well below pdns's line limit and is quick for pdns to parse. */
#define COMMAND_BYTES 8000

struct batch {
    char **v;
    size_t n, cap;
    bool everything; /* too many: purge the whole cache */
};

struct purger {
    char *socket;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    struct batch queued; /* under lock */
    /* The purger thread's own: batches sent once, to send again at repeat_due_ms; what was
     * sent after that was set waits in repeat_next, so that a stream of requests neither delays
     * the repeat nor has it come less than PURGER_REPEAT_MS after a pattern's first command. */
    struct batch repeat, repeat_next;
    int64_t repeat_due_ms;      /* 0: nothing to repeat */
    int64_t repeat_next_due_ms; /* when repeat_next is due, once it becomes repeat */
    void (*tick)(void *opaque);
    void *tick_opaque;
    struct purger_stats stats; /* under lock */
    int64_t last_error_log_ms;
    uint64_t errors_unlogged;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->v[i]);
    free(b->v);
    memset(b, 0, sizeof(*b));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void batch_unique(struct batch *b)
{
    if (b->n < 2)
        return;
    qsort(b->v, b->n, sizeof(*b->v), cmp_str);
    size_t o = 1;
    for (size_t i = 1; i < b->n; i++) {
        if (strcmp(b->v[i], b->v[o - 1]) == 0)
            free(b->v[i]);
        else
            b->v[o++] = b->v[i];
    }
    b->n = o;
}

/* Moves everything of src into dst. */
static void batch_merge(struct batch *dst, struct batch *src)
{
    dst->everything = dst->everything || src->everything;
    for (size_t i = 0; i < src->n; i++) {
        if (dst->n == dst->cap) {
            dst->cap = dst->cap ? dst->cap * 2 : 16;
            dst->v = xrealloc(dst->v, dst->cap * sizeof(*dst->v));
        }
        dst->v[dst->n++] = src->v[i];
    }
    free(src->v);
    memset(src, 0, sizeof(*src));
    if (dst->n > PURGER_QUEUE_MAX) {
        for (size_t i = 0; i < dst->n; i++)
            free(dst->v[i]);
        dst->n = 0;
        dst->everything = true;
    }
}

static void send_one(purger_t *p, const char *cmd, size_t npatterns)
{
    struct sbuf reply = SBUF_INIT;
    struct errbuf err;
    int r = pdnsctl_command(p->socket, cmd, COMMAND_TIMEOUT_MS, &reply, &err);
    pthread_mutex_lock(&p->lock);
    if (r == 0) {
        p->stats.commands++;
        p->stats.patterns += npatterns;
    } else {
        p->stats.failures++;
    }
    pthread_mutex_unlock(&p->lock);
    if (r < 0) {
        /* pdns being down or restarting is normal for a while: one line per minute */
        int64_t now = mono_ms();
        if (now - p->last_error_log_ms >= 60000) {
            log_warn("purge",
                     "%s; cached answers expire by their TTL instead (%llu more "
                     "failures since the last report)",
                     err.msg, (unsigned long long)p->errors_unlogged);
            p->last_error_log_ms = now;
            p->errors_unlogged = 0;
        } else {
            p->errors_unlogged++;
        }
    } else {
        log_debug("purge", "%s: %s", cmd, sbuf_str(&reply));
    }
    sbuf_free(&reply);
}

static void send_batch(purger_t *p, struct batch *b)
{
    if (b->everything) {
        send_one(p, "purge", 0);
        return;
    }
    batch_unique(b);
    struct sbuf cmd = SBUF_INIT;
    size_t in_cmd = 0;
    for (size_t i = 0; i <= b->n; i++) {
        bool flush = i == b->n || (in_cmd && cmd.len + 1 + strlen(b->v[i]) > COMMAND_BYTES);
        if (flush && in_cmd) {
            send_one(p, sbuf_str(&cmd), in_cmd);
            in_cmd = 0;
        }
        if (i == b->n)
            break;
        if (in_cmd == 0) {
            sbuf_reset(&cmd);
            sbuf_puts(&cmd, "purge");
        }
        sbuf_putc(&cmd, ' ');
        sbuf_puts(&cmd, b->v[i]);
        in_cmd++;
    }
    sbuf_free(&cmd);
}

static void *run(void *arg)
{
    purger_t *p = arg;
    int64_t next_tick = mono_ms() + PURGER_TICK_MS;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        int64_t now = mono_ms();
        int64_t until = next_tick;
        if (p->repeat_due_ms && p->repeat_due_ms < until)
            until = p->repeat_due_ms;
        if (!p->stop && !p->queued.n && !p->queued.everything && now < until) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t ns = ts.tv_nsec + (until - now) * 1000000;
            ts.tv_sec += ns / 1000000000;
            ts.tv_nsec = ns % 1000000000;
            pthread_cond_timedwait(&p->cond, &p->lock, &ts);
            continue;
        }
        struct batch b = p->queued;
        memset(&p->queued, 0, sizeof(p->queued));
        bool stopping = p->stop;
        void (*tick)(void *) = p->tick;
        void *tick_opaque = p->tick_opaque;
        pthread_mutex_unlock(&p->lock);

        if (b.n || b.everything) {
            send_batch(p, &b);
            /* once more shortly: catches answers pdns was computing during the change */
            int64_t due = mono_ms() + PURGER_REPEAT_MS;
            if (!p->repeat_due_ms) {
                batch_merge(&p->repeat, &b);
                p->repeat_due_ms = due;
            } else {
                batch_merge(&p->repeat_next, &b);
                p->repeat_next_due_ms = due;
            }
        }
        if (p->repeat_due_ms && mono_ms() >= p->repeat_due_ms) {
            send_batch(p, &p->repeat);
            batch_free(&p->repeat);
            p->repeat = p->repeat_next;
            p->repeat_due_ms = p->repeat_next_due_ms; /* 0 when repeat_next was empty */
            memset(&p->repeat_next, 0, sizeof(p->repeat_next));
            p->repeat_next_due_ms = 0;
        }
        if (!stopping && now >= next_tick) {
            next_tick = now + PURGER_TICK_MS;
            if (tick)
                tick(tick_opaque);
        }
        pthread_mutex_lock(&p->lock);
        if (stopping && !p->queued.n && !p->queued.everything)
            break;
    }
    pthread_mutex_unlock(&p->lock);
    batch_free(&p->repeat);
    batch_free(&p->repeat_next);
    return NULL;
}

int purger_start(const char *socket, purger_t **ret, struct errbuf *err)
{
    purger_t *p = xcalloc(1, sizeof(*p));
    p->socket = xstrdup(socket);
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int r = pthread_create(&p->thread, NULL, run, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        free(p->socket);
        free(p);
        return errbuf_set(err, -r, "cannot start the purge thread: %s", strerror(r));
    }
    *ret = p;
    return 0;
}

void purger_request(purger_t *p, const char *const *patterns, size_t n)
{
    if (!p || n == 0)
        return;
    struct batch b = {.v = xcalloc(n, sizeof(char *)), .cap = n};
    for (size_t i = 0; i < n; i++)
        b.v[b.n++] = xstrdup(patterns[i]);
    pthread_mutex_lock(&p->lock);
    batch_merge(&p->queued, &b);
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void purger_set_tick(purger_t *p, void (*fn)(void *opaque), void *opaque)
{
    pthread_mutex_lock(&p->lock);
    p->tick = fn;
    p->tick_opaque = opaque;
    pthread_mutex_unlock(&p->lock);
}

void purger_get_stats(purger_t *p, struct purger_stats *ret)
{
    pthread_mutex_lock(&p->lock);
    *ret = p->stats;
    pthread_mutex_unlock(&p->lock);
}

const char *purger_socket(const purger_t *p)
{
    return p->socket;
}

void purger_stop(purger_t *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    batch_free(&p->queued);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->socket);
    free(p);
}
