/* SPDX-License-Identifier: MIT */
/* Unit tests for common/jsonkeys: duplicate keys in JSON objects. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonkeys.h"
#include "common/sbuf.h"

static size_t scan(const char *json, struct errlist *errs)
{
    return json_report_duplicate_keys(json, strlen(json), errs);
}

static void test_jsonkeys_reports_a_repeated_key_with_both_positions(void **state)
{
    (void)state;
    struct errlist errs = ERRLIST_INIT;
    assert_int_equal(scan("{\"a\": 1,\n \"b\": 2,\n \"a\": 3}", &errs), 1);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.msgs[0], "line 3, column 2: duplicate key \"a\" in one object (the "
                                      "one at line 1, column 2 would be ignored)");
    errlist_free(&errs);
}

static void test_jsonkeys_allows_the_same_key_in_different_objects(void **state)
{
    (void)state;
    struct errlist errs = ERRLIST_INIT;
    assert_int_equal(
        scan("{\"a\": {\"a\": 1, \"b\": {\"a\": 2}}, \"b\": [{\"a\": 1}, {\"a\": 2}]}", &errs), 0);
    assert_int_equal(errs.n, 0);
    errlist_free(&errs);
}

static void test_jsonkeys_does_not_take_values_for_keys(void **state)
{
    (void)state;
    struct errlist errs = ERRLIST_INIT;
    assert_int_equal(scan("{\"a\": \"a\", \"b\": [\"a\", \"b\"], \"c\": \"b\"}", &errs), 0);
    errlist_free(&errs);
}

static void test_jsonkeys_handles_escaped_quotes_and_braces_in_strings(void **state)
{
    (void)state;
    struct errlist errs = ERRLIST_INIT;
    assert_int_equal(scan("{\"x\\\"{\": 1, \"y\": \"}]\\\\\", \"x\\\"{\": 2}", &errs), 1);
    assert_non_null(strstr(errs.msgs[0], "duplicate key \"x\\\"{\""));
    errlist_free(&errs);
}

static void test_jsonkeys_finds_duplicates_in_nested_objects_after_arrays(void **state)
{
    (void)state;
    struct errlist errs = ERRLIST_INIT;
    assert_int_equal(
        scan("{\"z\": {\"r\": {\"@\": [1, {\"t\": 1}], \"www\": [], \"www\": []}}}", &errs), 1);
    assert_non_null(strstr(errs.msgs[0], "duplicate key \"www\""));
    errlist_free(&errs);
}

static void test_jsonkeys_scales_to_many_keys(void **state)
{
    (void)state;
    struct sbuf b = SBUF_INIT;
    struct errlist errs = ERRLIST_INIT;
    sbuf_putc(&b, '{');
    for (int i = 0; i < 50000; i++)
        sbuf_printf(&b, "\"host%d\": %d,", i, i);
    sbuf_puts(&b, "\"host123\": 0}");
    assert_int_equal(json_report_duplicate_keys(b.p, b.len, &errs), 1);
    assert_non_null(strstr(errs.msgs[0], "\"host123\""));
    errlist_free(&errs);
    sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonkeys_reports_a_repeated_key_with_both_positions),
        cmocka_unit_test(test_jsonkeys_allows_the_same_key_in_different_objects),
        cmocka_unit_test(test_jsonkeys_does_not_take_values_for_keys),
        cmocka_unit_test(test_jsonkeys_handles_escaped_quotes_and_braces_in_strings),
        cmocka_unit_test(test_jsonkeys_finds_duplicates_in_nested_objects_after_arrays),
        cmocka_unit_test(test_jsonkeys_scales_to_many_keys),
    };
    return cmocka_run_group_tests_name("jsonkeys", tests, NULL, NULL);
}
