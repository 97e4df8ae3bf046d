/* SPDX-License-Identifier: MIT */
/* Unit tests for health/state.c: result names and every transition and non-transition of the
 * rise/fall state machine. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "health/state.h"

#define RISE 2
#define FALL 3

/* The failures, every one of which counts against the endpoint. */
static const enum probe_result failures[] = {
    PROBE_L4CON, PROBE_L4TOUT, PROBE_L6, PROBE_L7TOUT, PROBE_L7STS, PROBE_L7RSP,
};

static bool feed(struct health_state *s, enum probe_result r)
{
    return health_state_feed(s, r, RISE, FALL);
}

/* A state with the given verdict and no runs yet. */
static struct health_state make_state(enum health_verdict v)
{
    struct health_state s = {.verdict = v};
    return s;
}

/* ---- probe_result_name ------------------------------------------------------------------- */

static void test_state_names_every_probe_result(void **state)
{
    (void)state;
    assert_string_equal(probe_result_name(PROBE_OK), "ok");
    assert_string_equal(probe_result_name(PROBE_L4CON), "connect refused");
    assert_string_equal(probe_result_name(PROBE_L4TOUT), "connect timeout");
    assert_string_equal(probe_result_name(PROBE_L6), "tls failure");
    assert_string_equal(probe_result_name(PROBE_L7TOUT), "timeout");
    assert_string_equal(probe_result_name(PROBE_L7STS), "http status");
    assert_string_equal(probe_result_name(PROBE_L7RSP), "bad response");
    assert_string_equal(probe_result_name(PROBE_LOCAL), "local error");
}

static void test_state_names_out_of_range_results_without_crashing(void **state)
{
    (void)state;
    assert_non_null(probe_result_name(_PROBE_RES_MAX));
    assert_non_null(probe_result_name((enum probe_result) - 1));
    assert_non_null(probe_result_name((enum probe_result)1000));
}

/* ---- UNKNOWN ----------------------------------------------------------------------------- */

static void test_state_unknown_goes_up_on_first_success(void **state)
{
    (void)state;
    struct health_state s = make_state(HEALTH_UNKNOWN);
    assert_true(feed(&s, PROBE_OK));
    assert_int_equal(s.verdict, HEALTH_UP);
    assert_int_equal(s.ok_run, 1);
    assert_int_equal(s.fail_run, 0);
}

static void test_state_unknown_goes_down_on_first_failure_of_any_kind(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(failures) / sizeof(failures[0]); i++) {
        struct health_state s = make_state(HEALTH_UNKNOWN);
        assert_true(feed(&s, failures[i]));
        assert_int_equal(s.verdict, HEALTH_DOWN);
        assert_int_equal(s.ok_run, 0);
        assert_int_equal(s.fail_run, 1);
    }
}

static void test_state_unknown_ignores_rise_and_fall_larger_than_one(void **state)
{
    (void)state;
    struct health_state s = make_state(HEALTH_UNKNOWN);
    assert_true(health_state_feed(&s, PROBE_OK, 10, 10));
    assert_int_equal(s.verdict, HEALTH_UP);

    s = make_state(HEALTH_UNKNOWN);
    assert_true(health_state_feed(&s, PROBE_L7STS, 10, 10));
    assert_int_equal(s.verdict, HEALTH_DOWN);
}

static void test_state_unknown_stays_unknown_on_local_error(void **state)
{
    (void)state;
    struct health_state s = make_state(HEALTH_UNKNOWN);
    for (int i = 0; i < 5; i++)
        assert_false(feed(&s, PROBE_LOCAL));
    assert_int_equal(s.verdict, HEALTH_UNKNOWN);
    assert_int_equal(s.ok_run, 0);
    assert_int_equal(s.fail_run, 0);
    /* The first real result still decides at once. */
    assert_true(feed(&s, PROBE_L4TOUT));
    assert_int_equal(s.verdict, HEALTH_DOWN);
}

/* ---- UP -> DOWN -------------------------------------------------------------------------- */

static void test_state_goes_down_after_fall_failures(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(failures) / sizeof(failures[0]); i++) {
        struct health_state s = make_state(HEALTH_UP);
        assert_false(feed(&s, failures[i]));
        assert_false(feed(&s, failures[i]));
        assert_int_equal(s.verdict, HEALTH_UP);
        assert_true(feed(&s, failures[i]));
        assert_int_equal(s.verdict, HEALTH_DOWN);
        assert_int_equal(s.fail_run, 3);
    }
}

static void test_state_counts_mixed_failure_kinds_as_one_run(void **state)
{
    (void)state;
    struct health_state s = make_state(HEALTH_UP);
    assert_false(feed(&s, PROBE_L4CON));
    assert_false(feed(&s, PROBE_L6));
    assert_true(feed(&s, PROBE_L7RSP));
    assert_int_equal(s.verdict, HEALTH_DOWN);
}

static void test_state_single_failure_never_flips_up_when_fall_is_above_one(void **state)
{
    (void)state;
    for (uint16_t fall = 2; fall <= 5; fall++) {
        struct health_state s = make_state(HEALTH_UP);
        assert_false(health_state_feed(&s, PROBE_L7TOUT, RISE, fall));
        assert_int_equal(s.verdict, HEALTH_UP);
        assert_false(health_state_feed(&s, PROBE_OK, RISE, fall));
        assert_int_equal(s.verdict, HEALTH_UP);
    }
}

static void test_state_goes_down_on_first_failure_when_fall_is_one(void **state)
{
    (void)state;
    struct health_state s = make_state(HEALTH_UP);
    assert_true(health_state_feed(&s, PROBE_L4CON, RISE, 1));
    assert_int_equal(s.verdict, HEALTH_DOWN);
}

static void test_state_success_resets_the_failure_run(void **state)
{
    (void)state;
    struct health_state s = make_state(HEALTH_UP);
    assert_false(feed(&s, PROBE_L4CON));
    assert_false(feed(&s, PROBE_L4CON));
    assert_int_equal(s.fail_run, 2);
    assert_false(feed(&s, PROBE_OK));
    assert_int_equal(s.fail_run, 0);
    assert_int_equal(s.ok_run, 1);
    /* Two more failures are not three in a row. */
    assert_false(feed(&s, PROBE_L4CON));
    assert_false(feed(&s, PROBE_L4CON));
    assert_int_equal(s.verdict, HEALTH_UP);
    assert_true(feed(&s, PROBE_L4CON));
    assert_int_equal(s.verdict, HEALTH_DOWN);
}

static void test_state_up_stays_up_on_successes(void **state)
{
    (void)state;
    struct health_state s = make_state(HEALTH_UP);
    for (int i = 0; i < 100; i++)
        assert_false(feed(&s, PROBE_OK));
    assert_int_equal(s.verdict, HEALTH_UP);
    assert_int_equal(s.ok_run, 100);
}

/* ---- DOWN -> UP -------------------------------------------------------------------------- */

static void test_state_goes_up_after_rise_successes(void **state)
{
    (void)state;
    struct health_state s = make_state(HEALTH_DOWN);
    assert_false(feed(&s, PROBE_OK));
    assert_int_equal(s.verdict, HEALTH_DOWN);
    assert_true(feed(&s, PROBE_OK));
    assert_int_equal(s.verdict, HEALTH_UP);
    assert_int_equal(s.ok_run, 2);
}

static void test_state_goes_up_on_first_success_when_rise_is_one(void **state)
{
    (void)state;
    struct health_state s = make_state(HEALTH_DOWN);
    assert_true(health_state_feed(&s, PROBE_OK, 1, FALL));
    assert_int_equal(s.verdict, HEALTH_UP);
}

static void test_state_failure_resets_the_success_run(void **state)
{
    (void)state;
    struct health_state s = make_state(HEALTH_DOWN);
    assert_false(health_state_feed(&s, PROBE_OK, 3, FALL));
    assert_false(health_state_feed(&s, PROBE_OK, 3, FALL));
    assert_int_equal(s.ok_run, 2);
    assert_false(health_state_feed(&s, PROBE_L7STS, 3, FALL));
    assert_int_equal(s.ok_run, 0);
    assert_int_equal(s.fail_run, 1);
    assert_false(health_state_feed(&s, PROBE_OK, 3, FALL));
    assert_false(health_state_feed(&s, PROBE_OK, 3, FALL));
    assert_int_equal(s.verdict, HEALTH_DOWN);
    assert_true(health_state_feed(&s, PROBE_OK, 3, FALL));
    assert_int_equal(s.verdict, HEALTH_UP);
}

static void test_state_down_stays_down_on_failures(void **state)
{
    (void)state;
    struct health_state s = make_state(HEALTH_DOWN);
    for (int i = 0; i < 100; i++)
        assert_false(feed(&s, PROBE_L4TOUT));
    assert_int_equal(s.verdict, HEALTH_DOWN);
    assert_int_equal(s.fail_run, 100);
}

static void test_state_needs_a_fresh_success_run_after_going_down(void **state)
{
    (void)state;
    struct health_state s = make_state(HEALTH_UP);
    /* Successes before the fall must not count towards the rise. */
    for (int i = 0; i < 10; i++)
        assert_false(feed(&s, PROBE_OK));
    assert_false(feed(&s, PROBE_L6));
    assert_false(feed(&s, PROBE_L6));
    assert_true(feed(&s, PROBE_L6));
    assert_false(feed(&s, PROBE_OK));
    assert_int_equal(s.verdict, HEALTH_DOWN);
    assert_true(feed(&s, PROBE_OK));
    assert_int_equal(s.verdict, HEALTH_UP);
    /* And failures before the rise must not count towards the next fall. */
    assert_false(feed(&s, PROBE_L6));
    assert_false(feed(&s, PROBE_L6));
    assert_int_equal(s.verdict, HEALTH_UP);
}

/* ---- flapping, LOCAL, saturation --------------------------------------------------------- */

static void test_state_alternating_results_never_flip_with_fall_3_and_rise_2(void **state)
{
    (void)state;
    /* From UP and from DOWN, starting with a failure and with a success. */
    struct health_state s[4] = {
        make_state(HEALTH_UP),
        make_state(HEALTH_UP),
        make_state(HEALTH_DOWN),
        make_state(HEALTH_DOWN),
    };
    for (int i = 0; i < 1000; i++) {
        for (int k = 0; k < 4; k++) {
            enum probe_result r = (i + k) % 2 ? PROBE_OK : PROBE_L7STS;
            assert_false(feed(&s[k], r));
        }
    }
    assert_int_equal(s[0].verdict, HEALTH_UP);
    assert_int_equal(s[1].verdict, HEALTH_UP);
    assert_int_equal(s[2].verdict, HEALTH_DOWN);
    assert_int_equal(s[3].verdict, HEALTH_DOWN);
}

static void test_state_two_failures_then_success_never_flip_with_fall_3(void **state)
{
    (void)state;
    struct health_state s = make_state(HEALTH_UP);
    for (int i = 0; i < 300; i++) {
        assert_false(feed(&s, PROBE_L4CON));
        assert_false(feed(&s, PROBE_L4CON));
        assert_false(feed(&s, PROBE_OK));
    }
    assert_int_equal(s.verdict, HEALTH_UP);
}

static void test_state_ignores_local_errors_in_every_verdict(void **state)
{
    (void)state;
    /* UP with two failures: a LOCAL neither completes nor breaks the failure run. */
    struct health_state s = make_state(HEALTH_UP);
    assert_false(feed(&s, PROBE_L4CON));
    assert_false(feed(&s, PROBE_L4CON));
    for (int i = 0; i < 10; i++)
        assert_false(feed(&s, PROBE_LOCAL));
    assert_int_equal(s.verdict, HEALTH_UP);
    assert_int_equal(s.fail_run, 2);
    assert_int_equal(s.ok_run, 0);
    assert_true(feed(&s, PROBE_L4CON));
    assert_int_equal(s.verdict, HEALTH_DOWN);

    /* DOWN with one success: likewise for the success run. */
    assert_false(feed(&s, PROBE_OK));
    for (int i = 0; i < 10; i++)
        assert_false(feed(&s, PROBE_LOCAL));
    assert_int_equal(s.verdict, HEALTH_DOWN);
    assert_int_equal(s.ok_run, 1);
    assert_int_equal(s.fail_run, 0);
    assert_true(feed(&s, PROBE_OK));
    assert_int_equal(s.verdict, HEALTH_UP);
}

static void test_state_local_errors_with_fall_one_change_nothing(void **state)
{
    (void)state;
    struct health_state s = make_state(HEALTH_UP);
    for (int i = 0; i < 10; i++)
        assert_false(health_state_feed(&s, PROBE_LOCAL, 1, 1));
    assert_int_equal(s.verdict, HEALTH_UP);
}

static void test_state_success_run_saturates_at_65535(void **state)
{
    (void)state;
    struct health_state s = make_state(HEALTH_UP);
    for (long i = 0; i < 70000; i++)
        assert_false(feed(&s, PROBE_OK));
    assert_int_equal(s.ok_run, UINT16_MAX);
    assert_int_equal(s.verdict, HEALTH_UP);
    /* Still a normal fall afterwards. */
    assert_false(feed(&s, PROBE_L4CON));
    assert_int_equal(s.ok_run, 0);
    assert_false(feed(&s, PROBE_L4CON));
    assert_true(feed(&s, PROBE_L4CON));
}

static void test_state_failure_run_saturates_at_65535(void **state)
{
    (void)state;
    struct health_state s = make_state(HEALTH_DOWN);
    for (long i = 0; i < 70000; i++)
        assert_false(feed(&s, PROBE_L4TOUT));
    assert_int_equal(s.fail_run, UINT16_MAX);
    assert_int_equal(s.verdict, HEALTH_DOWN);
    assert_false(feed(&s, PROBE_OK));
    assert_int_equal(s.fail_run, 0);
    assert_true(feed(&s, PROBE_OK));
}

static void test_state_fall_of_65535_is_reached_by_a_saturated_run(void **state)
{
    (void)state;
    struct health_state s = make_state(HEALTH_UP);
    for (long i = 0; i < UINT16_MAX - 1; i++)
        assert_false(health_state_feed(&s, PROBE_L4CON, 1, UINT16_MAX));
    assert_true(health_state_feed(&s, PROBE_L4CON, 1, UINT16_MAX));
    assert_int_equal(s.verdict, HEALTH_DOWN);
    assert_false(health_state_feed(&s, PROBE_L4CON, 1, UINT16_MAX));
    assert_int_equal(s.fail_run, UINT16_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_names_every_probe_result),
        cmocka_unit_test(test_state_names_out_of_range_results_without_crashing),
        cmocka_unit_test(test_state_unknown_goes_up_on_first_success),
        cmocka_unit_test(test_state_unknown_goes_down_on_first_failure_of_any_kind),
        cmocka_unit_test(test_state_unknown_ignores_rise_and_fall_larger_than_one),
        cmocka_unit_test(test_state_unknown_stays_unknown_on_local_error),
        cmocka_unit_test(test_state_goes_down_after_fall_failures),
        cmocka_unit_test(test_state_counts_mixed_failure_kinds_as_one_run),
        cmocka_unit_test(test_state_single_failure_never_flips_up_when_fall_is_above_one),
        cmocka_unit_test(test_state_goes_down_on_first_failure_when_fall_is_one),
        cmocka_unit_test(test_state_success_resets_the_failure_run),
        cmocka_unit_test(test_state_up_stays_up_on_successes),
        cmocka_unit_test(test_state_goes_up_after_rise_successes),
        cmocka_unit_test(test_state_goes_up_on_first_success_when_rise_is_one),
        cmocka_unit_test(test_state_failure_resets_the_success_run),
        cmocka_unit_test(test_state_down_stays_down_on_failures),
        cmocka_unit_test(test_state_needs_a_fresh_success_run_after_going_down),
        cmocka_unit_test(test_state_alternating_results_never_flip_with_fall_3_and_rise_2),
        cmocka_unit_test(test_state_two_failures_then_success_never_flip_with_fall_3),
        cmocka_unit_test(test_state_ignores_local_errors_in_every_verdict),
        cmocka_unit_test(test_state_local_errors_with_fall_one_change_nothing),
        cmocka_unit_test(test_state_success_run_saturates_at_65535),
        cmocka_unit_test(test_state_failure_run_saturates_at_65535),
        cmocka_unit_test(test_state_fall_of_65535_is_reached_by_a_saturated_run),
    };
    return cmocka_run_group_tests_name("health_state", tests, NULL, NULL);
}
