/* SPDX-License-Identifier: MIT */
/* Unit tests for health/expect.c: the three expectation forms, their limits and messages, and
 * matching a status against a list of ranges. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>

#include "health/expect.h"

#define GENERIC_MSG "is not a status code, a class like '2xx' or a range like '200-399'"

static void parse_ok(const char *text, unsigned lo, unsigned hi)
{
    struct expect_range r = {0, 0};
    struct errbuf err = {{0}};
    int rc = expect_parse(text, &r, &err);
    if (rc < 0)
        print_error("expect_parse('%s') failed: %s\n", text, err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(r.lo, lo);
    assert_int_equal(r.hi, hi);
}

/* Asserts -EINVAL with the message "'<text>' <rest>", and that ret is left alone. */
static void parse_fails(const char *text, const char *rest)
{
    struct expect_range r = {1, 2};
    struct errbuf err = {{0}};
    char want[sizeof(err.msg)];
    assert_int_equal(expect_parse(text, &r, &err), -EINVAL);
    snprintf(want, sizeof(want), "'%s' %s", text, rest);
    assert_string_equal(err.msg, want);
    assert_int_equal(r.lo, 1);
    assert_int_equal(r.hi, 2);
}

/* ---- single codes ------------------------------------------------------------------------ */

static void test_expect_parses_a_single_code(void **state)
{
    (void)state;
    parse_ok("200", 200, 200);
    parse_ok("204", 204, 204);
    parse_ok("100", 100, 100);
    parse_ok("599", 599, 599);
}

static void test_expect_rejects_codes_outside_100_to_599(void **state)
{
    (void)state;
    parse_fails("099", "is not a status code from 100 to 599");
    parse_fails("000", "is not a status code from 100 to 599");
    parse_fails("600", "is not a status code from 100 to 599");
    parse_fails("999", "is not a status code from 100 to 599");
}

static void test_expect_rejects_codes_of_the_wrong_length_or_with_signs(void **state)
{
    (void)state;
    parse_fails("20", GENERIC_MSG);
    parse_fails("2000", GENERIC_MSG);
    parse_fails("0200", GENERIC_MSG);
    parse_fails("+200", GENERIC_MSG);
    parse_fails("-200", GENERIC_MSG);
    parse_fails("2e2", GENERIC_MSG);
    parse_fails("abc", GENERIC_MSG);
}

/* ---- classes ----------------------------------------------------------------------------- */

static void test_expect_parses_a_class_in_either_case(void **state)
{
    (void)state;
    parse_ok("1xx", 100, 199);
    parse_ok("2xx", 200, 299);
    parse_ok("3XX", 300, 399);
    parse_ok("4xx", 400, 499);
    parse_ok("5XX", 500, 599);
}

static void test_expect_rejects_classes_outside_1xx_to_5xx(void **state)
{
    (void)state;
    parse_fails("0xx", "is not a status class from 1xx to 5xx");
    parse_fails("6xx", "is not a status class from 1xx to 5xx");
    parse_fails("9XX", "is not a status class from 1xx to 5xx");
}

static void test_expect_rejects_malformed_classes(void **state)
{
    (void)state;
    parse_fails("2x9", GENERIC_MSG);
    parse_fails("20x", GENERIC_MSG);
    parse_fails("2x", GENERIC_MSG);
    parse_fails("2xxx", GENERIC_MSG);
    parse_fails("xxx", GENERIC_MSG);
    parse_fails("2xX", GENERIC_MSG);
    parse_fails("2Xx", GENERIC_MSG);
    parse_fails("2yy", GENERIC_MSG);
}

/* ---- ranges ------------------------------------------------------------------------------ */

static void test_expect_parses_a_range(void **state)
{
    (void)state;
    parse_ok("200-399", 200, 399);
    parse_ok("100-599", 100, 599);
    parse_ok("301-302", 301, 302);
}

static void test_expect_accepts_a_range_of_one_code(void **state)
{
    (void)state;
    parse_ok("204-204", 204, 204);
}

static void test_expect_rejects_a_range_whose_start_is_above_its_end(void **state)
{
    (void)state;
    parse_fails("399-200", "is not a range of status codes: the start must not be above the end");
    parse_fails("201-200", "is not a range of status codes: the start must not be above the end");
}

static void test_expect_rejects_a_range_with_an_end_outside_100_to_599(void **state)
{
    (void)state;
    const char *msg = "is not a range of status codes: both ends must be from 100 to 599";
    parse_fails("099-200", msg);
    parse_fails("200-600", msg);
    parse_fails("000-999", msg);
    parse_fails("600-500", msg);
}

static void test_expect_rejects_malformed_ranges(void **state)
{
    (void)state;
    parse_fails("200-", GENERIC_MSG);
    parse_fails("-399", GENERIC_MSG);
    parse_fails("200-39", GENERIC_MSG);
    parse_fails("20-399", GENERIC_MSG);
    parse_fails("200--399", GENERIC_MSG);
    parse_fails("200-3999", GENERIC_MSG);
    parse_fails("200..399", GENERIC_MSG);
    parse_fails("200_399", GENERIC_MSG);
    parse_fails("2xx-3xx", GENERIC_MSG);
    parse_fails("200-2xx", GENERIC_MSG);
    parse_fails("200,201", GENERIC_MSG);
}

/* ---- whitespace, empty, NULL ------------------------------------------------------------- */

static void test_expect_rejects_whitespace_around_or_inside(void **state)
{
    (void)state;
    parse_fails(" 200", GENERIC_MSG);
    parse_fails("200 ", GENERIC_MSG);
    parse_fails("\t2xx", GENERIC_MSG);
    parse_fails("2xx\n", GENERIC_MSG);
    parse_fails("200 - 399", GENERIC_MSG);
    parse_fails("200 -399", GENERIC_MSG);
    parse_fails(" 200-399 ", GENERIC_MSG);
}

static void test_expect_rejects_the_empty_string(void **state)
{
    (void)state;
    parse_fails("", GENERIC_MSG);
}

static void test_expect_rejects_null_text(void **state)
{
    (void)state;
    struct expect_range r = {1, 2};
    struct errbuf err = {{0}};
    assert_int_equal(expect_parse(NULL, &r, &err), -EINVAL);
    assert_string_equal(err.msg, "missing status code expectation");
    assert_int_equal(r.lo, 1);
}

static void test_expect_parse_accepts_a_null_errbuf(void **state)
{
    (void)state;
    struct expect_range r = {0, 0};
    assert_int_equal(expect_parse("700", &r, NULL), -EINVAL);
    assert_int_equal(expect_parse("2xx", &r, NULL), 0);
    assert_int_equal(r.lo, 200);
}

/* ---- matching ---------------------------------------------------------------------------- */

static void test_expect_matches_only_200_with_no_ranges(void **state)
{
    (void)state;
    assert_true(expect_match(NULL, 0, 200));
    assert_false(expect_match(NULL, 0, 201));
    assert_false(expect_match(NULL, 0, 204));
    assert_false(expect_match(NULL, 0, 199));
    assert_false(expect_match(NULL, 0, 0));
    assert_false(expect_match(NULL, 0, -200));
}

static void test_expect_matches_inclusive_bounds_of_a_range(void **state)
{
    (void)state;
    const struct expect_range r[] = {{200, 399}};
    assert_false(expect_match(r, 1, 199));
    assert_true(expect_match(r, 1, 200));
    assert_true(expect_match(r, 1, 302));
    assert_true(expect_match(r, 1, 399));
    assert_false(expect_match(r, 1, 400));
}

static void test_expect_matches_any_of_several_ranges(void **state)
{
    (void)state;
    const struct expect_range r[] = {{204, 204}, {300, 399}, {418, 418}};
    assert_true(expect_match(r, 3, 204));
    assert_true(expect_match(r, 3, 301));
    assert_true(expect_match(r, 3, 418));
    assert_false(expect_match(r, 3, 200));
    assert_false(expect_match(r, 3, 205));
    assert_false(expect_match(r, 3, 417));
    assert_false(expect_match(r, 3, 500));
}

static void test_expect_with_ranges_does_not_add_200_implicitly(void **state)
{
    (void)state;
    const struct expect_range r[] = {{204, 204}};
    assert_false(expect_match(r, 1, 200));
}

static void test_expect_never_matches_status_zero_or_out_of_range_values(void **state)
{
    (void)state;
    const struct expect_range r[] = {{100, 599}};
    assert_false(expect_match(r, 1, 0));
    assert_false(expect_match(r, 1, -1));
    assert_false(expect_match(r, 1, 600));
    assert_false(expect_match(r, 1, 65536 + 200));
    assert_false(expect_match(r, 1, -65536 + 200));
}

static void test_expect_parsed_ranges_match_as_written(void **state)
{
    (void)state;
    struct expect_range r[3];
    assert_int_equal(expect_parse("2xx", &r[0], NULL), 0);
    assert_int_equal(expect_parse("301-302", &r[1], NULL), 0);
    assert_int_equal(expect_parse("404", &r[2], NULL), 0);
    for (long st = 0; st < 700; st++) {
        bool want = (st >= 200 && st <= 299) || st == 301 || st == 302 || st == 404;
        assert_int_equal(expect_match(r, 3, st), want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expect_parses_a_single_code),
        cmocka_unit_test(test_expect_rejects_codes_outside_100_to_599),
        cmocka_unit_test(test_expect_rejects_codes_of_the_wrong_length_or_with_signs),
        cmocka_unit_test(test_expect_parses_a_class_in_either_case),
        cmocka_unit_test(test_expect_rejects_classes_outside_1xx_to_5xx),
        cmocka_unit_test(test_expect_rejects_malformed_classes),
        cmocka_unit_test(test_expect_parses_a_range),
        cmocka_unit_test(test_expect_accepts_a_range_of_one_code),
        cmocka_unit_test(test_expect_rejects_a_range_whose_start_is_above_its_end),
        cmocka_unit_test(test_expect_rejects_a_range_with_an_end_outside_100_to_599),
        cmocka_unit_test(test_expect_rejects_malformed_ranges),
        cmocka_unit_test(test_expect_rejects_whitespace_around_or_inside),
        cmocka_unit_test(test_expect_rejects_the_empty_string),
        cmocka_unit_test(test_expect_rejects_null_text),
        cmocka_unit_test(test_expect_parse_accepts_a_null_errbuf),
        cmocka_unit_test(test_expect_matches_only_200_with_no_ranges),
        cmocka_unit_test(test_expect_matches_inclusive_bounds_of_a_range),
        cmocka_unit_test(test_expect_matches_any_of_several_ranges),
        cmocka_unit_test(test_expect_with_ranges_does_not_add_200_implicitly),
        cmocka_unit_test(test_expect_never_matches_status_zero_or_out_of_range_values),
        cmocka_unit_test(test_expect_parsed_ranges_match_as_written),
    };
    return cmocka_run_group_tests_name("health_expect", tests, NULL, NULL);
}
