/* SPDX-License-Identifier: MIT */
/* Unit tests for backend/store.c: building the store from JSON, lookup semantics, zone ids, and
 * every validation error with its JSON path. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/rdata.h"
#include "backend/store.h"
#include "common/sbuf.h"
#include "tests/unit/helpers.h"

#define ZONE_PATH "zones[\"example.com.\"]"
#define WWW_PATH  ZONE_PATH ".records[\"www\"]"

/* The zone id pdns gets for example.com. (FNV-1a of the canonical name, 31 bits). */
#define EXAMPLE_COM_ID HELPERS_EXAMPLE_COM_ID

/* Asserts that building `json` fails with exactly one error, equal to `msg`. */
static void expect_only_error(const char *json, const char *msg)
{
    char buf[1024];
    assert_string_equal(helpers_only_error(json, buf, sizeof(buf)), msg);
}

static void expect_node_text(const struct store_node *n, const char *text, uint32_t nrr)
{
    assert_non_null(n);
    assert_string_equal(n->text, text);
    assert_int_equal(n->nrr, nrr);
}

/* ---- the example store -------------------------------------------------------------------- */

static int setup_example(void **state)
{
    *state = helpers_build(helpers_example_json);
    return 0;
}

static int setup_nested(void **state)
{
    *state = helpers_build(helpers_nested_json);
    return 0;
}

static int teardown_store(void **state)
{
    store_free(*state);
    return 0;
}

static void test_store_builds_the_example_store(void **state)
{
    const store_t *s = *state;
    assert_int_equal(store_zone_count(s), 1);
    assert_int_equal(store_record_count(s), HELPERS_EXAMPLE_RECORDS);
    const struct store_zone *z = store_zone_at(s, 0);
    assert_non_null(z);
    assert_null(store_zone_at(s, 1));
    assert_string_equal(z->name, "example.com.");
    assert_memory_equal(z->apex, "\7example\3com", 13);
    assert_int_equal(z->serial, HELPERS_EXAMPLE_SERIAL);
    assert_int_equal(z->nrecords, HELPERS_EXAMPLE_RECORDS);
    assert_int_equal(z->nmeta, 0);
}

static void test_store_lists_names_in_canonical_order_with_the_apex_soa_first(void **state)
{
    const store_t *s = *state;
    const struct store_zone *z = store_zone_at(s, 0);
    static const char *const order[] = {
        "example.com.",      "a.b.c.example.com.", "*.dyn.example.com.",
        "mail.example.com.", "ns1.example.com.",   "www.example.com.",
    };
    /* Empty non-terminals are answered for, but not listed. */
    assert_int_equal(z->nnodes, 6);
    for (size_t i = 0; i < z->nnodes; i++) {
        assert_string_equal(z->nodes[i]->text, order[i]);
        assert_ptr_equal(z->nodes[i]->zone, z);
        assert_true(z->nodes[i]->nrr > 0);
    }
    const struct store_node *apex = z->nodes[0];
    assert_int_equal(apex->nrr, 4);
    assert_int_equal(apex->rrs[0].type, RR_SOA);
    assert_int_equal(apex->rrs[1].type, RR_NS);
    assert_int_equal(apex->rrs[2].type, RR_NS);
    assert_int_equal(apex->rrs[3].type, RR_MX);
}

static void test_store_renders_the_apex_reply_fragment_once(void **state)
{
    const store_t *s = *state;
    const struct store_node *apex = helpers_find(s, "example.com.", -1);
    assert_non_null(apex);
    static const char want[] =
        "{\"qtype\":\"SOA\",\"qname\":\"example.com.\",\"content\":\"ns1.example.com. "
        "hostmaster.example.com. 2024010101 7200 3600 1209600 300\",\"ttl\":3600,"
        "\"domain_id\":780533144},"
        "{\"qtype\":\"NS\",\"qname\":\"example.com.\",\"content\":\"ns1.example.com\",\"ttl\":3600}"
        ","
        "{\"qtype\":\"NS\",\"qname\":\"example.com.\",\"content\":\"ns2.example.net\",\"ttl\":3600}"
        ","
        "{\"qtype\":\"MX\",\"qname\":\"example.com.\",\"content\":\"10 mail.example.com\","
        "\"ttl\":3600}";
    assert_int_equal(apex->any_len, strlen(want));
    assert_memory_equal(apex->any_frag, want, apex->any_len);
    /* Each record's own fragment points into the name's fragment. */
    for (uint32_t i = 0; i < apex->nrr; i++) {
        assert_true(apex->rrs[i].frag >= apex->any_frag);
        assert_true(apex->rrs[i].frag + apex->rrs[i].frag_len <= apex->any_frag + apex->any_len);
        assert_int_equal(apex->rrs[i].frag[0], '{');
        assert_int_equal(apex->rrs[i].frag[apex->rrs[i].frag_len - 1], '}');
    }
    assert_int_equal(apex->rrs[0].frag_len, strchr(want, '}') - want + 1);
}

static void test_store_normalises_content_and_applies_ttls(void **state)
{
    const store_t *s = *state;
    const struct store_node *www = helpers_find(s, "www.example.com.", -1);
    expect_node_text(www, "www.example.com.", 3);
    static const char want[] =
        "{\"qtype\":\"A\",\"qname\":\"www.example.com.\",\"content\":\"192.0.2.10\",\"ttl\":60},"
        "{\"qtype\":\"A\",\"qname\":\"www.example.com.\",\"content\":\"192.0.2.11\",\"ttl\":60},"
        "{\"qtype\":\"AAAA\",\"qname\":\"www.example.com.\",\"content\":\"2001:db8::10\","
        "\"ttl\":60}";
    assert_int_equal(www->any_len, strlen(want));
    assert_memory_equal(www->any_frag, want, www->any_len);
    assert_string_equal(www->rrs[2].content, "2001:db8::10");
    assert_int_equal(www->rrs[2].ttl, 60);

    /* No ttl: the zone's; TXT content gets its quotes. */
    const struct store_node *txt = helpers_find(s, "a.b.c.example.com.", -1);
    expect_node_text(txt, "a.b.c.example.com.", 1);
    assert_int_equal(txt->rrs[0].ttl, 3600);
    assert_string_equal(txt->rrs[0].content, "\"deep name\"");
    assert_int_equal(helpers_find(s, "mail.example.com.", -1)->rrs[0].ttl, 300);
}

static void test_store_finds_names_by_their_lowercase_wire_form(void **state)
{
    const store_t *s = *state;
    /* helpers_find lowercases, as dispatch does with the query name. */
    expect_node_text(helpers_find(s, "WwW.ExAmPlE.CoM.", -1), "www.example.com.", 3);
    expect_node_text(helpers_find(s, "NS1.example.com.", 0), "ns1.example.com.", 1);
    /* store_find itself compares bytes: callers must lowercase first. */
    assert_null(store_find(s, (const uint8_t *)"\3WWW\7example\3com", -1));
}

static void test_store_synthesises_empty_non_terminals_for_ancestors(void **state)
{
    const store_t *s = *state;
    const struct store_zone *z = store_zone_at(s, 0);
    static const char *const ents[] = {"b.c.example.com.", "c.example.com.", "dyn.example.com."};
    for (size_t i = 0; i < 3; i++) {
        const struct store_node *n = helpers_find(s, ents[i], -1);
        expect_node_text(n, ents[i], 0);
        assert_ptr_equal(n->zone, z);
        char want[128];
        snprintf(want, sizeof(want), "{\"qtype\":\"ENT\",\"qname\":\"%s\",\"content\":\"\"}",
                 ents[i]);
        assert_int_equal(n->any_len, strlen(want));
        assert_memory_equal(n->any_frag, want, n->any_len);
        /* Found by zone id too. */
        assert_ptr_equal(helpers_find(s, ents[i], z->id), n);
    }
}

static void test_store_finds_nothing_where_nothing_is(void **state)
{
    const store_t *s = *state;
    static const char *const absent[] = {
        "nope.example.com.",
        "a.b.c.d.example.com.",
        "x.a.b.c.example.com.",
        "foo.dyn.example.com.", /* the wildcard is a literal name; pdns expands it */
        "b.example.com.",
        "com.",
        ".",
        "example.net.",
        "www.example.com.example.com.",
    };
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
        if (helpers_find(s, absent[i], -1))
            print_error("unexpectedly found '%s'\n", absent[i]);
        assert_null(helpers_find(s, absent[i], -1));
    }
}

static void test_store_keeps_the_wildcard_as_a_literal_owner(void **state)
{
    const store_t *s = *state;
    const struct store_node *n = helpers_find(s, "*.dyn.example.com.", -1);
    expect_node_text(n, "*.dyn.example.com.", 1);
    assert_int_equal(n->rrs[0].type, RR_A);
    assert_int_equal(n->rrs[0].ttl, 30);
    assert_string_equal(n->rrs[0].content, "192.0.2.80");
}

static void test_store_zone_by_name_needs_the_exact_apex(void **state)
{
    const store_t *s = *state;
    uint8_t w[DNAME_WIRE_MAX];
    assert_ptr_equal(store_zone_by_name(s, helpers_wire("EXAMPLE.com.", w)), store_zone_at(s, 0));
    assert_null(store_zone_by_name(s, helpers_wire("www.example.com.", w)));
    assert_null(store_zone_by_name(s, helpers_wire("c.example.com.", w))); /* an ENT */
    assert_null(store_zone_by_name(s, helpers_wire("com.", w)));
    assert_null(store_zone_by_name(s, helpers_wire(".", w)));
}

static void test_store_zone_id_is_derived_from_the_name(void **state)
{
    const store_t *s = *state;
    const struct store_zone *z = store_zone_at(s, 0);
    /* Stable across restarts and edits of the file: pdns's zone cache keeps ids for minutes. */
    assert_int_equal(z->id, EXAMPLE_COM_ID);
    assert_ptr_equal(store_zone_by_id(s, EXAMPLE_COM_ID), z);
    assert_null(store_zone_by_id(s, EXAMPLE_COM_ID + 1));
    assert_null(store_zone_by_id(s, 0));
    assert_null(store_zone_by_id(s, -1));
    assert_null(store_zone_by_id(s, (int64_t)EXAMPLE_COM_ID + ((int64_t)1 << 32)));
}

/* ---- nested zones ------------------------------------------------------------------------- */

static void test_store_sorts_zones_by_name(void **state)
{
    const store_t *s = *state;
    assert_int_equal(store_zone_count(s), 2);
    /* sub.example.com. comes first in the file */
    assert_string_equal(store_zone_at(s, 0)->name, "example.com.");
    assert_string_equal(store_zone_at(s, 1)->name, "sub.example.com.");
    assert_null(store_zone_at(s, 2));
}

static void test_store_takes_each_serial_from_its_soa(void **state)
{
    const store_t *s = *state;
    assert_int_equal(helpers_zone(s, "example.com.")->serial, 1);
    assert_int_equal(helpers_zone(s, "sub.example.com.")->serial, 2);
}

static void test_store_counts_records_per_zone_and_in_total(void **state)
{
    const store_t *s = *state;
    assert_int_equal(helpers_zone(s, "example.com.")->nrecords, 5);
    assert_int_equal(helpers_zone(s, "sub.example.com.")->nrecords, 4);
    assert_int_equal(store_record_count(s), 9);
}

static void test_store_answers_from_the_deepest_zone_holding_a_name(void **state)
{
    const store_t *s = *state;
    const struct store_zone *parent = helpers_zone(s, "example.com.");
    const struct store_zone *child = helpers_zone(s, "sub.example.com.");
    assert_ptr_not_equal(parent, child);

    /* Both zones hold sub.example.com. (delegation NS in the parent, apex in the child). */
    const struct store_node *n = helpers_find(s, "sub.example.com.", -1);
    expect_node_text(n, "sub.example.com.", 2);
    assert_ptr_equal(n->zone, child);
    assert_int_equal(n->rrs[0].type, RR_SOA);
    /* Also the glue name, held by both. */
    assert_ptr_equal(helpers_find(s, "ns.sub.example.com.", -1)->zone, child);
    assert_ptr_equal(helpers_find(s, "ns.sub.example.com.", 0)->zone, child);
    assert_ptr_equal(helpers_find(s, "www.sub.example.com.", -1)->zone, child);
    assert_ptr_equal(helpers_find(s, "ns1.example.com.", -1)->zone, parent);
}

static void test_store_filters_by_zone_id(void **state)
{
    const store_t *s = *state;
    const struct store_zone *parent = helpers_zone(s, "example.com.");
    const struct store_zone *child = helpers_zone(s, "sub.example.com.");

    const struct store_node *deleg = helpers_find(s, "sub.example.com.", parent->id);
    expect_node_text(deleg, "sub.example.com.", 1);
    assert_ptr_equal(deleg->zone, parent);
    assert_int_equal(deleg->rrs[0].type, RR_NS);
    assert_string_equal(deleg->rrs[0].content, "ns.sub.example.com");

    assert_ptr_equal(helpers_find(s, "sub.example.com.", child->id)->zone, child);
    assert_ptr_equal(helpers_find(s, "ns.sub.example.com.", parent->id)->zone, parent);
    assert_null(helpers_find(s, "www.sub.example.com.", parent->id));
    assert_null(helpers_find(s, "ns1.example.com.", child->id));
    assert_null(helpers_find(s, "example.com.", child->id));
    assert_null(helpers_find(s, "example.com.", 12345));
}

static void test_store_zone_ids_do_not_depend_on_zone_order_or_content(void **state)
{
    const store_t *s = *state;
    /* The same zones in the other order, with different records. */
    static const char reordered[] =
        "{\"zones\": {"
        "\"example.com.\": {\"records\": {" HELPERS_APEX
        ", \"extra\": [{\"type\": \"A\", \"content\": \"192.0.2.7\"}]}},"
        "\"sub.example.com.\": {\"records\": {" HELPERS_APEX "}}}}";
    store_t *r = helpers_build(reordered);
    for (size_t i = 0; i < 2; i++) {
        const struct store_zone *a = store_zone_at(s, i), *b = store_zone_at(r, i);
        assert_string_equal(a->name, b->name);
        assert_int_equal(a->id, b->id);
    }
    assert_int_equal(helpers_zone(s, "example.com.")->id, EXAMPLE_COM_ID);
    uint32_t sub = helpers_zone(s, "sub.example.com.")->id;
    assert_int_equal(sub, HELPERS_SUB_EXAMPLE_COM_ID);
    assert_true(sub > 0 && sub <= 0x7fffffffu);
    assert_ptr_equal(store_zone_by_id(s, sub), helpers_zone(s, "sub.example.com."));
    assert_ptr_equal(store_zone_by_id(s, EXAMPLE_COM_ID), helpers_zone(s, "example.com."));
    store_free(r);
}

static void test_store_keeps_metadata_in_file_order(void **state)
{
    const store_t *s = *state;
    const struct store_zone *z = helpers_zone(s, "sub.example.com.");
    assert_int_equal(z->nmeta, 2);
    assert_string_equal(z->meta[0].kind, "ALSO-NOTIFY");
    assert_int_equal(z->meta[0].nvalues, 2);
    assert_string_equal(z->meta[0].values[0], "192.0.2.1");
    assert_string_equal(z->meta[0].values[1], "192.0.2.2");
    assert_string_equal(z->meta[1].kind, "SOA-EDIT-API");
    assert_int_equal(z->meta[1].nvalues, 1);
    assert_string_equal(z->meta[1].values[0], "DEFAULT");
    assert_int_equal(helpers_zone(s, "example.com.")->nmeta, 0);
}

/* ---- building: accepted variations -------------------------------------------------------- */

static void test_store_accepts_zone_names_without_trailing_dot_and_in_any_case(void **state)
{
    (void)state;
    store_t *s = helpers_build("{\"zones\": {\"Example.COM\": {\"records\": {" HELPERS_APEX "}}}}");
    assert_string_equal(store_zone_at(s, 0)->name, "example.com.");
    assert_int_equal(store_zone_at(s, 0)->id, EXAMPLE_COM_ID);
    store_free(s);
}

static void test_store_stores_owner_names_lowercase(void **state)
{
    (void)state;
    store_t *s = helpers_build(
        HELPERS_ZONE(", \"WWW\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}], "
                     "\"Mail.Example.COM.\": [{\"type\": \"A\", \"content\": \"192.0.2.2\"}]"));
    const struct store_node *n = helpers_find(s, "www.example.com.", -1);
    expect_node_text(n, "www.example.com.", 1);
    assert_non_null(strstr(n->any_frag, "\"qname\":\"www.example.com.\""));
    expect_node_text(helpers_find(s, "mail.example.com.", -1), "mail.example.com.", 1);
    store_free(s);
}

static void test_store_merges_owner_keys_naming_the_same_owner(void **state)
{
    (void)state;
    store_t *s = helpers_build(
        HELPERS_ZONE(", \"example.com.\": [{\"type\": \"MX\", \"content\": \"10 mail\"}], "
                     "\"www\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}], "
                     "\"WWW.example.com.\": [{\"type\": \"AAAA\", \"content\": \"2001:db8::1\"}]"));
    const struct store_node *apex = helpers_find(s, "example.com.", -1);
    expect_node_text(apex, "example.com.", 3);
    assert_int_equal(apex->rrs[0].type, RR_SOA);
    assert_int_equal(apex->rrs[2].type, RR_MX);
    const struct store_node *www = helpers_find(s, "www.example.com.", -1);
    expect_node_text(www, "www.example.com.", 2);
    assert_int_equal(store_zone_at(s, 0)->nnodes, 2);
    store_free(s);
}

static void test_store_puts_the_soa_first_wherever_it_is_in_the_file(void **state)
{
    (void)state;
    store_t *s = helpers_build(
        "{\"zones\": {\"example.com.\": {\"records\": {\"www\": [{\"type\": \"A\", "
        "\"content\": \"192.0.2.1\"}], \"@\": [{\"type\": \"NS\", \"content\": \"ns1\"}, "
        "{\"type\": \"MX\", \"content\": \"10 mail\"}, {\"type\": \"SOA\", \"content\": "
        "\"ns1 hostmaster 7 7200 3600 1209600 300\"}]}}}}");
    const struct store_zone *z = store_zone_at(s, 0);
    assert_string_equal(z->nodes[0]->text, "example.com.");
    assert_int_equal(z->nodes[0]->rrs[0].type, RR_SOA);
    assert_int_equal(z->nodes[0]->rrs[1].type, RR_NS);
    assert_int_equal(z->nodes[0]->rrs[2].type, RR_MX);
    assert_int_equal(z->serial, 7);
    store_free(s);
}

static void test_store_applies_the_zone_ttl_to_records_without_one(void **state)
{
    (void)state;
    store_t *s =
        helpers_build("{\"zones\": {\"example.com.\": {\"ttl\": 120, \"records\": {" HELPERS_APEX
                      ", \"www\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}], "
                      "\"ftp\": [{\"type\": \"A\", \"content\": \"192.0.2.2\", "
                      "\"ttl\": 0}]}}}}");
    assert_int_equal(helpers_find(s, "www.example.com.", -1)->rrs[0].ttl, 120);
    assert_int_equal(helpers_find(s, "example.com.", -1)->rrs[0].ttl, 120);
    assert_int_equal(helpers_find(s, "ftp.example.com.", -1)->rrs[0].ttl, 0);
    store_free(s);
}

static void test_store_applies_a_zone_ttl_given_after_the_records(void **state)
{
    (void)state;
    store_t *s = helpers_build("{\"zones\": {\"example.com.\": {\"records\": {" HELPERS_APEX
                               "}, \"ttl\": 77}}}");
    assert_int_equal(helpers_find(s, "example.com.", -1)->rrs[0].ttl, 77);
    store_free(s);
}

static void test_store_accepts_the_largest_ttl(void **state)
{
    (void)state;
    store_t *s =
        helpers_build(HELPERS_ZONE(", \"www\": [{\"type\": \"A\", \"content\": \"192.0.2.1\", "
                                   "\"ttl\": 2147483647}]"));
    const struct store_node *n = helpers_find(s, "www.example.com.", -1);
    assert_int_equal(n->rrs[0].ttl, STORE_TTL_MAX);
    assert_non_null(strstr(n->any_frag, "\"ttl\":2147483647}"));
    store_free(s);
}

static void test_store_escapes_owner_names_in_reply_fragments(void **state)
{
    (void)state;
    store_t *s = helpers_build(
        HELPERS_ZONE(", \"sp\\\\032ace\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}], "
                     "\"dot\\\\.ted\": [{\"type\": \"A\", \"content\": \"192.0.2.2\"}]"));
    const struct store_node *n = helpers_find(s, "sp\\032ace.example.com.", -1);
    expect_node_text(n, "sp\\032ace.example.com.", 1);
    /* The JSON string holds one backslash, escaped for JSON. */
    assert_non_null(strstr(n->any_frag, "\"qname\":\"sp\\\\032ace.example.com.\""));
    n = helpers_find(s, "dot\\.ted.example.com.", -1);
    expect_node_text(n, "dot\\.ted.example.com.", 1);
    assert_null(helpers_find(s, "ted.example.com.", -1));
    store_free(s);
}

static void test_store_accepts_the_same_content_under_different_types(void **state)
{
    (void)state;
    store_t *s = helpers_build(HELPERS_ZONE(
        ", \"x\": [{\"type\": \"NS\", \"content\": \"ns1\"}, "
        "{\"type\": \"PTR\", \"content\": \"ns1\"}, {\"type\": \"NS\", \"content\": \"ns2\"}]"));
    expect_node_text(helpers_find(s, "x.example.com.", -1), "x.example.com.", 3);
    store_free(s);
}

static void test_store_loads_a_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_store_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(helpers_example_json);
    assert_int_equal(write(fd, helpers_example_json, len), (ssize_t)len);
    close(fd);

    struct errlist errs = ERRLIST_INIT;
    store_t *s = NULL;
    assert_int_equal(store_load_file(path, &s, &errs), 0);
    assert_int_equal(errlist_count(&errs), 0);
    assert_non_null(s);
    assert_int_equal(store_record_count(s), HELPERS_EXAMPLE_RECORDS);
    store_free(s);
    unlink(path);
}

static void test_store_load_file_reports_a_missing_file(void **state)
{
    (void)state;
    struct errlist errs = ERRLIST_INIT;
    store_t *s = NULL;
    assert_int_equal(store_load_file("/nonexistent/store.json", &s, &errs), -ENOENT);
    assert_null(s);
    helpers_assert_error(&errs, "cannot open the store file (No such file or directory)");
    errlist_free(&errs);
}

static void test_store_load_file_rejects_a_directory(void **state)
{
    (void)state;
    struct errlist errs = ERRLIST_INIT;
    store_t *s = NULL;
    assert_int_equal(store_load_file("/tmp", &s, &errs), -EINVAL);
    assert_null(s);
    helpers_assert_error(&errs, "not a regular file");
    errlist_free(&errs);
}

static void test_store_free_accepts_null(void **state)
{
    (void)state;
    store_free(NULL);
}

static void test_store_build_leaves_earlier_messages_alone(void **state)
{
    (void)state;
    struct errlist errs = ERRLIST_INIT;
    errlist_add(&errs, "from an earlier step");
    store_t *s = NULL;
    assert_int_equal(store_build(helpers_example_json, strlen(helpers_example_json), &s, &errs), 0);
    assert_non_null(s);
    assert_int_equal(errlist_count(&errs), 1);
    store_free(s);
    errlist_free(&errs);
}

/* ---- syntax and top-level errors ---------------------------------------------------------- */

static void test_store_reports_json_syntax_errors_with_line_and_column(void **state)
{
    (void)state;
    expect_only_error("{\n  \"zones\": {,}\n}",
                      "line 2, column 13: JSON syntax error: quoted object property name expected");
}

static void test_store_reports_a_truncated_file(void **state)
{
    (void)state;
    expect_only_error("{\"zones\": {\n",
                      "line 2, column 1: JSON syntax error: unexpected end of input (truncated "
                      "file?)");
    expect_only_error("", "line 1, column 1: JSON syntax error: unexpected end of input (truncated "
                          "file?)");
}

static void test_store_reports_data_after_the_top_level_object(void **state)
{
    (void)state;
    char buf[512];
    const char *msg = helpers_only_error("{\"zones\": {}}\n\n  x\n", buf, sizeof(buf));
    assert_true(strncmp(msg, "line 3, column 3: JSON syntax error: ", 37) == 0);
}

static void test_store_reports_a_nul_byte_with_its_position(void **state)
{
    (void)state;
    static const char json[] = "{\"zones\":\n {\"a\0\": {}}}";
    struct errlist errs = ERRLIST_INIT;
    store_t *s = NULL;
    assert_int_equal(store_build(json, sizeof(json) - 1, &s, &errs), -EINVAL);
    assert_null(s);
    assert_int_equal(errlist_count(&errs), 1);
    assert_string_equal(errs.msgs[0], "line 2, column 5: JSON syntax error: NUL byte in the file");
    errlist_free(&errs);
}

/* Expects the single error "line 1, column C: JSON syntax error: NUL character (\u0000) in a
 * string", C being where `at` first occurs in json. */
static void expect_escaped_nul_error(const char *json, const char *at)
{
    char want[256];
    snprintf(want, sizeof(want),
             "line 1, column %zu: JSON syntax error: NUL character (\\u0000) in a string",
             (size_t)(strstr(json, at) - json) + 1);
    expect_only_error(json, want);
}

static void test_store_rejects_an_escaped_nul_in_any_string(void **state)
{
    (void)state;
    /* json-c would cut these strings at the NUL and serve 192.0.2.1 or a name 'x'. */
    expect_escaped_nul_error(
        HELPERS_ZONE(", \"www\": [{\"type\": \"A\", \"content\": \"192.0.2.1\\u0000junk\"}]"),
        "\\u0000");
    expect_escaped_nul_error(
        HELPERS_ZONE(", \"x\\u0000y\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}]"),
        "\\u0000");
    expect_escaped_nul_error("{\"zones\": {\"example.com.\": {\"records\": {" HELPERS_APEX
                             "}, \"metadata\": {\"X\": [\"a\\u0000\"]}}}}",
                             "\\u0000");
}

static void test_store_accepts_an_escaped_backslash_before_u0000(void **state)
{
    (void)state;
    /* "a\\u0000" is 'a', a backslash and "u0000": no NUL in it. */
    store_t *s = helpers_build("{\"zones\": {\"example.com.\": {\"records\": {" HELPERS_APEX
                               "}, \"metadata\": {\"X\": [\"a\\\\u0000\"]}}}}");
    assert_string_equal(store_zone_at(s, 0)->meta[0].values[0], "a\\u0000");
    store_free(s);
}

static void test_store_rejects_invalid_utf8(void **state)
{
    (void)state;
    char buf[512];
    const char *msg = helpers_only_error("{\"zones\": {\"\xff.\": {}}}", buf, sizeof(buf));
    assert_string_equal(msg, "line 1, column 13: JSON syntax error: invalid utf-8 string");
}

static void test_store_rejects_too_deep_nesting(void **state)
{
    (void)state;
    char json[300];
    memset(json, '[', 100);
    memset(json + 100, ']', 100);
    json[200] = '\0';
    char buf[512];
    const char *msg = helpers_only_error(json, buf, sizeof(buf));
    assert_true(strncmp(msg, "line 1, column ", 15) == 0);
    assert_non_null(strstr(msg, "JSON syntax error: nesting too deep"));
}

static void test_store_rejects_a_top_level_that_is_not_an_object(void **state)
{
    (void)state;
    expect_only_error("[]", "the top level must be an object like {\"zones\": {...}}");
    expect_only_error("\"zones\"", "the top level must be an object like {\"zones\": {...}}");
    expect_only_error("null\n", "the top level must be an object like {\"zones\": {...}}");
    expect_only_error("42\n", "the top level must be an object like {\"zones\": {...}}");
}

static void test_store_rejects_unknown_top_level_keys(void **state)
{
    (void)state;
    expect_only_error(
        "{\"zones\": {\"example.com.\": {\"records\": {" HELPERS_APEX "}}}, "
        "\"zone\": 1}",
        "[\"zone\"]: unknown key (expected one of: zones, checks, pools, notify, pdns)");
}

static void test_store_rejects_a_store_without_zones(void **state)
{
    (void)state;
    expect_only_error("{}", "missing \"zones\" at the top level");
    expect_only_error("{\"zones\": []}", "zones: expected an object of zones, got []");
}

static void test_store_accepts_an_empty_zones_object(void **state)
{
    (void)state;
    store_t *s = helpers_build("{\"zones\": {}}");
    assert_int_equal(store_zone_count(s), 0);
    assert_int_equal(store_record_count(s), 0);
    assert_null(helpers_find(s, "example.com.", -1));
    assert_null(store_zone_by_id(s, 1));
    store_free(s);
}

/* ---- zone errors -------------------------------------------------------------------------- */

static void test_store_rejects_unknown_zone_keys(void **state)
{
    (void)state;
    expect_only_error("{\"zones\": {\"example.com.\": {\"records\": {" HELPERS_APEX "}, "
                      "\"recrods\": {}}}}",
                      ZONE_PATH "[\"recrods\"]: unknown key (expected one of: ttl, records, "
                                "metadata)");
}

static void test_store_rejects_a_zone_without_records(void **state)
{
    (void)state;
    expect_only_error("{\"zones\": {\"example.com.\": {}}}",
                      ZONE_PATH ": missing \"records\" (a zone needs at least SOA and NS)");
    expect_only_error("{\"zones\": {\"example.com.\": []}}",
                      ZONE_PATH ": expected a zone object, got []");
    expect_only_error("{\"zones\": {\"example.com.\": {\"records\": []}}}",
                      ZONE_PATH ".records: expected an object of owner names, got []");
}

static void test_store_rejects_bad_zone_names(void **state)
{
    (void)state;
    expect_only_error("{\"zones\": {\"exa..mple.com.\": {\"records\": {}}}}",
                      "zones[\"exa..mple.com.\"]: 'exa..mple.com.' has an empty label");
    expect_only_error("{\"zones\": {\"\": {\"records\": {}}}}", "zones[\"\"]: empty name");
    expect_only_error("{\"zones\": {\"a\\\\256.\": {\"records\": {}}}}",
                      "zones[\"a\\\\256.\"]: 'a\\256.' has an escape \\256 above 255");
}

static void test_store_rejects_duplicate_zones_regardless_of_case_and_dot(void **state)
{
    (void)state;
    expect_only_error("{\"zones\": {\"example.com.\": {\"records\": {" HELPERS_APEX "}}, "
                      "\"EXAMPLE.COM\": {\"records\": {" HELPERS_APEX "}}}}",
                      "zones[\"EXAMPLE.COM\"]: the same zone as zones[\"example.com.\"]");
}

static void test_store_rejects_a_bad_zone_ttl(void **state)
{
    (void)state;
    expect_only_error("{\"zones\": {\"example.com.\": {\"ttl\": \"1h\", \"records\": {" HELPERS_APEX
                      "}}}}",
                      ZONE_PATH ".ttl: ttl must be a whole number from 0 to 2147483647, got "
                                "\"1h\"");
    expect_only_error("{\"zones\": {\"example.com.\": {\"ttl\": -5, \"records\": {" HELPERS_APEX
                      "}}}}",
                      ZONE_PATH ".ttl: ttl must be a whole number from 0 to 2147483647, got -5");
}

/* ---- owner name errors -------------------------------------------------------------------- */

static void test_store_rejects_owners_outside_the_zone(void **state)
{
    (void)state;
    expect_only_error(
        HELPERS_ZONE(", \"www.example.net.\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}]"),
        ZONE_PATH ".records[\"www.example.net.\"]: 'www.example.net.' is not inside zone "
                  "'example.com.'");
    expect_only_error(
        HELPERS_ZONE(", \"xexample.com.\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}]"),
        ZONE_PATH ".records[\"xexample.com.\"]: 'xexample.com.' is not inside zone "
                  "'example.com.'");
    expect_only_error(HELPERS_ZONE(", \"com.\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}]"),
                      ZONE_PATH ".records[\"com.\"]: 'com.' is not inside zone 'example.com.'");
}

static void test_store_rejects_bad_owner_names(void **state)
{
    (void)state;
    expect_only_error(HELPERS_ZONE(", \"a..b\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}]"),
                      ZONE_PATH ".records[\"a..b\"]: 'a..b' has an empty label");
    expect_only_error(HELPERS_ZONE(", \"\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}]"),
                      ZONE_PATH ".records[\"\"]: empty name");
    expect_only_error(HELPERS_ZONE(", \"x\\\\\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}]"),
                      ZONE_PATH ".records[\"x\\\\\"]: 'x\\' ends in a lone backslash");

    char label[64];
    memset(label, 'l', 64);
    char json[1024];
    snprintf(json, sizeof(json),
             HELPERS_ZONE(", \"%.64s\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}]"), label);
    char want[256];
    snprintf(want, sizeof(want),
             ZONE_PATH ".records[\"%.64s\"]: '%.64s' has a label longer than 63 bytes", label,
             label);
    expect_only_error(json, want);
}

static void test_store_rejects_an_empty_record_list(void **state)
{
    (void)state;
    expect_only_error(HELPERS_ZONE(", \"www\": []"),
                      WWW_PATH ": empty record list (remove the name instead)");
}

static void test_store_rejects_duplicate_owner_keys_instead_of_dropping_records(void **state)
{
    (void)state;
    char buf[1024];
    const char *msg = helpers_only_error(
        HELPERS_ZONE(", \"www\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}], "
                     "\"www\": [{\"type\": \"A\", \"content\": \"192.0.2.2\"}]"),
        buf, sizeof(buf));
    assert_non_null(strstr(msg, "duplicate key \"www\" in one object"));
}

static void test_store_rejects_a_record_list_that_is_not_an_array(void **state)
{
    (void)state;
    expect_only_error(HELPERS_ZONE(", \"www\": {\"type\": \"A\", \"content\": \"192.0.2.1\"}"),
                      WWW_PATH ": expected an array of records, got {\"type\":\"A\",\"content\":"
                               "\"192.0.2.1\"}");
}

/* ---- record errors ------------------------------------------------------------------------ */

static void test_store_rejects_a_record_that_is_not_an_object(void **state)
{
    (void)state;
    expect_only_error(HELPERS_ZONE(", \"www\": [\"192.0.2.1\"]"),
                      WWW_PATH "[0]: expected a record object like {\"type\": \"A\", "
                               "\"content\": \"192.0.2.1\"}, got \"192.0.2.1\"");
}

static void test_store_rejects_unknown_record_keys(void **state)
{
    (void)state;
    expect_only_error(
        HELPERS_ZONE(", \"www\": [{\"type\": \"A\", \"content\": \"192.0.2.1\", \"tll\": 60}]"),
        WWW_PATH "[0][\"tll\"]: unknown key (expected one of: type, content, pool, ttl)");
}

static void test_store_rejects_a_record_without_type(void **state)
{
    (void)state;
    expect_only_error(HELPERS_ZONE(", \"www\": [{\"content\": \"192.0.2.1\"}]"),
                      WWW_PATH "[0].type: missing (every record needs a type)");
}

static void test_store_rejects_unsupported_types(void **state)
{
    (void)state;
    char want[512];
    snprintf(want, sizeof(want),
             WWW_PATH "[0].type: 'SPF' is not a supported record type (supported: %s)",
             rrtype_list());
    expect_only_error(HELPERS_ZONE(", \"www\": [{\"type\": \"SPF\", \"content\": \"x\"}]"), want);
    /* ANY is a query type only. */
    snprintf(want, sizeof(want),
             WWW_PATH "[0].type: 'ANY' is not a supported record type (supported: %s)",
             rrtype_list());
    expect_only_error(HELPERS_ZONE(", \"www\": [{\"type\": \"ANY\", \"content\": \"x\"}]"), want);
    expect_only_error(HELPERS_ZONE(", \"www\": [{\"type\": 1, \"content\": \"192.0.2.1\"}]"),
                      WWW_PATH "[0].type: expected a type name such as \"A\", got 1");
}

static void test_store_accepts_type_names_in_any_case(void **state)
{
    (void)state;
    store_t *s = helpers_build(
        HELPERS_ZONE(", \"www\": [{\"type\": \"aaaa\", \"content\": \"2001:db8::1\"}]"));
    const struct store_node *n = helpers_find(s, "www.example.com.", -1);
    assert_int_equal(n->rrs[0].type, RR_AAAA);
    assert_non_null(strstr(n->any_frag, "\"qtype\":\"AAAA\""));
    store_free(s);
}

static void test_store_rejects_a_record_without_string_content(void **state)
{
    (void)state;
    expect_only_error(HELPERS_ZONE(", \"www\": [{\"type\": \"A\"}]"),
                      WWW_PATH "[0].content: missing (every record needs content, or a pool)");
    expect_only_error(HELPERS_ZONE(", \"www\": [{\"type\": \"A\", \"content\": 3221225985}]"),
                      WWW_PATH "[0].content: expected a string, got 3221225985");
    expect_only_error(HELPERS_ZONE(", \"www\": [{\"type\": \"TXT\", \"content\": [\"a\"]}]"),
                      WWW_PATH "[0].content: expected a string, got [\"a\"]");
}

static void test_store_rejects_bad_content_with_the_rdata_reason(void **state)
{
    (void)state;
    expect_only_error(HELPERS_ZONE(", \"www\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}, "
                                   "{\"type\": \"A\", \"content\": \"192.0.2.300\"}]"),
                      WWW_PATH "[1].content: '192.0.2.300' is not an IPv4 address");
    /* The reason comes from rdata, after the path. */
    char buf[512];
    const char *msg = helpers_only_error(
        HELPERS_ZONE(", \"www\": [{\"type\": \"MX\", \"content\": \"mail\"}]"), buf, sizeof(buf));
    assert_true(strncmp(msg, WWW_PATH "[0].content: ", strlen(WWW_PATH "[0].content: ")) == 0);
    assert_true(strlen(msg) > strlen(WWW_PATH "[0].content: "));
    msg = helpers_only_error(HELPERS_ZONE(", \"www\": [{\"type\": \"A\", \"content\": \"\"}]"), buf,
                             sizeof(buf));
    assert_true(strncmp(msg, WWW_PATH "[0].content: ", strlen(WWW_PATH "[0].content: ")) == 0);
}

static void test_store_rejects_bad_record_ttls(void **state)
{
    (void)state;
    static const struct {
        const char *ttl;
        const char *shown;
    } bad[] = {
        {"2147483648", "2147483648"},
        {"-1", "-1"},
        {"1.5", "1.5"},
        {"\"60\"", "\"60\""},
        {"null", "null"},
        {"4294967296", "4294967296"}, /* would wrap to 0 in 32 bits */
        {"4294967356", "4294967356"}, /* would wrap to 60 */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char json[1024], want[512];
        snprintf(json, sizeof(json),
                 HELPERS_ZONE(", \"www\": [{\"type\": \"A\", \"content\": \"192.0.2.1\", "
                              "\"ttl\": %s}]"),
                 bad[i].ttl);
        snprintf(want, sizeof(want),
                 WWW_PATH "[0].ttl: ttl must be a whole number from 0 to 2147483647, got %s",
                 bad[i].shown);
        expect_only_error(json, want);
    }
}

/* ---- whole-name and whole-zone errors ----------------------------------------------------- */

static void test_store_rejects_soa_below_the_apex(void **state)
{
    (void)state;
    expect_only_error(
        HELPERS_ZONE(", \"www\": [{\"type\": \"SOA\", \"content\": \"ns1 hostmaster 1 7200 "
                     "3600 1209600 300\"}]"),
        WWW_PATH "[0]: an SOA record belongs only at the zone apex '@'");
}

static void test_store_rejects_a_zone_without_soa(void **state)
{
    (void)state;
    expect_only_error("{\"zones\": {\"example.com.\": {\"records\": {\"@\": [{\"type\": \"NS\", "
                      "\"content\": \"ns1\"}]}}}}",
                      ZONE_PATH ".records: the zone needs exactly one SOA record at '@', found 0");
}

static void test_store_rejects_a_zone_with_two_soas(void **state)
{
    (void)state;
    expect_only_error(
        "{\"zones\": {\"example.com.\": {\"records\": {" HELPERS_APEX
        ", \"example.com.\": [{\"type\": \"SOA\", \"content\": \"ns1 hostmaster 2 7200 3600 "
        "1209600 300\"}]}}}}",
        ZONE_PATH ".records: the zone needs exactly one SOA record at '@', found 2");
}

static void test_store_rejects_a_zone_without_ns_at_the_apex(void **state)
{
    (void)state;
    expect_only_error("{\"zones\": {\"example.com.\": {\"records\": {\"@\": [{\"type\": \"SOA\", "
                      "\"content\": \"ns1 hostmaster 1 7200 3600 1209600 300\"}], \"www\": "
                      "[{\"type\": \"NS\", \"content\": \"ns1\"}]}}}}",
                      ZONE_PATH ".records: the zone needs at least one NS record at '@'");
}

static void test_store_rejects_a_zone_with_nothing_at_the_apex(void **state)
{
    (void)state;
    struct errlist errs;
    helpers_build_fails("{\"zones\": {\"example.com.\": {\"records\": {\"www\": [{\"type\": "
                        "\"A\", \"content\": \"192.0.2.1\"}]}}}}",
                        &errs);
    assert_int_equal(errlist_count(&errs), 2);
    helpers_assert_error(&errs, ZONE_PATH ".records: the zone needs exactly one SOA record at "
                                          "'@', found 0");
    helpers_assert_error(&errs, ZONE_PATH ".records: the zone needs at least one NS record at '@'");
    errlist_free(&errs);
}

static void test_store_accepts_an_empty_zone_as_clear_zone_leaves_it(void **state)
{
    (void)state;
    store_t *s = helpers_build("{\"zones\": {\"example.com.\": {\"records\": {}}}}");
    assert_int_equal(store_zone_count(s), 1);
    assert_int_equal(store_record_count(s), 0);
    assert_int_equal(store_zone_at(s, 0)->serial, 0);
    store_free(s);
}

static void test_store_rejects_a_zone_with_records_but_no_soa_or_ns(void **state)
{
    (void)state;
    struct errlist errs;
    helpers_build_fails("{\"zones\": {\"example.com.\": {\"records\": {\"www\": [{\"type\": "
                        "\"A\", \"content\": \"192.0.2.1\"}]}}}}",
                        &errs);
    assert_int_equal(errlist_count(&errs), 2);
    helpers_assert_error(&errs, ZONE_PATH ".records: the zone needs exactly one SOA record at "
                                          "'@', found 0");
    helpers_assert_error(&errs, ZONE_PATH ".records: the zone needs at least one NS record at '@'");
    errlist_free(&errs);
}

static void test_store_rejects_cname_next_to_other_records(void **state)
{
    (void)state;
    expect_only_error(HELPERS_ZONE(", \"www\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}, "
                                   "{\"type\": \"CNAME\", \"content\": \"web\"}]"),
                      WWW_PATH ": a CNAME must be the only record at 'www.example.com.' (found 1 "
                               "CNAME and 1 other records)");
}

static void test_store_rejects_two_cnames_at_one_name(void **state)
{
    (void)state;
    expect_only_error(HELPERS_ZONE(", \"www\": [{\"type\": \"CNAME\", \"content\": \"a\"}, "
                                   "{\"type\": \"CNAME\", \"content\": \"b\"}]"),
                      WWW_PATH ": a CNAME must be the only record at 'www.example.com.' (found 2 "
                               "CNAME and 0 other records)");
}

static void test_store_rejects_cname_at_the_apex(void **state)
{
    (void)state;
    expect_only_error(HELPERS_ZONE(", \"example.com.\": [{\"type\": \"CNAME\", \"content\": "
                                   "\"www.example.net.\"}]"),
                      ZONE_PATH ".records[\"@\"]: a CNAME must be the only record at "
                                "'example.com.' (found 1 CNAME and 2 other records)");
}

static void test_store_accepts_a_lone_cname(void **state)
{
    (void)state;
    store_t *s =
        helpers_build(HELPERS_ZONE(", \"www\": [{\"type\": \"CNAME\", \"content\": \"web\"}]"));
    const struct store_node *n = helpers_find(s, "www.example.com.", -1);
    expect_node_text(n, "www.example.com.", 1);
    assert_string_equal(n->rrs[0].content, "web.example.com");
    store_free(s);
}

static void test_store_rejects_duplicate_records(void **state)
{
    (void)state;
    expect_only_error(HELPERS_ZONE(", \"www\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}, "
                                   "{\"type\": \"A\", \"content\": \"192.0.2.1\"}]"),
                      WWW_PATH "[1]: duplicate A record '192.0.2.1'");
}

static void test_store_rejects_records_that_are_duplicates_once_normalised(void **state)
{
    (void)state;
    /* Different text, same data; and in two spellings of the same owner. */
    expect_only_error(
        HELPERS_ZONE(", \"www\": [{\"type\": \"AAAA\", \"content\": \"2001:db8::1\"}], "
                     "\"WWW.example.com.\": [{\"type\": \"AAAA\", \"content\": "
                     "\"2001:DB8:0:0::1\"}]"),
        ZONE_PATH ".records[\"WWW.example.com.\"][0]: duplicate AAAA record '2001:db8::1'");
    expect_only_error(HELPERS_ZONE(", \"www\": [{\"type\": \"NS\", \"content\": \"ns1\"}, "
                                   "{\"type\": \"NS\", \"content\": \"ns1.example.com.\"}]"),
                      WWW_PATH "[1]: duplicate NS record 'ns1.example.com'");
}

static void test_store_rejects_differing_ttls_in_one_rrset(void **state)
{
    (void)state;
    expect_only_error(
        HELPERS_ZONE(", \"www\": [{\"type\": \"A\", \"content\": \"192.0.2.1\", \"ttl\": 60}, "
                     "{\"type\": \"AAAA\", \"content\": \"2001:db8::1\"}, "
                     "{\"type\": \"A\", \"content\": \"192.0.2.2\"}]"),
        WWW_PATH "[2]: ttl 3600 differs from ttl 60 of another A record of this name (all "
                 "records of one type at one name share a TTL, RFC 2181)");
}

/* ---- metadata errors ---------------------------------------------------------------------- */

#define META_ZONE(meta) \
    "{\"zones\": {\"example.com.\": {\"records\": {" HELPERS_APEX "}, \"metadata\": " meta "}}}"

static void test_store_rejects_metadata_that_is_not_an_object(void **state)
{
    (void)state;
    expect_only_error(META_ZONE("[\"ALSO-NOTIFY\"]"),
                      ZONE_PATH ".metadata: expected an object of metadata kinds, got "
                                "[\"ALSO-NOTIFY\"]");
}

static void test_store_rejects_bad_metadata_kinds(void **state)
{
    (void)state;
    expect_only_error(META_ZONE("{\"ALSO NOTIFY\": [\"192.0.2.1\"]}"),
                      ZONE_PATH ".metadata[\"ALSO NOTIFY\"]: 'ALSO NOTIFY' is not a metadata "
                                "kind (letters, digits, '-')");
    expect_only_error(META_ZONE("{\"\": []}"),
                      ZONE_PATH ".metadata[\"\"]: '' is not a metadata kind (letters, digits, "
                                "'-')");
}

static void test_store_rejects_metadata_values_that_are_not_string_arrays(void **state)
{
    (void)state;
    expect_only_error(META_ZONE("{\"SOA-EDIT-API\": \"DEFAULT\"}"),
                      ZONE_PATH ".metadata[\"SOA-EDIT-API\"]: expected an array of strings, got "
                                "\"DEFAULT\"");
    expect_only_error(META_ZONE("{\"ALSO-NOTIFY\": [\"192.0.2.1\", 53]}"),
                      ZONE_PATH ".metadata[\"ALSO-NOTIFY\"][1]: expected a string, got 53");
}

static void test_store_accepts_empty_metadata(void **state)
{
    (void)state;
    store_t *s = helpers_build(META_ZONE("{\"ALSO-NOTIFY\": []}"));
    const struct store_zone *z = store_zone_at(s, 0);
    assert_int_equal(z->nmeta, 1);
    assert_string_equal(z->meta[0].kind, "ALSO-NOTIFY");
    assert_int_equal(z->meta[0].nvalues, 0);
    store_free(s);
    s = helpers_build(META_ZONE("{}"));
    assert_int_equal(store_zone_at(s, 0)->nmeta, 0);
    store_free(s);
}

/* ---- paths of unusual keys ---------------------------------------------------------------- */

static void test_store_escapes_keys_the_same_way_in_every_error_path(void **state)
{
    (void)state;
    /* The owner key is the JSON string "sp\\032ace"; every path shows it JSON-escaped. */
    struct errlist errs;
    helpers_build_fails(HELPERS_ZONE(", \"sp\\\\032ace\": [{\"type\": \"CNAME\", \"content\": "
                                     "\"www\"}, {\"type\": \"A\", \"content\": \"192.0.2.1\"}, "
                                     "{\"type\": \"A\", \"content\": \"192.0.2.1\"}]"),
                        &errs);
    helpers_assert_error(&errs, ZONE_PATH ".records[\"sp\\\\032ace\"][2]: duplicate A record "
                                          "'192.0.2.1'");
    helpers_assert_error(&errs, ZONE_PATH ".records[\"sp\\\\032ace\"]: a CNAME must be the only "
                                          "record at 'sp\\032ace.example.com.' (found 1 CNAME "
                                          "and 2 other records)");
    assert_int_equal(errlist_count(&errs), 2);
    errlist_free(&errs);

    /* A zone key with a quote in it: "q\"uote." */
    helpers_build_fails("{\"zones\": {\"q\\\"uote.\": {\"records\": {\"a\": [{\"type\": \"A\", "
                        "\"content\": \"192.0.2.1\"}]}}}}",
                        &errs);
    helpers_assert_error(&errs, "zones[\"q\\\"uote.\"].records: the zone needs exactly one SOA "
                                "record at '@', found 0");
    helpers_assert_error(&errs, "zones[\"q\\\"uote.\"].records: the zone needs at least one NS "
                                "record at '@'");
    errlist_free(&errs);

    expect_only_error("{\"zones\": {\"q\\\"uote.\": {\"records\": {" HELPERS_APEX "}}, "
                      "\"Q\\\"UOTE\": {\"records\": {" HELPERS_APEX "}}}}",
                      "zones[\"Q\\\"UOTE\"]: the same zone as zones[\"q\\\"uote.\"]");
}

static void test_store_accepts_a_zone_name_ending_in_an_escaped_backslash(void **state)
{
    (void)state;
    /* "a\\." is the absolute name whose one label is 'a\'; its final dot is not escaped. */
    store_t *s = helpers_build("{\"zones\": {\"a\\\\\\\\.\": {\"records\": {" HELPERS_APEX "}}}}");
    assert_string_equal(store_zone_at(s, 0)->name, "a\\\\.");
    assert_memory_equal(store_zone_at(s, 0)->apex, "\2a\\", 4);
    store_free(s);
    /* "a\." ends in an escaped dot, so it is completed to "a\.." with a label 'a.' */
    s = helpers_build("{\"zones\": {\"a\\\\.\": {\"records\": {" HELPERS_APEX "}}}}");
    assert_string_equal(store_zone_at(s, 0)->name, "a\\..");
    store_free(s);
}

/* ---- all at once -------------------------------------------------------------------------- */

static void test_store_reports_every_error_at_once(void **state)
{
    (void)state;
    static const char json[] =
        "{\"zones\": {"
        "\"example.com.\": {\"ttl\": -1, \"records\": {" HELPERS_APEX ", "
        "  \"www\": [{\"type\": \"A\", \"content\": \"192.0.2.300\"}, "
        "            {\"type\": \"SPF\", \"content\": \"v=spf1\"}, "
        "            {\"type\": \"A\", \"content\": \"192.0.2.1\", \"ttl\": \"x\"}], "
        "  \"out.example.net.\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}], "
        "  \"empty\": []}, "
        " \"metadata\": {\"bad kind\": []}, \"extra\": 1},"
        "\"example.org.\": {\"records\": {\"@\": [{\"type\": \"NS\"}]}},"
        "\"EXAMPLE.COM.\": {\"records\": {}}"
        "}}";
    char want_type[512];
    snprintf(want_type, sizeof(want_type),
             WWW_PATH "[1].type: 'SPF' is not a supported record type (supported: %s)",
             rrtype_list());
    const char *const want[] = {
        ZONE_PATH ".ttl: ttl must be a whole number from 0 to 2147483647, got -1",
        WWW_PATH "[0].content: '192.0.2.300' is not an IPv4 address",
        want_type,
        WWW_PATH "[2].ttl: ttl must be a whole number from 0 to 2147483647, got \"x\"",
        ZONE_PATH ".records[\"out.example.net.\"]: 'out.example.net.' is not inside zone "
                  "'example.com.'",
        ZONE_PATH ".records[\"empty\"]: empty record list (remove the name instead)",
        ZONE_PATH ".metadata[\"bad kind\"]: 'bad kind' is not a metadata kind (letters, digits, "
                  "'-')",
        ZONE_PATH "[\"extra\"]: unknown key (expected one of: ttl, records, metadata)",
        "zones[\"example.org.\"].records[\"@\"][0].content: missing (every record needs content, "
        "or a pool)",
        "zones[\"EXAMPLE.COM.\"]: the same zone as zones[\"example.com.\"]",
    };
    struct errlist errs;
    helpers_build_fails(json, &errs);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        helpers_assert_error(&errs, want[i]);
    assert_int_equal(errlist_count(&errs), sizeof(want) / sizeof(want[0]));
    errlist_free(&errs);
}

static void test_store_reports_every_whole_zone_error_at_once(void **state)
{
    (void)state;
    /* These checks run after the records parse: all of them still come out together. */
    static const char json[] =
        "{\"zones\": {"
        "\"example.com.\": {\"records\": {\"@\": [{\"type\": \"MX\", \"content\": \"10 mail\"}], "
        "  \"www\": [{\"type\": \"CNAME\", \"content\": \"a\"}, {\"type\": \"A\", \"content\": "
        "\"192.0.2.1\"}, {\"type\": \"A\", \"content\": \"192.0.2.1\"}], "
        "  \"ftp\": [{\"type\": \"SOA\", \"content\": \"ns1 hostmaster 1 7200 3600 1209600 "
        "300\"}]}},"
        "\"example.org.\": {\"records\": {" HELPERS_APEX
        ", \"x\": [{\"type\": \"A\", \"content\": \"192.0.2.1\", \"ttl\": 1}, "
        "{\"type\": \"A\", \"content\": \"192.0.2.2\", \"ttl\": 2}]}}}}";
    const char *const want[] = {
        ZONE_PATH ".records: the zone needs exactly one SOA record at '@', found 0",
        ZONE_PATH ".records: the zone needs at least one NS record at '@'",
        (WWW_PATH ": a CNAME must be the only record at 'www.example.com.' (found 1 CNAME and 2 "
                  "other records)"),
        WWW_PATH "[2]: duplicate A record '192.0.2.1'",
        ZONE_PATH ".records[\"ftp\"][0]: an SOA record belongs only at the zone apex '@'",
        ("zones[\"example.org.\"].records[\"x\"][1]: ttl 2 differs from ttl 1 of another A record "
         "of this name (all records of one type at one name share a TTL, RFC 2181)"),
    };
    struct errlist errs;
    helpers_build_fails(json, &errs);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        helpers_assert_error(&errs, want[i]);
    assert_int_equal(errlist_count(&errs), sizeof(want) / sizeof(want[0]));
    errlist_free(&errs);
}

static void test_store_counts_errors_past_the_kept_maximum(void **state)
{
    (void)state;
    struct sbuf json = SBUF_INIT;
    sbuf_puts(&json, "{\"zones\": {\"example.com.\": {\"records\": {" HELPERS_APEX ", \"www\": [");
    for (int i = 0; i < ERRLIST_MAX + 500; i++)
        sbuf_printf(&json, "%s{\"type\": \"A\", \"content\": \"192.0.2.%d00\"}", i ? "," : "",
                    i + 3);
    sbuf_puts(&json, "]}}}}");
    struct errlist errs;
    helpers_build_fails(sbuf_str(&json), &errs);
    assert_int_equal(errs.n, ERRLIST_MAX);
    assert_int_equal(errlist_count(&errs), ERRLIST_MAX + 500);
    helpers_assert_error(&errs, WWW_PATH "[0].content: '192.0.2.300' is not an IPv4 address");
    errlist_free(&errs);
    sbuf_free(&json);
}

int main(void)
{
    const struct CMUnitTest example[] = {
        cmocka_unit_test(test_store_builds_the_example_store),
        cmocka_unit_test(test_store_lists_names_in_canonical_order_with_the_apex_soa_first),
        cmocka_unit_test(test_store_renders_the_apex_reply_fragment_once),
        cmocka_unit_test(test_store_normalises_content_and_applies_ttls),
        cmocka_unit_test(test_store_finds_names_by_their_lowercase_wire_form),
        cmocka_unit_test(test_store_synthesises_empty_non_terminals_for_ancestors),
        cmocka_unit_test(test_store_finds_nothing_where_nothing_is),
        cmocka_unit_test(test_store_keeps_the_wildcard_as_a_literal_owner),
        cmocka_unit_test(test_store_zone_by_name_needs_the_exact_apex),
        cmocka_unit_test(test_store_zone_id_is_derived_from_the_name),
    };
    const struct CMUnitTest nested[] = {
        cmocka_unit_test(test_store_sorts_zones_by_name),
        cmocka_unit_test(test_store_takes_each_serial_from_its_soa),
        cmocka_unit_test(test_store_counts_records_per_zone_and_in_total),
        cmocka_unit_test(test_store_answers_from_the_deepest_zone_holding_a_name),
        cmocka_unit_test(test_store_filters_by_zone_id),
        cmocka_unit_test(test_store_zone_ids_do_not_depend_on_zone_order_or_content),
        cmocka_unit_test(test_store_keeps_metadata_in_file_order),
    };
    const struct CMUnitTest building[] = {
        cmocka_unit_test(test_store_accepts_zone_names_without_trailing_dot_and_in_any_case),
        cmocka_unit_test(test_store_stores_owner_names_lowercase),
        cmocka_unit_test(test_store_merges_owner_keys_naming_the_same_owner),
        cmocka_unit_test(test_store_puts_the_soa_first_wherever_it_is_in_the_file),
        cmocka_unit_test(test_store_applies_the_zone_ttl_to_records_without_one),
        cmocka_unit_test(test_store_applies_a_zone_ttl_given_after_the_records),
        cmocka_unit_test(test_store_accepts_the_largest_ttl),
        cmocka_unit_test(test_store_escapes_owner_names_in_reply_fragments),
        cmocka_unit_test(test_store_accepts_the_same_content_under_different_types),
        cmocka_unit_test(test_store_loads_a_file),
        cmocka_unit_test(test_store_load_file_reports_a_missing_file),
        cmocka_unit_test(test_store_load_file_rejects_a_directory),
        cmocka_unit_test(test_store_free_accepts_null),
        cmocka_unit_test(test_store_build_leaves_earlier_messages_alone),
        cmocka_unit_test(test_store_accepts_an_empty_zones_object),
        cmocka_unit_test(test_store_accepts_type_names_in_any_case),
        cmocka_unit_test(test_store_accepts_a_lone_cname),
        cmocka_unit_test(test_store_accepts_empty_metadata),
    };
    const struct CMUnitTest errors[] = {
        cmocka_unit_test(test_store_reports_json_syntax_errors_with_line_and_column),
        cmocka_unit_test(test_store_reports_a_truncated_file),
        cmocka_unit_test(test_store_reports_data_after_the_top_level_object),
        cmocka_unit_test(test_store_reports_a_nul_byte_with_its_position),
        cmocka_unit_test(test_store_rejects_an_escaped_nul_in_any_string),
        cmocka_unit_test(test_store_accepts_an_escaped_backslash_before_u0000),
        cmocka_unit_test(test_store_rejects_invalid_utf8),
        cmocka_unit_test(test_store_rejects_too_deep_nesting),
        cmocka_unit_test(test_store_rejects_a_top_level_that_is_not_an_object),
        cmocka_unit_test(test_store_rejects_unknown_top_level_keys),
        cmocka_unit_test(test_store_rejects_a_store_without_zones),
        cmocka_unit_test(test_store_rejects_unknown_zone_keys),
        cmocka_unit_test(test_store_rejects_a_zone_without_records),
        cmocka_unit_test(test_store_rejects_bad_zone_names),
        cmocka_unit_test(test_store_rejects_duplicate_zones_regardless_of_case_and_dot),
        cmocka_unit_test(test_store_rejects_a_bad_zone_ttl),
        cmocka_unit_test(test_store_rejects_owners_outside_the_zone),
        cmocka_unit_test(test_store_rejects_bad_owner_names),
        cmocka_unit_test(test_store_rejects_an_empty_record_list),
        cmocka_unit_test(test_store_rejects_duplicate_owner_keys_instead_of_dropping_records),
        cmocka_unit_test(test_store_rejects_a_record_list_that_is_not_an_array),
        cmocka_unit_test(test_store_rejects_a_record_that_is_not_an_object),
        cmocka_unit_test(test_store_rejects_unknown_record_keys),
        cmocka_unit_test(test_store_rejects_a_record_without_type),
        cmocka_unit_test(test_store_rejects_unsupported_types),
        cmocka_unit_test(test_store_rejects_a_record_without_string_content),
        cmocka_unit_test(test_store_rejects_bad_content_with_the_rdata_reason),
        cmocka_unit_test(test_store_rejects_bad_record_ttls),
        cmocka_unit_test(test_store_rejects_soa_below_the_apex),
        cmocka_unit_test(test_store_rejects_a_zone_without_soa),
        cmocka_unit_test(test_store_rejects_a_zone_with_two_soas),
        cmocka_unit_test(test_store_rejects_a_zone_without_ns_at_the_apex),
        cmocka_unit_test(test_store_rejects_a_zone_with_nothing_at_the_apex),
        cmocka_unit_test(test_store_accepts_an_empty_zone_as_clear_zone_leaves_it),
        cmocka_unit_test(test_store_rejects_a_zone_with_records_but_no_soa_or_ns),
        cmocka_unit_test(test_store_rejects_cname_next_to_other_records),
        cmocka_unit_test(test_store_rejects_two_cnames_at_one_name),
        cmocka_unit_test(test_store_rejects_cname_at_the_apex),
        cmocka_unit_test(test_store_rejects_duplicate_records),
        cmocka_unit_test(test_store_rejects_records_that_are_duplicates_once_normalised),
        cmocka_unit_test(test_store_rejects_differing_ttls_in_one_rrset),
        cmocka_unit_test(test_store_rejects_metadata_that_is_not_an_object),
        cmocka_unit_test(test_store_rejects_bad_metadata_kinds),
        cmocka_unit_test(test_store_rejects_metadata_values_that_are_not_string_arrays),
        cmocka_unit_test(test_store_escapes_keys_the_same_way_in_every_error_path),
        cmocka_unit_test(test_store_accepts_a_zone_name_ending_in_an_escaped_backslash),
        cmocka_unit_test(test_store_reports_every_error_at_once),
        cmocka_unit_test(test_store_reports_every_whole_zone_error_at_once),
        cmocka_unit_test(test_store_counts_errors_past_the_kept_maximum),
    };
    int failed = 0;
    failed += cmocka_run_group_tests_name("store_example", example, setup_example, teardown_store);
    failed += cmocka_run_group_tests_name("store_nested", nested, setup_nested, teardown_store);
    failed += cmocka_run_group_tests_name("store_building", building, NULL, NULL);
    failed += cmocka_run_group_tests_name("store_errors", errors, NULL, NULL);
    return failed;
}
