/* SPDX-License-Identifier: MIT */
/* The metrics/status HTTP listener (see metrics_http.h), on libmicrohttpd.
 *
 * DESIGN: libmicrohttpd runs one internal polling thread (epoll) that accepts, parses and
 * answers; every request is answered at once from the handlers, so a slow client holds a
 * connection slot, never the thread. Nothing here is shared with other threads but the
 * handlers' opaque data (the caller's to make thread-safe) and the message slot below, which
 * only MHD_start_daemon() writes before the listener is running. libmicrohttpd's own messages
 * (a failed bind, fd exhaustion) become the start error while starting and rate-limited
 * warnings afterwards. */
#include "backend/metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"

#define CONNECTION_LIMIT   16u
#define CONNECTION_TIMEOUT 10u /* seconds without progress */
#define LOG_BURST          10  /* libmicrohttpd messages logged per minute at most */

#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON    "application/json"
#define CT_TEXT    "text/plain; charset=utf-8"

struct metrics_http {
    struct MHD_Daemon *daemon;
    struct metrics_http_handlers h;
    uint16_t port;
    atomic_bool running;   /* false while MHD_start_daemon() runs */
    atomic_bool start_msg; /* start_err holds a message */
    char start_err[256];   /* libmicrohttpd's first message while starting */
    int64_t log_window_s;  /* rate limit of libmicrohttpd's later messages */
    unsigned log_count, log_dropped;
};

/* ---- address ----------------------------------------------------------------------------- */

static int bad_address(struct errbuf *err, const char *addr_port, const char *why)
{
    return errbuf_set(err, -EINVAL, "--metrics: '%.200s' is not ADDRESS:PORT (%s)", addr_port, why);
}

int metrics_http_parse_address(const char *addr_port,
                               struct sockaddr_storage *ret_addr,
                               struct errbuf *err)
{
    static const char examples[] = "e.g. 127.0.0.1:9154, [::1]:9154 or :9154 for all addresses";
    char host[INET6_ADDRSTRLEN];
    const char *port;
    size_t hlen;

    if (!addr_port || !*addr_port)
        return bad_address(err, addr_port ? addr_port : "", examples);
    if (addr_port[0] == '[') {
        const char *close = strchr(addr_port, ']');
        if (!close || close[1] != ':')
            return bad_address(err, addr_port, examples);
        hlen = (size_t)(close - addr_port - 1);
        port = close + 2;
        if (hlen >= sizeof(host))
            return bad_address(err, addr_port, "not an IPv6 address in the brackets");
        memcpy(host, addr_port + 1, hlen);
    } else {
        const char *colon = strrchr(addr_port, ':');
        if (!colon)
            return bad_address(err, addr_port, examples);
        hlen = (size_t)(colon - addr_port);
        port = colon + 1;
        if (memchr(addr_port, ':', hlen))
            return bad_address(err, addr_port, "write an IPv6 address in brackets: [::1]:9154");
        if (hlen >= sizeof(host))
            return bad_address(err, addr_port, "not a numeric IPv4 address");
        memcpy(host, addr_port, hlen);
    }
    host[hlen] = '\0';

    unsigned long p = 0;
    size_t digits = strspn(port, "0123456789");
    if (digits == 0 || digits > 5 || port[digits] != '\0' || (p = strtoul(port, NULL, 10)) > 65535)
        return bad_address(err, addr_port, "the port must be a number from 0 to 65535");

    bool bracketed = addr_port[0] == '[';
    memset(ret_addr, 0, sizeof(*ret_addr));
    if (bracketed || hlen == 0) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ret_addr;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)p);
        if (!bracketed)
            a6->sin6_addr = in6addr_any;
        else if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
            return bad_address(err, addr_port, "not an IPv6 address in the brackets");
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)ret_addr;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)p);
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
            return bad_address(err, addr_port, "the address must be a numeric IPv4 address");
    }
    return 0;
}

static bool ipv6_available(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return errno != EAFNOSUPPORT;
    close(fd);
    return true;
}

/* ---- libmicrohttpd callbacks ------------------------------------------------------------- */

/* libmicrohttpd hands us its own printf format: it is trusted library text, not input. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct metrics_http *s = cls;
    char msg[256];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '.' || msg[n - 1] == ' '))
        msg[--n] = '\0';

    if (!atomic_load(&s->running)) {
        /* The first message is the cause; the rest are its consequences. */
        if (!atomic_exchange(&s->start_msg, true))
            snprintf(s->start_err, sizeof(s->start_err), "%s", msg);
        return;
    }
    /* After start only the listener's thread (and metrics_http_stop() once it has joined
     * that thread) calls this, so the counters need no lock. */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t window = (int64_t)now.tv_sec / 60;
    if (window != s->log_window_s) {
        if (s->log_dropped)
            log_warn("metrics", "%u more libmicrohttpd messages suppressed", s->log_dropped);
        s->log_window_s = window;
        s->log_count = s->log_dropped = 0;
    }
    if (s->log_count++ < LOG_BURST)
        log_warn("metrics", "http listener: %s", msg);
    else
        s->log_dropped++;
}

/* Queues body (heap, taken) with status and content type. */
static enum MHD_Result respond(struct MHD_Connection *c,
                               unsigned status,
                               const char *content_type,
                               char *body,
                               size_t len,
                               bool allow_header)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (!r) {
        free(body);
        return MHD_NO; /* closes the connection */
    }
    enum MHD_Result ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (ok == MHD_YES)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (ok == MHD_YES && allow_header)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (ok == MHD_YES)
        ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    return respond(c, status, CT_TEXT, xstrdup(text), strlen(text),
                   status == MHD_HTTP_METHOD_NOT_ALLOWED);
}

static enum MHD_Result respond_doc(struct MHD_Connection *c,
                                   const char *content_type,
                                   void (*render)(void *opaque, struct sbuf *out),
                                   void *opaque)
{
    struct sbuf out = SBUF_INIT;
    render(opaque, &out);
    size_t len = out.len;
    return respond(c, MHD_HTTP_OK, content_type, sbuf_take(&out), len, false);
}

static enum MHD_Result on_request(void *cls,
                                  struct MHD_Connection *c,
                                  const char *url,
                                  const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size,
                                  void **con_cls)
{
    const struct metrics_http *s = cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;

    /* Every answer is queued on the first call, with the headers: a request body (of a POST)
     * is never read, and libmicrohttpd closes such a connection after the answer. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (strcmp(url, "/metrics") == 0 && s->h.metrics)
        return respond_doc(c, CT_METRICS, s->h.metrics, s->h.opaque);
    if (strcmp(url, "/status") == 0 && s->h.status)
        return respond_doc(c, CT_JSON, s->h.status, s->h.opaque);
    if (strcmp(url, "/healthz") == 0) {
        if (s->h.healthy && !s->h.healthy(s->h.opaque))
            return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "stale\n");
        return respond_text(c, MHD_HTTP_OK, "ok\n");
    }
    return respond_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* ---- lifecycle --------------------------------------------------------------------------- */

int metrics_http_start(const char *addr_port,
                       const struct metrics_http_handlers *h,
                       metrics_http_t **ret,
                       struct errbuf *err)
{
    struct sockaddr_storage addr;
    int r = metrics_http_parse_address(addr_port, &addr, err);
    if (r < 0)
        return r;

    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    uint16_t port;
    if (addr.ss_family == AF_INET6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
        port = ntohs(a6->sin6_port);
        if (!IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr)) {
            flags |= MHD_USE_IPv6;
        } else if (ipv6_available()) {
            flags |= MHD_USE_DUAL_STACK;
        } else {
            struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
            memset(&addr, 0, sizeof(addr));
            a4->sin_family = AF_INET;
            a4->sin_port = htons(port);
            a4->sin_addr.s_addr = htonl(INADDR_ANY);
        }
    } else {
        port = ntohs(((struct sockaddr_in *)&addr)->sin_port);
    }

    struct metrics_http *s = xcalloc(1, sizeof(*s));
    s->h = *h;
    /* Epoll (MHD_USE_AUTO) rather than select(): the daemon may hold more than FD_SETSIZE
     * descriptors, which select() cannot watch. */
    s->daemon = MHD_start_daemon(flags, port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
                                 on_mhd_log, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT,
                                 MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT, MHD_OPTION_END);
    if (!s->daemon) {
        int e = errno > 0 ? errno : EIO;
        r = errbuf_set(err, -e, "--metrics: cannot listen on '%.200s' (%s)", addr_port,
                       atomic_load(&s->start_msg) ? s->start_err : "libmicrohttpd failed");
        free(s);
        return r;
    }
    atomic_store(&s->running, true);

    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info && info->port ? info->port : port;
    *ret = s;
    return 0;
}

uint16_t metrics_http_port(const metrics_http_t *s)
{
    return s->port;
}

void metrics_http_stop(metrics_http_t *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon);
    free(s);
}
