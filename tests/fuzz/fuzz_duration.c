/* SPDX-License-Identifier: MIT */
/* Fuzz target: every parser of a duration. The input is read twice:
 *
 *  - as the DURATION of `drain MEMBER for DURATION` (a C string, as the control socket and
 *    directBackendCmd split it): cmd_parse_duration() must accept exactly what a plain reading
 *    of its grammar accepts ("N", "Ns", "Nm", "Nh", "Nd"; 1 s to 366 days) with the same number
 *    of milliseconds, and `drain` must refuse exactly those others, quoting them;
 *  - as the raw JSON value of each duration key of a small store (a check's "interval" and
 *    "timeout", a record's, a pool record's and a zone's "ttl"): store_build() must fail iff it
 *    reports errors, give what json-c's tree of the same text gives (store_build_tree(): the
 *    text walk reads record TTLs itself), keep every check interval, timeout and TTL of a built
 *    store within its documented bounds and, when the input is one JSON value, take exactly the
 *    numbers the documentation allows, or name the key in its message. */
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/commands.h"
#include "backend/pools.h"
#include "backend/store.h"
#include "backend/store_priv.h"
#include "common/errlist.h"
#include "common/sbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *why, const char *input)
{
    fprintf(stderr, "fuzz_duration: %s: '%s'\n", why, input);
    abort();
}

/* ---- cmd_parse_duration() ----------------------------------------------------------------- */

#define DAY_MS   86400000LL
#define MAX_CMD  (366 * DAY_MS)
#define DRAIN_AT "drain x for "

/* commands.h's grammar, read the obvious way: digits, at most one unit letter, nothing else. */
static bool ref_cmd_duration(const char *s, int64_t *ms)
{
    uint64_t v = 0;
    bool big = false;
    size_t i = 0;
    if (s[0] < '0' || s[0] > '9')
        return false;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        /* 366 days is 31622400 s: past 10^9 the exact value no longer matters */
        if (v > 1000000000)
            big = true;
        else
            v = v * 10 + (uint64_t)(s[i] - '0');
    }
    int64_t unit = 1000;
    if (s[i] == 's')
        i++;
    else if (s[i] == 'm')
        unit = 60000, i++;
    else if (s[i] == 'h')
        unit = 3600000, i++;
    else if (s[i] == 'd')
        unit = DAY_MS, i++;
    if (s[i] || big || v == 0 || (int64_t)v * unit > MAX_CMD)
        return false;
    *ms = (int64_t)v * unit;
    return true;
}

static void check_cmd_duration(const char *s)
{
    int64_t got = -1, want = -1;
    int r = cmd_parse_duration(s, &got);
    bool ok = ref_cmd_duration(s, &want);
    if (r != 0 && r != -EINVAL)
        fail("cmd_parse_duration returned neither 0 nor -EINVAL", s);
    if ((r == 0) != ok)
        fail(ok ? "cmd_parse_duration refused a duration" : "cmd_parse_duration accepted junk", s);
    if (ok && (got != want || got < 1000 || got > MAX_CMD))
        fail("cmd_parse_duration gave the wrong milliseconds", s);

    /* Through the command, which owns the message: a token only (the line is split at
     * whitespace), and short enough for one command line. With no override table, a good
     * duration gets as far as "overrides are unavailable". */
    size_t len = strlen(s);
    if (len == 0 || len > 900 || strpbrk(s, " \t\r\n"))
        return;
    char line[1024];
    int n = snprintf(line, sizeof(line), DRAIN_AT "%s", s);
    struct cmd_env env = {0};
    struct sbuf out = SBUF_INIT;
    r = cmd_run(&env, line, (size_t)n, &out);
    const char *text = sbuf_str(&out);
    char quoted[48];
    snprintf(quoted, sizeof(quoted), "'%.40s'", s);
    if (r != -EINVAL)
        fail("drain without an override table did not fail", s);
    if (ok && !strstr(text, "overrides are unavailable"))
        fail("drain refused a good duration", s);
    if (!ok && (!strstr(text, "is not a duration") || !strstr(text, quoted)))
        fail("drain did not name the bad duration", s);
    sbuf_free(&out);
}

/* ---- the store ---------------------------------------------------------------------------- */

#define APEX                                                                                 \
    "\"@\": [{\"type\": \"SOA\", \"content\": \"ns1 hostmaster 1 7200 3600 1209600 300\"}, " \
    "{\"type\": \"NS\", \"content\": \"ns1\"}]"
#define POOL_P                                                                            \
    "\"pools\": {\"p\": {\"check\": \"c\", \"members\": [{\"name\": \"a\", \"address\": " \
    "\"192.0.2.1\"}]}}, "

enum key { K_INTERVAL, K_TIMEOUT, K_RECORD_TTL, K_POOL_TTL, K_ZONE_TTL, NKEYS };

/* Each key's store, split where the value goes. The timeout's check has the longest interval,
 * so that every timeout the range allows is below it; the interval's has no timeout, whose
 * default is always below the interval. */
static const struct {
    const char *name; /* as it ends the JSON path in messages */
    const char *before, *after;
} templates[NKEYS] = {
    [K_INTERVAL] = {"interval",
                    "{\"checks\": {\"c\": {\"type\": \"tcp\", \"port\": 53, \"interval\": ",
                    "}}, " POOL_P "\"zones\": {\"example.com.\": {\"records\": {" APEX
                    ", \"w\": [{\"type\": \"A\", \"pool\": \"p\"}]}}}}"},
    [K_TIMEOUT] = {"timeout",
                   "{\"checks\": {\"c\": {\"type\": \"tcp\", \"port\": 53, \"interval\": 86400, "
                   "\"timeout\": ",
                   "}}, " POOL_P "\"zones\": {\"example.com.\": {\"records\": {" APEX
                   ", \"w\": [{\"type\": \"A\", \"pool\": \"p\"}]}}}}"},
    [K_RECORD_TTL] = {"ttl",
                      "{\"zones\": {\"example.com.\": {\"records\": {" APEX
                      ", \"w\": [{\"type\": \"A\", \"content\": \"192.0.2.1\", \"ttl\": ",
                      "}]}}}}"},
    [K_POOL_TTL] = {"ttl",
                    "{\"checks\": {\"c\": {\"type\": \"tcp\", \"port\": 53}}, " POOL_P
                    "\"zones\": {\"example.com.\": {\"records\": {" APEX
                    ", \"w\": [{\"type\": \"A\", \"pool\": \"p\", \"ttl\": ",
                    "}]}}}}"},
    [K_ZONE_TTL] = {"ttl", "{\"zones\": {\"example.com.\": {\"ttl\": ",
                    ", \"records\": {" APEX ", \"w\": [{\"type\": \"A\", \"content\": "
                    "\"192.0.2.1\"}]}}}}"},
};

/* w.example.com., where each template's record is. */
static const uint8_t www[] = "\x01w\x07"
                             "example\x03"
                             "com";

/* The input as one JSON value (json-c, strict, as the store reads values), or NULL when it is
 * anything else: then splicing it in may change the store's shape, and only the invariants
 * that hold for every store are checked. */
static json_object *single_value(const uint8_t *data, size_t size)
{
    if (size == 0 || memchr(data, '\0', size))
        return NULL;
    /* A trailing space ends a number, which json-c otherwise waits to see continue. */
    char *buf = malloc(size + 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    buf[size] = ' ';
    json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
    if (!tok)
        abort();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *v = json_tokener_parse_ex(tok, buf, (int)size + 1);
    size_t end = json_tokener_get_parse_end(tok);
    if (json_tokener_get_error(tok) != json_tokener_success)
        end = 0;
    while (end && end <= size && strchr(" \t\r\n", buf[end]))
        end++;
    json_tokener_free(tok);
    free(buf);
    if (end != size + 1) {
        json_object_put(v);
        return NULL;
    }
    return v;
}

/* What the documentation says the key takes from value v: true and the stored number in *want,
 * or false. Check times are seconds, whole or fractional, stored as whole milliseconds within
 * [min, max] ms; TTLs whole numbers from 0 to STORE_TTL_MAX. */
static bool expected(enum key k, json_object *v, uint32_t *want)
{
    if (k == K_INTERVAL || k == K_TIMEOUT) {
        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
            return false;
        double ms = round(json_object_get_double(v) * 1000.0);
        double lo = k == K_INTERVAL ? 100 : 50, hi = k == K_INTERVAL ? 86400000 : 3600000;
        if (!(ms >= lo && ms <= hi))
            return false;
        *want = (uint32_t)ms;
        return true;
    }
    if (!json_object_is_type(v, json_type_int))
        return false;
    errno = 0;
    int64_t x = json_object_get_int64(v);
    if (errno || x < 0 || x > (int64_t)STORE_TTL_MAX)
        return false;
    *want = (uint32_t)x;
    return true;
}

/* The key's value in a built store, or UINT64_MAX when the template's parts are missing. */
static uint64_t stored(enum key k, const store_t *s)
{
    const struct store_pools *sp = store_pools(s);
    if (k == K_INTERVAL || k == K_TIMEOUT) {
        if (sp->ntargets == 0)
            return UINT64_MAX;
        const struct check_def *c = sp->targets[0].check;
        return k == K_INTERVAL ? c->interval_ms : c->timeout_ms;
    }
    const struct store_node *n = store_find(s, www, -1);
    return n && n->nrr ? n->rrs[0].ttl : UINT64_MAX;
}

/* Whatever was spliced in: every check and TTL of the store within bounds. Also dumps them to
 * o, to compare the text walk's store with the tree's. */
static void check_bounds(const store_t *s, const char *input, struct sbuf *o)
{
    const struct store_pools *sp = store_pools(s);
    for (size_t i = 0; i < sp->ntargets; i++) {
        const struct check_def *c = sp->targets[i].check;
        sbuf_printf(o, "target %zu interval %u timeout %u rise %u fall %u\n", i, c->interval_ms,
                    c->timeout_ms, c->rise, c->fall);
        if (c->interval_ms < 100 || c->interval_ms > 86400000)
            fail("a check interval is outside 0.1 s to 86400 s", input);
        if (c->timeout_ms < 50 || c->timeout_ms > 3600000 || c->timeout_ms >= c->interval_ms)
            fail("a check timeout is outside 0.05 s to 3600 s or not below the interval", input);
    }
    for (size_t zi = 0; zi < store_zone_count(s); zi++) {
        const struct store_zone *z = store_zone_at(s, zi);
        sbuf_printf(o, "zone %s\n", z->name);
        for (size_t k = 0; k < z->nnodes; k++)
            for (uint32_t j = 0; j < z->nodes[k]->nrr; j++) {
                const struct store_rr *rr = &z->nodes[k]->rrs[j];
                sbuf_printf(o, " %s %u %u\n", z->nodes[k]->text, rr->type, rr->ttl);
                if (rr->ttl > STORE_TTL_MAX)
                    fail("a TTL is above 2^31 - 1", input);
            }
    }
}

typedef int (*build_fn)(const char *, size_t, store_t **, struct errlist *);

/* Builds doc with fn: returns the store (or NULL) and its messages, one a line, in msgs. */
static store_t *build(build_fn fn, const struct sbuf *doc, const char *input, struct sbuf *msgs)
{
    struct errlist errs = ERRLIST_INIT;
    store_t *s = NULL;
    int r = fn(doc->p, doc->len, &s, &errs);
    if (r != 0 && r != -EINVAL)
        fail("store_build returned neither 0 nor -EINVAL", input);
    if ((r < 0) != (errlist_count(&errs) > 0) || (r < 0) != (s == NULL))
        fail(r < 0 ? "the store failed without a message" : "the store was built with messages",
             input);
    for (size_t i = 0; i < errs.n; i++)
        sbuf_printf(msgs, "%s\n", errs.msgs[i]);
    errlist_free(&errs);
    return s;
}

static void
check_store_key(enum key k, const uint8_t *data, size_t size, json_object *value, const char *input)
{
    struct sbuf doc = SBUF_INIT, msgs = SBUF_INIT, tree_msgs = SBUF_INIT;
    struct sbuf dump = SBUF_INIT, tree_dump = SBUF_INIT;
    sbuf_puts(&doc, templates[k].before);
    sbuf_put(&doc, (const char *)data, size);
    sbuf_puts(&doc, templates[k].after);

    store_t *s = build(store_build, &doc, input, &msgs);
    store_t *t = build(store_build_tree, &doc, input, &tree_msgs);
    if (s)
        check_bounds(s, input, &dump);
    if (t)
        check_bounds(t, input, &tree_dump);
    if (strcmp(sbuf_str(&msgs), sbuf_str(&tree_msgs)) != 0 ||
        strcmp(sbuf_str(&dump), sbuf_str(&tree_dump)) != 0)
    {
        fprintf(stderr, "text walk:\n%s%s\ntree:\n%s%s\n", sbuf_str(&msgs), sbuf_str(&dump),
                sbuf_str(&tree_msgs), sbuf_str(&tree_dump));
        fail("store_build and store_build_tree disagree", input);
    }

    uint32_t want = 0;
    if (value && expected(k, value, &want)) {
        if (!s) {
            fprintf(stderr, "%s", sbuf_str(&msgs));
            fail("the store refused a value the documentation allows", input);
        }
        if (stored(k, s) != want) {
            fprintf(stderr, "%s: stored %llu, expected %u\n", templates[k].name,
                    (unsigned long long)stored(k, s), want);
            fail("the store holds another value than the one given", input);
        }
    } else if (value) {
        if (s)
            fail("the store accepted a value the documentation does not allow", input);
        /* The message names the key, so that the operator finds it. */
        char key[24];
        snprintf(key, sizeof(key), ".%s: ", templates[k].name);
        if (!strstr(sbuf_str(&msgs), key))
            fail("no message names the key", input);
    }
    store_free(s);
    store_free(t);
    sbuf_free(&doc);
    sbuf_free(&msgs);
    sbuf_free(&tree_msgs);
    sbuf_free(&dump);
    sbuf_free(&tree_dump);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *input = malloc(size + 1);
    if (!input)
        abort();
    memcpy(input, data, size);
    input[size] = '\0';

    check_cmd_duration(input);

    json_object *value = single_value(data, size);
    for (int k = 0; k < NKEYS; k++)
        check_store_key((enum key)k, data, size, value, input);
    json_object_put(value);
    free(input);
    return 0;
}
