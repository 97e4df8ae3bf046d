/* SPDX-License-Identifier: MIT */
/* Unit tests for backend/storefmt.c: the canonical layout the store file is written back in.
 * Each test parses JSON text the way the store loader does (strict json-c) and compares the
 * rendering byte for byte. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/storefmt.h"
#include "common/sbuf.h"

#ifndef PF_SOURCE_ROOT
#error "PF_SOURCE_ROOT must name the source tree (tests/meson.build defines it)"
#endif

static json_object *parse(const char *json)
{
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, json, (int)strlen(json));
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (jerr != json_tokener_success)
        fail_msg("test JSON does not parse (%s): %s", json_tokener_error_desc(jerr), json);
    return o;
}

/* The canonical rendering of json, as a heap string (free it). */
static char *render(const char *json)
{
    json_object *o = parse(json);
    struct sbuf out = SBUF_INIT;
    storefmt_render(o, &out);
    json_object_put(o);
    return sbuf_take(&out);
}

static void expect_render(const char *json, const char *want)
{
    char *got = render(json);
    if (strcmp(got, want) != 0)
        print_error("rendering of:\n%s\nis:\n%s\nwanted:\n%s\n", json, got, want);
    assert_string_equal(got, want);
    free(got);
}

/* Every line of text is at most `width` columns, except those that contain `except` (when not
 * NULL). */
static void assert_lines_fit(const char *text, size_t width, const char *except)
{
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n > width && !(except && memmem(p, n, except, strlen(except)))) {
            print_error("line of %zu columns: %.*s\n", n, (int)n, p);
            fail();
        }
        p += n + (nl != NULL);
    }
}

static char *read_source_file(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", PF_SOURCE_ROOT, rel);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    struct sbuf b = SBUF_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        sbuf_put(&b, buf, n);
    fclose(fp);
    return sbuf_take(&b);
}

/* ---- layout ------------------------------------------------------------------------------- */

static void test_storefmt_keeps_the_order_of_keys(void **state)
{
    (void)state;
    expect_render("{\"zones\": {}, \"checks\": {}, \"a\": 1, \"Z\": 2}",
                  "{\n  \"zones\": {},\n  \"checks\": {},\n  \"a\": 1,\n  \"Z\": 2\n}\n");
    expect_render("{\"x\": {\"z\": 1, \"b\": 2, \"m\": 3}}",
                  "{\n  \"x\": {\"z\": 1, \"b\": 2, \"m\": 3}\n}\n");
}

static void test_storefmt_keeps_the_order_of_array_elements(void **state)
{
    (void)state;
    expect_render("{\"a\": [3, 1, 2, \"b\", \"a\"]}", "{\n  \"a\": [3, 1, 2, \"b\", \"a\"]\n}\n");
}

static void test_storefmt_spreads_the_top_level_object_even_when_it_would_fit(void **state)
{
    (void)state;
    expect_render("{\"a\": 1}", "{\n  \"a\": 1\n}\n");
    expect_render("[1, 2]", "[\n  1,\n  2\n]\n");
}

static void test_storefmt_writes_empty_objects_and_arrays_as_braces(void **state)
{
    (void)state;
    expect_render("{}", "{}\n");
    expect_render("[]", "[]\n");
    expect_render("{\"zones\": {}, \"list\": [], \"deep\": {\"y\": [], \"z\": 1}}",
                  "{\n  \"zones\": {},\n  \"list\": [],\n  \"deep\": {\"y\": [], \"z\": 1}\n}\n");
    /* An empty object is an object: one inside another is a deeper structure. */
    expect_render("{\"deep\": {\"x\": {}, \"y\": []}}",
                  "{\n  \"deep\": {\n    \"x\": {},\n    \"y\": []\n  }\n}\n");
    /* An empty object or array inside a structure that must spread stays "{}" / "[]". */
    expect_render("{\"a\": {\"b\": {\"c\": {}}, \"d\": []}}",
                  "{\n  \"a\": {\n    \"b\": {\n      \"c\": {}\n    },\n    \"d\": []\n  }\n}\n");
}

static void test_storefmt_writes_a_record_on_one_line(void **state)
{
    (void)state;
    /* The owner's list of one record fits: one line. The records object holds lists of objects,
     * which is deeper, so it spreads. */
    expect_render("{\"records\": {\"ns1\": [{\"type\": \"A\", \"content\": \"192.0.2.53\"}]}}",
                  "{\n  \"records\": {\n    \"ns1\": [{\"type\": \"A\", \"content\": "
                  "\"192.0.2.53\"}]\n  }\n}\n");
}

static void test_storefmt_keeps_a_long_record_on_one_line(void **state)
{
    (void)state;
    /* 140 columns: a record (an object of scalars in an array) is never split. */
    static const char json[] =
        "{\"zones\": {\"example.com.\": {\"records\": {\"@\": [{\"type\": \"SOA\", \"content\": "
        "\"ns1.example.com. hostmaster.example.com. 2026113001 10800 3600 604800 300\", "
        "\"ttl\": 3600}, {\"type\": \"NS\", \"content\": \"ns1\"}]}}}}";
    static const char want[] =
        "{\n"
        "  \"zones\": {\n"
        "    \"example.com.\": {\n"
        "      \"records\": {\n"
        "        \"@\": [\n"
        "          {\"type\": \"SOA\", \"content\": \"ns1.example.com. hostmaster.example.com. "
        "2026113001 10800 3600 604800 300\", \"ttl\": 3600},\n"
        "          {\"type\": \"NS\", \"content\": \"ns1\"}\n"
        "        ]\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n";
    expect_render(json, want);
    char *got = render(json);
    assert_lines_fit(got, STOREFMT_WIDTH, "\"SOA\"");
    free(got);
}

static void test_storefmt_keeps_a_record_longer_than_the_width_alone_on_one_line(void **state)
{
    (void)state;
    /* A single record whose one-line form is 150 columns: the owner's list spreads, the record
     * itself does not. */
    char content[121];
    memset(content, 'x', 120);
    content[120] = '\0';
    char json[512], want[512];
    snprintf(json, sizeof(json), "{\"r\": {\"www\": [{\"type\": \"TXT\", \"content\": \"%s\"}]}}",
             content);
    snprintf(want, sizeof(want),
             "{\n  \"r\": {\n    \"www\": [\n      {\"type\": \"TXT\", \"content\": \"%s\"}\n    "
             "]\n  }\n}\n",
             content);
    expect_render(json, want);
}

static void test_storefmt_spreads_a_record_list_that_does_not_fit(void **state)
{
    (void)state;
    static const char json[] =
        "{\"www\": [{\"type\": \"A\", \"content\": \"192.0.2.10\", \"ttl\": 60}, {\"type\": \"A\", "
        "\"content\": \"192.0.2.11\", \"ttl\": 60}, {\"type\": \"AAAA\", \"content\": "
        "\"2001:db8::10\"}]}";
    static const char want[] = "{\n"
                               "  \"www\": [\n"
                               "    {\"type\": \"A\", \"content\": \"192.0.2.10\", \"ttl\": 60},\n"
                               "    {\"type\": \"A\", \"content\": \"192.0.2.11\", \"ttl\": 60},\n"
                               "    {\"type\": \"AAAA\", \"content\": \"2001:db8::10\"}\n"
                               "  ]\n"
                               "}\n";
    expect_render(json, want);
}

static void test_storefmt_spreads_a_flat_object_that_does_not_fit(void **state)
{
    (void)state;
    /* A check: an object of scalars that is not in an array, 109 columns on one line. */
    static const char json[] =
        "{\"checks\": {\"web-health\": {\"type\": \"http\", \"port\": 8081, \"path\": \"/health\", "
        "\"body\": \"ok\", \"interval\": 1, \"timeout\": 0.5, \"rise\": 2}}}";
    static const char want[] = "{\n"
                               "  \"checks\": {\n"
                               "    \"web-health\": {\n"
                               "      \"type\": \"http\",\n"
                               "      \"port\": 8081,\n"
                               "      \"path\": \"/health\",\n"
                               "      \"body\": \"ok\",\n"
                               "      \"interval\": 1,\n"
                               "      \"timeout\": 0.5,\n"
                               "      \"rise\": 2\n"
                               "    }\n"
                               "  }\n"
                               "}\n";
    expect_render(json, want);
    /* The same object with one member less fits and is one line. */
    expect_render("{\"checks\": {\"web-health\": {\"type\": \"http\", \"port\": 8081, \"path\": "
                  "\"/health\", \"body\": \"ok\", \"timeout\": 0.5}}}",
                  "{\n  \"checks\": {\n    \"web-health\": {\"type\": \"http\", \"port\": 8081, "
                  "\"path\": \"/health\", \"body\": \"ok\", \"timeout\": 0.5}\n  }\n}\n");
}

/* {"k": {"v": "xx...x"}, "z": 0}: the inner object's line is `  "k": {"v": "<n x>"},`, i.e.
 * 2 + 5 + 7 + n + 2 + 1 columns with its comma. */
static void render_width_probe(size_t n, char **got)
{
    char *x = malloc(n + 1);
    memset(x, 'x', n);
    x[n] = '\0';
    char json[256];
    snprintf(json, sizeof(json), "{\"k\": {\"v\": \"%s\"}, \"z\": 0}", x);
    free(x);
    *got = render(json);
}

static void test_storefmt_inlines_what_fits_in_100_columns_with_its_comma(void **state)
{
    (void)state;
    char *got;
    /* 2 + 5 + 7 + 83 + 2 = 99 columns, 100 with the comma: one line. */
    render_width_probe(83, &got);
    const char *line = strstr(got, "  \"k\"");
    assert_non_null(line);
    assert_int_equal(strchr(line, '\n') - line, 100);
    assert_non_null(strstr(got, "\"},\n  \"z\": 0\n}\n"));
    free(got);
    /* One more byte: 101 columns with the comma, so the object spreads. */
    render_width_probe(84, &got);
    assert_non_null(strstr(got, "  \"k\": {\n    \"v\": \""));
    assert_lines_fit(got, STOREFMT_WIDTH, NULL);
    free(got);
}

static void test_storefmt_counts_the_comma_for_a_record_list(void **state)
{
    (void)state;
    /* "www" key at column 4; the list [..] on one line is exactly 100 columns with its comma. */
    char pad[64];
    /* 4 + 7 ("\"www\": ") + 1 + 28 ({"type": "TXT", "content": ") + n + 2 ("}) + 1 (]) + 1 (,) */
    size_t n = 100 - (4 + 7 + 1 + 28 + 2 + 1 + 1);
    memset(pad, 'y', n);
    pad[n] = '\0';
    char json[512];
    snprintf(json, sizeof(json),
             "{\"r\": {\"www\": [{\"type\": \"TXT\", \"content\": \"%s\"}], \"z\": []}}", pad);
    char *got = render(json);
    const char *line = strstr(got, "    \"www\"");
    assert_non_null(line);
    assert_int_equal(strchr(line, '\n') - line, 100);
    free(got);
    /* One byte more and the list spreads, the record stays whole on its own line. */
    pad[n] = 'y';
    pad[n + 1] = '\0';
    snprintf(json, sizeof(json),
             "{\"r\": {\"www\": [{\"type\": \"TXT\", \"content\": \"%s\"}], \"z\": []}}", pad);
    got = render(json);
    char want[256];
    snprintf(want, sizeof(want),
             "    \"www\": [\n      {\"type\": \"TXT\", \"content\": \"%s\"}\n    ],\n", pad);
    if (!strstr(got, want))
        fail_msg("no spread list in:\n%s", got);
    free(got);
}

static void test_storefmt_always_spreads_deeper_structures(void **state)
{
    (void)state;
    /* "a" holds an object holding an object: it spreads though it would fit; "b" is flat. */
    expect_render("{\"a\": {\"b\": {\"c\": 1}}}", "{\n  \"a\": {\n    \"b\": {\"c\": 1}\n  }\n}\n");
    /* An array of arrays spreads; each inner array of scalars is one line. */
    expect_render("{\"a\": [[1, 2], [3]]}", "{\n  \"a\": [\n    [1, 2],\n    [3]\n  ]\n}\n");
    /* An array of objects that hold objects spreads. */
    expect_render("{\"a\": [{\"b\": {\"c\": 1}}]}",
                  "{\n  \"a\": [\n    {\n      \"b\": {\"c\": 1}\n    }\n  ]\n}\n");
}

static void test_storefmt_inlines_objects_holding_lists_of_scalars(void **state)
{
    (void)state;
    /* Metadata: an object whose values are arrays of strings. */
    expect_render("{\"metadata\": {\"ALSO-NOTIFY\": [\"192.0.2.1\", \"192.0.2.2\"], "
                  "\"SOA-EDIT-API\": [\"DEFAULT\"]}}",
                  "{\n  \"metadata\": {\"ALSO-NOTIFY\": [\"192.0.2.1\", \"192.0.2.2\"], "
                  "\"SOA-EDIT-API\": [\"DEFAULT\"]}\n}\n");
    /* An object with a list in an array is not a record: it spreads when it does not fit... */
    char big[71];
    memset(big, 'v', 70);
    big[70] = '\0';
    char json[256], want[512];
    snprintf(json, sizeof(json), "{\"m\": [{\"name\": \"a\", \"tags\": [\"%s\", \"w\"]}]}", big);
    snprintf(want, sizeof(want),
             "{\n  \"m\": [\n    {\n      \"name\": \"a\",\n      \"tags\": [\"%s\", \"w\"]\n    "
             "}\n  ]\n}\n",
             big);
    expect_render(json, want);
    /* ... and is one line when it does. */
    expect_render("{\"m\": [{\"name\": \"a\", \"tags\": [\"x\", \"w\"]}]}",
                  "{\n  \"m\": [{\"name\": \"a\", \"tags\": [\"x\", \"w\"]}]\n}\n");
}

static void test_storefmt_spreads_a_long_list_of_scalars_one_per_line(void **state)
{
    (void)state;
    static const char json[] =
        "{\"v\": [\"192.0.2.1\", \"192.0.2.2\", \"192.0.2.3\", \"192.0.2.4\", \"192.0.2.5\", "
        "\"192.0.2.6\", \"192.0.2.7\", \"192.0.2.8\"]}";
    static const char want[] = "{\n  \"v\": [\n    \"192.0.2.1\",\n    \"192.0.2.2\",\n    "
                               "\"192.0.2.3\",\n    \"192.0.2.4\",\n    \"192.0.2.5\",\n    "
                               "\"192.0.2.6\",\n    \"192.0.2.7\",\n    \"192.0.2.8\"\n  ]\n}\n";
    expect_render(json, want);
}

static void test_storefmt_does_not_split_a_long_string(void **state)
{
    (void)state;
    char big[201], json[512], want[512];
    memset(big, 's', 200);
    big[200] = '\0';
    snprintf(json, sizeof(json), "{\"a\": {\"b\": \"%s\", \"c\": 1}}", big);
    snprintf(want, sizeof(want), "{\n  \"a\": {\n    \"b\": \"%s\",\n    \"c\": 1\n  }\n}\n", big);
    expect_render(json, want);
}

static void test_storefmt_indents_by_two_spaces_per_level(void **state)
{
    (void)state;
    char big[101], json[512], want[1024];
    memset(big, 'q', 100);
    big[100] = '\0';
    snprintf(json, sizeof(json), "{\"a\": {\"b\": {\"c\": {\"d\": \"%s\", \"e\": [1]}}}}", big);
    snprintf(want, sizeof(want),
             "{\n"
             "  \"a\": {\n"
             "    \"b\": {\n"
             "      \"c\": {\n"
             "        \"d\": \"%s\",\n"
             "        \"e\": [1]\n"
             "      }\n"
             "    }\n"
             "  }\n"
             "}\n",
             big);
    expect_render(json, want);
}

/* ---- scalars ------------------------------------------------------------------------------ */

static void test_storefmt_escapes_quotes_backslashes_and_control_characters(void **state)
{
    (void)state;
    expect_render("{\"a\": \"q\\\"b\\\\n\\nt\\tr\\r\"}",
                  "{\n  \"a\": \"q\\\"b\\\\n\\nt\\tr\\r\"\n}\n");
    /* Other control characters as \u00XX, lowercase hex. */
    expect_render("{\"a\": \"\\u0001\\u0008\\u000c\\u001f\\u001B\"}",
                  "{\n  \"a\": \"\\u0001\\u0008\\u000c\\u001f\\u001b\"\n}\n");
    /* DEL is not a control character in JSON. */
    expect_render("{\"a\": \"\\u007f\"}", "{\n  \"a\": \"\x7f\"\n}\n");
    /* Keys are escaped the same way. */
    expect_render("{\"k\\\"\\n\\u0002\": 1}", "{\n  \"k\\\"\\n\\u0002\": 1\n}\n");
}

static void test_storefmt_leaves_utf8_and_slashes_alone(void **state)
{
    (void)state;
    expect_render("{\"a\": \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 /health http://x/y\"}",
                  "{\n  \"a\": \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 /health "
                  "http://x/y\"\n}\n");
    /* Escaped forms in the input come out as the characters themselves. */
    expect_render("{\"a\": \"\\u00e9\\/\\u20ac\"}", "{\n  \"a\": \"\xc3\xa9/\xe2\x82\xac\"\n}\n");
}

static void test_storefmt_keeps_the_text_of_numbers(void **state)
{
    (void)state;
    /* json-c keeps the text a double was parsed from; integers are printed from their value. */
    expect_render("{\"a\": [0.5, 1e3, 1E+3, 2.50, -0.0, 1.0e-2, 0, -7, 2147483647]}",
                  "{\n  \"a\": [0.5, 1e3, 1E+3, 2.50, -0.0, 1.0e-2, 0, -7, 2147483647]\n}\n");
    expect_render("{\"i\": [9223372036854775807, 12345678901234567890, -9223372036854775808]}",
                  "{\n  \"i\": [9223372036854775807, 12345678901234567890, "
                  "-9223372036854775808]\n}\n");
    expect_render("{\"timeout\": 0.5, \"x\": 1e3}", "{\n  \"timeout\": 0.5,\n  \"x\": 1e3\n}\n");
}

static void test_storefmt_writes_true_false_and_null(void **state)
{
    (void)state;
    expect_render("{\"a\": true, \"b\": false, \"c\": null, \"d\": [true, null]}",
                  "{\n  \"a\": true,\n  \"b\": false,\n  \"c\": null,\n  \"d\": [true, null]\n}\n");
    expect_render("[{\"a\": null}]", "[\n  {\"a\": null}\n]\n");
}

static void test_storefmt_renders_a_scalar_document_on_one_line(void **state)
{
    (void)state;
    expect_render("\"x/\\n\"", "\"x/\\n\"\n");
}

static void test_storefmt_appends_to_the_buffer(void **state)
{
    (void)state;
    json_object *o = parse("{\"a\": 1}");
    struct sbuf out = SBUF_INIT;
    sbuf_puts(&out, "head:");
    storefmt_render(o, &out);
    assert_string_equal(sbuf_str(&out), "head:{\n  \"a\": 1\n}\n");
    json_object_put(o);
    sbuf_free(&out);
}

/* ---- idempotence -------------------------------------------------------------------------- */

/* parse(render(x)) renders the same, and means the same as x. */
static void check_idempotent(const char *json)
{
    char *once = render(json);
    char *twice = render(once);
    if (strcmp(once, twice) != 0)
        print_error("not idempotent:\n%s\nthen:\n%s\n", once, twice);
    assert_string_equal(once, twice);
    assert_int_equal(once[strlen(once) - 1], '\n');
    assert_int_equal(strstr(once, "\n\n") == NULL, 1);
    json_object *a = parse(json), *b = parse(once);
    assert_true(json_object_equal(a, b));
    json_object_put(a);
    json_object_put(b);
    free(once);
    free(twice);
}

static void test_storefmt_is_idempotent_on_the_example_store(void **state)
{
    (void)state;
    char *text = read_source_file("pdns-conf/example-store.json");
    check_idempotent(text);
    char *out = render(text);
    /* Every line fits but the records (one line whatever their length). */
    for (const char *p = out; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = (size_t)(nl - p);
        if (n > STOREFMT_WIDTH && !memmem(p, n, "{\"type\": ", 9))
            fail_msg("long line that is not a record: %.*s", (int)n, p);
        p = nl + 1;
    }
    /* The SOA record is one line though it is longer than the width. */
    assert_non_null(strstr(out, "\n          {\"type\": \"SOA\", \"content\": \"ns1.example.com. "
                                "hostmaster.example.com. 2026113001 10800 3600 604800 300\"},\n"));
    /* The check does not fit and spreads; the pool members are records. */
    assert_non_null(strstr(out, "    \"web-health\": {\n      \"type\": \"http\",\n"));
    assert_non_null(
        strstr(out, "\n        {\"name\": \"web1\", \"address\": \"127.0.0.11\", \"tier\": 1},\n"));
    assert_non_null(strstr(out, "\n      \"timeout\": 0.5,\n"));
    free(out);
    free(text);
}

static void test_storefmt_is_idempotent_on_the_e2e_store(void **state)
{
    (void)state;
    char *text = read_source_file("tests/e2e/store.json");
    check_idempotent(text);
    char *out = render(text);
    assert_non_null(
        strstr(out, "\n        \"ns1\": [{\"type\": \"A\", \"content\": \"192.0.2.53\"}],\n"));
    assert_non_null(strstr(out, "\n        \"sp\\\\032ace\": [{\"type\": \"A\", \"content\": "
                                "\"192.0.2.32\"}],\n"));
    free(out);
    free(text);
}

static void test_storefmt_is_idempotent_on_awkward_documents(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{}",
        "{\"a\": {\"b\": {\"c\": {\"d\": [[[]]], \"e\": [{}]}}}}",
        "{\"x\": \"\\u0001\\\"\\\\\\/\\n\\r\\t\xc3\xa9\", \"y\": [0.5, 1e3, -1, null, true]}",
        ("{\"r\": [{\"type\": \"TXT\", \"content\": "
         "\"\\\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\\"\"}, 1, \"s\"]}"),
        "{\"m\": {\"K1\": [\"a\", \"b\"], \"K2\": []}, \"n\": [{\"a\": [1, 2]}, {\"b\": {}}]}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        check_idempotent(docs[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_storefmt_keeps_the_order_of_keys),
        cmocka_unit_test(test_storefmt_keeps_the_order_of_array_elements),
        cmocka_unit_test(test_storefmt_spreads_the_top_level_object_even_when_it_would_fit),
        cmocka_unit_test(test_storefmt_writes_empty_objects_and_arrays_as_braces),
        cmocka_unit_test(test_storefmt_writes_a_record_on_one_line),
        cmocka_unit_test(test_storefmt_keeps_a_long_record_on_one_line),
        cmocka_unit_test(test_storefmt_keeps_a_record_longer_than_the_width_alone_on_one_line),
        cmocka_unit_test(test_storefmt_spreads_a_record_list_that_does_not_fit),
        cmocka_unit_test(test_storefmt_spreads_a_flat_object_that_does_not_fit),
        cmocka_unit_test(test_storefmt_inlines_what_fits_in_100_columns_with_its_comma),
        cmocka_unit_test(test_storefmt_counts_the_comma_for_a_record_list),
        cmocka_unit_test(test_storefmt_always_spreads_deeper_structures),
        cmocka_unit_test(test_storefmt_inlines_objects_holding_lists_of_scalars),
        cmocka_unit_test(test_storefmt_spreads_a_long_list_of_scalars_one_per_line),
        cmocka_unit_test(test_storefmt_does_not_split_a_long_string),
        cmocka_unit_test(test_storefmt_indents_by_two_spaces_per_level),
        cmocka_unit_test(test_storefmt_escapes_quotes_backslashes_and_control_characters),
        cmocka_unit_test(test_storefmt_leaves_utf8_and_slashes_alone),
        cmocka_unit_test(test_storefmt_keeps_the_text_of_numbers),
        cmocka_unit_test(test_storefmt_writes_true_false_and_null),
        cmocka_unit_test(test_storefmt_renders_a_scalar_document_on_one_line),
        cmocka_unit_test(test_storefmt_appends_to_the_buffer),
        cmocka_unit_test(test_storefmt_is_idempotent_on_the_example_store),
        cmocka_unit_test(test_storefmt_is_idempotent_on_the_e2e_store),
        cmocka_unit_test(test_storefmt_is_idempotent_on_awkward_documents),
    };
    return cmocka_run_group_tests_name("storefmt", tests, NULL, NULL);
}
