/* SPDX-License-Identifier: MIT */
/* Unit tests for purge mode in the store and in lookups: with "pdns": {"control_socket"}, names
 * whose pools are all cacheable are answered without a scopeMask (their static records too);
 * names of other pools, and every pool name without "pdns", keep it; an empty pool answer's ENT
 * carries it exactly when its name is scoped. And the validation of the "pdns" key. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dispatch.h"
#include "backend/pools.h"
#include "health/hmap.h"
#include "helpers.h"

#define PDNS_KEY "\"pdns\": {\"control_socket\": \"/run/pdns/pdns.controlsocket\"}, "

/* web: failover (cacheable); sticky, sticky6: hashed; big: "all" beyond max_answers; gone and
 * gone-hashed: a failover and a hashed pool with when_all_down "none", one member each. */
#define POOLS_AND_ZONES                                                                            \
    "\"checks\": {\"c\": {\"type\": \"http\"}}, "                                                  \
    "\"pools\": {"                                                                                 \
    "\"web\": {\"check\": \"c\", \"members\": [{\"name\": \"web1\", \"address\": \"192.0.2.1\"}, " \
    "{\"name\": \"web2\", \"address\": \"192.0.2.2\", \"tier\": 2}]}, "                            \
    "\"sticky\": {\"check\": \"c\", \"policy\": \"hashed\", \"members\": [{\"name\": \"s1\", "     \
    "\"address\": \"192.0.2.3\"}, {\"name\": \"s2\", \"address\": \"192.0.2.4\"}]}, "              \
    "\"sticky6\": {\"check\": \"c\", \"policy\": \"hashed\", \"members\": [{\"name\": \"s6\", "    \
    "\"address\": \"2001:db8::1\"}]}, "                                                            \
    "\"big\": {\"check\": \"c\", \"policy\": \"all\", \"max_answers\": 1, \"members\": ["          \
    "{\"name\": \"b1\", \"address\": \"192.0.2.6\"}, {\"name\": \"b2\", \"address\": "             \
    "\"192.0.2.7\"}]}, "                                                                           \
    "\"gone\": {\"check\": \"c\", \"when_all_down\": \"none\", \"members\": [{\"name\": \"g1\", "  \
    "\"address\": \"192.0.2.8\"}]}, "                                                              \
    "\"gone-hashed\": {\"check\": \"c\", \"policy\": \"hashed\", \"when_all_down\": \"none\", "    \
    "\"members\": [{\"name\": \"h1\", \"address\": \"192.0.2.9\"}]}}, "                            \
    "\"zones\": {\"example.com.\": {\"records\": {" HELPERS_APEX ", "                              \
    "\"www\": [{\"type\": \"A\", \"pool\": \"web\"}, {\"type\": \"TXT\", \"content\": \"hi\"}], "  \
    "\"sticky\": [{\"type\": \"A\", \"pool\": \"sticky\"}, {\"type\": \"TXT\", \"content\": "      \
    "\"hi\"}], "                                                                                   \
    "\"mixed\": [{\"type\": \"A\", \"pool\": \"web\"}, {\"type\": \"AAAA\", \"pool\": "            \
    "\"sticky6\"}], "                                                                              \
    "\"big\": [{\"type\": \"A\", \"pool\": \"big\"}], "                                            \
    "\"gone\": [{\"type\": \"A\", \"pool\": \"gone\"}], "                                          \
    "\"gone-hashed\": [{\"type\": \"A\", \"pool\": \"gone-hashed\"}], "                            \
    "\"static\": [{\"type\": \"A\", \"content\": \"192.0.2.99\"}]}}}"

static const char purge_store[] = "{" PDNS_KEY POOLS_AND_ZONES "}";
static const char bypass_store[] = "{" POOLS_AND_ZONES "}";

/* The answer of www (web's tier 1 and the TXT record) without a scopeMask. */
#define WWW_ANY_CACHEABLE                                                                     \
    "{\"result\":[{\"qtype\":\"A\",\"qname\":\"www.example.com.\",\"content\":\"192.0.2.1\"," \
    "\"ttl\":30},{\"qtype\":\"TXT\",\"qname\":\"www.example.com.\",\"content\":"              \
    "\"\\\"hi\\\"\",\"ttl\":3600}]}\n"
#define WWW_ANY_SCOPED                                                                        \
    "{\"result\":[{\"qtype\":\"A\",\"qname\":\"www.example.com.\",\"content\":\"192.0.2.1\"," \
    "\"ttl\":30,\"scopeMask\":32},{\"qtype\":\"TXT\",\"qname\":\"www.example.com.\","         \
    "\"content\":\"\\\"hi\\\"\",\"ttl\":3600,\"scopeMask\":32}]}\n"

struct fx {
    store_t *s;
    dispatch_t *d;
    struct sbuf out;
    char *dir;
    hmap_t *map;
};

/* A dispatcher for store json, kept in *state so that the teardown frees it (and removes its
 * health map's directory) even when the test fails. */
static struct fx *fx_new(void **state, const char *json)
{
    struct fx *f = calloc(1, sizeof(*f));
    *state = f;
    f->s = helpers_build(json);
    f->d = dispatch_new(NULL, NULL);
    dispatch_set_store(f->d, f->s);
    return f;
}

static void fx_free(struct fx *f)
{
    sbuf_free(&f->out);
    dispatch_free(f->d);
    hmap_close(f->map);
    store_free(f->s);
    if (f->dir) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f->dir);
    }
    free(f);
}

static void fx_done(void **state)
{
    fx_free(*state);
    *state = NULL;
}

static int teardown(void **state)
{
    if (*state)
        fx_done(state);
    return 0;
}

static const char *lookup(struct fx *f, const char *qname, const char *qtype)
{
    char req[256];
    snprintf(req, sizeof(req),
             "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"%s\", \"qtype\": \"%s\", "
             "\"zone-id\": -1}}",
             qname, qtype);
    struct session ss = {0};
    struct errbuf err;
    sbuf_reset(&f->out);
    assert_int_equal(dispatch_request(f->d, &ss, req, strlen(req), &f->out, &err), 0);
    return sbuf_str(&f->out);
}

static size_t occurrences(const char *text, const char *part)
{
    size_t n = 0;
    for (const char *p = strstr(text, part); p; p = strstr(p + 1, part))
        n++;
    return n;
}

/* Every record of the reply carries the scopeMask (and there is at least one). */
static void expect_all_scoped(const char *reply)
{
    size_t records = occurrences(reply, "\"qtype\":");
    if (records == 0 || occurrences(reply, ",\"scopeMask\":32}") != records)
        fail_msg("not every record has the scopeMask: %s", reply);
}

static void expect_none_scoped(const char *reply)
{
    if (occurrences(reply, "\"qtype\":") == 0 || strstr(reply, "scopeMask"))
        fail_msg("want records without a scopeMask: %s", reply);
}

static const struct store_node *node(const struct fx *f, const char *name)
{
    const struct store_node *n = helpers_find(f->s, name, -1);
    assert_non_null(n);
    return n;
}

static void test_purgemode_failover_pool_name_is_answered_without_a_scope_mask(void **state)
{
    struct fx *f = fx_new(state, purge_store);
    assert_string_equal(store_pdns_control(f->s), "/run/pdns/pdns.controlsocket");
    assert_true(node(f, "www.example.com.")->dynamic);
    assert_false(node(f, "www.example.com.")->scoped);
    /* the static TXT record at the name has none either */
    assert_string_equal(lookup(f, "www.example.com.", "ANY"), WWW_ANY_CACHEABLE);
    assert_string_equal(lookup(f, "www.example.com.", "A"),
                        "{\"result\":[{\"qtype\":\"A\",\"qname\":\"www.example.com.\","
                        "\"content\":\"192.0.2.1\",\"ttl\":30}]}\n");
    assert_string_equal(lookup(f, "www.example.com.", "TXT"),
                        "{\"result\":[{\"qtype\":\"TXT\",\"qname\":\"www.example.com.\","
                        "\"content\":\"\\\"hi\\\"\",\"ttl\":3600}]}\n");
    fx_done(state);
}

static void test_purgemode_hashed_pool_name_keeps_the_scope_mask(void **state)
{
    struct fx *f = fx_new(state, purge_store);
    assert_true(node(f, "sticky.example.com.")->scoped);
    expect_all_scoped(lookup(f, "sticky.example.com.", "ANY"));
    expect_all_scoped(lookup(f, "sticky.example.com.", "A"));
    assert_string_equal(lookup(f, "sticky.example.com.", "TXT"),
                        "{\"result\":[{\"qtype\":\"TXT\",\"qname\":\"sticky.example.com.\","
                        "\"content\":\"\\\"hi\\\"\",\"ttl\":3600,\"scopeMask\":32}]}\n");
    /* "all" with more members than max_answers: the answer rotates */
    assert_true(node(f, "big.example.com.")->scoped);
    expect_all_scoped(lookup(f, "big.example.com.", "A"));
    fx_done(state);
}

static void test_purgemode_name_with_one_uncacheable_pool_keeps_the_scope_mask(void **state)
{
    struct fx *f = fx_new(state, purge_store);
    assert_true(node(f, "mixed.example.com.")->scoped);
    /* even the answer of its failover pool */
    assert_string_equal(lookup(f, "mixed.example.com.", "A"),
                        "{\"result\":[{\"qtype\":\"A\",\"qname\":\"mixed.example.com.\","
                        "\"content\":\"192.0.2.1\",\"ttl\":30,\"scopeMask\":32}]}\n");
    expect_all_scoped(lookup(f, "mixed.example.com.", "ANY"));
    fx_done(state);
}

static void test_purgemode_static_names_never_carry_a_scope_mask(void **state)
{
    static const char *const stores[] = {purge_store, bypass_store};
    for (size_t i = 0; i < 2; i++) {
        struct fx *f = fx_new(state, stores[i]);
        assert_false(node(f, "static.example.com.")->scoped);
        assert_false(node(f, "example.com.")->scoped);
        expect_none_scoped(lookup(f, "static.example.com.", "ANY"));
        expect_none_scoped(lookup(f, "example.com.", "ANY"));
        fx_done(state);
    }
}

static void test_purgemode_without_the_pdns_key_every_pool_name_is_scoped(void **state)
{
    struct fx *f = fx_new(state, bypass_store);
    assert_null(store_pdns_control(f->s));
    assert_true(node(f, "www.example.com.")->scoped);
    assert_true(node(f, "sticky.example.com.")->scoped);
    assert_true(node(f, "gone.example.com.")->scoped);
    assert_string_equal(lookup(f, "www.example.com.", "ANY"), WWW_ANY_SCOPED);
    expect_all_scoped(lookup(f, "www.example.com.", "A"));
    expect_all_scoped(lookup(f, "www.example.com.", "TXT"));
    expect_all_scoped(lookup(f, "sticky.example.com.", "ANY"));
    fx_done(state);
}

/* Marks every member of the gone pools down in a health map attached to f's dispatcher. */
static void all_gone(struct fx *f)
{
    char tmpl[] = "/tmp/pf-purgemode-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    f->dir = strdup(tmpl);
    const struct store_pools *sp = store_pools(f->s);
    struct errbuf err;
    assert_int_equal(hmap_open(f->dir, sp->targets, sp->ntargets, &f->map, &err), 0);
    assert_true(hmap_try_lead(f->map));
    for (size_t i = 0; i < sp->npools; i++)
        if (strncmp(sp->pools[i].name, "gone", 4) == 0)
            for (size_t m = 0; m < sp->pools[i].nmembers; m++)
                hmap_set_verdict(f->map, sp->pools[i].members[m].target, HEALTH_DOWN);
    dispatch_set_health(f->d, f->map, 1);
}

static void test_purgemode_empty_answer_ent_has_no_scope_mask_when_cacheable(void **state)
{
    struct fx *f = fx_new(state, purge_store);
    all_gone(f);
    assert_string_equal(lookup(f, "gone.example.com.", "ANY"),
                        "{\"result\":[{\"qtype\":\"ENT\",\"qname\":\"gone.example.com.\","
                        "\"content\":\"\"}]}\n");
    assert_string_equal(lookup(f, "gone.example.com.", "A"), "{\"result\":[]}\n");
    /* a hashed pool's name keeps the scopeMask, empty or not (pdns's packet cache still keeps
     * the NODATA reply: purgeset purges it) */
    assert_string_equal(lookup(f, "gone-hashed.example.com.", "ANY"),
                        "{\"result\":[{\"qtype\":\"ENT\",\"qname\":\"gone-hashed.example.com.\","
                        "\"content\":\"\",\"scopeMask\":32}]}\n");
    /* others are unaffected */
    assert_string_equal(lookup(f, "www.example.com.", "ANY"), WWW_ANY_CACHEABLE);
    fx_done(state);
}

static void test_purgemode_empty_answer_ent_has_the_scope_mask_without_the_pdns_key(void **state)
{
    struct fx *f = fx_new(state, bypass_store);
    all_gone(f);
    assert_string_equal(lookup(f, "gone.example.com.", "ANY"),
                        "{\"result\":[{\"qtype\":\"ENT\",\"qname\":\"gone.example.com.\","
                        "\"content\":\"\",\"scopeMask\":32}]}\n");
    assert_string_equal(lookup(f, "gone-hashed.example.com.", "ANY"),
                        "{\"result\":[{\"qtype\":\"ENT\",\"qname\":\"gone-hashed.example.com.\","
                        "\"content\":\"\",\"scopeMask\":32}]}\n");
    fx_done(state);
}

/* ---- the "pdns" key ----------------------------------------------------------------------- */

static void expect_only_error(const char *pdns_value, const char *msg)
{
    char json[2048], buf[1024];
    snprintf(json, sizeof(json), "{\"pdns\": %s, %s}", pdns_value,
             "\"zones\": {\"example.com.\": {\"records\": {" HELPERS_APEX "}}}");
    assert_string_equal(helpers_only_error(json, buf, sizeof(buf)), msg);
}

static void test_purgemode_pdns_key_must_be_an_object(void **state)
{
    (void)state;
    expect_only_error(
        "\"/run/pdns/pdns.controlsocket\"",
        "pdns: expected an object like {\"control_socket\": "
        "\"/run/pdns/pdns.controlsocket\"}, got \"\\/run\\/pdns\\/pdns.controlsocket\"");
    expect_only_error("[]", "pdns: expected an object like {\"control_socket\": "
                            "\"/run/pdns/pdns.controlsocket\"}, got []");
}

static void test_purgemode_pdns_key_rejects_unknown_keys(void **state)
{
    (void)state;
    expect_only_error("{\"control_socket\": \"/run/pdns/pdns.controlsocket\", \"socket_dir\": "
                      "\"/run/pdns\"}",
                      "pdns[\"socket_dir\"]: unknown key (expected one of: control_socket)");
}

static void test_purgemode_control_socket_must_be_an_absolute_path_that_fits(void **state)
{
    (void)state;
    expect_only_error("{\"control_socket\": \"run/pdns/pdns.controlsocket\"}",
                      "pdns.control_socket: 'run/pdns/pdns.controlsocket' is not an absolute "
                      "path to a unix socket (at most 107 bytes)");
    expect_only_error("{\"control_socket\": \"\"}",
                      "pdns.control_socket: '' is not an absolute path to a unix socket (at most "
                      "107 bytes)");
    expect_only_error("{\"control_socket\": 5}", "pdns.control_socket: expected a path, got 5");

    /* 107 bytes fit sockaddr_un's sun_path with its NUL; 108 do not */
    char path[120], json[512], msg[400];
    memset(path, 'a', 108);
    path[0] = '/';
    path[108] = '\0';
    snprintf(json, sizeof(json), "{\"control_socket\": \"%s\"}", path);
    snprintf(msg, sizeof(msg),
             "pdns.control_socket: '%s' is not an absolute path to a unix socket (at most 107 "
             "bytes)",
             path);
    expect_only_error(json, msg);

    path[107] = '\0';
    snprintf(json, sizeof(json),
             "{\"pdns\": {\"control_socket\": \"%s\"}, \"zones\": {\"example.com.\": "
             "{\"records\": {" HELPERS_APEX "}}}}",
             path);
    store_t *s = helpers_build(json);
    assert_string_equal(store_pdns_control(s), path);
    store_free(s);
}

static void test_purgemode_pdns_errors_are_reported_with_the_others(void **state)
{
    (void)state;
    struct errlist errs;
    helpers_build_fails("{\"pdns\": {\"control_socket\": \"x\", \"y\": 1}, \"zones\": "
                        "{\"example.com.\": {\"records\": {" HELPERS_APEX
                        ", \"www\": [{\"type\": \"A\", \"content\": \"192.0.2.300\"}]}}}}",
                        &errs);
    helpers_assert_error_part(&errs, "pdns.control_socket: 'x' is not an absolute path");
    helpers_assert_error_part(&errs, "pdns[\"y\"]: unknown key");
    helpers_assert_error_part(&errs, "'192.0.2.300' is not an IPv4 address");
    errlist_free(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(
            test_purgemode_failover_pool_name_is_answered_without_a_scope_mask, teardown),
        cmocka_unit_test_teardown(test_purgemode_hashed_pool_name_keeps_the_scope_mask, teardown),
        cmocka_unit_test_teardown(
            test_purgemode_name_with_one_uncacheable_pool_keeps_the_scope_mask, teardown),
        cmocka_unit_test_teardown(test_purgemode_static_names_never_carry_a_scope_mask, teardown),
        cmocka_unit_test_teardown(test_purgemode_without_the_pdns_key_every_pool_name_is_scoped,
                                  teardown),
        cmocka_unit_test_teardown(test_purgemode_empty_answer_ent_has_no_scope_mask_when_cacheable,
                                  teardown),
        cmocka_unit_test_teardown(
            test_purgemode_empty_answer_ent_has_the_scope_mask_without_the_pdns_key, teardown),
        cmocka_unit_test(test_purgemode_pdns_key_must_be_an_object),
        cmocka_unit_test(test_purgemode_pdns_key_rejects_unknown_keys),
        cmocka_unit_test(test_purgemode_control_socket_must_be_an_absolute_path_that_fits),
        cmocka_unit_test(test_purgemode_pdns_errors_are_reported_with_the_others),
    };
    return cmocka_run_group_tests_name("purgemode", tests, NULL, NULL);
}
