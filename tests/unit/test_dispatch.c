/* SPDX-License-Identifier: MIT */
/* Unit tests for backend/dispatch.c: one request line in, exactly one reply line out. Requests are
 * written the way pdns 4.7 writes them (sorted keys, ": " and ", " separators). */
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

#include "backend/dispatch.h"
#include "backend/edit.h"
#include "backend/metrics.h"
#include "backend/rdata.h"
#include "backend/storefmt.h"
#include "common/sbuf.h"
#include "tests/unit/helpers.h"

#define EX_ID  "780533144"
#define SUB_ID "64677748"

/* Record fragments of the example store, as lookup and list return them. */
#define SOA_FRAG                                                                                   \
    "{\"qtype\":\"SOA\",\"qname\":\"example.com.\",\"content\":\"ns1.example.com. "                \
    "hostmaster.example.com. 2024010101 7200 3600 1209600 300\",\"ttl\":3600,\"domain_id\":" EX_ID \
    "}"
#define NS1_FRAG \
    "{\"qtype\":\"NS\",\"qname\":\"example.com.\",\"content\":\"ns1.example.com\",\"ttl\":3600}"
#define NS2_FRAG \
    "{\"qtype\":\"NS\",\"qname\":\"example.com.\",\"content\":\"ns2.example.net\",\"ttl\":3600}"
#define MX_FRAG                                                      \
    "{\"qtype\":\"MX\",\"qname\":\"example.com.\",\"content\":\"10 " \
    "mail.example.com\",\"ttl\":3600}"
#define WWW_A1_FRAG \
    "{\"qtype\":\"A\",\"qname\":\"www.example.com.\",\"content\":\"192.0.2.10\",\"ttl\":60}"
#define WWW_A2_FRAG \
    "{\"qtype\":\"A\",\"qname\":\"www.example.com.\",\"content\":\"192.0.2.11\",\"ttl\":60}"
#define WWW_AAAA_FRAG \
    "{\"qtype\":\"AAAA\",\"qname\":\"www.example.com.\",\"content\":\"2001:db8::10\",\"ttl\":60}"
#define TXT_FRAG                                                                             \
    "{\"qtype\":\"TXT\",\"qname\":\"a.b.c.example.com.\",\"content\":\"\\\"deep name\\\"\"," \
    "\"ttl\":3600}"
#define DYN_FRAG \
    "{\"qtype\":\"A\",\"qname\":\"*.dyn.example.com.\",\"content\":\"192.0.2.80\",\"ttl\":30}"
#define MAIL_FRAG \
    "{\"qtype\":\"A\",\"qname\":\"mail.example.com.\",\"content\":\"192.0.2.25\",\"ttl\":300}"
#define NS1_A_FRAG \
    "{\"qtype\":\"A\",\"qname\":\"ns1.example.com.\",\"content\":\"192.0.2.53\",\"ttl\":3600}"

/* The nested store's example.com. zone. */
#define P_SOA_FRAG                                                                  \
    "{\"qtype\":\"SOA\",\"qname\":\"example.com.\",\"content\":\"ns1.example.com. " \
    "hostmaster.example.com. 1 7200 3600 1209600 300\",\"ttl\":3600,\"domain_id\":" EX_ID "}"
#define P_DELEG_FRAG                                                                       \
    "{\"qtype\":\"NS\",\"qname\":\"sub.example.com.\",\"content\":\"ns.sub.example.com\"," \
    "\"ttl\":3600}"
#define P_GLUE_FRAG                                                                             \
    "{\"qtype\":\"A\",\"qname\":\"ns.sub.example.com.\",\"content\":\"198.51.100.53\",\"ttl\":" \
    "3600}"
#define C_SOA_FRAG                                                                         \
    "{\"qtype\":\"SOA\",\"qname\":\"sub.example.com.\",\"content\":\"ns.sub.example.com. " \
    "hostmaster.example.com. 2 7200 3600 1209600 300\",\"ttl\":3600,\"domain_id\":" SUB_ID "}"
#define C_NS_FRAG                                                                          \
    "{\"qtype\":\"NS\",\"qname\":\"sub.example.com.\",\"content\":\"ns.sub.example.com\"," \
    "\"ttl\":3600}"

#define FALSE_REPLY "{\"result\":false}\n"
#define EMPTY_REPLY "{\"result\":[]}\n"

struct fx {
    dispatch_t *d;
    store_t *example;
    store_t *nested;
    struct session ss;
    struct sbuf out;
    struct errbuf err;
    /* the load hook's view */
    int load_calls;
    char load_path[256];
    struct fake_writer *writer; /* transactions: see use_writer() */
};

static void free_writer(struct fake_writer *w);

/* ---- fixture ------------------------------------------------------------------------------ */

/* Load hook, as main.c's: "good" paths install the example store; others fail with real store
 * errors. */
static int load_hook(void *opaque, const char *path, struct errlist *errs)
{
    struct fx *f = opaque;
    f->load_calls++;
    snprintf(f->load_path, sizeof(f->load_path), "%s", path);
    if (strstr(path, "good")) {
        dispatch_set_store(f->d, f->example);
        return 0;
    }
    static const char broken[] = "{\"zones\": {\"example.com.\": {\"records\": {\"@\": "
                                 "[{\"type\": \"A\", \"content\": \"192.0.2.300\"}], "
                                 "\"www\": [{\"type\": \"SPF\", \"content\": \"x\"}]}}}}";
    store_t *s = NULL;
    int r = store_build(broken, strlen(broken), &s, errs);
    assert_int_equal(r, -EINVAL);
    return r;
}

static int setup(void **state)
{
    char id[16];
    snprintf(id, sizeof(id), "%u", HELPERS_EXAMPLE_COM_ID);
    assert_string_equal(id, EX_ID);
    snprintf(id, sizeof(id), "%u", HELPERS_SUB_EXAMPLE_COM_ID);
    assert_string_equal(id, SUB_ID);

    struct fx *f = test_calloc(1, sizeof(*f));
    f->example = helpers_build(helpers_example_json);
    f->nested = helpers_build(helpers_nested_json);
    f->d = dispatch_new(load_hook, f);
    dispatch_set_store(f->d, f->example);
    f->out = (struct sbuf)SBUF_INIT;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    dispatch_session_end(f->d, &f->ss);
    dispatch_free(f->d);
    free_writer(f->writer);
    store_free(f->example);
    store_free(f->nested);
    sbuf_free(&f->out);
    test_free(f);
    return 0;
}

/* ---- calling ------------------------------------------------------------------------------ */

/* What every reply must be: one line, ending in exactly one "\n", holding a JSON object whose
 * "result" is not null and whose "log", if any, is an array of strings. */
static void check_reply_shape(const char *reply, size_t len)
{
    assert_true(len >= 2);
    assert_int_equal(reply[len - 1], '\n');
    assert_ptr_equal(memchr(reply, '\n', len), reply + len - 1);
    assert_null(memchr(reply, '\r', len));

    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *obj = json_tokener_parse_ex(tok, reply, (int)len - 1);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (jerr != json_tokener_success || end != len - 1)
        print_error("reply is not one JSON value (%s at %zu): %s", json_tokener_error_desc(jerr),
                    end, reply);
    assert_int_equal(jerr, json_tokener_success);
    assert_int_equal(end, len - 1);
    assert_true(json_object_is_type(obj, json_type_object));
    json_object *result = NULL, *log = NULL;
    assert_true(json_object_object_get_ex(obj, "result", &result));
    /* null is a failed commit only: an error pdnsutil and the API cannot ignore */
    if (!result)
        assert_non_null(strstr(reply, "\"commitTransaction: nothing was changed: "));
    if (json_object_object_get_ex(obj, "log", &log)) {
        assert_true(json_object_is_type(log, json_type_array));
        for (size_t i = 0; i < json_object_array_length(log); i++)
            assert_true(json_object_is_type(json_object_array_get_idx(log, i), json_type_string));
    }
    json_object_put(obj);
}

static const char *call_len(struct fx *f, const char *req, size_t len, int want_rc)
{
    sbuf_reset(&f->out);
    snprintf(f->err.msg, sizeof(f->err.msg), "stale message");
    int r = dispatch_request(f->d, &f->ss, req, len, &f->out, &f->err);
    check_reply_shape(sbuf_str(&f->out), f->out.len);
    if (r != want_rc)
        print_error("dispatch_request returned %d (%s), reply %s", r, f->err.msg,
                    sbuf_str(&f->out));
    assert_int_equal(r, want_rc);
    if (r == 0)
        assert_string_equal(f->err.msg, "");
    return sbuf_str(&f->out);
}

static const char *call(struct fx *f, const char *req, int want_rc)
{
    return call_len(f, req, strlen(req), want_rc);
}

static void expect_reply(struct fx *f, const char *req, const char *reply)
{
    assert_string_equal(call(f, req, 0), reply);
}

/* The reply to a malformed request: result false, the reason as the only log line, -EINVAL and
 * the same reason in err. */
static void expect_bad_len(struct fx *f, const char *req, size_t len, const char *msg)
{
    char want[1024];
    size_t o = 0;
    o += (size_t)snprintf(want, sizeof(want), "{\"result\":false,\"log\":[\"");
    for (const char *p = msg; *p && o < sizeof(want) - 8; p++) {
        if (*p == '"' || *p == '\\')
            want[o++] = '\\';
        want[o++] = *p;
    }
    snprintf(want + o, sizeof(want) - o, "\"]}\n");
    assert_string_equal(call_len(f, req, len, -EINVAL), want);
    assert_string_equal(f->err.msg, msg);
}

static void expect_bad(struct fx *f, const char *req, const char *msg)
{
    expect_bad_len(f, req, strlen(req), msg);
}

/* A lookup request as pdns sends it from the query path. */
static const char *
lookup_req(char *buf, size_t cap, const char *qtype, const char *qname, const char *zone_id)
{
    snprintf(buf, cap,
             "{\"method\": \"lookup\", \"parameters\": {\"local\": \"0.0.0.0\", \"qname\": "
             "\"%s\", \"qtype\": \"%s\", \"real-remote\": \"0.0.0.0/0\", \"remote\": "
             "\"0.0.0.0\", \"zone-id\": %s}}",
             qname, qtype, zone_id);
    return buf;
}

static void expect_lookup(
    struct fx *f, const char *qtype, const char *qname, const char *zone_id, const char *reply)
{
    char req[1024];
    expect_reply(f, lookup_req(req, sizeof(req), qtype, qname, zone_id), reply);
}

/* ---- initialize --------------------------------------------------------------------------- */

static void test_dispatch_initialize_answers_true(void **state)
{
    struct fx *f = *state;
    assert_false(f->ss.initialized);
    expect_reply(f,
                 "{\"method\": \"initialize\", \"parameters\": {\"command\": "
                 "\"/usr/bin/pdns-failover --config /etc/pdns/store.json\", \"timeout\": "
                 "\"2000\"}}",
                 "{\"result\":true}\n");
    assert_true(f->ss.initialized);
    assert_int_equal(f->load_calls, 0);
}

static void test_dispatch_initialize_loads_the_config_option(void **state)
{
    struct fx *f = *state;
    dispatch_set_store(f->d, NULL);
    expect_reply(f,
                 "{\"method\": \"initialize\", \"parameters\": {\"command\": "
                 "\"/usr/bin/pdns-failover\", \"config\": \"/etc/pdns/good.json\", \"timeout\": "
                 "\"2000\"}}",
                 "{\"result\":true}\n");
    assert_int_equal(f->load_calls, 1);
    assert_string_equal(f->load_path, "/etc/pdns/good.json");
    assert_ptr_equal(dispatch_store(f->d), f->example);
    expect_lookup(f, "ANY", "ns1.example.com.", "-1", "{\"result\":[" NS1_A_FRAG "]}\n");
}

static void test_dispatch_initialize_reports_every_load_error(void **state)
{
    struct fx *f = *state;
    const store_t *before = dispatch_store(f->d);
    const char *reply = call(f,
                             "{\"method\": \"initialize\", \"parameters\": {\"config\": "
                             "\"/etc/pdns/bad.json\"}}",
                             -EINVAL);
    char want[1024];
    snprintf(want, sizeof(want),
             "{\"result\":false,\"log\":["
             "\"zones[\\\"example.com.\\\"].records[\\\"@\\\"][0].content: '192.0.2.300' is "
             "not an IPv4 address\","
             "\"zones[\\\"example.com.\\\"].records[\\\"www\\\"][0].type: 'SPF' is not a "
             "supported record type (supported: %s)\"]}\n",
             rrtype_list());
    assert_string_equal(reply, want);
    assert_string_equal(f->err.msg, "initialize: cannot load store '/etc/pdns/bad.json' (2 "
                                    "errors)");
    assert_int_equal(f->load_calls, 1);
    /* The store in use stays. */
    assert_ptr_equal(dispatch_store(f->d), before);
}

static void test_dispatch_initialize_rejects_a_config_that_is_not_a_string(void **state)
{
    struct fx *f = *state;
    expect_bad(f, "{\"method\": \"initialize\", \"parameters\": {\"config\": 1}}",
               "initialize: option 'config' must be a path");
    assert_int_equal(f->load_calls, 0);
}

static void test_dispatch_initialize_ignores_config_without_a_load_hook(void **state)
{
    struct fx *f = *state;
    dispatch_free(f->d);
    f->d = dispatch_new(NULL, NULL);
    expect_reply(f, "{\"method\": \"initialize\", \"parameters\": {\"config\": \"/x/bad.json\"}}",
                 "{\"result\":true}\n");
    assert_int_equal(f->load_calls, 0);
    assert_null(dispatch_store(f->d));
}

/* ---- lookup ------------------------------------------------------------------------------- */

static void test_dispatch_lookup_any_returns_every_record_at_the_name(void **state)
{
    struct fx *f = *state;
    expect_lookup(f, "ANY", "www.example.com.", EX_ID,
                  "{\"result\":[" WWW_A1_FRAG "," WWW_A2_FRAG "," WWW_AAAA_FRAG "]}\n");
    expect_lookup(f, "ANY", "example.com.", EX_ID,
                  "{\"result\":[" SOA_FRAG "," NS1_FRAG "," NS2_FRAG "," MX_FRAG "]}\n");
    expect_lookup(f, "ANY", "a.b.c.example.com.", "-1", "{\"result\":[" TXT_FRAG "]}\n");
}

/* --verbose-replies (benchmarks): the same records with every optional field. */
static void test_dispatch_verbose_replies_carry_every_optional_field(void **state)
{
    struct fx *f = *state;
    dispatch_set_verbose(f->d, true);
    expect_lookup(f, "ANY", "ns1.example.com.", "-1",
                  "{\"result\":[{\"qtype\":\"A\",\"qname\":\"ns1.example.com.\",\"content\":"
                  "\"192.0.2.53\",\"ttl\":3600,\"domain_id\":" EX_ID
                  ",\"auth\":1,\"scopeMask\":0}]}\n");
    dispatch_set_verbose(f->d, false);
    expect_lookup(f, "ANY", "ns1.example.com.", "-1", "{\"result\":[" NS1_A_FRAG "]}\n");
}

static void test_dispatch_lookup_with_a_type_returns_only_that_type(void **state)
{
    struct fx *f = *state;
    expect_lookup(f, "A", "www.example.com.", EX_ID,
                  "{\"result\":[" WWW_A1_FRAG "," WWW_A2_FRAG "]}\n");
    expect_lookup(f, "AAAA", "www.example.com.", "-1", "{\"result\":[" WWW_AAAA_FRAG "]}\n");
    expect_lookup(f, "NS", "example.com.", "-1", "{\"result\":[" NS1_FRAG "," NS2_FRAG "]}\n");
    expect_lookup(f, "MX", "example.com.", "-1", "{\"result\":[" MX_FRAG "]}\n");
    expect_lookup(f, "TXT", "www.example.com.", "-1", EMPTY_REPLY);
    /* Type names are case-insensitive, like pdns's. */
    expect_lookup(f, "aaaa", "www.example.com.", "-1", "{\"result\":[" WWW_AAAA_FRAG "]}\n");
    expect_lookup(f, "any", "ns1.example.com.", "-1", "{\"result\":[" NS1_A_FRAG "]}\n");
}

static void test_dispatch_lookup_soa_returns_only_the_soa(void **state)
{
    struct fx *f = *state;
    /* pdns's getSOA throws on anything but SOA records. */
    expect_lookup(f, "SOA", "example.com.", "-1", "{\"result\":[" SOA_FRAG "]}\n");
    expect_lookup(f, "SOA", "www.example.com.", "-1", EMPTY_REPLY);
    expect_lookup(f, "SOA", "a.b.c.example.com.", "-1", EMPTY_REPLY);
    expect_lookup(f, "SOA", "c.example.com.", "-1", EMPTY_REPLY);
    expect_lookup(f, "SOA", "com.", "-1", EMPTY_REPLY);
    expect_lookup(f, "SOA", ".", "-1", EMPTY_REPLY);
}

static void test_dispatch_lookup_of_a_type_we_do_not_serve_is_empty(void **state)
{
    struct fx *f = *state;
    expect_lookup(f, "DNSKEY", "example.com.", "-1", EMPTY_REPLY);
    expect_lookup(f, "TYPE65534", "example.com.", "-1", EMPTY_REPLY);
    expect_lookup(f, "", "example.com.", "-1", EMPTY_REPLY);
}

static void test_dispatch_lookup_answers_empty_non_terminals_with_ent(void **state)
{
    struct fx *f = *state;
    expect_lookup(
        f, "ANY", "b.c.example.com.", EX_ID,
        "{\"result\":[{\"qtype\":\"ENT\",\"qname\":\"b.c.example.com.\",\"content\":\"\"}]}\n");
    expect_lookup(
        f, "ANY", "dyn.example.com.", EX_ID,
        "{\"result\":[{\"qtype\":\"ENT\",\"qname\":\"dyn.example.com.\",\"content\":\"\"}]}\n");
    expect_lookup(f, "A", "c.example.com.", EX_ID, EMPTY_REPLY);
}

static void test_dispatch_lookup_of_an_unknown_name_is_empty(void **state)
{
    struct fx *f = *state;
    expect_lookup(f, "ANY", "nope.example.com.", EX_ID, EMPTY_REPLY);
    expect_lookup(f, "ANY", "foo.dyn.example.com.", EX_ID, EMPTY_REPLY);
    expect_lookup(f, "ANY", "www.example.net.", "-1", EMPTY_REPLY);
    expect_lookup(f, "ANY", ".", "-1", EMPTY_REPLY);
    /* pdns asks for the wildcard by its literal name */
    expect_lookup(f, "ANY", "*.dyn.example.com.", EX_ID, "{\"result\":[" DYN_FRAG "]}\n");
}

static void test_dispatch_lookup_ignores_query_name_case(void **state)
{
    struct fx *f = *state;
    /* The reply carries the stored owner; pdns rewrites it to the query's case. */
    expect_lookup(f, "ANY", "WwW.ExAmPlE.CoM.", EX_ID,
                  "{\"result\":[" WWW_A1_FRAG "," WWW_A2_FRAG "," WWW_AAAA_FRAG "]}\n");
    expect_lookup(f, "SOA", "EXAMPLE.COM.", "-1", "{\"result\":[" SOA_FRAG "]}\n");
    /* An escaped upper-case letter (\087 is 'W') folds too. */
    expect_lookup(f, "A", "\\\\087wW.example.com.", "-1",
                  "{\"result\":[" WWW_A1_FRAG "," WWW_A2_FRAG "]}\n");
}

static void test_dispatch_lookup_decodes_escapes_in_the_query_name(void **state)
{
    struct fx *f = *state;
    store_t *s = helpers_build(
        HELPERS_ZONE(", \"Sp\\\\032Ace\": [{\"type\": \"A\", \"content\": \"192.0.2.32\"}], "
                     "\"dot\\\\.ted\": [{\"type\": \"A\", \"content\": \"192.0.2.46\"}]"));
    dispatch_set_store(f->d, s);
    static const char space[] = "{\"result\":[{\"qtype\":\"A\",\"qname\":\"sp\\\\032ace.example."
                                "com.\",\"content\":\"192.0.2.32\",\"ttl\":3600}]}\n";
    /* In JSON the name's backslash is escaped once more: "sp\\032ace.example.com." */
    expect_lookup(f, "ANY", "sp\\\\032ace.example.com.", "-1", space);
    expect_lookup(f, "ANY", "SP\\\\032ACE.Example.COM.", "-1", space);
    expect_lookup(f, "A", "sp ace.example.com.", "-1", space);
    expect_lookup(f, "ANY", "\\\\115p\\\\032ace.example.com.", "-1", space);
    expect_lookup(f, "ANY", "dot\\\\.ted.example.com.", "-1",
                  "{\"result\":[{\"qtype\":\"A\",\"qname\":\"dot\\\\.ted.example.com.\","
                  "\"content\":\"192.0.2.46\",\"ttl\":3600}]}\n");
    expect_lookup(f, "ANY", "ted.example.com.", "-1", EMPTY_REPLY);
    dispatch_set_store(f->d, f->example);
    store_free(s);
}

static void test_dispatch_lookup_filters_by_zone_id(void **state)
{
    struct fx *f = *state;
    dispatch_set_store(f->d, f->nested);
    /* sub.example.com. is in both zones: the delegation in the parent, the apex in the child. */
    expect_lookup(f, "ANY", "sub.example.com.", EX_ID, "{\"result\":[" P_DELEG_FRAG "]}\n");
    expect_lookup(f, "ANY", "sub.example.com.", SUB_ID,
                  "{\"result\":[" C_SOA_FRAG "," C_NS_FRAG "]}\n");
    /* Unknown zone id (-1, as pdns sends from getSOA and tools): the deepest zone. */
    expect_lookup(f, "ANY", "sub.example.com.", "-1",
                  "{\"result\":[" C_SOA_FRAG "," C_NS_FRAG "]}\n");
    expect_lookup(f, "SOA", "sub.example.com.", "-1", "{\"result\":[" C_SOA_FRAG "]}\n");
    expect_lookup(f, "SOA", "sub.example.com.", EX_ID, EMPTY_REPLY);
    expect_lookup(f, "ANY", "ns.sub.example.com.", EX_ID, "{\"result\":[" P_GLUE_FRAG "]}\n");
    expect_lookup(f, "ANY", "www.sub.example.com.", EX_ID, EMPTY_REPLY);
    expect_lookup(f, "ANY", "example.com.", SUB_ID, EMPTY_REPLY);
    expect_lookup(f, "ANY", "example.com.", "12345", EMPTY_REPLY);
    /* A numeric string is tolerated. */
    expect_lookup(f, "ANY", "sub.example.com.", "\"" EX_ID "\"",
                  "{\"result\":[" P_DELEG_FRAG "]}\n");
}

static void test_dispatch_lookup_without_zone_id_uses_the_deepest_zone(void **state)
{
    struct fx *f = *state;
    dispatch_set_store(f->d, f->nested);
    expect_reply(f,
                 "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"sub.example.com.\", "
                 "\"qtype\": \"SOA\"}}",
                 "{\"result\":[" C_SOA_FRAG "]}\n");
}

static void test_dispatch_lookup_without_a_store_answers_false(void **state)
{
    struct fx *f = *state;
    dispatch_set_store(f->d, NULL);
    assert_null(dispatch_store(f->d));
    expect_lookup(f, "ANY", "www.example.com.", "-1", FALSE_REPLY);
    expect_lookup(f, "SOA", "example.com.", "-1", FALSE_REPLY);
}

static void test_dispatch_lookup_rejects_bad_parameters(void **state)
{
    struct fx *f = *state;
    char req[1024];
    expect_bad(f,
               "{\"method\": \"lookup\", \"parameters\": {\"qname\": 5, \"qtype\": \"ANY\", "
               "\"zone-id\": -1}}",
               "lookup: parameter 'qname' must be a string, got 5");
    expect_bad(f, lookup_req(req, sizeof(req), "ANY", "www.example.com.", "\"abc\""),
               "lookup: parameter 'zone-id' must be a whole number, got \"abc\"");
    expect_bad(f, lookup_req(req, sizeof(req), "ANY", "www.example.com.", "1.5"),
               "lookup: parameter 'zone-id' must be a whole number, got 1.5");
    expect_bad(f, lookup_req(req, sizeof(req), "ANY", "www.example.com.", "\"\""),
               "lookup: parameter 'zone-id' must be a whole number, got \"\"");
    expect_bad(f, "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"www.example.com.\"}}",
               "lookup: missing parameter 'qtype'");
    expect_bad(f, "{\"method\": \"lookup\", \"parameters\": {\"qtype\": \"ANY\"}}",
               "lookup: missing parameter 'qname'");
    expect_bad(f,
               "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"www.example.com.\", "
               "\"qtype\": 1}}",
               "lookup: parameter 'qtype' must be a string, got 1");
    expect_bad(f, lookup_req(req, sizeof(req), "ANY", "www..example.com.", "-1"),
               "lookup: parameter 'qname': 'www..example.com.' has an empty label");
    expect_bad(f, lookup_req(req, sizeof(req), "ANY", "www.example.com", "-1"),
               "lookup: parameter 'qname': 'www.example.com' is not absolute (it must end in "
               "'.')");
    expect_bad(f, lookup_req(req, sizeof(req), "ANY", "a\\\\999.example.com.", "-1"),
               "lookup: parameter 'qname': 'a\\999.example.com.' has an escape \\999 above 255");
}

/* ---- list --------------------------------------------------------------------------------- */

#define EXAMPLE_LIST                                                                         \
    "{\"result\":[" SOA_FRAG "," NS1_FRAG "," NS2_FRAG "," MX_FRAG "," TXT_FRAG "," DYN_FRAG \
    "," MAIL_FRAG "," NS1_A_FRAG "," WWW_A1_FRAG "," WWW_A2_FRAG "," WWW_AAAA_FRAG "]}\n"

static void test_dispatch_list_returns_the_zone_soa_first(void **state)
{
    struct fx *f = *state;
    expect_reply(f,
                 "{\"method\": \"list\", \"parameters\": {\"domain_id\": " EX_ID
                 ", \"include_disabled\": false, \"zonename\": \"example.com.\"}}",
                 EXAMPLE_LIST);
}

static void test_dispatch_list_finds_the_zone_by_name_without_an_id(void **state)
{
    struct fx *f = *state;
    expect_reply(f,
                 "{\"method\": \"list\", \"parameters\": {\"domain_id\": -1, "
                 "\"include_disabled\": false, \"zonename\": \"Example.COM.\"}}",
                 EXAMPLE_LIST);
    expect_reply(f, "{\"method\": \"list\", \"parameters\": {\"zonename\": \"example.com.\"}}",
                 EXAMPLE_LIST);
}

static void test_dispatch_list_of_nested_zones_keeps_them_apart(void **state)
{
    struct fx *f = *state;
    dispatch_set_store(f->d, f->nested);
    expect_reply(f, "{\"method\": \"list\", \"parameters\": {\"domain_id\": " EX_ID "}}",
                 "{\"result\":[" P_SOA_FRAG "," NS1_FRAG "," NS1_A_FRAG "," P_DELEG_FRAG
                 "," P_GLUE_FRAG "]}\n");
    expect_reply(
        f,
        "{\"method\": \"list\", \"parameters\": {\"domain_id\": -1, \"zonename\": "
        "\"sub.example.com.\"}}",
        "{\"result\":[" C_SOA_FRAG "," C_NS_FRAG
        ",{\"qtype\":\"A\",\"qname\":\"ns.sub.example.com.\",\"content\":\"198.51.100.53\","
        "\"ttl\":3600},{\"qtype\":\"A\",\"qname\":\"www.sub.example.com.\",\"content\":"
        "\"198.51.100.80\",\"ttl\":3600}]}\n");
}

static void test_dispatch_list_of_an_unknown_zone_answers_false(void **state)
{
    struct fx *f = *state;
    expect_reply(f,
                 "{\"method\": \"list\", \"parameters\": {\"domain_id\": -1, \"zonename\": "
                 "\"example.net.\"}}",
                 FALSE_REPLY);
    expect_reply(f,
                 "{\"method\": \"list\", \"parameters\": {\"domain_id\": -1, \"zonename\": "
                 "\"www.example.com.\"}}",
                 FALSE_REPLY);
    expect_reply(f, "{\"method\": \"list\", \"parameters\": {\"domain_id\": 12345}}", FALSE_REPLY);
    dispatch_set_store(f->d, NULL);
    expect_reply(f,
                 "{\"method\": \"list\", \"parameters\": {\"domain_id\": " EX_ID
                 ", \"zonename\": \"example.com.\"}}",
                 FALSE_REPLY);
}

static void test_dispatch_list_rejects_bad_parameters(void **state)
{
    struct fx *f = *state;
    expect_bad(f, "{\"method\": \"list\", \"parameters\": {\"domain_id\": -1}}",
               "list: missing parameter 'zonename'");
    expect_bad(f, "{\"method\": \"list\", \"parameters\": {\"domain_id\": true}}",
               "list: parameter 'domain_id' must be a whole number, got true");
    expect_bad(f, "{\"method\": \"list\", \"parameters\": {\"domain_id\": -1, \"zonename\": 7}}",
               "list: parameter 'zonename' must be a string, got 7");
}

/* ---- domains ------------------------------------------------------------------------------ */

static void test_dispatch_get_all_domains_lists_every_zone(void **state)
{
    struct fx *f = *state;
    expect_reply(f, "{\"method\": \"getAllDomains\", \"parameters\": {\"include_disabled\": true}}",
                 "{\"result\":[{\"id\":" EX_ID ",\"zone\":\"example.com.\",\"kind\":\"native\","
                 "\"serial\":2024010101}]}\n");
    dispatch_set_store(f->d, f->nested);
    expect_reply(f,
                 "{\"method\": \"getAllDomains\", \"parameters\": {\"include_disabled\": false}}",
                 "{\"result\":[{\"id\":" EX_ID ",\"zone\":\"example.com.\",\"kind\":\"native\","
                 "\"serial\":1},{\"id\":" SUB_ID ",\"zone\":\"sub.example.com.\",\"kind\":"
                 "\"native\",\"serial\":2}]}\n");
}

static void test_dispatch_get_all_domains_without_a_store_is_empty(void **state)
{
    struct fx *f = *state;
    dispatch_set_store(f->d, NULL);
    expect_reply(f, "{\"method\": \"getAllDomains\", \"parameters\": {\"include_disabled\": true}}",
                 EMPTY_REPLY);
}

static void test_dispatch_get_domain_info_describes_one_zone(void **state)
{
    struct fx *f = *state;
    static const char info[] = "{\"result\":{\"id\":" EX_ID ",\"zone\":\"example.com.\","
                               "\"kind\":\"native\",\"serial\":2024010101}}\n";
    expect_reply(f, "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": \"example.com.\"}}",
                 info);
    expect_reply(f, "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": \"EXAMPLE.com.\"}}",
                 info);
    dispatch_set_store(f->d, f->nested);
    expect_reply(f,
                 "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": "
                 "\"sub.example.com.\"}}",
                 "{\"result\":{\"id\":" SUB_ID ",\"zone\":\"sub.example.com.\",\"kind\":"
                 "\"native\",\"serial\":2}}\n");
}

static void test_dispatch_get_domain_info_of_an_unknown_zone_answers_false(void **state)
{
    struct fx *f = *state;
    expect_reply(f, "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": \"example.net.\"}}",
                 FALSE_REPLY);
    expect_reply(f,
                 "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": "
                 "\"www.example.com.\"}}",
                 FALSE_REPLY);
    dispatch_set_store(f->d, NULL);
    expect_reply(f, "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": \"example.com.\"}}",
                 FALSE_REPLY);
    dispatch_set_store(f->d, f->example);
    expect_bad(f, "{\"method\": \"getDomainInfo\", \"parameters\": {}}",
               "getDomainInfo: missing parameter 'name'");
}

/* ---- metadata ----------------------------------------------------------------------------- */

static void test_dispatch_get_all_domain_metadata_returns_an_object(void **state)
{
    struct fx *f = *state;
    expect_reply(f,
                 "{\"method\": \"getAllDomainMetadata\", \"parameters\": {\"name\": "
                 "\"example.com.\"}}",
                 "{\"result\":{}}\n");
    expect_reply(f,
                 "{\"method\": \"getAllDomainMetadata\", \"parameters\": {\"name\": "
                 "\"example.net.\"}}",
                 "{\"result\":{}}\n");
    dispatch_set_store(f->d, f->nested);
    expect_reply(f,
                 "{\"method\": \"getAllDomainMetadata\", \"parameters\": {\"name\": "
                 "\"Sub.Example.com.\"}}",
                 "{\"result\":{\"ALSO-NOTIFY\":[\"192.0.2.1\",\"192.0.2.2\"],\"SOA-EDIT-API\":["
                 "\"DEFAULT\"]}}\n");
    dispatch_set_store(f->d, NULL);
    expect_reply(f,
                 "{\"method\": \"getAllDomainMetadata\", \"parameters\": {\"name\": "
                 "\"example.com.\"}}",
                 "{\"result\":{}}\n");
}

static void test_dispatch_get_domain_metadata_returns_the_values_of_one_kind(void **state)
{
    struct fx *f = *state;
    dispatch_set_store(f->d, f->nested);
    expect_reply(f,
                 "{\"method\": \"getDomainMetadata\", \"parameters\": {\"kind\": \"ALSO-NOTIFY\", "
                 "\"name\": \"sub.example.com.\"}}",
                 "{\"result\":[\"192.0.2.1\",\"192.0.2.2\"]}\n");
    expect_reply(f,
                 "{\"method\": \"getDomainMetadata\", \"parameters\": {\"kind\": \"soa-edit-api\", "
                 "\"name\": \"sub.example.com.\"}}",
                 "{\"result\":[\"DEFAULT\"]}\n");
    expect_reply(f,
                 "{\"method\": \"getDomainMetadata\", \"parameters\": {\"kind\": "
                 "\"PRESIGNED\", \"name\": \"sub.example.com.\"}}",
                 EMPTY_REPLY);
    expect_reply(f,
                 "{\"method\": \"getDomainMetadata\", \"parameters\": {\"kind\": "
                 "\"ALSO-NOTIFY\", \"name\": \"example.com.\"}}",
                 EMPTY_REPLY);
    expect_reply(f,
                 "{\"method\": \"getDomainMetadata\", \"parameters\": {\"kind\": "
                 "\"ALSO-NOTIFY\", \"name\": \"example.org.\"}}",
                 EMPTY_REPLY);
    expect_bad(f,
               "{\"method\": \"getDomainMetadata\", \"parameters\": {\"name\": \"example.com.\"}}",
               "getDomainMetadata: missing parameter 'kind'");
}

/* ---- directBackendCmd --------------------------------------------------------------------- */

static void test_dispatch_backend_cmd_help_lists_the_commands(void **state)
{
    struct fx *f = *state;
    const char *r = call(f,
                         "{\"method\": \"directBackendCmd\", \"parameters\": {\"query\": "
                         "\"help\"}}",
                         0);
    static const char *const cmds[] = {"help", "version", "zones", "health", "explain", "drain",
                                       "down", "up",      "auto",  "stats",  "reload"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        char want[32];
        snprintf(want, sizeof(want), "\\n  %s ", cmds[i]);
        assert_non_null(strstr(r, want));
    }
}

static void test_dispatch_backend_cmd_version_names_the_version(void **state)
{
    struct fx *f = *state;
    expect_reply(f, "{\"method\": \"directBackendCmd\", \"parameters\": {\"query\": \"version\"}}",
                 "{\"result\":\"pdns-failover " PF_VERSION "\\n\"}\n");
    /* Case and surrounding blanks do not matter. */
    expect_reply(f,
                 "{\"method\": \"directBackendCmd\", \"parameters\": {\"query\": \" \\tVERSION "
                 "\\n\"}}",
                 "{\"result\":\"pdns-failover " PF_VERSION "\\n\"}\n");
}

static void test_dispatch_backend_cmd_zones_lists_each_zone(void **state)
{
    struct fx *f = *state;
    dispatch_set_store(f->d, f->nested);
    expect_reply(f, "{\"method\": \"directBackendCmd\", \"parameters\": {\"query\": \"zones\"}}",
                 "{\"result\":\"example.com. id=" EX_ID " serial=1 records=5\\n"
                 "sub.example.com. id=" SUB_ID " serial=2 records=4\\n\"}\n");
    dispatch_set_store(f->d, NULL);
    expect_reply(f, "{\"method\": \"directBackendCmd\", \"parameters\": {\"query\": \"zones\"}}",
                 "{\"result\":\"no store loaded\\n\"}\n");
}

static void test_dispatch_backend_cmd_echoes_an_unknown_command(void **state)
{
    struct fx *f = *state;
    expect_reply(f, "{\"method\": \"directBackendCmd\", \"parameters\": {\"query\": \"frob 1\"}}",
                 "{\"result\":\"unknown command: frob 1 (try 'help')\\n\"}\n");
    /* Quotes and newlines in the command stay inside the JSON string. */
    expect_reply(f,
                 "{\"method\": \"directBackendCmd\", \"parameters\": {\"query\": "
                 "\"a\\\"b\\nc\"}}",
                 "{\"result\":\"unknown command: a\\\"b\\nc (try 'help')\\n\"}\n");
    expect_bad(f, "{\"method\": \"directBackendCmd\", \"parameters\": {}}",
               "directBackendCmd: missing parameter 'query'");
}

/* ---- methods ------------------------------------------------------------------------------ */

static void test_dispatch_unknown_method_answers_false(void **state)
{
    struct fx *f = *state;
    expect_reply(f, "{\"method\": \"getDomainKeys\", \"parameters\": {\"name\": \"example.com.\"}}",
                 FALSE_REPLY);
    expect_reply(f, "{\"method\": \"\", \"parameters\": {}}", FALSE_REPLY);
    expect_reply(f, "{\"method\": \"lookupx\", \"parameters\": {}}", FALSE_REPLY);
}

static void test_dispatch_matches_method_names_case_insensitively(void **state)
{
    struct fx *f = *state;
    expect_lookup(f, "ANY", "ns1.example.com.", "-1", "{\"result\":[" NS1_A_FRAG "]}\n");
    expect_reply(f,
                 "{\"method\": \"LOOKUP\", \"parameters\": {\"qname\": \"ns1.example.com.\", "
                 "\"qtype\": \"ANY\", \"zone-id\": -1}}",
                 "{\"result\":[" NS1_A_FRAG "]}\n");
    expect_reply(f, "{\"method\": \"getalldomains\", \"parameters\": {}}",
                 "{\"result\":[{\"id\":" EX_ID ",\"zone\":\"example.com.\",\"kind\":\"native\","
                 "\"serial\":2024010101}]}\n");
    expect_reply(f, "{\"method\": \"GetDomainInfo\", \"parameters\": {\"name\": \"example.com.\"}}",
                 "{\"result\":{\"id\":" EX_ID ",\"zone\":\"example.com.\",\"kind\":\"native\","
                 "\"serial\":2024010101}}\n");
    expect_reply(f, "{\"method\": \"Initialize\", \"parameters\": {}}", "{\"result\":true}\n");
}

static void test_dispatch_accepts_missing_or_null_parameters(void **state)
{
    struct fx *f = *state;
    static const char all[] = "{\"result\":[{\"id\":" EX_ID ",\"zone\":\"example.com.\","
                              "\"kind\":\"native\",\"serial\":2024010101}]}\n";
    expect_reply(f, "{\"method\": \"getAllDomains\"}", all);
    expect_reply(f, "{\"method\": \"getAllDomains\", \"parameters\": null}", all);
    expect_bad(f, "{\"method\": \"getDomainInfo\"}", "getDomainInfo: missing parameter 'name'");
}

static void test_dispatch_accepts_a_carriage_return_and_blanks_after_the_request(void **state)
{
    struct fx *f = *state;
    expect_reply(f, "{\"method\": \"initialize\", \"parameters\": {}} \t\r", "{\"result\":true}\n");
    expect_reply(f, "  {\"method\": \"initialize\", \"parameters\": {}}", "{\"result\":true}\n");
}

/* ---- malformed requests ------------------------------------------------------------------- */

static void test_dispatch_rejects_a_line_that_is_not_json(void **state)
{
    struct fx *f = *state;
    expect_bad(f, "hello", "bad request: unexpected character at byte 0");
    expect_bad(f, "{\"method\": 'lookup'}", "bad request: unexpected character at byte 11");
}

static void test_dispatch_rejects_truncated_json(void **state)
{
    struct fx *f = *state;
    expect_bad(f, "{\"method\":\"lookup\"", "bad request: unexpected end of JSON at byte 18");
    expect_bad(f, "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"www.exa",
               "bad request: unexpected end of JSON at byte 53");
}

static void test_dispatch_rejects_trailing_garbage(void **state)
{
    struct fx *f = *state;
    expect_bad(f, "{\"method\": \"getAllDomains\", \"parameters\": {}} x",
               "bad request: unexpected character at byte 46");
    expect_bad(f, "{\"method\": \"getAllDomains\"}{\"method\": \"getAllDomains\"}",
               "bad request: unexpected character at byte 27");
}

static void test_dispatch_rejects_requests_that_are_not_objects(void **state)
{
    struct fx *f = *state;
    static const char want[] = "bad request: expected {\"method\": \"...\", \"parameters\": {...}}";
    expect_bad(f, "[{\"method\": \"lookup\"}]", want);
    expect_bad(f, "\"lookup\"", want);
    expect_bad(f, "null", want); /* whole, not cut short (json-c wanted a byte after it) */
}

static void test_dispatch_rejects_a_missing_or_non_string_method(void **state)
{
    struct fx *f = *state;
    static const char want[] = "bad request: expected {\"method\": \"...\", \"parameters\": {...}}";
    expect_bad(f, "{\"parameters\": {}}", want);
    expect_bad(f, "{\"method\": 1, \"parameters\": {}}", want);
    expect_bad(f, "{\"method\": null, \"parameters\": {}}", want);
    expect_bad(f, "{\"method\": [\"lookup\"], \"parameters\": {}}", want);
    expect_bad(f, "{\"Method\": \"lookup\", \"parameters\": {}}", want);
}

static void test_dispatch_rejects_parameters_that_are_not_an_object(void **state)
{
    struct fx *f = *state;
    expect_bad(f, "{\"method\": \"lookup\", \"parameters\": []}",
               "bad request: 'parameters' must be an object");
    expect_bad(f, "{\"method\": \"getAllDomains\", \"parameters\": \"x\"}",
               "bad request: 'parameters' must be an object");
}

static void test_dispatch_rejects_a_bare_number_or_literal_as_not_an_object(void **state)
{
    struct fx *f = *state;
    /* json-c wants a byte after a number or literal to end it: these are whole, not cut short. */
    static const char *const reqs[] = {"17", "-1.5e3", "null", "true", "false", "  7 \r"};
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
        expect_bad(f, reqs[i],
                   "bad request: expected {\"method\": \"...\", \"parameters\": {...}}");
    expect_bad(f, "[1, 2", "bad request: unexpected end of JSON at byte 5");
    expect_bad(f, "{\"method\": \"lookup\"", "bad request: unexpected end of JSON at byte 19");
    expect_bad(f, "nul", "bad request: null expected at byte 3");
    expect_bad(f, "17 18", "bad request: unexpected character at byte 3");
}

static void test_dispatch_rejects_a_nul_byte(void **state)
{
    struct fx *f = *state;
    static const char req[] = "{\"method\": \"getAllDomains\"\0, \"parameters\": {}}";
    expect_bad_len(f, req, sizeof(req) - 1, "request contains a NUL byte");
}

static void test_dispatch_rejects_an_empty_line(void **state)
{
    struct fx *f = *state;
    expect_bad(f, "", "empty request line");
    expect_bad(f, "\r", "empty request line");
    expect_bad(f, " \t \r", "empty request line");
}

static void test_dispatch_rejects_invalid_utf8_and_deep_nesting(void **state)
{
    struct fx *f = *state;
    expect_bad(f, "{\"method\": \"lookup\xff\"}", "bad request: invalid utf-8 string at byte 18");
    expect_bad(f,
               "{\"method\": \"lookup\", \"parameters\": {\"a\": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]"
               "]]]]]]]}}",
               "bad request: nesting too deep at byte 55");
}

static void test_dispatch_refuses_too_many_values_before_parsing_them(void **state)
{
    struct fx *f = *state;
    static const char head[] = "{\"method\": \"lookup\", \"parameters\": {\"qname\": "
                               "\"www.example.com.\", \"qtype\": \"A\", \"pad\": ";
    struct sbuf req = SBUF_INIT;
    sbuf_puts(&req, head);
    sbuf_putc(&req, '[');
    for (int i = 0; i < DISPATCH_MAX_VALUES; i++)
        sbuf_puts(&req, "1,");
    sbuf_puts(&req, "1]}}");
    char msg[64];
    snprintf(msg, sizeof(msg), "bad request: more than %d JSON values", DISPATCH_MAX_VALUES);
    expect_bad(f, sbuf_str(&req), msg);
    /* Commas and brackets in strings are not values: a big string is one. */
    sbuf_reset(&req);
    sbuf_puts(&req, head);
    sbuf_putc(&req, '"');
    for (int i = 0; i < DISPATCH_MAX_VALUES; i++)
        sbuf_puts(&req, ",[{\\\"");
    sbuf_puts(&req, "\"}}");
    const char *reply = call(f, sbuf_str(&req), 0);
    assert_non_null(strstr(reply, "\"content\":\"192.0.2.10\""));
    sbuf_free(&req);
}

/* ---- the reply line ----------------------------------------------------------------------- */

static void test_dispatch_appends_to_the_output_buffer(void **state)
{
    struct fx *f = *state;
    struct sbuf out = SBUF_INIT;
    struct errbuf err;
    sbuf_puts(&out, "{\"result\":true}\n");
    static const char req[] = "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": 1}}";
    assert_int_equal(dispatch_request(f->d, &f->ss, req, strlen(req), &out, &err), -EINVAL);
    assert_string_equal(sbuf_str(&out), "{\"result\":true}\n"
                                        "{\"result\":false,\"log\":[\"getDomainInfo: parameter "
                                        "'name' must be a string, got 1\"]}\n");
    static const char ok[] = "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": \"x.\"}}";
    assert_int_equal(dispatch_request(f->d, &f->ss, ok, strlen(ok), &out, &err), 0);
    assert_true(out.len > 17 && strcmp(out.p + out.len - 17, "{\"result\":false}\n") == 0);
    sbuf_free(&out);
}

static void test_dispatch_counts_every_request_in_the_session(void **state)
{
    struct fx *f = *state;
    assert_int_equal(f->ss.requests, 0);
    call(f, "{\"method\": \"getAllDomains\"}", 0);
    call(f, "garbage", -EINVAL);
    call(f, "", -EINVAL);
    call(f, "{\"method\": \"nope\"}", 0);
    assert_int_equal(f->ss.requests, 4);
}

static void test_dispatch_every_reply_is_exactly_one_line(void **state)
{
    struct fx *f = *state;
    /* A mix of everything above; call() checks each reply's shape. Messages quoting request
     * bytes must not let a newline, a quote or a backslash out of the JSON string. */
    static const char *const reqs[] = {
        "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"a\\nb.\", \"qtype\": \"ANY\"}}",
        "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"a\\\\\", \"qtype\": \"ANY\"}}",
        "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"x\\\"y\", \"qtype\": \"ANY\"}}",
        ("{\"method\": \"lookup\", \"parameters\": {\"qname\": \"www.example.com.\", \"qtype\": "
         "\"ANY\", \"zone-id\": \"1\\n2\"}}"),
        "{\"method\": \"directBackendCmd\", \"parameters\": {\"query\": \"\\r\\n\\u0001\"}}",
        "{\"method\": \"directBackendCmd\", \"parameters\": {\"query\": \"help\"}}",
        "{\"method\": \"list\", \"parameters\": {\"zonename\": \"example.com.\"}}",
        "\n",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        sbuf_reset(&f->out);
        int r = dispatch_request(f->d, &f->ss, reqs[i], strlen(reqs[i]), &f->out, &f->err);
        assert_true(r == 0 || r == -EINVAL);
        check_reply_shape(sbuf_str(&f->out), f->out.len);
    }
}

static void test_dispatch_keeps_replies_valid_utf8_when_a_quoted_value_is_cut(void **state)
{
    struct fx *f = *state;
    /* "\xc3\xa9" is U+00E9; messages quote at most 60 (parameters) or 80 (names) bytes, which
     * here ends inside a character. The cut character becomes '?'. */
    char e40[81] = "", e29[59] = "", e39[79] = "", req[512], want[512];
    for (int i = 0; i < 40; i++)
        strcat(e40, "\xc3\xa9");
    memcpy(e29, e40, 58);
    memcpy(e39, e40, 78);

    snprintf(req, sizeof(req),
             "{\"method\": \"lookup\", \"parameters\": {\"qname\": "
             "\"example.com.\", \"qtype\": \"ANY\", \"zone-id\": \"%s\"}}",
             e40);
    snprintf(want, sizeof(want),
             "{\"result\":false,\"log\":[\"lookup: parameter 'zone-id' must "
             "be a whole number, got \\\"%s?\"]}\n",
             e29);
    assert_string_equal(call(f, req, -EINVAL), want);
    /* The caller's copy is for a log file, not JSON: it keeps the bytes. */
    static const char prefix[] = "lookup: parameter 'zone-id' must be a whole number, got \"";
    assert_true(strncmp(f->err.msg, prefix, sizeof(prefix) - 1) == 0);
    assert_true(strncmp(f->err.msg + sizeof(prefix) - 1, e29, strlen(e29)) == 0);

    snprintf(req, sizeof(req),
             "{\"method\": \"lookup\", \"parameters\": {\"qname\": "
             "\"a%s..\", \"qtype\": \"ANY\"}}",
             e40);
    snprintf(want, sizeof(want),
             "{\"result\":false,\"log\":[\"lookup: parameter 'qname': 'a%s?' "
             "has a label longer than 63 bytes\"]}\n",
             e39);
    assert_string_equal(call(f, req, -EINVAL), want);
}

/* ---- transactions ------------------------------------------------------------------------- */

/* A writer that keeps the "file" in memory: read() gives a copy of the committed document,
 * commit() applies the ops to a copy, builds the store from its canonical text and installs it,
 * as main.c's writer does with the store file. */
struct fake_writer {
    dispatch_t *d;
    json_object *doc; /* committed */
    store_t *store;   /* built from doc, in service */
    int reads, commits, installs;
    size_t last_nops;
    int fail_read;   /* -errno: read() fails */
    int fail_commit; /* -errno: commit() fails */
};

static json_object *parse_doc(const char *text)
{
    json_object *doc = json_tokener_parse(text);
    assert_non_null(doc);
    return doc;
}

static store_t *build_rendered(json_object *doc, struct errlist *errs)
{
    struct sbuf text = SBUF_INIT;
    store_t *s = NULL;
    storefmt_render(doc, &text);
    if (store_build(sbuf_str(&text), text.len, &s, errs) < 0)
        s = NULL;
    sbuf_free(&text);
    return s;
}

static int fake_read(void *opaque, json_object **doc, struct errlist *errs)
{
    struct fake_writer *w = opaque;
    w->reads++;
    if (w->fail_read) {
        errlist_add(errs, "cannot open the store file (No such file or directory)");
        return w->fail_read;
    }
    struct sbuf text = SBUF_INIT;
    storefmt_render(w->doc, &text);
    *doc = parse_doc(sbuf_str(&text));
    sbuf_free(&text);
    return 0;
}

static int fake_commit(
    void *opaque, struct edit_op *ops, size_t n, struct dispatch_commit *res, struct errlist *errs)
{
    struct fake_writer *w = opaque;
    struct errbuf err;
    w->commits++;
    w->last_nops = n;
    if (w->fail_commit) {
        errlist_add(errs, "cannot write '/x/store.json.tmp': No space left on device");
        errlist_add(errs, "a second reason");
        return w->fail_commit;
    }
    json_object *copy = NULL;
    assert_int_equal(json_object_deep_copy(w->doc, &copy, NULL), 0);
    int r = edit_apply(copy, ops, n, &err);
    if (r < 0) {
        errlist_add(errs, "%s", err.msg);
        json_object_put(copy);
        return r;
    }
    struct errlist why = ERRLIST_INIT;
    store_t *s = build_rendered(copy, &why);
    if (!s) {
        errlist_add(errs, "not written, the store would not load after this edit: %s",
                    why.n ? why.msgs[0] : "?");
        for (size_t i = 1; i < why.n; i++)
            errlist_add(errs, "%s", why.msgs[i]);
        errlist_free(&why);
        json_object_put(copy);
        return -EINVAL;
    }
    json_object_put(w->doc);
    w->doc = copy;
    res->store = s;
    return 0;
}

static void fake_install(void *opaque, struct dispatch_commit *res)
{
    struct fake_writer *w = opaque;
    w->installs++;
    dispatch_set_store(w->d, res->store); /* in service before the old one goes */
    store_free(w->store);
    w->store = res->store;
    res->store = NULL;
}

/* Puts a fake writer holding `json` behind f->d; the fixture's teardown frees it. */
static struct fake_writer *use_writer(struct fx *f, const char *json)
{
    struct fake_writer *w = calloc(1, sizeof(*w));
    w->d = f->d;
    w->doc = parse_doc(json);
    struct errlist errs = ERRLIST_INIT;
    w->store = build_rendered(w->doc, &errs);
    errlist_free(&errs);
    assert_non_null(w->store);
    dispatch_set_store(f->d, w->store);
    struct dispatch_writer dw = {
        .read = fake_read, .commit = fake_commit, .install = fake_install, .opaque = w};
    dispatch_set_writer(f->d, &dw);
    f->writer = w;
    return w;
}

static void free_writer(struct fake_writer *w)
{
    if (!w)
        return;
    json_object_put(w->doc);
    store_free(w->store);
    free(w);
}

static const char *call_in(struct fx *f, struct session *ss, const char *req, int want_rc)
{
    struct session keep = f->ss;
    f->ss = *ss;
    const char *reply = call(f, req, want_rc);
    *ss = f->ss;
    f->ss = keep;
    return reply;
}

#define START_INCREMENTAL                                                                \
    "{\"method\": \"startTransaction\", \"parameters\": {\"domain\": \"example.com.\", " \
    "\"domain_id\": -1, \"trxid\": 1700000000}}"
#define START_WHOLE                                                                      \
    "{\"method\": \"startTransaction\", \"parameters\": {\"domain\": \"example.com.\", " \
    "\"domain_id\": " EX_ID ", \"trxid\": 1700000000}}"
#define COMMIT_REQ "{\"method\": \"commitTransaction\", \"parameters\": {\"trxid\": 1700000000}}"
#define ABORT_REQ  "{\"method\": \"abortTransaction\", \"parameters\": {\"trxid\": 1700000000}}"
#define TRUE_REPLY "{\"result\":true}\n"
/* replaceRRSet as pdnsutil replace-rrset sends it: one record. */
#define REPLACE_REQ(qname, qtype, content, ttl)                                                   \
    "{\"method\": \"replaceRRSet\", \"parameters\": {\"domain_id\": " EX_ID                       \
    ", \"qname\": \"" qname "\", \"qtype\": \"" qtype                                             \
    "\", \"rrset\": [{\"auth\": true, \"content\": \"" content                                    \
    "\", \"qclass\": 1, \"qname\": \"" qname "\", \"qtype\": \"" qtype "\", \"ttl\": " ttl "}], " \
    "\"trxid\": 1700000000}}"
#define FEED_REQ(qname, qtype, content, ttl)                                               \
    "{\"method\": \"feedRecord\", \"parameters\": {\"rr\": {\"auth\": true, \"content\": " \
    "\"" content "\", \"ordername\": null, \"qclass\": 1, \"qname\": \"" qname             \
    "\", \"qtype\": \"" qtype "\", \"ttl\": " ttl "}, \"trxid\": 1700000000}}"
#define NEW_WWW_FRAG \
    "{\"qtype\":\"A\",\"qname\":\"www.example.com.\",\"content\":\"192.0.2.99\",\"ttl\":120}"

/* The reply must be false with `nlines` log lines: the first equal to `first` and, unless `part`
 * is NULL, a later one containing `part`. */
static void expect_false_log(const char *reply, size_t nlines, const char *first, const char *part)
{
    json_object *o = json_tokener_parse(reply);
    json_object *res = NULL, *log = NULL;
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "result", &res));
    assert_true(json_object_is_type(res, json_type_boolean));
    assert_false(json_object_get_boolean(res));
    assert_true(json_object_object_get_ex(o, "log", &log));
    size_t n = json_object_array_length(log);
    if (n != nlines)
        print_error("wanted %zu log lines in %s", nlines, reply);
    assert_int_equal(n, nlines);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(log, 0)), first);
    bool found = part == NULL;
    for (size_t i = 1; i < n && !found; i++)
        found = strstr(json_object_get_string(json_object_array_get_idx(log, i)), part) != NULL;
    if (!found)
        print_error("no log line after the first contains '%s' in %s", part, reply);
    assert_true(found);
    json_object_put(o);
}

static void test_dispatch_start_transaction_of_an_unknown_zone_answers_false(void **state)
{
    struct fx *f = *state;
    struct fake_writer *w = use_writer(f, helpers_example_json);
    assert_string_equal(call(f,
                             "{\"method\": \"startTransaction\", \"parameters\": {\"domain\": "
                             "\"example.org.\", \"domain_id\": -1, \"trxid\": 1700000000}}",
                             -EINVAL),
                        "{\"result\":false,\"log\":[\"startTransaction: zone 'example.org.' is "
                        "not in the store\"]}\n");
    assert_string_equal(f->err.msg, "startTransaction: zone 'example.org.' is not in the store");
    assert_null(f->ss.txn);
    /* A name inside a zone is not the zone. */
    call(f,
         "{\"method\": \"startTransaction\", \"parameters\": {\"domain\": \"www.example.com.\", "
         "\"domain_id\": -1, \"trxid\": 1}}",
         -EINVAL);
    assert_null(f->ss.txn);
    assert_int_equal(w->reads + w->commits, 0);
}

static void test_dispatch_start_transaction_with_another_zones_id_answers_false(void **state)
{
    struct fx *f = *state;
    use_writer(f, helpers_example_json);
    assert_string_equal(call(f,
                             "{\"method\": \"startTransaction\", \"parameters\": {\"domain\": "
                             "\"example.com.\", \"domain_id\": 5, \"trxid\": 1700000000}}",
                             -EINVAL),
                        "{\"result\":false,\"log\":[\"startTransaction: domain_id 5 is not the id "
                        "of 'example.com.' (" EX_ID ")\"]}\n");
    assert_null(f->ss.txn);
    /* The zone's name in any case is the zone. */
    expect_reply(f,
                 "{\"method\": \"startTransaction\", \"parameters\": {\"domain\": "
                 "\"EXAMPLE.com.\", \"domain_id\": " EX_ID ", \"trxid\": 1700000000}}",
                 TRUE_REPLY);
    assert_non_null(f->ss.txn);
}

static void test_dispatch_start_transaction_rejects_bad_parameters(void **state)
{
    struct fx *f = *state;
    use_writer(f, helpers_example_json);
    expect_bad(f, "{\"method\": \"startTransaction\", \"parameters\": {\"domain_id\": -1}}",
               "startTransaction: missing parameter 'domain'");
    expect_bad(f,
               "{\"method\": \"startTransaction\", \"parameters\": {\"domain\": \"example.com.\", "
               "\"domain_id\": \"x\"}}",
               "startTransaction: parameter 'domain_id' must be a whole number, got \"x\"");
    assert_null(f->ss.txn);
}

static void test_dispatch_edits_without_a_transaction_answer_false(void **state)
{
    struct fx *f = *state;
    struct fake_writer *w = use_writer(f, helpers_example_json);
    assert_string_equal(call(f, REPLACE_REQ("www.example.com.", "A", "192.0.2.99", "120"), -EINVAL),
                        "{\"result\":false,\"log\":[\"replaceRRSet: no transaction is open on "
                        "this connection\"]}\n");
    assert_string_equal(call(f, FEED_REQ("www.example.com.", "A", "192.0.2.99", "120"), -EINVAL),
                        "{\"result\":false,\"log\":[\"feedRecord: no transaction is open on this "
                        "connection\"]}\n");
    assert_string_equal(call(f, COMMIT_REQ, -EINVAL),
                        "{\"result\":false,\"log\":[\"commitTransaction: no transaction is open on "
                        "this connection\"]}\n");
    /* Nothing to roll back is fine. */
    expect_reply(f, ABORT_REQ, TRUE_REPLY);
    assert_int_equal(w->reads + w->commits, 0);
    expect_lookup(f, "A", "www.example.com.", EX_ID,
                  "{\"result\":[" WWW_A1_FRAG "," WWW_A2_FRAG "]}\n");
}

static void test_dispatch_feed_ents_is_accepted_only_in_a_transaction(void **state)
{
    struct fx *f = *state;
    struct fake_writer *w = use_writer(f, helpers_example_json);
    static const char ents[] = "{\"method\": \"feedEnts\", \"parameters\": {\"domain_id\": " EX_ID
                               ", \"nonterm\": [{\"nonterm\": \"x\", \"auth\": true}], \"trxid\": "
                               "1700000000}}";
    assert_string_equal(call(f, ents, -EINVAL), "{\"result\":false,\"log\":[\"feedEnts: no "
                                                "transaction is open on this connection\"]}\n");
    expect_reply(f, START_INCREMENTAL, TRUE_REPLY);
    expect_reply(f, ents, TRUE_REPLY);
    /* Empty non-terminals come from the names: nothing to commit. */
    expect_reply(f, COMMIT_REQ, TRUE_REPLY);
    assert_int_equal(w->commits, 0);
}

static void test_dispatch_edits_without_a_writer_answer_false_naming_config(void **state)
{
    struct fx *f = *state;
    static const char want[] = "{\"result\":false,\"log\":[\"edits are not possible: this backend "
                               "has no store file to write (start it with --config FILE)\"]}\n";
    assert_string_equal(call(f, START_INCREMENTAL, 0), want);
    assert_null(f->ss.txn);
    assert_string_equal(call(f,
                             "{\"method\": \"setDomainMetadata\", \"parameters\": {\"kind\": "
                             "\"ALLOW-DNSUPDATE-FROM\", \"name\": \"example.com.\", \"value\": "
                             "[\"127.0.0.0/8\"]}}",
                             0),
                        want);
    /* Removing the writer again. */
    use_writer(f, helpers_example_json);
    dispatch_set_writer(f->d, NULL);
    assert_string_equal(call(f, START_WHOLE, 0), want);
}

static void test_dispatch_transaction_reads_its_own_writes(void **state)
{
    struct fx *f = *state;
    struct fake_writer *w = use_writer(f, helpers_example_json);
    struct session other = {0};
    char req[1024];
    expect_reply(f, START_INCREMENTAL, TRUE_REPLY);
    expect_reply(f, REPLACE_REQ("www.example.com.", "A", "192.0.2.99", "120"), TRUE_REPLY);
    /* This session sees the edit (pdnsutil looks the RRset up again before committing)... */
    expect_lookup(f, "A", "www.example.com.", EX_ID, "{\"result\":[" NEW_WWW_FRAG "]}\n");
    expect_lookup(f, "ANY", "www.example.com.", EX_ID,
                  "{\"result\":[" NEW_WWW_FRAG "," WWW_AAAA_FRAG "]}\n");
    /* ... another does not. */
    assert_string_equal(
        call_in(f, &other, lookup_req(req, sizeof(req), "A", "www.example.com.", EX_ID), 0),
        "{\"result\":[" WWW_A1_FRAG "," WWW_A2_FRAG "]}\n");
    assert_int_equal(w->commits, 0);

    expect_reply(f, COMMIT_REQ, TRUE_REPLY);
    assert_null(f->ss.txn);
    assert_int_equal(w->commits, 1);
    assert_int_equal(w->last_nops, 1);
    assert_string_equal(
        call_in(f, &other, lookup_req(req, sizeof(req), "A", "www.example.com.", EX_ID), 0),
        "{\"result\":[" NEW_WWW_FRAG "]}\n");
    expect_lookup(f, "A", "www.example.com.", EX_ID, "{\"result\":[" NEW_WWW_FRAG "]}\n");
    dispatch_session_end(f->d, &other);
}

static void test_dispatch_transaction_shows_its_serial_to_its_session_only(void **state)
{
    struct fx *f = *state;
    use_writer(f, helpers_example_json);
    struct session other = {0};
    static const char info[] =
        "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": \"example.com.\"}}";
    expect_reply(f, START_INCREMENTAL, TRUE_REPLY);
    expect_reply(f,
                 REPLACE_REQ("example.com.", "SOA",
                             "ns1.example.com hostmaster.example.com 2024010102 7200 3600 "
                             "1209600 300",
                             "3600"),
                 TRUE_REPLY);
    expect_reply(f, info,
                 "{\"result\":{\"id\":" EX_ID ",\"zone\":\"example.com.\",\"kind\":\"native\","
                 "\"serial\":2024010102}}\n");
    assert_string_equal(call_in(f, &other, info, 0),
                        "{\"result\":{\"id\":" EX_ID ",\"zone\":\"example.com.\",\"kind\":"
                        "\"native\",\"serial\":2024010101}}\n");
    expect_reply(f, COMMIT_REQ, TRUE_REPLY);
    assert_string_equal(call_in(f, &other, info, 0),
                        "{\"result\":{\"id\":" EX_ID ",\"zone\":\"example.com.\",\"kind\":"
                        "\"native\",\"serial\":2024010102}}\n");
    dispatch_session_end(f->d, &other);
}

static void test_dispatch_abort_transaction_discards_the_edits(void **state)
{
    struct fx *f = *state;
    struct fake_writer *w = use_writer(f, helpers_example_json);
    expect_reply(f, START_INCREMENTAL, TRUE_REPLY);
    expect_reply(f, REPLACE_REQ("www.example.com.", "A", "192.0.2.99", "120"), TRUE_REPLY);
    expect_lookup(f, "A", "www.example.com.", EX_ID, "{\"result\":[" NEW_WWW_FRAG "]}\n");
    expect_reply(f, ABORT_REQ, TRUE_REPLY);
    assert_null(f->ss.txn);
    expect_lookup(f, "A", "www.example.com.", EX_ID,
                  "{\"result\":[" WWW_A1_FRAG "," WWW_A2_FRAG "]}\n");
    /* Nothing left to commit. */
    call(f, COMMIT_REQ, -EINVAL);
    assert_int_equal(w->commits, 0);
}

static void test_dispatch_session_end_discards_the_edits(void **state)
{
    struct fx *f = *state;
    struct fake_writer *w = use_writer(f, helpers_example_json);
    expect_reply(f, START_INCREMENTAL, TRUE_REPLY);
    expect_reply(f, FEED_REQ("new.example.com.", "A", "192.0.2.77", "300"), TRUE_REPLY);
    assert_non_null(f->ss.txn);
    dispatch_session_end(f->d, &f->ss);
    assert_null(f->ss.txn);
    dispatch_session_end(f->d, &f->ss); /* twice is fine */
    expect_lookup(f, "ANY", "new.example.com.", EX_ID, EMPTY_REPLY);
    assert_int_equal(w->commits, 0);
}

static void test_dispatch_a_second_start_transaction_drops_the_first(void **state)
{
    struct fx *f = *state;
    struct fake_writer *w = use_writer(f, helpers_example_json);
    expect_reply(f, START_INCREMENTAL, TRUE_REPLY);
    expect_reply(f, FEED_REQ("new.example.com.", "A", "192.0.2.77", "300"), TRUE_REPLY);
    expect_reply(f, START_INCREMENTAL, TRUE_REPLY);
    expect_lookup(f, "ANY", "new.example.com.", EX_ID, EMPTY_REPLY);
    /* An empty transaction commits without writing. */
    expect_reply(f, COMMIT_REQ, TRUE_REPLY);
    assert_int_equal(w->commits, 0);
}

static void test_dispatch_commit_with_a_failing_writer_answers_null_with_the_reasons(void **state)
{
    struct fx *f = *state;
    struct fake_writer *w = use_writer(f, helpers_example_json);
    w->fail_commit = -ENOSPC;
    expect_reply(f, START_INCREMENTAL, TRUE_REPLY);
    expect_reply(f, REPLACE_REQ("www.example.com.", "A", "192.0.2.99", "120"), TRUE_REPLY);
    assert_string_equal(call(f, COMMIT_REQ, -EINVAL),
                        "{\"result\":null,\"log\":[\"commitTransaction: nothing was changed: "
                        "cannot write '/x/store.json.tmp': No space left on device\",\"a second "
                        "reason\"]}\n");
    assert_string_equal(f->err.msg, "commitTransaction: nothing was changed: cannot write "
                                    "'/x/store.json.tmp': No space left on device");
    assert_int_equal(w->commits, 1);
    /* The transaction is over, the store unchanged. */
    assert_null(f->ss.txn);
    expect_lookup(f, "A", "www.example.com.", EX_ID,
                  "{\"result\":[" WWW_A1_FRAG "," WWW_A2_FRAG "]}\n");
}

static void test_dispatch_commit_of_a_store_that_would_not_load_answers_null(void **state)
{
    struct fx *f = *state;
    struct fake_writer *w = use_writer(f, helpers_example_json);
    expect_reply(f, START_INCREMENTAL, TRUE_REPLY);
    /* A CNAME next to the A records: the session's view cannot be built, so it answers from
     * the committed store; the commit checks the end result. */
    expect_reply(f, REPLACE_REQ("www.example.com.", "CNAME", "mail.example.com", "3600"),
                 TRUE_REPLY);
    expect_lookup(f, "A", "www.example.com.", EX_ID,
                  "{\"result\":[" WWW_A1_FRAG "," WWW_A2_FRAG "]}\n");
    const char *reply = call(f, COMMIT_REQ, -EINVAL);
    assert_non_null(strstr(reply, "{\"result\":null,\"log\":[\"commitTransaction: nothing was "
                                  "changed: not written, the store would not load after this "
                                  "edit: zones[\\\"example.com.\\\"].records[\\\"www\\\"]: "
                                  "a CNAME must be the only record"));
    assert_int_equal(w->commits, 1);
    expect_lookup(f, "ANY", "www.example.com.", EX_ID,
                  "{\"result\":[" WWW_A1_FRAG "," WWW_A2_FRAG "," WWW_AAAA_FRAG "]}\n");
}

static void test_dispatch_cname_replacing_an_a_rrset_in_two_edits_commits(void **state)
{
    struct fx *f = *state;
    use_writer(f, helpers_example_json);
    expect_reply(f, START_INCREMENTAL, TRUE_REPLY);
    expect_reply(f, REPLACE_REQ("www.example.com.", "CNAME", "mail.example.com", "3600"),
                 TRUE_REPLY);
    expect_reply(f,
                 "{\"method\": \"replaceRRSet\", \"parameters\": {\"domain_id\": " EX_ID
                 ", \"qname\": \"www.example.com.\", \"qtype\": \"A\", \"rrset\": [], \"trxid\": "
                 "1700000000}}",
                 TRUE_REPLY);
    expect_reply(f,
                 "{\"method\": \"replaceRRSet\", \"parameters\": {\"domain_id\": " EX_ID
                 ", \"qname\": \"www.example.com.\", \"qtype\": \"AAAA\", \"rrset\": [], "
                 "\"trxid\": 1700000000}}",
                 TRUE_REPLY);
    /* Valid again: the session sees the CNAME. */
    expect_lookup(f, "ANY", "www.example.com.", EX_ID,
                  "{\"result\":[{\"qtype\":\"CNAME\",\"qname\":\"www.example.com.\",\"content\":"
                  "\"mail.example.com\",\"ttl\":3600}]}\n");
    expect_reply(f, COMMIT_REQ, TRUE_REPLY);
    expect_lookup(f, "ANY", "www.example.com.", EX_ID,
                  "{\"result\":[{\"qtype\":\"CNAME\",\"qname\":\"www.example.com.\",\"content\":"
                  "\"mail.example.com\",\"ttl\":3600}]}\n");
}

static void
test_dispatch_bad_edit_parameters_leave_the_transaction_open_but_uncommittable(void **state)
{
    struct fx *f = *state;
    struct fake_writer *w = use_writer(f, helpers_example_json);
    expect_reply(f, START_INCREMENTAL, TRUE_REPLY);
    expect_bad(f, REPLACE_REQ("www.example.org.", "A", "192.0.2.99", "120"),
               "replaceRRSet: 'www.example.org.' is not inside zone 'example.com.'");
    expect_bad(f, FEED_REQ("www.example.com.", "A", "192.0.2.300", "120"),
               "feedRecord: www.example.com. A: '192.0.2.300' is not an IPv4 address");
    assert_non_null(f->ss.txn);
    expect_reply(f, REPLACE_REQ("www.example.com.", "A", "192.0.2.99", "120"), TRUE_REPLY);
    expect_lookup(f, "A", "www.example.com.", EX_ID, "{\"result\":[" NEW_WWW_FRAG "]}\n");
    /* pdns may go on after a refused edit (pdnsutil delete-rrset, DNS UPDATE): the rest must
     * not land as if the transaction were whole. */
    const char *reply = call(f, COMMIT_REQ, -EINVAL);
    assert_string_equal(reply, "{\"result\":null,\"log\":[\"commitTransaction: nothing was "
                               "changed: an edit of this transaction was refused (replaceRRSet: "
                               "'www.example.org.' is not inside zone 'example.com.')\"]}\n");
    assert_int_equal(w->commits, 0);
    assert_null(f->ss.txn);
    expect_lookup(f, "A", "www.example.com.", EX_ID,
                  "{\"result\":[" WWW_A1_FRAG "," WWW_A2_FRAG "]}\n");
}

static void test_dispatch_an_edit_the_writer_cannot_read_for_is_refused(void **state)
{
    struct fx *f = *state;
    struct fake_writer *w = use_writer(f, helpers_example_json);
    w->fail_read = -ENOENT;
    expect_reply(f, START_INCREMENTAL, TRUE_REPLY);
    const char *reply = call(f, REPLACE_REQ("www.example.com.", "A", "192.0.2.99", "120"), -EINVAL);
    expect_false_log(reply, 1,
                     "replaceRRSet: cannot open the store file (No such file or directory)", NULL);
    /* Not kept, and the transaction can no longer commit. */
    w->fail_read = 0;
    expect_reply(f, FEED_REQ("new.example.com.", "A", "192.0.2.77", "3600"), TRUE_REPLY);
    reply = call(f, COMMIT_REQ, -EINVAL);
    assert_non_null(strstr(reply, "an edit of this transaction was refused (replaceRRSet: cannot "
                                  "open the store file"));
    assert_int_equal(w->commits, 0);
    expect_lookup(f, "A", "www.example.com.", EX_ID,
                  "{\"result\":[" WWW_A1_FRAG "," WWW_A2_FRAG "]}\n");
    expect_lookup(f, "A", "new.example.com.", EX_ID, "{\"result\":[]}\n");
    /* The next transaction is a fresh one. */
    expect_reply(f, START_INCREMENTAL, TRUE_REPLY);
    expect_reply(f, FEED_REQ("new.example.com.", "A", "192.0.2.77", "3600"), TRUE_REPLY);
    expect_reply(f, COMMIT_REQ, TRUE_REPLY);
    assert_int_equal(w->last_nops, 1);
    expect_lookup(f, "A", "new.example.com.", EX_ID,
                  "{\"result\":[{\"qtype\":\"A\",\"qname\":\"new.example.com.\",\"content\":"
                  "\"192.0.2.77\",\"ttl\":3600}]}\n");
}

static void test_dispatch_whole_zone_transaction_replaces_the_zone(void **state)
{
    struct fx *f = *state;
    struct fake_writer *w = use_writer(f, helpers_example_json);
    struct session other = {0};
    char req[1024];
    expect_reply(f, START_WHOLE, TRUE_REPLY);
    /* The session sees the zone emptied. */
    expect_lookup(f, "ANY", "www.example.com.", EX_ID, EMPTY_REPLY);
    expect_reply(f,
                 FEED_REQ("example.com.", "SOA",
                          "ns1.example.com hostmaster.example.com 7 3600 600 86400 60", "3600"),
                 TRUE_REPLY);
    expect_reply(f, FEED_REQ("example.com.", "NS", "ns1.example.com", "3600"), TRUE_REPLY);
    expect_reply(f, FEED_REQ("ns1.example.com.", "A", "192.0.2.53", "3600"), TRUE_REPLY);
    expect_reply(f, FEED_REQ("web.example.com.", "A", "192.0.2.80", "300"), TRUE_REPLY);
    /* Others still see the old zone. */
    assert_string_equal(
        call_in(f, &other, lookup_req(req, sizeof(req), "A", "www.example.com.", EX_ID), 0),
        "{\"result\":[" WWW_A1_FRAG "," WWW_A2_FRAG "]}\n");
    expect_reply(f, COMMIT_REQ, TRUE_REPLY);
    assert_int_equal(w->last_nops, 5); /* the clear and four records */
    assert_string_equal(
        call_in(f, &other,
                "{\"method\": \"list\", \"parameters\": {\"domain_id\": " EX_ID
                ", \"include_disabled\": false, \"zonename\": \"example.com.\"}}",
                0),
        "{\"result\":[{\"qtype\":\"SOA\",\"qname\":\"example.com.\",\"content\":\"ns1.example.com."
        " hostmaster.example.com. 7 3600 600 86400 60\",\"ttl\":3600,\"domain_id\":" EX_ID "},"
        "{\"qtype\":\"NS\",\"qname\":\"example.com.\",\"content\":\"ns1.example.com\",\"ttl\":"
        "3600},"
        "{\"qtype\":\"A\",\"qname\":\"ns1.example.com.\",\"content\":\"192.0.2.53\",\"ttl\":3600},"
        "{\"qtype\":\"A\",\"qname\":\"web.example.com.\",\"content\":\"192.0.2.80\",\"ttl\":300}]}"
        "\n");
    dispatch_session_end(f->d, &other);
}

static void test_dispatch_clear_zone_commits_an_empty_zone(void **state)
{
    struct fx *f = *state;
    struct fake_writer *w = use_writer(f, helpers_example_json);
    /* pdnsutil clear-zone: a whole-zone transaction with no records. */
    expect_reply(f, START_WHOLE, TRUE_REPLY);
    expect_reply(f, COMMIT_REQ, TRUE_REPLY);
    assert_int_equal(w->commits, 1);
    assert_int_equal(w->last_nops, 1);
    expect_lookup(f, "ANY", "www.example.com.", EX_ID, EMPTY_REPLY);
    expect_reply(f, "{\"method\": \"list\", \"parameters\": {\"domain_id\": " EX_ID "}}",
                 EMPTY_REPLY);
}

static void test_dispatch_set_domain_metadata_commits_at_once(void **state)
{
    struct fx *f = *state;
    struct fake_writer *w = use_writer(f, helpers_example_json);
    static const char get[] = "{\"method\": \"getDomainMetadata\", \"parameters\": {\"kind\": "
                              "\"ALLOW-DNSUPDATE-FROM\", \"name\": \"example.com.\"}}";
    expect_reply(f,
                 "{\"method\": \"setDomainMetadata\", \"parameters\": {\"kind\": "
                 "\"ALLOW-DNSUPDATE-FROM\", \"name\": \"example.com.\", \"value\": "
                 "[\"127.0.0.0/8\", \"::1\"]}}",
                 TRUE_REPLY);
    assert_int_equal(w->commits, 1);
    assert_int_equal(w->last_nops, 1);
    assert_null(f->ss.txn);
    expect_reply(f, get, "{\"result\":[\"127.0.0.0/8\",\"::1\"]}\n");
    /* An empty value deletes the kind. */
    expect_reply(f,
                 "{\"method\": \"setDomainMetadata\", \"parameters\": {\"kind\": "
                 "\"allow-dnsupdate-from\", \"name\": \"example.com.\", \"value\": []}}",
                 TRUE_REPLY);
    expect_reply(f, get, EMPTY_REPLY);
    expect_reply(f,
                 "{\"method\": \"getAllDomainMetadata\", \"parameters\": {\"name\": "
                 "\"example.com.\"}}",
                 "{\"result\":{}}\n");
}

static void test_dispatch_set_domain_metadata_reports_failures(void **state)
{
    struct fx *f = *state;
    struct fake_writer *w = use_writer(f, helpers_example_json);
    const char *reply = call(f,
                             "{\"method\": \"setDomainMetadata\", \"parameters\": {\"kind\": "
                             "\"X\", \"name\": \"example.org.\", \"value\": [\"1\"]}}",
                             -EINVAL);
    expect_false_log(reply, 1,
                     "setDomainMetadata: nothing was changed: zone 'example.org.' is not in the "
                     "store",
                     NULL);
    expect_bad(f,
               "{\"method\": \"setDomainMetadata\", \"parameters\": {\"kind\": \"A B\", \"name\": "
               "\"example.com.\", \"value\": []}}",
               "setDomainMetadata: kind 'A B' is not a metadata kind (letters, digits, '-', '_')");
    w->fail_commit = -EIO;
    reply = call(f,
                 "{\"method\": \"setDomainMetadata\", \"parameters\": {\"kind\": \"X\", \"name\": "
                 "\"example.com.\", \"value\": [\"1\"]}}",
                 -EINVAL);
    expect_false_log(reply, 2,
                     "setDomainMetadata: nothing was changed: cannot write "
                     "'/x/store.json.tmp': No space left on device",
                     "a second reason");
}

#define POOL_STORE                                                                                \
    "{\"checks\": {\"web-health\": {\"type\": \"http\", \"port\": 8081, \"path\": \"/health\"}}," \
    " \"pools\": {\"web\": {\"policy\": \"failover\", \"check\": \"web-health\", \"members\": ["  \
    "{\"name\": \"web1\", \"address\": \"192.0.2.11\", \"tier\": 1},"                             \
    " {\"name\": \"web2\", \"address\": \"192.0.2.12\", \"tier\": 2}]}},"                         \
    " \"zones\": {\"example.com.\": {\"records\": {"                                              \
    "\"@\": [{\"type\": \"SOA\", \"content\": \"ns1 hostmaster 1 7200 3600 1209600 300\"},"       \
    " {\"type\": \"NS\", \"content\": \"ns1\"}],"                                                 \
    " \"ns1\": [{\"type\": \"A\", \"content\": \"192.0.2.53\"}],"                                 \
    " \"www\": [{\"type\": \"A\", \"pool\": \"web\", \"ttl\": 5}]}}}}"
#define POOL_MSG                                                                               \
    "www.example.com. A is answered by pool 'web' and cannot be changed through pdns; change " \
    "it in the store file (pool records stay pools)"

static void test_dispatch_a_refused_pool_edit_fails_the_whole_transaction(void **state)
{
    struct fx *f = *state;
    struct fake_writer *w = use_writer(f, POOL_STORE);
    expect_reply(f, START_INCREMENTAL, TRUE_REPLY);
    const char *reply = call(f, REPLACE_REQ("www.example.com.", "A", "192.0.2.99", "60"), -EINVAL);
    expect_false_log(reply, 1, "replaceRRSet: " POOL_MSG, NULL);
    assert_string_equal(f->err.msg, "replaceRRSet: " POOL_MSG);
    reply = call(f, FEED_REQ("www.example.com.", "A", "192.0.2.11", "5"), -EINVAL);
    expect_false_log(reply, 1, "feedRecord: " POOL_MSG, NULL);
    assert_non_null(f->ss.txn);
    /* A TXT record next to the pool is fine. */
    expect_reply(f, REPLACE_REQ("www.example.com.", "TXT", "\\\"web\\\"", "3600"), TRUE_REPLY);
    expect_lookup(f, "TXT", "www.example.com.", EX_ID,
                  "{\"result\":[{\"qtype\":\"TXT\",\"qname\":\"www.example.com.\",\"content\":"
                  "\"\\\"web\\\"\",\"ttl\":3600,\"scopeMask\":" STORE_SCOPE_MASK_TEXT "}]}\n");
    /* DNS UPDATE goes on after a refused edit and commits: nothing of it may land. */
    reply = call(f, COMMIT_REQ, -EINVAL);
    assert_non_null(strstr(reply, "an edit of this transaction was refused (replaceRRSet: "));
    assert_int_equal(w->commits, 0);
    const struct store_node *n = helpers_find(w->store, "www.example.com.", 0);
    assert_non_null(n);
    assert_int_equal(n->nrr, 1);
    assert_true(n->dynamic);
}

/* Unix mode: a commit is handed out (no reply, no waiting); other sessions are answered from
 * the store being served until the job is finished on the answering thread. */
static void test_dispatch_async_commit_is_deferred_until_finished(void **state)
{
    struct fx *f = *state;
    struct fake_writer *w = use_writer(f, helpers_example_json);
    struct session other = {0};
    dispatch_set_async(f->d, true);
    expect_reply(f, START_INCREMENTAL, TRUE_REPLY);
    expect_reply(f, REPLACE_REQ("www.example.com.", "A", "192.0.2.99", "120"), TRUE_REPLY);
    sbuf_reset(&f->out);
    assert_int_equal(
        dispatch_request(f->d, &f->ss, COMMIT_REQ, strlen(COMMIT_REQ), &f->out, &f->err),
        DISPATCH_DEFERRED);
    assert_int_equal(f->out.len, 0);
    assert_non_null(f->ss.job);
    assert_null(f->ss.txn);
    assert_int_equal(w->commits, 0); /* nothing run yet: that is the writer thread's */
    char req[512];
    lookup_req(req, sizeof(req), "A", "www.example.com.", EX_ID);
    assert_string_equal(call_in(f, &other, req, 0),
                        "{\"result\":[" WWW_A1_FRAG "," WWW_A2_FRAG "]}\n");
    dispatch_job_run(&f->ss);
    assert_int_equal(w->commits, 1);
    assert_int_equal(w->installs, 0); /* installing is the answering thread's */
    assert_string_equal(call_in(f, &other, req, 0),
                        "{\"result\":[" WWW_A1_FRAG "," WWW_A2_FRAG "]}\n");
    struct errbuf err;
    sbuf_reset(&f->out);
    assert_int_equal(dispatch_job_finish(f->d, &f->ss, &f->out, &err), 0);
    assert_string_equal(sbuf_str(&f->out), TRUE_REPLY);
    assert_null(f->ss.job);
    assert_int_equal(w->installs, 1);
    assert_string_equal(call_in(f, &other, req, 0), "{\"result\":[" NEW_WWW_FRAG "]}\n");

    /* A failed commit: null and the reasons, from the finish. */
    w->fail_commit = -ENOSPC;
    expect_reply(f, START_INCREMENTAL, TRUE_REPLY);
    expect_reply(f, REPLACE_REQ("www.example.com.", "A", "192.0.2.98", "120"), TRUE_REPLY);
    sbuf_reset(&f->out);
    assert_int_equal(
        dispatch_request(f->d, &f->ss, COMMIT_REQ, strlen(COMMIT_REQ), &f->out, &f->err),
        DISPATCH_DEFERRED);
    dispatch_job_run(&f->ss);
    sbuf_reset(&f->out);
    assert_int_equal(dispatch_job_finish(f->d, &f->ss, &f->out, &err), -ENOSPC);
    assert_string_equal(err.msg, "commitTransaction: nothing was changed: cannot write "
                                 "'/x/store.json.tmp': No space left on device");
    assert_non_null(strstr(sbuf_str(&f->out), "{\"result\":null,\"log\":["));
    assert_int_equal(w->installs, 1);

    /* setDomainMetadata is deferred too, and answers false when it fails. */
    sbuf_reset(&f->out);
    static const char meta[] = "{\"method\": \"setDomainMetadata\", \"parameters\": {\"name\": "
                               "\"example.com.\", \"kind\": \"X-TEST\", \"value\": [\"1\"]}}";
    assert_int_equal(dispatch_request(f->d, &f->ss, meta, strlen(meta), &f->out, &f->err),
                     DISPATCH_DEFERRED);
    dispatch_job_run(&f->ss);
    sbuf_reset(&f->out);
    assert_true(dispatch_job_finish(f->d, &f->ss, &f->out, &err) < 0);
    assert_non_null(strstr(sbuf_str(&f->out), "{\"result\":false,\"log\":[\"setDomainMetadata: "
                                              "nothing was changed: cannot write"));

    /* The session ends with a job run but not finished (the server shutting down): dropped,
     * not installed. */
    w->fail_commit = 0;
    expect_reply(f, START_INCREMENTAL, TRUE_REPLY);
    expect_reply(f, REPLACE_REQ("www.example.com.", "A", "192.0.2.97", "120"), TRUE_REPLY);
    sbuf_reset(&f->out);
    assert_int_equal(
        dispatch_request(f->d, &f->ss, COMMIT_REQ, strlen(COMMIT_REQ), &f->out, &f->err),
        DISPATCH_DEFERRED);
    dispatch_job_run(&f->ss);
    dispatch_session_end(f->d, &f->ss);
    assert_null(f->ss.job);
    assert_int_equal(w->installs, 1);
    dispatch_session_end(f->d, &other);
}

static void test_dispatch_counts_a_deferred_commit_without_a_reply_buffer(void **state)
{
    struct fx *f = *state;
    use_writer(f, helpers_example_json);
    struct metrics m;
    metrics_init(&m);
    dispatch_set_metrics(f->d, &m);
    dispatch_set_async(f->d, true);
    /* The first request of a unix connection: its output buffer was never allocated, and a
     * deferred commit writes nothing to it (the metrics once read the reply there: SIGSEGV). */
    struct sbuf out = SBUF_INIT;
    struct session ss = {0};
    struct errbuf err;
    static const char meta[] = "{\"method\": \"setDomainMetadata\", \"parameters\": {\"name\": "
                               "\"example.com.\", \"kind\": \"X-TEST\", \"value\": [\"1\"]}}";
    assert_int_equal(dispatch_request(f->d, &ss, meta, strlen(meta), &out, &err),
                     DISPATCH_DEFERRED);
    assert_int_equal(out.len, 0);
    assert_int_equal(m.requests[METRICS_METHOD_OTHER][METRICS_RESULT_OK], 1);
    dispatch_job_run(&ss);
    assert_int_equal(dispatch_job_finish(f->d, &ss, &out, &err), 0);
    assert_string_equal(sbuf_str(&out), TRUE_REPLY);
    dispatch_set_metrics(f->d, NULL);
    dispatch_session_end(f->d, &ss);
    sbuf_free(&out);
}

static void test_dispatch_whole_zone_load_keeps_pool_records(void **state)
{
    struct fx *f = *state;
    struct fake_writer *w = use_writer(f, POOL_STORE);
    /* pdnsutil load-zone of an export: the pool's answer comes back as plain A records. */
    expect_reply(f, START_WHOLE, TRUE_REPLY);
    expect_reply(f,
                 FEED_REQ("example.com.", "SOA",
                          "ns1.example.com hostmaster.example.com 2 7200 3600 1209600 300", "3600"),
                 TRUE_REPLY);
    expect_reply(f, FEED_REQ("example.com.", "NS", "ns1.example.com", "3600"), TRUE_REPLY);
    expect_reply(f, FEED_REQ("ns1.example.com.", "A", "192.0.2.53", "3600"), TRUE_REPLY);
    expect_reply(f, FEED_REQ("www.example.com.", "A", "192.0.2.11", "5"), TRUE_REPLY);
    expect_reply(f, COMMIT_REQ, TRUE_REPLY);
    const struct store_node *n = helpers_find(w->store, "www.example.com.", 0);
    assert_non_null(n);
    assert_int_equal(n->nrr, 1);
    assert_non_null(n->rrs[0].pool);
    assert_int_equal(helpers_zone(w->store, "example.com.")->serial, 2);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_dispatch_initialize_answers_true),
        T(test_dispatch_initialize_loads_the_config_option),
        T(test_dispatch_initialize_reports_every_load_error),
        T(test_dispatch_initialize_rejects_a_config_that_is_not_a_string),
        T(test_dispatch_initialize_ignores_config_without_a_load_hook),
        T(test_dispatch_lookup_any_returns_every_record_at_the_name),
        T(test_dispatch_verbose_replies_carry_every_optional_field),
        T(test_dispatch_lookup_with_a_type_returns_only_that_type),
        T(test_dispatch_lookup_soa_returns_only_the_soa),
        T(test_dispatch_lookup_of_a_type_we_do_not_serve_is_empty),
        T(test_dispatch_lookup_answers_empty_non_terminals_with_ent),
        T(test_dispatch_lookup_of_an_unknown_name_is_empty),
        T(test_dispatch_lookup_ignores_query_name_case),
        T(test_dispatch_lookup_decodes_escapes_in_the_query_name),
        T(test_dispatch_lookup_filters_by_zone_id),
        T(test_dispatch_lookup_without_zone_id_uses_the_deepest_zone),
        T(test_dispatch_lookup_without_a_store_answers_false),
        T(test_dispatch_lookup_rejects_bad_parameters),
        T(test_dispatch_list_returns_the_zone_soa_first),
        T(test_dispatch_list_finds_the_zone_by_name_without_an_id),
        T(test_dispatch_list_of_nested_zones_keeps_them_apart),
        T(test_dispatch_list_of_an_unknown_zone_answers_false),
        T(test_dispatch_list_rejects_bad_parameters),
        T(test_dispatch_get_all_domains_lists_every_zone),
        T(test_dispatch_get_all_domains_without_a_store_is_empty),
        T(test_dispatch_get_domain_info_describes_one_zone),
        T(test_dispatch_get_domain_info_of_an_unknown_zone_answers_false),
        T(test_dispatch_get_all_domain_metadata_returns_an_object),
        T(test_dispatch_get_domain_metadata_returns_the_values_of_one_kind),
        T(test_dispatch_backend_cmd_help_lists_the_commands),
        T(test_dispatch_backend_cmd_version_names_the_version),
        T(test_dispatch_backend_cmd_zones_lists_each_zone),
        T(test_dispatch_backend_cmd_echoes_an_unknown_command),
        T(test_dispatch_unknown_method_answers_false),
        T(test_dispatch_matches_method_names_case_insensitively),
        T(test_dispatch_accepts_missing_or_null_parameters),
        T(test_dispatch_accepts_a_carriage_return_and_blanks_after_the_request),
        T(test_dispatch_rejects_a_line_that_is_not_json),
        T(test_dispatch_rejects_truncated_json),
        T(test_dispatch_rejects_trailing_garbage),
        T(test_dispatch_rejects_requests_that_are_not_objects),
        T(test_dispatch_rejects_a_missing_or_non_string_method),
        T(test_dispatch_rejects_parameters_that_are_not_an_object),
        T(test_dispatch_rejects_a_nul_byte),
        T(test_dispatch_rejects_an_empty_line),
        T(test_dispatch_rejects_invalid_utf8_and_deep_nesting),
        T(test_dispatch_rejects_a_bare_number_or_literal_as_not_an_object),
        T(test_dispatch_refuses_too_many_values_before_parsing_them),
        T(test_dispatch_appends_to_the_output_buffer),
        T(test_dispatch_counts_every_request_in_the_session),
        T(test_dispatch_every_reply_is_exactly_one_line),
        T(test_dispatch_keeps_replies_valid_utf8_when_a_quoted_value_is_cut),
        T(test_dispatch_start_transaction_of_an_unknown_zone_answers_false),
        T(test_dispatch_start_transaction_with_another_zones_id_answers_false),
        T(test_dispatch_start_transaction_rejects_bad_parameters),
        T(test_dispatch_edits_without_a_transaction_answer_false),
        T(test_dispatch_feed_ents_is_accepted_only_in_a_transaction),
        T(test_dispatch_edits_without_a_writer_answer_false_naming_config),
        T(test_dispatch_transaction_reads_its_own_writes),
        T(test_dispatch_transaction_shows_its_serial_to_its_session_only),
        T(test_dispatch_abort_transaction_discards_the_edits),
        T(test_dispatch_session_end_discards_the_edits),
        T(test_dispatch_a_second_start_transaction_drops_the_first),
        T(test_dispatch_commit_with_a_failing_writer_answers_null_with_the_reasons),
        T(test_dispatch_commit_of_a_store_that_would_not_load_answers_null),
        T(test_dispatch_cname_replacing_an_a_rrset_in_two_edits_commits),
        T(test_dispatch_bad_edit_parameters_leave_the_transaction_open_but_uncommittable),
        T(test_dispatch_an_edit_the_writer_cannot_read_for_is_refused),
        T(test_dispatch_whole_zone_transaction_replaces_the_zone),
        T(test_dispatch_clear_zone_commits_an_empty_zone),
        T(test_dispatch_set_domain_metadata_commits_at_once),
        T(test_dispatch_set_domain_metadata_reports_failures),
        T(test_dispatch_a_refused_pool_edit_fails_the_whole_transaction),
        T(test_dispatch_whole_zone_load_keeps_pool_records),
        T(test_dispatch_async_commit_is_deferred_until_finished),
        T(test_dispatch_counts_a_deferred_commit_without_a_reply_buffer),
    };
    return cmocka_run_group_tests_name("dispatch", tests, NULL, NULL);
}
