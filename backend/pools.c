/* SPDX-License-Identifier: MIT */
/* Loading of the store's "checks" and "pools" (see pools.h): validation with JSON paths in every
 * message, check definitions, pools with members sorted by tier, and the probe targets, one per
 * distinct (check settings, address, port) so an endpoint is probed once however many pools use
 * it. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend/pools.h"
#include "backend/store_priv.h"
#include "common/xalloc.h"
#include "health/expect.h"
#include "health/overrides.h"

struct named_check {
    const char *name;
    struct check_def *def;
};

struct store_pools_builder {
    struct named_check *checks;
    size_t nchecks;
    struct pool *pools; /* arena, sized for every key of "pools" */
    const char **pool_keys;
    size_t npools;
    struct target *targets; /* heap while building */
    size_t ntargets, cap;
};

/* The builder's pools field points at this (store_priv.h keeps it opaque). */
#define PB(b) ((struct store_pools_builder *)(b)->pools)

bool pool_cacheable(const struct pool *p)
{
    return (p->policy == POOL_FAILOVER || p->policy == POOL_ALL) && p->nmembers <= p->max_answers &&
           p->nfallback <= p->max_answers;
}

const char *pool_policy_name(enum pool_policy p)
{
    static const char *const names[] = {
        [POOL_FAILOVER] = "failover",
        [POOL_ALL] = "all",
        [POOL_WEIGHTED] = "weighted",
        [POOL_HASHED] = "hashed",
    };
    return names[p];
}

static struct store_pools_builder *pb(struct builder *b)
{
    if (!b->pools)
        b->pools = (struct store_pools *)xcalloc(1, sizeof(struct store_pools_builder));
    return PB(b);
}

/* ---- field helpers ------------------------------------------------------------------------ */

static int
get_range(struct builder *b, json_object *v, const char *what, long min, long max, long *out)
{
    char shown[96];
    if (json_object_is_type(v, json_type_int)) {
        errno = 0;
        int64_t x = json_object_get_int64(v);
        if (errno == 0 && x >= min && x <= max) {
            *out = (long)x;
            return 0;
        }
    }
    errlist_add(b->errs, "%s: %s must be a whole number from %ld to %ld, got %s",
                sbuf_str(&b->path), what, min, max, sb_show_value(v, shown, sizeof(shown)));
    return -EINVAL;
}

/* Seconds (whole or fractional) into milliseconds, within [min_ms, max_ms]. */
static int get_duration(struct builder *b,
                        json_object *v,
                        const char *what,
                        uint32_t min_ms,
                        uint32_t max_ms,
                        uint32_t *out)
{
    char shown[96];
    if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
        /* The bounds apply to what is stored, so round first: checking s * 1000 against
         * max_ms + 0.5 let 86400.0005 s through as 86400001 ms (half rounds away from zero). */
        double ms = round(json_object_get_double(v) * 1000.0);
        if (isfinite(ms) && ms >= min_ms && ms <= max_ms) {
            *out = (uint32_t)ms;
            return 0;
        }
    }
    errlist_add(b->errs, "%s: %s must be a number of seconds from %g to %g, got %s",
                sbuf_str(&b->path), what, min_ms / 1000.0, max_ms / 1000.0,
                sb_show_value(v, shown, sizeof(shown)));
    return -EINVAL;
}

static const char *get_string(struct builder *b, json_object *v, const char *what)
{
    return sb_expect_type(b, v, json_type_string, what) ? json_object_get_string(v) : NULL;
}

static int parse_addr(const char *text, struct pool_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, text, a->bytes) == 1)
        a->family = AF_INET;
    else if (inet_pton(AF_INET6, text, a->bytes) == 1)
        a->family = AF_INET6;
    else
        return -EINVAL;
    inet_ntop(a->family, a->bytes, a->text, sizeof(a->text));
    return 0;
}

static int get_addr(struct builder *b, json_object *v, struct pool_addr *a)
{
    const char *s = get_string(b, v, "an IPv4 or IPv6 address");
    if (!s)
        return -EINVAL;
    if (parse_addr(s, a) < 0) {
        errlist_add(b->errs, "%s: '%.80s' is not an IPv4 or IPv6 address", sbuf_str(&b->path), s);
        return -EINVAL;
    }
    return 0;
}

static bool printable_token(const char *s, const char *extra)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr(extra, *s)))
            return false;
    return true;
}

/* ---- checks ------------------------------------------------------------------------------- */

static const char check_keys[] = "type, port, path, host, method, expect, body, headers, "
                                 "tls_verify, ca_file, interval, timeout, rise, fall";

static struct check_def *parse_check(struct builder *b, json_object *obj)
{
    struct check_def *c = arena_zalloc(b->arena, sizeof(*c));
    size_t mark = b->path.len, errs0 = errlist_count(b->errs);
    json_object *jtype = NULL, *jtimeout = NULL;
    bool http_only_seen = false, tls_only_seen = false;
    const char *http_key = NULL, *tls_key = NULL;
    long v;

    if (!sb_expect_type(b, obj, json_type_object,
                        "a check object like {\"type\": \"http\", \"path\": \"/health\"}"))
        return NULL;
    c->path = "/";
    c->tls_verify = true;
    c->interval_ms = 5000;
    c->rise = 2;
    c->fall = 3;

    json_object_object_get_ex(obj, "type", &jtype);
    sbuf_puts(&b->path, ".type");
    if (!jtype) {
        errlist_add(b->errs, "%s: missing (\"http\", \"https\" or \"tcp\")", sbuf_str(&b->path));
    } else {
        const char *t = get_string(b, jtype, "\"http\", \"https\" or \"tcp\"");
        if (t && strcmp(t, "http") == 0)
            c->type = CHECK_HTTP;
        else if (t && strcmp(t, "https") == 0)
            c->type = CHECK_HTTPS;
        else if (t && strcmp(t, "tcp") == 0)
            c->type = CHECK_TCP;
        else if (t)
            errlist_add(b->errs, "%s: '%.40s' is not a check type (http, https, tcp)",
                        sbuf_str(&b->path), t);
    }
    sbuf_truncate(&b->path, mark);

    struct expect_range *ranges = NULL;
    json_object_object_foreach(obj, key, val)
    {
        sbuf_putc(&b->path, '.');
        sbuf_puts(&b->path, key);
        if (strcmp(key, "type") == 0) {
            /* done above */
        } else if (strcmp(key, "port") == 0) {
            if (get_range(b, val, "port", 1, 65535, &v) == 0)
                c->port = (uint16_t)v;
        } else if (strcmp(key, "path") == 0) {
            const char *s = get_string(b, val, "a path starting with '/'");
            http_only_seen = true;
            http_key = "path";
            if (s &&
                (s[0] != '/' || strlen(s) > 400 || !printable_token(s, "/-._~%!$&'()*+,;=:@?")))
                errlist_add(b->errs,
                            "%s: '%.80s' is not a URL path (it starts with '/' and has no "
                            "spaces or control characters)",
                            sbuf_str(&b->path), s);
            else if (s)
                c->path = arena_strndup(b->arena, s, strlen(s));
        } else if (strcmp(key, "host") == 0) {
            const char *s = get_string(b, val, "a host name");
            http_only_seen = true;
            http_key = "host";
            if (s && (strlen(s) > 253 || !printable_token(s, "-._")))
                errlist_add(b->errs, "%s: '%.80s' is not a host name", sbuf_str(&b->path), s);
            else if (s)
                c->host = arena_strndup(b->arena, s, strlen(s));
        } else if (strcmp(key, "method") == 0) {
            const char *s = get_string(b, val, "\"GET\" or \"HEAD\"");
            http_only_seen = true;
            http_key = "method";
            if (s && strcasecmp(s, "HEAD") == 0)
                c->head = true;
            else if (s && strcasecmp(s, "GET") != 0)
                errlist_add(b->errs, "%s: '%.40s' is not a method (GET, HEAD)", sbuf_str(&b->path),
                            s);
        } else if (strcmp(key, "expect") == 0) {
            http_only_seen = true;
            http_key = "expect";
            size_t n =
                json_object_is_type(val, json_type_array) ? json_object_array_length(val) : 1;
            ranges = arena_zalloc(b->arena, (n + 1) * sizeof(*ranges));
            if (json_object_is_type(val, json_type_array) && n == 0)
                errlist_add(b->errs, "%s: empty list (leave it out for 200 only)",
                            sbuf_str(&b->path));
            for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_is_type(val, json_type_array)
                                     ? json_object_array_get_idx(val, i)
                                     : val;
                size_t m2 = b->path.len;
                if (json_object_is_type(val, json_type_array))
                    sbuf_printf(&b->path, "[%zu]", i);
                const char *s = get_string(b, e,
                                           "a status such as \"200\", \"2xx\" or "
                                           "\"200-399\"");
                struct errbuf err;
                if (s && expect_parse(s, &ranges[c->nexpect], &err) < 0)
                    errlist_add(b->errs, "%s: %s", sbuf_str(&b->path), err.msg);
                else if (s)
                    c->nexpect++;
                sbuf_truncate(&b->path, m2);
            }
            c->expect = ranges;
        } else if (strcmp(key, "body") == 0) {
            const char *s = get_string(b, val, "a string");
            http_only_seen = true;
            http_key = "body";
            if (s && (!*s || strlen(s) > 1024))
                errlist_add(b->errs, "%s: must be 1 to 1024 bytes long", sbuf_str(&b->path));
            else if (s)
                c->body = arena_strndup(b->arena, s, strlen(s));
        } else if (strcmp(key, "headers") == 0) {
            http_only_seen = true;
            http_key = "headers";
            if (sb_expect_type(b, val, json_type_object, "an object of header names and values")) {
                size_t n = (size_t)json_object_object_length(val);
                const char **h = arena_zalloc(b->arena, (n + 1) * sizeof(*h));
                json_object_object_foreach(val, hname, hval)
                {
                    size_t m2 = b->path.len;
                    sb_path_key(&b->path, hname);
                    const char *s = get_string(b, hval, "a string");
                    if (!printable_token(hname, "-_"))
                        errlist_add(b->errs, "%s: '%.60s' is not a header name", sbuf_str(&b->path),
                                    hname);
                    else if (s && strpbrk(s, "\r\n"))
                        errlist_add(b->errs, "%s: a header value cannot contain line breaks",
                                    sbuf_str(&b->path));
                    else if (s) {
                        struct sbuf line = SBUF_INIT;
                        sbuf_printf(&line, "%s: %s", hname, s);
                        h[c->nheaders++] = arena_strndup(b->arena, line.p, line.len);
                        sbuf_free(&line);
                    }
                    sbuf_truncate(&b->path, m2);
                }
                c->headers = h;
            }
        } else if (strcmp(key, "tls_verify") == 0) {
            tls_only_seen = true;
            tls_key = "tls_verify";
            if (sb_expect_type(b, val, json_type_boolean, "true or false"))
                c->tls_verify = json_object_get_boolean(val);
        } else if (strcmp(key, "ca_file") == 0) {
            tls_only_seen = true;
            tls_key = "ca_file";
            const char *s = get_string(b, val, "a file path");
            if (s && s[0] != '/')
                errlist_add(b->errs, "%s: '%.80s' is not an absolute path", sbuf_str(&b->path), s);
            else if (s)
                c->ca_file = arena_strndup(b->arena, s, strlen(s));
        } else if (strcmp(key, "interval") == 0) {
            get_duration(b, val, "interval", 100, 86400000, &c->interval_ms);
        } else if (strcmp(key, "timeout") == 0) {
            jtimeout = val;
            get_duration(b, val, "timeout", 50, 3600000, &c->timeout_ms);
        } else if (strcmp(key, "rise") == 0) {
            if (get_range(b, val, "rise", 1, 100, &v) == 0)
                c->rise = (uint16_t)v;
        } else if (strcmp(key, "fall") == 0) {
            if (get_range(b, val, "fall", 1, 100, &v) == 0)
                c->fall = (uint16_t)v;
        } else {
            sbuf_truncate(&b->path, mark);
            sb_unknown_key(b, key, check_keys);
        }
        sbuf_truncate(&b->path, mark);
    }
    if (errlist_count(b->errs) > errs0)
        return NULL;
    if (c->type == CHECK_TCP && http_only_seen)
        errlist_add(b->errs, "%s.%s: only http and https checks have this", sbuf_str(&b->path),
                    http_key);
    if (c->type != CHECK_HTTPS && tls_only_seen)
        errlist_add(b->errs, "%s.%s: only https checks have this", sbuf_str(&b->path), tls_key);
    if (!jtimeout) /* default: 2 s, but always below the interval */
        c->timeout_ms = c->interval_ms / 2 < 2000 ? c->interval_ms / 2 : 2000;
    else if (c->timeout_ms >= c->interval_ms)
        errlist_add(b->errs,
                    "%s.timeout: %g s must be less than the interval (%g s), so that probes of "
                    "one endpoint never overlap",
                    sbuf_str(&b->path), c->timeout_ms / 1000.0, c->interval_ms / 1000.0);
    return errlist_count(b->errs) > errs0 ? NULL : c;
}

void pools_parse_checks(struct builder *b, json_object *checks)
{
    struct store_pools_builder *p = pb(b);
    size_t mark = b->path.len;
    if (!sb_expect_type(b, checks, json_type_object, "an object of named checks"))
        return;
    p->checks = xcalloc((size_t)json_object_object_length(checks) + 1, sizeof(*p->checks));
    json_object_object_foreach(checks, name, obj)
    {
        sb_path_key(&b->path, name);
        struct check_def *c = parse_check(b, obj);
        if (c) {
            p->checks[p->nchecks].name = name;
            p->checks[p->nchecks++].def = c;
        }
        sbuf_truncate(&b->path, mark);
    }
}

/* ---- targets ------------------------------------------------------------------------------ */

static uint64_t fnv64(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t target_key(const struct check_def *c, const struct pool_addr *a, uint16_t port)
{
    struct sbuf s = SBUF_INIT;
    sbuf_printf(&s, "%d|%u|%s|%s|%d|%s|%d|%s|%u|%u|%u|%u|", (int)c->type, port, c->path,
                c->host ? c->host : "", c->head, c->body ? c->body : "", c->tls_verify,
                c->ca_file ? c->ca_file : "", c->interval_ms, c->timeout_ms, c->rise, c->fall);
    for (size_t i = 0; i < c->nexpect; i++)
        sbuf_printf(&s, "%u-%u,", c->expect[i].lo, c->expect[i].hi);
    for (size_t i = 0; i < c->nheaders; i++)
        sbuf_printf(&s, "|%s", c->headers[i]);
    sbuf_printf(&s, "|%s", a->text);
    uint64_t h = fnv64(1469598103934665603ull, s.p, s.len);
    sbuf_free(&s);
    return h;
}

static uint32_t add_target(struct builder *b,
                           const struct check_def *c,
                           const struct pool_addr *a,
                           uint16_t port,
                           const char *member)
{
    struct store_pools_builder *p = pb(b);
    uint64_t key = target_key(c, a, port);
    for (size_t i = 0; i < p->ntargets; i++)
        if (p->targets[i].key == key)
            return (uint32_t)i;
    if (p->ntargets == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->targets = xrealloc(p->targets, p->cap * sizeof(*p->targets));
    }
    struct target *t = &p->targets[p->ntargets];
    memset(t, 0, sizeof(*t));
    t->check = c;
    memcpy(t->address, a->text, sizeof(t->address));
    t->family = a->family;
    t->port = port;
    t->key = key;
    struct sbuf l = SBUF_INIT;
    if (a->family == AF_INET6)
        sbuf_printf(&l, "%s [%s]:%u", member, a->text, port);
    else
        sbuf_printf(&l, "%s %s:%u", member, a->text, port);
    t->label = arena_strndup(b->arena, l.p, l.len);
    sbuf_free(&l);
    return (uint32_t)p->ntargets++;
}

/* ---- pools -------------------------------------------------------------------------------- */

static const char member_keys[] = "name, address, tier, weight, check_address, check_port";
static const char pool_keys[] = "policy, check, members, max_answers, min_healthy, when_all_down";

static bool parse_member(struct builder *b,
                         json_object *obj,
                         const struct check_def *check,
                         struct pool_member *m,
                         const struct pool_member *prev,
                         size_t nprev)
{
    size_t mark = b->path.len, errs0 = errlist_count(b->errs);
    struct pool_addr check_addr;
    bool have_check_addr = false;
    long v, check_port = 0;
    json_object *jname = NULL, *jaddr = NULL;

    if (!sb_expect_type(b, obj, json_type_object,
                        "a member like {\"name\": \"web1\", \"address\": \"192.0.2.1\"}"))
        return false;
    m->tier = 1;
    m->weight = 1;
    json_object_object_foreach(obj, key, val)
    {
        sbuf_putc(&b->path, '.');
        sbuf_puts(&b->path, key);
        if (strcmp(key, "name") == 0) {
            jname = val;
        } else if (strcmp(key, "address") == 0) {
            jaddr = val;
        } else if (strcmp(key, "tier") == 0) {
            if (get_range(b, val, "tier", 1, 255, &v) == 0)
                m->tier = (uint16_t)v;
        } else if (strcmp(key, "weight") == 0) {
            if (get_range(b, val, "weight", 1, 1000000, &v) == 0)
                m->weight = (uint32_t)v;
        } else if (strcmp(key, "check_address") == 0) {
            have_check_addr = get_addr(b, val, &check_addr) == 0;
        } else if (strcmp(key, "check_port") == 0) {
            get_range(b, val, "check_port", 1, 65535, &check_port);
        } else {
            sbuf_truncate(&b->path, mark);
            sb_unknown_key(b, key, member_keys);
        }
        sbuf_truncate(&b->path, mark);
    }
    sbuf_puts(&b->path, ".name");
    if (!jname) {
        errlist_add(b->errs, "%s: missing (every member needs a name)", sbuf_str(&b->path));
    } else {
        const char *s = get_string(b, jname, "a name such as \"web1\"");
        if (s && (strlen(s) > 63 || !printable_token(s, "-._")))
            errlist_add(b->errs,
                        "%s: '%.80s' is not a member name (letters, digits, '-', '.', "
                        "'_'; at most 63)",
                        sbuf_str(&b->path), s);
        else if (s) {
            m->name = arena_strndup(b->arena, s, strlen(s));
            for (size_t i = 0; i < nprev; i++)
                if (prev[i].name && strcmp(prev[i].name, s) == 0)
                    errlist_add(b->errs, "%s: '%s' is already a member of this pool",
                                sbuf_str(&b->path), s);
        }
    }
    sbuf_truncate(&b->path, mark);
    sbuf_puts(&b->path, ".address");
    if (!jaddr)
        errlist_add(b->errs, "%s: missing (every member needs an address)", sbuf_str(&b->path));
    else
        get_addr(b, jaddr, &m->addr);
    sbuf_truncate(&b->path, mark);
    if (errlist_count(b->errs) > errs0 || !check)
        return false;

    uint16_t port = check_port ? (uint16_t)check_port : check->port;
    if (!port && check->type == CHECK_TCP) {
        errlist_add(b->errs,
                    "%s: a tcp check needs a port: set \"port\" in the check or \"check_port\" "
                    "on the member",
                    sbuf_str(&b->path));
        return false;
    }
    if (!port)
        port = check->type == CHECK_HTTPS ? 443 : 80;
    m->target = add_target(b, check, have_check_addr ? &check_addr : &m->addr, port, m->name);
    return true;
}

static int member_cmp(const void *pa, const void *pb_)
{
    const struct pool_member *a = pa, *c = pb_;
    return a->tier < c->tier ? -1 : a->tier > c->tier;
}

static void parse_pool(struct builder *b, json_object *obj, struct pool *pool)
{
    struct store_pools_builder *p = pb(b);
    size_t mark = b->path.len, errs0 = errlist_count(b->errs);
    const struct check_def *check = NULL;
    json_object *jmembers = NULL, *jcheck = NULL;
    long v;

    if (!sb_expect_type(b, obj, json_type_object, "a pool object"))
        return;
    pool->policy = POOL_FAILOVER;
    pool->max_answers = 8;
    pool->min_healthy = 1;
    pool->all_down = POOL_DOWN_ALL;
    json_object_object_foreach(obj, key, val)
    {
        sbuf_putc(&b->path, '.');
        sbuf_puts(&b->path, key);
        if (strcmp(key, "policy") == 0) {
            const char *s = get_string(b, val, "a policy name");
            if (s && strcmp(s, "failover") == 0)
                pool->policy = POOL_FAILOVER;
            else if (s && strcmp(s, "all") == 0)
                pool->policy = POOL_ALL;
            else if (s && strcmp(s, "weighted") == 0)
                pool->policy = POOL_WEIGHTED;
            else if (s && strcmp(s, "hashed") == 0)
                pool->policy = POOL_HASHED;
            else if (s)
                errlist_add(b->errs,
                            "%s: '%.40s' is not a policy (failover, all, weighted, hashed)",
                            sbuf_str(&b->path), s);
        } else if (strcmp(key, "check") == 0) {
            jcheck = val;
        } else if (strcmp(key, "members") == 0) {
            jmembers = val;
        } else if (strcmp(key, "max_answers") == 0) {
            if (get_range(b, val, "max_answers", 1, 64, &v) == 0)
                pool->max_answers = (uint16_t)v;
        } else if (strcmp(key, "min_healthy") == 0) {
            if (get_range(b, val, "min_healthy", 1, 1000, &v) == 0)
                pool->min_healthy = (uint16_t)v;
        } else if (strcmp(key, "when_all_down") == 0) {
            json_object *fb;
            if (json_object_is_type(val, json_type_string) &&
                strcmp(json_object_get_string(val), "all") == 0) {
                pool->all_down = POOL_DOWN_ALL;
            } else if (json_object_is_type(val, json_type_string) &&
                       strcmp(json_object_get_string(val), "none") == 0)
            {
                pool->all_down = POOL_DOWN_NONE;
            } else if (json_object_is_type(val, json_type_object) &&
                       json_object_object_length(val) == 1 &&
                       json_object_object_get_ex(val, "fallback", &fb))
            {
                sbuf_puts(&b->path, ".fallback");
                if (sb_expect_type(b, fb, json_type_array, "an array of addresses")) {
                    size_t n = json_object_array_length(fb);
                    struct pool_addr *a = arena_zalloc(b->arena, (n + 1) * sizeof(*a));
                    if (n == 0)
                        errlist_add(b->errs, "%s: empty list of addresses", sbuf_str(&b->path));
                    for (size_t i = 0; i < n; i++) {
                        size_t m2 = b->path.len;
                        sbuf_printf(&b->path, "[%zu]", i);
                        if (get_addr(b, json_object_array_get_idx(fb, i), &a[pool->nfallback]) == 0)
                            pool->nfallback++;
                        sbuf_truncate(&b->path, m2);
                    }
                    pool->fallback = a;
                    pool->all_down = POOL_DOWN_FALLBACK;
                }
            } else {
                char shown[96];
                errlist_add(b->errs,
                            "%s: expected \"all\", \"none\" or {\"fallback\": [\"addresses\"]}, "
                            "got %s",
                            sbuf_str(&b->path), sb_show_value(val, shown, sizeof(shown)));
            }
        } else {
            sbuf_truncate(&b->path, mark);
            sb_unknown_key(b, key, pool_keys);
        }
        sbuf_truncate(&b->path, mark);
    }

    sbuf_puts(&b->path, ".check");
    if (!jcheck) {
        errlist_add(b->errs, "%s: missing (a check name from \"checks\" or a check object)",
                    sbuf_str(&b->path));
    } else if (json_object_is_type(jcheck, json_type_string)) {
        const char *name = json_object_get_string(jcheck);
        for (size_t i = 0; i < p->nchecks; i++)
            if (strcmp(p->checks[i].name, name) == 0)
                check = p->checks[i].def;
        if (!check)
            errlist_add(b->errs, "%s: there is no check '%.80s' in \"checks\"", sbuf_str(&b->path),
                        name);
    } else {
        check = parse_check(b, jcheck);
    }
    sbuf_truncate(&b->path, mark);

    sbuf_puts(&b->path, ".members");
    if (!jmembers) {
        errlist_add(b->errs, "%s: missing (a pool needs at least one member)", sbuf_str(&b->path));
    } else if (sb_expect_type(b, jmembers, json_type_array, "an array of members")) {
        size_t n = json_object_array_length(jmembers);
        unsigned max = store_get_limits()->max_members;
        if (n > max) {
            errlist_add(b->errs, "%s: %zu members; a pool has at most %u (--max-members)",
                        sbuf_str(&b->path), n, max);
            n = 0;
        }
        struct pool_member *m = arena_zalloc(b->arena, (n + 1) * sizeof(*m));
        if (n == 0 && json_object_array_length(jmembers) == 0)
            errlist_add(b->errs, "%s: empty (a pool needs at least one member)",
                        sbuf_str(&b->path));
        for (size_t i = 0; i < n; i++) {
            size_t m2 = b->path.len;
            sbuf_printf(&b->path, "[%zu]", i);
            if (parse_member(b, json_object_array_get_idx(jmembers, i), check, &m[pool->nmembers],
                             m, pool->nmembers))
                pool->nmembers++;
            sbuf_truncate(&b->path, m2);
        }
        /* Stable: members of one tier keep their file order. */
        for (size_t i = 1; i < pool->nmembers; i++)
            for (size_t j = i; j > 0 && member_cmp(&m[j], &m[j - 1]) < 0; j--) {
                struct pool_member t = m[j];
                m[j] = m[j - 1];
                m[j - 1] = t;
            }
        for (size_t i = 0; i < pool->nmembers; i++)
            m[i].okey = overrides_key(pool->name, m[i].name);
        pool->members = m;
    }
    sbuf_truncate(&b->path, mark);
    (void)errs0;
}

void pools_parse_pools(struct builder *b, json_object *pools)
{
    struct store_pools_builder *p = pb(b);
    size_t mark = b->path.len;
    if (!sb_expect_type(b, pools, json_type_object, "an object of named pools"))
        return;
    size_t n = (size_t)json_object_object_length(pools);
    p->pools = arena_zalloc(b->arena, (n + 1) * sizeof(*p->pools));
    json_object_object_foreach(pools, name, obj)
    {
        sb_path_key(&b->path, name);
        struct pool *pool = &p->pools[p->npools++];
        pool->name = arena_strndup(b->arena, name, strlen(name));
        parse_pool(b, obj, pool);
        sbuf_truncate(&b->path, mark);
    }
}

const struct pool *pools_lookup(const struct builder *b, const char *name)
{
    const struct store_pools_builder *p = b->pools ? PB(b) : NULL;
    for (size_t i = 0; p && i < p->npools; i++)
        if (strcmp(p->pools[i].name, name) == 0)
            return &p->pools[i];
    return NULL;
}

void pools_finish(struct builder *b, struct arena *a, struct store_pools *out)
{
    memset(out, 0, sizeof(*out));
    if (!b->pools)
        return;
    struct store_pools_builder *p = PB(b);
    out->pools = p->pools;
    out->npools = p->npools;
    out->targets = arena_memdup(a, p->targets, p->ntargets * sizeof(*p->targets));
    out->ntargets = p->ntargets;
}

void pools_free_builder(struct builder *b)
{
    if (!b->pools)
        return;
    struct store_pools_builder *p = PB(b);
    free(p->checks);
    free(p->targets);
    free(p);
    b->pools = NULL;
}
