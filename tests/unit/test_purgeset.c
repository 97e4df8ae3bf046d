/* SPDX-License-Identifier: MIT */
/* Unit tests for backend/purgeset (the purge patterns of a store, per probe target) and
 * pool_cacheable() (backend/pools.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "backend/pools.h"
#include "backend/purgeset.h"
#include "helpers.h"

#define PDNS_KEY "\"pdns\": {\"control_socket\": \"/run/pdns/pdns.controlsocket\"}, "

/* Pools: web (failover, web1 192.0.2.1 and web2 192.0.2.2 in tier 2), dyn (failover, at the
 * wildcard *.dyn), sticky (hashed, shares 192.0.2.2 with web2), big ("all" with three members
 * and max_answers 2), api ("all", shares 192.0.2.1 with web1). Around www: web CNAME www, alias
 * CNAME web, the apex MX and an SRV naming www, a delegation whose NS is www, and c1/c2 whose MX
 * records name www and each other (a cycle reachable from www). loop1/loop2 are a CNAME cycle
 * that reaches no pool. */
#define POOLS_AND_ZONES                                                                            \
    "\"checks\": {\"c\": {\"type\": \"http\"}}, "                                                  \
    "\"pools\": {"                                                                                 \
    "\"web\": {\"check\": \"c\", \"members\": [{\"name\": \"web1\", \"address\": \"192.0.2.1\"}, " \
    "{\"name\": \"web2\", \"address\": \"192.0.2.2\", \"tier\": 2}]}, "                            \
    "\"dyn\": {\"check\": \"c\", \"members\": [{\"name\": \"d1\", \"address\": \"192.0.2.3\"}]}, " \
    "\"sticky\": {\"check\": \"c\", \"policy\": \"hashed\", \"members\": [{\"name\": \"s1\", "     \
    "\"address\": \"192.0.2.2\"}, {\"name\": \"s2\", \"address\": \"192.0.2.5\"}]}, "              \
    "\"big\": {\"check\": \"c\", \"policy\": \"all\", \"max_answers\": 2, \"members\": ["          \
    "{\"name\": \"b1\", \"address\": \"192.0.2.6\"}, {\"name\": \"b2\", \"address\": "             \
    "\"192.0.2.7\"}, {\"name\": \"b3\", \"address\": \"192.0.2.8\"}]}, "                           \
    "\"api\": {\"check\": \"c\", \"policy\": \"all\", \"members\": [{\"name\": \"a1\", "           \
    "\"address\": \"192.0.2.1\"}, {\"name\": \"a2\", \"address\": \"192.0.2.9\"}]}}, "             \
    "\"zones\": {\"example.com.\": {\"records\": {"                                                \
    "\"@\": [{\"type\": \"SOA\", \"content\": \"ns1 hostmaster 1 7200 3600 1209600 300\"}, "       \
    "{\"type\": \"NS\", \"content\": \"ns1\"}, {\"type\": \"MX\", \"content\": \"10 www\"}], "     \
    "\"ns1\": [{\"type\": \"A\", \"content\": \"192.0.2.53\"}], "                                  \
    "\"www\": [{\"type\": \"A\", \"pool\": \"web\"}, {\"type\": \"TXT\", \"content\": \"hi\"}], "  \
    "\"web\": [{\"type\": \"CNAME\", \"content\": \"www\"}], "                                     \
    "\"alias\": [{\"type\": \"CNAME\", \"content\": \"web.example.com.\"}], "                      \
    "\"_http._tcp\": [{\"type\": \"SRV\", \"content\": \"0 5 80 www\"}], "                         \
    "\"deleg\": [{\"type\": \"NS\", \"content\": \"www.example.com.\"}], "                         \
    "\"c1\": [{\"type\": \"MX\", \"content\": \"10 www\"}, {\"type\": \"MX\", \"content\": "       \
    "\"20 c2\"}], "                                                                                \
    "\"c2\": [{\"type\": \"MX\", \"content\": \"10 c1\"}], "                                       \
    "\"loop1\": [{\"type\": \"CNAME\", \"content\": \"loop2\"}], "                                 \
    "\"loop2\": [{\"type\": \"CNAME\", \"content\": \"loop1\"}], "                                 \
    "\"*.dyn\": [{\"type\": \"A\", \"pool\": \"dyn\"}], "                                          \
    "\"sticky\": [{\"type\": \"A\", \"pool\": \"sticky\"}], "                                      \
    "\"to-sticky\": [{\"type\": \"CNAME\", \"content\": \"sticky\"}], "                            \
    "\"big\": [{\"type\": \"A\", \"pool\": \"big\"}], "                                            \
    "\"to-big\": [{\"type\": \"CNAME\", \"content\": \"big\"}], "                                  \
    "\"api\": [{\"type\": \"A\", \"pool\": \"api\"}]"                                              \
    "}}}"

static const char purge_store[] = "{" PDNS_KEY POOLS_AND_ZONES "}";
static const char bypass_store[] = "{" POOLS_AND_ZONES "}";

static const struct pool *pool_named(const store_t *s, const char *name)
{
    const struct store_pools *sp = store_pools(s);
    for (size_t i = 0; i < sp->npools; i++)
        if (strcmp(sp->pools[i].name, name) == 0)
            return &sp->pools[i];
    fail_msg("no pool '%s'", name);
    return NULL;
}

/* The probe target of member `member` of pool `pool`. */
static size_t target_of(const store_t *s, const char *pool, const char *member)
{
    const struct pool *p = pool_named(s, pool);
    for (size_t i = 0; i < p->nmembers; i++)
        if (strcmp(p->members[i].name, member) == 0)
            return p->members[i].target;
    fail_msg("no member '%s' in pool '%s'", member, pool);
    return 0;
}

static void print_list(const char *what, const char *const *v, size_t n)
{
    print_error("%s (%zu):\n", what, n);
    for (size_t i = 0; i < n; i++)
        print_error("  '%s'\n", v[i]);
}

/* Fails unless got[n] equals want[nwant] exactly, in order. */
static void assert_patterns(const char *const *got, size_t n, const char *const *want, size_t nwant)
{
    bool same = n == nwant;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(got[i], want[i]) == 0;
    if (!same) {
        print_list("got", got, n);
        print_list("want", want, nwant);
        fail();
    }
}

/* A literal list of patterns and its length, for assert_patterns() and expect_target(). */
#define WANT(...)                       \
    (const char *const[]){__VA_ARGS__}, \
        sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)

static void expect_target(const purgeset_t *ps, size_t ti, const char *const *want, size_t nwant)
{
    size_t n = 99;
    const char *const *v = purgeset_for_target(ps, ti, &n);
    assert_patterns(v, n, want, nwant);
}

static void expect_target_empty(const purgeset_t *ps, size_t ti)
{
    size_t n = 99;
    const char *const *v = purgeset_for_target(ps, ti, &n);
    if (n != 0)
        print_list("got", v, n);
    assert_int_equal(n, 0);
}

static void test_purgeset_target_of_a_failover_pool_purges_its_name_and_dependents(void **state)
{
    (void)state;
    store_t *s = helpers_build(purge_store);
    purgeset_t *ps = purgeset_build(s);
    /* www, the names whose cached packets carry it; web2 (192.0.2.2) is also s1 of the hashed
     * pool, whose name and to-sticky come along */
    expect_target(ps, target_of(s, "web", "web2"),
                  WANT("_http._tcp.example.com.", "alias.example.com.", "c1.example.com.",
                       "c2.example.com.", "deleg.example.com.", "example.com.",
                       "sticky.example.com.", "to-sticky.example.com.", "web.example.com.",
                       "www.example.com."));
    assert_int_equal(target_of(s, "web", "web2"), target_of(s, "sticky", "s1"));
    purgeset_free(ps);
    store_free(s);
}

static void test_purgeset_target_shared_by_two_pools_purges_both_pools_names(void **state)
{
    (void)state;
    store_t *s = helpers_build(purge_store);
    purgeset_t *ps = purgeset_build(s);
    size_t shared = target_of(s, "web", "web1");
    assert_int_equal(shared, target_of(s, "api", "a1"));
    expect_target(ps, shared,
                  WANT("_http._tcp.example.com.", "alias.example.com.", "api.example.com.",
                       "c1.example.com.", "c2.example.com.", "deleg.example.com.", "example.com.",
                       "web.example.com.", "www.example.com."));
    /* api's other member: api's name only */
    expect_target(ps, target_of(s, "api", "a2"), WANT("api.example.com."));
    purgeset_free(ps);
    store_free(s);
}

static void test_purgeset_wildcard_pool_name_purges_below_its_parent(void **state)
{
    (void)state;
    store_t *s = helpers_build(purge_store);
    purgeset_t *ps = purgeset_build(s);
    expect_target(ps, target_of(s, "dyn", "d1"), WANT("dyn.example.com.$"));
    purgeset_free(ps);
    store_free(s);
}

/* Their answers carry a scopeMask, but an empty one (NODATA) has no record to carry it, and
 * pdns's packet cache keeps it (found by tests/soak: a weighted pool answered NODATA for 20 s,
 * pdns's cache-ttl, after its members came back). */
static void test_purgeset_pools_that_are_not_cacheable_purge_their_names_too(void **state)
{
    (void)state;
    store_t *s = helpers_build(purge_store);
    purgeset_t *ps = purgeset_build(s);
    /* hashed: s2 is its own */
    expect_target(ps, target_of(s, "sticky", "s2"),
                  WANT("sticky.example.com.", "to-sticky.example.com."));
    /* "all" with more members than max_answers */
    expect_target(ps, target_of(s, "big", "b1"), WANT("big.example.com.", "to-big.example.com."));
    expect_target(ps, target_of(s, "big", "b2"), WANT("big.example.com.", "to-big.example.com."));
    expect_target(ps, target_of(s, "big", "b3"), WANT("big.example.com.", "to-big.example.com."));
    purgeset_free(ps);
    store_free(s);
}

static void test_purgeset_all_holds_every_pattern_once_sorted(void **state)
{
    (void)state;
    store_t *s = helpers_build(purge_store);
    purgeset_t *ps = purgeset_build(s);
    size_t n = 99;
    const char *const *v = purgeset_all(ps, &n);
    assert_patterns(v, n,
                    WANT("_http._tcp.example.com.", "alias.example.com.", "api.example.com.",
                         "big.example.com.", "c1.example.com.", "c2.example.com.",
                         "deleg.example.com.", "dyn.example.com.$", "example.com.",
                         "sticky.example.com.", "to-big.example.com.", "to-sticky.example.com.",
                         "web.example.com.", "www.example.com."));
    purgeset_free(ps);
    store_free(s);
}

static void test_purgeset_is_empty_without_the_pdns_key(void **state)
{
    (void)state;
    store_t *s = helpers_build(bypass_store);
    assert_null(store_pdns_control(s));
    purgeset_t *ps = purgeset_build(s);
    assert_non_null(ps);
    const struct store_pools *sp = store_pools(s);
    assert_true(sp->ntargets >= 8);
    for (size_t t = 0; t < sp->ntargets; t++)
        expect_target_empty(ps, t);
    size_t n = 99;
    purgeset_all(ps, &n);
    assert_int_equal(n, 0);
    purgeset_free(ps);
    store_free(s);
}

static void test_purgeset_is_empty_for_a_store_without_pools(void **state)
{
    (void)state;
    store_t *s =
        helpers_build("{" PDNS_KEY "\"zones\": {\"example.com.\": {\"records\": {" HELPERS_APEX
                      ", \"www\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}]}}}}");
    purgeset_t *ps = purgeset_build(s);
    size_t n = 99;
    purgeset_all(ps, &n);
    assert_int_equal(n, 0);
    n = 99;
    purgeset_for_target(ps, 0, &n);
    assert_int_equal(n, 0);
    purgeset_free(ps);
    store_free(s);
}

static void test_purgeset_answers_nothing_for_an_unknown_target_or_no_set(void **state)
{
    (void)state;
    store_t *s = helpers_build(purge_store);
    purgeset_t *ps = purgeset_build(s);
    size_t n = 99;
    purgeset_for_target(ps, store_pools(s)->ntargets, &n);
    assert_int_equal(n, 0);
    n = 99;
    purgeset_for_target(NULL, 0, &n);
    assert_int_equal(n, 0);
    n = 99;
    purgeset_all(NULL, &n);
    assert_int_equal(n, 0);
    purgeset_free(ps);
    purgeset_free(NULL);
    store_free(s);
}

static void test_purgeset_terminates_on_cname_cycles(void **state)
{
    (void)state;
    /* Cycles among www's dependents: b's MX names c, whose CNAME is b; self's MX names self.
     * And a CNAME cycle (x, y) that leads to no pool at all. */
    store_t *s = helpers_build(
        "{" PDNS_KEY
        "\"checks\": {\"c\": {\"type\": \"http\"}}, \"pools\": {\"p\": {\"check\": \"c\", "
        "\"members\": [{\"name\": \"m\", \"address\": \"192.0.2.1\"}]}}, "
        "\"zones\": {\"example.com.\": {\"records\": {" HELPERS_APEX
        ", \"www\": [{\"type\": \"A\", \"pool\": \"p\"}], "
        "\"a\": [{\"type\": \"CNAME\", \"content\": \"www\"}], "
        "\"b\": [{\"type\": \"MX\", \"content\": \"10 a\"}, {\"type\": \"MX\", \"content\": "
        "\"20 c\"}], "
        "\"c\": [{\"type\": \"CNAME\", \"content\": \"b\"}], "
        "\"d\": [{\"type\": \"CNAME\", \"content\": \"c\"}], "
        "\"self\": [{\"type\": \"MX\", \"content\": \"10 self\"}, {\"type\": \"MX\", "
        "\"content\": \"20 www\"}], "
        "\"x\": [{\"type\": \"CNAME\", \"content\": \"y\"}], "
        "\"y\": [{\"type\": \"CNAME\", \"content\": \"x\"}]}}}}");
    purgeset_t *ps = purgeset_build(s);
    expect_target(ps, 0,
                  WANT("a.example.com.", "b.example.com.", "c.example.com.", "d.example.com.",
                       "self.example.com.", "www.example.com."));
    purgeset_free(ps);
    store_free(s);
}

static void test_purgeset_follows_a_cname_to_a_name_of_a_wildcard_pool(void **state)
{
    (void)state;
    /* pdns follows host CNAME x.dyn into the wildcard's answer and caches it under host; the
     * same for deep (a.b.dyn: b.dyn does not exist, dyn is the closest encloser). real.dyn
     * exists, so the wildcard does not answer it, nor what points there. */
    store_t *s = helpers_build(
        "{" PDNS_KEY
        "\"checks\": {\"c\": {\"type\": \"http\"}}, \"pools\": {\"p\": {\"check\": \"c\", "
        "\"members\": [{\"name\": \"m\", \"address\": \"192.0.2.1\"}]}}, "
        "\"zones\": {\"example.com.\": {\"records\": {" HELPERS_APEX
        ", \"*.dyn\": [{\"type\": \"A\", \"pool\": \"p\"}], "
        "\"real.dyn\": [{\"type\": \"A\", \"content\": \"192.0.2.7\"}], "
        "\"host\": [{\"type\": \"CNAME\", \"content\": \"x.dyn\"}], "
        "\"deep\": [{\"type\": \"CNAME\", \"content\": \"a.b.dyn.example.com.\"}], "
        "\"to-real\": [{\"type\": \"CNAME\", \"content\": \"real.dyn\"}], "
        "\"elsewhere\": [{\"type\": \"CNAME\", \"content\": \"x.dyn.example.net.\"}]}}}}");
    purgeset_t *ps = purgeset_build(s);
    char got[512] = "";
    size_t n;
    const char *const *v = purgeset_for_target(ps, 0, &n);
    for (size_t i = 0; i < n; i++)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "", v[i]);
    purgeset_free(ps); /* before asserting: a failure leaks nothing under valgrind */
    store_free(s);
    assert_string_equal(got, "deep.example.com. dyn.example.com.$ host.example.com.");
}

/* ---- pool_cacheable --------------------------------------------------------------------- */

static void test_pool_cacheable_only_when_health_alone_picks_the_answer(void **state)
{
    (void)state;
    static const struct {
        enum pool_policy policy;
        size_t nmembers, nfallback;
        uint16_t max_answers;
        bool want;
    } cases[] = {
        {POOL_FAILOVER, 1, 0, 8, true},  {POOL_FAILOVER, 8, 0, 8, true},
        {POOL_FAILOVER, 9, 0, 8, false}, {POOL_ALL, 3, 0, 3, true},
        {POOL_ALL, 4, 0, 3, false},      {POOL_ALL, 2, 2, 2, true},
        {POOL_ALL, 2, 3, 2, false},      {POOL_FAILOVER, 1, 9, 8, false},
        {POOL_WEIGHTED, 1, 0, 8, false}, {POOL_WEIGHTED, 3, 0, 64, false},
        {POOL_HASHED, 1, 0, 8, false},   {POOL_HASHED, 2, 0, 1, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pool p = {.name = "p",
                         .policy = cases[i].policy,
                         .nmembers = cases[i].nmembers,
                         .nfallback = cases[i].nfallback,
                         .max_answers = cases[i].max_answers,
                         .min_healthy = 1};
        if (pool_cacheable(&p) != cases[i].want)
            fail_msg("case %zu: %s, %zu members, %zu fallback, max_answers %u: want %s", i,
                     pool_policy_name(p.policy), p.nmembers, p.nfallback, p.max_answers,
                     cases[i].want ? "cacheable" : "not cacheable");
    }
}

static void test_pool_cacheable_of_the_pools_of_a_store(void **state)
{
    (void)state;
    store_t *s = helpers_build(purge_store);
    assert_true(pool_cacheable(pool_named(s, "web")));
    assert_true(pool_cacheable(pool_named(s, "dyn")));
    assert_true(pool_cacheable(pool_named(s, "api")));
    assert_false(pool_cacheable(pool_named(s, "sticky")));
    assert_false(pool_cacheable(pool_named(s, "big")));
    store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_purgeset_target_of_a_failover_pool_purges_its_name_and_dependents),
        cmocka_unit_test(test_purgeset_target_shared_by_two_pools_purges_both_pools_names),
        cmocka_unit_test(test_purgeset_wildcard_pool_name_purges_below_its_parent),
        cmocka_unit_test(test_purgeset_pools_that_are_not_cacheable_purge_their_names_too),
        cmocka_unit_test(test_purgeset_all_holds_every_pattern_once_sorted),
        cmocka_unit_test(test_purgeset_is_empty_without_the_pdns_key),
        cmocka_unit_test(test_purgeset_is_empty_for_a_store_without_pools),
        cmocka_unit_test(test_purgeset_answers_nothing_for_an_unknown_target_or_no_set),
        cmocka_unit_test(test_purgeset_terminates_on_cname_cycles),
        cmocka_unit_test(test_purgeset_follows_a_cname_to_a_name_of_a_wildcard_pool),
        cmocka_unit_test(test_pool_cacheable_only_when_health_alone_picks_the_answer),
        cmocka_unit_test(test_pool_cacheable_of_the_pools_of_a_store),
    };
    return cmocka_run_group_tests_name("purgeset", tests, NULL, NULL);
}
