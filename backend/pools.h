/* SPDX-License-Identifier: MIT */
/* Pools of endpoints and their health checks, as loaded from the store's "checks" and "pools":
 * members with priority tiers and weights, the answer policy, what to answer when everything is
 * down, and the deduplicated list of probe targets the health checker works through. Immutable
 * once the store is built. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "health/check.h"

#define POOL_DEFAULT_TTL 30u
#define POOL_MAX_MEMBERS 4096

enum pool_policy { POOL_FAILOVER, POOL_ALL, POOL_WEIGHTED, POOL_HASHED };
enum pool_all_down { POOL_DOWN_ALL, POOL_DOWN_NONE, POOL_DOWN_FALLBACK };

struct pool_addr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t bytes[16];
    char text[46]; /* as pdns prints it */
};

struct pool_member {
    const char *name;
    struct pool_addr addr; /* what answers carry */
    uint16_t tier;         /* 1 is preferred */
    uint32_t weight;       /* >= 1 */
    uint32_t target;       /* index into store_pools.targets */
    uint64_t okey;         /* overrides_key(pool, name) */
};

struct pool {
    const char *name;
    enum pool_policy policy;
    const struct pool_member *members; /* sorted by tier, then file order */
    size_t nmembers;
    uint16_t max_answers;
    uint16_t min_healthy;
    enum pool_all_down all_down;
    const struct pool_addr *fallback;
    size_t nfallback;
};

struct store_pools {
    const struct pool *pools;
    size_t npools;
    const struct target *targets; /* in order of first use */
    size_t ntargets;
};

const char *pool_policy_name(enum pool_policy p);
/* Whether the pool's answer depends on nothing but health (and overrides): failover and all,
 * with max_answers covering every member, so that no rotation or client picks the answer.
 * Such answers may sit in pdns's caches when something purges them on every change. */
bool pool_cacheable(const struct pool *p);
