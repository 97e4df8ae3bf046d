/* SPDX-License-Identifier: MIT */
/* Unit tests for backend/policy: every policy and all-down mode with health given as input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "backend/policy.h"

#define MAXM 8

struct fx {
    struct pool_member m[MAXM];
    struct pool_addr fb[2];
    struct pool p;
    bool up[MAXM];
};

static void member(struct fx *f, const char *name, const char *addr, uint16_t tier, uint32_t weight)
{
    struct pool_member *m = &f->m[f->p.nmembers++];
    memset(m, 0, sizeof(*m));
    m->name = name;
    m->tier = tier;
    m->weight = weight;
    m->addr.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    inet_pton(m->addr.family, addr, m->addr.bytes);
    strcpy(m->addr.text, addr);
}

/* web1 web2 (tier 1), web1v6 (tier 1, IPv6), dr (tier 2), dr6 (tier 2, IPv6) */
static void setup(struct fx *f, enum pool_policy policy)
{
    memset(f, 0, sizeof(*f));
    f->p.name = "web";
    f->p.policy = policy;
    f->p.max_answers = 8;
    f->p.min_healthy = 1;
    f->p.members = f->m;
    member(f, "web1", "192.0.2.1", 1, 1);
    member(f, "web2", "192.0.2.2", 1, 2);
    member(f, "web1v6", "2001:db8::1", 1, 1);
    member(f, "dr", "198.51.100.7", 2, 1);
    member(f, "dr6", "2001:db8::7", 2, 1);
    for (size_t i = 0; i < MAXM; i++)
        f->up[i] = true;
}

static void run(struct fx *f, int family, uint64_t rnd, struct policy_answer *a)
{
    struct policy_input in = {.up = f->up, .family = family, .random = rnd};
    policy_select(&f->p, &in, a);
}

/* The answer's addresses, sorted and joined by spaces. */
static const char *answer_text(const struct policy_answer *a, char *buf)
{
    const char *s[POLICY_MAX_ANSWERS];
    for (size_t i = 0; i < a->n; i++)
        s[i] = a->addrs[i]->text;
    for (size_t i = 1; i < a->n; i++)
        for (size_t j = i; j > 0 && strcmp(s[j], s[j - 1]) < 0; j--) {
            const char *t = s[j];
            s[j] = s[j - 1];
            s[j - 1] = t;
        }
    buf[0] = '\0';
    for (size_t i = 0; i < a->n; i++) {
        if (i)
            strcat(buf, " ");
        strcat(buf, s[i]);
    }
    return buf;
}

static void expect_answer(struct fx *f, int family, const char *want, enum policy_why why)
{
    struct policy_answer a;
    char buf[512];
    run(f, family, 12345, &a);
    assert_string_equal(answer_text(&a, buf), want);
    assert_int_equal(a.why, why);
}

static void test_policy_failover_answers_the_healthy_members_of_tier_one(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, POOL_FAILOVER);
    expect_answer(&f, AF_INET, "192.0.2.1 192.0.2.2", POLICY_HEALTHY);
    f.up[0] = false;
    expect_answer(&f, AF_INET, "192.0.2.2", POLICY_HEALTHY);
}

static void test_policy_failover_moves_to_tier_two_when_tier_one_is_down(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, POOL_FAILOVER);
    f.up[0] = f.up[1] = false;
    expect_answer(&f, AF_INET, "198.51.100.7", POLICY_HEALTHY);
    /* the IPv6 side of tier 1 is still healthy */
    expect_answer(&f, AF_INET6, "2001:db8::1", POLICY_HEALTHY);
}

static void test_policy_failover_needs_min_healthy_members_in_a_tier(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, POOL_FAILOVER);
    member(&f, "dr2", "198.51.100.8", 2, 1);
    f.p.min_healthy = 2;
    expect_answer(&f, AF_INET, "192.0.2.1 192.0.2.2", POLICY_HEALTHY);
    f.up[0] = false; /* tier 1 has one healthy IPv4 member: not enough */
    expect_answer(&f, AF_INET, "198.51.100.7 198.51.100.8", POLICY_HEALTHY);
    f.up[3] = false; /* no tier has two: the best tier with any */
    expect_answer(&f, AF_INET, "192.0.2.2", POLICY_HEALTHY);
}

static void test_policy_answers_only_members_of_the_query_family(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, POOL_ALL);
    expect_answer(&f, AF_INET, "192.0.2.1 192.0.2.2 198.51.100.7", POLICY_HEALTHY);
    expect_answer(&f, AF_INET6, "2001:db8::1 2001:db8::7", POLICY_HEALTHY);
}

static void test_policy_all_skips_unhealthy_members_of_every_tier(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, POOL_ALL);
    f.up[1] = false;
    f.up[3] = false;
    expect_answer(&f, AF_INET, "192.0.2.1", POLICY_HEALTHY);
}

static void test_policy_max_answers_caps_every_answer(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, POOL_ALL);
    f.p.max_answers = 2;
    struct policy_answer a;
    bool seen[3] = {false};
    for (uint64_t r = 0; r < 30; r++) {
        run(&f, AF_INET, r, &a);
        assert_int_equal(a.n, 2);
        for (size_t i = 0; i < a.n; i++)
            seen[a.members[i] == 0 ? 0 : a.members[i] == 1 ? 1 : 2] = true;
    }
    /* the cap rotates, so every healthy member gets answered */
    assert_true(seen[0] && seen[1] && seen[2]);
}

static void test_policy_all_down_answers_as_if_all_were_up(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, POOL_FAILOVER);
    for (size_t i = 0; i < MAXM; i++)
        f.up[i] = false;
    expect_answer(&f, AF_INET, "192.0.2.1 192.0.2.2", POLICY_ALL_DOWN);
}

static void test_policy_all_down_none_answers_nothing(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, POOL_FAILOVER);
    f.p.all_down = POOL_DOWN_NONE;
    f.up[0] = f.up[1] = f.up[3] = false;
    expect_answer(&f, AF_INET, "", POLICY_NONE);
    /* IPv6 members are still up: the AAAA answer is unaffected */
    expect_answer(&f, AF_INET6, "2001:db8::1", POLICY_HEALTHY);
}

static void test_policy_all_down_fallback_answers_the_sorry_server(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, POOL_FAILOVER);
    f.p.all_down = POOL_DOWN_FALLBACK;
    f.fb[0].family = AF_INET;
    strcpy(f.fb[0].text, "203.0.113.9");
    f.p.fallback = f.fb;
    f.p.nfallback = 1;
    for (size_t i = 0; i < MAXM; i++)
        f.up[i] = false;
    expect_answer(&f, AF_INET, "203.0.113.9", POLICY_FALLBACK);
    /* no IPv6 fallback: NODATA for AAAA */
    expect_answer(&f, AF_INET6, "", POLICY_NONE);
}

static void test_policy_weighted_follows_the_weights(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, POOL_WEIGHTED);
    f.p.max_answers = 1;
    struct policy_answer a;
    int count[2] = {0, 0};
    for (uint64_t r = 0; r < 3000; r++) {
        run(&f, AF_INET, r * 7919, &a);
        assert_int_equal(a.n, 1);
        assert_true(a.members[0] <= 1); /* tier 1 only */
        count[a.members[0]]++;
    }
    /* web2 has weight 2: about 2000 of 3000 */
    assert_in_range(count[1], 1800, 2200);
}

static void test_policy_weighted_draws_without_replacement(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, POOL_WEIGHTED);
    struct policy_answer a;
    run(&f, AF_INET, 99, &a);
    assert_int_equal(a.n, 2);
    assert_int_not_equal(a.members[0], a.members[1]);
}

static void run_hashed(struct fx *f, const char *client, struct policy_answer *a)
{
    uint8_t b[4];
    inet_pton(AF_INET, client, b);
    struct policy_input in = {
        .up = f->up, .family = AF_INET, .random = 1, .client = b, .client_len = 4};
    policy_select(&f->p, &in, a);
}

static void test_policy_hashed_keeps_a_client_on_its_member(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, POOL_HASHED);
    member(&f, "web3", "192.0.2.3", 1, 1);
    struct policy_answer a, b;
    int used[4] = {0};
    for (int c = 0; c < 200; c++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.0.%d.%d", c / 10, c % 10);
        run_hashed(&f, ip, &a);
        run_hashed(&f, ip, &b);
        assert_int_equal(a.n, 1);
        assert_int_equal(a.members[0], b.members[0]); /* stable */
        used[a.members[0] == 5 ? 3 : a.members[0]]++;
    }
    assert_true(used[0] > 0 && used[1] > 0 && used[3] > 0); /* spread over tier 1 */
    assert_int_equal(used[2], 0);                           /* never the IPv6 member */
}

static void test_policy_hashed_moves_only_the_clients_of_a_failed_member(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, POOL_HASHED);
    member(&f, "web3", "192.0.2.3", 1, 1);
    uint16_t before[200];
    struct policy_answer a;
    for (int c = 0; c < 200; c++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.1.%d.%d", c / 10, c % 10);
        run_hashed(&f, ip, &a);
        before[c] = a.members[0];
    }
    f.up[0] = false; /* web1 fails */
    for (int c = 0; c < 200; c++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.1.%d.%d", c / 10, c % 10);
        run_hashed(&f, ip, &a);
        if (before[c] != 0)
            assert_int_equal(a.members[0], before[c]);
        else
            assert_int_not_equal(a.members[0], 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_failover_answers_the_healthy_members_of_tier_one),
        cmocka_unit_test(test_policy_failover_moves_to_tier_two_when_tier_one_is_down),
        cmocka_unit_test(test_policy_failover_needs_min_healthy_members_in_a_tier),
        cmocka_unit_test(test_policy_answers_only_members_of_the_query_family),
        cmocka_unit_test(test_policy_all_skips_unhealthy_members_of_every_tier),
        cmocka_unit_test(test_policy_max_answers_caps_every_answer),
        cmocka_unit_test(test_policy_all_down_answers_as_if_all_were_up),
        cmocka_unit_test(test_policy_all_down_none_answers_nothing),
        cmocka_unit_test(test_policy_all_down_fallback_answers_the_sorry_server),
        cmocka_unit_test(test_policy_weighted_follows_the_weights),
        cmocka_unit_test(test_policy_weighted_draws_without_replacement),
        cmocka_unit_test(test_policy_hashed_keeps_a_client_on_its_member),
        cmocka_unit_test(test_policy_hashed_moves_only_the_clients_of_a_failed_member),
    };
    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
