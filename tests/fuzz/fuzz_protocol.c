/* SPDX-License-Identifier: MIT */
/* Fuzz target: what pdns feeds us. Arbitrary bytes go through the line framing in chunks of
 * input-derived sizes, and every complete line through dispatch_request() against a small fixed
 * store, with an in-memory writer so that transactions and metadata writes run the real edit
 * code (edit_apply, store_build_doc) without touching disk. Checks that each request gets
 * exactly one reply line and that the line is JSON with a non-null "result", and that a store a
 * commit installs is one that builds. Violations abort(). */
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend/dispatch.h"
#include "backend/edit.h"
#include "backend/protocol.h"
#include "backend/store.h"
#include "common/errbuf.h"
#include "common/errlist.h"
#include "common/sbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Two zones, one nested in the other's namespace: A, AAAA, MX, NS, TXT, a wildcard, empty
 * non-terminals (b.c and c under example.com., dyn), a delegation with glue, and metadata. */
static const char store_json[] =
    "{\"zones\": {\n"
    "  \"example.com.\": {\"ttl\": 3600, \"records\": {\n"
    "    \"@\": [{\"type\": \"SOA\", \"content\": \"ns1 hostmaster 2024010101 7200 3600 1209600 "
    "300\"},\n"
    "           {\"type\": \"NS\", \"content\": \"ns1\"},\n"
    "           {\"type\": \"NS\", \"content\": \"ns2.example.net.\"},\n"
    "           {\"type\": \"MX\", \"content\": \"10 mail\"}],\n"
    "    \"ns1\": [{\"type\": \"A\", \"content\": \"192.0.2.53\"}],\n"
    "    \"mail\": [{\"type\": \"A\", \"content\": \"192.0.2.25\", \"ttl\": 300}],\n"
    "    \"www\": [{\"type\": \"A\", \"content\": \"192.0.2.10\", \"ttl\": 60},\n"
    "              {\"type\": \"AAAA\", \"content\": \"2001:DB8::10\", \"ttl\": 60}],\n"
    "    \"*.dyn\": [{\"type\": \"A\", \"content\": \"192.0.2.80\", \"ttl\": 30}],\n"
    "    \"a.b.c\": [{\"type\": \"TXT\", \"content\": \"deep \\\"name\\\" \\u00e9\"}],\n"
    "    \"sub\": [{\"type\": \"NS\", \"content\": \"ns.sub\"}],\n"
    "    \"ns.sub\": [{\"type\": \"A\", \"content\": \"198.51.100.53\"}]}},\n"
    "  \"sub.example.com.\": {\"records\": {\n"
    "    \"@\": [{\"type\": \"SOA\", \"content\": \"ns hostmaster.example.com. 2 7200 3600 "
    "1209600 300\"},\n"
    "           {\"type\": \"NS\", \"content\": \"ns\"}],\n"
    "    \"ns\": [{\"type\": \"A\", \"content\": \"198.51.100.53\"}],\n"
    "    \"www\": [{\"type\": \"CNAME\", \"content\": \"www.example.com.\"}]},\n"
    "    \"metadata\": {\"ALSO-NOTIFY\": [\"192.0.2.1\", \"192.0.2.2\"],\n"
    "                 \"SOA-EDIT-API\": [\"DEFAULT\"]}}\n"
    "}}\n";

static store_t *fixed_store;
static store_t *committed; /* the store the last commit of this input installed */
static dispatch_t *disp;

static int mem_read(void *opaque, json_object **doc, struct errlist *errs)
{
    (void)opaque;
    (void)errs;
    *doc = json_tokener_parse(store_json);
    if (!*doc)
        abort();
    return 0;
}

/* Like main.c's app_commit() with commit.c, minus the file: apply to the fixed document,
 * validate by building, install. */
static int mem_commit(
    void *opaque, struct edit_op *ops, size_t n, struct dispatch_commit *res, struct errlist *errs)
{
    (void)opaque;
    json_object *doc = json_tokener_parse(store_json);
    struct errbuf err;
    store_t *s = NULL;
    int r = edit_apply(doc, ops, n, &err);
    if (r < 0)
        errlist_add(errs, "%s", err.msg);
    else
        r = store_build_doc(doc, &s, errs);
    json_object_put(doc);
    if (r < 0)
        return r;
    if (!s)
        abort();
    res->store = s;
    return 0;
}

static void mem_install(void *opaque, struct dispatch_commit *res)
{
    (void)opaque;
    dispatch_set_store(disp, res->store);
    store_free(committed);
    committed = res->store;
    res->store = NULL;
}

/* The "config" option of initialize. Nothing is read from disk: paths under /etc/pdns/ that end
 * in ".json" load (install the fixed store), every other path fails as a missing file would,
 * keeping the old store, like main.c's pipe_load(). */
static int fake_load(void *opaque, const char *path, struct errlist *errs)
{
    (void)opaque;
    size_t n = strlen(path);
    if (n > 15 && strncmp(path, "/etc/pdns/", 10) == 0 && strcmp(path + n - 5, ".json") == 0) {
        dispatch_set_store(disp, fixed_store);
        return 0;
    }
    errlist_add(errs, "cannot open the store file (%s)", strerror(ENOENT));
    errlist_add(errs, "path was '%s'", path); /* arbitrary request bytes into the "log" array */
    return -ENOENT;
}

static void setup(void)
{
    struct errlist errs = ERRLIST_INIT;
    if (store_build(store_json, strlen(store_json), &fixed_store, &errs) < 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "fuzz_protocol: fixture store: %s\n", errs.msgs[i]);
        abort();
    }
    errlist_free(&errs);
    disp = dispatch_new(fake_load, NULL);
    struct dispatch_writer w = {.read = mem_read, .commit = mem_commit, .install = mem_install};
    dispatch_set_writer(disp, &w);
}

static void fail(const char *why, const char *reply, size_t len)
{
    fprintf(stderr, "fuzz_protocol: %s; reply (%zu bytes): %.*s\n", why, len,
            len > 2000 ? 2000 : (int)len, reply);
    abort();
}

/* Whether the line is a lookup request (only those are safe to answer twice: no side effects). */
static bool is_lookup(const char *line, size_t len)
{
    json_tokener *tok = json_tokener_new();
    if (!tok)
        abort();
    json_object *req = len < INT32_MAX ? json_tokener_parse_ex(tok, line, (int)len) : NULL, *m;
    json_tokener_free(tok);
    bool yes = json_object_is_type(req, json_type_object) &&
               json_object_object_get_ex(req, "method", &m) &&
               json_object_is_type(m, json_type_string) &&
               strcasecmp(json_object_get_string(m), "lookup") == 0;
    json_object_put(req);
    return yes;
}

/* One request line: exactly one reply line, which is JSON with a non-null "result". */
static void check_request(struct session *ss, const char *line, size_t len, struct sbuf *out)
{
    static json_tokener *tok;
    struct errbuf err;

    /* A lookup is answered twice, through json-c and through the fast path: the same reply
     * and the same result, byte for byte (the fixture has no pools, so nothing is random). */
    static struct sbuf general;
    int rg = 0;
    bool lookup = is_lookup(line, len);
    if (lookup) {
        sbuf_reset(&general);
        dispatch_set_fast_lookup(disp, false);
        rg = dispatch_request(disp, ss, line, len, &general, &err);
        dispatch_set_fast_lookup(disp, true);
    }
    sbuf_reset(out);
    int r = dispatch_request(disp, ss, line, len, out, &err);
    if (lookup && (rg != r || general.len != out->len || memcmp(general.p, out->p, out->len)))
        fail("the fast path answered otherwise than json-c's", sbuf_str(&general), general.len);
    if (r == DISPATCH_DEFERRED) { /* async mode: what the unix server's writer thread does */
        if (out->len != 0 || !ss->job)
            fail("a deferred request wrote a reply or left no job", sbuf_str(out), out->len);
        dispatch_job_run(ss);
        r = dispatch_job_finish(disp, ss, out, &err) < 0 ? -EINVAL : 0;
        if (ss->job)
            fail("a finished job is still there", sbuf_str(out), out->len);
    }
    const char *p = sbuf_str(out);
    if (r != 0 && r != -EINVAL)
        fail("dispatch_request returned neither 0 nor -EINVAL", p, out->len);
    if (r < 0 && !err.msg[0])
        fail("failure without a reason in err", p, out->len);
    if (out->len == 0 || p[out->len - 1] != '\n')
        fail("reply does not end in a newline", p, out->len);
    if (memchr(p, '\n', out->len - 1))
        fail("reply holds more than one line", p, out->len);
    if (strncmp(p, "{\"result\":", 10) != 0)
        fail("reply does not start with {\"result\":", p, out->len);

    /* Stricter than json_tokener_parse(): pdns's parser wants strict JSON in valid UTF-8. */
    if (!tok) {
        tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
        if (!tok)
            abort();
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    }
    json_tokener_reset(tok);
    json_object *reply = json_tokener_parse_ex(tok, p, (int)(out->len - 1));
    if (json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != out->len - 1)
        fail("reply is not one strict UTF-8 JSON value", p, out->len);
    json_object *result = NULL;
    if (!json_object_is_type(reply, json_type_object) ||
        !json_object_object_get_ex(reply, "result", &result))
        fail("reply has no \"result\"", p, out->len);
    /* null only for a failed commit, on purpose (see m_commit_transaction) */
    if (!result && strncmp(p,
                           "{\"result\":null,\"log\":[\"commitTransaction: nothing was "
                           "changed: ",
                           62) != 0)
        fail("reply has a null \"result\"", p, out->len);
    if (r < 0 && result &&
        !(json_object_is_type(result, json_type_boolean) && !json_object_get_boolean(result)))
        fail("a failed request must answer false", p, out->len);
    json_object_put(reply);
}

static uint32_t next_rand(uint32_t *s)
{
    /* xorshift32: any deterministic sequence will do, as long as it comes from the input */
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!disp)
        setup();

    /* Chunking and the line limit come from a hash of the input, so a file that reproduces a
     * crash keeps reproducing it, and plain request files work as seeds unchanged. */
    uint32_t seed = 2166136261u;
    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 16777619u;
    seed |= 1;
    size_t max_line = (seed & 7) == 0 ? 100 : 65536;
    size_t max_chunk = (size_t)1 << (seed >> 3 & 7); /* 1 .. 128 */
    if ((seed >> 6 & 3) == 0)
        max_chunk = size ? size : 1; /* often everything at once */

    dispatch_set_store(disp, (seed >> 8 & 3) == 0 ? NULL : fixed_store);
    dispatch_set_async(disp, (seed >> 10 & 1) != 0); /* commits deferred as in unix mode */
    struct session ss = {0};
    struct proto_lines pl;
    struct sbuf out = SBUF_INIT;
    const char *line;
    size_t len;
    enum proto_result pr;

    proto_init(&pl, max_line);
    for (size_t off = 0; off < size;) {
        size_t n = 1 + next_rand(&seed) % max_chunk;
        if (n > size - off)
            n = size - off;
        proto_feed(&pl, data + off, n);
        off += n;
        while ((pr = proto_next(&pl, &line, &len)) != PROTO_NEED_MORE) {
            if (pr == PROTO_LINE) {
                if (len > max_line || memchr(line, '\n', len))
                    abort();
                check_request(&ss, line, len, &out);
            }
        }
    }
    pr = proto_finish(&pl, &line, &len);
    if (pr == PROTO_LINE)
        check_request(&ss, line, len, &out);
    if (proto_finish(&pl, &line, &len) != PROTO_NEED_MORE || proto_pending(&pl) != 0)
        abort();
    dispatch_session_end(disp, &ss); /* EOF: an open transaction is rolled back */
    if (ss.txn)
        abort();
    dispatch_set_store(disp, NULL);
    store_free(committed);
    committed = NULL;
    proto_free(&pl);
    sbuf_free(&out);
    return 0;
}
