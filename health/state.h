/* SPDX-License-Identifier: MIT */
/* The health state machine: probe results in, up/down verdicts out, with rise/fall hysteresis.
 * Pure (no clock, no I/O); the probe thread owns the states of its targets. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum health_verdict {
    HEALTH_UNKNOWN = 0, /* no verdict yet: answered as up (fail-open) */
    HEALTH_UP = 1,
    HEALTH_DOWN = 2,
};

/* What one probe found. Everything but PROBE_OK and PROBE_LOCAL is the endpoint's failure. */
enum probe_result {
    PROBE_OK = 0,
    PROBE_L4CON,  /* connection refused or unreachable */
    PROBE_L4TOUT, /* no connection within the timeout */
    PROBE_L6,     /* TLS handshake or certificate failure */
    PROBE_L7TOUT, /* connected, but no complete answer within the timeout */
    PROBE_L7STS,  /* HTTP status not in the expected set */
    PROBE_L7RSP,  /* bad response: body string missing, protocol error */
    PROBE_LOCAL,  /* our own problem (out of memory, no sockets): says nothing of the endpoint */
    _PROBE_RES_MAX,
};

struct health_state {
    uint8_t verdict;   /* enum health_verdict */
    uint16_t ok_run;   /* consecutive successes */
    uint16_t fail_run; /* consecutive failures */
};

/* Short lowercase name of a result ("ok", "connect refused", "timeout", ...). */
const char *probe_result_name(enum probe_result r);

/* Feeds one result. UNKNOWN takes the first result's verdict at once (there is nothing to
 * protect yet); UP goes DOWN after `fall` consecutive failures; DOWN goes UP after `rise`
 * consecutive successes. PROBE_LOCAL changes nothing. Returns true when the verdict changed. */
bool health_state_feed(struct health_state *s, enum probe_result r, uint16_t rise, uint16_t fall);
