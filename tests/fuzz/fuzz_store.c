/* SPDX-License-Identifier: MIT */
/* Fuzz target: arbitrary bytes as a store file. store_build() must fail with at least one error
 * or succeed with none; a built store must answer store_find() for every node, every zone apex
 * and a few names derived from them, and its reply fragments must be valid JSON. */
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/store.h"
#include "common/dname.h"
#include "common/errlist.h"
#include "common/sbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *why, const char *detail)
{
    fprintf(stderr, "fuzz_store: %s%s%s\n", why, detail ? ": " : "", detail ? detail : "");
    abort();
}

/* A comma-separated list of JSON objects, as lookup and list replies embed it. */
static void check_frag(const char *frag, size_t len)
{
    struct sbuf s = SBUF_INIT;
    sbuf_putc(&s, '[');
    sbuf_put(&s, frag, len);
    sbuf_putc(&s, ']');
    json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
    if (!tok)
        abort();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, s.p, (int)s.len);
    if (json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != s.len || !json_object_is_type(o, json_type_array))
        fail("a reply fragment is not valid JSON", s.p);
    json_object_put(o);
    json_tokener_free(tok);
    sbuf_free(&s);
}

/* Prepends label (len bytes) to name; returns false when the result would be too long. */
static bool child_of(const uint8_t *name, const char *label, size_t len, uint8_t *out)
{
    size_t nl = dname_wire_len(name);
    if (1 + len + nl > DNAME_WIRE_MAX)
        return false;
    out[0] = (uint8_t)len;
    memcpy(out + 1, label, len);
    memcpy(out + 1 + len, name, nl);
    return true;
}

static void probe_names(const store_t *s, const struct store_zone *z)
{
    static const char *const labels[] = {"www", "*", "a", "\0", "sub", "ns1"};
    uint8_t name[DNAME_WIRE_MAX];

    /* Below the apex, one and two labels deep; the zone's parent; the root. */
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        size_t len = labels[i][0] ? strlen(labels[i]) : 1;
        if (!child_of(z->apex, labels[i], len, name))
            continue;
        (void)store_find(s, name, -1);
        (void)store_find(s, name, z->id);
        uint8_t deeper[DNAME_WIRE_MAX];
        if (child_of(name, "x", 1, deeper))
            (void)store_find(s, deeper, 0);
    }
    (void)store_find(s, dname_parent(z->apex), -1);
    (void)store_find(s, (const uint8_t *)"", -1);
    (void)store_zone_by_name(s, dname_parent(z->apex));
}

static void check_store(const store_t *s)
{
    size_t nz = store_zone_count(s), nrecords = 0;
    for (size_t i = 0; i < nz; i++) {
        const struct store_zone *z = store_zone_at(s, i);
        char text[DNAME_TEXT_MAX];
        if (!z)
            fail("store_zone_at() returned NULL inside the count", NULL);
        if (store_zone_by_id(s, z->id) != z)
            fail("store_zone_by_id() does not find the zone", z->name);
        if (store_zone_by_name(s, z->apex) != z)
            fail("store_zone_by_name() does not find the zone", z->name);
        dname_to_text(z->apex, false, text);
        if (strcmp(text, z->name) != 0)
            fail("zone name and apex differ", z->name);
        if (z->nnodes == 0) {
            /* an emptied zone (pdnsutil clear-zone): listed, with nothing in it */
            if (z->nrecords != 0 || store_find(s, z->apex, z->id))
                fail("an empty zone has records or an apex node", z->name);
            continue;
        }
        if (store_find(s, z->apex, z->id) != z->nodes[0])
            fail("the apex is not the zone's first node", z->name);
        if (store_find(s, z->apex, -1) != z->nodes[0])
            fail("the apex lookup without zone id finds another node", z->name);
        uint32_t nrr = 0;
        for (size_t k = 0; k < z->nnodes; k++) {
            const struct store_node *n = z->nodes[k];
            if (store_find(s, n->name, z->id) != n)
                fail("a node of the zone is not found", n->text);
            if (n->zone != z || !dname_is_below(n->name, z->apex))
                fail("a node lies outside its zone", n->text);
            check_frag(n->any_frag, n->any_len);
            /* Every ancestor up to the apex exists, as a node or an empty non-terminal. */
            for (const uint8_t *p = n->name; !dname_equal(p, z->apex); p = dname_parent(p)) {
                const struct store_node *anc = store_find(s, p, z->id);
                if (!anc)
                    fail("an ancestor of a node is missing (no ENT)", n->text);
                if (anc->nrr == 0)
                    check_frag(anc->any_frag, anc->any_len);
            }
            for (uint32_t j = 0; j < n->nrr; j++)
                check_frag(n->rrs[j].frag, n->rrs[j].frag_len);
            nrr += n->nrr;
        }
        if (nrr != z->nrecords)
            fail("zone record count is wrong", z->name);
        nrecords += nrr;
        probe_names(s, z);
    }
    if (store_zone_at(s, nz) != NULL)
        fail("store_zone_at() past the end is not NULL", NULL);
    if (nrecords != store_record_count(s))
        fail("store record count is wrong", NULL);
    (void)store_zone_by_id(s, 0);
    (void)store_zone_by_id(s, -1);
    (void)store_zone_by_id(s, INT64_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct errlist errs = ERRLIST_INIT;
    store_t *s = NULL;

    int r = store_build((const char *)data, size, &s, &errs);
    if (r != 0 && r != -EINVAL)
        fail("store_build returned neither 0 nor -EINVAL", NULL);
    if ((r < 0) != (errlist_count(&errs) > 0))
        fail(r < 0 ? "failed without an error message" : "succeeded with error messages",
             errs.n ? errs.msgs[0] : NULL);
    if ((r < 0) != (s == NULL))
        fail("a store was returned with a failure, or none with success", NULL);
    if (s)
        check_store(s);
    store_free(s);
    errlist_free(&errs);
    return 0;
}
