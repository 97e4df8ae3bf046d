/* SPDX-License-Identifier: MIT */
/* Answer policies over a pool's members (see policy.h). */
#include "backend/policy.h"

#include <math.h>
#include <string.h>
#include <sys/socket.h>

const char *policy_why_name(enum policy_why w)
{
    static const char *const names[] = {
        [POLICY_HEALTHY] = "healthy members",
        [POLICY_ALL_DOWN] = "all members down: answering as if all were up",
        [POLICY_NONE] = "all members down: no answer",
        [POLICY_FALLBACK] = "all members down: fallback addresses",
    };
    return names[w];
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void add(struct policy_answer *out, const struct pool *p, size_t i)
{
    out->members[out->n] = (uint16_t)i;
    out->addrs[out->n++] = &p->members[i].addr;
}

/* The tier to answer from: the best with >= min_healthy healthy members, else the best with any.
 * 0 when no member of the family is healthy. */
static uint16_t best_tier(const struct pool *p, const struct policy_input *in, const bool *up)
{
    uint16_t first_any = 0;
    for (size_t i = 0; i < p->nmembers;) {
        uint16_t tier = p->members[i].tier;
        size_t healthy = 0;
        for (; i < p->nmembers && p->members[i].tier == tier; i++)
            healthy += p->members[i].addr.family == in->family && up[i];
        if (healthy >= p->min_healthy)
            return tier;
        if (healthy && !first_any)
            first_any = tier;
    }
    return first_any;
}

static bool eligible(
    const struct pool *p, const struct policy_input *in, const bool *up, size_t i, uint16_t tier)
{
    return p->members[i].addr.family == in->family && up[i] &&
           (!tier || p->members[i].tier == tier);
}

/* Up to max_answers eligible members, starting at a random one so that the cap spreads load. */
static void take_rotated(const struct pool *p,
                         const struct policy_input *in,
                         const bool *up,
                         uint16_t tier,
                         struct policy_answer *out)
{
    uint16_t idx[POOL_MAX_MEMBERS];
    size_t n = 0;
    for (size_t i = 0; i < p->nmembers; i++)
        if (eligible(p, in, up, i, tier))
            idx[n++] = (uint16_t)i;
    size_t start = n > p->max_answers ? (size_t)(in->random % n) : 0;
    for (size_t k = 0; k < n && out->n < p->max_answers; k++)
        add(out, p, idx[(start + k) % n]);
}

static void take_weighted(const struct pool *p,
                          const struct policy_input *in,
                          const bool *up,
                          uint16_t tier,
                          struct policy_answer *out)
{
    bool taken[POOL_MAX_MEMBERS] = {false};
    uint64_t seed = in->random;
    size_t limit = p->nmembers;
    while (out->n < p->max_answers) {
        uint64_t sum = 0;
        for (size_t i = 0; i < limit; i++)
            if (!taken[i] && eligible(p, in, up, i, tier))
                sum += p->members[i].weight;
        if (!sum)
            return;
        uint64_t pick = splitmix64(&seed) % sum;
        for (size_t i = 0; i < limit; i++) {
            if (taken[i] || !eligible(p, in, up, i, tier))
                continue;
            if (pick < p->members[i].weight) {
                taken[i] = true;
                add(out, p, i);
                break;
            }
            pick -= p->members[i].weight;
        }
    }
}

static uint64_t hash_client(const struct policy_input *in, const char *member)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < in->client_len; i++)
        h = (h ^ in->client[i]) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *c = member; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ull;
    return splitmix64(&h);
}

static void take_hashed(const struct pool *p,
                        const struct policy_input *in,
                        const bool *up,
                        uint16_t tier,
                        struct policy_answer *out)
{
    double best = -1;
    size_t pick = SIZE_MAX;
    for (size_t i = 0; i < p->nmembers; i++) {
        if (!eligible(p, in, up, i, tier))
            continue;
        /* Weighted rendezvous hashing: score = -w / ln(u), u uniform in (0, 1). */
        double u = ((double)(hash_client(in, p->members[i].name) >> 11) + 0.5) / 9007199254740992.0;
        double score = -(double)p->members[i].weight / log(u);
        if (score > best) {
            best = score;
            pick = i;
        }
    }
    if (pick != SIZE_MAX)
        add(out, p, pick);
}

static void choose(const struct pool *p,
                   const struct policy_input *in,
                   const bool *up,
                   struct policy_answer *out)
{
    switch (p->policy) {
    case POOL_ALL:
        take_rotated(p, in, up, 0, out);
        out->tier = 0;
        return;
    case POOL_FAILOVER:
        out->tier = best_tier(p, in, up);
        take_rotated(p, in, up, out->tier, out);
        return;
    case POOL_WEIGHTED:
        out->tier = best_tier(p, in, up);
        take_weighted(p, in, up, out->tier, out);
        return;
    case POOL_HASHED:
        out->tier = best_tier(p, in, up);
        take_hashed(p, in, up, out->tier, out);
        return;
    }
}

void policy_select(const struct pool *p, const struct policy_input *in, struct policy_answer *out)
{
    memset(out, 0, sizeof(*out));
    bool any = false;
    for (size_t i = 0; i < p->nmembers && !any; i++)
        any = p->members[i].addr.family == in->family && in->up[i];
    if (any) {
        out->why = POLICY_HEALTHY;
        choose(p, in, in->up, out);
        return;
    }
    switch (p->all_down) {
    case POOL_DOWN_ALL: {
        /* Nothing healthy is more likely a checking problem than a total outage: answer as if
         * no check existed (Route 53 and gdnsd do the same). */
        bool all[POOL_MAX_MEMBERS];
        for (size_t i = 0; i < p->nmembers; i++)
            all[i] = !in->out || !in->out[i]; /* an operator's drain or down still holds */
        out->why = POLICY_ALL_DOWN;
        choose(p, in, all, out);
        return;
    }
    case POOL_DOWN_NONE:
        out->why = POLICY_NONE;
        return;
    case POOL_DOWN_FALLBACK:
        out->why = POLICY_FALLBACK;
        for (size_t i = 0; i < p->nfallback && out->n < p->max_answers; i++)
            if (p->fallback[i].family == in->family) {
                out->members[out->n] = UINT16_MAX;
                out->addrs[out->n++] = &p->fallback[i];
            }
        if (!out->n)
            out->why = POLICY_NONE;
        return;
    }
}
