/* SPDX-License-Identifier: MIT */
/* One probe of one target with libcurl: easy-handle setup for HTTP, HTTPS and TCP checks, and
 * the classification of the outcome into a probe_result and a readable reason. Only the probe
 * thread calls these (curl handles belong to it). */
#pragma once

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/errbuf.h"
#include "health/check.h"
#include "health/state.h"

struct probe {
    CURL *easy;
    size_t target; /* index of the target */
    const struct target *t;
    struct curl_slist *headers;
    struct curl_slist *connect_to;
    char url[512];
    char curl_err[CURL_ERROR_SIZE];
    char *body; /* first CHECK_BODY_MAX bytes (only when the check has a body string) */
    size_t body_len;
    bool body_found;
    int64_t started_ms;
    int socket_errno; /* socket() failed with this (a local problem: descriptors, memory) */
};

/* Sets up p for a probe of target t (index i): a new easy handle ready for curl_multi_add_handle.
 * Returns 0, or -ENOMEM/-EINVAL with a message (a local problem, not the endpoint's). */
int probe_prepare(
    struct probe *p, const struct target *t, size_t i, int64_t now_ms, struct errbuf *err);
/* After the transfer ended with rc: the result and a reason such as "http status 503",
 * "connect refused", "timeout after 2.0 s", "tls: certificate has expired",
 * "body 'ok' not found". */
enum probe_result probe_finish(struct probe *p, CURLcode rc, char *reason, size_t cap);
/* Frees the handle and buffers (the caller removed it from the multi handle). NULL-safe. */
void probe_cleanup(struct probe *p);

/* "tls: " and libcurl's TLS message msg, shortened where it is wordy, so that what matters (the
 * name the certificate is not for, "certificate has expired") fits the health map's reason:
 * "SSL: no alternative certificate subject name matches target host name 'www.example.com'"
 * becomes "tls: certificate is not for 'www.example.com'". */
void probe_tls_reason(const char *msg, char *reason, size_t cap);

/* The pure part of probe_finish, for tests: curl's result code, the HTTP status (0 if none),
 * whether the TCP connection was made, and whether the body string was found. */
enum probe_result probe_classify(const struct check_def *c,
                                 CURLcode rc,
                                 long status,
                                 bool connected,
                                 bool body_found,
                                 char *reason,
                                 size_t cap);
