/* SPDX-License-Identifier: MIT */
/* Store document edits (see edit.h). The document is json-c's tree of the store file; its
 * objects keep insertion order, so a value replaced in place stays where it was. */
#include "backend/edit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend/pools.h"
#include "backend/rdata.h"
#include "backend/store.h"
#include "common/dname.h"
#include "common/sbuf.h"
#include "common/xalloc.h"

static const uint8_t root_name[1] = {0};

void edit_op_clear(struct edit_op *op)
{
    if (!op)
        return;
    for (size_t i = 0; i < op->nrrs; i++) {
        free(op->rrs[i].qname);
        free(op->rrs[i].content);
    }
    free(op->rrs);
    for (size_t i = 0; i < op->nvalues; i++)
        free(op->values[i]);
    free(op->values);
    free(op->zone);
    free(op->qname);
    free(op->meta_kind);
    memset(op, 0, sizeof(*op));
}

/* ---- building ops from pdns parameters ------------------------------------------------------ */

static const char *get_str(json_object *o, const char *key, const char *what, struct errbuf *err)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return errbuf_set(err, -EINVAL, "%s: missing '%s'", what, key), NULL;
    if (!json_object_is_type(v, json_type_string))
        return errbuf_set(err, -EINVAL, "%s: '%s' must be a string, got %.60s", what, key,
                          json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)),
               NULL;
    return json_object_get_string(v);
}

static int
get_u32(json_object *o, const char *key, const char *what, uint32_t *ret, struct errbuf *err)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return errbuf_set(err, -EINVAL, "%s: missing '%s'", what, key);
    int64_t x;
    if (json_object_is_type(v, json_type_int)) {
        x = json_object_get_int64(v);
    } else if (json_object_is_type(v, json_type_string)) {
        char *end;
        const char *s = json_object_get_string(v);
        errno = 0;
        x = strtoll(s, &end, 10);
        if (!*s || *end || errno)
            x = -1;
    } else {
        x = -1;
    }
    if (x < 0 || x > (int64_t)STORE_TTL_MAX)
        return errbuf_set(err, -EINVAL, "%s: '%s' must be a number from 0 to %u, got %.60s", what,
                          key, STORE_TTL_MAX,
                          json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
    *ret = (uint32_t)x;
    return 0;
}

/* An absolute name inside zone, as wire (lowercase). */
static int name_in_zone(
    const char *name, const char *zone, const char *what, uint8_t *wire, struct errbuf *err)
{
    uint8_t apex[DNAME_WIRE_MAX];
    struct errbuf e;
    if (dname_from_text(name, strlen(name), root_name, wire, &e) < 0)
        return errbuf_set(err, -EINVAL, "%s: '%.300s': %s", what, name, e.msg);
    if (dname_from_text(zone, strlen(zone), root_name, apex, &e) < 0)
        return errbuf_set(err, -EINVAL, "%s: zone '%.300s': %s", what, zone, e.msg);
    dname_lower(wire);
    if (!dname_is_below(wire, apex))
        return errbuf_set(err, -EINVAL, "%s: '%.300s' is not inside zone '%.300s'", what, name,
                          zone);
    return 0;
}

static int type_of(const char *t, const char *what, struct errbuf *err)
{
    int code = rrtype_from_name(t, strlen(t));
    if (code <= 0 || code == RR_ANY)
        return errbuf_set(err, -EINVAL,
                          "%s: record type '%.40s' is not supported by the store (supported: %s)",
                          what, t, rrtype_list());
    return code;
}

/* One record object of pdns's: {qtype, qname, content, ttl, ...}. */
static int
parse_rr(json_object *o, const char *zone, const char *what, struct edit_rr *rr, struct errbuf *err)
{
    if (!json_object_is_type(o, json_type_object))
        return errbuf_set(err, -EINVAL, "%s: a record must be an object", what);
    const char *qname = get_str(o, "qname", what, err);
    const char *qtype = qname ? get_str(o, "qtype", what, err) : NULL;
    const char *content = qtype ? get_str(o, "content", what, err) : NULL;
    if (!content)
        return -EINVAL;
    uint8_t wire[DNAME_WIRE_MAX];
    if (name_in_zone(qname, zone, what, wire, err) < 0)
        return -EINVAL;
    int type = type_of(qtype, what, err);
    if (type < 0)
        return type;
    if (get_u32(o, "ttl", what, &rr->ttl, err) < 0)
        return -EINVAL;
    struct sbuf norm = SBUF_INIT;
    struct errbuf e;
    int r = rdata_to_store(type, content, &norm, &e);
    sbuf_free(&norm);
    if (r < 0)
        return errbuf_set(err, -EINVAL, "%s: %.300s %s: %s", what, qname, rrtype_name(type), e.msg);
    rr->qname = xstrdup(qname);
    rr->type = type;
    rr->content = xstrdup(content);
    return 0;
}

static bool dup_key(int type, const char *content, const uint8_t *origin, struct sbuf *out);

/* What an RRset must be on its own (the loader's rules that need nothing but the RRset), checked
 * when it arrives: pdnsutil and the API look only at replaceRRSet's answer, not at the commit's,
 * so this is where they can be told. */
static int
check_rrset(const struct edit_op *op, const uint8_t *wire, const char *zone, struct errbuf *err)
{
    static const char what[] = "replaceRRSet";
    const char *tn = rrtype_name(op->type);
    uint8_t apex[DNAME_WIRE_MAX];
    struct errbuf e;
    if (op->nrrs > 1 && (op->type == RR_SOA || op->type == RR_CNAME))
        return errbuf_set(err, -EINVAL, "%s: %.300s %s: %zu records, but there can be only one",
                          what, op->qname, tn, op->nrrs);
    if (op->type == RR_SOA && op->nrrs &&
        (dname_from_text(zone, strlen(zone), root_name, apex, &e) < 0 || !dname_equal(apex, wire)))
        return errbuf_set(err, -EINVAL,
                          "%s: an SOA record belongs at the zone apex (%.300s), "
                          "not at %.300s",
                          what, zone, op->qname);
    struct sbuf a = SBUF_INIT, b = SBUF_INIT;
    int r = 0;
    for (size_t i = 1; i < op->nrrs && r == 0; i++) {
        if (op->rrs[i].ttl != op->rrs[0].ttl)
            r = errbuf_set(err, -EINVAL,
                           "%s: %.300s %s: the records have different TTLs (%u and %u); an RRset "
                           "has one TTL (RFC 2181)",
                           what, op->qname, tn, op->rrs[0].ttl, op->rrs[i].ttl);
        for (size_t j = 0; j < i && r == 0; j++)
            if (dup_key(op->type, op->rrs[i].content, root_name, &a) &&
                dup_key(op->type, op->rrs[j].content, root_name, &b) &&
                strcmp(sbuf_str(&a), sbuf_str(&b)) == 0)
                r = errbuf_set(err, -EINVAL, "%s: %.300s %s: '%.200s' is there twice", what,
                               op->qname, tn, op->rrs[i].content);
    }
    sbuf_free(&a);
    sbuf_free(&b);
    return r;
}

int edit_op_replace(json_object *params, const char *zone, struct edit_op *op, struct errbuf *err)
{
    static const char what[] = "replaceRRSet";
    memset(op, 0, sizeof(*op));
    op->kind = EDIT_REPLACE_RRSET;
    op->base_serial = -1;
    const char *qname = get_str(params, "qname", what, err);
    const char *qtype = qname ? get_str(params, "qtype", what, err) : NULL;
    json_object *set;
    uint8_t wire[DNAME_WIRE_MAX];
    if (!qtype || name_in_zone(qname, zone, what, wire, err) < 0)
        return -EINVAL;
    if ((op->type = type_of(qtype, what, err)) < 0)
        return -EINVAL;
    if (!json_object_object_get_ex(params, "rrset", &set) ||
        !json_object_is_type(set, json_type_array))
        return errbuf_set(err, -EINVAL, "%s: 'rrset' must be an array of records", what);
    op->zone = xstrdup(zone);
    op->qname = xstrdup(qname);
    size_t n = json_object_array_length(set);
    op->rrs = xcalloc(n ? n : 1, sizeof(*op->rrs));
    for (size_t i = 0; i < n; i++) {
        struct edit_rr *rr = &op->rrs[op->nrrs];
        /* "rrset[2]": the RRset's own qname and qtype would read the same as a record's */
        char where[48];
        snprintf(where, sizeof(where), "%s: rrset[%zu]", what, i);
        if (parse_rr(json_object_array_get_idx(set, i), zone, where, rr, err) < 0)
            goto fail;
        op->nrrs++;
        uint8_t w2[DNAME_WIRE_MAX];
        struct errbuf e;
        dname_from_text(rr->qname, strlen(rr->qname), root_name, w2, &e);
        dname_lower(w2);
        if (rr->type != op->type || !dname_equal(w2, wire)) {
            errbuf_set(err, -EINVAL, "%s: record %.300s %s does not belong to the RRset %.300s %s",
                       what, rr->qname, rrtype_name(rr->type), qname, rrtype_name(op->type));
            goto fail;
        }
    }
    if (check_rrset(op, wire, zone, err) < 0)
        goto fail;
    return 0;
fail:
    edit_op_clear(op);
    return -EINVAL;
}

int edit_op_feed(
    json_object *params, const char *zone, bool whole, struct edit_op *op, struct errbuf *err)
{
    json_object *rr;
    memset(op, 0, sizeof(*op));
    op->kind = EDIT_FEED;
    op->whole = whole;
    op->base_serial = -1;
    if (!json_object_object_get_ex(params, "rr", &rr))
        return errbuf_set(err, -EINVAL, "feedRecord: missing 'rr'");
    op->rrs = xcalloc(1, sizeof(*op->rrs));
    if (parse_rr(rr, zone, "feedRecord", &op->rrs[0], err) < 0) {
        edit_op_clear(op);
        return -EINVAL;
    }
    op->nrrs = 1;
    op->zone = xstrdup(zone);
    op->qname = xstrdup(op->rrs[0].qname);
    op->type = op->rrs[0].type;
    return 0;
}

static bool meta_kind_ok(const char *k)
{
    if (!*k || strlen(k) > 100)
        return false;
    for (; *k; k++)
        if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') ||
              *k == '-' || *k == '_'))
            return false;
    return true;
}

int edit_op_meta(json_object *params, struct edit_op *op, struct errbuf *err)
{
    static const char what[] = "setDomainMetadata";
    memset(op, 0, sizeof(*op));
    op->kind = EDIT_SET_META;
    op->base_serial = -1;
    const char *name = get_str(params, "name", what, err);
    const char *kind = name ? get_str(params, "kind", what, err) : NULL;
    json_object *vals;
    char zone[DNAME_TEXT_MAX];
    if (!kind || edit_zone_name(name, zone, sizeof(zone), err) < 0)
        return -EINVAL;
    if (!meta_kind_ok(kind))
        return errbuf_set(err, -EINVAL,
                          "%s: kind '%.100s' is not a metadata kind (letters, digits, '-', '_')",
                          what, kind);
    if (!json_object_object_get_ex(params, "value", &vals) ||
        !json_object_is_type(vals, json_type_array))
        return errbuf_set(err, -EINVAL, "%s: 'value' must be an array of strings", what);
    size_t n = json_object_array_length(vals);
    for (size_t i = 0; i < n; i++)
        if (!json_object_is_type(json_object_array_get_idx(vals, i), json_type_string))
            return errbuf_set(err, -EINVAL, "%s: value[%zu] must be a string", what, i);
    op->zone = xstrdup(zone);
    op->meta_kind = xstrdup(kind);
    op->values = xcalloc(n ? n : 1, sizeof(*op->values));
    for (size_t i = 0; i < n; i++)
        op->values[i] = xstrdup(json_object_get_string(json_object_array_get_idx(vals, i)));
    op->nvalues = n;
    return 0;
}

/* An op on a whole zone, named as a person would. */
static int zone_op(enum edit_kind kind, const char *zone, struct edit_op *op, struct errbuf *err)
{
    char z[DNAME_TEXT_MAX];
    memset(op, 0, sizeof(*op));
    op->base_serial = -1;
    if (edit_zone_name(zone, z, sizeof(z), err) < 0)
        return -EINVAL;
    op->kind = kind;
    op->zone = xstrdup(z);
    return 0;
}

int edit_op_clear_zone(const char *zone, struct edit_op *op, struct errbuf *err)
{
    return zone_op(EDIT_CLEAR_ZONE, zone, op, err);
}

int edit_op_add_zone(const char *zone,
                     const char *soa,
                     const char *const *ns,
                     size_t nns,
                     uint32_t ttl,
                     struct edit_op *op,
                     struct errbuf *err)
{
    if (zone_op(EDIT_ADD_ZONE, zone, op, err) < 0)
        return -EINVAL;
    const char *z = op->zone;
    if (nns == 0) {
        errbuf_set(err, -EINVAL, "zone %s: at least one name server (NS) is needed", z);
        edit_op_clear(op);
        return -EINVAL;
    }
    op->zone_ttl = ttl;
    op->rrs = xcalloc(nns + 1, sizeof(*op->rrs));
    for (size_t i = 0; i <= nns; i++) {
        struct edit_rr *rr = &op->rrs[i];
        rr->qname = xstrdup(z);
        rr->type = i == 0 ? RR_SOA : RR_NS;
        rr->content = xstrdup(i == 0 ? soa : ns[i - 1]);
        rr->ttl = ttl ? ttl : STORE_DEFAULT_TTL;
        op->nrrs++;
        struct sbuf norm = SBUF_INIT;
        struct errbuf e;
        int r = rdata_to_store(rr->type, rr->content, &norm, &e);
        sbuf_free(&norm);
        if (r < 0) {
            errbuf_set(err, -EINVAL, "zone %s: %s '%.300s': %s", z, rrtype_name(rr->type),
                       rr->content, e.msg);
            edit_op_clear(op);
            return -EINVAL;
        }
    }
    return 0;
}

int edit_op_delete_zone(const char *zone, struct edit_op *op, struct errbuf *err)
{
    return zone_op(EDIT_DELETE_ZONE, zone, op, err);
}

int edit_zone_name(const char *in, char *out, size_t cap, struct errbuf *err)
{
    uint8_t wire[DNAME_WIRE_MAX];
    struct errbuf e;
    if (dname_from_text(in, strlen(in), root_name, wire, &e) < 0)
        return errbuf_set(err, -EINVAL, "zone name '%.300s': %s", in, e.msg);
    dname_lower(wire);
    char text[DNAME_TEXT_MAX];
    size_t n = dname_to_text(wire, false, text);
    if (n + 1 > cap)
        return errbuf_set(err, -ENAMETOOLONG, "zone name '%.300s' is too long", in);
    memcpy(out, text, n + 1);
    return 0;
}

/* ---- applying ops -------------------------------------------------------------------------- */

/* A set of strings: the records already at one name, as "TYPE content" normalised and
 * lowercased, so that inserting the 5,000th record at a name does not normalise the 4,999
 * before it again. */
struct cset {
    char **v;
    size_t cap, n;
};

static uint32_t str_hash(const char *p)
{
    uint32_t h = 2166136261u;
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

static char **cset_slot(struct cset *c, const char *k)
{
    size_t mask = c->cap - 1;
    for (size_t i = str_hash(k) & mask;; i = (i + 1) & mask)
        if (!c->v[i] || strcmp(c->v[i], k) == 0)
            return &c->v[i];
}

static bool cset_has(struct cset *c, const char *k)
{
    return c->cap && *cset_slot(c, k);
}

static void cset_add(struct cset *c, const char *k)
{
    if ((c->n + 1) * 2 > c->cap) {
        struct cset old = *c;
        c->cap = old.cap ? old.cap * 2 : 16;
        c->v = xcalloc(c->cap, sizeof(*c->v));
        for (size_t i = 0; i < old.cap; i++)
            if (old.v[i])
                *cset_slot(c, old.v[i]) = old.v[i];
        free(old.v);
    }
    char **s = cset_slot(c, k);
    if (!*s) {
        *s = xstrdup(k);
        c->n++;
    }
}

static void cset_free(struct cset *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->cap; i++)
        free(c->v[i]);
    free(c->v);
    free(c);
}

/* Owner names of one zone's "records" object, by lowercase wire name: a load of thousands of
 * fed records must not parse every key again for each record. */
struct owner_ix {
    json_object *records; /* the object indexed; NULL: no index */
    uint8_t apex[DNAME_WIRE_MAX];
    size_t cap, used;
    struct slot {
        uint8_t *wire;     /* NULL: empty */
        char *key;         /* NULL with wire set: deleted */
        struct cset *seen; /* the name's records, once a feed needed them; NULL: not built */
    } * slots;
};

static uint32_t wire_hash(const uint8_t *w)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0, n = dname_wire_len(w); i < n; i++)
        h = (h ^ w[i]) * 16777619u;
    return h;
}

static void ix_free(struct owner_ix *ix)
{
    for (size_t i = 0; i < ix->cap; i++) {
        free(ix->slots[i].wire);
        free(ix->slots[i].key);
        cset_free(ix->slots[i].seen);
    }
    free(ix->slots);
    memset(ix, 0, sizeof(*ix));
}

static struct slot *ix_find(struct owner_ix *ix, const uint8_t *wire)
{
    size_t mask = ix->cap - 1;
    for (size_t i = wire_hash(wire) & mask;; i = (i + 1) & mask) {
        struct slot *s = &ix->slots[i];
        if (!s->wire || dname_equal(s->wire, wire))
            return s;
    }
}

static void ix_put(struct owner_ix *ix, const uint8_t *wire, const char *key)
{
    if ((ix->used + 1) * 2 > ix->cap) {
        struct owner_ix old = *ix;
        ix->cap = old.cap ? old.cap * 2 : 64;
        ix->slots = xcalloc(ix->cap, sizeof(*ix->slots));
        ix->used = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.slots[i].wire) {
                *ix_find(ix, old.slots[i].wire) = old.slots[i];
                ix->used++;
            }
        free(old.slots);
    }
    struct slot *s = ix_find(ix, wire);
    if (!s->wire) {
        s->wire = xmalloc(dname_wire_len(wire));
        memcpy(s->wire, wire, dname_wire_len(wire));
        ix->used++;
    }
    free(s->key);
    s->key = key ? xstrdup(key) : NULL;
    cset_free(s->seen); /* the list changed as a whole */
    s->seen = NULL;
}

static void ix_build(struct owner_ix *ix, json_object *records, const uint8_t *apex)
{
    if (ix->records == records)
        return;
    ix_free(ix);
    ix->records = records;
    memcpy(ix->apex, apex, dname_wire_len(apex));
    json_object_object_foreach(records, key, val)
    {
        (void)val;
        uint8_t wire[DNAME_WIRE_MAX];
        struct errbuf e;
        if (dname_from_text(key, strlen(key), apex, wire, &e) < 0)
            continue; /* the store would not load; the validation after the edit says why */
        dname_lower(wire);
        ix_put(ix, wire, key);
    }
}

static const char *ix_key(struct owner_ix *ix, const uint8_t *wire)
{
    if (!ix->cap)
        return NULL;
    return ix_find(ix, wire)->key;
}

struct zone_ref {
    json_object *zone;    /* the zone's object */
    json_object *records; /* its "records" object (created when missing) */
    const char *key;      /* its key in "zones" */
    uint8_t apex[DNAME_WIRE_MAX];
    uint32_t ttl; /* default TTL */
};

static json_object *zones_of(json_object *doc, struct errbuf *err)
{
    json_object *zones;
    if (!json_object_is_type(doc, json_type_object) ||
        !json_object_object_get_ex(doc, "zones", &zones) ||
        !json_object_is_type(zones, json_type_object))
        return errbuf_set(err, -EINVAL, "the store has no \"zones\" object"), NULL;
    return zones;
}

/* The key of zone `name` (absolute text) in "zones", or NULL. */
static const char *find_zone_key(json_object *zones, const uint8_t *apex)
{
    json_object_object_foreach(zones, key, val)
    {
        (void)val;
        uint8_t w[DNAME_WIRE_MAX];
        struct errbuf e;
        size_t kl = strlen(key);
        char abs[DNAME_TEXT_MAX + 2];
        if (kl == 0 || kl > DNAME_TEXT_MAX)
            continue;
        /* zone keys are absolute with or without the trailing dot (as the store reads them) */
        memcpy(abs, key, kl + 1);
        if (dname_from_text(abs, kl, root_name, w, &e) < 0)
            continue;
        if (dname_equal(w, apex))
            return key;
    }
    return NULL;
}

static int find_zone(json_object *doc, const char *zone, struct zone_ref *z, struct errbuf *err)
{
    json_object *zones = zones_of(doc, err);
    struct errbuf e;
    if (!zones)
        return -EINVAL;
    if (dname_from_text(zone, strlen(zone), root_name, z->apex, &e) < 0)
        return errbuf_set(err, -EINVAL, "zone '%.300s': %s", zone, e.msg);
    dname_lower(z->apex);
    z->key = find_zone_key(zones, z->apex);
    if (!z->key)
        return errbuf_set(err, -ENOENT, "zone '%.300s' is not in the store", zone);
    json_object_object_get_ex(zones, z->key, &z->zone);
    if (!json_object_is_type(z->zone, json_type_object))
        return errbuf_set(err, -EINVAL, "zones[\"%.300s\"] is not an object", z->key);
    json_object *ttl;
    z->ttl = STORE_DEFAULT_TTL;
    if (json_object_object_get_ex(z->zone, "ttl", &ttl) && json_object_is_type(ttl, json_type_int))
        z->ttl = (uint32_t)json_object_get_int64(ttl);
    if (!json_object_object_get_ex(z->zone, "records", &z->records) || !z->records) {
        z->records = json_object_new_object();
        json_object_object_add(z->zone, "records", z->records);
    }
    if (!json_object_is_type(z->records, json_type_object))
        return errbuf_set(err, -EINVAL, "zones[\"%.300s\"].records is not an object", z->key);
    return 0;
}

/* The key a new owner name gets: relative to the zone, lowercase ("@" for the apex). */
static void owner_key_for(const uint8_t *wire, const uint8_t *apex, struct sbuf *out)
{
    if (dname_equal(wire, apex)) {
        sbuf_puts(out, "@");
        return;
    }
    char full[DNAME_TEXT_MAX], zt[DNAME_TEXT_MAX];
    size_t n = dname_to_text(wire, false, full);
    size_t zn = dname_to_text(apex, false, zt);
    if (zn == 1) /* the root zone: keep it absolute */
        sbuf_put(out, full, n);
    else
        sbuf_put(out, full, n - zn - 1); /* without ".zone." */
}

static const char *rec_type_name(json_object *rec)
{
    json_object *t;
    if (!json_object_is_type(rec, json_type_object) ||
        !json_object_object_get_ex(rec, "type", &t) || !json_object_is_type(t, json_type_string))
        return NULL;
    return json_object_get_string(t);
}

static int rec_type(json_object *rec)
{
    const char *t = rec_type_name(rec);
    return t ? rrtype_from_name(t, strlen(t)) : 0;
}

static const char *rec_pool(json_object *rec)
{
    json_object *p;
    if (!json_object_object_get_ex(rec, "pool", &p))
        return NULL;
    return json_object_is_type(p, json_type_string) ? json_object_get_string(p) : "?";
}

static uint32_t rec_ttl(json_object *rec, uint32_t zone_ttl)
{
    json_object *t;
    if (json_object_object_get_ex(rec, "ttl", &t) && json_object_is_type(t, json_type_int))
        return (uint32_t)json_object_get_int64(t);
    return rec_pool(rec) ? POOL_DEFAULT_TTL : zone_ttl;
}

/* Same record data: both normalised the way pdns prints them. */
static bool same_content(json_object *rec, int type, const char *content, const uint8_t *apex)
{
    json_object *c;
    if (!json_object_object_get_ex(rec, "content", &c) || !json_object_is_type(c, json_type_string))
        return false;
    struct sbuf a = SBUF_INIT, b = SBUF_INIT;
    struct errbuf e;
    bool same = rdata_normalize(type, json_object_get_string(c), apex, &a, &e) == 0 &&
                rdata_normalize(type, content, root_name, &b, &e) == 0 &&
                strcasecmp(sbuf_str(&a), sbuf_str(&b)) == 0; /* as the loader finds duplicates */
    sbuf_free(&a);
    sbuf_free(&b);
    return same;
}

static json_object *new_record(const struct edit_rr *rr, uint32_t zone_ttl)
{
    struct sbuf norm = SBUF_INIT;
    struct errbuf e;
    rdata_to_store(rr->type, rr->content, &norm, &e); /* validated when the op was built */
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string(rrtype_name(rr->type)));
    json_object_object_add(o, "content", json_object_new_string(sbuf_str(&norm)));
    if (rr->ttl != zone_ttl)
        json_object_object_add(o, "ttl", json_object_new_int64(rr->ttl));
    sbuf_free(&norm);
    return o;
}

/* An existing record kept in a new RRset: only its TTL may change. */
static void retune_ttl(json_object *rec, uint32_t ttl, uint32_t zone_ttl)
{
    if (rec_ttl(rec, zone_ttl) == ttl)
        return;
    if (ttl == zone_ttl)
        json_object_object_del(rec, "ttl");
    else
        json_object_object_add(rec, "ttl", json_object_new_int64(ttl));
}

static bool serial_gt(uint32_t a, uint32_t b)
{
    return a != b && ((a > b && a - b < 0x80000000u) || (a < b && b - a > 0x80000000u));
}

static int64_t current_serial(json_object *list, const uint8_t *apex)
{
    size_t n = list ? json_object_array_length(list) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *rec = json_object_array_get_idx(list, i), *c;
        if (rec_type(rec) != RR_SOA || !json_object_object_get_ex(rec, "content", &c))
            continue;
        struct sbuf norm = SBUF_INIT;
        struct errbuf e;
        uint32_t serial, minimum;
        int64_t r = -1;
        if (rdata_normalize(RR_SOA, json_object_get_string(c), apex, &norm, &e) == 0 &&
            rdata_soa_numbers(sbuf_str(&norm), &serial, &minimum) == 0)
            r = serial;
        sbuf_free(&norm);
        return r;
    }
    return -1;
}

/* Another writer moved the serial since this edit read it: make sure this one moves past. */
static void reserial(struct edit_op *op, int64_t cur)
{
    if (op->base_serial < 0) {
        op->base_serial = cur;
        return;
    }
    if (cur < 0 || cur == op->base_serial || op->nrrs != 1)
        return;
    struct edit_rr *rr = &op->rrs[0];
    struct sbuf norm = SBUF_INIT;
    struct errbuf e;
    uint32_t serial, minimum;
    if (rdata_to_store(RR_SOA, rr->content, &norm, &e) == 0 &&
        rdata_soa_numbers(sbuf_str(&norm), &serial, &minimum) == 0 &&
        !serial_gt(serial, (uint32_t)cur))
    {
        /* fields: mname rname serial refresh retry expire minimum; names have no bare spaces */
        const char *p = sbuf_str(&norm);
        const char *s1 = strchr(p, ' '), *s2 = s1 ? strchr(s1 + 1, ' ') : NULL;
        const char *s3 = s2 ? strchr(s2 + 1, ' ') : NULL;
        if (s3) {
            struct sbuf c = SBUF_INIT;
            sbuf_put(&c, p, (size_t)(s2 - p + 1));
            sbuf_u64(&c, (uint32_t)cur + 1u);
            sbuf_puts(&c, s3);
            free(rr->content);
            rr->content = sbuf_take(&c);
        }
    }
    sbuf_free(&norm);
}

/* "TYPE content" normalised and lowercased: how the loader tells duplicate records apart. */
static bool dup_key(int type, const char *content, const uint8_t *origin, struct sbuf *out)
{
    struct errbuf e;
    sbuf_reset(out);
    sbuf_printf(out, "%d ", type);
    if (rdata_normalize(type, content, origin, out, &e) < 0)
        return false;
    for (size_t i = 0; i < out->len; i++)
        if (out->p[i] >= 'A' && out->p[i] <= 'Z')
            out->p[i] = (char)(out->p[i] - 'A' + 'a');
    return true;
}

/* Inserts one record (nothing when the same record is there), appending in place. */
static int apply_feed(struct zone_ref *z,
                      struct owner_ix *ix,
                      const uint8_t *wire,
                      const char *key,
                      json_object *list,
                      const struct edit_rr *rr)
{
    struct sbuf k = SBUF_INIT;
    if (!key) {
        json_object *arr = json_object_new_array();
        json_object_array_add(arr, new_record(rr, z->ttl));
        owner_key_for(wire, z->apex, &k);
        json_object_object_add(z->records, sbuf_str(&k), arr);
        ix_put(ix, wire, sbuf_str(&k));
        sbuf_free(&k);
        return 0;
    }
    struct slot *sl = ix_find(ix, wire);
    if (!sl->seen) {
        sl->seen = xcalloc(1, sizeof(*sl->seen));
        for (size_t i = 0, n = json_object_array_length(list); i < n; i++) {
            json_object *rec = json_object_array_get_idx(list, i), *c;
            int t = rec_type(rec);
            if (t > 0 && json_object_object_get_ex(rec, "content", &c) &&
                json_object_is_type(c, json_type_string) &&
                dup_key(t, json_object_get_string(c), z->apex, &k))
                cset_add(sl->seen, sbuf_str(&k));
        }
    }
    if (dup_key(rr->type, rr->content, root_name, &k) && !cset_has(sl->seen, sbuf_str(&k))) {
        cset_add(sl->seen, sbuf_str(&k));
        json_object_array_add(list, new_record(rr, z->ttl));
    } /* else already there: an insert changes nothing */
    sbuf_free(&k);
    return 0;
}

static int refuse_pool(const struct edit_op *op, const char *pool, struct errbuf *err)
{
    return errbuf_set(err, -EINVAL,
                      "%.300s %s is answered by pool '%.100s' and cannot be changed through "
                      "pdns; change it in the store file (pool records stay pools)",
                      op->qname, rrtype_name(op->type), pool);
}

static int
apply_rrset(struct zone_ref *z, struct owner_ix *ix, struct edit_op *op, struct errbuf *err)
{
    uint8_t wire[DNAME_WIRE_MAX];
    struct errbuf e;
    if (dname_from_text(op->qname, strlen(op->qname), root_name, wire, &e) < 0)
        return errbuf_set(err, -EINVAL, "'%.300s': %s", op->qname, e.msg);
    dname_lower(wire);
    if (!dname_is_below(wire, z->apex))
        return errbuf_set(err, -EINVAL, "'%.300s' is not inside zone '%s'", op->qname, z->key);
    ix_build(ix, z->records, z->apex);
    const char *key = ix_key(ix, wire);
    json_object *list = NULL;
    if (key && (!json_object_object_get_ex(z->records, key, &list) ||
                !json_object_is_type(list, json_type_array)))
        return errbuf_set(err, -EINVAL, "records[\"%.300s\"] is not an array", key);
    size_t n = list ? json_object_array_length(list) : 0;

    for (size_t i = 0; i < n; i++) {
        json_object *rec = json_object_array_get_idx(list, i);
        const char *pool = rec_pool(rec);
        if (pool && rec_type(rec) == op->type) {
            if (op->kind == EDIT_FEED && op->whole)
                return 0; /* a snapshot of the pool's answer (export, AXFR): the pool stays */
            return refuse_pool(op, pool, err);
        }
    }
    if (op->type == RR_SOA && op->kind == EDIT_REPLACE_RRSET)
        reserial(op, current_serial(list, z->apex));

    if (op->kind == EDIT_FEED)
        return apply_feed(z, ix, wire, key, list, &op->rrs[0]);

    json_object *out = json_object_new_array();
    bool placed = false;
    {
        for (size_t i = 0; i < n; i++) {
            json_object *rec = json_object_array_get_idx(list, i);
            if (rec_type(rec) != op->type) {
                json_object_array_add(out, json_object_get(rec));
                continue;
            }
            if (placed)
                continue;
            placed = true;
            /* The new RRset takes the place of the old one; records that stay are kept as
             * they were written (same text, same position among their peers). */
            for (size_t k = 0; k < op->nrrs; k++) {
                json_object *keep = NULL;
                for (size_t j = i; j < n && !keep; j++) {
                    json_object *old = json_object_array_get_idx(list, j);
                    if (rec_type(old) == op->type &&
                        same_content(old, op->type, op->rrs[k].content, z->apex))
                        keep = old;
                }
                if (keep) {
                    retune_ttl(keep, op->rrs[k].ttl, z->ttl);
                    json_object_array_add(out, json_object_get(keep));
                } else {
                    json_object_array_add(out, new_record(&op->rrs[k], z->ttl));
                }
            }
        }
        if (!placed)
            for (size_t k = 0; k < op->nrrs; k++)
                json_object_array_add(out, new_record(&op->rrs[k], z->ttl));
    }

    if (json_object_array_length(out) == 0) {
        json_object_put(out);
        if (key) {
            json_object_object_del(z->records, key);
            ix_put(ix, wire, NULL);
        }
        return 0;
    }
    if (key) {
        struct slot *sl = ix_find(ix, wire);
        cset_free(sl->seen); /* built for the list being replaced */
        sl->seen = NULL;
        json_object_object_add(z->records, key, out); /* replaced in place: same position */
    } else {
        struct sbuf k = SBUF_INIT;
        owner_key_for(wire, z->apex, &k);
        json_object_object_add(z->records, sbuf_str(&k), out);
        ix_put(ix, wire, sbuf_str(&k));
        sbuf_free(&k);
    }
    return 0;
}

/* The records fed for one zone, grouped by owner for merge_zone(). */
struct fed {
    const struct edit_rr *rr;
    char owner[DNAME_TEXT_MAX]; /* lowercase canonical text */
    char *dup;                  /* dup_key() */
    size_t orig;                /* index among the feeds */
    bool used;
};

static int fed_cmp(const void *a, const void *b)
{
    const struct fed *x = a, *y = b;
    int c = strcmp(x->owner, y->owner);
    if (c)
        return c;
    return x->orig < y->orig ? -1 : x->orig > y->orig; /* stable: fed order */
}

/* The fed records at owner (sorted array), as [*lo, *hi). */
static void fed_range(struct fed *f, size_t n, const char *owner, size_t *lo, size_t *hi)
{
    size_t a = 0, b = n;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (strcmp(f[m].owner, owner) < 0)
            a = m + 1;
        else
            b = m;
    }
    *lo = a;
    while (a < n && strcmp(f[a].owner, owner) == 0)
        a++;
    *hi = a;
}

/* Appends fed record j (unless an earlier one at its name, lo.., is the same) and marks it. */
static void add_fed(json_object *arr, struct fed *f, size_t lo, size_t j, uint32_t zone_ttl)
{
    bool dup = false;
    for (size_t m = lo; m < j && !dup; m++)
        dup = f[m].used && strcmp(f[m].dup, f[j].dup) == 0;
    f[j].used = true;
    if (!dup)
        json_object_array_add(arr, new_record(f[j].rr, zone_ttl));
}

/* Whole-zone replacement by feeds[0..n): the zone ends up with exactly the fed records plus its
 * pool records. An existing record that was fed again stays as written (its TTL follows the
 * feed); the others go; fed records that are new are appended to their name, new names at the
 * end; a fed record at a pool's (name, type) is dropped (a snapshot of the pool's answer). */
static void merge_zone(struct zone_ref *z, struct owner_ix *ix, struct edit_op *feeds, size_t n)
{
    struct fed *f = xcalloc(n ? n : 1, sizeof(*f));
    struct sbuf k = SBUF_INIT;
    size_t nf = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t w[DNAME_WIRE_MAX];
        struct errbuf e;
        const struct edit_rr *rr = &feeds[i].rrs[0];
        if (dname_from_text(rr->qname, strlen(rr->qname), root_name, w, &e) < 0 ||
            !dup_key(rr->type, rr->content, root_name, &k))
            continue; /* validated when the op was built */
        dname_lower(w);
        f[nf].rr = rr;
        f[nf].orig = i;
        dname_to_text(w, false, f[nf].owner);
        f[nf].dup = xstrdup(sbuf_str(&k));
        nf++;
    }
    qsort(f, nf, sizeof(*f), fed_cmp);
    size_t *pos = xcalloc(n ? n : 1, sizeof(*pos)); /* feed index -> sorted index, or n */
    for (size_t i = 0; i < n; i++)
        pos[i] = n;
    for (size_t j = 0; j < nf; j++)
        pos[f[j].orig] = j;

    json_object *out = json_object_new_object();
    json_object_object_foreach(z->records, key, list)
    {
        uint8_t w[DNAME_WIRE_MAX];
        char owner[DNAME_TEXT_MAX];
        struct errbuf e;
        if (!json_object_is_type(list, json_type_array) ||
            dname_from_text(key, strlen(key), z->apex, w, &e) < 0)
        {
            json_object_object_add(out, key, json_object_get(list)); /* the loader will say */
            continue;
        }
        dname_lower(w);
        dname_to_text(w, false, owner);
        size_t lo, hi, len = json_object_array_length(list);
        fed_range(f, nf, owner, &lo, &hi);
        /* pass 1: which existing records were fed again */
        bool *keep = xcalloc(len ? len : 1, sizeof(*keep));
        for (size_t i = 0; i < len; i++) {
            json_object *rec = json_object_array_get_idx(list, i), *c;
            int t = rec_type(rec);
            if (rec_pool(rec)) {
                keep[i] = true;
                for (size_t j = lo; j < hi; j++) /* the pool's answer, fed back */
                    if (f[j].rr->type == t)
                        f[j].used = true;
                continue;
            }
            if (t <= 0 || !json_object_object_get_ex(rec, "content", &c) ||
                !json_object_is_type(c, json_type_string) ||
                !dup_key(t, json_object_get_string(c), z->apex, &k))
                continue;
            for (size_t j = lo; j < hi; j++) {
                if (!f[j].used && strcmp(f[j].dup, sbuf_str(&k)) == 0) {
                    f[j].used = keep[i] = true;
                    retune_ttl(rec, f[j].rr->ttl, z->ttl);
                    break;
                }
            }
        }
        /* pass 2: kept records in place; new records of a type where its first dropped record
         * was (a changed SOA stays first), new types at the end */
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < len; i++) {
            json_object *rec = json_object_array_get_idx(list, i);
            if (keep[i]) {
                json_object_array_add(arr, json_object_get(rec));
                continue;
            }
            int t = rec_type(rec);
            for (size_t j = lo; j < hi; j++)
                if (!f[j].used && f[j].rr->type == t)
                    add_fed(arr, f, lo, j, z->ttl);
        }
        free(keep);
        for (size_t j = lo; j < hi; j++)
            if (!f[j].used)
                add_fed(arr, f, lo, j, z->ttl);
        if (json_object_array_length(arr))
            json_object_object_add(out, key, arr);
        else
            json_object_put(arr);
    }
    /* new names, in the order they were fed */
    for (size_t i = 0; i < n; i++) {
        size_t j = pos[i];
        if (j < nf && !f[j].used) {
            size_t lo, hi;
            fed_range(f, nf, f[j].owner, &lo, &hi);
            json_object *arr = json_object_new_array();
            for (size_t m = lo; m < hi; m++)
                add_fed(arr, f, lo, m, z->ttl);
            uint8_t w[DNAME_WIRE_MAX];
            struct errbuf e;
            struct sbuf nk = SBUF_INIT;
            dname_from_text(f[j].owner, strlen(f[j].owner), root_name, w, &e);
            owner_key_for(w, z->apex, &nk);
            json_object_object_add(out, sbuf_str(&nk), arr);
            sbuf_free(&nk);
        }
    }
    free(pos);
    json_object_object_add(z->zone, "records", out);
    z->records = out;
    ix_free(ix);
    for (size_t i = 0; i < nf; i++)
        free(f[i].dup);
    free(f);
    sbuf_free(&k);
}

static void apply_meta(struct zone_ref *z, const struct edit_op *op)
{
    json_object *meta = NULL;
    if (!json_object_object_get_ex(z->zone, "metadata", &meta) ||
        !json_object_is_type(meta, json_type_object))
    {
        if (op->nvalues == 0)
            return;
        meta = json_object_new_object();
        json_object_object_add(z->zone, "metadata", meta);
    }
    const char *key = op->meta_kind;
    json_object_object_foreach(meta, k, v)
    {
        (void)v;
        if (strcasecmp(k, op->meta_kind) == 0) {
            key = k;
            break;
        }
    }
    if (op->nvalues == 0) {
        json_object_object_del(meta, key);
        if (json_object_object_length(meta) == 0)
            json_object_object_del(z->zone, "metadata");
        return;
    }
    json_object *vals = json_object_new_array();
    for (size_t i = 0; i < op->nvalues; i++)
        json_object_array_add(vals, json_object_new_string(op->values[i]));
    json_object_object_add(meta, key, vals);
}

static int apply_add_zone(json_object *doc, const struct edit_op *op, struct errbuf *err)
{
    json_object *zones = zones_of(doc, err);
    uint8_t apex[DNAME_WIRE_MAX];
    struct errbuf e;
    if (!zones)
        return -EINVAL;
    if (dname_from_text(op->zone, strlen(op->zone), root_name, apex, &e) < 0)
        return errbuf_set(err, -EINVAL, "zone '%.300s': %s", op->zone, e.msg);
    const char *have = find_zone_key(zones, apex);
    if (have)
        return errbuf_set(err, -EEXIST, "zone '%.300s' is already in the store (as \"%.300s\")",
                          op->zone, have);
    json_object *zone = json_object_new_object();
    uint32_t ttl = op->zone_ttl ? op->zone_ttl : STORE_DEFAULT_TTL;
    if (op->zone_ttl)
        json_object_object_add(zone, "ttl", json_object_new_int64(op->zone_ttl));
    json_object *records = json_object_new_object(), *apexrecs = json_object_new_array();
    for (size_t i = 0; i < op->nrrs; i++)
        json_object_array_add(apexrecs, new_record(&op->rrs[i], ttl));
    json_object_object_add(records, "@", apexrecs);
    json_object_object_add(zone, "records", records);
    json_object_object_add(zones, op->zone, zone);
    return 0;
}

static int apply_delete_zone(json_object *doc, const struct edit_op *op, struct errbuf *err)
{
    json_object *zones = zones_of(doc, err);
    uint8_t apex[DNAME_WIRE_MAX];
    struct errbuf e;
    if (!zones)
        return -EINVAL;
    if (dname_from_text(op->zone, strlen(op->zone), root_name, apex, &e) < 0)
        return errbuf_set(err, -EINVAL, "zone '%.300s': %s", op->zone, e.msg);
    const char *key = find_zone_key(zones, apex);
    if (!key)
        return errbuf_set(err, -ENOENT, "zone '%.300s' is not in the store", op->zone);
    json_object_object_del(zones, key);
    return 0;
}

int edit_apply(json_object *doc, struct edit_op *ops, size_t n, struct errbuf *err)
{
    struct owner_ix ix = {0};
    struct zone_ref z = {0};
    const char *zname = NULL;
    int r = 0;

    for (size_t i = 0; i < n && r == 0; i++) {
        struct edit_op *op = &ops[i];
        if (op->kind == EDIT_ADD_ZONE || op->kind == EDIT_DELETE_ZONE) {
            ix_free(&ix);
            zname = NULL;
            r = op->kind == EDIT_ADD_ZONE ? apply_add_zone(doc, op, err)
                                          : apply_delete_zone(doc, op, err);
            continue;
        }
        if (!zname || strcmp(zname, op->zone) != 0) {
            ix_free(&ix);
            zname = NULL;
            if ((r = find_zone(doc, op->zone, &z, err)) < 0)
                break;
            zname = op->zone;
        }
        switch (op->kind) {
        case EDIT_CLEAR_ZONE: {
            /* A whole-zone load: the feeds that follow are merged in one go, so that the
             * records that stay keep their text and place (load-zone of list-zone's output
             * changes nothing in the file). */
            size_t k = i + 1;
            while (k < n && ops[k].kind == EDIT_FEED && ops[k].whole &&
                   strcmp(ops[k].zone, op->zone) == 0)
                k++;
            merge_zone(&z, &ix, ops + i + 1, k - i - 1);
            i = k - 1;
            break;
        }
        case EDIT_REPLACE_RRSET:
        case EDIT_FEED:
            r = apply_rrset(&z, &ix, op, err);
            break;
        case EDIT_SET_META:
            apply_meta(&z, op);
            break;
        default:
            break;
        }
    }
    ix_free(&ix);
    return r;
}
