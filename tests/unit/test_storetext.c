/* SPDX-License-Identifier: MIT */
/* Unit tests for store_build() reading the text itself (backend/store.c, build_text()): it must
 * give exactly what the json-c tree of the whole text gives (store_build_tree()), the same store
 * or the same messages in the same order, for valid stores, stores with every kind of error,
 * JSON that is valid but odd, every truncation and every one-byte edit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/pools.h"
#include "backend/store.h"
#include "backend/store_priv.h"
#include "common/dname.h"
#include "common/jsonscan.h"
#include "common/sbuf.h"
#include "tests/unit/helpers.h"

/* Everything a built store holds that the text could influence, as text. */
static void dump(const store_t *s, struct sbuf *o)
{
    sbuf_reset(o);
    if (!s) {
        sbuf_puts(o, "(no store)");
        return;
    }
    const char *ctl = store_pdns_control(s), *hook = store_webhook(s);
    sbuf_printf(o, "pdns %s, webhook %s, %zu records\n", ctl ? ctl : "-", hook ? hook : "-",
                store_record_count(s));
    const struct store_pools *sp = store_pools(s);
    sbuf_printf(o, "%zu pools, %zu targets\n", sp->npools, sp->ntargets);
    for (size_t i = 0; i < sp->npools; i++) {
        const struct pool *p = &sp->pools[i];
        sbuf_printf(o, "pool %s %s max %u min %u down %d fallback %zu\n", p->name,
                    pool_policy_name(p->policy), p->max_answers, p->min_healthy, p->all_down,
                    p->nfallback);
        for (size_t m = 0; m < p->nmembers; m++)
            sbuf_printf(o, " member %s %s tier %u weight %u target %u\n", p->members[m].name,
                        p->members[m].addr.text, p->members[m].tier, p->members[m].weight,
                        p->members[m].target);
    }
    for (size_t zi = 0; zi < store_zone_count(s); zi++) {
        const struct store_zone *z = store_zone_at(s, zi);
        sbuf_printf(o, "zone %s id %u serial %u records %u names %zu\n", z->name, z->id, z->serial,
                    z->nrecords, z->nnodes);
        for (size_t m = 0; m < z->nmeta; m++) {
            sbuf_printf(o, " meta %s:", z->meta[m].kind);
            for (size_t v = 0; v < z->meta[m].nvalues; v++)
                sbuf_printf(o, " '%s'", z->meta[m].values[v]);
            sbuf_putc(o, '\n');
        }
        for (size_t k = 0; k < z->nnodes; k++) {
            const struct store_node *n = z->nodes[k];
            sbuf_printf(o, " name %s dynamic %d scoped %d: %.*s\n", n->text, n->dynamic, n->scoped,
                        (int)n->any_len, n->any_frag);
            for (size_t r = 0; r < n->nrr; r++) {
                const struct store_rr *rr = &n->rrs[r];
                sbuf_printf(o, "  %u %u '%s' pool %s: %.*s\n", rr->type, rr->ttl, rr->content,
                            rr->pool ? rr->pool->name : "-", (int)rr->frag_len,
                            rr->frag ? rr->frag : "");
            }
            /* Empty non-terminals above it. */
            for (const uint8_t *p = dname_parent(n->name);
                 *p && dname_label_count(p) > dname_label_count(z->apex); p = dname_parent(p))
            {
                const struct store_node *e = store_find(s, p, z->id);
                if (e && e->nrr == 0)
                    sbuf_printf(o, "  ENT %s: %.*s\n", e->text, (int)e->any_len, e->any_frag);
            }
        }
    }
}

struct result {
    int r;
    struct errlist errs;
    struct sbuf dump;
};

static void build(int (*fn)(const char *, size_t, store_t **, struct errlist *),
                  const char *json,
                  size_t len,
                  struct result *res)
{
    store_t *s = NULL;
    res->errs = (struct errlist)ERRLIST_INIT;
    res->dump = (struct sbuf)SBUF_INIT;
    errlist_add(&res->errs, "an earlier message");
    res->r = fn(json, len, &s, &res->errs);
    if (res->r < 0)
        assert_null(s);
    dump(s, &res->dump);
    store_free(s);
}

static void result_free(struct result *res)
{
    errlist_free(&res->errs);
    sbuf_free(&res->dump);
}

static void print_errs(const char *what, const struct errlist *errs)
{
    print_error("%s (%zu kept, %zu dropped):\n", what, errs->n, errs->dropped);
    for (size_t i = 0; i < errs->n; i++)
        print_error("  %s\n", errs->msgs[i]);
}

/* Fails unless store_build() and store_build_tree() agree on json[0..len). Returns how many
 * errors there were. */
static size_t expect_same(const char *json, size_t len)
{
    struct result text, tree;
    build(store_build, json, len, &text);
    build(store_build_tree, json, len, &tree);
    bool same = text.r == tree.r && text.errs.n == tree.errs.n &&
                text.errs.dropped == tree.errs.dropped &&
                strcmp(sbuf_str(&text.dump), sbuf_str(&tree.dump)) == 0;
    for (size_t i = 0; same && i < text.errs.n; i++)
        same = strcmp(text.errs.msgs[i], tree.errs.msgs[i]) == 0;
    if (!same) {
        print_error("input (%zu bytes): %.*s\n", len, (int)len, json);
        print_errs("from the text", &text.errs);
        print_errs("from the tree", &tree.errs);
        print_error("store from the text:\n%s\nstore from the tree:\n%s\n", sbuf_str(&text.dump),
                    sbuf_str(&tree.dump));
        fail();
    }
    size_t n = errlist_count(&text.errs) - 1;
    result_free(&text);
    result_free(&tree);
    return n;
}

static size_t expect_same_str(const char *json)
{
    return expect_same(json, strlen(json));
}

/* ---- fixtures ----------------------------------------------------------------------------- */

#define APEX HELPERS_APEX
#define ZONE HELPERS_ZONE

static const char pools_json[] =
    "{\"checks\": {\"web\": {\"type\": \"http\", \"path\": \"/health\"}},\n"
    " \"pools\": {\"p\": {\"check\": \"web\", \"members\": [{\"name\": \"a\", \"address\": "
    "\"192.0.2.10\"}, {\"name\": \"b\", \"address\": \"2001:db8::10\"}]}},\n"
    " \"pdns\": {\"control_socket\": \"/run/pdns/pdns.controlsocket\"},\n"
    " \"notify\": {\"webhook\": \"http://hooks.example/x\"},\n"
    " \"zones\": {\"example.com.\": {\"ttl\": 300, \"records\": {" APEX ",\n"
    "  \"www\": [{\"type\": \"A\", \"pool\": \"p\"}, {\"type\": \"AAAA\", \"pool\": \"p\", "
    "\"ttl\": 20}],\n"
    "  \"mail\": [{\"type\": \"A\", \"content\": \"192.0.2.25\"}, {\"type\": \"TXT\", "
    "\"content\": \"\\\"v=spf1 -all\\\"\"}],\n"
    "  \"a.b.c\": [{\"type\": \"CNAME\", \"content\": \"www\"}]},\n"
    "  \"metadata\": {\"ALSO-NOTIFY\": [\"192.0.2.1\"]}}}}\n";

/* Valid JSON of every odd shape the walk has to treat as json-c's tree does. */
static const char *const odd[] = {
    /* records before the zone TTL, and between other members */
    "{\"zones\": {\"example.com.\": {\"records\": {" APEX ", \"www\": [{\"type\": \"A\", "
    "\"content\": \"192.0.2.1\"}]}, \"ttl\": 60, \"metadata\": {\"X\": [\"a\"]}}}}",
    "{\"zones\": {\"example.com.\": {\"ttl\": 60, \"records\": {" APEX "}, \"bogus\": {\"a\": "
    "[1, {\"b\": null}]}, \"metadata\": {\"X\": [\"a\"]}}}}",
    /* null, which json-c's tree makes a missing member in places */
    "{\"zones\": null}",
    "{\"pools\": {}, \"zones\": null, \"x\": 1}",
    "{\"zones\": {\"example.com.\": null, \"b.\": 5}}",
    "{\"zones\": {\"example.com.\": {\"records\": null, \"ttl\": 5}}}",
    "{\"checks\": null, \"pools\": null, \"notify\": null, \"pdns\": null, \"zones\": {}}",
    ZONE(", \"www\": null, \"a\": [null, {\"type\": null, \"content\": null}, {\"type\": \"A\", "
         "\"pool\": null}, {\"type\": \"A\", \"content\": \"192.0.2.1\", \"ttl\": null}]"),
    /* unknown members with nested values */
    "{\"zonez\": 1, \"zones\": {\"example.com.\": {\"records\": {" APEX ", \"www\": [{\"type\": "
    "\"A\", \"content\": \"192.0.2.1\", \"x\": {\"y\": [1, 2]}}]}, \"rec\": [1]}}, \"o\": [{}]}",
    /* escapes in keys and values, surrogates in values */
    "{\"zones\": {\"example\\u002ecom.\": {\"records\": {\"\\u0040\": [{\"t\\u0079pe\": \"SOA\", "
    "\"content\": \"ns1 hostmaster 1 7200 3600 1209600 300\"}, {\"type\": \"NS\", \"content\": "
    "\"ns1\"}], \"w\\/w\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}], \"\\u0077ww2\": "
    "[{\"type\": \"\\u0041\", \"content\": \"192.0.2.2\"}]}}}}",
    ZONE(
        ", \"t\": [{\"type\": \"TXT\", \"content\": \"\\\"\\ud83d\\ude00 \\ud800 x\\udc00\\\"\"}]"),
    ZONE(", \"m\": [{\"type\": \"MX\", \"content\": \"10 mail\\u002eexample.com.\"}], \"t\": "
         "[{\"type\": \"TXT\", \"content\": \"\\\"a\\\\\\\"b\\\" \\u00e9\\u20ac \\t\"}], \"x\": "
         "[{\"type\": \"A\", \"content\": \"192.0.2.300\"}]"),
    /* TTLs of every JSON kind */
    ZONE(
        ", \"a\": [{\"type\": \"A\", \"content\": \"192.0.2.1\", \"ttl\": -0}], \"b\": [{\"type\": "
        "\"A\", \"content\": \"192.0.2.1\", \"ttl\": 1e2}], \"c\": [{\"type\": \"A\", \"content\": "
        "\"192.0.2.1\", \"ttl\": 60.0}], \"d\": [{\"type\": \"A\", \"content\": \"192.0.2.1\", "
        "\"ttl\": 2147483647}], \"e\": [{\"type\": \"A\", \"content\": \"192.0.2.1\", \"ttl\": "
        "2147483648}], \"f\": [{\"type\": \"A\", \"content\": \"192.0.2.1\", \"ttl\": "
        "99999999999999999999}], \"g\": [{\"type\": \"A\", \"content\": \"192.0.2.1\", \"ttl\": "
        "\"60\"}], \"h\": [{\"type\": \"A\", \"content\": \"192.0.2.1\", \"ttl\": true}], \"i\": "
        "[{\"type\": \"A\", \"content\": \"192.0.2.1\", \"ttl\": -1}]"),
    "{\"zones\": {\"a.\": {\"ttl\": -0, \"records\": {}}, \"b.\": {\"ttl\": 2147483648, "
    "\"records\": {}}, \"c.\": {\"ttl\": 0.5, \"records\": {}}}}",
    /* types and contents of the wrong kind */
    ZONE(
        ", \"a\": [{\"type\": \"a\", \"content\": \"192.0.2.1\"}], \"b\": [{\"type\": 1, "
        "\"content\": \"x\"}], \"c\": [{\"type\": [], \"content\": \"x\"}], \"d\": [{\"type\": "
        "\"ANY\", \"content\": \"x\"}], \"e\": [{\"type\": \"BOGUS\", \"content\": \"x\"}], \"f\": "
        "[{\"content\": \"x\"}], \"g\": [{\"type\": \"A\"}], \"h\": [{\"type\": \"A\", "
        "\"content\": 5}], \"i\": [7, \"x\", []], \"j\": {}, \"k\": \"l\", \"l\": []"),
    /* zones named twice, names meeting from different keys, an SOA after other records */
    "{\"zones\": {\"example.com\": {\"records\": {}}, \"EXAMPLE.com.\": {\"records\": {}}, "
    "\"bad..\": {}}}",
    ZONE(", \"www\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}], \"www.example.com.\": "
         "[{\"type\": \"A\", \"content\": \"192.0.2.2\"}], \"WWW\": [{\"type\": \"A\", "
         "\"content\": \"192.0.2.1\"}]"),
    "{\"zones\": {\"example.com.\": {\"records\": {\"@\": [{\"type\": \"NS\", \"content\": "
    "\"ns1\"}, {\"type\": \"MX\", \"content\": \"10 mx\"}], \"example.com.\": [{\"type\": "
    "\"TXT\", \"content\": \"x\"}, {\"type\": \"SOA\", \"content\": \"ns1 hostmaster 1 7200 "
    "3600 1209600 300\"}]}}}}",
    ZONE(", \"www\": [{\"type\": \"CNAME\", \"content\": \"x\"}, {\"type\": \"A\", \"content\": "
         "\"192.0.2.1\"}], \"d\": [{\"type\": \"A\", \"content\": \"192.0.2.1\", \"ttl\": 5}, "
         "{\"type\": \"A\", \"content\": \"192.0.2.1\"}, {\"type\": \"A\", \"content\": "
         "\"192.0.2.2\"}], \"x.other.\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}]"),
    /* pools referred to before "pools" comes, and wrongly */
    "{\"zones\": {\"example.com.\": {\"records\": {" APEX ", \"www\": [{\"type\": \"A\", "
    "\"pool\": \"p\", \"ttl\": 7}], \"mx\": [{\"type\": \"MX\", \"pool\": \"p\"}], \"n\": "
    "[{\"type\": \"A\", \"pool\": \"nope\"}], \"c\": [{\"type\": \"A\", \"pool\": \"p\", "
    "\"content\": \"192.0.2.1\"}], \"v6\": [{\"type\": \"AAAA\", \"pool\": \"p\"}]}}}, "
    "\"pools\": {\"p\": {\"members\": [{\"name\": \"a\", \"address\": \"192.0.2.10\"}]}}}",
    /* top levels that are no object */
    "[{\"zones\": {}}]",
    "42\n",
    "42",
    "\"zones\"",
    " \t\r\n{ \"zones\" : { } } \n\t ",
    /* a syntax error far behind record errors, a duplicate key among the records */
    ZONE(", \"x\": [{\"type\": \"A\", \"content\": \"192.0.2.300\"}]") " x",
    ZONE(", \"x\": [{\"type\": \"A\", \"content\": \"192.0.2.300\"}], \"x\": []"),
};

static void test_storetext_builds_what_the_tree_builds(void **state)
{
    (void)state;
    expect_same_str(helpers_example_json);
    expect_same_str(helpers_nested_json);
    assert_int_equal(expect_same_str(pools_json), 0);
}

static void test_storetext_reads_odd_json_as_the_tree_does(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
        expect_same_str(odd[i]);
}

/* Some of those with the messages spelled out, so that the tree's reading is pinned too. */
static void test_storetext_treats_null_as_json_c_does(void **state)
{
    (void)state;
    char buf[512];
    assert_string_equal(helpers_only_error("{\"zones\": null}", buf, sizeof(buf)),
                        "missing \"zones\" at the top level");
    assert_string_equal(
        helpers_only_error("{\"zones\": {\"example.com.\": {\"records\": null}}}", buf,
                           sizeof(buf)),
        "zones[\"example.com.\"]: missing \"records\" (a zone needs at least SOA and NS)");
    assert_string_equal(helpers_only_error(ZONE(", \"www\": [{\"type\": null, \"content\": "
                                                "\"192.0.2.1\"}]"),
                                           buf, sizeof(buf)),
                        "zones[\"example.com.\"].records[\"www\"][0].type: missing (every record "
                        "needs a type)");
}

static void test_storetext_reads_records_before_the_zone_ttl(void **state)
{
    (void)state;
    store_t *s = helpers_build("{\"zones\": {\"example.com.\": {\"records\": {" APEX
                               ", \"www\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}]}, "
                               "\"ttl\": 60}}}");
    const struct store_node *n = helpers_find(s, "www.example.com.", -1);
    assert_non_null(n);
    assert_int_equal(n->rrs[0].ttl, 60);
    store_free(s);
}

/* Every truncation of a store is one syntax error, the same as the tree's, never a crash. */
static void test_storetext_reports_every_truncation_as_a_syntax_error(void **state)
{
    (void)state;
    size_t len = strlen(pools_json);
    for (size_t n = 0; n < len; n++) {
        char *t = malloc(n + 1); /* exactly n bytes of text (and a NUL the loader must not need) */
        assert_non_null(t);
        memcpy(t, pools_json, n);
        t[n] = '\0';
        struct errlist errs = ERRLIST_INIT;
        store_t *s = NULL;
        int r = store_build(t, n, &s, &errs);
        if (n == len - 1) { /* all but the final newline: complete */
            assert_int_equal(r, 0);
            store_free(s);
        } else {
            assert_int_equal(r, -EINVAL);
            assert_null(s);
            if (errs.n != 1 || strncmp(errs.msgs[0], "line ", 5) != 0 ||
                !strstr(errs.msgs[0], ": JSON syntax error: "))
            {
                print_errs("errors", &errs);
                fail_msg("a prefix of %zu bytes", n);
            }
        }
        errlist_free(&errs);
        expect_same(t, n);
        free(t);
    }
}

/* Every text one byte away from a store: deleted, or replaced by a byte that matters to JSON. */
static void test_storetext_agrees_with_the_tree_after_any_one_byte_edit(void **state)
{
    (void)state;
    static const char subs[] = "\"\\{}[],:0";
    const char *const bases[] = {pools_json, helpers_example_json};
    for (size_t b = 0; b < 2; b++) {
        size_t len = strlen(bases[b]);
        char *t = malloc(len);
        assert_non_null(t);
        for (size_t i = 0; i < len; i++) {
            memcpy(t, bases[b], i);
            memcpy(t + i, bases[b] + i + 1, len - i - 1);
            expect_same(t, len - 1);
            for (const char *c = subs; *c; c++) {
                memcpy(t, bases[b], len);
                t[i] = *c;
                expect_same(t, len);
            }
        }
        free(t);
    }
}

/* The fuzz corpus: valid stores, and every kind of broken one. */
static void test_storetext_agrees_with_the_tree_on_the_fuzz_corpus(void **state)
{
    (void)state;
    const char *dir = PF_SOURCE_ROOT "/tests/fuzz/corpus/store";
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t files = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct sbuf text = SBUF_INIT;
        struct errlist errs = ERRLIST_INIT;
        assert_int_equal(store_read_file(path, &text, &errs), 0);
        expect_same(text.p, text.len);
        sbuf_free(&text);
        errlist_free(&errs);
        files++;
    }
    closedir(d);
    assert_true(files >= 10);
}

/* A store big enough for the hash sets of many keys and the sorting of many names, with names
 * that meet from different keys, a late SOA and records in several zones. */
static void test_storetext_agrees_with_the_tree_on_a_big_store(void **state)
{
    (void)state;
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, "{\"zones\": {");
    for (int z = 0; z < 3; z++) {
        sbuf_printf(&b, "%s\"z%d.test.\": {\"ttl\": %d, \"records\": {" APEX, z ? ", " : "", z,
                    100 + z);
        for (int i = 0; i < 3000; i++) {
            sbuf_printf(&b, ",\n\"h%d\": [{\"type\": \"A\", \"content\": \"10.%d.%d.%d\"}", i, z,
                        i >> 8, i & 255);
            if (i % 3 == 0)
                sbuf_printf(&b, ", {\"type\": \"TXT\", \"content\": \"\\\"t%d\\\"\", \"ttl\": 5}",
                            i);
            sbuf_putc(&b, ']');
            if (i % 500 == 7) /* the same name again, from a key written otherwise */
                sbuf_printf(&b,
                            ",\n\"H%d.z%d.test.\": [{\"type\": \"AAAA\", \"content\": "
                            "\"2001:db8::%x\"}]",
                            i, z, i);
        }
        sbuf_puts(&b, "}}");
    }
    sbuf_puts(&b, "}}");
    assert_int_equal(expect_same(b.p, b.len), 0);
    /* One record in error: the same single message from both. */
    char *at = strstr(b.p, "10.1.7.208");
    assert_non_null(at);
    memcpy(at, "10.1.7.308", 10);
    assert_int_equal(expect_same(b.p, b.len), 1);
    sbuf_free(&b);
}

/* store_load_file() frees the text as soon as it has been read: what it builds and reports must
 * not depend on it afterwards (sanitizers and valgrind watch). */
static void expect_load_file_like_build(const char *json)
{
    char path[] = "/tmp/pf-storetext-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    struct result built, loaded;
    build(store_build, json, strlen(json), &built);
    store_t *s = NULL;
    loaded.errs = (struct errlist)ERRLIST_INIT;
    loaded.dump = (struct sbuf)SBUF_INIT;
    errlist_add(&loaded.errs, "an earlier message");
    loaded.r = store_load_file(path, &s, &loaded.errs);
    dump(s, &loaded.dump);
    store_free(s);
    unlink(path);
    assert_int_equal(loaded.r, built.r);
    assert_int_equal(loaded.errs.n, built.errs.n);
    for (size_t i = 0; i < built.errs.n; i++)
        assert_string_equal(loaded.errs.msgs[i], built.errs.msgs[i]);
    assert_string_equal(sbuf_str(&loaded.dump), sbuf_str(&built.dump));
    result_free(&built);
    result_free(&loaded);
}

static void test_storetext_loads_a_file_as_it_builds_text(void **state)
{
    (void)state;
    expect_load_file_like_build(pools_json);
    /* Errors found after the text is gone: a duplicate record, a CNAME with company. */
    expect_load_file_like_build(ZONE(", \"d\": [{\"type\": \"A\", \"content\": \"192.0.2.1\"}, "
                                     "{\"type\": \"A\", \"content\": \"192.0.2.1\"}], "
                                     "\"www\": [{\"type\": \"CNAME\", \"content\": \"x\"}, "
                                     "{\"type\": \"TXT\", \"content\": \"x\"}]"));
    expect_load_file_like_build("{\"zones\": {\"a.\": {\"records\": {}}}, \"x\": 1} x");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_storetext_builds_what_the_tree_builds),
        cmocka_unit_test(test_storetext_reads_odd_json_as_the_tree_does),
        cmocka_unit_test(test_storetext_treats_null_as_json_c_does),
        cmocka_unit_test(test_storetext_reads_records_before_the_zone_ttl),
        cmocka_unit_test(test_storetext_reports_every_truncation_as_a_syntax_error),
        cmocka_unit_test(test_storetext_agrees_with_the_tree_after_any_one_byte_edit),
        cmocka_unit_test(test_storetext_agrees_with_the_tree_on_the_fuzz_corpus),
        cmocka_unit_test(test_storetext_agrees_with_the_tree_on_a_big_store),
        cmocka_unit_test(test_storetext_loads_a_file_as_it_builds_text),
    };
    return cmocka_run_group_tests_name("storetext", tests, NULL, NULL);
}
