/* SPDX-License-Identifier: MIT */
/* Shared unit-test fixtures (see helpers.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/helpers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char helpers_example_json[] =
    "{\n"
    "  \"zones\": {\n"
    "    \"example.com.\": {\n"
    "      \"ttl\": 3600,\n"
    "      \"records\": {\n"
    "        \"@\": [\n"
    "          {\"type\": \"SOA\", \"content\": \"ns1 hostmaster 2024010101 7200 3600 1209600 "
    "300\"},\n"
    "          {\"type\": \"NS\", \"content\": \"ns1\"},\n"
    "          {\"type\": \"NS\", \"content\": \"ns2.example.net.\"},\n"
    "          {\"type\": \"MX\", \"content\": \"10 mail\"}\n"
    "        ],\n"
    "        \"ns1\": [{\"type\": \"A\", \"content\": \"192.0.2.53\"}],\n"
    "        \"mail\": [{\"type\": \"A\", \"content\": \"192.0.2.25\", \"ttl\": 300}],\n"
    "        \"www\": [\n"
    "          {\"type\": \"A\", \"content\": \"192.0.2.10\", \"ttl\": 60},\n"
    "          {\"type\": \"A\", \"content\": \"192.0.2.11\", \"ttl\": 60},\n"
    "          {\"type\": \"AAAA\", \"content\": \"2001:DB8::10\", \"ttl\": 60}\n"
    "        ],\n"
    "        \"*.dyn\": [{\"type\": \"A\", \"content\": \"192.0.2.80\", \"ttl\": 30}],\n"
    "        \"a.b.c\": [{\"type\": \"TXT\", \"content\": \"deep name\"}]\n"
    "      }\n"
    "    }\n"
    "  }\n"
    "}\n";

const char helpers_nested_json[] =
    "{\"zones\": {\n"
    "  \"sub.example.com.\": {\n"
    "    \"records\": {\n"
    "      \"@\": [{\"type\": \"SOA\", \"content\": \"ns.sub.example.com. hostmaster.example.com. "
    "2 7200 3600 1209600 300\"},\n"
    "             {\"type\": \"NS\", \"content\": \"ns\"}],\n"
    "      \"ns\": [{\"type\": \"A\", \"content\": \"198.51.100.53\"}],\n"
    "      \"www\": [{\"type\": \"A\", \"content\": \"198.51.100.80\"}]\n"
    "    },\n"
    "    \"metadata\": {\"ALSO-NOTIFY\": [\"192.0.2.1\", \"192.0.2.2\"],\n"
    "                 \"SOA-EDIT-API\": [\"DEFAULT\"]}\n"
    "  },\n"
    "  \"example.com.\": {\n"
    "    \"records\": {\n"
    "      \"@\": [{\"type\": \"SOA\", \"content\": \"ns1 hostmaster 1 7200 3600 1209600 300\"},\n"
    "             {\"type\": \"NS\", \"content\": \"ns1\"}],\n"
    "      \"ns1\": [{\"type\": \"A\", \"content\": \"192.0.2.53\"}],\n"
    "      \"sub\": [{\"type\": \"NS\", \"content\": \"ns.sub\"}],\n"
    "      \"ns.sub\": [{\"type\": \"A\", \"content\": \"198.51.100.53\"}]\n"
    "    }\n"
    "  }\n"
    "}}\n";

static void print_errors(const struct errlist *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        print_error("  store error: %s\n", errs->msgs[i]);
    if (errs->dropped)
        print_error("  (%zu more errors dropped)\n", errs->dropped);
}

store_t *helpers_build(const char *json)
{
    struct errlist errs = ERRLIST_INIT;
    store_t *s = NULL;
    int r = store_build(json, strlen(json), &s, &errs);
    if (r != 0 || errlist_count(&errs) != 0) {
        print_error("store_build failed (%d) with %zu errors:\n", r, errlist_count(&errs));
        print_errors(&errs);
    }
    size_t n = errlist_count(&errs);
    errlist_free(&errs);
    assert_int_equal(r, 0);
    assert_int_equal(n, 0);
    assert_non_null(s);
    return s;
}

void helpers_build_fails(const char *json, struct errlist *errs)
{
    store_t *s = NULL;
    *errs = (struct errlist)ERRLIST_INIT;
    int r = store_build(json, strlen(json), &s, errs);
    if (r != -EINVAL)
        print_error("store_build returned %d, expected -EINVAL\n", r);
    store_free(s);
    assert_int_equal(r, -EINVAL);
    assert_null(s);
    assert_true(errlist_count(errs) > 0);
}

void helpers_assert_error(const struct errlist *errs, const char *msg)
{
    for (size_t i = 0; i < errs->n; i++)
        if (strcmp(errs->msgs[i], msg) == 0)
            return;
    print_error("no store error equals:\n  %s\ngot:\n", msg);
    print_errors(errs);
    fail();
}

void helpers_assert_error_part(const struct errlist *errs, const char *part)
{
    for (size_t i = 0; i < errs->n; i++)
        if (strstr(errs->msgs[i], part))
            return;
    print_error("no store error contains:\n  %s\ngot:\n", part);
    print_errors(errs);
    fail();
}

const char *helpers_only_error(const char *json, char *buf, size_t cap)
{
    struct errlist errs;
    helpers_build_fails(json, &errs);
    if (errlist_count(&errs) != 1) {
        print_error("expected exactly one store error, got %zu:\n", errlist_count(&errs));
        print_errors(&errs);
    }
    snprintf(buf, cap, "%s", errs.n ? errs.msgs[0] : "");
    size_t n = errlist_count(&errs);
    errlist_free(&errs);
    assert_int_equal(n, 1);
    return buf;
}

const uint8_t *helpers_wire(const char *text, uint8_t *buf)
{
    struct errbuf err = {{0}};
    int n = dname_from_text(text, strlen(text), NULL, buf, &err);
    if (n < 0)
        print_error("bad name '%s': %s\n", text, err.msg);
    assert_true(n > 0);
    dname_lower(buf);
    return buf;
}

const struct store_node *helpers_find(const store_t *s, const char *text, int64_t zone_id)
{
    uint8_t wire[DNAME_WIRE_MAX];
    return store_find(s, helpers_wire(text, wire), zone_id);
}

const struct store_zone *helpers_zone(const store_t *s, const char *text)
{
    uint8_t wire[DNAME_WIRE_MAX];
    const struct store_zone *z = store_zone_by_name(s, helpers_wire(text, wire));
    if (!z)
        print_error("no zone '%s' in the store\n", text);
    assert_non_null(z);
    return z;
}

char *helpers_tmpdir(const char *prefix)
{
    char tmpl[128];
    snprintf(tmpl, sizeof(tmpl), "/tmp/%s-XXXXXX", prefix);
    assert_non_null(mkdtemp(tmpl));
    char *d = strdup(tmpl);
    assert_non_null(d);
    return d;
}

void helpers_rmdir_all(char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}
