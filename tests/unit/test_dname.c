/* SPDX-License-Identifier: MIT */
/* Unit tests for common/dname.c: presentation text <-> wire form, escapes, limits, canonical
 * text, case-insensitive comparison. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "common/dname.h"

/* Wire form of example.com. */
static const uint8_t example_com[] = "\7example\3com";

/* Parses NUL-terminated text, asserting success; returns the wire length. */
static int parse_ok(const char *text, const uint8_t *origin, uint8_t *wire)
{
    struct errbuf err = {{0}};
    int n = dname_from_text(text, strlen(text), origin, wire, &err);
    if (n < 0)
        print_error("dname_from_text('%s') failed: %s\n", text, err.msg);
    assert_true(n > 0);
    return n;
}

/* Parses NUL-terminated text, asserting -EINVAL and the exact message. */
static void parse_fails(const char *text, const uint8_t *origin, const char *msg)
{
    uint8_t wire[DNAME_WIRE_MAX];
    struct errbuf err = {{0}};
    assert_int_equal(dname_from_text(text, strlen(text), origin, wire, &err), -EINVAL);
    assert_string_equal(err.msg, msg);
}

static void assert_wire(const uint8_t *wire, int n, const void *expect, size_t expect_len)
{
    assert_int_equal(n, expect_len);
    assert_memory_equal(wire, expect, expect_len);
}

/* A label of n copies of c, followed by a dot. */
static char *put_label(char *p, char c, size_t n)
{
    memset(p, c, n);
    p[n] = '.';
    return p + n + 1;
}

/* ---- dname_from_text --------------------------------------------------------------------- */

static void test_dname_parses_absolute_name_and_keeps_its_case(void **state)
{
    (void)state;
    uint8_t wire[DNAME_WIRE_MAX];
    int n = parse_ok("WwW.Example.COM.", NULL, wire);
    assert_wire(wire, n, "\3WwW\7Example\3COM", 17);
}

static void test_dname_absolute_name_ignores_the_origin(void **state)
{
    (void)state;
    uint8_t wire[DNAME_WIRE_MAX];
    int n = parse_ok("www.example.net.", example_com, wire);
    assert_wire(wire, n, "\3www\7example\3net", 17);
}

static void test_dname_appends_the_origin_to_a_relative_name(void **state)
{
    (void)state;
    uint8_t wire[DNAME_WIRE_MAX];
    int n = parse_ok("www", example_com, wire);
    assert_wire(wire, n, "\3www\7example\3com", 17);
    n = parse_ok("a.b.c", example_com, wire);
    assert_wire(wire, n, "\1a\1b\1c\7example\3com", 19);
}

static void test_dname_at_sign_stands_for_the_origin(void **state)
{
    (void)state;
    uint8_t wire[DNAME_WIRE_MAX];
    int n = parse_ok("@", example_com, wire);
    assert_wire(wire, n, example_com, sizeof(example_com));
}

static void test_dname_at_sign_needs_an_origin(void **state)
{
    (void)state;
    parse_fails("@", NULL, "'@' needs a zone origin");
}

static void test_dname_at_sign_inside_a_name_is_an_ordinary_byte(void **state)
{
    (void)state;
    uint8_t wire[DNAME_WIRE_MAX];
    int n = parse_ok("@.example.com.", NULL, wire);
    assert_wire(wire, n, "\1@\7example\3com", 15);
}

static void test_dname_relative_name_needs_an_origin(void **state)
{
    (void)state;
    parse_fails("www.example.com", NULL, "'www.example.com' is not absolute (it must end in '.')");
}

static void test_dname_root_is_a_single_zero_byte(void **state)
{
    (void)state;
    uint8_t wire[DNAME_WIRE_MAX];
    int n = parse_ok(".", NULL, wire);
    assert_wire(wire, n, "", 1);
    /* The root is absolute, so an origin does not change it. */
    n = parse_ok(".", example_com, wire);
    assert_wire(wire, n, "", 1);
}

static void test_dname_decodes_decimal_escapes(void **state)
{
    (void)state;
    uint8_t wire[DNAME_WIRE_MAX];
    int n = parse_ok("sp\\032ace.x\\000\\255y.", NULL, wire);
    assert_wire(wire, n, "\6sp ace\4x\0\377y", 13);
}

static void test_dname_escaped_dot_stays_inside_its_label(void **state)
{
    (void)state;
    uint8_t wire[DNAME_WIRE_MAX];
    int n = parse_ok("a\\.b.example.", NULL, wire);
    assert_wire(wire, n, "\3a.b\7example", 13);
    /* \046 is a dot too, and also does not split the label. */
    n = parse_ok("a\\046b.example.", NULL, wire);
    assert_wire(wire, n, "\3a.b\7example", 13);
}

static void test_dname_escaped_character_stands_for_itself(void **state)
{
    (void)state;
    uint8_t wire[DNAME_WIRE_MAX];
    int n = parse_ok("a\\\\b\\\"c.", NULL, wire);
    assert_wire(wire, n, "\5a\\b\"c", 7);
}

static void test_dname_name_ending_in_an_escaped_dot_is_relative(void **state)
{
    (void)state;
    uint8_t wire[DNAME_WIRE_MAX];
    parse_fails("a\\.", NULL, "'a\\.' is not absolute (it must end in '.')");
    int n = parse_ok("a\\.", example_com, wire);
    assert_wire(wire, n, "\2a.\7example\3com", 16);
}

static void test_dname_rejects_escape_above_255(void **state)
{
    (void)state;
    parse_fails("a\\256.", NULL, "'a\\256.' has an escape \\256 above 255");
}

static void test_dname_rejects_short_decimal_escape(void **state)
{
    (void)state;
    parse_fails("a\\03.", NULL, "'a\\03.' has a short \\DDD escape");
    parse_fails("a\\03", NULL, "'a\\03' has a short \\DDD escape");
    parse_fails("a\\0x1.", NULL, "'a\\0x1.' has a short \\DDD escape");
}

static void test_dname_rejects_lone_trailing_backslash(void **state)
{
    (void)state;
    parse_fails("a\\", NULL, "'a\\' ends in a lone backslash");
}

static void test_dname_rejects_empty_name(void **state)
{
    (void)state;
    parse_fails("", NULL, "empty name");
    parse_fails("", example_com, "empty name");
}

static void test_dname_rejects_empty_labels(void **state)
{
    (void)state;
    parse_fails("a..b.", NULL, "'a..b.' has an empty label");
    parse_fails(".a.", NULL, "'.a.' has an empty label");
    parse_fails("..", NULL, "'..' has an empty label");
    parse_fails("www..", example_com, "'www..' has an empty label");
}

static void test_dname_accepts_63_byte_label_and_rejects_64(void **state)
{
    (void)state;
    char text[80];
    uint8_t wire[DNAME_WIRE_MAX];

    memset(text, 0, sizeof(text));
    put_label(text, 'a', 63);
    int n = parse_ok(text, NULL, wire);
    assert_int_equal(n, 65);
    assert_int_equal(wire[0], 63);
    assert_int_equal(wire[64], 0);

    memset(text, 0, sizeof(text));
    put_label(text, 'a', 64);
    uint8_t w2[DNAME_WIRE_MAX];
    struct errbuf err = {{0}};
    assert_int_equal(dname_from_text(text, strlen(text), NULL, w2, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "has a label longer than 63 bytes"));
}

static void test_dname_counts_an_escape_as_one_byte_of_its_label(void **state)
{
    (void)state;
    char text[64 * 4 + 2] = "";
    uint8_t wire[DNAME_WIRE_MAX];
    for (int i = 0; i < 63; i++)
        strcat(text, "\\065");
    strcat(text, ".");
    int n = parse_ok(text, NULL, wire);
    assert_int_equal(n, 65);
    assert_int_equal(wire[0], 63);
    assert_int_equal(wire[1], 'A');

    strcpy(text + strlen(text) - 1, "\\065.");
    struct errbuf err = {{0}};
    assert_int_equal(dname_from_text(text, strlen(text), NULL, wire, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "has a label longer than 63 bytes"));
}

static void test_dname_accepts_255_byte_name_and_rejects_256(void **state)
{
    (void)state;
    char text[300] = "";
    uint8_t wire[DNAME_WIRE_MAX];
    char *p = text;

    /* 3 * (1 + 63) + (1 + 62) + 1 = 256 wire bytes */
    p = put_label(p, 'a', 63);
    p = put_label(p, 'b', 63);
    p = put_label(p, 'c', 63);
    put_label(p, 'd', 62);
    struct errbuf err = {{0}};
    assert_int_equal(dname_from_text(text, strlen(text), NULL, wire, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "is longer than 255 bytes"));
    /* The message quotes at most 80 bytes of the name. */
    assert_true(strlen(err.msg) < 120);

    /* One byte shorter: exactly 255 */
    memset(text, 0, sizeof(text));
    p = put_label(text, 'a', 63);
    p = put_label(p, 'b', 63);
    p = put_label(p, 'c', 63);
    put_label(p, 'd', 61);
    int n = parse_ok(text, NULL, wire);
    assert_int_equal(n, DNAME_WIRE_MAX);
    assert_int_equal(wire[254], 0);
}

static void test_dname_rejects_too_long_name_after_adding_the_origin(void **state)
{
    (void)state;
    char text[300] = "";
    uint8_t wire[DNAME_WIRE_MAX];
    char *p = text;

    /* 3 * 64 + 51 = 243 bytes of labels + 13 of example.com = 256 */
    p = put_label(p, 'a', 63);
    p = put_label(p, 'b', 63);
    p = put_label(p, 'c', 63);
    memset(p, 'd', 50);
    struct errbuf err = {{0}};
    assert_int_equal(dname_from_text(text, strlen(text), example_com, wire, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "is longer than 255 bytes with its zone"));

    p[49] = '\0'; /* 255 with the origin */
    int n = parse_ok(text, example_com, wire);
    assert_int_equal(n, DNAME_WIRE_MAX);
}

static void test_dname_parses_only_len_bytes(void **state)
{
    (void)state;
    uint8_t wire[DNAME_WIRE_MAX];
    struct errbuf err = {{0}};
    int n = dname_from_text("www.example.com.GARBAGE", 16, NULL, wire, &err);
    assert_wire(wire, n, "\3www\7example\3com", 17);
}

/* ---- dname_to_text ------------------------------------------------------------------------ */

static void test_dname_to_text_prints_labels_with_a_trailing_dot(void **state)
{
    (void)state;
    char text[DNAME_TEXT_MAX];
    assert_int_equal(dname_to_text((const uint8_t *)"\3www\7Example\3com", false, text), 16);
    assert_string_equal(text, "www.Example.com.");
}

static void test_dname_to_text_without_dot_drops_only_the_final_dot(void **state)
{
    (void)state;
    char text[DNAME_TEXT_MAX];
    assert_int_equal(dname_to_text((const uint8_t *)"\3www\7example\3com", true, text), 15);
    assert_string_equal(text, "www.example.com");
}

static void test_dname_to_text_prints_the_root_as_a_dot(void **state)
{
    (void)state;
    char text[DNAME_TEXT_MAX];
    assert_int_equal(dname_to_text((const uint8_t *)"", false, text), 1);
    assert_string_equal(text, ".");
    assert_int_equal(dname_to_text((const uint8_t *)"", true, text), 1);
    assert_string_equal(text, ".");
}

static void test_dname_to_text_escapes_bytes_outside_printable_ascii(void **state)
{
    (void)state;
    char text[DNAME_TEXT_MAX];
    /* 0x00, space, '!', '~', DEL, 0x80, 0xff */
    static const uint8_t wire[] = {7, 0x00, 0x20, 0x21, 0x7e, 0x7f, 0x80, 0xff, 0};
    dname_to_text(wire, false, text);
    assert_string_equal(text, "\\000\\032!~\\127\\128\\255.");
}

static void test_dname_to_text_backslashes_dot_and_backslash(void **state)
{
    (void)state;
    char text[DNAME_TEXT_MAX];
    dname_to_text((const uint8_t *)"\5a.b\\c\3com", false, text);
    assert_string_equal(text, "a\\.b\\\\c.com.");
    /* Other punctuation, including '"', '*' and '@', is printed as is. */
    dname_to_text((const uint8_t *)"\1*\3\"@;", false, text);
    assert_string_equal(text, "*.\"@;.");
}

static void test_dname_to_text_fits_a_fully_escaped_maximal_name(void **state)
{
    (void)state;
    uint8_t wire[DNAME_WIRE_MAX];
    char text[DNAME_TEXT_MAX + 16];
    size_t o = 0;
    /* 3 labels of 63 and one of 61 zero bytes: 255 bytes on the wire */
    for (int l = 0; l < 4; l++) {
        size_t n = l < 3 ? 63 : 61;
        wire[o++] = (uint8_t)n;
        memset(wire + o, 0, n);
        o += n;
    }
    wire[o++] = 0;
    assert_int_equal(o, DNAME_WIRE_MAX);
    memset(text, 'X', sizeof(text));
    size_t len = dname_to_text(wire, false, text);
    assert_int_equal(len, 250 * 4 + 4);
    assert_true(len < DNAME_TEXT_MAX);
    assert_int_equal(text[len], '\0');
}

static void test_dname_text_round_trips_through_wire(void **state)
{
    (void)state;
    static const char *const names[] = {
        ".",
        "example.com.",
        "sp\\032ace.example.",
        "a\\.b.example.",
        "back\\\\slash.",
        "\\000\\255.",
        "*.dyn.example.com.",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        uint8_t wire[DNAME_WIRE_MAX];
        char text[DNAME_TEXT_MAX];
        parse_ok(names[i], NULL, wire);
        dname_to_text(wire, false, text);
        assert_string_equal(text, names[i]);
    }
    /* Non-canonical escapes come back canonical. */
    uint8_t wire[DNAME_WIRE_MAX];
    char text[DNAME_TEXT_MAX];
    parse_ok("\\097\\.\\046b\\c.", NULL, wire);
    dname_to_text(wire, false, text);
    assert_string_equal(text, "a\\.\\.bc.");
}

/* ---- helpers and comparison --------------------------------------------------------------- */

static void test_dname_wire_len_and_label_count(void **state)
{
    (void)state;
    assert_int_equal(dname_wire_len((const uint8_t *)""), 1);
    assert_int_equal(dname_label_count((const uint8_t *)""), 0);
    assert_int_equal(dname_wire_len(example_com), 13);
    assert_int_equal(dname_label_count(example_com), 2);
    assert_int_equal(dname_label_count((const uint8_t *)"\1a\1b\1c\7example\3com"), 5);
}

static void test_dname_parent_drops_the_first_label_and_stops_at_the_root(void **state)
{
    (void)state;
    const uint8_t *www = (const uint8_t *)"\3www\7example\3com";
    assert_memory_equal(dname_parent(www), example_com, sizeof(example_com));
    const uint8_t *root = dname_parent(dname_parent(example_com));
    assert_int_equal(root[0], 0);
    assert_ptr_equal(dname_parent(root), root);
}

static void test_dname_lower_folds_only_ascii_letters(void **state)
{
    (void)state;
    uint8_t wire[] = {5, 'A', 'z', 'Q', 0xC4, '@', 3, 'C', 'O', 'M', 0};
    dname_lower(wire);
    static const uint8_t expect[] = {5, 'a', 'z', 'q', 0xC4, '@', 3, 'c', 'o', 'm', 0};
    assert_memory_equal(wire, expect, sizeof(expect));
}

static void test_dname_equal_ignores_ascii_case(void **state)
{
    (void)state;
    assert_true(dname_equal((const uint8_t *)"\3WWW\7example\3COM",
                            (const uint8_t *)"\3www\7EXAMPLE\3com"));
    assert_true(dname_equal((const uint8_t *)"", (const uint8_t *)""));
}

static void test_dname_equal_distinguishes_different_names(void **state)
{
    (void)state;
    assert_false(dname_equal((const uint8_t *)"\3www\7example\3com", example_com));
    assert_false(dname_equal((const uint8_t *)"\3wwx\7example\3com",
                             (const uint8_t *)"\3www\7example\3com"));
    /* Same bytes, different label boundaries */
    assert_false(dname_equal((const uint8_t *)"\2ab\1c", (const uint8_t *)"\1a\2bc"));
    /* Case folding is ASCII only: '@' (0x40) and '`' (0x60) differ, as do 0xC4 and 0xE4. */
    assert_false(dname_equal((const uint8_t *)"\1@", (const uint8_t *)"\1`"));
    assert_false(dname_equal((const uint8_t *)"\1\xC4", (const uint8_t *)"\1\xE4"));
    assert_false(dname_equal((const uint8_t *)"", example_com));
}

static void test_dname_is_below_includes_the_name_itself(void **state)
{
    (void)state;
    assert_true(dname_is_below(example_com, example_com));
    assert_true(dname_is_below((const uint8_t *)"\7EXAMPLE\3com", example_com));
}

static void test_dname_is_below_accepts_descendants_case_insensitively(void **state)
{
    (void)state;
    assert_true(dname_is_below((const uint8_t *)"\3WWW\7Example\3com", example_com));
    assert_true(dname_is_below((const uint8_t *)"\1a\1b\1c\7example\3com", example_com));
    assert_true(dname_is_below(example_com, (const uint8_t *)""));
    assert_true(dname_is_below((const uint8_t *)"", (const uint8_t *)""));
}

static void test_dname_is_below_respects_label_boundaries(void **state)
{
    (void)state;
    assert_false(dname_is_below((const uint8_t *)"\10xexample\3com", example_com));
    assert_false(dname_is_below((const uint8_t *)"\3www\7example\3net", example_com));
    assert_false(dname_is_below(example_com, (const uint8_t *)"\3www\7example\3com"));
    assert_false(dname_is_below((const uint8_t *)"", example_com));
    assert_false(dname_is_below((const uint8_t *)"\3com", example_com));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dname_parses_absolute_name_and_keeps_its_case),
        cmocka_unit_test(test_dname_absolute_name_ignores_the_origin),
        cmocka_unit_test(test_dname_appends_the_origin_to_a_relative_name),
        cmocka_unit_test(test_dname_at_sign_stands_for_the_origin),
        cmocka_unit_test(test_dname_at_sign_needs_an_origin),
        cmocka_unit_test(test_dname_at_sign_inside_a_name_is_an_ordinary_byte),
        cmocka_unit_test(test_dname_relative_name_needs_an_origin),
        cmocka_unit_test(test_dname_root_is_a_single_zero_byte),
        cmocka_unit_test(test_dname_decodes_decimal_escapes),
        cmocka_unit_test(test_dname_escaped_dot_stays_inside_its_label),
        cmocka_unit_test(test_dname_escaped_character_stands_for_itself),
        cmocka_unit_test(test_dname_name_ending_in_an_escaped_dot_is_relative),
        cmocka_unit_test(test_dname_rejects_escape_above_255),
        cmocka_unit_test(test_dname_rejects_short_decimal_escape),
        cmocka_unit_test(test_dname_rejects_lone_trailing_backslash),
        cmocka_unit_test(test_dname_rejects_empty_name),
        cmocka_unit_test(test_dname_rejects_empty_labels),
        cmocka_unit_test(test_dname_accepts_63_byte_label_and_rejects_64),
        cmocka_unit_test(test_dname_counts_an_escape_as_one_byte_of_its_label),
        cmocka_unit_test(test_dname_accepts_255_byte_name_and_rejects_256),
        cmocka_unit_test(test_dname_rejects_too_long_name_after_adding_the_origin),
        cmocka_unit_test(test_dname_parses_only_len_bytes),
        cmocka_unit_test(test_dname_to_text_prints_labels_with_a_trailing_dot),
        cmocka_unit_test(test_dname_to_text_without_dot_drops_only_the_final_dot),
        cmocka_unit_test(test_dname_to_text_prints_the_root_as_a_dot),
        cmocka_unit_test(test_dname_to_text_escapes_bytes_outside_printable_ascii),
        cmocka_unit_test(test_dname_to_text_backslashes_dot_and_backslash),
        cmocka_unit_test(test_dname_to_text_fits_a_fully_escaped_maximal_name),
        cmocka_unit_test(test_dname_text_round_trips_through_wire),
        cmocka_unit_test(test_dname_wire_len_and_label_count),
        cmocka_unit_test(test_dname_parent_drops_the_first_label_and_stops_at_the_root),
        cmocka_unit_test(test_dname_lower_folds_only_ascii_letters),
        cmocka_unit_test(test_dname_equal_ignores_ascii_case),
        cmocka_unit_test(test_dname_equal_distinguishes_different_names),
        cmocka_unit_test(test_dname_is_below_includes_the_name_itself),
        cmocka_unit_test(test_dname_is_below_accepts_descendants_case_insensitively),
        cmocka_unit_test(test_dname_is_below_respects_label_boundaries),
    };
    return cmocka_run_group_tests_name("dname", tests, NULL, NULL);
}
