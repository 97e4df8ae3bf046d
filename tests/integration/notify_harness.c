/* SPDX-License-Identifier: MIT */
/* Test driver for the notifier (health/notify.c) against a real HTTP receiver: starts one
 * notifier on the URL given on the command line and feeds it events read from stdin; answers on
 * stdout, logs on stderr. Used by test_notify.py; test code only.
 *
 *   notify_harness URL [-d] [--queue N] [--timeout MS] [--attempts N] [--stop MS] [--host NAME]
 *
 * Commands:
 *   event <fields>  queue one event; fields are tab-separated key=value: member, pool, target,
 *                   address, port, check (http|https|tcp), from, to (unknown|up|down), reason,
 *                   count, when (wall ms; default now)                        -> "queued"
 *   stats           the counters                 -> "stats sent=N failed=N dropped=N"
 *                   ("stats stopped" after stop: the counters went with the notifier)
 *   stop            notify_stop(), timed          -> "stopped ms=N"
 *   quit            stop (if not yet) and exit 0 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "common/log.h"
#include "health/notify.h"

static void die(const char *fmt, ...) ATTR_PRINTF(1, 2) ATTR_NORETURN;
static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "notify_harness: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned long number(const char *s, const char *what)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end)
        die("%s: '%s' is not a number", what, s);
    return v;
}

static enum health_verdict verdict(const char *s)
{
    if (!strcmp(s, "up"))
        return HEALTH_UP;
    if (!strcmp(s, "down"))
        return HEALTH_DOWN;
    if (!strcmp(s, "unknown"))
        return HEALTH_UNKNOWN;
    die("bad verdict '%s'", s);
}

static void set_text(char *dst, size_t cap, const char *v, const char *key)
{
    if (strlen(v) >= cap)
        die("%s is too long", key);
    memcpy(dst, v, strlen(v) + 1);
}

#define TEXT(field) set_text(ev.field, sizeof(ev.field), v, k)

static void parse_event(char *fields, struct notify_event *out)
{
    struct notify_event ev;
    char *f;

    memset(&ev, 0, sizeof(ev));
    ev.check = CHECK_HTTP;
    ev.when_ms = clock_ms(CLOCK_REALTIME);
    while ((f = strsep(&fields, "\t"))) {
        char *k = f, *v = strchr(f, '=');
        if (!v)
            die("field '%s' is not key=value", f);
        *v++ = '\0';
        if (!strcmp(k, "member"))
            TEXT(members);
        else if (!strcmp(k, "pool"))
            TEXT(pools);
        else if (!strcmp(k, "target"))
            TEXT(target);
        else if (!strcmp(k, "address"))
            TEXT(address);
        else if (!strcmp(k, "reason"))
            TEXT(reason);
        else if (!strcmp(k, "port"))
            ev.port = (uint16_t)number(v, k);
        else if (!strcmp(k, "count"))
            ev.count = (unsigned)number(v, k);
        else if (!strcmp(k, "when"))
            ev.when_ms = (int64_t)number(v, k);
        else if (!strcmp(k, "from"))
            ev.from = verdict(v);
        else if (!strcmp(k, "to"))
            ev.to = verdict(v);
        else if (!strcmp(k, "check"))
            ev.check = !strcmp(v, "https") ? CHECK_HTTPS
                       : !strcmp(v, "tcp") ? CHECK_TCP
                                           : CHECK_HTTP;
        else
            die("unknown field '%s'", k);
    }
    *out = ev;
}

int main(int argc, char **argv)
{
    struct notify_opts o = {0};
    const char *url = NULL;
    notify_t *n = NULL;
    struct errbuf err;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-d"))
            log_set_debug(true);
        else if (!strcmp(a, "--queue") && i + 1 < argc)
            o.queue_max = (unsigned)number(argv[++i], a);
        else if (!strcmp(a, "--timeout") && i + 1 < argc)
            o.timeout_ms = (unsigned)number(argv[++i], a);
        else if (!strcmp(a, "--attempts") && i + 1 < argc)
            o.max_attempts = (unsigned)number(argv[++i], a);
        else if (!strcmp(a, "--stop") && i + 1 < argc)
            o.stop_ms = (unsigned)number(argv[++i], a);
        else if (!strcmp(a, "--host") && i + 1 < argc)
            o.host = argv[++i];
        else if (!url && a[0] != '-')
            url = a;
        else
            die("usage: notify_harness URL [-d] [--queue N] [--timeout MS] [--attempts N] "
                "[--stop MS] [--host NAME]");
    }
    if (!url)
        die("no url");
    log_set_ident("notify_harness");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        die("curl_global_init failed");
    if (notify_start(url, &o, &n, &err) < 0) {
        printf("error %s\n", err.msg);
        curl_global_cleanup();
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    while ((len = getline(&line, &cap, stdin)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (!strncmp(line, "event ", 6)) {
            struct notify_event ev;
            parse_event(line + 6, &ev);
            if (!n)
                die("event after stop");
            notify_event(n, &ev);
            printf("queued\n");
        } else if (!strcmp(line, "stats")) {
            if (n)
                printf("stats sent=%" PRIu64 " failed=%" PRIu64 " dropped=%" PRIu64 "\n",
                       notify_sent(n), notify_failed(n), notify_dropped(n));
            else
                printf("stats stopped\n");
        } else if (!strcmp(line, "stop")) {
            int64_t t0 = clock_ms(CLOCK_MONOTONIC);
            notify_stop(n);
            n = NULL;
            int64_t ms = clock_ms(CLOCK_MONOTONIC) - t0;
            printf("stopped ms=%" PRId64 "\n", ms);
        } else if (!strcmp(line, "quit")) {
            break;
        } else {
            die("unknown command '%s'", line);
        }
    }
    notify_stop(n);
    free(line);
    curl_global_cleanup();
    return 0;
}
