/* SPDX-License-Identifier: MIT */
/* Unit tests for backend/purger: the purge thread against a fake pdns control socket, a thread
 * that speaks pdns's protocol (one command line per connection, a reply, close) on a unix socket
 * in a temporary directory, records every command it reads and can hold a reply back. Every wait
 * is bounded; the only timing checked is that the repeat does not come early. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "backend/pdnsctl.h"
#include "backend/purger.h"
#include "common/sbuf.h"

/* How long a test waits for something that should happen (generous: valgrind, loaded hosts). */
#define WAIT_MS 5000
/* How long a held reply waits for the test to release it: below the purger's command timeout. */
#define HOLD_MS 1500
/* The fake server gives up on a client after this long, so a broken client cannot hang a test. */
#define FAKE_PATIENCE_S 10

struct fake {
    char dir[64];
    char path[128];
    int lfd;
    pthread_t thread;
    bool running;
    atomic_bool stop;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    /* under lock */
    char **cmds; /* every command read, without its newline */
    int64_t *at_ms;
    size_t n, cap;
    const char *reply;
    bool hold_next; /* hold the reply to the next command until released (or hold_ms) */
    int hold_ms;
    bool released;
    /* the purger under test */
    purger_t *p;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deadline(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    int64_t ns = ts->tv_nsec + ms * 1000000;
    ts->tv_sec += ns / 1000000000;
    ts->tv_nsec = ns % 1000000000;
}

static void set_patience(int fd)
{
    struct timeval tv = {.tv_sec = FAKE_PATIENCE_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void serve_one(struct fake *f, int cfd)
{
    struct sbuf line = SBUF_INIT;
    char buf[4096];
    for (;;) {
        ssize_t n = recv(cfd, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        sbuf_put(&line, buf, (size_t)n);
        if (memchr(buf, '\n', (size_t)n) || line.len > PDNSCTL_COMMAND_MAX + 2)
            break;
    }
    if (line.len && line.p[line.len - 1] == '\n')
        sbuf_truncate(&line, line.len - 1);
    pthread_mutex_lock(&f->lock);
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->cmds = realloc(f->cmds, f->cap * sizeof(*f->cmds));
        f->at_ms = realloc(f->at_ms, f->cap * sizeof(*f->at_ms));
    }
    f->at_ms[f->n] = mono_ms();
    f->cmds[f->n++] = sbuf_take(&line);
    pthread_cond_broadcast(&f->cond);
    if (f->hold_next) {
        f->hold_next = false;
        struct timespec ts;
        deadline(&ts, f->hold_ms);
        while (!f->released && !atomic_load(&f->stop))
            if (pthread_cond_timedwait(&f->cond, &f->lock, &ts) == ETIMEDOUT)
                break;
        f->released = false;
    }
    const char *reply = f->reply;
    pthread_mutex_unlock(&f->lock);
    size_t len = strlen(reply);
    if (send(cfd, reply, len, MSG_NOSIGNAL) != (ssize_t)len)
        print_error("fake: short send\n");
    sbuf_free(&line);
}

static void *serve(void *arg)
{
    struct fake *f = arg;
    while (!atomic_load(&f->stop)) {
        struct pollfd pfd = {.fd = f->lfd, .events = POLLIN};
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        int cfd = accept(f->lfd, NULL, NULL);
        if (cfd < 0)
            continue;
        set_patience(cfd);
        serve_one(f, cfd);
        close(cfd);
    }
    return NULL;
}

static int setup(void **state)
{
    struct fake *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/pf-purger-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, PDNSCTL_SOCKET_NAME);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, f->path);
    f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->lfd, 64), 0);
    pthread_mutex_init(&f->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cond, &ca);
    pthread_condattr_destroy(&ca);
    f->reply = "1"; /* what pdns answers a purge: the number of entries removed */
    f->hold_ms = HOLD_MS;
    assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
    f->running = true;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fake *f = *state;
    char cmd[128];
    purger_stop(f->p); /* first: it may be talking to the fake */
    atomic_store(&f->stop, true);
    pthread_mutex_lock(&f->lock);
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
    if (f->running)
        assert_int_equal(pthread_join(f->thread, NULL), 0);
    close(f->lfd);
    for (size_t i = 0; i < f->n; i++)
        free(f->cmds[i]);
    free(f->cmds);
    free(f->at_ms);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->lock);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void start(struct fake *f)
{
    struct errbuf err;
    assert_int_equal(purger_start(f->path, &f->p, &err), 0);
    assert_non_null(f->p);
    assert_string_equal(purger_socket(f->p), f->path);
}

static size_t count(struct fake *f)
{
    pthread_mutex_lock(&f->lock);
    size_t n = f->n;
    pthread_mutex_unlock(&f->lock);
    return n;
}

/* Waits (at most WAIT_MS) until the fake has read at least n commands. */
static void wait_commands(struct fake *f, size_t n)
{
    struct timespec ts;
    deadline(&ts, WAIT_MS);
    pthread_mutex_lock(&f->lock);
    while (f->n < n)
        if (pthread_cond_timedwait(&f->cond, &f->lock, &ts) == ETIMEDOUT)
            break;
    size_t got = f->n;
    pthread_mutex_unlock(&f->lock);
    if (got < n) {
        for (size_t i = 0; i < got; i++)
            print_error("  command %zu: '%.200s'\n", i, f->cmds[i]);
        fail_msg("%zu commands within %d ms, want %zu", got, WAIT_MS, n);
    }
}

/* Asserts that nothing more than n commands arrives within ms. */
static void expect_no_more(struct fake *f, size_t n, int ms)
{
    usleep((useconds_t)ms * 1000);
    size_t got = count(f);
    if (got != n) {
        for (size_t i = 0; i < got; i++)
            print_error("  command %zu: '%.200s'\n", i, f->cmds[i]);
        fail_msg("%zu commands, want %zu", got, n);
    }
}

static const char *command(struct fake *f, size_t i)
{
    pthread_mutex_lock(&f->lock);
    assert_true(i < f->n);
    const char *c = f->cmds[i];
    pthread_mutex_unlock(&f->lock);
    return c;
}

static int64_t received_at(struct fake *f, size_t i)
{
    pthread_mutex_lock(&f->lock);
    assert_true(i < f->n);
    int64_t t = f->at_ms[i];
    pthread_mutex_unlock(&f->lock);
    return t;
}

/* Whether command c purges pattern (NULL: is the bare "purge", the whole cache). */
static bool purges(const char *c, const char *pattern)
{
    if (!pattern)
        return strcmp(c, "purge") == 0;
    size_t n = strlen(pattern);
    for (const char *p = strstr(c, pattern); p; p = strstr(p + 1, pattern))
        if (p > c && p[-1] == ' ' && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

/* How many of the commands from index `from` on purge pattern (see purges()). */
static size_t count_purging(struct fake *f, size_t from, const char *pattern)
{
    pthread_mutex_lock(&f->lock);
    size_t k = 0;
    for (size_t i = from; i < f->n; i++)
        k += purges(f->cmds[i], pattern);
    pthread_mutex_unlock(&f->lock);
    return k;
}

/* Waits (at most WAIT_MS) until a command from index `from` on purges pattern. */
static void wait_purging(struct fake *f, size_t from, const char *pattern)
{
    int64_t end = mono_ms() + WAIT_MS;
    while (count_purging(f, from, pattern) == 0 && mono_ms() < end)
        usleep(10000);
    if (count_purging(f, from, pattern) == 0) {
        size_t n = count(f);
        for (size_t i = 0; i < n; i++)
            print_error("  command %zu: '%.200s'\n", i, command(f, i));
        fail_msg("no command from %zu on purges '%s' within %d ms", from,
                 pattern ? pattern : "everything", WAIT_MS);
    }
}

static void hold_next(struct fake *f, int ms)
{
    pthread_mutex_lock(&f->lock);
    f->hold_next = true;
    f->hold_ms = ms;
    f->released = false;
    pthread_mutex_unlock(&f->lock);
}

static void release(struct fake *f)
{
    pthread_mutex_lock(&f->lock);
    f->released = true;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

/* Waits (at most WAIT_MS) until pred holds for the purger's stats. */
static struct purger_stats
wait_stats(purger_t *p, bool (*pred)(const struct purger_stats *, uint64_t), uint64_t arg)
{
    struct purger_stats st;
    int64_t end = mono_ms() + WAIT_MS;
    for (;;) {
        purger_get_stats(p, &st);
        if (pred(&st, arg) || mono_ms() > end)
            break;
        usleep(10000);
    }
    if (!pred(&st, arg))
        fail_msg("stats within %d ms: %llu commands, %llu failures, %llu patterns", WAIT_MS,
                 (unsigned long long)st.commands, (unsigned long long)st.failures,
                 (unsigned long long)st.patterns);
    return st;
}

static bool failures_at_least(const struct purger_stats *st, uint64_t n)
{
    return st->failures >= n;
}

static bool patterns_at_least(const struct purger_stats *st, uint64_t n)
{
    return st->patterns >= n;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_purger_sends_one_sorted_deduplicated_command_then_repeats_it(void **state)
{
    struct fake *f = *state;
    start(f);
    static const char *const v[] = {"www.example.com.", "dyn.example.com.$", "alias.example.com.",
                                    "www.example.com."};
    purger_request(f->p, v, N(v));
    wait_commands(f, 2);
    assert_string_equal(command(f, 0),
                        "purge alias.example.com. dyn.example.com.$ www.example.com.");
    assert_string_equal(command(f, 1),
                        "purge alias.example.com. dyn.example.com.$ www.example.com.");
    /* the repeat comes after the first reply plus PURGER_REPEAT_MS, never sooner */
    assert_true(received_at(f, 1) - received_at(f, 0) >= PURGER_REPEAT_MS);
    /* and only once */
    expect_no_more(f, 2, 3 * PURGER_REPEAT_MS);
    struct purger_stats st;
    purger_get_stats(f->p, &st);
    assert_int_equal(st.commands, 2);
    assert_int_equal(st.failures, 0);
    assert_int_equal(st.patterns, 6);
}

static void test_purger_sends_nothing_until_asked(void **state)
{
    struct fake *f = *state;
    start(f);
    purger_request(f->p, NULL, 0);
    expect_no_more(f, 0, PURGER_TICK_MS + 2 * PURGER_REPEAT_MS);
    struct purger_stats st;
    purger_get_stats(f->p, &st);
    assert_int_equal(st.commands + st.failures + st.patterns, 0);
}

static void test_purger_batches_requests_made_while_a_command_is_in_flight(void **state)
{
    struct fake *f = *state;
    start(f);
    hold_next(f, HOLD_MS);
    static const char *const first[] = {"b.example.com.", "a.example.com."};
    purger_request(f->p, first, N(first));
    wait_commands(f, 1); /* pdns has the command and says nothing yet */
    static const char *const d[] = {"d.example.com."}, *const c[] = {"c.example.com."};
    int64_t t0 = mono_ms();
    purger_request(f->p, d, 1);
    purger_request(f->p, c, 1);
    purger_request(f->p, d, 1);
    /* requests never wait for pdns (the held reply would take HOLD_MS) */
    assert_true(mono_ms() - t0 < HOLD_MS / 2);
    release(f);
    wait_commands(f, 3);
    assert_string_equal(command(f, 0), "purge a.example.com. b.example.com.");
    assert_string_equal(command(f, 1), "purge c.example.com. d.example.com.");
    /* then each once more (in one command or two), and that is all */
    static const char *const all[] = {"a.example.com.", "b.example.com.", "c.example.com.",
                                      "d.example.com."};
    for (size_t i = 0; i < N(all); i++)
        wait_purging(f, 2, all[i]);
    usleep(3 * PURGER_REPEAT_MS * 1000);
    for (size_t i = 0; i < N(all); i++)
        assert_int_equal(count_purging(f, 2, all[i]), 1);
    assert_true(count(f) <= 4);
}

static char **numbered(size_t n, const char *prefix, int width)
{
    char **v = malloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%s%0*zu.example.com.", prefix, width, i);
        v[i] = strdup(buf);
    }
    return v;
}

static void free_numbered(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void test_purger_purges_everything_past_the_queue_limit(void **state)
{
    struct fake *f = *state;
    start(f);
    size_t n = PURGER_QUEUE_MAX + 1;
    char **v = numbered(n, "h", 0);
    purger_request(f->p, (const char *const *)v, n);
    free_numbered(v, n);
    wait_commands(f, 2);
    assert_string_equal(command(f, 0), "purge");
    assert_string_equal(command(f, 1), "purge");
    expect_no_more(f, 2, 3 * PURGER_REPEAT_MS);
    struct purger_stats st;
    purger_get_stats(f->p, &st);
    assert_int_equal(st.commands, 2);
    assert_int_equal(st.patterns, 0);
}

static void test_purger_purges_everything_when_requests_pile_up_past_the_limit(void **state)
{
    struct fake *f = *state;
    start(f);
    hold_next(f, HOLD_MS);
    static const char *const first[] = {"first.example.com."};
    purger_request(f->p, first, 1);
    wait_commands(f, 1);
    size_t half = PURGER_QUEUE_MAX / 2 + 1;
    char **a = numbered(half, "a", 0);
    char **b = numbered(half, "b", 0);
    purger_request(f->p, (const char *const *)a, half);
    purger_request(f->p, (const char *const *)b, half);
    free_numbered(a, half);
    free_numbered(b, half);
    release(f);
    wait_commands(f, 2);
    assert_string_equal(command(f, 0), "purge first.example.com.");
    assert_string_equal(command(f, 1), "purge");
    wait_purging(f, 2, NULL); /* the repeat covers everything too */
    usleep(3 * PURGER_REPEAT_MS * 1000);
    assert_int_equal(count_purging(f, 2, NULL), 1);
    assert_int_equal(count(f) - 2 - count_purging(f, 2, "first.example.com."), 1);
    assert_true(count_purging(f, 2, "first.example.com.") <= 1);
}

/* Checks that commands [from, from + k) carry every pattern of want[n] once, in order, each
 * command at most 8000 bytes; returns k. */
static size_t expect_split(struct fake *f, size_t from, char *const *want, size_t n)
{
    size_t k = 0, seen = 0;
    while (seen < n) {
        const char *c = command(f, from + k);
        size_t len = strlen(c);
        if (len > 8000)
            fail_msg("command %zu has %zu bytes", from + k, len);
        if (strncmp(c, "purge ", 6) != 0)
            fail_msg("command %zu: '%.100s'", from + k, c);
        char *copy = strdup(c + 6), *save = NULL;
        for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
            if (seen >= n || strcmp(t, want[seen]) != 0)
                fail_msg("command %zu: pattern %zu is '%s', want '%s'", from + k, seen, t,
                         seen < n ? want[seen] : "(none)");
            seen++;
        }
        free(copy);
        k++;
    }
    return k;
}

static void test_purger_splits_long_commands(void **state)
{
    struct fake *f = *state;
    start(f);
    size_t n = 1000;
    /* 23 bytes a pattern with its space: 23000 bytes, three commands at least */
    char **sorted = numbered(n, "host-", 4);
    char **req = malloc(2 * n * sizeof(*req));
    for (size_t i = 0; i < n; i++) { /* reversed, and every pattern twice */
        req[i] = sorted[n - 1 - i];
        req[n + i] = sorted[(i * 7) % n];
    }
    purger_request(f->p, (const char *const *)req, 2 * n);
    free(req);
    struct purger_stats st = wait_stats(f->p, patterns_at_least, 2 * n);
    assert_int_equal(st.patterns, 2 * n);
    size_t k = expect_split(f, 0, sorted, n);
    assert_true(k >= 3);
    /* the repeat: the same commands again */
    wait_commands(f, 2 * k);
    for (size_t i = 0; i < k; i++)
        assert_string_equal(command(f, k + i), command(f, i));
    assert_int_equal(st.commands, 2 * k);
    free_numbered(sorted, n);
}

static void test_purger_sends_the_queue_limit_as_patterns(void **state)
{
    struct fake *f = *state;
    start(f);
    size_t n = PURGER_QUEUE_MAX;
    char **v = numbered(n, "n", 5);
    purger_request(f->p, (const char *const *)v, n);
    struct purger_stats st = wait_stats(f->p, patterns_at_least, 2 * n);
    assert_int_equal(st.patterns, 2 * n);
    size_t k = expect_split(f, 0, v, n);
    wait_commands(f, 2 * k);
    expect_split(f, k, v, n);
    free_numbered(v, n);
}

struct tick_state {
    atomic_int calls;
    purger_t *p;
    atomic_bool on_other_thread;
    pthread_t test_thread;
};

static void on_tick(void *opaque)
{
    struct tick_state *t = opaque;
    if (!pthread_equal(pthread_self(), t->test_thread))
        atomic_store(&t->on_other_thread, true);
    if (atomic_fetch_add(&t->calls, 1) == 1) {
        static const char *const v[] = {"tick.example.com."};
        purger_request(t->p, v, 1);
    }
}

static void test_purger_calls_the_tick_repeatedly_and_the_tick_may_request(void **state)
{
    struct fake *f = *state;
    start(f);
    struct tick_state t = {.p = f->p, .test_thread = pthread_self()};
    purger_set_tick(f->p, on_tick, &t);
    int64_t end = mono_ms() + WAIT_MS;
    while (atomic_load(&t.calls) < 4 && mono_ms() < end)
        usleep(10000);
    assert_true(atomic_load(&t.calls) >= 4);
    assert_true(atomic_load(&t.on_other_thread));
    wait_commands(f, 2);
    assert_string_equal(command(f, 0), "purge tick.example.com.");
    assert_string_equal(command(f, 1), "purge tick.example.com.");
    purger_stop(f->p); /* before t goes out of scope */
    f->p = NULL;
}

static void test_purger_counts_failures_when_pdns_is_missing(void **state)
{
    struct fake *f = *state;
    char path[160];
    snprintf(path, sizeof(path), "%s/nothing/%s", f->dir, PDNSCTL_SOCKET_NAME);
    struct errbuf err;
    assert_int_equal(purger_start(path, &f->p, &err), 0);
    static const char *const v[] = {"www.example.com."};
    int64_t t0 = mono_ms();
    for (int i = 0; i < 100; i++)
        purger_request(f->p, v, 1);
    assert_true(mono_ms() - t0 < 1000);
    /* the command and its repeat */
    struct purger_stats st = wait_stats(f->p, failures_at_least, 2);
    assert_int_equal(st.commands, 0);
    assert_int_equal(st.patterns, 0);
    assert_int_equal(count(f), 0);
}

static void test_purger_counts_a_command_pdns_rejects_as_a_failure(void **state)
{
    struct fake *f = *state;
    f->reply = "Unknown command: 'PURGE'";
    start(f);
    static const char *const v[] = {"www.example.com."};
    purger_request(f->p, v, 1);
    struct purger_stats st = wait_stats(f->p, failures_at_least, 2);
    assert_int_equal(st.commands, 0);
    assert_int_equal(st.patterns, 0);
    assert_string_equal(command(f, 0), "purge www.example.com.");
}

static void test_purger_repeats_a_batch_while_other_requests_keep_coming(void **state)
{
    struct fake *f = *state;
    start(f);
    static const char *const a[] = {"a.example.com."};
    purger_request(f->p, a, 1);
    wait_commands(f, 1);
    /* a steady stream of other transitions, one every 50 ms: a's repeat (due PURGER_REPEAT_MS
     * after its first command) must not wait for the stream to end */
    bool repeated = false;
    int64_t end = mono_ms() + 3000;
    for (int i = 0; !repeated && mono_ms() < end; i++) {
        char name[32];
        snprintf(name, sizeof(name), "b%d.example.com.", i);
        const char *v[] = {name};
        purger_request(f->p, v, 1);
        usleep(50000);
        size_t n = count(f);
        for (size_t k = 1; k < n && !repeated; k++)
            repeated = strstr(command(f, k), " a.example.com.") != NULL;
    }
    if (!repeated)
        fail_msg("a.example.com. was not purged again within 3 s (%zu commands)", count(f));
}

static void test_purger_stop_sends_what_is_queued_and_joins(void **state)
{
    struct fake *f = *state;
    start(f);
    hold_next(f, 300); /* released by the fake itself: the test is inside purger_stop() */
    static const char *const a[] = {"a.example.com."}, *const b[] = {"b.example.com."};
    purger_request(f->p, a, 1);
    wait_commands(f, 1);
    purger_request(f->p, b, 1);
    purger_stop(f->p);
    f->p = NULL;
    /* b was sent before the thread ended; the repeat was not */
    assert_int_equal(count(f), 2);
    assert_string_equal(command(f, 0), "purge a.example.com.");
    assert_string_equal(command(f, 1), "purge b.example.com.");
    expect_no_more(f, 2, 2 * PURGER_REPEAT_MS);
}

static void test_purger_stop_right_after_a_request_sends_it_once(void **state)
{
    struct fake *f = *state;
    start(f);
    static const char *const a[] = {"a.example.com."};
    purger_request(f->p, a, 1);
    purger_stop(f->p);
    f->p = NULL;
    assert_int_equal(count(f), 1);
    assert_string_equal(command(f, 0), "purge a.example.com.");
}

static void test_purger_stop_with_nothing_queued_sends_nothing(void **state)
{
    struct fake *f = *state;
    start(f);
    purger_stop(f->p);
    f->p = NULL;
    assert_int_equal(count(f), 0);
}

static void test_purger_null_is_fine(void **state)
{
    (void)state;
    static const char *const v[] = {"www.example.com."};
    purger_stop(NULL);
    purger_request(NULL, v, 1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_purger_sends_one_sorted_deduplicated_command_then_repeats_it),
        T(test_purger_sends_nothing_until_asked),
        T(test_purger_batches_requests_made_while_a_command_is_in_flight),
        T(test_purger_purges_everything_past_the_queue_limit),
        T(test_purger_purges_everything_when_requests_pile_up_past_the_limit),
        T(test_purger_splits_long_commands),
        T(test_purger_sends_the_queue_limit_as_patterns),
        T(test_purger_calls_the_tick_repeatedly_and_the_tick_may_request),
        T(test_purger_counts_failures_when_pdns_is_missing),
        T(test_purger_counts_a_command_pdns_rejects_as_a_failure),
        T(test_purger_repeats_a_batch_while_other_requests_keep_coming),
        T(test_purger_stop_sends_what_is_queued_and_joins),
        T(test_purger_stop_right_after_a_request_sends_it_once),
        T(test_purger_stop_with_nothing_queued_sends_nothing),
        T(test_purger_null_is_fine),
    };
    return cmocka_run_group_tests_name("purger", tests, NULL, NULL);
}
