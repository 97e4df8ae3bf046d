/* SPDX-License-Identifier: MIT */
/* Unit tests for common/jsonscan: the strict check (never laxer than json-c's strict mode, with
 * every refusal at the right place), the cursor over checked text, and string decoding (the same
 * bytes as json-c's). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonscan.h"
#include "common/sbuf.h"

/* A small store with every kind of JSON value, escapes and nesting. */
static const char sample[] =
    "{\"zones\": {\"example.com.\": {\"ttl\": 3600, \"records\": {\n"
    "  \"@\": [{\"type\": \"SOA\", \"content\": \"ns1 hostmaster 1 7200 3600 1209600 300\"},\n"
    "         {\"type\": \"NS\", \"content\": \"ns1\"}],\n"
    "  \"w\\u0077w\": [{\"type\": \"TXT\", \"content\": \"\\\"a\\\\b\\/c\\\" \\u00e9\\u20ac\", "
    "\"ttl\": 60}],\n"
    "  \"n\": [{\"type\": \"A\", \"content\": \"192.0.2.1\", \"x\": [true, false, null, -0.5e+3, "
    "{}, []]}]\n"
    "}, \"metadata\": {\"X\": [\"\xc3\xa9\"]}}}}\n";

static int check(const char *json, size_t *bad)
{
    return jsonscan_check(json, strlen(json), bad, NULL);
}

/* Whether json-c in the store loader's strict mode reads the whole text as one value. */
static bool json_c_accepts(const char *json, size_t len)
{
    json_tokener *tok = json_tokener_new_ex(64);
    assert_non_null(tok);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, json, (int)len);
    bool ok = json_tokener_get_error(tok) == json_tokener_success;
    size_t end = json_tokener_get_parse_end(tok);
    while (ok && end < len && strchr(" \t\r\n", json[end]))
        end++;
    ok = ok && end == len;
    json_object_put(o);
    json_tokener_free(tok);
    return ok;
}

/* ---- the check ---------------------------------------------------------------------------- */

static void test_jsonscan_accepts_valid_json(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "{}",
        "[]",
        " \t\r\n{ \"a\" : [ 1 , -0 , 0.5 , 1e5 , 1E-5 , -12.5e+3 ] , \"b\" : { } } \n",
        "\"just a string\"",
        "42 ",
        "true\n",
        "null\t",
        "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\uFFFF\\ud83d\\ude00\"]",
        "[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\"]",
        "{\"a\": {\"a\": {\"a\": 1}}, \"b\": [{\"a\": 1}, {\"a\": 1}]}",
        sample,
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        size_t bad = SIZE_MAX;
        if (check(ok[i], &bad) != 0)
            fail_msg("refused at %zu: %s", bad, ok[i]);
        if (!json_c_accepts(ok[i], strlen(ok[i])))
            fail_msg("json-c refuses %s", ok[i]);
    }
}

static void test_jsonscan_refuses_invalid_json_where_it_goes_wrong(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        size_t bad;
    } cases[] = {
        {"", 0},
        {"   ", 3},
        {"{", 1},
        {"{\"a\"", 4},
        {"{\"a\":", 5},
        {"{\"a\": 1,}", 8},
        {"[1,]", 3},
        {"[1 2]", 3},
        {"{\"a\" 1}", 5},
        {"{1: 2}", 1},
        {"{\"a\": 1]", 7},
        {"[1}", 2},
        {"{} x", 3},
        {"{}{}", 2},
        {"[01]", 2},
        {"[1.]", 3},
        {"[.5]", 1},
        {"[+1]", 1},
        {"[1e]", 3},
        {"[-]", 2},
        {"[tru]", 1},
        {"[nul]", 1},
        {"[NaN]", 1},
        {"['a']", 1},
        {"[\"a]", 4},
        {"[\"\\x\"]", 2},
        {"[\"\\u12G4\"]", 2},
        {"[\"\\u12\"]", 2},
        {"[\"\\", 2},
        {"{\"a\": 1} // c", 9},
        /* json-c wants something after a number or literal to see that it has ended */
        {"42", 2},
        {"-1.5e3", 6},
        {"false", 5},
        {"[1]\f", 3},
        {"\v[1]", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t bad = SIZE_MAX;
        if (check(cases[i].json, &bad) != -EINVAL || bad != cases[i].bad)
            fail_msg("'%s': refused at %zu, want %zu", cases[i].json, bad, cases[i].bad);
    }
}

static void test_jsonscan_refuses_what_json_c_would_read_its_own_way(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        size_t bad;
    } cases[] = {
        /* json-c cuts strings at an escaped NUL */
        {"[\"a\\u0000b\"]", 3},
        /* json-c takes raw control characters; the store loader reports them through json-c */
        {"[\"a\tb\"]", 3},
        {"[\"a\nb\"]", 3},
        /* a key twice: json-c keeps the first place and the last value */
        {"{\"a\": 1, \"b\": 2, \"a\": 3}", 17},
        {"{\"a\": 1, \"\\u0061\": 2}", 9},
        {"{\"a/\": 1, \"a\\/\": 2}", 10},
        /* json-c makes U+FFFD of a lone surrogate in its own way: keys with surrogates go there */
        {"{\"\\ud83d\\ude00\": 1}", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t bad = SIZE_MAX;
        if (check(cases[i].json, &bad) != -EINVAL || bad != cases[i].bad)
            fail_msg("'%s': refused at %zu, want %zu", cases[i].json, bad, cases[i].bad);
    }
}

static void test_jsonscan_finds_a_repeated_key_among_many(void **state)
{
    (void)state;
    struct sbuf b = SBUF_INIT;
    sbuf_putc(&b, '{');
    for (int i = 0; i < 20000; i++)
        sbuf_printf(&b, "\"host%d\": [{\"a\": %d, \"b\": 1}],", i, i);
    size_t at = b.len;
    sbuf_puts(&b, "\"ho\\u0073t123\": 0}");
    size_t bad = 0;
    assert_int_equal(jsonscan_check(b.p, b.len, &bad, NULL), -EINVAL);
    assert_int_equal(bad, at);
    /* Without the repeat it passes, and so does the same key in every nested object. */
    b.len = at - 1;
    sbuf_putc(&b, '}');
    assert_int_equal(jsonscan_check(b.p, b.len, NULL, NULL), 0);
    sbuf_free(&b);
}

static void test_jsonscan_takes_nesting_up_to_its_limit(void **state)
{
    (void)state;
    char json[2 * JSONSCAN_MAX_DEPTH + 3];
    for (size_t depth = JSONSCAN_MAX_DEPTH; depth <= JSONSCAN_MAX_DEPTH + 1; depth++) {
        memset(json, '[', depth);
        memset(json + depth, ']', depth);
        size_t bad = 0;
        int r = jsonscan_check(json, 2 * depth, &bad, NULL);
        if (depth <= JSONSCAN_MAX_DEPTH) {
            assert_int_equal(r, 0);
        } else {
            assert_int_equal(r, -EINVAL);
            assert_int_equal(bad, JSONSCAN_MAX_DEPTH);
        }
    }
}

/* json-c's UTF-8 check counts continuation bytes after a lead byte, nothing more: an overlong
 * form passes there, and here too, since the loader reads such strings like json-c. */
static void test_jsonscan_checks_utf8_as_json_c_does(void **state)
{
    (void)state;
    static const char *const ok[] = {"[\"\xc0\x80\"]", "[\"\xed\xa0\x80\"]",
                                     "[\"\xf7\xbf\xbf\xbf\"]"};
    static const char *const bad[] = {"[\"\x80\"]",     "[\"\xc3\"]",       "[\"\xe2\x82\"]",
                                      "[\"\xf8\x80\"]", "[\"\xc3\x28\"]",   "[\xc3\xa9]",
                                      "[\"\xff\"]",     "{\"\xe2\x82\": 1}"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(check(ok[i], NULL), 0);
        assert_true(json_c_accepts(ok[i], strlen(ok[i])));
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(check(bad[i], NULL), -EINVAL);
        assert_false(json_c_accepts(bad[i], strlen(bad[i])));
    }
}

static void test_jsonscan_refuses_every_truncation(void **state)
{
    (void)state;
    size_t len = strlen(sample);
    for (size_t n = 0; n < len; n++) {
        /* Only the final newline may go. */
        int want = n == len - 1 ? 0 : -EINVAL;
        if (jsonscan_check(sample, n, NULL, NULL) != want)
            fail_msg("prefix of %zu bytes: want %d", n, want);
    }
}

/* The property the store loader relies on: whatever the check accepts, json-c reads as well.
 * Tried on every text one edit away from the sample. */
static void test_jsonscan_accepts_nothing_json_c_refuses(void **state)
{
    (void)state;
    static const char subs[] = "\"\\{}[],: \tx0-.eu\x80\xc3";
    size_t len = strlen(sample), accepted = 0;
    char *buf = malloc(len + 1);
    assert_non_null(buf);
    for (size_t i = 0; i < len; i++) {
        for (size_t k = 0; k <= sizeof(subs) - 1; k++) {
            size_t n = len;
            memcpy(buf, sample, len);
            if (k == sizeof(subs) - 1) { /* deletion */
                memmove(buf + i, buf + i + 1, len - i - 1);
                n--;
            } else {
                buf[i] = subs[k];
            }
            if (jsonscan_check(buf, n, NULL, NULL) == 0) {
                accepted++;
                if (!json_c_accepts(buf, n))
                    fail_msg("accepted, but json-c refuses: %.*s", (int)n, buf);
            }
        }
    }
    assert_true(accepted > len); /* many edits keep the text valid */
    free(buf);
}

/* ---- the cursor --------------------------------------------------------------------------- */

static const char *key_text(const struct jscan *c, const struct jscan_str *k, struct sbuf *buf)
{
    sbuf_reset(buf);
    assert_int_equal(jsonscan_decode(c->json + k->off, k->len, buf), 0);
    return sbuf_str(buf);
}

static void test_jscan_walks_members_and_elements(void **state)
{
    (void)state;
    static const char json[] =
        " { \"a\" : [ 1 , \"x\\\"y\" , { \"n\" : [ ] } , 42 ] , \"b\\u0062\" : { } , \"c\": 7 } ";
    struct jscan c;
    struct jscan_str k, s;
    struct sbuf buf = SBUF_INIT;
    uint64_t v = 0;
    size_t start;

    assert_int_equal(jsonscan_check(json, sizeof(json) - 1, NULL, NULL), 0);
    jscan_init(&c, json, sizeof(json) - 1, NULL);
    assert_false(jscan_enter(&c, '['));
    assert_true(jscan_enter(&c, '{'));
    assert_true(jscan_next(&c, &k));
    assert_string_equal(key_text(&c, &k, &buf), "a");
    assert_true(jscan_enter(&c, '['));
    assert_true(jscan_next(&c, NULL));
    assert_true(jscan_plain_uint(&c, 100, &v));
    assert_int_equal(v, 1);
    assert_true(jscan_next(&c, NULL));
    assert_false(jscan_plain_uint(&c, 100, &v)); /* a string: nothing consumed */
    assert_true(jscan_string(&c, &s));
    assert_string_equal(key_text(&c, &s, &buf), "x\"y");
    assert_true(jscan_next(&c, NULL));
    assert_int_equal(jscan_peek(&c), '{');
    jscan_skip(&c, &start);
    assert_int_equal(json[start], '{');
    assert_true(jscan_next(&c, NULL));
    assert_false(jscan_plain_uint(&c, 41, &v)); /* too big: nothing consumed */
    jscan_skip(&c, NULL);
    assert_false(jscan_next(&c, NULL));
    assert_true(jscan_next(&c, &k));
    assert_string_equal(key_text(&c, &k, &buf), "bb");
    assert_true(jscan_enter(&c, '{'));
    assert_false(jscan_next(&c, &k));
    assert_true(jscan_next(&c, &k));
    assert_string_equal(key_text(&c, &k, &buf), "c");
    jscan_skip(&c, NULL);
    assert_false(jscan_next(&c, &k));
    assert_int_equal(jscan_peek(&c), 0);
    assert_false(c.bad);
    sbuf_free(&buf);
}

static void test_jscan_reads_decoded_strings(void **state)
{
    (void)state;
    static const char json[] = "[\"a\\\"b\\u00e9\", \"\\ud83d\\ude00\", 5, \"\"]";
    struct jscan c;
    struct sbuf buf = SBUF_INIT;
    assert_int_equal(jsonscan_check(json, sizeof(json) - 1, NULL, NULL), 0);
    jscan_init(&c, json, sizeof(json) - 1, NULL);
    assert_true(jscan_enter(&c, '['));
    assert_true(jscan_next(&c, NULL));
    assert_true(jscan_decoded(&c, &buf));
    assert_string_equal(sbuf_str(&buf), "a\"b\xc3\xa9");
    assert_true(jscan_next(&c, NULL));
    size_t at = c.pos;
    assert_false(jscan_decoded(&c, &buf)); /* surrogates: for the caller's parser */
    assert_int_equal(c.pos, at);
    jscan_skip(&c, NULL);
    assert_true(jscan_next(&c, NULL));
    assert_false(jscan_decoded(&c, &buf)); /* a number */
    jscan_skip(&c, NULL);
    assert_true(jscan_next(&c, NULL));
    assert_true(jscan_decoded(&c, &buf));
    assert_string_equal(sbuf_str(&buf), "");
    assert_false(jscan_next(&c, NULL));
    assert_false(c.bad);
    sbuf_free(&buf);
}

static void test_jscan_takes_only_plain_whole_numbers(void **state)
{
    (void)state;
    static const char *const no[] = {"-1", "1.5", "1e2", "2E1", "4294967296", "\"1\"", "x"};
    struct jscan c;
    uint64_t v;
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        jscan_init(&c, no[i], strlen(no[i]), NULL);
        assert_false(jscan_plain_uint(&c, UINT32_MAX, &v));
        assert_int_equal(c.pos, 0);
    }
    jscan_init(&c, "4294967295,", 11, NULL);
    assert_true(jscan_plain_uint(&c, UINT32_MAX, &v));
    assert_int_equal(v, UINT32_MAX);
    assert_int_equal(c.pos, 10);
}

static void test_jscan_steps_over_what_the_index_holds(void **state)
{
    (void)state;
    char json[] = "{\"a\": {\"x\": [1, 2]}, \"b\": [[3], {\"y\": 4}], \"c\": 5}";
    struct jsonscan_index ix = {.depth = 2};
    assert_int_equal(jsonscan_check(json, strlen(json), NULL, &ix), 0);
    /* The top level and its two containers; nothing deeper. */
    assert_int_equal(ix.n, 3);
    assert_int_equal(ix.spans[0].start, 0);
    assert_int_equal(ix.spans[0].end, strlen(json));
    char *a = strstr(json, "{\"x\""), *b = strstr(json, "[[");
    assert_int_equal(ix.spans[1].start, (size_t)(a - json));
    assert_int_equal(json[ix.spans[1].end - 1], '}');
    assert_int_equal(ix.spans[2].start, (size_t)(b - json));
    assert_int_equal(json[ix.spans[2].end], ',');

    /* Once checked, the indexed containers are not read again: with their insides spoilt, the
     * cursor still steps over them. */
    memset(a + 1, '?', 5);
    memset(b + 1, '?', 3);
    struct jscan c;
    struct jscan_str k;
    jscan_init(&c, json, strlen(json), &ix);
    assert_true(jscan_enter(&c, '{'));
    while (jscan_next(&c, &k))
        jscan_skip(&c, NULL);
    assert_false(c.bad);
    assert_int_equal(c.pos, strlen(json));
    jsonscan_index_free(&ix);
    assert_null(ix.spans);
    jsonscan_index_free(NULL);
}

/* On text the check did not pass, the cursor stops and says so, reading nothing outside it (the
 * sanitizers and valgrind watch the reads). */
static void test_jscan_stops_at_text_it_does_not_expect(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "{\"a", "{\"a\" 1}", "{\"a\":", "[\"abc", "{\"a\": [1, {\"b\"", "{1}", "[", "{", "\"\\"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        size_t len = strlen(texts[i]);
        char *t = malloc(len); /* exactly len bytes, no NUL after them */
        assert_non_null(t);
        memcpy(t, texts[i], len);
        struct jscan c;
        struct jscan_str k;
        jscan_init(&c, t, len, NULL);
        if (jscan_enter(&c, '{')) {
            while (jscan_next(&c, &k))
                jscan_skip(&c, NULL);
        } else if (jscan_enter(&c, '[')) {
            while (jscan_next(&c, NULL))
                jscan_skip(&c, NULL);
        } else {
            jscan_skip(&c, NULL);
        }
        if (!c.bad)
            fail_msg("'%s': the cursor did not notice", texts[i]);
        assert_true(c.pos <= len);
        free(t);
    }
}

/* ---- decoding ----------------------------------------------------------------------------- */

/* json-c's decoding of the JSON string literal `lit` (with its quotes). */
static void json_c_string(const char *lit, struct sbuf *out)
{
    json_object *o = json_tokener_parse(lit);
    assert_non_null(o);
    sbuf_reset(out);
    sbuf_put(out, json_object_get_string(o), (size_t)json_object_get_string_len(o));
    json_object_put(o);
}

static void expect_decoded_like_json_c(const char *raw)
{
    struct sbuf lit = SBUF_INIT, want = SBUF_INIT, got = SBUF_INIT;
    sbuf_printf(&lit, "\"%s\"", raw);
    json_c_string(lit.p, &want);
    sbuf_puts(&got, "prefix:");
    assert_int_equal(jsonscan_decode(raw, strlen(raw), &got), 0);
    assert_int_equal(got.len, 7 + want.len);
    assert_memory_equal(got.p + 7, want.p, want.len);
    assert_int_equal(got.p[got.len], '\0');
    sbuf_free(&lit);
    sbuf_free(&want);
    sbuf_free(&got);
}

static void test_jsonscan_decodes_strings_as_json_c_does(void **state)
{
    (void)state;
    static const char *const raws[] = {
        "",
        "plain",
        "\\\"\\\\\\/\\b\\f\\n\\r\\t",
        "a\\u0041b\\u00e9\\u07ff\\u0800\\u20ac\\uffff\\uFFFE",
        "\\ud83d\\ude00 and \\uDBFF\\uDFFF",
        "\xc3\xa9 raw \xe2\x82\xac",
    };
    for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++)
        if (strstr(raws[i], "\\ud") || strstr(raws[i], "\\uD")) {
            struct sbuf out = SBUF_INIT;
            sbuf_puts(&out, "kept");
            /* Surrogates are left to the caller's parser; out keeps what it had. */
            assert_int_equal(jsonscan_decode(raws[i], strlen(raws[i]), &out), -EINVAL);
            assert_string_equal(sbuf_str(&out), "kept");
            sbuf_free(&out);
        } else {
            expect_decoded_like_json_c(raws[i]);
        }
}

static void test_jsonscan_decodes_every_bmp_escape_as_json_c_does(void **state)
{
    (void)state;
    char raw[8];
    for (unsigned cp = 1; cp <= 0xffff; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff)
            continue;
        snprintf(raw, sizeof(raw), "\\u%04x", cp);
        expect_decoded_like_json_c(raw);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonscan_accepts_valid_json),
        cmocka_unit_test(test_jsonscan_refuses_invalid_json_where_it_goes_wrong),
        cmocka_unit_test(test_jsonscan_refuses_what_json_c_would_read_its_own_way),
        cmocka_unit_test(test_jsonscan_finds_a_repeated_key_among_many),
        cmocka_unit_test(test_jsonscan_takes_nesting_up_to_its_limit),
        cmocka_unit_test(test_jsonscan_checks_utf8_as_json_c_does),
        cmocka_unit_test(test_jsonscan_refuses_every_truncation),
        cmocka_unit_test(test_jsonscan_accepts_nothing_json_c_refuses),
        cmocka_unit_test(test_jscan_walks_members_and_elements),
        cmocka_unit_test(test_jscan_reads_decoded_strings),
        cmocka_unit_test(test_jscan_takes_only_plain_whole_numbers),
        cmocka_unit_test(test_jscan_steps_over_what_the_index_holds),
        cmocka_unit_test(test_jscan_stops_at_text_it_does_not_expect),
        cmocka_unit_test(test_jsonscan_decodes_strings_as_json_c_does),
        cmocka_unit_test(test_jsonscan_decodes_every_bmp_escape_as_json_c_does),
    };
    return cmocka_run_group_tests_name("jsonscan", tests, NULL, NULL);
}
