/* SPDX-License-Identifier: MIT */
/* Operator commands (see commands.h). */
#include "backend/commands.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "backend/policy.h"
#include "backend/pools.h"
#include "backend/rdata.h"
#include "common/dname.h"

#define MAX_ARGS 32

static const char usage_text[] =
    "commands:\n"
    "  help                                   this list\n"
    "  version                                the pdns-failover version\n"
    "  zones                                  every zone with its id, serial and record count\n"
    "  health                                 every pool member: state, since, last result, "
    "override\n"
    "  explain NAME TYPE [client ADDRESS]     why NAME TYPE gets the answer it gets\n"
    "  drain MEMBER [for DURATION] [reason TEXT]  out of answers, still probed\n"
    "  down MEMBER [for DURATION] [reason TEXT]   forced down\n"
    "  up MEMBER [for DURATION] [reason TEXT]     forced up\n"
    "  auto MEMBER                            back to the health checks\n"
    "  stats                                  counters of this process\n"
    "  reload                                 re-read the store file\n"
    "MEMBER is POOL/NAME or an address (every member with it); DURATION is seconds (90) or\n"
    "90s, 15m, 2h, 1d.\n";

struct args {
    char *v[MAX_ARGS];
    int n;
    char buf[1024];
};

static int split(const char *line, size_t len, struct args *a)
{
    if (len >= sizeof(a->buf))
        return -E2BIG;
    memcpy(a->buf, line, len);
    a->buf[len] = '\0';
    a->n = 0;
    for (char *p = a->buf; *p;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            *p++ = '\0';
        if (!*p)
            break;
        if (a->n == MAX_ARGS)
            return -E2BIG;
        a->v[a->n++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            p++;
    }
    return 0;
}

int cmd_parse_duration(const char *s, int64_t *ret_ms)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        return -EINVAL;
    unsigned long long v = strtoull(s, &end, 10);
    int64_t unit = 1000;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        unit = 60000, end++;
    else if (*end == 'h')
        unit = 3600000, end++;
    else if (*end == 'd')
        unit = 86400000, end++;
    if (errno || *end || v == 0 || v > 366ull * 86400000 / (unsigned long long)unit)
        return -EINVAL;
    *ret_ms = (int64_t)v * unit;
    return 0;
}

static void put_duration(struct sbuf *out, int64_t ms)
{
    int64_t s = ms > 0 ? ms / 1000 : 0; /* a time ahead of now: the wall clock was set back */
    if (s < 60)
        sbuf_printf(out, "%llds", (long long)s);
    else if (s < 3600)
        sbuf_printf(out, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    else if (s < 86400)
        sbuf_printf(out, "%lldh%02lldm", (long long)(s / 3600), (long long)(s / 60 % 60));
    else
        sbuf_printf(out, "%lldd%02lldh", (long long)(s / 86400), (long long)(s / 3600 % 24));
}

static struct hmap_beat env_beat(const struct cmd_env *env)
{
    return (struct hmap_beat){.wall_ms = env->now_ms, .boot_ms = env->boot_ms};
}

static const char *verdict_text(enum health_verdict v)
{
    return v == HEALTH_UP ? "up" : v == HEALTH_DOWN ? "down" : "unknown";
}

static void put_check(struct sbuf *out, const struct target *t)
{
    const struct check_def *c = t->check;
    if (c->type == CHECK_TCP)
        sbuf_printf(out, "tcp:%u", t->port);
    else
        sbuf_printf(out, "%s:%u%s", c->type == CHECK_HTTPS ? "https" : "http", t->port, c->path);
}

static void put_override(struct sbuf *out, const struct cmd_env *env, uint64_t okey)
{
    struct override_info oi;
    if (!env->overrides || !overrides_info(env->overrides, okey, env->now_ms, &oi)) {
        sbuf_puts(out, "-");
        return;
    }
    sbuf_puts(out, override_kind_name(oi.kind));
    if (oi.until_ms) {
        sbuf_puts(out, " (");
        put_duration(out, oi.until_ms - env->now_ms);
        sbuf_puts(out, " left)");
    }
    if (oi.reason[0])
        sbuf_printf(out, " \"%s\"", oi.reason);
}

/* A copy of a member's health slot (the prober rewrites it meanwhile); NULL without health. */
static const struct hmap_slot *
member_slot(const struct cmd_env *env, const struct pool_member *m, struct hmap_slot *copy)
{
    if (!env->health)
        return NULL;
    hmap_slot_get(env->health, m->target, copy);
    return copy;
}

/* One member's state in a few words: "up 3m12s (ok, 2 ms)". */
static void put_state(struct sbuf *out, const struct cmd_env *env, const struct pool_member *m)
{
    if (!env->health) {
        sbuf_puts(out, "not checked");
        return;
    }
    struct hmap_slot copy;
    const struct hmap_slot *s = member_slot(env, m, &copy);
    sbuf_puts(out, verdict_text(hmap_verdict_of(s)));
    if (s->since_ms) {
        sbuf_putc(out, ' ');
        put_duration(out, env->now_ms - s->since_ms);
    }
    if (s->last_probe_ms)
        sbuf_printf(out, " (%s, %u ms)", s->reason, s->last_latency_us / 1000);
}

static int c_health(const struct cmd_env *env, struct args *a, struct sbuf *out)
{
    (void)a;
    const struct store_pools *sp = env->store ? store_pools(env->store) : NULL;
    if (!sp || sp->npools == 0) {
        sbuf_puts(out, "no pools\n");
        return 0;
    }
    sbuf_printf(out, "%-12s %-12s %-26s %-20s %-8s %-9s %-30s %8s %9s  %s\n", "POOL", "MEMBER",
                "ADDRESS", "CHECK", "STATE", "SINCE", "LAST RESULT", "LATENCY", "OK/FAIL",
                "OVERRIDE");
    for (size_t p = 0; p < sp->npools; p++) {
        const struct pool *pool = &sp->pools[p];
        for (size_t i = 0; i < pool->nmembers; i++) {
            const struct pool_member *m = &pool->members[i];
            const struct target *t = &sp->targets[m->target];
            struct sbuf check = SBUF_INIT, since = SBUF_INIT, ovr = SBUF_INIT;
            put_check(&check, t);
            struct hmap_slot copy;
            const struct hmap_slot *s = member_slot(env, m, &copy);
            if (s && s->since_ms)
                put_duration(&since, env->now_ms - s->since_ms);
            else
                sbuf_puts(&since, "-");
            put_override(&ovr, env, m->okey);
            char lat[24] = "-";
            if (s && s->last_probe_ms)
                snprintf(lat, sizeof(lat), "%.1fms", s->last_latency_us / 1000.0);
            char counts[24];
            snprintf(counts, sizeof(counts), "%u/%u", s ? s->ok_run : 0, s ? s->fail_run : 0);
            sbuf_printf(out, "%-12s %-12s %-26s %-20s %-8s %-9s %-30.30s %8s %9s  %s\n", pool->name,
                        m->name, m->addr.text, sbuf_str(&check),
                        s ? verdict_text(hmap_verdict_of(s)) : "-", sbuf_str(&since),
                        s && s->last_probe_ms ? s->reason : "-", lat, counts, sbuf_str(&ovr));
            sbuf_free(&check);
            sbuf_free(&since);
            sbuf_free(&ovr);
        }
    }
    return 0;
}

/* Finds the members a MEMBER argument names. Returns how many were stored in ret. */
static size_t find_members(const struct cmd_env *env,
                           const char *spec,
                           const struct pool **pools,
                           const struct pool_member **ret,
                           size_t max)
{
    const struct store_pools *sp = env->store ? store_pools(env->store) : NULL;
    size_t n = 0;
    const char *slash = strchr(spec, '/');
    struct pool_addr addr;
    bool is_addr = !slash && (inet_pton(AF_INET, spec, addr.bytes) == 1 ||
                              inet_pton(AF_INET6, spec, addr.bytes) == 1);
    for (size_t p = 0; sp && p < sp->npools; p++) {
        const struct pool *pool = &sp->pools[p];
        for (size_t i = 0; i < pool->nmembers && n < max; i++) {
            const struct pool_member *m = &pool->members[i];
            bool hit = false;
            if (slash)
                hit = strlen(pool->name) == (size_t)(slash - spec) &&
                      strncmp(pool->name, spec, (size_t)(slash - spec)) == 0 &&
                      strcmp(m->name, slash + 1) == 0;
            else if (is_addr)
                hit = (m->addr.family == AF_INET ? inet_pton(AF_INET, spec, addr.bytes) == 1 &&
                                                       memcmp(addr.bytes, m->addr.bytes, 4) == 0
                                                 : inet_pton(AF_INET6, spec, addr.bytes) == 1 &&
                                                       memcmp(addr.bytes, m->addr.bytes, 16) == 0);
            if (hit) {
                pools[n] = pool;
                ret[n++] = m;
            }
        }
    }
    return n;
}

static int usage(struct sbuf *out, const char *why, const char *line)
{
    sbuf_printf(out, "error: %s\nusage: %s\n", why, line);
    return -EINVAL;
}

static int
c_override(const struct cmd_env *env, struct args *a, struct sbuf *out, enum override_kind kind)
{
    const char *use = kind == OVERRIDE_NONE
                          ? "auto MEMBER"
                          : (kind == OVERRIDE_DRAIN  ? "drain MEMBER [for DURATION] [reason TEXT]"
                             : kind == OVERRIDE_DOWN ? "down MEMBER [for DURATION] [reason TEXT]"
                                                     : "up MEMBER [for DURATION] [reason TEXT]");
    if (a->n < 2)
        return usage(out, "which member?", use);
    int64_t until = 0;
    char reason[OVERRIDES_REASON_MAX] = "";
    for (int i = 2; i < a->n; i++) {
        if (kind != OVERRIDE_NONE && strcmp(a->v[i], "for") == 0 && i + 1 < a->n) {
            int64_t ms;
            if (cmd_parse_duration(a->v[i + 1], &ms) < 0) {
                char why[160];
                snprintf(why, sizeof(why), "'%.40s' is not a duration (90, 90s, 15m, 2h, 1d)",
                         a->v[i + 1]);
                return usage(out, why, use);
            }
            until = env->now_ms + ms;
            i++;
        } else if (kind != OVERRIDE_NONE && strcmp(a->v[i], "reason") == 0 && i + 1 < a->n) {
            size_t o = 0;
            for (int k = i + 1; k < a->n; k++)
                o += (size_t)snprintf(reason + o, o < sizeof(reason) ? sizeof(reason) - o : 0,
                                      "%s%s", k > i + 1 ? " " : "", a->v[k]);
            break;
        } else {
            char why[160];
            snprintf(why, sizeof(why), "unexpected '%.40s'", a->v[i]);
            return usage(out, why, use);
        }
    }
    if (!env->overrides) {
        sbuf_puts(out, "error: overrides are unavailable (no state directory)\n");
        return -EINVAL;
    }
    const struct pool *pools[64];
    const struct pool_member *ms[64];
    size_t n = find_members(env, a->v[1], pools, ms, 64);
    if (n == 0) {
        char why[200];
        snprintf(why, sizeof(why),
                 "no member '%.60s' (name it POOL/NAME or by address; see "
                 "'health')",
                 a->v[1]);
        return usage(out, why, use);
    }
    for (size_t i = 0; i < n; i++) {
        struct errbuf err;
        if (overrides_set(env->overrides, pools[i]->name, ms[i]->name, kind, until, reason,
                          env->now_ms, &err) < 0)
        {
            sbuf_printf(out, "error: %s\n", err.msg);
            return -EIO;
        }
        sbuf_printf(out, "%s/%s (%s): %s", pools[i]->name, ms[i]->name, ms[i]->addr.text,
                    kind == OVERRIDE_NONE ? "back to the health checks" : override_kind_name(kind));
        if (until) {
            sbuf_puts(out, " for ");
            put_duration(out, until - env->now_ms);
        }
        if (reason[0])
            sbuf_printf(out, " (%s)", reason);
        sbuf_putc(out, '\n');
    }
    return 0;
}

static void explain_pool(const struct cmd_env *env,
                         const struct store_node *n,
                         const struct store_rr *rr,
                         const uint8_t *client,
                         size_t client_len,
                         struct sbuf *out)
{
    const struct pool *p = rr->pool;
    const struct store_pools *sp = store_pools(env->store);
    int family = rr->type == RR_A ? AF_INET : AF_INET6;
    bool up[POOL_MAX_MEMBERS], outm[POOL_MAX_MEMBERS];
    bool stale = false;
    if (env->health) {
        int64_t after = 0;
        for (size_t i = 0; i < sp->ntargets; i++)
            if (!after || 3 * (int64_t)sp->targets[i].check->interval_ms < after)
                after = 3 * (int64_t)sp->targets[i].check->interval_ms;
        stale = hmap_silent_ms(hmap_last_heartbeat(env->health), env_beat(env), 0) > after;
    }
    sbuf_printf(out,
                "%s %s: pool '%s', policy %s (min_healthy %u, max_answers %u, "
                "when_all_down %s), ttl %u\n",
                n->text, rrtype_name(rr->type), p->name, pool_policy_name(p->policy),
                p->min_healthy, p->max_answers,
                p->all_down == POOL_DOWN_ALL    ? "all"
                : p->all_down == POOL_DOWN_NONE ? "none"
                                                : "fallback",
                rr->ttl);
    if (stale)
        sbuf_puts(out, "  the prober has not reported for 3 intervals: answers fail open\n");
    for (size_t i = 0; i < p->nmembers;) {
        uint16_t tier = p->members[i].tier;
        sbuf_printf(out, "  tier %u:\n", tier);
        for (; i < p->nmembers && p->members[i].tier == tier; i++) {
            const struct pool_member *m = &p->members[i];
            enum override_kind ov = env->overrides
                                        ? overrides_get(env->overrides, m->okey, env->now_ms)
                                        : OVERRIDE_NONE;
            enum health_verdict v =
                env->health ? hmap_verdict(env->health, m->target) : HEALTH_UNKNOWN;
            outm[i] = ov == OVERRIDE_DRAIN || ov == OVERRIDE_DOWN;
            up[i] = !outm[i] && (ov == OVERRIDE_UP || stale || v != HEALTH_DOWN);
            sbuf_printf(out, "    %-12s %-26s ", m->name, m->addr.text);
            put_state(out, env, m);
            if (ov != OVERRIDE_NONE) {
                sbuf_puts(out, "; override ");
                put_override(out, env, m->okey);
            }
            if (m->addr.family != family)
                sbuf_printf(out, "; not %s", family == AF_INET ? "IPv4" : "IPv6");
            else
                sbuf_puts(out, up[i] ? "; eligible" : "; not eligible");
            sbuf_putc(out, '\n');
        }
    }
    struct policy_input in = {.up = up, .out = outm, .family = family, .random = 0};
    in.client = client;
    in.client_len = client_len;
    struct policy_answer ans;
    policy_select(p, &in, &ans);
    sbuf_puts(out, "  answer:");
    for (size_t i = 0; i < ans.n; i++)
        sbuf_printf(out, " %s", ans.addrs[i]->text);
    if (!ans.n)
        sbuf_puts(out, " (none: NODATA)");
    sbuf_putc(out, '\n');
    sbuf_puts(out, "  because: ");
    if (ans.why != POLICY_HEALTHY) {
        sbuf_printf(out, "%s\n", policy_why_name(ans.why));
    } else if (p->policy == POOL_ALL) {
        sbuf_puts(out, "policy all answers the healthy members of every tier\n");
    } else {
        size_t healthy = 0;
        for (size_t i = 0; i < p->nmembers; i++)
            healthy +=
                p->members[i].tier == ans.tier && p->members[i].addr.family == family && up[i];
        sbuf_printf(out, "tier %u is the best tier with %s%u healthy %s member%s (%zu)", ans.tier,
                    healthy >= p->min_healthy ? "at least " : "fewer than min_healthy; any ",
                    healthy >= p->min_healthy ? p->min_healthy : 1,
                    family == AF_INET ? "IPv4" : "IPv6", p->min_healthy == 1 ? "" : "s", healthy);
        if (p->policy == POOL_WEIGHTED)
            sbuf_puts(out, "; weighted draws vary per query");
        else if (p->policy == POOL_HASHED)
            sbuf_printf(out, "; hashed for client %s",
                        client_len ? "as given" : "0.0.0.0 (add 'client ADDRESS')");
        else if (ans.n < healthy)
            sbuf_puts(out, "; max_answers rotates the subset");
        sbuf_putc(out, '\n');
    }
}

static int c_explain(const struct cmd_env *env, struct args *a, struct sbuf *out)
{
    const char *use = "explain NAME TYPE [client ADDRESS]";
    if (a->n != 3 && a->n != 5)
        return usage(out, "which name and type?", use);
    uint8_t client[16];
    size_t client_len = 0;
    if (a->n == 5) {
        if (strcmp(a->v[3], "client") != 0)
            return usage(out, "expected 'client ADDRESS'", use);
        if (inet_pton(AF_INET, a->v[4], client) == 1)
            client_len = 4;
        else if (inet_pton(AF_INET6, a->v[4], client) == 1)
            client_len = 16;
        else
            return usage(out, "the client is not an IP address", use);
    }
    uint8_t wire[DNAME_WIRE_MAX];
    struct errbuf err;
    size_t len = strlen(a->v[1]);
    char name[1100];
    snprintf(name, sizeof(name), "%s%s", a->v[1], len && a->v[1][len - 1] == '.' ? "" : ".");
    if (dname_from_text(name, strlen(name), NULL, wire, &err) < 0)
        return usage(out, err.msg, use);
    dname_lower(wire);
    int type = rrtype_from_name(a->v[2], strlen(a->v[2]));
    if (type <= 0) {
        char why[120];
        snprintf(why, sizeof(why), "'%.20s' is not a record type", a->v[2]);
        return usage(out, why, use);
    }
    const struct store_node *n = env->store ? store_find(env->store, wire, -1) : NULL;
    if (!n) {
        sbuf_printf(out, "%s: no such name in any zone (NXDOMAIN, or REFUSED outside the zones)\n",
                    name);
        return 0;
    }
    if (n->nrr == 0) {
        sbuf_printf(out, "%s: an empty non-terminal in zone %s (NODATA)\n", n->text, n->zone->name);
        return 0;
    }
    bool any = false;
    for (uint32_t i = 0; i < n->nrr; i++) {
        const struct store_rr *rr = &n->rrs[i];
        if (type != RR_ANY && rr->type != type)
            continue;
        any = true;
        if (rr->pool)
            explain_pool(env, n, rr, client_len ? client : NULL, client_len, out);
        else
            sbuf_printf(out, "%s %s: static %s (ttl %u)\n", n->text, rrtype_name(rr->type),
                        rr->content, rr->ttl);
    }
    if (!any)
        sbuf_printf(out, "%s %s: no records of this type at this name (NODATA)\n", n->text,
                    rrtype_name(type));
    return 0;
}

static int c_zones(const struct cmd_env *env, struct args *a, struct sbuf *out)
{
    (void)a;
    size_t n = env->store ? store_zone_count(env->store) : 0;
    if (!env->store)
        sbuf_puts(out, "no store loaded\n");
    for (size_t i = 0; i < n; i++) {
        const struct store_zone *z = store_zone_at(env->store, i);
        sbuf_printf(out, "%s id=%u serial=%u records=%u\n", z->name, z->id, z->serial, z->nrecords);
    }
    return 0;
}

static int c_stats(const struct cmd_env *env, struct args *a, struct sbuf *out)
{
    (void)a;
    if (env->store) {
        const struct store_pools *sp = store_pools(env->store);
        sbuf_printf(out, "zones: %zu\nrecords: %zu\npools: %zu\ntargets: %zu\n",
                    store_zone_count(env->store), store_record_count(env->store), sp->npools,
                    sp->ntargets);
    }
    if (env->health) {
        struct hmap_beat hb = hmap_last_heartbeat(env->health);
        int64_t silent = hmap_silent_ms(hb, env_beat(env), 0);
        sbuf_printf(out, "prober pid: %ld\nlast probe: ", hmap_leader_pid(env->health));
        if (silent >= 0)
            put_duration(out, silent), sbuf_puts(out, " ago\n");
        else if (hb.wall_ms) /* before the last reboot */
            put_duration(out, env->now_ms - hb.wall_ms), sbuf_puts(out, " ago\n");
        else
            sbuf_puts(out, "never\n");
    }
    if (env->stats)
        env->stats(env->opaque, out);
    return 0;
}

int cmd_run(const struct cmd_env *env, const char *line, size_t len, struct sbuf *out)
{
    struct args a = {.n = 0};
    if (split(line, len, &a) < 0 || a.n == 0) {
        sbuf_puts(out, a.n == 0 ? "error: empty command\n" : "error: command too long\n");
        sbuf_puts(out, usage_text);
        return -EINVAL;
    }
    const char *c = a.v[0];
    if (strcasecmp(c, "help") == 0) {
        sbuf_puts(out, usage_text);
        return 0;
    }
    if (strcasecmp(c, "version") == 0) {
        sbuf_puts(out, "pdns-failover " PF_VERSION "\n");
        return 0;
    }
    if (strcasecmp(c, "zones") == 0)
        return c_zones(env, &a, out);
    if (strcasecmp(c, "health") == 0)
        return c_health(env, &a, out);
    if (strcasecmp(c, "explain") == 0)
        return c_explain(env, &a, out);
    if (strcasecmp(c, "drain") == 0)
        return c_override(env, &a, out, OVERRIDE_DRAIN);
    if (strcasecmp(c, "down") == 0)
        return c_override(env, &a, out, OVERRIDE_DOWN);
    if (strcasecmp(c, "up") == 0)
        return c_override(env, &a, out, OVERRIDE_UP);
    if (strcasecmp(c, "auto") == 0)
        return c_override(env, &a, out, OVERRIDE_NONE);
    if (strcasecmp(c, "stats") == 0)
        return c_stats(env, &a, out);
    if (strcasecmp(c, "reload") == 0) {
        if (!env->reload) {
            sbuf_puts(out, "error: reload is not available here\n");
            return -EINVAL;
        }
        return env->reload(env->opaque, out);
    }
    /* pdns tooling expects an unknown command to come back as it was sent. */
    sbuf_puts(out, "unknown command: ");
    sbuf_put(out, line, len);
    sbuf_puts(out, " (try 'help')\n");
    return -EINVAL;
}

void cmd_status_json(const struct cmd_env *env, struct sbuf *out)
{
    const struct store_pools *sp = env->store ? store_pools(env->store) : NULL;
    sbuf_puts(out, "{\"members\":[");
    bool first = true;
    for (size_t p = 0; sp && p < sp->npools; p++) {
        const struct pool *pool = &sp->pools[p];
        for (size_t i = 0; i < pool->nmembers; i++) {
            const struct pool_member *m = &pool->members[i];
            const struct target *t = &sp->targets[m->target];
            struct hmap_slot copy;
            const struct hmap_slot *s = member_slot(env, m, &copy);
            struct sbuf check = SBUF_INIT;
            put_check(&check, t);
            if (!first)
                sbuf_putc(out, ',');
            first = false;
            sbuf_puts(out, "{\"pool\":");
            sbuf_json_str(out, pool->name, strlen(pool->name));
            sbuf_puts(out, ",\"member\":");
            sbuf_json_str(out, m->name, strlen(m->name));
            sbuf_printf(out, ",\"address\":\"%s\",\"tier\":%u,\"check\":", m->addr.text, m->tier);
            sbuf_json_str(out, check.p, check.len);
            sbuf_printf(out, ",\"state\":\"%s\"",
                        s ? verdict_text(hmap_verdict_of(s)) : "unchecked");
            if (s && s->since_ms)
                sbuf_printf(out, ",\"since_ms\":%lld", (long long)s->since_ms);
            if (s && s->last_probe_ms) {
                sbuf_printf(
                    out, ",\"last_probe_ms\":%lld,\"last_result\":", (long long)s->last_probe_ms);
                sbuf_json_str(out, s->reason, strnlen(s->reason, sizeof(s->reason)));
                sbuf_printf(out, ",\"latency_ms\":%.3f", s->last_latency_us / 1000.0);
            }
            if (s)
                sbuf_printf(out, ",\"ok_run\":%u,\"fail_run\":%u,\"probes\":%llu", s->ok_run,
                            s->fail_run, (unsigned long long)s->probes);
            struct override_info oi;
            if (env->overrides && overrides_info(env->overrides, m->okey, env->now_ms, &oi)) {
                sbuf_printf(out, ",\"override\":{\"kind\":\"%s\",\"until_ms\":%lld,\"reason\":",
                            override_kind_name(oi.kind), (long long)oi.until_ms);
                sbuf_json_str(out, oi.reason, strlen(oi.reason));
                sbuf_putc(out, '}');
            }
            sbuf_putc(out, '}');
            sbuf_free(&check);
        }
    }
    sbuf_puts(out, "]}\n");
}
