/* SPDX-License-Identifier: MIT */
/* Unit tests for the store's "checks" and "pools" (backend/pools.c) and pool records. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "backend/pools.h"
#include "helpers.h"

#define CHECKS(c) "\"checks\": {" c "}, "
#define POOLS(p)  "\"pools\": {" p "}, "
#define STORE(checks_pools, records) \
    "{" checks_pools "\"zones\": {\"example.com.\": {\"records\": {" HELPERS_APEX records "}}}}"
#define WEB_CHECK "\"web\": {\"type\": \"http\", \"port\": 8080, \"path\": \"/health\"}"
#define WEB_POOL                                                      \
    "\"web\": {\"check\": \"web\", \"members\": ["                    \
    "{\"name\": \"web1\", \"address\": \"192.0.2.1\"}, "              \
    "{\"name\": \"web2\", \"address\": \"192.0.2.2\", \"tier\": 2}, " \
    "{\"name\": \"web6\", \"address\": \"2001:db8::1\"}]}"
#define WWW_POOL_A ", \"www\": [{\"type\": \"A\", \"pool\": \"web\"}]"

static void test_pools_example_store_loads_with_defaults(void **state)
{
    (void)state;
    store_t *s = helpers_build(STORE(CHECKS(WEB_CHECK) POOLS(WEB_POOL),
                                     ", \"www\": [{\"type\": \"A\", \"pool\": \"web\"}, "
                                     "{\"type\": \"AAAA\", \"pool\": \"web\"}]"));
    const struct store_pools *sp = store_pools(s);
    assert_int_equal(sp->npools, 1);
    const struct pool *p = &sp->pools[0];
    assert_string_equal(p->name, "web");
    assert_int_equal(p->policy, POOL_FAILOVER);
    assert_int_equal(p->max_answers, 8);
    assert_int_equal(p->min_healthy, 1);
    assert_int_equal(p->all_down, POOL_DOWN_ALL);
    assert_int_equal(p->nmembers, 3);
    /* sorted by tier, file order within a tier */
    assert_string_equal(p->members[0].name, "web1");
    assert_string_equal(p->members[1].name, "web6");
    assert_string_equal(p->members[2].name, "web2");
    assert_int_equal(sp->ntargets, 3);
    const struct target *t = &sp->targets[p->members[0].target];
    assert_string_equal(t->address, "192.0.2.1");
    assert_int_equal(t->port, 8080);
    assert_string_equal(t->label, "web1 192.0.2.1:8080");
    assert_int_equal(t->check->interval_ms, 5000);
    assert_int_equal(t->check->timeout_ms, 2000);
    assert_int_equal(t->check->rise, 2);
    assert_int_equal(t->check->fall, 3);
    assert_true(t->check->tls_verify);
    assert_string_equal(sp->targets[p->members[1].target].label, "web6 [2001:db8::1]:8080");
    const struct store_node *n = helpers_find(s, "www.example.com.", -1);
    assert_true(n->dynamic);
    assert_int_equal(n->nrr, 2);
    assert_ptr_equal(n->rrs[0].pool, p);
    assert_int_equal(n->rrs[0].ttl, POOL_DEFAULT_TTL);
    store_free(s);
}

static void test_pools_probe_each_endpoint_once_however_many_pools_use_it(void **state)
{
    (void)state;
    store_t *s = helpers_build(STORE(
        CHECKS(WEB_CHECK) POOLS(WEB_POOL ", \"other\": {\"check\": \"web\", \"policy\": \"all\", "
                                         "\"members\": [{\"name\": \"x\", \"address\": "
                                         "\"192.0.2.1\"}, {\"name\": \"y\", \"address\": "
                                         "\"192.0.2.9\", \"check_address\": \"192.0.2.2\"}]}"),
        WWW_POOL_A ", \"api\": [{\"type\": \"A\", \"pool\": \"other\"}]"));
    const struct store_pools *sp = store_pools(s);
    assert_int_equal(sp->npools, 2);
    /* 192.0.2.1 and 192.0.2.2 are shared; 2001:db8::1 is the third */
    assert_int_equal(sp->ntargets, 3);
    assert_int_equal(sp->pools[1].members[0].target, sp->pools[0].members[0].target);
    assert_int_equal(sp->pools[1].members[1].target, sp->pools[0].members[2].target);
    assert_string_equal(sp->pools[1].members[1].addr.text, "192.0.2.9");
    store_free(s);
}

static void test_pools_inline_checks_fractions_and_check_port(void **state)
{
    (void)state;
    store_t *s = helpers_build(
        STORE(POOLS("\"db\": {\"check\": {\"type\": \"tcp\", \"interval\": 0.5, \"timeout\": 0.2, "
                    "\"rise\": 1, \"fall\": 5}, \"members\": [{\"name\": \"db1\", \"address\": "
                    "\"192.0.2.5\", \"check_port\": 5432}]}"),
              ", \"db\": [{\"type\": \"A\", \"pool\": \"db\", \"ttl\": 5}]"));
    const struct target *t = &store_pools(s)->targets[0];
    assert_int_equal(t->check->type, CHECK_TCP);
    assert_int_equal(t->check->interval_ms, 500);
    assert_int_equal(t->check->timeout_ms, 200);
    assert_int_equal(t->port, 5432);
    assert_int_equal(helpers_find(s, "db.example.com.", -1)->rrs[0].ttl, 5);
    store_free(s);
}

static void test_pools_default_timeout_stays_below_a_short_interval(void **state)
{
    (void)state;
    store_t *s = helpers_build(
        STORE(CHECKS("\"c\": {\"type\": \"https\", \"interval\": 1}")
                  POOLS("\"p\": {\"check\": \"c\", \"members\": [{\"name\": \"a\", \"address\": "
                        "\"192.0.2.1\"}]}"),
              ", \"w\": [{\"type\": \"A\", \"pool\": \"p\"}]"));
    const struct target *t = &store_pools(s)->targets[0];
    assert_int_equal(t->check->timeout_ms, 500);
    assert_int_equal(t->port, 443);
    store_free(s);
}

static void expect_error(const char *json, const char *part)
{
    struct errlist errs;
    helpers_build_fails(json, &errs);
    helpers_assert_error_part(&errs, part);
    errlist_free(&errs);
}

static void test_pools_reject_bad_checks_with_their_path(void **state)
{
    (void)state;
    static const struct {
        const char *check;
        const char *msg;
    } cases[] = {
        {"{\"type\": \"ftp\"}", "checks[\"c\"].type: 'ftp' is not a check type (http, https, tcp)"},
        {"{\"port\": 80}", "checks[\"c\"].type: missing"},
        {"{\"type\": \"http\", \"interval\": 2, \"timeout\": 2}",
         "checks[\"c\"].timeout: 2 s must be less than the interval (2 s)"},
        {"{\"type\": \"http\", \"interval\": 0}",
         "checks[\"c\"].interval: interval must be a number of seconds from 0.1 to 86400, got 0"},
        /* 86400000.5 ms and 3600000.5 ms: rounded, one past the maximum (fuzz_duration) */
        {"{\"type\": \"http\", \"interval\": 86400.0005}",
         "checks[\"c\"].interval: interval must be a number of seconds from 0.1 to 86400, got "
         "86400.0005"},
        {"{\"type\": \"http\", \"interval\": 86400, \"timeout\": 3600.0005}",
         "checks[\"c\"].timeout: timeout must be a number of seconds from 0.05 to 3600, got "
         "3600.0005"},
        {"{\"type\": \"http\", \"expect\": [\"2x9\"]}", "checks[\"c\"].expect[0]: '2x9'"},
        {"{\"type\": \"http\", \"path\": \"health\"}",
         "checks[\"c\"].path: 'health' is not a URL path"},
        {"{\"type\": \"http\", \"method\": \"POST\"}",
         "checks[\"c\"].method: 'POST' is not a method"},
        {"{\"type\": \"http\", \"rise\": 0}",
         "checks[\"c\"].rise: rise must be a whole number from 1 to 100, got 0"},
        {"{\"type\": \"http\", \"tls_verify\": false}",
         "checks[\"c\"].tls_verify: only https checks have this"},
        {"{\"type\": \"tcp\", \"port\": 22, \"path\": \"/\"}",
         "checks[\"c\"].path: only http and https checks have this"},
        {"{\"type\": \"http\", \"headers\": {\"X-A\": \"b\\r\\nc\"}}",
         "checks[\"c\"].headers[\"X-A\"]: a header value cannot contain line breaks"},
        {"{\"type\": \"http\", \"bogus\": 1}", "checks[\"c\"][\"bogus\"]: unknown key"},
        {"{\"type\": \"https\", \"ca_file\": \"ca.pem\"}",
         "checks[\"c\"].ca_file: 'ca.pem' is not an absolute path"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[2048];
        snprintf(
            json, sizeof(json),
            "{\"checks\": {\"c\": %s}, \"zones\": {\"example.com.\": {\"records\": {" HELPERS_APEX
            "}}}}",
            cases[i].check);
        expect_error(json, cases[i].msg);
    }
}

static void test_pools_reject_bad_pools_and_members_with_their_path(void **state)
{
    (void)state;
    static const struct {
        const char *pool;
        const char *msg;
    } cases[] = {
        {"{\"members\": [{\"name\": \"a\", \"address\": \"192.0.2.1\"}]}",
         "pools[\"p\"].check: missing"},
        {"{\"check\": \"nope\", \"members\": []}",
         "pools[\"p\"].check: there is no check 'nope' in \"checks\""},
        {"{\"check\": \"web\", \"members\": []}", "pools[\"p\"].members: empty"},
        {"{\"check\": \"web\"}", "pools[\"p\"].members: missing"},
        {"{\"check\": \"web\", \"members\": [{\"name\": \"a\"}]}",
         "pools[\"p\"].members[0].address: missing"},
        {"{\"check\": \"web\", \"members\": [{\"address\": \"192.0.2.1\"}]}",
         "pools[\"p\"].members[0].name: missing"},
        {"{\"check\": \"web\", \"members\": [{\"name\": \"a\", \"address\": \"192.0.2.300\"}]}",
         "pools[\"p\"].members[0].address: '192.0.2.300' is not an IPv4 or IPv6 address"},
        {"{\"check\": \"web\", \"members\": [{\"name\": \"a\", \"address\": \"192.0.2.1\"}, "
         "{\"name\": \"a\", \"address\": \"192.0.2.2\"}]}",
         "pools[\"p\"].members[1].name: 'a' is already a member of this pool"},
        {"{\"check\": \"web\", \"policy\": \"random\", \"members\": [{\"name\": \"a\", "
         "\"address\": \"192.0.2.1\"}]}",
         "pools[\"p\"].policy: 'random' is not a policy"},
        {"{\"check\": \"web\", \"when_all_down\": \"some\", \"members\": [{\"name\": \"a\", "
         "\"address\": \"192.0.2.1\"}]}",
         "pools[\"p\"].when_all_down: expected \"all\", \"none\" or {\"fallback\""},
        {"{\"check\": \"web\", \"when_all_down\": {\"fallback\": [\"x\"]}, \"members\": "
         "[{\"name\": \"a\", \"address\": \"192.0.2.1\"}]}",
         "pools[\"p\"].when_all_down.fallback[0]: 'x' is not an IPv4 or IPv6 address"},
        {"{\"check\": \"web\", \"members\": [{\"name\": \"a\", \"address\": \"192.0.2.1\", "
         "\"tier\": 0}]}",
         "pools[\"p\"].members[0].tier: tier must be a whole number from 1 to 255, got 0"},
        {"{\"check\": \"web\", \"members\": [{\"name\": \"a\", \"address\": \"192.0.2.1\", "
         "\"colour\": 1}]}",
         "pools[\"p\"].members[0][\"colour\"]: unknown key"},
        {"{\"check\": {\"type\": \"tcp\"}, \"members\": [{\"name\": \"a\", \"address\": "
         "\"192.0.2.1\"}]}",
         "pools[\"p\"].members[0]: a tcp check needs a port"},
        {"{\"check\": \"web\", \"max_answers\": 0, \"members\": [{\"name\": \"a\", \"address\": "
         "\"192.0.2.1\"}]}",
         "pools[\"p\"].max_answers: max_answers must be a whole number from 1 to 64, got 0"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[2048];
        snprintf(json, sizeof(json),
                 "{\"checks\": {" WEB_CHECK "}, \"pools\": {\"p\": %s}, \"zones\": "
                 "{\"example.com.\": {\"records\": {" HELPERS_APEX "}}}}",
                 cases[i].pool);
        expect_error(json, cases[i].msg);
    }
}

static void test_pools_reject_bad_pool_records(void **state)
{
    (void)state;
#define W "zones[\"example.com.\"].records[\"www\"]"
    expect_error(STORE(CHECKS(WEB_CHECK) POOLS(WEB_POOL),
                       ", \"www\": [{\"type\": \"A\", \"pool\": \"nope\"}]"),
                 W "[0].pool: there is no pool 'nope' in \"pools\"");
    expect_error(STORE(CHECKS(WEB_CHECK) POOLS(WEB_POOL),
                       ", \"www\": [{\"type\": \"TXT\", \"pool\": \"web\"}]"),
                 W "[0].pool: only A and AAAA records can come from a pool, not TXT");
    expect_error(STORE(CHECKS(WEB_CHECK) POOLS(WEB_POOL),
                       ", \"www\": [{\"type\": \"A\", \"pool\": \"web\", \"content\": "
                       "\"192.0.2.1\"}]"),
                 W "[0].content: a pool record has no content");
    expect_error(STORE(CHECKS(WEB_CHECK) POOLS(WEB_POOL),
                       ", \"www\": [{\"type\": \"A\", \"pool\": \"web\"}, {\"type\": \"A\", "
                       "\"content\": \"192.0.2.1\"}]"),
                 W "[1]: a pool record must be the only A record at its name (pool 'web')");
    expect_error(STORE(CHECKS(WEB_CHECK) POOLS("\"v4\": {\"check\": \"web\", \"members\": "
                                               "[{\"name\": \"a\", \"address\": \"192.0.2.1\"}]}"),
                       ", \"www\": [{\"type\": \"AAAA\", \"pool\": \"v4\"}]"),
                 W "[0].pool: pool 'v4' has no IPv6 members for an AAAA record");
    expect_error(STORE(CHECKS(WEB_CHECK) POOLS(WEB_POOL),
                       ", \"www\": [{\"type\": \"A\", \"pool\": \"web\"}, {\"type\": \"CNAME\", "
                       "\"content\": \"x\"}]"),
                 "a CNAME must be the only record at 'www.example.com.'");
#undef W
}

static void test_pools_reports_check_pool_and_record_errors_at_once(void **state)
{
    (void)state;
    struct errlist errs;
    helpers_build_fails(STORE(CHECKS("\"c\": {\"type\": \"gopher\"}") POOLS(
                                  "\"p\": {\"check\": \"c\", \"members\": [{\"name\": \"a\"}]}"),
                              ", \"www\": [{\"type\": \"A\", \"pool\": \"q\"}]"),
                        &errs);
    helpers_assert_error_part(&errs, "checks[\"c\"].type");
    helpers_assert_error_part(&errs, "pools[\"p\"].members[0].address: missing");
    helpers_assert_error_part(&errs, "records[\"www\"][0].pool: there is no pool 'q'");
    errlist_free(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pools_example_store_loads_with_defaults),
        cmocka_unit_test(test_pools_probe_each_endpoint_once_however_many_pools_use_it),
        cmocka_unit_test(test_pools_inline_checks_fractions_and_check_port),
        cmocka_unit_test(test_pools_default_timeout_stays_below_a_short_interval),
        cmocka_unit_test(test_pools_reject_bad_checks_with_their_path),
        cmocka_unit_test(test_pools_reject_bad_pools_and_members_with_their_path),
        cmocka_unit_test(test_pools_reject_bad_pool_records),
        cmocka_unit_test(test_pools_reports_check_pool_and_record_errors_at_once),
    };
    return cmocka_run_group_tests_name("pools", tests, NULL, NULL);
}
