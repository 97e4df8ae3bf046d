/* SPDX-License-Identifier: MIT */
/* Health check definitions and probe targets, as the store loader builds them. Plain data,
 * immutable once the store is built; shared read-only by the probe thread and the answering
 * path. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum check_type { CHECK_HTTP, CHECK_HTTPS, CHECK_TCP };

/* An inclusive range of accepted HTTP status codes ("200" is 200-200, "2xx" is 200-299). */
struct expect_range {
    uint16_t lo, hi;
};

struct check_def {
    enum check_type type;
    uint16_t port;    /* 0: per member (check_port) or the type's default, 80/443 */
    const char *path; /* request path, starts with '/'; default "/" */
    const char *host; /* Host header, SNI and certificate name; NULL: the target address */
    bool head;        /* HEAD instead of GET */
    const struct expect_range *expect;
    size_t nexpect;             /* 0: 200 only */
    const char *body;           /* substring required in the first 64 KiB of the body; NULL: none */
    const char *const *headers; /* "Name: value" lines */
    size_t nheaders;
    bool tls_verify;      /* default true */
    const char *ca_file;  /* NULL: the system store */
    uint32_t interval_ms; /* > timeout_ms */
    uint32_t timeout_ms;
    uint16_t rise, fall; /* >= 1 */
};

/* One (check, address, port) pair: probed once however many pools and members use it. */
struct target {
    const struct check_def *check;
    char address[46];  /* numeric IPv4 or IPv6 text */
    int family;        /* AF_INET or AF_INET6 */
    uint16_t port;     /* effective port */
    uint64_t key;      /* stable hash of the check's settings, address and port */
    const char *label; /* for logs: "<member name> <address>:<port>" of the first member using it */
};

#define CHECK_BODY_MAX (64 * 1024)
