/* SPDX-License-Identifier: MIT */
/* Transition notifications (see notify.h): a bounded queue filled by the probe thread and a
 * notifier thread that POSTs each event as JSON to a webhook, retrying with backoff.
 *
 * DESIGN: notify_event() copies the event into the ring under `lock` and signals `cond`; it holds
 * the lock only for that copy, and the notifier thread never holds it across I/O, so the caller
 * (the probe thread) cannot be held up by a slow webhook. The notifier thread owns the multi
 * handle, the one easy handle (reused, so the connection can be kept) and the body buffer. It
 * delivers one event at a time, in queue order: an event being retried holds back the later
 * ones, which wait in the ring (dropping the oldest when it overflows). It blocks only in
 * pthread_cond_timedwait() (waiting for events or the next retry, at most a second at a time)
 * and in curl_multi_poll() (at most POLL_MS at a time), so it sees a stop request promptly;
 * notify_stop() also wakes it with the condition variable and curl_multi_wakeup(). After a stop
 * request the thread keeps delivering until the stop deadline, then cuts off the transfer in
 * progress and counts what is left as failed. Counters are atomics, readable from any thread. */
#include "health/notify.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/log.h"
#include "common/xalloc.h"

#define NOTIFY_USER_AGENT "pdns-failover/" PF_VERSION " notify"
#define POLL_MS           100  /* longest curl_multi_poll(): how often a stop deadline is seen */
#define WAIT_SLICE_MS     1000 /* longest single condition wait */
#define DROP_LOG_EVERY_MS 1000 /* at most one "queue full" line a second */

struct notify {
    /* Set by notify_start(), read-only afterwards. */
    char *url;
    char host[72];
    unsigned timeout_ms, max_attempts, stop_ms;
    pthread_t thread;

    pthread_mutex_t lock; /* guards q and the waits on cond */
    pthread_cond_t cond;  /* signalled on a new event and on a stop request */
    struct notify_queue q;
    atomic_bool stopping;
    _Atomic int64_t deadline; /* monotonic ms; valid once stopping is set */

    _Atomic uint64_t sent, failed, dropped;

    /* Notifier thread only (created by notify_start() before the thread starts). */
    CURLM *multi;
    CURL *easy;
    struct curl_slist *headers;
    char curl_err[CURL_ERROR_SIZE];
    struct sbuf body;
    uint32_t rng;
    uint64_t drops_logged;
    int64_t drop_log_ms;
};

/* ---- pure parts ------------------------------------------------------------------------------ */

static const char *verdict_name(enum health_verdict v)
{
    switch (v) {
    case HEALTH_UP:
        return "up";
    case HEALTH_DOWN:
        return "down";
    default:
        return "unknown";
    }
}

static const char *check_name(enum check_type t)
{
    switch (t) {
    case CHECK_HTTP:
        return "http";
    case CHECK_HTTPS:
        return "https";
    case CHECK_TCP:
        return "tcp";
    }
    return "unknown";
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* Copies src into dst[cap] whole characters at a time while they fit, so a cut never splits a
 * character; a byte that is not valid UTF-8 becomes '?' (the receiver must get valid JSON). */
static void copy_text(char *dst, size_t cap, const char *src)
{
    const unsigned char *s = (const unsigned char *)(src ? src : "");
    size_t n = strlen((const char *)s), o = 0;

    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(s + i, n - i);
        if (o + (k ? k : 1) >= cap)
            break;
        if (k) {
            memcpy(dst + o, s + i, k);
            o += k;
            i += k;
        } else {
            dst[o++] = '?';
            i++;
        }
    }
    dst[o] = '\0';
}

void notify_event_from_health(struct notify_event *out,
                              const struct health_event *ev,
                              const char *pools,
                              const char *members)
{
    const struct target *t = ev->target;

    memset(out, 0, sizeof(*out));
    copy_text(out->pools, sizeof(out->pools), pools);
    copy_text(out->target, sizeof(out->target), t->label);
    copy_text(out->members, sizeof(out->members), members && members[0] ? members : t->label);
    copy_text(out->address, sizeof(out->address), t->address);
    out->port = t->port;
    out->check = t->check->type;
    out->from = ev->from;
    out->to = ev->to;
    copy_text(out->reason, sizeof(out->reason), ev->reason);
    out->count = ev->count;
    out->when_ms = ev->when_ms;
}

/* Appends ,"key":"val" (val is len bytes). */
static void put_str(struct sbuf *b, const char *key, const char *val, size_t len)
{
    sbuf_printf(b, ",\"%s\":", key);
    sbuf_json_str(b, val, len);
}

/* A char array field of the event: up to its NUL, or all of it if it has none. */
#define PUT_FIELD(b, key, ev, field) \
    put_str(b, key, (ev)->field, strnlen((ev)->field, sizeof((ev)->field)))
#define PUT_TEXT(b, key, s) put_str(b, key, s, strlen(s))

/* "2026-11-30T08:00:00.123Z" */
static void format_time(int64_t ms, char *buf, size_t cap)
{
    int64_t sec = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, cap, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
}

void notify_format(const struct notify_event *ev, struct sbuf *out)
{
    char when[64];

    format_time(ev->when_ms, when, sizeof(when));
    sbuf_puts(out, "{\"event\":\"transition\"");
    PUT_FIELD(out, "member", ev, members);
    PUT_FIELD(out, "pool", ev, pools);
    PUT_FIELD(out, "target", ev, target);
    PUT_FIELD(out, "address", ev, address);
    sbuf_printf(out, ",\"port\":%u", (unsigned)ev->port);
    PUT_TEXT(out, "check", check_name(ev->check));
    PUT_TEXT(out, "from", verdict_name(ev->from));
    PUT_TEXT(out, "to", verdict_name(ev->to));
    PUT_FIELD(out, "reason", ev, reason);
    sbuf_printf(out, ",\"count\":%u", ev->count);
    PUT_TEXT(out, "time", when);
    if (ev->host[0])
        PUT_FIELD(out, "host", ev, host);
    PUT_TEXT(out, "version", PF_VERSION);
    sbuf_putc(out, '}');
}

uint32_t notify_backoff_ms(unsigned attempt, uint32_t random)
{
    uint32_t d = NOTIFY_BACKOFF_MAX_MS;
    if (attempt == 0)
        attempt = 1;
    /* Shift only while it cannot overflow; past the cap every wait is the cap. */
    if (attempt <= 16) {
        uint32_t x = (uint32_t)NOTIFY_BACKOFF_BASE_MS << (attempt - 1);
        if (x < d)
            d = x;
    }
    return d + random % (d / 4 + 1);
}

void notify_queue_init(struct notify_queue *q, size_t cap)
{
    memset(q, 0, sizeof(*q));
    q->cap = cap ? cap : 1;
    q->ring = xcalloc(q->cap, sizeof(*q->ring));
}

void notify_queue_deinit(struct notify_queue *q)
{
    if (!q)
        return;
    free(q->ring);
    memset(q, 0, sizeof(*q));
}

bool notify_queue_push(struct notify_queue *q, const struct notify_event *ev)
{
    bool dropped = false;
    if (q->len == q->cap) {
        q->head = (q->head + 1) % q->cap;
        q->len--;
        q->dropped++;
        dropped = true;
    }
    q->ring[(q->head + q->len) % q->cap] = *ev;
    q->len++;
    return dropped;
}

bool notify_queue_pop(struct notify_queue *q, struct notify_event *out)
{
    if (!q->len)
        return false;
    *out = q->ring[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return true;
}

/* ---- the notifier thread --------------------------------------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t rng_next(notify_t *n)
{
    uint32_t x = n->rng; /* xorshift32: jitter needs no quality */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    n->rng = x;
    return x;
}

/* True once a stop was requested and its deadline has passed. */
static bool past_deadline(notify_t *n, int64_t now)
{
    return atomic_load(&n->stopping) && now >= atomic_load(&n->deadline);
}

/* Waits on cond until `until` (monotonic ms), at most WAIT_SLICE_MS. Called with lock held. */
static void cond_wait_until(notify_t *n, int64_t until)
{
    int64_t now = mono_ms();
    if (until > now + WAIT_SLICE_MS)
        until = now + WAIT_SLICE_MS;
    struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (long)(until % 1000) * 1000000};
    pthread_cond_timedwait(&n->cond, &n->lock, &ts);
}

/* Body handler: the answer is not needed (and must never reach stdout, libcurl's default). */
static size_t discard_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    (void)data;
    (void)userdata;
    return size * nmemb;
}

/* One POST of the body. Returns true on a 2xx answer; otherwise why says what went wrong. */
static bool post_once(notify_t *n, char *why, size_t whylen)
{
    long timeout = (long)n->timeout_ms;
    bool cut = false;
    CURLcode res = CURLE_OK;

    if (atomic_load(&n->stopping)) {
        int64_t left = atomic_load(&n->deadline) - mono_ms();
        if (left <= 0) {
            snprintf(why, whylen, "cut off by shutdown");
            return false;
        }
        if (left < timeout)
            timeout = (long)left;
    }
    n->curl_err[0] = '\0';
    curl_easy_setopt(n->easy, CURLOPT_POSTFIELDS, n->body.p);
    curl_easy_setopt(n->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n->body.len);
    curl_easy_setopt(n->easy, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(n->easy, CURLOPT_CONNECTTIMEOUT_MS, timeout);

    CURLMcode mc = curl_multi_add_handle(n->multi, n->easy);
    if (mc != CURLM_OK) {
        snprintf(why, whylen, "possible local problem: %s", curl_multi_strerror(mc));
        return false;
    }
    for (;;) {
        int running = 0;
        mc = curl_multi_perform(n->multi, &running);
        if (mc != CURLM_OK) {
            snprintf(why, whylen, "possible local problem: %s", curl_multi_strerror(mc));
            curl_multi_remove_handle(n->multi, n->easy);
            return false;
        }
        if (!running)
            break;
        if (past_deadline(n, mono_ms())) {
            cut = true;
            break;
        }
        curl_multi_poll(n->multi, NULL, 0, POLL_MS, NULL);
    }
    if (!cut) {
        int left;
        CURLMsg *m;
        res = CURLE_RECV_ERROR; /* in case no message comes, which libcurl does not do */
        while ((m = curl_multi_info_read(n->multi, &left)))
            if (m->msg == CURLMSG_DONE && m->easy_handle == n->easy)
                res = m->data.result;
    }
    curl_multi_remove_handle(n->multi, n->easy);

    if (cut) {
        snprintf(why, whylen, "cut off by shutdown");
        return false;
    }
    if (res != CURLE_OK) {
        snprintf(why, whylen, "%s", n->curl_err[0] ? n->curl_err : curl_easy_strerror(res));
        return false;
    }
    long status = 0;
    curl_easy_getinfo(n->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status <= 299)
        return true;
    snprintf(why, whylen, "http status %ld", status);
    return false;
}

/* Waits until `due` (monotonic ms) before a retry. A stop request that arrives during the wait
 * ends it at once (the event gets one more attempt straight away); waits that start after the
 * stop request still back off, but never past the stop deadline. Returns false when the stop
 * deadline has passed. */
static bool wait_retry(notify_t *n, int64_t due)
{
    bool ok = true;

    pthread_mutex_lock(&n->lock);
    bool was_stopping = atomic_load(&n->stopping);
    for (;;) {
        int64_t now = mono_ms();
        if (atomic_load(&n->stopping)) {
            if (!was_stopping)
                break;
            int64_t deadline = atomic_load(&n->deadline);
            if (now >= deadline) {
                ok = false;
                break;
            }
            if (due > deadline)
                due = deadline;
        }
        if (now >= due)
            break;
        cond_wait_until(n, due);
    }
    pthread_mutex_unlock(&n->lock);
    return ok;
}

/* Delivers one event with retries; counts and logs the outcome. */
static void deliver(notify_t *n, struct notify_event *ev)
{
    char why[CURL_ERROR_SIZE + 64] = "not attempted";
    unsigned attempt;

    memcpy(ev->host, n->host, sizeof(ev->host));
    sbuf_reset(&n->body);
    notify_format(ev, &n->body);

    for (attempt = 1;; attempt++) {
        if (post_once(n, why, sizeof(why))) {
            atomic_fetch_add(&n->sent, 1);
            log_debug("notify", "delivered %s %s -> %s (attempt %u)", ev->target,
                      verdict_name(ev->from), verdict_name(ev->to), attempt);
            return;
        }
        if (attempt >= n->max_attempts || past_deadline(n, mono_ms()))
            break;
        uint32_t wait = notify_backoff_ms(attempt, rng_next(n));
        log_debug("notify", "attempt %u for %s %s -> %s failed (%s), retrying in %u ms", attempt,
                  ev->target, verdict_name(ev->from), verdict_name(ev->to), why, (unsigned)wait);
        if (!wait_retry(n, mono_ms() + wait))
            break;
    }
    atomic_fetch_add(&n->failed, 1);
    log_err("notify", "lost the notification of %s %s -> %s after %u attempt%s (%s)", ev->target,
            verdict_name(ev->from), verdict_name(ev->to), attempt, attempt == 1 ? "" : "s", why);
}

static void log_drops(notify_t *n)
{
    uint64_t d = atomic_load(&n->dropped);
    int64_t now = mono_ms();
    if (d == n->drops_logged || now - n->drop_log_ms < DROP_LOG_EVERY_MS)
        return;
    log_warn("notify",
             "queue full: dropped the %" PRIu64 " oldest notifications (%" PRIu64 " in all)",
             d - n->drops_logged, d);
    n->drops_logged = d;
    n->drop_log_ms = now;
}

static void *notify_main(void *arg)
{
    notify_t *n = arg;
    struct notify_event ev;
    uint64_t leftover = 0;

    for (;;) {
        pthread_mutex_lock(&n->lock);
        while (!n->q.len && !atomic_load(&n->stopping))
            cond_wait_until(n, mono_ms() + WAIT_SLICE_MS);
        bool have = notify_queue_pop(&n->q, &ev);
        pthread_mutex_unlock(&n->lock);
        if (!have)
            break; /* stopping and nothing left */
        log_drops(n);
        if (past_deadline(n, mono_ms())) {
            leftover++;
            atomic_fetch_add(&n->failed, 1);
            continue;
        }
        deliver(n, &ev);
    }
    if (leftover)
        log_err("notify", "%" PRIu64 " queued notification%s not delivered at shutdown", leftover,
                leftover == 1 ? "" : "s");
    n->drop_log_ms = mono_ms() - DROP_LOG_EVERY_MS; /* the last count is worth a line anyway */
    log_drops(n);
    return NULL;
}

/* ---- start, stop, counters ------------------------------------------------------------------ */

static int check_url(const char *url, struct errbuf *err)
{
    CURLU *u = NULL;
    char *scheme = NULL, *host = NULL;
    int r = 0;

    if (!url || !url[0])
        return errbuf_set(err, -EINVAL, "notify url is empty");
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return errbuf_set(err, -EINVAL, "notify url '%s' contains a space or control character",
                              url);
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
        return errbuf_set(err, -EINVAL, "notify url '%s' must start with http:// or https://", url);

    u = curl_url();
    if (!u)
        xalloc_die("curl_url");
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
        r = errbuf_set(err, -EINVAL, "notify url '%s' is not a valid URL (%s)", url,
                       curl_url_strerror(uc));
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0))
    {
        r = errbuf_set(err, -EINVAL, "notify url '%s' must start with http:// or https://", url);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
        r = errbuf_set(err, -EINVAL, "notify url '%s' has no host", url);
        goto out;
    }
out:
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(u);
    return r;
}

#define SETOPT(opt, val)                                                             \
    do {                                                                             \
        if (curl_easy_setopt(n->easy, opt, val) != CURLE_OK) {                       \
            r = errbuf_set(err, -EINVAL, "notify: cannot set " #opt " (libcurl %s)", \
                           curl_version_info(CURLVERSION_NOW)->version);             \
            goto fail;                                                               \
        }                                                                            \
    } while (0)

static int setup_curl(notify_t *n, const struct notify_opts *o, struct errbuf *err)
{
    int r = 0;

    n->multi = curl_multi_init();
    n->easy = curl_easy_init();
    if (!n->multi || !n->easy)
        xalloc_die("curl handles for notifications");
    n->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (!n->headers)
        xalloc_die("curl header list");
    /* No "Expect: 100-continue" round trip for larger bodies. */
    struct curl_slist *h = curl_slist_append(n->headers, "Expect:");
    if (!h)
        xalloc_die("curl header list");
    n->headers = h;

    SETOPT(CURLOPT_URL, n->url);
    SETOPT(CURLOPT_ERRORBUFFER, n->curl_err);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_POST, 1L);
    SETOPT(CURLOPT_HTTPHEADER, n->headers);
    SETOPT(CURLOPT_USERAGENT, NOTIFY_USER_AGENT);
    SETOPT(CURLOPT_WRITEFUNCTION, discard_body);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    /* A proxy only when configured: one from the environment could swallow the notifications. */
    if (o && o->proxy && o->proxy[0]) {
        SETOPT(CURLOPT_PROXY, o->proxy);
    } else {
        SETOPT(CURLOPT_PROXY, "");
        SETOPT(CURLOPT_NOPROXY, "*");
    }
    if (o && o->ca_file && o->ca_file[0])
        SETOPT(CURLOPT_CAINFO, o->ca_file);
    return 0;

fail:
    return r;
}

int notify_start(const char *url, const struct notify_opts *o, notify_t **ret, struct errbuf *err)
{
    notify_t *n = NULL;
    pthread_condattr_t ca;
    sigset_t all, old;
    bool sync_made = false;
    int r, e;

    r = check_url(url, err);
    if (r < 0)
        return r;

    n = xcalloc(1, sizeof(*n));
    n->url = xstrdup(url);
    n->timeout_ms = o && o->timeout_ms ? o->timeout_ms : NOTIFY_TIMEOUT_DEFAULT;
    n->max_attempts = o && o->max_attempts ? o->max_attempts : NOTIFY_ATTEMPTS_DEFAULT;
    n->stop_ms = o && o->stop_ms ? o->stop_ms : NOTIFY_STOP_DEFAULT;
    if (o && o->host) {
        copy_text(n->host, sizeof(n->host), o->host);
    } else {
        char h[256];
        if (gethostname(h, sizeof(h)) == 0) {
            h[sizeof(h) - 1] = '\0';
            copy_text(n->host, sizeof(n->host), h);
        }
    }
    notify_queue_init(&n->q, o && o->queue_max ? o->queue_max : NOTIFY_QUEUE_DEFAULT);
    n->rng = (uint32_t)mono_ms() ^ ((uint32_t)getpid() << 16) ^ (uint32_t)(uintptr_t)n;
    if (!n->rng)
        n->rng = 0x9e3779b9u;

    r = setup_curl(n, o, err);
    if (r < 0)
        goto fail;

    pthread_mutex_init(&n->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cond, &ca);
    pthread_condattr_destroy(&ca);
    sync_made = true;

    /* Signals stay with the main thread. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    e = pthread_create(&n->thread, NULL, notify_main, n);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        r = errbuf_set(err, -e, "cannot start the notifier thread (%s)",
                       e == EAGAIN ? "out of resources" : "pthread_create failed");
        goto fail;
    }
    *ret = n;
    return 0;

fail:
    if (sync_made) {
        pthread_cond_destroy(&n->cond);
        pthread_mutex_destroy(&n->lock);
    }
    curl_easy_cleanup(n->easy);
    curl_multi_cleanup(n->multi);
    curl_slist_free_all(n->headers);
    notify_queue_deinit(&n->q);
    free(n->url);
    free(n);
    return r;
}

void notify_event(notify_t *n, const struct notify_event *ev)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->lock);
    bool dropped = notify_queue_push(&n->q, ev);
    pthread_cond_signal(&n->cond);
    pthread_mutex_unlock(&n->lock);
    if (dropped)
        atomic_fetch_add(&n->dropped, 1);
}

void notify_stop(notify_t *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->lock);
    atomic_store(&n->deadline, mono_ms() + (int64_t)n->stop_ms);
    atomic_store(&n->stopping, true);
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->lock);
    curl_multi_wakeup(n->multi);
    pthread_join(n->thread, NULL);

    pthread_cond_destroy(&n->cond);
    pthread_mutex_destroy(&n->lock);
    curl_easy_cleanup(n->easy);
    curl_multi_cleanup(n->multi);
    curl_slist_free_all(n->headers);
    sbuf_free(&n->body);
    notify_queue_deinit(&n->q);
    free(n->url);
    free(n);
}

uint64_t notify_sent(const notify_t *n)
{
    return n ? atomic_load(&n->sent) : 0;
}

uint64_t notify_failed(const notify_t *n)
{
    return n ? atomic_load(&n->failed) : 0;
}

uint64_t notify_dropped(const notify_t *n)
{
    return n ? atomic_load(&n->dropped) : 0;
}
