/* SPDX-License-Identifier: MIT */
/* Unit tests for backend/edit.c: ops built from the parameters pdns 4.7 sends (replaceRRSet,
 * feedRecord, setDomainMetadata) and applied to a parsed store document. The document is checked
 * as the file it would be written as (storefmt) and as the store it would load as. */
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

#include "backend/edit.h"
#include "backend/rdata.h"
#include "backend/storefmt.h"
#include "common/sbuf.h"
#include "tests/unit/helpers.h"

/* ---- a small zone, written in the canonical layout ---------------------------------------- */

#define HEAD \
    "{\n  \"zones\": {\n    \"example.com.\": {\n      \"ttl\": 3600,\n      \"records\": {\n"
#define TAIL "      }\n    }\n  }\n}\n"
#define APEX_SOA                                                                                \
    "          {\"type\": \"SOA\", \"content\": \"ns1 hostmaster 2024010101 7200 3600 1209600 " \
    "300\"},\n"
#define APEX_NS1 "          {\"type\": \"NS\", \"content\": \"ns1\"},\n"
#define APEX_NS2 "          {\"type\": \"NS\", \"content\": \"ns2.example.net.\"},\n"
#define APEX_MX  "          {\"type\": \"MX\", \"content\": \"10 mail\"}\n"
#define APEX     "        \"@\": [\n" APEX_SOA APEX_NS1 APEX_NS2 APEX_MX "        ],\n"
#define NS1      "        \"ns1\": [{\"type\": \"A\", \"content\": \"192.0.2.53\"}],\n"
/* A and AAAA interleaved: a replaced RRset takes the place of its first record. */
#define WWW_OPEN "        \"www\": [\n"
#define WWW_A10  "          {\"type\": \"A\", \"content\": \"192.0.2.10\", \"ttl\": 60},\n"
#define WWW_AAAA "          {\"type\": \"AAAA\", \"content\": \"2001:DB8::10\", \"ttl\": 60},\n"
#define WWW_A11  "          {\"type\": \"A\", \"content\": \"192.0.2.11\", \"ttl\": 60}\n"
#define WWW      WWW_OPEN WWW_A10 WWW_AAAA WWW_A11 "        ],\n"
#define MAIL     "        \"mail\": [{\"type\": \"A\", \"content\": \"192.0.2.25\"}]\n"
#define MAIL_C   "        \"mail\": [{\"type\": \"A\", \"content\": \"192.0.2.25\"}],\n"
#define SMALL    HEAD APEX NS1 WWW MAIL TAIL

/* The same zone without a default TTL (3600 applies), one owner key written in capitals and the
 * apex written as an absolute name. */
static const char no_ttl_json[] = "{\"zones\": {\"example.com\": {\"records\": {"
                                  "\"example.com.\": [{\"type\": \"SOA\", \"content\": \"ns1 "
                                  "hostmaster 5 7200 3600 1209600 300\"},"
                                  " {\"type\": \"NS\", \"content\": \"ns1\"}],"
                                  " \"ns1\": [{\"type\": \"A\", \"content\": \"192.0.2.53\"}],"
                                  " \"WWW\": [{\"type\": \"A\", \"content\": \"192.0.2.10\"}]}}}}";

/* A pool at www (A) with a TXT record next to it. */
#define POOL_ZONE(extra)                                                                          \
    "{\"checks\": {\"web-health\": {\"type\": \"http\", \"port\": 8081, \"path\": \"/health\"}}," \
    " \"pools\": {\"web\": {\"policy\": \"failover\", \"check\": \"web-health\", \"members\": ["  \
    "{\"name\": \"web1\", \"address\": \"192.0.2.11\", \"tier\": 1},"                             \
    " {\"name\": \"web2\", \"address\": \"192.0.2.12\", \"tier\": 2}]}},"                         \
    " \"zones\": {\"example.com.\": {\"records\": {"                                              \
    "\"@\": [{\"type\": \"SOA\", \"content\": \"ns1 hostmaster 1 7200 3600 1209600 300\"},"       \
    " {\"type\": \"NS\", \"content\": \"ns1\"}],"                                                 \
    " \"ns1\": [{\"type\": \"A\", \"content\": \"192.0.2.53\"}],"                                 \
    " \"www\": [{\"type\": \"TXT\", \"content\": \"\\\"web\\\"\"}, {\"type\": \"A\", \"pool\": "  \
    "\"web\", \"ttl\": 5}]" extra "}}}}"
#define POOL_REC "{\"type\": \"A\", \"pool\": \"web\", \"ttl\": 5}"

static const char pool_msg[] = "www.example.com. A is answered by pool 'web' and cannot be "
                               "changed through pdns; change it in the store file (pool records "
                               "stay pools)";

/* ---- helpers ------------------------------------------------------------------------------ */

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

/* The document as the store file would be written (heap string). */
static char *render(json_object *doc)
{
    struct sbuf out = SBUF_INIT;
    storefmt_render(doc, &out);
    return sbuf_take(&out);
}

static void expect_doc(json_object *doc, const char *want)
{
    char *got = render(doc);
    if (strcmp(got, want) != 0)
        print_error("document is:\n%s\nwanted:\n%s\n", got, want);
    assert_string_equal(got, want);
    free(got);
}

/* The document must load as a store; the caller frees it. */
static store_t *build(json_object *doc)
{
    char *text = render(doc);
    store_t *s = helpers_build(text);
    free(text);
    return s;
}

static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("'%s' does not contain '%s'", text, part);
}

static void expect_doc_contains(json_object *doc, const char *part)
{
    char *got = render(doc);
    if (!strstr(got, part))
        print_error("document:\n%s\ndoes not contain:\n%s\n", got, part);
    assert_non_null(strstr(got, part));
    free(got);
}

/* One pdns record object: {"qtype", "qname", "qclass": 1, "content", "ttl", "auth": true}. */
static void
put_rr(struct sbuf *b, const char *qname, const char *qtype, const char *content, uint32_t ttl)
{
    sbuf_printf(b, "{\"auth\": true, \"content\": ");
    sbuf_json_str(b, content, strlen(content));
    sbuf_printf(b, ", \"qclass\": 1, \"qname\": \"%s\", \"qtype\": \"%s\", \"ttl\": %u}", qname,
                qtype, ttl);
}

/* replaceRRSet of (qname, qtype) with the NULL-terminated contents, all with ttl. */
static void replace_op(struct edit_op *op, const char *qname, const char *qtype, uint32_t ttl, ...)
{
    struct sbuf b = SBUF_INIT;
    sbuf_printf(&b,
                "{\"domain_id\": 1, \"qname\": \"%s\", \"qtype\": \"%s\", \"trxid\": 1, "
                "\"rrset\": [",
                qname, qtype);
    va_list ap;
    va_start(ap, ttl);
    const char *c;
    for (int i = 0; (c = va_arg(ap, const char *)); i++) {
        if (i)
            sbuf_puts(&b, ", ");
        put_rr(&b, qname, qtype, c, ttl);
    }
    va_end(ap);
    sbuf_puts(&b, "]}");
    json_object *params = parse(sbuf_str(&b));
    struct errbuf err = {{0}};
    int r = edit_op_replace(params, "example.com.", op, &err);
    if (r < 0)
        print_error("edit_op_replace(%s): %s\n", sbuf_str(&b), err.msg);
    assert_int_equal(r, 0);
    json_object_put(params);
    sbuf_free(&b);
}

static void feed_op(struct edit_op *op,
                    bool whole,
                    const char *qname,
                    const char *qtype,
                    const char *content,
                    uint32_t ttl)
{
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, "{\"rr\": ");
    put_rr(&b, qname, qtype, content, ttl);
    b.len--; /* the closing brace: add ordername as pdns does */
    sbuf_puts(&b, ", \"ordername\": null}, \"trxid\": 1}");
    json_object *params = parse(sbuf_str(&b));
    struct errbuf err = {{0}};
    int r = edit_op_feed(params, "example.com.", whole, op, &err);
    if (r < 0)
        print_error("edit_op_feed(%s): %s\n", sbuf_str(&b), err.msg);
    assert_int_equal(r, 0);
    json_object_put(params);
    sbuf_free(&b);
}

static void meta_op(struct edit_op *op, const char *params_json)
{
    json_object *params = parse(params_json);
    struct errbuf err = {{0}};
    int r = edit_op_meta(params, op, &err);
    if (r < 0)
        print_error("edit_op_meta(%s): %s\n", params_json, err.msg);
    assert_int_equal(r, 0);
    json_object_put(params);
}

static void apply_ok(json_object *doc, struct edit_op *ops, size_t n)
{
    struct errbuf err = {{0}};
    int r = edit_apply(doc, ops, n, &err);
    if (r < 0)
        print_error("edit_apply: %d %s\n", r, err.msg);
    assert_int_equal(r, 0);
}

static void apply_fails(json_object *doc, struct edit_op *ops, size_t n, int want, const char *msg)
{
    struct errbuf err = {{0}};
    int r = edit_apply(doc, ops, n, &err);
    if (r != want)
        print_error("edit_apply returned %d (%s), wanted %d\n", r, err.msg, want);
    assert_int_equal(r, want);
    assert_string_equal(err.msg, msg);
}

static void clear_ops(struct edit_op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++)
        edit_op_clear(&ops[i]);
}

/* Applies one replace to SMALL and compares the result. */
static void expect_replace(const char *want,
                           const char *qname,
                           const char *qtype,
                           uint32_t ttl,
                           const char *c1,
                           const char *c2)
{
    json_object *doc = parse(SMALL);
    struct edit_op op;
    if (c2)
        replace_op(&op, qname, qtype, ttl, c1, c2, (const char *)NULL);
    else if (c1)
        replace_op(&op, qname, qtype, ttl, c1, (const char *)NULL);
    else
        replace_op(&op, qname, qtype, ttl, (const char *)NULL);
    apply_ok(doc, &op, 1);
    expect_doc(doc, want);
    store_free(build(doc));
    edit_op_clear(&op);
    json_object_put(doc);
}

/* The content of the n-th record of type at name in s (as pdns is answered), and its TTL. */
static const struct store_rr *find_rr(const store_t *s, const char *name, int type, size_t n)
{
    const struct store_node *node = helpers_find(s, name, 0);
    if (!node)
        fail_msg("no name %s in the store", name);
    for (uint32_t i = 0, k = 0; i < node->nrr; i++)
        if (node->rrs[i].type == type && k++ == n)
            return &node->rrs[i];
    fail_msg("no %s record #%zu at %s", rrtype_name(type), n, name);
    return NULL;
}

static size_t count_rr(const store_t *s, const char *name, int type)
{
    const struct store_node *node = helpers_find(s, name, 0);
    size_t n = 0;
    for (uint32_t i = 0; node && i < node->nrr; i++)
        n += node->rrs[i].type == type;
    return n;
}

/* ---- building ops ------------------------------------------------------------------------- */

static void test_edit_op_replace_reads_the_parameters_pdns_sends(void **state)
{
    (void)state;
    json_object *p = parse(
        "{\"domain_id\": 1, \"qname\": \"www.example.com.\", \"qtype\": \"A\", \"trxid\": 1, "
        "\"rrset\": [{\"qtype\": \"A\", \"qname\": \"www.example.com.\", \"qclass\": 1, "
        "\"content\": \"192.0.2.1\", \"ttl\": 300, \"auth\": true}, {\"qtype\": \"A\", \"qname\": "
        "\"WWW.example.com.\", \"qclass\": 1, \"content\": \"192.0.2.2\", \"ttl\": \"300\", "
        "\"auth\": false}]}");
    struct edit_op op;
    struct errbuf err = {{0}};
    assert_int_equal(edit_op_replace(p, "example.com.", &op, &err), 0);
    assert_int_equal(op.kind, EDIT_REPLACE_RRSET);
    assert_string_equal(op.zone, "example.com.");
    assert_string_equal(op.qname, "www.example.com.");
    assert_int_equal(op.type, RR_A);
    assert_int_equal(op.base_serial, -1);
    assert_int_equal(op.nrrs, 2);
    assert_string_equal(op.rrs[0].qname, "www.example.com.");
    assert_int_equal(op.rrs[0].type, RR_A);
    assert_string_equal(op.rrs[0].content, "192.0.2.1");
    assert_int_equal(op.rrs[0].ttl, 300);
    assert_string_equal(op.rrs[1].content, "192.0.2.2");
    assert_int_equal(op.rrs[1].ttl, 300); /* numeric strings are tolerated */
    edit_op_clear(&op);
    assert_null(op.rrs);
    assert_int_equal(op.nrrs, 0);
    edit_op_clear(&op); /* twice is fine */
    edit_op_clear(NULL);
    json_object_put(p);
}

static void test_edit_op_replace_with_an_empty_rrset_is_a_deletion(void **state)
{
    (void)state;
    json_object *p = parse("{\"domain_id\": 1, \"qname\": \"www.example.com.\", \"qtype\": "
                           "\"aaaa\", \"trxid\": 1, \"rrset\": []}");
    struct edit_op op;
    struct errbuf err = {{0}};
    assert_int_equal(edit_op_replace(p, "example.com.", &op, &err), 0);
    assert_int_equal(op.type, RR_AAAA);
    assert_int_equal(op.nrrs, 0);
    edit_op_clear(&op);
    json_object_put(p);
}

static void test_edit_op_feed_reads_the_record(void **state)
{
    (void)state;
    json_object *p = parse("{\"rr\": {\"auth\": true, \"content\": \"ns1.example.org\", "
                           "\"ordername\": null, \"qclass\": 1, \"qname\": \"example.com.\", "
                           "\"qtype\": \"NS\", \"ttl\": 3600}, \"trxid\": 1796019626}");
    struct edit_op op;
    struct errbuf err = {{0}};
    assert_int_equal(edit_op_feed(p, "example.com.", true, &op, &err), 0);
    assert_int_equal(op.kind, EDIT_FEED);
    assert_true(op.whole);
    assert_string_equal(op.zone, "example.com.");
    assert_string_equal(op.qname, "example.com.");
    assert_int_equal(op.type, RR_NS);
    assert_int_equal(op.nrrs, 1);
    assert_string_equal(op.rrs[0].content, "ns1.example.org");
    assert_int_equal(op.rrs[0].ttl, 3600);
    edit_op_clear(&op);
    assert_int_equal(edit_op_feed(p, "example.com.", false, &op, &err), 0);
    assert_false(op.whole);
    edit_op_clear(&op);
    json_object_put(p);
}

static void test_edit_op_meta_reads_the_parameters_pdns_sends(void **state)
{
    (void)state;
    struct edit_op op;
    meta_op(&op, "{\"kind\": \"ALLOW-DNSUPDATE-FROM\", \"name\": \"Example.COM\", \"value\": "
                 "[\"127.0.0.0/8\", \"::1\"]}");
    assert_int_equal(op.kind, EDIT_SET_META);
    assert_string_equal(op.zone, "example.com.");
    assert_string_equal(op.meta_kind, "ALLOW-DNSUPDATE-FROM");
    assert_int_equal(op.nvalues, 2);
    assert_string_equal(op.values[0], "127.0.0.0/8");
    assert_string_equal(op.values[1], "::1");
    edit_op_clear(&op);
    meta_op(&op, "{\"kind\": \"X-my_kind-2\", \"name\": \"example.com.\", \"value\": []}");
    assert_int_equal(op.nvalues, 0);
    edit_op_clear(&op);
}

/* edit_op_replace on params (JSON) must fail with exactly msg. */
static void expect_replace_error(const char *params, const char *msg)
{
    json_object *p = parse(params);
    struct edit_op op;
    struct errbuf err = {{0}};
    int r = edit_op_replace(p, "example.com.", &op, &err);
    if (r != -EINVAL)
        print_error("edit_op_replace(%s) returned %d\n", params, r);
    assert_int_equal(r, -EINVAL);
    assert_string_equal(err.msg, msg);
    edit_op_clear(&op);
    json_object_put(p);
}

static void expect_feed_error(const char *params, const char *msg)
{
    json_object *p = parse(params);
    struct edit_op op;
    struct errbuf err = {{0}};
    int r = edit_op_feed(p, "example.com.", false, &op, &err);
    if (r != -EINVAL)
        print_error("edit_op_feed(%s) returned %d\n", params, r);
    assert_int_equal(r, -EINVAL);
    assert_string_equal(err.msg, msg);
    edit_op_clear(&op);
    json_object_put(p);
}

static void expect_meta_error(const char *params, const char *msg)
{
    json_object *p = parse(params);
    struct edit_op op;
    struct errbuf err = {{0}};
    int r = edit_op_meta(p, &op, &err);
    if (r != -EINVAL)
        print_error("edit_op_meta(%s) returned %d\n", params, r);
    assert_int_equal(r, -EINVAL);
    assert_string_equal(err.msg, msg);
    edit_op_clear(&op);
    json_object_put(p);
}

#define RRSET_P(qname, qtype, rrset) \
    "{\"domain_id\": 1, \"qname\": \"" qname "\", \"qtype\": \"" qtype "\", \"rrset\": " rrset "}"
#define RR_P(qname, qtype, content, ttl)                                                          \
    "{\"qtype\": \"" qtype "\", \"qname\": \"" qname "\", \"qclass\": 1, \"content\": \"" content \
    "\", \"ttl\": " ttl ", \"auth\": true}"

static void test_edit_op_replace_refuses_a_name_outside_the_zone(void **state)
{
    (void)state;
    expect_replace_error(RRSET_P("www.example.org.", "A", "[]"),
                         "replaceRRSet: 'www.example.org.' is not inside zone 'example.com.'");
    /* A name that merely ends in the zone's text is not inside it. */
    expect_replace_error(RRSET_P("wwwexample.com.", "A", "[]"),
                         "replaceRRSet: 'wwwexample.com.' is not inside zone 'example.com.'");
    expect_replace_error(RRSET_P("com.", "NS", "[]"),
                         "replaceRRSet: 'com.' is not inside zone 'example.com.'");
    expect_replace_error(RRSET_P("a..example.com.", "A", "[]"),
                         "replaceRRSet: 'a..example.com.': 'a..example.com.' has an empty label");
}

static void test_edit_op_replace_refuses_an_unknown_type(void **state)
{
    (void)state;
    char msg[512];
    snprintf(msg, sizeof(msg),
             "replaceRRSet: record type 'SPF' is not supported by the store (supported: %s)",
             rrtype_list());
    expect_replace_error(RRSET_P("www.example.com.", "SPF", "[]"), msg);
    snprintf(msg, sizeof(msg),
             "replaceRRSet: record type 'ANY' is not supported by the store (supported: %s)",
             rrtype_list());
    expect_replace_error(RRSET_P("www.example.com.", "ANY", "[]"), msg);
    /* The type of a record in the set is checked too. */
    snprintf(msg, sizeof(msg),
             "replaceRRSet: rrset[0]: record type 'DNSKEY' is not supported by the store "
             "(supported: %s)",
             rrtype_list());
    expect_replace_error(
        RRSET_P("www.example.com.", "A", "[" RR_P("www.example.com.", "DNSKEY", "x", "60") "]"),
        msg);
}

static void test_edit_op_replace_refuses_bad_content(void **state)
{
    (void)state;
    expect_replace_error(
        RRSET_P("www.example.com.", "A",
                "[" RR_P("www.example.com.", "A", "192.0.2.300", "60") "]"),
        "replaceRRSet: rrset[0]: www.example.com. A: '192.0.2.300' is not an IPv4 address");
    expect_replace_error(
        RRSET_P("example.com.", "MX", "[" RR_P("example.com.", "MX", "mail.example.com", "60") "]"),
        "replaceRRSet: rrset[0]: example.com. MX: MX needs 2 fields (preference exchange), got 1");
    /* The first bad record is the one named, whatever comes after it. */
    expect_replace_error(
        RRSET_P("www.example.com.", "AAAA",
                "[" RR_P("www.example.com.", "AAAA", "2001:db8::1",
                         "60") ", " RR_P("www.example.com.", "AAAA", "192.0.2.1", "60") "]"),
        "replaceRRSet: rrset[1]: www.example.com. AAAA: '192.0.2.1' is not an IPv6 address");
}

static void test_edit_op_replace_refuses_a_record_of_another_rrset(void **state)
{
    (void)state;
    expect_replace_error(
        RRSET_P("www.example.com.", "A", "[" RR_P("mail.example.com.", "A", "192.0.2.1", "60") "]"),
        "replaceRRSet: record mail.example.com. A does not belong to the RRset www.example.com. A");
    expect_replace_error(RRSET_P("www.example.com.", "A",
                                 "[" RR_P("www.example.com.", "A", "192.0.2.1", "60") ", " RR_P(
                                     "www.example.com.", "AAAA", "2001:db8::1", "60") "]"),
                         "replaceRRSet: record www.example.com. AAAA does not belong to the RRset "
                         "www.example.com. A");
    /* A record outside the zone is refused for that. */
    expect_replace_error(
        RRSET_P("www.example.com.", "A", "[" RR_P("www.example.org.", "A", "192.0.2.1", "60") "]"),
        "replaceRRSet: rrset[0]: 'www.example.org.' is not inside zone 'example.com.'");
}

static void test_edit_op_replace_refuses_missing_or_ill_typed_parameters(void **state)
{
    (void)state;
    expect_replace_error("{\"qtype\": \"A\", \"rrset\": []}", "replaceRRSet: missing 'qname'");
    expect_replace_error("{\"qname\": null, \"qtype\": \"A\", \"rrset\": []}",
                         "replaceRRSet: missing 'qname'");
    expect_replace_error("{\"qname\": 5, \"qtype\": \"A\", \"rrset\": []}",
                         "replaceRRSet: 'qname' must be a string, got 5");
    expect_replace_error("{\"qname\": \"www.example.com.\", \"rrset\": []}",
                         "replaceRRSet: missing 'qtype'");
    expect_replace_error("{\"qname\": \"www.example.com.\", \"qtype\": [\"A\"], \"rrset\": []}",
                         "replaceRRSet: 'qtype' must be a string, got [\"A\"]");
    expect_replace_error("{\"qname\": \"www.example.com.\", \"qtype\": \"A\"}",
                         "replaceRRSet: 'rrset' must be an array of records");
    expect_replace_error("{\"qname\": \"www.example.com.\", \"qtype\": \"A\", \"rrset\": {}}",
                         "replaceRRSet: 'rrset' must be an array of records");
    expect_replace_error(RRSET_P("www.example.com.", "A", "[\"192.0.2.1\"]"),
                         "replaceRRSet: rrset[0]: a record must be an object");
    expect_replace_error(RRSET_P("www.example.com.", "A",
                                 "[{\"qtype\": \"A\", \"qname\": \"www.example.com.\", \"ttl\": "
                                 "60}]"),
                         "replaceRRSet: rrset[0]: missing 'content'");
    expect_replace_error(RRSET_P("www.example.com.", "A",
                                 "[{\"qtype\": \"A\", \"content\": \"192.0.2.1\", \"ttl\": 60}]"),
                         "replaceRRSet: rrset[0]: missing 'qname'");
    /* A record's missing qname is told apart from the RRset's own, and the record is named. */
    expect_replace_error(RRSET_P("www.example.com.", "A",
                                 "[" RR_P("www.example.com.", "A", "192.0.2.1", "60") ", " RR_P(
                                     "www.example.com.", "A", "192.0.2.2",
                                     "60") ", {\"qtype\": \"A\", \"content\": \"192.0.2.3\", "
                                           "\"ttl\": 60}]"),
                         "replaceRRSet: rrset[2]: missing 'qname'");
    expect_replace_error(
        RRSET_P("www.example.com.", "A",
                "[{\"qname\": \"www.example.com.\", \"content\": \"192.0.2.1\", \"ttl\": 60}]"),
        "replaceRRSet: rrset[0]: missing 'qtype'");
    expect_replace_error(
        RRSET_P(
            "www.example.com.", "A",
            "[{\"qtype\": \"A\", \"qname\": \"www.example.com.\", \"content\": \"192.0.2.1\"}]"),
        "replaceRRSet: rrset[0]: missing 'ttl'");
    expect_replace_error(
        RRSET_P("www.example.com.", "A", "[" RR_P("www.example.com.", "A", "192.0.2.1", "-1") "]"),
        "replaceRRSet: rrset[0]: 'ttl' must be a number from 0 to 2147483647, got -1");
    expect_replace_error(RRSET_P("www.example.com.", "A",
                                 "[" RR_P("www.example.com.", "A", "192.0.2.1", "2147483648") "]"),
                         "replaceRRSet: rrset[0]: 'ttl' must be a number from 0 to 2147483647, got "
                         "2147483648");
    expect_replace_error(
        RRSET_P("www.example.com.", "A", "[" RR_P("www.example.com.", "A", "192.0.2.1", "1.5") "]"),
        "replaceRRSet: rrset[0]: 'ttl' must be a number from 0 to 2147483647, got 1.5");
    expect_replace_error(
        RRSET_P("www.example.com.", "A",
                "[" RR_P("www.example.com.", "A", "192.0.2.1", "\"60s\"") "]"),
        "replaceRRSet: rrset[0]: 'ttl' must be a number from 0 to 2147483647, got \"60s\"");
    expect_replace_error(
        RRSET_P("www.example.com.", "A",
                "[" RR_P("www.example.com.", "A", "192.0.2.1", "true") "]"),
        "replaceRRSet: rrset[0]: 'ttl' must be a number from 0 to 2147483647, got true");
}

static void test_edit_op_replace_accepts_ttl_bounds(void **state)
{
    (void)state;
    static const char *const ttls[] = {"0", "2147483647"};
    for (size_t i = 0; i < 2; i++) {
        char buf[512];
        snprintf(buf, sizeof(buf),
                 RRSET_P("www.example.com.", "A",
                         "[" RR_P("www.example.com.", "A", "192.0.2.1", "%s") "]"),
                 ttls[i]);
        json_object *p = parse(buf);
        struct edit_op op;
        struct errbuf err = {{0}};
        assert_int_equal(edit_op_replace(p, "example.com.", &op, &err), 0);
        assert_int_equal(op.rrs[0].ttl, i == 0 ? 0u : 2147483647u);
        edit_op_clear(&op);
        json_object_put(p);
    }
}

/* The rules one RRset breaks on its own are refused when it arrives: pdnsutil and the API look
 * only at replaceRRSet's answer. */
static void test_edit_op_replace_refuses_an_rrset_the_store_cannot_hold(void **state)
{
    (void)state;
    expect_replace_error(
        RRSET_P("www.example.com.", "A",
                "[" RR_P("www.example.com.", "A", "192.0.2.10",
                         "60") ", " RR_P("www.example.com.", "A", "192.0.2.12", "300") "]"),
        "replaceRRSet: www.example.com. A: the records have different TTLs (60 and 300); an "
        "RRset has one TTL (RFC 2181)");
    expect_replace_error(
        RRSET_P("www.example.com.", "MX",
                "[" RR_P("www.example.com.", "MX", "10 mail.example.com", "60") ", " RR_P(
                    "www.example.com.", "MX", "10 MAIL.example.com.", "60") "]"),
        "replaceRRSet: www.example.com. MX: '10 MAIL.example.com.' is there twice");
    expect_replace_error(
        RRSET_P("example.com.", "SOA",
                "[" RR_P("example.com.", "SOA", "a.example.com b.example.com 1 2 3 4 5",
                         "60") ", " RR_P("example.com.", "SOA",
                                         "a.example.com b.example.com 2 2 3 4 5", "60") "]"),
        "replaceRRSet: example.com. SOA: 2 records, but there can be only one");
    expect_replace_error(
        RRSET_P(
            "www.example.com.", "SOA",
            "[" RR_P("www.example.com.", "SOA", "a.example.com b.example.com 1 2 3 4 5", "60") "]"),
        "replaceRRSet: an SOA record belongs at the zone apex (example.com.), not at "
        "www.example.com.");
    expect_replace_error(
        RRSET_P("x.example.com.", "CNAME",
                "[" RR_P("x.example.com.", "CNAME", "a.example.com",
                         "60") ", " RR_P("x.example.com.", "CNAME", "b.example.com", "60") "]"),
        "replaceRRSet: x.example.com. CNAME: 2 records, but there can be only one");
}

static void test_edit_op_feed_refuses_bad_records(void **state)
{
    (void)state;
    expect_feed_error("{\"trxid\": 1}", "feedRecord: missing 'rr'");
    expect_feed_error("{\"rr\": [1], \"trxid\": 1}", "feedRecord: a record must be an object");
    expect_feed_error("{\"rr\": " RR_P("www.example.org.", "A", "192.0.2.1", "60") "}",
                      "feedRecord: 'www.example.org.' is not inside zone 'example.com.'");
    expect_feed_error("{\"rr\": " RR_P("www.example.com.", "A", "192.0.2.1.5", "60") "}",
                      "feedRecord: www.example.com. A: '192.0.2.1.5' is not an IPv4 address");
    expect_feed_error("{\"rr\": " RR_P("www.example.com.", "A", "192.0.2.1", "\"\"") "}",
                      "feedRecord: 'ttl' must be a number from 0 to 2147483647, got \"\"");
    char msg[512];
    snprintf(msg, sizeof(msg),
             "feedRecord: record type 'TYPE99' is not supported by the store (supported: %s)",
             rrtype_list());
    expect_feed_error("{\"rr\": " RR_P("www.example.com.", "TYPE99", "x", "60") "}", msg);
}

static void test_edit_op_meta_refuses_bad_parameters(void **state)
{
    (void)state;
    expect_meta_error("{\"kind\": \"X\", \"value\": []}", "setDomainMetadata: missing 'name'");
    expect_meta_error("{\"name\": \"example.com.\", \"value\": []}",
                      "setDomainMetadata: missing 'kind'");
    expect_meta_error("{\"name\": \"example.com.\", \"kind\": 1, \"value\": []}",
                      "setDomainMetadata: 'kind' must be a string, got 1");
    expect_meta_error("{\"name\": \"example.com.\", \"kind\": \"A B\", \"value\": []}",
                      "setDomainMetadata: kind 'A B' is not a metadata kind (letters, digits, "
                      "'-', '_')");
    expect_meta_error("{\"name\": \"example.com.\", \"kind\": \"\", \"value\": []}",
                      "setDomainMetadata: kind '' is not a metadata kind (letters, digits, '-', "
                      "'_')");
    expect_meta_error("{\"name\": \"example.com.\", \"kind\": \"X\"}",
                      "setDomainMetadata: 'value' must be an array of strings");
    expect_meta_error("{\"name\": \"example.com.\", \"kind\": \"X\", \"value\": \"v\"}",
                      "setDomainMetadata: 'value' must be an array of strings");
    expect_meta_error("{\"name\": \"example.com.\", \"kind\": \"X\", \"value\": [\"a\", 1]}",
                      "setDomainMetadata: value[1] must be a string");
    expect_meta_error("{\"name\": \"a..b\", \"kind\": \"X\", \"value\": []}",
                      "zone name 'a..b': 'a..b' has an empty label");
}

/* ---- replacing an RRset ------------------------------------------------------------------- */

static void test_edit_starts_from_a_canonical_fixture(void **state)
{
    (void)state;
    /* The fixture is already in the canonical layout, so a change shows as a change. */
    json_object *doc = parse(SMALL);
    expect_doc(doc, SMALL);
    store_free(build(doc));
    json_object_put(doc);
}

static void test_edit_replace_keeps_the_rrset_where_it_was(void **state)
{
    (void)state;
    /* The new A RRset takes the place of the first A record; AAAA stays where it was. Records
     * that stay keep their text; new ones get the zone's form. */
    expect_replace(HEAD APEX NS1 WWW_OPEN WWW_A10
                   "          {\"type\": \"A\", \"content\": \"192.0.2.12\", \"ttl\": 60},\n"
                   "          {\"type\": \"AAAA\", \"content\": \"2001:DB8::10\", \"ttl\": 60}\n"
                   "        ],\n" MAIL TAIL,
                   "www.example.com.", "A", 60, "192.0.2.10", "192.0.2.12");
}

static void test_edit_replace_keeps_unchanged_records_as_written(void **state)
{
    (void)state;
    /* pdns sends names absolute without the dot; "ns1" (relative) is the same name and stays
     * as written; ns2 goes; ns3 is new and written absolute with its dot. */
    expect_replace(HEAD "        \"@\": [\n" APEX_SOA APEX_NS1
                        "          {\"type\": \"NS\", \"content\": \"ns3.example.com.\"},\n" APEX_MX
                        "        ],\n" NS1 WWW MAIL TAIL,
                   "example.com.", "NS", 3600, "ns1.example.com", "ns3.example.com");
    /* The same with the order reversed in the RRset: pdns's order is kept. */
    expect_replace(
        HEAD "        \"@\": [\n" APEX_SOA
             "          {\"type\": \"NS\", \"content\": \"ns3.example.com.\"},\n" APEX_NS1 APEX_MX
             "        ],\n" NS1 WWW MAIL TAIL,
        "example.com.", "NS", 3600, "ns3.example.com.", "ns1.example.com.");
}

static void test_edit_replace_with_the_same_records_changes_nothing(void **state)
{
    (void)state;
    expect_replace(SMALL, "example.com.", "MX", 3600, "10 mail.example.com", NULL);
    expect_replace(SMALL, "www.example.com.", "AAAA", 60, "2001:db8:0::10", NULL);
}

static void test_edit_replace_changes_the_ttl_of_kept_records(void **state)
{
    (void)state;
    /* A TTL that differs from the zone's is written; the content keeps its text. */
    expect_replace(HEAD APEX NS1 WWW
                   "        \"mail\": [{\"type\": \"A\", \"content\": \"192.0.2.25\", \"ttl\": "
                   "300}]\n" TAIL,
                   "mail.example.com.", "A", 300, "192.0.2.25", NULL);
    /* Back to the zone's TTL: the key goes. */
    expect_replace(HEAD APEX NS1 WWW_OPEN
                   "          {\"type\": \"A\", \"content\": \"192.0.2.10\"},\n"
                   "          {\"type\": \"A\", \"content\": \"192.0.2.11\"},\n"
                   "          {\"type\": \"AAAA\", \"content\": \"2001:DB8::10\", "
                   "\"ttl\": 60}\n"
                   "        ],\n" MAIL TAIL,
                   "www.example.com.", "A", 3600, "192.0.2.10", "192.0.2.11");
}

static void test_edit_new_records_get_a_ttl_only_when_it_is_not_the_zones(void **state)
{
    (void)state;
    expect_replace(HEAD APEX NS1 WWW MAIL_C
                   "        \"ftp\": [{\"type\": \"A\", \"content\": \"192.0.2.21\"}]\n" TAIL,
                   "ftp.example.com.", "A", 3600, "192.0.2.21", NULL);
    expect_replace(
        HEAD APEX NS1 WWW MAIL_C
        "        \"ftp\": [{\"type\": \"A\", \"content\": \"192.0.2.21\", \"ttl\": 0}]\n" TAIL,
        "ftp.example.com.", "A", 0, "192.0.2.21", NULL);

    /* Without "ttl" in the zone, the default is 3600. */
    json_object *doc = parse(no_ttl_json);
    struct edit_op ops[2];
    replace_op(&ops[0], "a.example.com.", "A", 3600, "192.0.2.1", (const char *)NULL);
    replace_op(&ops[1], "b.example.com.", "A", 60, "192.0.2.2", (const char *)NULL);
    apply_ok(doc, ops, 2);
    expect_doc_contains(doc,
                        "    \"a\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}],\n"
                        "        \"b\": [{\"type\": \"A\", \"content\": \"192.0.2.2\", \"ttl\": "
                        "60}]\n");
    store_t *s = build(doc);
    assert_int_equal(find_rr(s, "a.example.com.", RR_A, 0)->ttl, 3600);
    assert_int_equal(find_rr(s, "b.example.com.", RR_A, 0)->ttl, 60);
    store_free(s);
    clear_ops(ops, 2);
    json_object_put(doc);
}

static void test_edit_replace_finds_owner_keys_in_any_form(void **state)
{
    (void)state;
    /* "WWW" and the absolute apex key are the names www and @: edits go into those keys. */
    json_object *doc = parse(no_ttl_json);
    struct edit_op ops[2];
    replace_op(&ops[0], "www.Example.com.", "A", 3600, "192.0.2.99", (const char *)NULL);
    replace_op(&ops[1], "EXAMPLE.COM.", "TXT", 3600, "\"apex\"", (const char *)NULL);
    apply_ok(doc, ops, 2);
    char *got = render(doc);
    assert_contains(got, "\"WWW\": [{\"type\": \"A\", \"content\": \"192.0.2.99\"}]");
    assert_contains(got, "{\"type\": \"NS\", \"content\": \"ns1\"},\n"
                         "          {\"type\": \"TXT\", \"content\": \"\\\"apex\\\"\"}\n");
    assert_null(strstr(got, "\"www\""));
    assert_null(strstr(got, "\"@\""));
    free(got);
    store_t *s = build(doc);
    assert_string_equal(find_rr(s, "www.example.com.", RR_A, 0)->content, "192.0.2.99");
    assert_int_equal(count_rr(s, "www.example.com.", RR_A), 1);
    assert_string_equal(find_rr(s, "example.com.", RR_TXT, 0)->content, "\"apex\"");
    store_free(s);
    clear_ops(ops, 2);
    json_object_put(doc);
}

/* ---- deleting ----------------------------------------------------------------------------- */

static void test_edit_delete_removes_only_that_rrset(void **state)
{
    (void)state;
    expect_replace(HEAD APEX NS1 WWW_OPEN WWW_A10
                   "          {\"type\": \"A\", \"content\": \"192.0.2.11\", \"ttl\": 60}\n"
                   "        ],\n" MAIL TAIL,
                   "www.example.com.", "AAAA", 60, NULL, NULL);
    expect_replace(HEAD "        \"@\": [\n" APEX_SOA APEX_NS1
                        "          {\"type\": \"NS\", \"content\": \"ns2.example.net.\"}\n"
                        "        ],\n" NS1 WWW MAIL TAIL,
                   "example.com.", "MX", 3600, NULL, NULL);
}

static void test_edit_delete_removes_the_owner_when_it_becomes_empty(void **state)
{
    (void)state;
    expect_replace(HEAD APEX NS1 WWW_OPEN WWW_A10 WWW_AAAA WWW_A11 "        ]\n" TAIL,
                   "mail.example.com.", "A", 3600, NULL, NULL);
}

static void test_edit_delete_of_a_missing_rrset_changes_nothing(void **state)
{
    (void)state;
    expect_replace(SMALL, "www.example.com.", "TXT", 3600, NULL, NULL);
    expect_replace(SMALL, "nothere.example.com.", "A", 3600, NULL, NULL);
}

static void test_edit_an_owner_deleted_and_added_again_goes_to_the_end(void **state)
{
    (void)state;
    json_object *doc = parse(SMALL);
    struct edit_op ops[3];
    replace_op(&ops[0], "www.example.com.", "A", 60, (const char *)NULL);
    replace_op(&ops[1], "www.example.com.", "AAAA", 60, (const char *)NULL);
    feed_op(&ops[2], false, "www.example.com.", "A", "192.0.2.7", 3600);
    apply_ok(doc, ops, 3);
    expect_doc(doc, HEAD APEX NS1 MAIL_C
               "        \"www\": [{\"type\": \"A\", \"content\": \"192.0.2.7\"}]\n" TAIL);
    clear_ops(ops, 3);
    json_object_put(doc);
}

/* ---- adding ------------------------------------------------------------------------------- */

static void test_edit_a_new_owner_gets_a_lowercase_relative_key_at_the_end(void **state)
{
    (void)state;
    expect_replace(
        HEAD APEX NS1 WWW MAIL_C
        "        \"newhost.lab\": [{\"type\": \"A\", \"content\": \"192.0.2.77\", \"ttl\": "
        "300}]\n" TAIL,
        "NewHost.LAB.Example.COM.", "A", 300, "192.0.2.77", NULL);
    /* A wildcard and an escaped label keep their form. */
    expect_replace(HEAD APEX NS1 WWW MAIL_C
                   "        \"*.dyn\": [{\"type\": \"TXT\", \"content\": \"\\\"w\\\"\"}]\n" TAIL,
                   "*.dyn.example.com.", "TXT", 3600, "\"w\"", NULL);
    expect_replace(HEAD APEX NS1 WWW MAIL_C
                   "        \"a\\\\.b\": [{\"type\": \"A\", \"content\": \"192.0.2.5\"}]\n" TAIL,
                   "a\\\\.b.example.com.", "A", 3600, "192.0.2.5", NULL);
}

static void test_edit_the_apex_is_written_as_at(void **state)
{
    (void)state;
    /* A zone without records at the apex key (here: none at all after a clear). */
    json_object *doc = parse(SMALL);
    struct edit_op ops[3];
    struct errbuf err;
    assert_int_equal(edit_op_clear_zone("example.com.", &ops[0], &err), 0);
    feed_op(&ops[1], true, "Example.Com.", "SOA",
            "ns1.example.com hostmaster.example.com 7 3600 600 86400 60", 3600);
    feed_op(&ops[2], true, "example.com.", "NS", "ns1.example.net", 3600);
    apply_ok(doc, ops, 3);
    expect_doc(doc, HEAD "        \"@\": [\n"
                         "          {\"type\": \"SOA\", \"content\": \"ns1.example.com. "
                         "hostmaster.example.com. 7 3600 600 86400 60\"},\n"
                         "          {\"type\": \"NS\", \"content\": \"ns1.example.net.\"}\n"
                         "        ]\n" TAIL);
    store_free(build(doc));
    clear_ops(ops, 3);
    json_object_put(doc);
}

static void test_edit_feed_inserts_one_record_after_the_others(void **state)
{
    (void)state;
    json_object *doc = parse(SMALL);
    struct edit_op op;
    feed_op(&op, false, "www.example.com.", "A", "192.0.2.12", 60);
    apply_ok(doc, &op, 1);
    expect_doc(doc, HEAD APEX NS1 WWW_OPEN WWW_A10 WWW_AAAA
               "          {\"type\": \"A\", \"content\": \"192.0.2.11\", \"ttl\": 60},\n"
               "          {\"type\": \"A\", \"content\": \"192.0.2.12\", \"ttl\": 60}\n"
               "        ],\n" MAIL TAIL);
    store_t *s = build(doc);
    assert_int_equal(count_rr(s, "www.example.com.", RR_A), 3);
    store_free(s);
    edit_op_clear(&op);
    json_object_put(doc);
}

static void test_edit_feed_of_a_record_already_there_is_a_no_op(void **state)
{
    (void)state;
    json_object *doc = parse(SMALL);
    struct edit_op ops[4];
    /* The same data written as pdns writes it, with another TTL even: nothing changes. */
    feed_op(&ops[0], false, "example.com.", "NS", "ns1.example.com", 3600);
    feed_op(&ops[1], false, "example.com.", "MX", "10 mail.example.com.", 60);
    feed_op(&ops[2], false, "www.example.com.", "AAAA", "2001:db8::10", 60);
    feed_op(&ops[3], false, "www.example.com.", "A", "192.0.2.10", 3600);
    apply_ok(doc, ops, 4);
    expect_doc(doc, SMALL);
    clear_ops(ops, 4);
    /* Fed twice in one go: one record. */
    feed_op(&ops[0], false, "new.example.com.", "A", "192.0.2.1", 3600);
    feed_op(&ops[1], false, "new.example.com.", "A", "192.0.2.1", 3600);
    apply_ok(doc, ops, 2);
    expect_doc(doc, HEAD APEX NS1 WWW MAIL_C
               "        \"new\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}]\n" TAIL);
    clear_ops(ops, 2);
    json_object_put(doc);
}

static void test_edit_feed_of_a_record_differing_only_in_name_case_is_a_no_op(void **state)
{
    (void)state;
    /* The store counts "10 MAIL.example.com." as a duplicate of "10 mail" (names compare without
     * case), so inserting it must change nothing, not make a store that no longer loads. */
    json_object *doc = parse(SMALL);
    struct edit_op ops[2];
    feed_op(&ops[0], false, "example.com.", "MX", "10 MAIL.Example.COM", 3600);
    feed_op(&ops[1], false, "example.com.", "NS", "NS1.EXAMPLE.COM.", 3600);
    struct errbuf err = {{0}};
    int r = edit_apply(doc, ops, 2, &err);
    char *got = render(doc);
    struct errlist errs = ERRLIST_INIT;
    store_t *s = NULL;
    int built = store_build(got, strlen(got), &s, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_error("store error: %s\n", errs.msgs[i]);
    /* Everything is freed before the checks, so a failure leaks nothing. */
    bool same = strcmp(got, SMALL) == 0;
    if (!same)
        print_error("document is:\n%s\n", got);
    store_free(s);
    errlist_free(&errs);
    free(got);
    clear_ops(ops, 2);
    json_object_put(doc);
    assert_int_equal(r, 0);
    assert_true(same);
    assert_int_equal(built, 0);
}

/* ---- content into the store's form -------------------------------------------------------- */

static void test_edit_writes_content_in_the_store_form(void **state)
{
    (void)state;
    static const struct {
        const char *qname, *qtype, *content, *stored, *served;
    } cases[] = {
        {"example.com.", "MX", "20 mail2.example.com", "20 mail2.example.com.",
         "20 mail2.example.com"},
        {"_sip._tcp.example.com.", "SRV", "0 5 5060 sip.example.com", "0 5 5060 sip.example.com.",
         "0 5 5060 sip.example.com"},
        {"alias.example.com.", "CNAME", "www.example.com", "www.example.com.", "www.example.com"},
        {"4.2.0.192.in-addr.example.com.", "PTR", "www.example.com", "www.example.com.",
         "www.example.com"},
        {"txt.example.com.", "TXT", "\"hello world\" \"two\"", "\"hello world\" \"two\"",
         "\"hello world\" \"two\""},
        {"v6.example.com.", "AAAA", "2001:DB8:0:0::1", "2001:db8::1", "2001:db8::1"},
        {"caa.example.com.", "CAA", "0 issue \"letsencrypt.org\"", "0 issue \"letsencrypt.org\"",
         "0 issue \"letsencrypt.org\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *doc = parse(SMALL);
        struct edit_op op;
        feed_op(&op, false, cases[i].qname, cases[i].qtype, cases[i].content, 3600);
        apply_ok(doc, &op, 1);
        char line[512];
        struct sbuf q = SBUF_INIT;
        sbuf_json_str(&q, cases[i].stored, strlen(cases[i].stored));
        snprintf(line, sizeof(line), "{\"type\": \"%s\", \"content\": %s}", cases[i].qtype,
                 sbuf_str(&q));
        sbuf_free(&q);
        expect_doc_contains(doc, line);
        store_t *s = build(doc);
        assert_string_equal(find_rr(s, cases[i].qname,
                                    rrtype_from_name(cases[i].qtype, strlen(cases[i].qtype)),
                                    cases[i].qname[0] == 'e' ? 1 : 0)
                                ->content,
                            cases[i].served);
        store_free(s);
        edit_op_clear(&op);
        json_object_put(doc);
    }
}

static void test_edit_writes_the_soa_with_absolute_names(void **state)
{
    (void)state;
    /* pdnsutil increase-serial: the content without trailing dots. */
    expect_replace(
        HEAD
        "        \"@\": [\n"
        "          {\"type\": \"SOA\", \"content\": \"ns1.example.com. "
        "hostmaster.example.com. 2024010102 7200 3600 1209600 300\"},\n" APEX_NS1 APEX_NS2 APEX_MX
        "        ],\n" NS1 WWW MAIL TAIL,
        "example.com.", "SOA", 3600,
        "ns1.example.com hostmaster.example.com 2024010102 7200 3600 1209600 300", NULL);
}

/* ---- errors when applying ----------------------------------------------------------------- */

static void test_edit_apply_to_a_zone_not_in_the_store_is_enoent(void **state)
{
    (void)state;
    json_object *doc = parse(SMALL);
    json_object *p = parse(RRSET_P("www.example.org.", "A", "[]"));
    struct edit_op op;
    struct errbuf err;
    assert_int_equal(edit_op_replace(p, "example.org.", &op, &err), 0);
    apply_fails(doc, &op, 1, -ENOENT, "zone 'example.org.' is not in the store");
    expect_doc(doc, SMALL);
    edit_op_clear(&op);
    /* A parent of a zone is not the zone. */
    assert_int_equal(edit_op_clear_zone("com", &op, &err), 0);
    apply_fails(doc, &op, 1, -ENOENT, "zone 'com.' is not in the store");
    edit_op_clear(&op);
    json_object_put(p);
    json_object_put(doc);
}

static void test_edit_apply_to_a_document_without_zones_fails(void **state)
{
    (void)state;
    json_object *doc = parse("{\"checks\": {}}");
    struct edit_op op;
    replace_op(&op, "www.example.com.", "A", 60, (const char *)NULL);
    apply_fails(doc, &op, 1, -EINVAL, "the store has no \"zones\" object");
    edit_op_clear(&op);
    json_object_put(doc);
}

static void test_edit_apply_stops_at_the_first_failure(void **state)
{
    (void)state;
    json_object *doc = parse(SMALL);
    struct edit_op ops[3];
    struct errbuf err;
    feed_op(&ops[0], false, "a.example.com.", "A", "192.0.2.1", 3600);
    assert_int_equal(edit_op_delete_zone("example.net.", &ops[1], &err), 0);
    feed_op(&ops[2], false, "b.example.com.", "A", "192.0.2.2", 3600);
    apply_fails(doc, ops, 3, -ENOENT, "zone 'example.net.' is not in the store");
    char *got = render(doc);
    assert_contains(got, "\"a\": [");
    assert_null(strstr(got, "\"b\": ["));
    free(got);
    clear_ops(ops, 3);
    json_object_put(doc);
}

static void test_edit_applies_ops_across_zones(void **state)
{
    (void)state;
    json_object *doc = parse(helpers_nested_json);
    struct edit_op ops[4];
    json_object *p =
        parse(RRSET_P("www.sub.example.com.", "A",
                      "[" RR_P("www.sub.example.com.", "A", "198.51.100.81", "3600") "]"));
    struct errbuf err;
    assert_int_equal(edit_op_replace(p, "sub.example.com.", &ops[0], &err), 0);
    feed_op(&ops[1], false, "www.example.com.", "A", "192.0.2.80", 3600);
    json_object *p2 = parse(
        "{\"rr\": " RR_P("ftp.sub.example.com.", "A", "198.51.100.21", "3600") ", \"trxid\": 1}");
    assert_int_equal(edit_op_feed(p2, "sub.example.com.", false, &ops[2], &err), 0);
    feed_op(&ops[3], false, "ftp.example.com.", "A", "192.0.2.21", 3600);
    apply_ok(doc, ops, 4);
    store_t *s = build(doc);
    uint8_t w[DNAME_WIRE_MAX];
    const struct store_zone *sub = helpers_zone(s, "sub.example.com.");
    const struct store_zone *ex = helpers_zone(s, "example.com.");
    const struct store_node *n = store_find(s, helpers_wire("www.sub.example.com.", w), sub->id);
    assert_non_null(n);
    assert_int_equal(n->nrr, 1);
    assert_string_equal(n->rrs[0].content, "198.51.100.81");
    assert_non_null(store_find(s, helpers_wire("ftp.sub.example.com.", w), sub->id));
    assert_null(store_find(s, helpers_wire("ftp.sub.example.com.", w), ex->id));
    assert_non_null(store_find(s, helpers_wire("www.example.com.", w), ex->id));
    assert_non_null(store_find(s, helpers_wire("ftp.example.com.", w), ex->id));
    store_free(s);
    clear_ops(ops, 4);
    json_object_put(p);
    json_object_put(p2);
    json_object_put(doc);
}

/* ---- pools -------------------------------------------------------------------------------- */

static void test_edit_pool_fixture_loads(void **state)
{
    (void)state;
    store_free(helpers_build(POOL_ZONE("")));
}

static void test_edit_refuses_to_replace_a_pool_rrset(void **state)
{
    (void)state;
    json_object *doc = parse(POOL_ZONE(""));
    char *before = render(doc);
    struct edit_op op;
    replace_op(&op, "www.example.com.", "A", 60, "192.0.2.99", (const char *)NULL);
    apply_fails(doc, &op, 1, -EINVAL, pool_msg);
    edit_op_clear(&op);
    /* Deleting it neither. */
    replace_op(&op, "www.example.com.", "A", 60, (const char *)NULL);
    apply_fails(doc, &op, 1, -EINVAL, pool_msg);
    edit_op_clear(&op);
    expect_doc(doc, before);
    free(before);
    json_object_put(doc);
}

static void test_edit_refuses_to_feed_a_pool_rrset_incrementally(void **state)
{
    (void)state;
    json_object *doc = parse(POOL_ZONE(""));
    char *before = render(doc);
    struct edit_op op;
    feed_op(&op, false, "www.example.com.", "A", "192.0.2.11", 5);
    apply_fails(doc, &op, 1, -EINVAL, pool_msg);
    expect_doc(doc, before);
    edit_op_clear(&op);
    free(before);
    json_object_put(doc);
}

static void test_edit_allows_other_types_at_a_pool_name(void **state)
{
    (void)state;
    json_object *doc = parse(POOL_ZONE(""));
    struct edit_op ops[2];
    replace_op(&ops[0], "www.example.com.", "TXT", 3600, "\"web, new\"", (const char *)NULL);
    feed_op(&ops[1], false, "www.example.com.", "AAAA", "2001:db8::80", 3600);
    apply_ok(doc, ops, 2);
    expect_doc_contains(doc, "        \"www\": [\n"
                             "          {\"type\": \"TXT\", \"content\": \"\\\"web, new\\\"\"},\n"
                             "          " POOL_REC ",\n"
                             "          {\"type\": \"AAAA\", \"content\": \"2001:db8::80\"}\n"
                             "        ]\n");
    store_t *s = build(doc);
    const struct store_node *n = helpers_find(s, "www.example.com.", 0);
    assert_non_null(n);
    assert_true(n->dynamic);
    assert_non_null(find_rr(s, "www.example.com.", RR_A, 0)->pool);
    store_free(s);
    clear_ops(ops, 2);
    json_object_put(doc);
}

static void test_edit_clear_zone_keeps_only_pool_records(void **state)
{
    (void)state;
    json_object *doc = parse(POOL_ZONE(", \"static\": [{\"type\": \"A\", \"content\": "
                                       "\"192.0.2.10\"}]"));
    struct edit_op op;
    struct errbuf err;
    assert_int_equal(edit_op_clear_zone("Example.COM", &op, &err), 0);
    assert_int_equal(op.kind, EDIT_CLEAR_ZONE);
    assert_string_equal(op.zone, "example.com.");
    apply_ok(doc, &op, 1);
    expect_doc_contains(doc, "      \"records\": {\n        \"www\": [" POOL_REC "]\n      }\n");
    char *got = render(doc);
    assert_null(strstr(got, "SOA"));
    assert_null(strstr(got, "static"));
    assert_null(strstr(got, "TXT"));
    assert_contains(got, "\"pools\": {"); /* the rest of the store stays */
    free(got);
    /* The store loads: a zone emptied by clear-zone is served (pdns answers SERVFAIL). */
    store_t *s = build(doc);
    assert_non_null(helpers_find(s, "www.example.com.", 0));
    assert_null(helpers_find(s, "static.example.com.", 0));
    store_free(s);
    edit_op_clear(&op);
    json_object_put(doc);
}

static void test_edit_whole_zone_feed_at_a_pool_rrset_is_dropped(void **state)
{
    (void)state;
    json_object *doc = parse(POOL_ZONE(""));
    struct edit_op ops[6];
    struct errbuf err;
    assert_int_equal(edit_op_clear_zone("example.com.", &ops[0], &err), 0);
    feed_op(&ops[1], true, "example.com.", "SOA",
            "ns1.example.com hostmaster.example.com 2 7200 3600 1209600 300", 3600);
    feed_op(&ops[2], true, "example.com.", "NS", "ns1.example.com", 3600);
    /* What pdns exported for the pool: a snapshot of its answer. */
    feed_op(&ops[3], true, "www.example.com.", "A", "192.0.2.11", 5);
    feed_op(&ops[4], true, "www.example.com.", "TXT", "\"web\"", 3600);
    feed_op(&ops[5], true, "ns1.example.com.", "A", "192.0.2.53", 3600);
    apply_ok(doc, ops, 6);
    /* a merge: names keep their place, records that were fed again their text (the NS
     * stays "ns1"), the changed SOA takes the old one's place, the pool record stays */
    expect_doc_contains(
        doc,
        "      \"records\": {\n"
        "        \"@\": [\n"
        "          {\"type\": \"SOA\", \"content\": \"ns1.example.com. "
        "hostmaster.example.com. 2 7200 3600 1209600 300\"},\n"
        "          {\"type\": \"NS\", \"content\": \"ns1\"}\n"
        "        ],\n"
        "        \"ns1\": [{\"type\": \"A\", \"content\": \"192.0.2.53\"}],\n"
        "        \"www\": [{\"type\": \"TXT\", \"content\": \"\\\"web\\\"\"}, " POOL_REC "]\n");
    char *got = render(doc);
    assert_null(strstr(got, "192.0.2.11\"}"));
    free(got);
    store_t *s = build(doc);
    assert_int_equal(count_rr(s, "www.example.com.", RR_A), 1);
    assert_non_null(find_rr(s, "www.example.com.", RR_A, 0)->pool);
    assert_int_equal(count_rr(s, "example.com.", RR_SOA), 1);
    store_free(s);
    clear_ops(ops, 6);
    json_object_put(doc);
}

/* ---- metadata ----------------------------------------------------------------------------- */

static void test_edit_meta_adds_a_kind(void **state)
{
    (void)state;
    json_object *doc = parse(SMALL);
    struct edit_op op;
    meta_op(&op, "{\"kind\": \"ALLOW-DNSUPDATE-FROM\", \"name\": \"example.com.\", \"value\": "
                 "[\"127.0.0.0/8\"]}");
    apply_ok(doc, &op, 1);
    expect_doc(doc, HEAD APEX NS1 WWW MAIL
               "      },\n"
               "      \"metadata\": {\"ALLOW-DNSUPDATE-FROM\": [\"127.0.0.0/8\"]}\n"
               "    }\n  }\n}\n");
    store_t *s = build(doc);
    const struct store_zone *z = helpers_zone(s, "example.com.");
    assert_int_equal(z->nmeta, 1);
    assert_string_equal(z->meta[0].kind, "ALLOW-DNSUPDATE-FROM");
    assert_int_equal(z->meta[0].nvalues, 1);
    assert_string_equal(z->meta[0].values[0], "127.0.0.0/8");
    store_free(s);
    edit_op_clear(&op);
    json_object_put(doc);
}

static void test_edit_meta_replaces_a_kind_matched_without_case(void **state)
{
    (void)state;
    json_object *doc = parse(helpers_nested_json);
    struct edit_op op;
    meta_op(&op, "{\"kind\": \"also-notify\", \"name\": \"SUB.example.com\", \"value\": "
                 "[\"192.0.2.9\"]}");
    apply_ok(doc, &op, 1);
    /* Same key (as written), same place, new values; the other kind stays. */
    expect_doc_contains(doc, "      \"metadata\": {\"ALSO-NOTIFY\": [\"192.0.2.9\"], "
                             "\"SOA-EDIT-API\": [\"DEFAULT\"]}\n");
    char *got = render(doc);
    assert_null(strstr(got, "also-notify"));
    free(got);
    edit_op_clear(&op);
    json_object_put(doc);
}

static void test_edit_meta_deletes_a_kind_and_then_the_metadata_key(void **state)
{
    (void)state;
    json_object *doc = parse(helpers_nested_json);
    struct edit_op ops[2];
    meta_op(&ops[0], "{\"kind\": \"Also-Notify\", \"name\": \"sub.example.com.\", \"value\": []}");
    apply_ok(doc, ops, 1);
    expect_doc_contains(doc, "      \"metadata\": {\"SOA-EDIT-API\": [\"DEFAULT\"]}\n");
    meta_op(&ops[1], "{\"kind\": \"SOA-EDIT-API\", \"name\": \"sub.example.com.\", \"value\": []}");
    apply_ok(doc, ops + 1, 1);
    char *got = render(doc);
    assert_null(strstr(got, "metadata"));
    free(got);
    store_t *s = build(doc);
    assert_int_equal(helpers_zone(s, "sub.example.com.")->nmeta, 0);
    store_free(s);
    clear_ops(ops, 2);
    json_object_put(doc);
}

static void test_edit_meta_delete_of_a_missing_kind_changes_nothing(void **state)
{
    (void)state;
    json_object *doc = parse(SMALL);
    struct edit_op op;
    meta_op(&op, "{\"kind\": \"X\", \"name\": \"example.com.\", \"value\": []}");
    apply_ok(doc, &op, 1);
    expect_doc(doc, SMALL);
    edit_op_clear(&op);
    json_object_put(doc);

    doc = parse(helpers_nested_json);
    char *before = render(doc);
    meta_op(&op, "{\"kind\": \"X\", \"name\": \"sub.example.com.\", \"value\": []}");
    apply_ok(doc, &op, 1);
    expect_doc(doc, before);
    free(before);
    edit_op_clear(&op);
    json_object_put(doc);
}

static void test_edit_meta_of_a_zone_not_in_the_store_is_enoent(void **state)
{
    (void)state;
    json_object *doc = parse(SMALL);
    struct edit_op op;
    meta_op(&op, "{\"kind\": \"X\", \"name\": \"example.org\", \"value\": [\"1\"]}");
    apply_fails(doc, &op, 1, -ENOENT, "zone 'example.org.' is not in the store");
    expect_doc(doc, SMALL);
    edit_op_clear(&op);
    json_object_put(doc);
}

/* ---- zones -------------------------------------------------------------------------------- */

static void test_edit_add_zone_appends_a_zone_with_soa_and_ns(void **state)
{
    (void)state;
    json_object *doc = parse(SMALL);
    struct edit_op op;
    struct errbuf err;
    const char *ns[] = {"ns1.example.org", "ns2.example.net."};
    assert_int_equal(edit_op_add_zone("Example.ORG",
                                      "ns1.example.org hostmaster.example.org 1 3600 600 86400 60",
                                      ns, 2, 300, &op, &err),
                     0);
    assert_int_equal(op.kind, EDIT_ADD_ZONE);
    assert_string_equal(op.zone, "example.org.");
    apply_ok(doc, &op, 1);
    expect_doc(
        doc, HEAD APEX NS1 WWW MAIL
        "      }\n"
        "    },\n"
        "    \"example.org.\": {\n"
        "      \"ttl\": 300,\n"
        "      \"records\": {\n"
        "        \"@\": [\n"
        "          {\"type\": \"SOA\", \"content\": \"ns1.example.org. hostmaster.example.org. "
        "1 3600 600 86400 60\"},\n"
        "          {\"type\": \"NS\", \"content\": \"ns1.example.org.\"},\n"
        "          {\"type\": \"NS\", \"content\": \"ns2.example.net.\"}\n"
        "        ]\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n");
    store_t *s = build(doc);
    const struct store_zone *z = helpers_zone(s, "example.org.");
    assert_int_equal(z->serial, 1);
    assert_int_equal(find_rr(s, "example.org.", RR_SOA, 0)->ttl, 300);
    assert_int_equal(count_rr(s, "example.org.", RR_NS), 2);
    store_free(s);
    edit_op_clear(&op);
    json_object_put(doc);
}

static void test_edit_add_zone_without_a_ttl_writes_none(void **state)
{
    (void)state;
    json_object *doc = parse("{\"zones\": {}}");
    struct edit_op op;
    struct errbuf err;
    const char *ns[] = {"ns1.example.net"};
    assert_int_equal(
        edit_op_add_zone("example.org.",
                         "ns1.example.net. hostmaster.example.org. 9 3600 600 86400 60", ns, 1, 0,
                         &op, &err),
        0);
    apply_ok(doc, &op, 1);
    expect_doc(doc, "{\n"
                    "  \"zones\": {\n"
                    "    \"example.org.\": {\n"
                    "      \"records\": {\n"
                    "        \"@\": [\n"
                    "          {\"type\": \"SOA\", \"content\": \"ns1.example.net. "
                    "hostmaster.example.org. 9 3600 600 86400 60\"},\n"
                    "          {\"type\": \"NS\", \"content\": \"ns1.example.net.\"}\n"
                    "        ]\n"
                    "      }\n"
                    "    }\n"
                    "  }\n"
                    "}\n");
    store_t *s = build(doc);
    assert_int_equal(find_rr(s, "example.org.", RR_NS, 0)->ttl, 3600);
    store_free(s);
    edit_op_clear(&op);
    json_object_put(doc);
}

static void test_edit_add_zone_refuses_a_zone_already_there(void **state)
{
    (void)state;
    static const char *const names[] = {"example.com.", "example.com", "EXAMPLE.Com."};
    for (size_t i = 0; i < 3; i++) {
        json_object *doc = parse(SMALL);
        struct edit_op op;
        struct errbuf err;
        const char *ns[] = {"ns1.example.com"};
        assert_int_equal(edit_op_add_zone(names[i],
                                          "ns1.example.com hostmaster.example.com 1 3600 600 "
                                          "86400 60",
                                          ns, 1, 0, &op, &err),
                         0);
        apply_fails(doc, &op, 1, -EEXIST,
                    "zone 'example.com.' is already in the store (as \"example.com.\")");
        expect_doc(doc, SMALL);
        edit_op_clear(&op);
        json_object_put(doc);
    }
    /* The store's key may lack the dot or use capitals. */
    json_object *doc = parse("{\"zones\": {\"Example.COM\": {\"records\": {}}}}");
    struct edit_op op;
    struct errbuf err;
    const char *ns[] = {"ns1.example.com"};
    assert_int_equal(edit_op_add_zone("example.com",
                                      "ns1.example.com hostmaster.example.com 1 3600 600 86400 60",
                                      ns, 1, 0, &op, &err),
                     0);
    apply_fails(doc, &op, 1, -EEXIST,
                "zone 'example.com.' is already in the store (as \"Example.COM\")");
    edit_op_clear(&op);
    json_object_put(doc);
}

static void test_edit_add_zone_refuses_bad_arguments(void **state)
{
    (void)state;
    struct edit_op op;
    struct errbuf err;
    const char *ns[] = {"ns1.example.org"};
    assert_int_equal(
        edit_op_add_zone("example.org", "ns1 hostmaster 1 2 3 4 5", ns, 0, 0, &op, &err), -EINVAL);
    assert_string_equal(err.msg, "zone example.org.: at least one name server (NS) is needed");
    assert_int_equal(
        edit_op_add_zone("example.org", "ns1.example.org. hostmaster 1 2 3", ns, 1, 0, &op, &err),
        -EINVAL);
    assert_string_equal(err.msg,
                        "zone example.org.: SOA 'ns1.example.org. hostmaster 1 2 3': SOA needs 7 "
                        "fields (mname rname serial refresh retry expire minimum), got 5");
    const char *bad_ns[] = {"ns1.example.org", "ns..x"};
    assert_int_equal(edit_op_add_zone("example.org", "ns1.example.org. h.example.org. 1 2 3 4 5",
                                      bad_ns, 2, 0, &op, &err),
                     -EINVAL);
    assert_string_equal(err.msg, "zone example.org.: NS 'ns..x': 'ns..x' has an empty label");
    assert_null(op.rrs);
    assert_int_equal(edit_op_add_zone("a..b", "x", ns, 1, 0, &op, &err), -EINVAL);
    assert_string_equal(err.msg, "zone name 'a..b': 'a..b' has an empty label");
}

static void test_edit_delete_zone_removes_it(void **state)
{
    (void)state;
    json_object *doc = parse(helpers_nested_json);
    struct edit_op op;
    struct errbuf err;
    assert_int_equal(edit_op_delete_zone("SUB.Example.com", &op, &err), 0);
    assert_int_equal(op.kind, EDIT_DELETE_ZONE);
    assert_string_equal(op.zone, "sub.example.com.");
    apply_ok(doc, &op, 1);
    char *got = render(doc);
    assert_null(strstr(got, "sub.example.com."));
    assert_contains(got, "    \"example.com.\": {\n");
    free(got);
    store_t *s = build(doc);
    assert_int_equal(store_zone_count(s), 1);
    store_free(s);
    /* Once more: it is gone. */
    apply_fails(doc, &op, 1, -ENOENT, "zone 'sub.example.com.' is not in the store");
    edit_op_clear(&op);
    json_object_put(doc);
}

static void test_edit_delete_of_a_missing_zone_is_enoent(void **state)
{
    (void)state;
    json_object *doc = parse(SMALL);
    struct edit_op op;
    struct errbuf err;
    assert_int_equal(edit_op_delete_zone("www.example.com", &op, &err), 0);
    apply_fails(doc, &op, 1, -ENOENT, "zone 'www.example.com.' is not in the store");
    expect_doc(doc, SMALL);
    edit_op_clear(&op);
    assert_int_equal(edit_op_delete_zone("", &op, &err), -EINVAL);
    assert_string_equal(err.msg, "zone name '': empty name");
    assert_int_equal(edit_op_clear_zone("a..b", &op, &err), -EINVAL);
    assert_string_equal(err.msg, "zone name 'a..b': 'a..b' has an empty label");
    json_object_put(doc);
}

static void test_edit_add_then_edit_a_zone_in_one_apply(void **state)
{
    (void)state;
    json_object *doc = parse(SMALL);
    struct edit_op ops[3];
    struct errbuf err;
    const char *ns[] = {"ns1.example.org"};
    assert_int_equal(edit_op_add_zone("example.org.",
                                      "ns1.example.org. h.example.org. 1 3600 600 86400 60", ns, 1,
                                      0, &ops[0], &err),
                     0);
    json_object *p =
        parse("{\"rr\": " RR_P("ns1.example.org.", "A", "203.0.113.53", "3600") ", \"trxid\": 1}");
    assert_int_equal(edit_op_feed(p, "example.org.", false, &ops[1], &err), 0);
    assert_int_equal(edit_op_delete_zone("example.com.", &ops[2], &err), 0);
    apply_ok(doc, ops, 3);
    store_t *s = build(doc);
    assert_int_equal(store_zone_count(s), 1);
    assert_string_equal(find_rr(s, "ns1.example.org.", RR_A, 0)->content, "203.0.113.53");
    store_free(s);
    clear_ops(ops, 3);
    json_object_put(p);
    json_object_put(doc);
}

/* ---- the SOA serial ----------------------------------------------------------------------- */

#define SOA_DOC(serial)                                                                       \
    "{\"zones\": {\"example.com.\": {\"records\": {\"@\": [{\"type\": \"SOA\", \"content\": " \
    "\"ns1 hostmaster " serial " 7200 3600 1209600 300\"}, {\"type\": \"NS\", \"content\": "  \
    "\"ns1\"}], \"ns1\": [{\"type\": \"A\", \"content\": \"192.0.2.53\"}]}}}}"

static void soa_op(struct edit_op *op, const char *serial)
{
    char c[128];
    snprintf(c, sizeof(c), "ns1.example.com hostmaster.example.com %s 7200 3600 1209600 300",
             serial);
    replace_op(op, "example.com.", "SOA", 3600, c, (const char *)NULL);
}

/* Applies op to a document whose serial is `now` and returns the serial written. */
static uint32_t apply_soa(struct edit_op *op, const char *doc_json)
{
    json_object *doc = parse(doc_json);
    apply_ok(doc, op, 1);
    store_t *s = build(doc);
    uint32_t serial = helpers_zone(s, "example.com.")->serial;
    store_free(s);
    json_object_put(doc);
    return serial;
}

static void test_edit_soa_replace_records_the_serial_it_replaced(void **state)
{
    (void)state;
    struct edit_op op;
    soa_op(&op, "2024010102");
    assert_int_equal(op.base_serial, -1);
    assert_int_equal(apply_soa(&op, SOA_DOC("2024010101")), 2024010102u);
    assert_int_equal(op.base_serial, 2024010101);
    /* Applied again to the same file (a commit after the transaction's view): unchanged. */
    assert_int_equal(apply_soa(&op, SOA_DOC("2024010101")), 2024010102u);
    assert_int_equal(op.base_serial, 2024010101);
    assert_string_equal(op.rrs[0].content,
                        "ns1.example.com hostmaster.example.com 2024010102 7200 3600 1209600 300");
    edit_op_clear(&op);
}

static void test_edit_soa_serial_moves_past_another_writers(void **state)
{
    (void)state;
    struct edit_op op;
    soa_op(&op, "2024010102");
    assert_int_equal(apply_soa(&op, SOA_DOC("2024010101")), 2024010102u);
    /* Another writer committed serial 2024010105 meanwhile. */
    assert_int_equal(apply_soa(&op, SOA_DOC("2024010105")), 2024010106u);
    edit_op_clear(&op);

    /* Moved to exactly the op's serial: one more. */
    soa_op(&op, "2024010102");
    assert_int_equal(apply_soa(&op, SOA_DOC("2024010101")), 2024010102u);
    assert_int_equal(apply_soa(&op, SOA_DOC("2024010102")), 2024010103u);
    edit_op_clear(&op);

    /* Moved, but still below the op's serial: the op's stays. */
    soa_op(&op, "2024010109");
    assert_int_equal(apply_soa(&op, SOA_DOC("2024010101")), 2024010109u);
    assert_int_equal(apply_soa(&op, SOA_DOC("2024010105")), 2024010109u);
    edit_op_clear(&op);
}

static void test_edit_soa_serial_follows_rfc1982_arithmetic(void **state)
{
    (void)state;
    struct edit_op op;
    /* The other writer reached the top: one more wraps to 0. */
    soa_op(&op, "4294967291");
    assert_int_equal(apply_soa(&op, SOA_DOC("4294967290")), 4294967291u);
    assert_int_equal(apply_soa(&op, SOA_DOC("4294967295")), 0u);
    edit_op_clear(&op);
    /* The other writer wrapped past 0: 3 is after 4294967291. */
    soa_op(&op, "4294967291");
    assert_int_equal(apply_soa(&op, SOA_DOC("4294967290")), 4294967291u);
    assert_int_equal(apply_soa(&op, SOA_DOC("3")), 4u);
    edit_op_clear(&op);
    /* The op's serial wrapped past 0: 5 is after 4294967295, so it stays. */
    soa_op(&op, "5");
    assert_int_equal(apply_soa(&op, SOA_DOC("4294967290")), 5u);
    assert_int_equal(apply_soa(&op, SOA_DOC("4294967295")), 5u);
    edit_op_clear(&op);
}

static void test_edit_soa_serial_rule_keeps_the_other_fields(void **state)
{
    (void)state;
    struct edit_op op;
    soa_op(&op, "10");
    assert_int_equal(apply_soa(&op, SOA_DOC("9")), 10u);
    json_object *doc = parse(SOA_DOC("20"));
    apply_ok(doc, &op, 1);
    expect_doc_contains(doc, "{\"type\": \"SOA\", \"content\": \"ns1.example.com. "
                             "hostmaster.example.com. 21 7200 3600 1209600 300\"}");
    json_object_put(doc);
    edit_op_clear(&op);
}

/* ---- a zone load -------------------------------------------------------------------------- */

static void test_edit_applies_a_load_of_5000_feeds(void **state)
{
    (void)state;
    enum { N = 5000 };
    json_object *doc = parse(SMALL);
    struct edit_op *ops = calloc(N + 3, sizeof(*ops));
    struct errbuf err;
    assert_int_equal(edit_op_clear_zone("example.com.", &ops[0], &err), 0);
    feed_op(&ops[1], true, "example.com.", "SOA",
            "ns1.example.com hostmaster.example.com 2024010102 7200 3600 1209600 300", 3600);
    feed_op(&ops[2], true, "example.com.", "NS", "ns1.example.com", 3600);
    for (int i = 0; i < N; i++) {
        char name[64], addr[32];
        snprintf(name, sizeof(name), "h%d.Example.com.", i);
        snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        feed_op(&ops[3 + i], true, name, "A", addr, 60);
    }
    apply_ok(doc, ops, N + 3);
    store_t *s = build(doc);
    assert_int_equal(store_record_count(s), N + 2);
    assert_string_equal(find_rr(s, "h0.example.com.", RR_A, 0)->content, "10.0.0.0");
    assert_string_equal(find_rr(s, "h4999.example.com.", RR_A, 0)->content, "10.0.19.135");
    assert_int_equal(find_rr(s, "h4999.example.com.", RR_A, 0)->ttl, 60);
    assert_null(helpers_find(s, "www.example.com.", 0));
    store_free(s);
    char *got = render(doc);
    assert_contains(got, "        \"h4999\": [{\"type\": \"A\", \"content\": \"10.0.19.135\", "
                         "\"ttl\": 60}]\n");
    free(got);
    clear_ops(ops, N + 3);
    free(ops);
    json_object_put(doc);
}

/* ---- zone names --------------------------------------------------------------------------- */

static void test_edit_zone_name_normalises_a_name_given_by_a_person(void **state)
{
    (void)state;
    char out[DNAME_TEXT_MAX];
    struct errbuf err;
    assert_int_equal(edit_zone_name("Example.COM", out, sizeof(out), &err), 0);
    assert_string_equal(out, "example.com.");
    assert_int_equal(edit_zone_name("example.com.", out, sizeof(out), &err), 0);
    assert_string_equal(out, "example.com.");
    assert_int_equal(edit_zone_name(".", out, sizeof(out), &err), 0);
    assert_string_equal(out, ".");
    assert_int_equal(edit_zone_name("a\\.b.example", out, sizeof(out), &err), 0);
    assert_string_equal(out, "a\\.b.example.");
    assert_int_equal(edit_zone_name("x\\032y.example", out, sizeof(out), &err), 0);
    assert_string_equal(out, "x\\032y.example.");
}

static void test_edit_zone_name_refuses_bad_names(void **state)
{
    (void)state;
    char out[DNAME_TEXT_MAX];
    struct errbuf err;
    assert_int_equal(edit_zone_name("a..b", out, sizeof(out), &err), -EINVAL);
    assert_string_equal(err.msg, "zone name 'a..b': 'a..b' has an empty label");
    assert_int_equal(edit_zone_name("", out, sizeof(out), &err), -EINVAL);
    assert_string_equal(err.msg, "zone name '': empty name");
    char big[80];
    memset(big, 'a', 64);
    strcpy(big + 64, ".com");
    assert_int_equal(edit_zone_name(big, out, sizeof(out), &err), -EINVAL);
    assert_contains(err.msg, "has a label longer than 63 bytes");
    /* Too long for the caller's buffer: "example.com." needs 13 bytes. */
    char small[12];
    assert_int_equal(edit_zone_name("example.com", small, sizeof(small), &err), -ENAMETOOLONG);
    assert_string_equal(err.msg, "zone name 'example.com' is too long");
    char exact[13];
    assert_int_equal(edit_zone_name("example.com", exact, sizeof(exact), &err), 0);
    assert_string_equal(exact, "example.com.");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edit_op_replace_reads_the_parameters_pdns_sends),
        cmocka_unit_test(test_edit_op_replace_with_an_empty_rrset_is_a_deletion),
        cmocka_unit_test(test_edit_op_feed_reads_the_record),
        cmocka_unit_test(test_edit_op_meta_reads_the_parameters_pdns_sends),
        cmocka_unit_test(test_edit_op_replace_refuses_a_name_outside_the_zone),
        cmocka_unit_test(test_edit_op_replace_refuses_an_unknown_type),
        cmocka_unit_test(test_edit_op_replace_refuses_bad_content),
        cmocka_unit_test(test_edit_op_replace_refuses_a_record_of_another_rrset),
        cmocka_unit_test(test_edit_op_replace_refuses_missing_or_ill_typed_parameters),
        cmocka_unit_test(test_edit_op_replace_accepts_ttl_bounds),
        cmocka_unit_test(test_edit_op_replace_refuses_an_rrset_the_store_cannot_hold),
        cmocka_unit_test(test_edit_op_feed_refuses_bad_records),
        cmocka_unit_test(test_edit_op_meta_refuses_bad_parameters),
        cmocka_unit_test(test_edit_starts_from_a_canonical_fixture),
        cmocka_unit_test(test_edit_replace_keeps_the_rrset_where_it_was),
        cmocka_unit_test(test_edit_replace_keeps_unchanged_records_as_written),
        cmocka_unit_test(test_edit_replace_with_the_same_records_changes_nothing),
        cmocka_unit_test(test_edit_replace_changes_the_ttl_of_kept_records),
        cmocka_unit_test(test_edit_new_records_get_a_ttl_only_when_it_is_not_the_zones),
        cmocka_unit_test(test_edit_replace_finds_owner_keys_in_any_form),
        cmocka_unit_test(test_edit_delete_removes_only_that_rrset),
        cmocka_unit_test(test_edit_delete_removes_the_owner_when_it_becomes_empty),
        cmocka_unit_test(test_edit_delete_of_a_missing_rrset_changes_nothing),
        cmocka_unit_test(test_edit_an_owner_deleted_and_added_again_goes_to_the_end),
        cmocka_unit_test(test_edit_a_new_owner_gets_a_lowercase_relative_key_at_the_end),
        cmocka_unit_test(test_edit_the_apex_is_written_as_at),
        cmocka_unit_test(test_edit_feed_inserts_one_record_after_the_others),
        cmocka_unit_test(test_edit_feed_of_a_record_already_there_is_a_no_op),
        cmocka_unit_test(test_edit_feed_of_a_record_differing_only_in_name_case_is_a_no_op),
        cmocka_unit_test(test_edit_writes_content_in_the_store_form),
        cmocka_unit_test(test_edit_writes_the_soa_with_absolute_names),
        cmocka_unit_test(test_edit_apply_to_a_zone_not_in_the_store_is_enoent),
        cmocka_unit_test(test_edit_apply_to_a_document_without_zones_fails),
        cmocka_unit_test(test_edit_apply_stops_at_the_first_failure),
        cmocka_unit_test(test_edit_applies_ops_across_zones),
        cmocka_unit_test(test_edit_pool_fixture_loads),
        cmocka_unit_test(test_edit_refuses_to_replace_a_pool_rrset),
        cmocka_unit_test(test_edit_refuses_to_feed_a_pool_rrset_incrementally),
        cmocka_unit_test(test_edit_allows_other_types_at_a_pool_name),
        cmocka_unit_test(test_edit_clear_zone_keeps_only_pool_records),
        cmocka_unit_test(test_edit_whole_zone_feed_at_a_pool_rrset_is_dropped),
        cmocka_unit_test(test_edit_meta_adds_a_kind),
        cmocka_unit_test(test_edit_meta_replaces_a_kind_matched_without_case),
        cmocka_unit_test(test_edit_meta_deletes_a_kind_and_then_the_metadata_key),
        cmocka_unit_test(test_edit_meta_delete_of_a_missing_kind_changes_nothing),
        cmocka_unit_test(test_edit_meta_of_a_zone_not_in_the_store_is_enoent),
        cmocka_unit_test(test_edit_add_zone_appends_a_zone_with_soa_and_ns),
        cmocka_unit_test(test_edit_add_zone_without_a_ttl_writes_none),
        cmocka_unit_test(test_edit_add_zone_refuses_a_zone_already_there),
        cmocka_unit_test(test_edit_add_zone_refuses_bad_arguments),
        cmocka_unit_test(test_edit_delete_zone_removes_it),
        cmocka_unit_test(test_edit_delete_of_a_missing_zone_is_enoent),
        cmocka_unit_test(test_edit_add_then_edit_a_zone_in_one_apply),
        cmocka_unit_test(test_edit_soa_replace_records_the_serial_it_replaced),
        cmocka_unit_test(test_edit_soa_serial_moves_past_another_writers),
        cmocka_unit_test(test_edit_soa_serial_follows_rfc1982_arithmetic),
        cmocka_unit_test(test_edit_soa_serial_rule_keeps_the_other_fields),
        cmocka_unit_test(test_edit_applies_a_load_of_5000_feeds),
        cmocka_unit_test(test_edit_zone_name_normalises_a_name_given_by_a_person),
        cmocka_unit_test(test_edit_zone_name_refuses_bad_names),
    };
    return cmocka_run_group_tests_name("edit", tests, NULL, NULL);
}
