/* SPDX-License-Identifier: MIT */
/* The optional HTTP listener (--metrics ADDRESS:PORT), served by libmicrohttpd on its own
 * thread:
 *   GET /metrics   the handlers' metrics text, "text/plain; version=0.0.4; charset=utf-8"
 *   GET /status    the handlers' status JSON, "application/json"
 *   GET /healthz   200 "ok\n", or 503 "stale\n" when the healthy handler says false
 * HEAD works on each; other methods get 405 (with Allow), other paths 404. At most 16
 * connections at a time, each closed after 10 s without progress.
 *
 * Threads: metrics_http_start() and metrics_http_stop() from one thread (main). The handlers
 * run on the listener's thread, one request at a time, concurrently with everything else, so
 * they must be thread-safe: read atomics (struct metrics, health map verdicts, overrides) and
 * immutable data (a store that outlives the listener), never state that another thread
 * changes without synchronisation. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/errbuf.h"
#include "common/sbuf.h"

struct metrics_http_handlers {
    /* Each appends its document to out (an empty sbuf the listener owns and frees). NULL
     * metrics or status: that path answers 404. NULL healthy: always healthy. */
    void (*metrics)(void *opaque, struct sbuf *out);
    void (*status)(void *opaque, struct sbuf *out);
    bool (*healthy)(void *opaque);
    void *opaque;
};

typedef struct metrics_http metrics_http_t;

/* Parses "127.0.0.1:9154", "[::1]:9154", "[::]:9154" or ":9154" (all addresses, IPv6 and
 * IPv4) into *ret_addr (":9154" gives the IPv6 any address). Addresses are numeric, the port
 * is 0 to 65535 (0: any free port). Returns 0, or -EINVAL with "--metrics: '...' is not
 * ADDRESS:PORT (...)" in err. */
int metrics_http_parse_address(const char *addr_port,
                               struct sockaddr_storage *ret_addr,
                               struct errbuf *err);

/* Parses addr_port (as above) and starts listening on it. An IPv6 any address listens on IPv4
 * too (falling back to IPv4 only when the host has no IPv6). h is copied; h->opaque is
 * borrowed and must stay valid until metrics_http_stop(). Returns 0, or -errno with a message
 * in err (a bad address, the port in use, ...); *ret is set only on success. Free with
 * metrics_http_stop(). */
int metrics_http_start(const char *addr_port,
                       const struct metrics_http_handlers *h,
                       metrics_http_t **ret,
                       struct errbuf *err);

/* The port listened on (the chosen one when 0 was asked). */
uint16_t metrics_http_port(const metrics_http_t *s);

/* Stops the listener: closes it and every connection, joins its thread (no handler runs after
 * it returns), frees s. NULL-safe. */
void metrics_http_stop(metrics_http_t *s);
