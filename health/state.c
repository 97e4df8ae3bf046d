/* SPDX-License-Identifier: MIT */
/* The health state machine (see state.h): two run counters give rise/fall hysteresis. */
#include "health/state.h"

#include <assert.h>

static const char *const result_names[_PROBE_RES_MAX] = {
    [PROBE_OK] = "ok",
    [PROBE_L4CON] = "connect refused",
    [PROBE_L4TOUT] = "connect timeout",
    [PROBE_L6] = "tls failure",
    [PROBE_L7TOUT] = "timeout",
    [PROBE_L7STS] = "http status",
    [PROBE_L7RSP] = "bad response",
    [PROBE_LOCAL] = "local error",
};

const char *probe_result_name(enum probe_result r)
{
    /* Unsigned compare: an out-of-range value (a bug elsewhere) must not index past the table. */
    if ((unsigned)r >= _PROBE_RES_MAX || !result_names[r])
        return "unknown result";
    return result_names[r];
}

static uint16_t run_inc(uint16_t n)
{
    return n == UINT16_MAX ? n : (uint16_t)(n + 1);
}

bool health_state_feed(struct health_state *s, enum probe_result r, uint16_t rise, uint16_t fall)
{
    assert((unsigned)r < _PROBE_RES_MAX);
    assert(s->verdict <= HEALTH_DOWN);

    if (r == PROBE_LOCAL)
        return false;

    bool ok = r == PROBE_OK;
    if (ok) {
        s->ok_run = run_inc(s->ok_run);
        s->fail_run = 0;
    } else {
        s->fail_run = run_inc(s->fail_run);
        s->ok_run = 0;
    }

    uint8_t next = s->verdict;
    switch (s->verdict) {
    case HEALTH_UP:
        if (!ok && s->fail_run >= fall)
            next = HEALTH_DOWN;
        break;
    case HEALTH_DOWN:
        if (ok && s->ok_run >= rise)
            next = HEALTH_UP;
        break;
    default: /* HEALTH_UNKNOWN: nothing to protect yet, the first result decides */
        next = ok ? HEALTH_UP : HEALTH_DOWN;
        break;
    }
    if (next == s->verdict)
        return false;
    s->verdict = next;
    return true;
}
