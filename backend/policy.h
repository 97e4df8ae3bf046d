/* SPDX-License-Identifier: MIT */
/* Answer policy: which addresses of a pool to answer, given which members are healthy. Pure:
 * health, randomness and the client's address come in as arguments; any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/pools.h"

#define POLICY_MAX_ANSWERS 64

enum policy_why {
    POLICY_HEALTHY,  /* chosen from healthy members */
    POLICY_ALL_DOWN, /* nothing healthy: answered as if every member were up (when_all_down all),
                        except drained and forced-down members */
    POLICY_NONE,     /* nothing healthy: no answer (when_all_down none, or no fallback of this
                        family) */
    POLICY_FALLBACK, /* nothing healthy: the fallback addresses */
};

struct policy_input {
    const bool *up;        /* per member (pool order): counts as healthy (up, or no verdict yet) */
    const bool *out;       /* per member: drained or forced down, never answered (NULL: none) */
    int family;            /* AF_INET for A, AF_INET6 for AAAA */
    uint64_t random;       /* any random value, for "weighted" */
    const uint8_t *client; /* the client's address bytes, for "hashed" (NULL: none) */
    size_t client_len;
};

struct policy_answer {
    const struct pool_addr *addrs[POLICY_MAX_ANSWERS];
    uint16_t members[POLICY_MAX_ANSWERS]; /* member index of each answer (not for fallback) */
    size_t n;
    enum policy_why why;
    uint16_t tier; /* the tier answered from (0: several, or none) */
};

/* Chooses the answer for pool p:
 * - failover: the healthy members of the best (lowest) tier with at least min_healthy healthy
 *   members (if no tier has that many, the best tier with any);
 * - all: the healthy members of every tier;
 * - weighted: up to max_answers members of that best tier, drawn by weight without
 *   replacement;
 * - hashed: the one member of that best tier that rendezvous hashing picks for the client, so a
 *   client keeps its member while that member is healthy.
 * Only members of the requested family count. Every answer holds at most max_answers. */
void policy_select(const struct pool *p, const struct policy_input *in, struct policy_answer *out);
const char *policy_why_name(enum policy_why w);
