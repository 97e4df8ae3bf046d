/* SPDX-License-Identifier: MIT */
/* Unit tests for backend/commands (with a health map and overrides in a temporary state
 * directory) and for health/overrides. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/commands.h"
#include "backend/pools.h"
#include "helpers.h"

#define STORE_JSON                                                                               \
    "{\"checks\": {\"c\": {\"type\": \"http\"}}, \"pools\": {\"web\": {\"check\": \"c\", "       \
    "\"members\": [{\"name\": \"web1\", \"address\": \"192.0.2.1\"}, {\"name\": \"web2\", "      \
    "\"address\": \"192.0.2.2\", \"tier\": 2}]}, \"api\": {\"check\": \"c\", \"policy\": "       \
    "\"all\", \"members\": [{\"name\": \"a1\", \"address\": \"192.0.2.1\"}]}}, \"zones\": "      \
    "{\"example.com.\": {\"records\": {" HELPERS_APEX ", \"www\": [{\"type\": \"A\", \"pool\": " \
    "\"web\"}], \"txt\": [{\"type\": \"TXT\", \"content\": \"hi\"}]}}}}"

struct fx {
    char dir[64];
    store_t *store;
    hmap_t *map;
    overrides_t *ov;
    struct cmd_env env;
    struct sbuf out;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct errbuf err;
    strcpy(f->dir, "/tmp/pf-cmd-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->store = helpers_build(STORE_JSON);
    const struct store_pools *sp = store_pools(f->store);
    assert_int_equal(hmap_open(f->dir, sp->targets, sp->ntargets, &f->map, &err), 0);
    assert_int_equal(overrides_open(f->dir, &f->ov, &err), 0);
    f->env = (struct cmd_env){
        .store = f->store, .health = f->map, .overrides = f->ov, .now_ms = 1000000};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    sbuf_free(&f->out);
    overrides_close(f->ov);
    hmap_close(f->map);
    store_free(f->store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static const char *run(struct fx *f, const char *line, int want)
{
    sbuf_reset(&f->out);
    assert_int_equal(cmd_run(&f->env, line, strlen(line), &f->out), want);
    assert_true(f->out.len > 0 && f->out.p[f->out.len - 1] == '\n');
    return sbuf_str(&f->out);
}

static void test_commands_parse_durations_with_units(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(cmd_parse_duration("90", &ms), 0);
    assert_int_equal(ms, 90000);
    assert_int_equal(cmd_parse_duration("90s", &ms), 0);
    assert_int_equal(ms, 90000);
    assert_int_equal(cmd_parse_duration("15m", &ms), 0);
    assert_int_equal(ms, 900000);
    assert_int_equal(cmd_parse_duration("2h", &ms), 0);
    assert_int_equal(ms, 7200000);
    assert_int_equal(cmd_parse_duration("1d", &ms), 0);
    assert_int_equal(ms, 86400000);
    static const char *const bad[] = {"", "0", "-5", "5x", "m", "1.5h", "99999999999999d", " 5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(cmd_parse_duration(bad[i], &ms), -EINVAL);
}

static void test_commands_health_lists_every_member_with_its_state(void **state)
{
    struct fx *f = *state;
    assert_true(hmap_try_lead(f->map));
    struct hmap_slot *s = hmap_slot_rw(f->map, 1);
    s->since_ms = f->env.now_ms - 125000;
    s->last_probe_ms = f->env.now_ms - 1000;
    strcpy(s->reason, "http status 503");
    s->fail_run = 3;
    hmap_set_verdict(f->map, 1, HEALTH_DOWN);
    const char *t = run(f, "health", 0);
    assert_non_null(strstr(t, "POOL         MEMBER"));
    assert_non_null(strstr(t, "web          web1         192.0.2.1"));
    assert_non_null(strstr(t, "api          a1           192.0.2.1"));
    const char *l = strstr(t, "web          web2");
    assert_non_null(l);
    assert_non_null(strstr(l, "down     2m05s"));
    assert_non_null(strstr(l, "http status 503"));
    assert_non_null(strstr(l, "0/3"));
}

static void test_commands_drain_takes_a_member_out_until_it_expires(void **state)
{
    struct fx *f = *state;
    const struct pool *web = &store_pools(f->store)->pools[0];
    const char *t = run(f, "drain web/web1 for 90s reason kernel update", 0);
    assert_string_equal(t, "web/web1 (192.0.2.1): drain for 1m30s (kernel update)\n");
    assert_int_equal(overrides_get(f->ov, web->members[0].okey, f->env.now_ms), OVERRIDE_DRAIN);
    assert_int_equal(overrides_get(f->ov, web->members[0].okey, f->env.now_ms + 89999),
                     OVERRIDE_DRAIN);
    assert_int_equal(overrides_get(f->ov, web->members[0].okey, f->env.now_ms + 90000),
                     OVERRIDE_NONE);
    t = run(f, "explain www.example.com A", 0);
    assert_non_null(strstr(t, "override drain (1m30s left) \"kernel update\"; not eligible"));
    assert_non_null(strstr(t, "answer: 192.0.2.2"));
    t = run(f, "health", 0);
    assert_non_null(strstr(t, "drain (1m30s left) \"kernel update\""));
    run(f, "auto web/web1", 0);
    assert_int_equal(overrides_get(f->ov, web->members[0].okey, f->env.now_ms), OVERRIDE_NONE);
}

static void test_commands_name_members_by_address_across_pools(void **state)
{
    struct fx *f = *state;
    const char *t = run(f, "down 192.0.2.1", 0);
    assert_non_null(strstr(t, "web/web1 (192.0.2.1): down\n"));
    assert_non_null(strstr(t, "api/a1 (192.0.2.1): down\n"));
    t = run(f, "up web/web2", 0);
    assert_string_equal(t, "web/web2 (192.0.2.2): up\n");
}

static void test_commands_overrides_survive_reopening_the_table(void **state)
{
    struct fx *f = *state;
    run(f, "drain web/web2 reason maintenance", 0);
    overrides_close(f->ov);
    struct errbuf err;
    assert_int_equal(overrides_open(f->dir, &f->ov, &err), 0);
    f->env.overrides = f->ov;
    struct override_info oi;
    uint64_t key = overrides_key("web", "web2");
    assert_true(overrides_info(f->ov, key, f->env.now_ms, &oi));
    assert_int_equal(oi.kind, OVERRIDE_DRAIN);
    assert_int_equal(oi.until_ms, 0);
    assert_string_equal(oi.reason, "maintenance");
    assert_string_equal(oi.name, "web/web2");
}

static void test_commands_explain_says_why(void **state)
{
    struct fx *f = *state;
    assert_true(hmap_try_lead(f->map));
    hmap_set_verdict(f->map, 0, HEALTH_DOWN); /* 192.0.2.1: web1 and a1 */
    const char *t = run(f, "explain www.example.com. A", 0);
    assert_non_null(strstr(t, "www.example.com. A: pool 'web', policy failover (min_healthy 1, "
                              "max_answers 8, when_all_down all), ttl 30\n"));
    assert_non_null(strstr(t, "  tier 1:\n    web1 "));
    assert_non_null(strstr(t, "  answer: 192.0.2.2\n"));
    assert_non_null(strstr(t, "  because: tier 2 is the best tier with at least 1 healthy IPv4 "
                              "member (1)\n"));
    t = run(f, "explain txt.example.com TXT", 0);
    assert_string_equal(t, "txt.example.com. TXT: static \"hi\" (ttl 3600)\n");
    t = run(f, "explain nope.example.com A", 0);
    assert_non_null(strstr(t, "no such name"));
    t = run(f, "explain www.example.com MX", 0);
    assert_non_null(strstr(t, "no records of this type"));
}

static void test_commands_reject_bad_usage_with_a_usage_line(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *line, *part;
    } cases[] = {
        {"drain", "error: which member?\nusage: drain MEMBER"},
        {"drain web/nope", "error: no member 'web/nope'"},
        {"drain 10.9.9.9", "error: no member '10.9.9.9'"},
        {"drain web/web1 for 5x", "error: '5x' is not a duration"},
        {"drain web/web1 soon", "error: unexpected 'soon'"},
        {"auto web/web1 for 5s", "error: unexpected 'for'"},
        {"explain www.example.com", "usage: explain NAME TYPE [client ADDRESS]"},
        {"explain www.example.com BOGUS", "'BOGUS' is not a record type"},
        {"explain www.example.com A client x", "the client is not an IP address"},
        {"", "error: empty command"},
        {"frobnicate now", "unknown command: frobnicate now (try 'help')"},
        {"reload", "error: reload is not available here"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *t = run(f, cases[i].line, -EINVAL);
        if (!strstr(t, cases[i].part))
            fail_msg("'%s' gave:\n%s", cases[i].line, t);
    }
}

/* ---- overrides_fingerprint ---------------------------------------------------------------- */

static void set_override(
    overrides_t *o, const char *member, enum override_kind kind, int64_t until_ms, int64_t now_ms)
{
    struct errbuf err;
    if (overrides_set(o, "web", member, kind, until_ms, "test", now_ms, &err) != 0)
        fail_msg("overrides_set web/%s: %s", member, err.msg);
}

static void test_overrides_fingerprint_changes_on_set_clear_and_expiry(void **state)
{
    struct fx *f = *state;
    int64_t now = f->env.now_ms;
    uint64_t empty = overrides_fingerprint(f->ov, now);
    assert_int_equal(overrides_fingerprint(f->ov, now), empty);

    set_override(f->ov, "web1", OVERRIDE_DRAIN, now + 60000, now);
    uint64_t drained = overrides_fingerprint(f->ov, now);
    assert_true(drained != empty);
    assert_int_equal(overrides_fingerprint(f->ov, now + 59999), drained);
    /* expired: nobody wrote anything, the overrides in effect are those of the empty table */
    assert_int_equal(overrides_fingerprint(f->ov, now + 60000), empty);
    assert_int_equal(overrides_fingerprint(f->ov, now + 600000), empty);

    set_override(f->ov, "web2", OVERRIDE_DOWN, 0, now);
    uint64_t both = overrides_fingerprint(f->ov, now);
    assert_true(both != drained && both != empty);
    /* another kind for the same member is another set of overrides */
    set_override(f->ov, "web2", OVERRIDE_UP, 0, now);
    uint64_t up = overrides_fingerprint(f->ov, now);
    assert_true(up != both && up != drained && up != empty);
    set_override(f->ov, "web1", OVERRIDE_DOWN, now + 60000, now);
    assert_true(overrides_fingerprint(f->ov, now) != up);
    set_override(f->ov, "web1", OVERRIDE_DRAIN, now + 60000, now);
    assert_int_equal(overrides_fingerprint(f->ov, now), up);

    /* cleared, one after the other */
    set_override(f->ov, "web2", OVERRIDE_NONE, 0, now);
    assert_int_equal(overrides_fingerprint(f->ov, now), drained);
    set_override(f->ov, "web1", OVERRIDE_NONE, 0, now);
    assert_int_equal(overrides_fingerprint(f->ov, now), empty);
}

static void test_overrides_fingerprint_sees_changes_made_through_another_handle(void **state)
{
    struct fx *f = *state;
    int64_t now = f->env.now_ms;
    uint64_t before = overrides_fingerprint(f->ov, now);
    overrides_t *other; /* another process's view of the same table */
    struct errbuf err;
    assert_int_equal(overrides_open(f->dir, &other, &err), 0);
    set_override(other, "web1", OVERRIDE_DRAIN, 0, now);
    uint64_t after = overrides_fingerprint(f->ov, now);
    assert_true(after != before);
    assert_int_equal(overrides_fingerprint(other, now), after);
    set_override(other, "web1", OVERRIDE_NONE, 0, now);
    assert_int_equal(overrides_fingerprint(f->ov, now), before);
    overrides_close(other);
}

static void test_overrides_fingerprint_is_the_same_whatever_the_order_of_setting(void **state)
{
    struct fx *f = *state;
    int64_t now = f->env.now_ms;
    /* Two members whose keys want the same slot: the one set first takes it, the other the
     * next one, so the two orders leave them in different slots. */
    char a[32] = "m0", b[32] = "";
    uint64_t slot = overrides_key("web", a) & (OVERRIDES_SLOTS - 1);
    for (int i = 1; i < 1000000 && !b[0]; i++) {
        char name[32];
        snprintf(name, sizeof(name), "m%d", i);
        if ((overrides_key("web", name) & (OVERRIDES_SLOTS - 1)) == slot)
            strcpy(b, name);
    }
    assert_true(b[0] != '\0');

    char dir2[64];
    strcpy(dir2, "/tmp/pf-cmd-XXXXXX");
    assert_non_null(mkdtemp(dir2));
    overrides_t *o2;
    struct errbuf err;
    assert_int_equal(overrides_open(dir2, &o2, &err), 0);

    set_override(f->ov, a, OVERRIDE_DRAIN, 0, now);
    set_override(f->ov, b, OVERRIDE_DOWN, now + 5000, now);
    set_override(f->ov, "web1", OVERRIDE_UP, 0, now);

    set_override(o2, "web1", OVERRIDE_UP, 0, now);
    set_override(o2, b, OVERRIDE_DOWN, now + 5000, now);
    set_override(o2, a, OVERRIDE_DRAIN, 0, now);

    uint64_t fp1 = overrides_fingerprint(f->ov, now), fp2 = overrides_fingerprint(o2, now);
    /* and after b expires in both */
    uint64_t later1 = overrides_fingerprint(f->ov, now + 5000);
    uint64_t later2 = overrides_fingerprint(o2, now + 5000);
    overrides_close(o2);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir2);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(fp1, fp2);
    assert_int_equal(later1, later2);
    assert_true(later1 != fp1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands_parse_durations_with_units),
        cmocka_unit_test_setup_teardown(test_commands_health_lists_every_member_with_its_state,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands_drain_takes_a_member_out_until_it_expires,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands_name_members_by_address_across_pools, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_commands_overrides_survive_reopening_the_table, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_commands_explain_says_why, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands_reject_bad_usage_with_a_usage_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_overrides_fingerprint_changes_on_set_clear_and_expiry,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_overrides_fingerprint_sees_changes_made_through_another_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_overrides_fingerprint_is_the_same_whatever_the_order_of_setting, setup, teardown),
    };
    return cmocka_run_group_tests_name("commands", tests, NULL, NULL);
}
