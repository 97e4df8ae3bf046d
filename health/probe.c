/* SPDX-License-Identifier: MIT */
/* One probe of one target: libcurl easy-handle setup for HTTP(S) and TCP checks, body matching
 * while the answer arrives, and the classification of the outcome (gdnsd's split: the probe
 * only reports what it saw; the state machine in state.c decides). */
#include "health/probe.h"

#include <errno.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"
#include "common/xalloc.h"
#include "health/expect.h"

#define PROBE_USER_AGENT "pdns-failover/" PF_VERSION " health check"

/* Longest part of the body string quoted in a reason, so the reason fits the map's 88 bytes. */
#define REASON_BODY_MAX 40

static const char *check_default_path(const struct check_def *c)
{
    return c->path && c->path[0] ? c->path : "/";
}

/* Appends data to the kept body (with a body string) or only counts it (without). A short count
 * makes curl stop with CURLE_WRITE_ERROR, which probe_finish() recognises as our own stop. */
static size_t probe_on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct probe *p = userdata;
    const char *want = p->t->check->body;
    size_t len = size * nmemb;

    if (!want) {
        /* Nothing to look for: read (and drop) up to the limit, so an endless body cannot keep
         * the probe alive until the timeout. */
        p->body_len += len;
        return p->body_len > CHECK_BODY_MAX ? 0 : len;
    }
    if (p->body_found)
        return 0;

    size_t room = CHECK_BODY_MAX - p->body_len;
    size_t take = len < room ? len : room;
    size_t wlen = strlen(want);
    /* Search only what could contain a match that ends in the new data. */
    size_t from = p->body_len >= wlen ? p->body_len - wlen + 1 : 0;
    memcpy(p->body + p->body_len, data, take);
    p->body_len += take;
    if (memmem(p->body + from, p->body_len - from, want, wlen)) {
        p->body_found = true;
        return 0;
    }
    return take < len ? 0 : len;
}

/* "[addr]" for IPv6 literals, the text itself otherwise. */
static const char *bracket(const char *host, char *buf, size_t cap)
{
    if (!strchr(host, ':'))
        return host;
    snprintf(buf, cap, "[%s]", host);
    return buf;
}

/* Opens the probe's socket ourselves, to tell a local failure (no descriptor left) from a
 * refused connection: libcurl reports both as "couldn't connect" with errno 0. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct probe *p = clientp;
    (void)purpose;
    int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd < 0) {
        p->socket_errno = errno;
        return CURL_SOCKET_BAD;
    }
    return fd;
}

#define SETOPT(opt, val)                                                          \
    do {                                                                          \
        if (curl_easy_setopt(p->easy, opt, val) != CURLE_OK) {                    \
            r = errbuf_set(err, -EINVAL, "cannot set " #opt " for %s", t->label); \
            goto fail;                                                            \
        }                                                                         \
    } while (0)

int probe_prepare(
    struct probe *p, const struct target *t, size_t i, int64_t now_ms, struct errbuf *err)
{
    const struct check_def *c = t->check;
    char addr[64], name[300];
    int r, n;

    memset(p, 0, sizeof(*p));
    p->target = i;
    p->t = t;
    p->started_ms = now_ms;

    const char *addr_text = bracket(t->address, addr, sizeof(addr));
    const char *url_host = addr_text;
    if (c->type == CHECK_TCP) {
        n = snprintf(p->url, sizeof(p->url), "http://%s:%u/", url_host, (unsigned)t->port);
    } else {
        if (c->host)
            url_host = bracket(c->host, name, sizeof(name));
        n = snprintf(p->url, sizeof(p->url), "%s://%s:%u%s",
                     c->type == CHECK_HTTPS ? "https" : "http", url_host, (unsigned)t->port,
                     check_default_path(c));
    }
    if (n < 0 || (size_t)n >= sizeof(p->url)) {
        r = errbuf_set(err, -EINVAL, "probe url for %s is too long", t->label);
        goto fail;
    }

    p->easy = curl_easy_init();
    if (!p->easy) {
        r = errbuf_set(err, -ENOMEM, "cannot create a curl handle for %s", t->label);
        goto fail;
    }

    SETOPT(CURLOPT_URL, p->url);
    SETOPT(CURLOPT_ERRORBUFFER, p->curl_err);
    SETOPT(CURLOPT_PRIVATE, (void *)p);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
    /* Probe the endpoint itself: no proxy from the environment, no connection shared with an
     * earlier probe (which would hide a dead listener). */
    SETOPT(CURLOPT_PROXY, "");
    SETOPT(CURLOPT_NOPROXY, "*");
    SETOPT(CURLOPT_FRESH_CONNECT, 1L);
    SETOPT(CURLOPT_FORBID_REUSE, 1L);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    /* Targets are addresses: nothing to cache. With the default 60 s, libcurl 7.88 keeps an
     * entry per target and walks them all at every connection's end: 70% of the probe
     * thread's time at 10,000 targets (bench/scale-probes). */
    SETOPT(CURLOPT_DNS_CACHE_TIMEOUT, 0L);
    SETOPT(CURLOPT_OPENSOCKETFUNCTION, open_socket);
    SETOPT(CURLOPT_OPENSOCKETDATA, (void *)p);

    if (c->type == CHECK_TCP) {
        SETOPT(CURLOPT_CONNECT_ONLY, 1L);
        return 0;
    }

    SETOPT(CURLOPT_USERAGENT, PROBE_USER_AGENT);
    if (c->host) {
        char line[400];
        /* Host header, SNI and certificate checks use the name; the connection goes to the
         * target's address all the same. */
        n = snprintf(line, sizeof(line), "%s:%u:%s:%u", url_host, (unsigned)t->port, addr_text,
                     (unsigned)t->port);
        if (n < 0 || (size_t)n >= sizeof(line)) {
            r = errbuf_set(err, -EINVAL, "probe host for %s is too long", t->label);
            goto fail;
        }
        p->connect_to = curl_slist_append(NULL, line);
        if (!p->connect_to) {
            r = errbuf_set(err, -ENOMEM, "out of memory setting up the probe of %s", t->label);
            goto fail;
        }
        SETOPT(CURLOPT_CONNECT_TO, p->connect_to);
    }
    for (size_t h = 0; h < c->nheaders; h++) {
        struct curl_slist *l = curl_slist_append(p->headers, c->headers[h]);
        if (!l) {
            r = errbuf_set(err, -ENOMEM, "out of memory setting up the probe of %s", t->label);
            goto fail;
        }
        p->headers = l;
    }
    if (p->headers)
        SETOPT(CURLOPT_HTTPHEADER, p->headers);
    if (c->head)
        SETOPT(CURLOPT_NOBODY, 1L);
    if (c->body) {
        p->body = xmalloc(CHECK_BODY_MAX);
        p->body_found = c->body[0] == '\0';
    }
    SETOPT(CURLOPT_WRITEFUNCTION, probe_on_body);
    SETOPT(CURLOPT_WRITEDATA, (void *)p);
    if (c->type == CHECK_HTTPS) {
        if (!c->tls_verify) {
            SETOPT(CURLOPT_SSL_VERIFYPEER, 0L);
            SETOPT(CURLOPT_SSL_VERIFYHOST, 0L);
        }
        /* ca_file replaces the system store rather than adding to it. Without a CA directory,
         * libcurl also caches the loaded store in the multi handle (CURLOPT_CA_CACHE_TIMEOUT);
         * with Debian's default one it parses the whole system bundle for every probe. */
        SETOPT(CURLOPT_CAPATH, (char *)NULL);
        if (c->ca_file)
            SETOPT(CURLOPT_CAINFO, c->ca_file);
    }
    return 0;

fail:
    probe_cleanup(p);
    return r;
}

#undef SETOPT

void probe_cleanup(struct probe *p)
{
    if (!p)
        return;
    if (p->easy)
        curl_easy_cleanup(p->easy);
    curl_slist_free_all(p->headers);
    curl_slist_free_all(p->connect_to);
    free(p->body);
    p->easy = NULL;
    p->headers = NULL;
    p->connect_to = NULL;
    p->body = NULL;
    p->body_len = 0;
}

static bool is_tls_error(CURLcode rc)
{
    switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return true;
    default:
        return false;
    }
}

/* Writes "prefix" + msg into reason as one line, lowercasing a leading capital unless it starts
 * an acronym ("Couldn't" -> "couldn't", "SSL" stays). */
static void put_message(char *reason, size_t cap, const char *prefix, const char *msg)
{
    int n = snprintf(reason, cap, "%s%s", prefix, msg);
    if (n < 0 || cap == 0)
        return;
    size_t p = strlen(prefix);
    size_t len = strlen(reason);
    if (p < len && reason[p] >= 'A' && reason[p] <= 'Z' &&
        !(reason[p + 1] >= 'A' && reason[p + 1] <= 'Z'))
        reason[p] = (char)(reason[p] - 'A' + 'a');
    for (size_t k = 0; k < len; k++)
        if ((unsigned char)reason[k] < 0x20)
            reason[k] = ' ';
    while (len > 0 && reason[len - 1] == ' ')
        reason[--len] = '\0';
}

void probe_tls_reason(const char *msg, char *reason, size_t cap)
{
    static const struct {
        const char *from, *to;
    } shorter[] = {
        {"SSL: no alternative certificate subject name matches target host name ",
         "certificate is not for "},
        {"SSL certificate problem: ", ""},
        {"SSL: ", ""},
    };
    for (size_t i = 0; i < ARRAY_SIZE(shorter); i++) {
        size_t n = strlen(shorter[i].from);
        if (strncmp(msg, shorter[i].from, n) == 0) {
            char buf[CURL_ERROR_SIZE + 32];
            snprintf(buf, sizeof(buf), "%s%s", shorter[i].to, msg + n);
            put_message(reason, cap, "tls: ", buf);
            return;
        }
    }
    put_message(reason, cap, "tls: ", msg);
}

/* probe_classify() with the details only a finished handle has: the OS error of a failed
 * connect (0: unknown) and curl's error text (NULL or "": use curl_easy_strerror()). */
static enum probe_result classify(const struct check_def *c,
                                  CURLcode rc,
                                  long status,
                                  bool connected,
                                  bool body_found,
                                  int os_errno,
                                  const char *curl_msg,
                                  char *reason,
                                  size_t cap)
{
    const char *msg = curl_msg && curl_msg[0] ? curl_msg : curl_easy_strerror(rc);
    double secs = c->timeout_ms / 1000.0;

    switch (rc) {
    case CURLE_OK:
        if (c->type == CHECK_TCP)
            break;
        if (!expect_match(c->expect, c->nexpect, status)) {
            if (status == 0) {
                snprintf(reason, cap, "no http status");
                return PROBE_L7RSP;
            }
            snprintf(reason, cap, "http status %ld", status);
            return PROBE_L7STS;
        }
        if (c->body && !body_found) {
            snprintf(reason, cap, "body '%.*s%s' not found", REASON_BODY_MAX, c->body,
                     strlen(c->body) > REASON_BODY_MAX ? "..." : "");
            return PROBE_L7RSP;
        }
        break;
    case CURLE_COULDNT_CONNECT:
        if (os_errno == 0 || os_errno == ECONNREFUSED) {
            snprintf(reason, cap, "connect refused");
            return PROBE_L4CON;
        }
        if (os_errno == EMFILE || os_errno == ENFILE || os_errno == ENOBUFS || os_errno == ENOMEM) {
            char buf[128];
            put_message(reason, cap,
                        "cannot open a socket: ", strerror_r(os_errno, buf, sizeof(buf)));
            return PROBE_LOCAL;
        }
        if (curl_msg && curl_msg[0]) {
            put_message(reason, cap, "", curl_msg);
        } else {
            char buf[128];
            put_message(reason, cap, "connect failed: ", strerror_r(os_errno, buf, sizeof(buf)));
        }
        return PROBE_L4CON;
    case CURLE_OPERATION_TIMEDOUT:
        if (!connected) {
            snprintf(reason, cap, "connect timeout after %.1f s", secs);
            return PROBE_L4TOUT;
        }
        snprintf(reason, cap, "timeout after %.1f s", secs);
        return PROBE_L7TOUT;
    case CURLE_OUT_OF_MEMORY:
    case CURLE_FAILED_INIT:
        put_message(reason, cap, "", msg);
        return PROBE_LOCAL;
    default:
        if (is_tls_error(rc)) {
            probe_tls_reason(msg, reason, cap);
            return PROBE_L6;
        }
        put_message(reason, cap, "", msg);
        return PROBE_L7RSP;
    }
    snprintf(reason, cap, "ok");
    return PROBE_OK;
}

enum probe_result probe_classify(const struct check_def *c,
                                 CURLcode rc,
                                 long status,
                                 bool connected,
                                 bool body_found,
                                 char *reason,
                                 size_t cap)
{
    return classify(c, rc, status, connected, body_found, 0, NULL, reason, cap);
}

enum probe_result probe_finish(struct probe *p, CURLcode rc, char *reason, size_t cap)
{
    const struct check_def *c = p->t->check;
    long status = 0, os_errno = 0;
    curl_off_t connect_us = 0;

    /* The write callback stops reading once the body string is found or the limit is reached;
     * that is our decision, not a failure of the endpoint. */
    if (rc == CURLE_WRITE_ERROR &&
        (p->body_found || (c->body ? p->body_len >= CHECK_BODY_MAX : p->body_len > CHECK_BODY_MAX)))
        rc = CURLE_OK;
    if (curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        status = 0;
    if (curl_easy_getinfo(p->easy, CURLINFO_OS_ERRNO, &os_errno) != CURLE_OK)
        os_errno = 0;
    if (p->socket_errno && rc == CURLE_COULDNT_CONNECT)
        os_errno = p->socket_errno;
    /* curl records at least 1 us once the connection is made, so 0 means never connected. */
    if (curl_easy_getinfo(p->easy, CURLINFO_CONNECT_TIME_T, &connect_us) != CURLE_OK)
        connect_us = 0;
    return classify(c, rc, status, connect_us > 0, p->body_found, (int)os_errno, p->curl_err,
                    reason, cap);
}
