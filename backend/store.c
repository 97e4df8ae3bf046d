/* SPDX-License-Identifier: MIT */
/* The record store: JSON store file -> validated, indexed, immutable store (see store.h).
 *
 * DESIGN: building happens in three passes. (1) Walk the zones and records, validate every one
 * and collect flat build records (errors are collected, never fatal on the first). store_build()
 * walks the text itself once jsonscan_check() has vouched for it, with one record's worth of
 * json-c objects at a time, since json-c's tree of a whole file costs about 1.4 kB per record;
 * store_build_doc(), and store_build() for text that the check refuses (which includes every
 * syntax error, for json-c to describe), walk json-c's tree, with the same checks and messages.
 * (2) Sort the records by zone and canonical name so that each name's records are adjacent, run
 * the checks that need a whole name or zone (one SOA at the apex, CNAME alone, one TTL per
 * RRset, duplicates) and render each name's reply fragment once. (3) Add empty non-terminals
 * and build the hash index. Lookups then cost one hash probe and one memcpy of a fragment. */
#include "backend/store.h"
#include "backend/store_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/socket.h>

#include "backend/pools.h"
#include "backend/rdata.h"
#include "common/arena.h"
#include "common/dname.h"
#include "common/jsonkeys.h"
#include "common/jsonscan.h"
#include "common/sbuf.h"
#include "common/xalloc.h"

#define JSON_MAX_DEPTH 64

struct store {
    struct arena arena;
    struct store_pools pools;
    const char *webhook;
    const char *pdns_control; /* "pdns": {"control_socket": ...} */
    struct store_zone *zones; /* sorted by name */
    size_t nzones;
    struct store_zone **by_id; /* sorted by id */
    struct store_node **buckets;
    size_t mask;
    size_t nrecords;
};

/* ---- messages ---------------------------------------------------------------------------- */

/* sbuf_json_str(), with one copy for the usual string that needs no escape instead of a call
 * per byte: paths and reply fragments are built for every name and record. */
static void put_json_str(struct sbuf *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\') {
            sbuf_json_str(o, s, n);
            return;
        }
    }
    sbuf_reserve(o, n + 2);
    o->p[o->len++] = '"';
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len++] = '"';
    o->p[o->len] = '\0';
}

void sb_path_key(struct sbuf *p, const char *key)
{
    sbuf_putc(p, '[');
    put_json_str(p, key, strlen(key));
    sbuf_putc(p, ']');
}

const char *sb_show_value(json_object *v, char *buf, size_t cap)
{
    const char *s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
    size_t n = strlen(s);
    if (n < cap) {
        memcpy(buf, s, n + 1);
    } else {
        memcpy(buf, s, cap - 4);
        memcpy(buf + cap - 4, "...", 4);
    }
    return buf;
}

static void rec_path(const struct builder *b, const struct brec *r, struct sbuf *out)
{
    sbuf_reset(out);
    sbuf_puts(out, "zones");
    sb_path_key(out, b->zones[r->zone].key);
    sbuf_puts(out, ".records");
    sb_path_key(out, r->owner_key);
    sbuf_printf(out, "[%zu]", r->index);
}

/* ---- field helpers ------------------------------------------------------------------------ */

int sb_get_u32(struct builder *b, json_object *v, const char *what, uint32_t max, uint32_t *out)
{
    char shown[96];
    if (json_object_is_type(v, json_type_int)) {
        errno = 0;
        int64_t x = json_object_get_int64(v);
        if (errno == 0 && x >= 0 && (uint64_t)x <= max) {
            *out = (uint32_t)x;
            return 0;
        }
    }
    errlist_add(b->errs, "%s: %s must be a whole number from 0 to %u, got %s", sbuf_str(&b->path),
                what, max, sb_show_value(v, shown, sizeof(shown)));
    return -EINVAL;
}

void sb_unknown_key(struct builder *b, const char *key, const char *expected)
{
    size_t mark = b->path.len;
    sb_path_key(&b->path, key);
    errlist_add(b->errs, "%s: unknown key (expected one of: %s)", sbuf_str(&b->path), expected);
    sbuf_truncate(&b->path, mark);
}

bool sb_expect_type(struct builder *b, json_object *v, json_type t, const char *what)
{
    char shown[96];
    if (json_object_is_type(v, t))
        return true;
    errlist_add(b->errs, "%s: expected %s, got %s", sbuf_str(&b->path), what,
                sb_show_value(v, shown, sizeof(shown)));
    return false;
}

/* ---- pass 1: validate zones and records --------------------------------------------------- */

/* The zones come either from json-c's tree of a document (store_build_doc(), and store_build()
 * for text that jsonscan_check() refuses) or straight from the text (store_build()). The checks
 * are shared; the two walks, parse_zones() and parse_zones_text(), visit the same members in
 * the same order and report the same errors in the same order. */

static void path_index(struct sbuf *p, size_t i)
{
    sbuf_putc(p, '[');
    sbuf_u64(p, i);
    sbuf_putc(p, ']');
}

static void add_rec(struct builder *b, const struct brec *r)
{
    if (b->nrecs == b->caprecs) {
        b->caprecs = b->caprecs ? b->caprecs * 2 : 256;
        b->recs = xrealloc(b->recs, b->caprecs * sizeof(*b->recs));
    }
    b->recs[b->nrecs] = *r;
    b->recs[b->nrecs].seq = (uint32_t)b->nrecs;
    b->nrecs++;
}

/* A record's "type", "content" or "pool" member. */
struct rec_member {
    bool present;
    json_object *val; /* from a tree: the value, for "expected a string, got ..." */
    const char *str;  /* the value when it is a string, else NULL */
    size_t len;
};

struct rec_in {
    struct rec_member type, content, pool;
    bool has_ttl;
};

static void member_from_json(struct rec_member *m, json_object *val)
{
    if (!val)
        return; /* null: json-c's tree has no value, so the member counts as missing */
    m->present = true;
    m->val = val;
    if (json_object_is_type(val, json_type_string)) {
        m->str = json_object_get_string(val);
        m->len = (size_t)json_object_get_string_len(val);
    }
}

/* True for a string member; reports anything else as not being `what`. */
static bool member_string(struct builder *b, const struct rec_member *m, const char *what)
{
    if (m->str)
        return true;
    sb_expect_type(b, m->val, json_type_string, what);
    return false;
}

/* Checks a record whose members are known and keeps it if it passes. r holds where it came from
 * and its TTL (its own, or the zone's); ok is false when a member was reported already. */
static void check_record(struct builder *b, struct brec *r, const struct rec_in *in, bool ok)
{
    struct bzone *z = &b->zones[r->zone];
    size_t mark = b->path.len;

    sbuf_puts(&b->path, ".type");
    if (!in->type.present) {
        errlist_add(b->errs, "%s: missing (every record needs a type)", sbuf_str(&b->path));
        ok = false;
    } else if (member_string(b, &in->type, "a type name such as \"A\"")) {
        const char *t = in->type.str;
        int code = rrtype_from_name(t, in->type.len);
        if (code <= 0 || code == RR_ANY) {
            errlist_add(b->errs, "%s: '%s' is not a supported record type (supported: %s)",
                        sbuf_str(&b->path), t, rrtype_list());
            ok = false;
        } else {
            r->type = (uint16_t)code;
        }
    } else {
        ok = false;
    }
    sbuf_truncate(&b->path, mark);

    if (in->pool.present) {
        /* A pool record: its addresses come from the pool's healthy members at query time. */
        sbuf_puts(&b->path, ".pool");
        const char *name = member_string(b, &in->pool, "a pool name") ? in->pool.str : NULL;
        r->pool = name ? pools_lookup(b, name) : NULL;
        if (name && !r->pool) {
            errlist_add(b->errs, "%s: there is no pool '%.80s' in \"pools\"", sbuf_str(&b->path),
                        name);
        } else if (r->pool && r->type && r->type != RR_A && r->type != RR_AAAA) {
            errlist_add(b->errs, "%s: only A and AAAA records can come from a pool, not %s",
                        sbuf_str(&b->path), rrtype_name(r->type));
            r->pool = NULL;
        } else if (r->pool && r->type) {
            int family = r->type == RR_A ? AF_INET : AF_INET6;
            bool any = r->pool->all_down == POOL_DOWN_FALLBACK && r->pool->nfallback == 0;
            for (size_t i = 0; i < r->pool->nmembers; i++)
                any = any || r->pool->members[i].addr.family == family;
            if (!any && r->pool->nmembers)
                errlist_add(b->errs, "%s: pool '%s' has no %s members for a%s %s record",
                            sbuf_str(&b->path), r->pool->name, family == AF_INET ? "IPv4" : "IPv6",
                            r->type == RR_A ? "n" : "n", rrtype_name(r->type));
        }
        if (!r->pool)
            ok = false;
        sbuf_truncate(&b->path, mark);
        if (in->content.present) {
            sbuf_puts(&b->path, ".content");
            errlist_add(b->errs,
                        "%s: a pool record has no content (its addresses come from the "
                        "pool)",
                        sbuf_str(&b->path));
            sbuf_truncate(&b->path, mark);
            ok = false;
        }
        if (!in->has_ttl)
            r->ttl = POOL_DEFAULT_TTL;
        r->content = "";
    } else {
        sbuf_puts(&b->path, ".content");
        if (!in->content.present) {
            errlist_add(b->errs, "%s: missing (every record needs content, or a pool)",
                        sbuf_str(&b->path));
            ok = false;
        } else if (!member_string(b, &in->content, "a string")) {
            ok = false;
        } else if (r->type) {
            struct errbuf err;
            sbuf_reset(&b->rdata);
            if (rdata_normalize(r->type, in->content.str, z->apex, &b->rdata, &err) < 0) {
                errlist_add(b->errs, "%s: %s", sbuf_str(&b->path), err.msg);
                ok = false;
            } else {
                r->content = arena_strndup(b->arena, sbuf_str(&b->rdata), b->rdata.len);
            }
        }
        sbuf_truncate(&b->path, mark);
    }

    if (ok) {
        add_rec(b, r);
        z->nstatic += r->pool == NULL;
    } else {
        z->had_error = true;
        if (dname_equal(r->name, z->apex))
            z->apex_dropped = true;
    }
}

static void parse_record(struct builder *b,
                         uint32_t zi,
                         const uint8_t *owner,
                         const char *owner_key,
                         size_t index,
                         json_object *obj)
{
    struct brec r = {
        .zone = zi, .name = owner, .ttl = b->zones[zi].ttl, .owner_key = owner_key, .index = index};
    struct rec_in in = {0};
    bool ok = true;
    size_t mark = b->path.len;

    if (!sb_expect_type(b, obj, json_type_object,
                        "a record object like {\"type\": \"A\", "
                        "\"content\": \"192.0.2.1\"}"))
        return;
    json_object_object_foreach(obj, key, val)
    {
        if (strcmp(key, "type") == 0) {
            member_from_json(&in.type, val);
        } else if (strcmp(key, "content") == 0) {
            member_from_json(&in.content, val);
        } else if (strcmp(key, "pool") == 0) {
            member_from_json(&in.pool, val);
        } else if (strcmp(key, "ttl") == 0) {
            in.has_ttl = true;
            sbuf_puts(&b->path, ".ttl");
            if (sb_get_u32(b, val, "ttl", STORE_TTL_MAX, &r.ttl) < 0)
                ok = false;
            sbuf_truncate(&b->path, mark);
        } else {
            sb_unknown_key(b, key, "type, content, pool, ttl");
            ok = false;
        }
    }
    check_record(b, &r, &in, ok);
}

/* An owner name (a key of "records") as a lowercase wire name in the arena, or NULL when it is
 * not a name of the zone (reported). */
static const uint8_t *owner_name(struct builder *b, const struct bzone *z, const char *owner)
{
    uint8_t wire[DNAME_WIRE_MAX];
    struct errbuf err;
    int n = dname_from_text(owner, strlen(owner), z->apex, wire, &err);
    if (n < 0) {
        errlist_add(b->errs, "%s: %s", sbuf_str(&b->path), err.msg);
        return NULL;
    }
    if (!dname_is_below(wire, z->apex)) {
        char zt[DNAME_TEXT_MAX];
        dname_to_text(z->apex, false, zt);
        errlist_add(b->errs, "%s: '%s' is not inside zone '%s'", sbuf_str(&b->path), owner, zt);
        return NULL;
    }
    dname_lower(wire);
    return arena_memdup(b->arena, wire, (size_t)n);
}

static void empty_record_list(struct builder *b)
{
    errlist_add(b->errs, "%s: empty record list (remove the name instead)", sbuf_str(&b->path));
}

static void parse_records(struct builder *b, uint32_t zi, json_object *recs)
{
    struct bzone *z = &b->zones[zi];
    size_t mark = b->path.len;

    if (!sb_expect_type(b, recs, json_type_object, "an object of owner names")) {
        z->apex_dropped = true;
        return;
    }
    json_object_object_foreach(recs, owner, list)
    {
        sb_path_key(&b->path, owner);
        const uint8_t *name = owner_name(b, z, owner);
        if (name && sb_expect_type(b, list, json_type_array, "an array of records")) {
            size_t len = json_object_array_length(list);
            if (len == 0)
                empty_record_list(b);
            for (size_t i = 0; i < len; i++) {
                size_t m2 = b->path.len;
                path_index(&b->path, i);
                parse_record(b, zi, name, owner, i, json_object_array_get_idx(list, i));
                sbuf_truncate(&b->path, m2);
            }
        }
        sbuf_truncate(&b->path, mark);
    }
}

static bool meta_kind_ok(const char *k)
{
    if (!*k)
        return false;
    for (; *k; k++)
        if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') ||
              *k == '-' || *k == '_'))
            return false;
    return true;
}

static void parse_metadata(struct builder *b, struct bzone *z, json_object *meta)
{
    size_t mark = b->path.len;
    if (!sb_expect_type(b, meta, json_type_object, "an object of metadata kinds"))
        return;
    size_t n = (size_t)json_object_object_length(meta);
    z->meta = arena_zalloc(b->arena, n * sizeof(*z->meta) + 1);
    json_object_object_foreach(meta, kind, vals)
    {
        sb_path_key(&b->path, kind);
        if (!meta_kind_ok(kind)) {
            errlist_add(b->errs, "%s: '%s' is not a metadata kind (letters, digits, '-')",
                        sbuf_str(&b->path), kind);
        } else if (sb_expect_type(b, vals, json_type_array, "an array of strings")) {
            size_t nv = json_object_array_length(vals);
            const char **v = arena_zalloc(b->arena, (nv + 1) * sizeof(*v));
            bool ok = true;
            for (size_t i = 0; i < nv; i++) {
                json_object *s = json_object_array_get_idx(vals, i);
                size_t m2 = b->path.len;
                sbuf_printf(&b->path, "[%zu]", i);
                if (sb_expect_type(b, s, json_type_string, "a string"))
                    v[i] = arena_strndup(b->arena, json_object_get_string(s),
                                         (size_t)json_object_get_string_len(s));
                else
                    ok = false;
                sbuf_truncate(&b->path, m2);
            }
            if (ok) {
                struct store_meta *m = &z->meta[z->nmeta++];
                m->kind = arena_strndup(b->arena, kind, strlen(kind));
                m->values = v;
                m->nvalues = nv;
            }
        }
        sbuf_truncate(&b->path, mark);
    }
}

/* Room for one more zone. */
static struct bzone *zone_slot(struct builder *b)
{
    if (b->nzones == b->capzones) {
        size_t cap = b->capzones ? b->capzones * 2 : 4;
        b->zones = xrealloc(b->zones, cap * sizeof(*b->zones));
        memset(b->zones + b->capzones, 0, (cap - b->capzones) * sizeof(*b->zones));
        b->capzones = cap;
    }
    return &b->zones[b->nzones];
}

/* Checks a zone name (a key of "zones") and that no earlier zone has it, leaving the apex in the
 * next zone slot. False when reported. */
static bool zone_name(struct builder *b, const char *zname)
{
    struct bzone *z = zone_slot(b);
    struct errbuf err;
    size_t zl = strlen(zname);
    /* A zone name is always absolute; the trailing dot is optional here. */
    char *abs = xmalloc(zl + 2);
    memcpy(abs, zname, zl);
    abs[zl] = '\0';
    size_t bs = 0; /* backslashes before the last byte: an odd count escapes it */
    while (bs + 1 < zl && zname[zl - 2 - bs] == '\\')
        bs++;
    if (zl && (zname[zl - 1] != '.' || bs % 2 == 1)) {
        abs[zl] = '.';
        abs[zl + 1] = '\0';
    }
    int r = dname_from_text(abs, strlen(abs), NULL, z->apex, &err);
    free(abs);
    if (r < 0) {
        errlist_add(b->errs, "%s: %s", sbuf_str(&b->path), err.msg);
        return false;
    }
    dname_lower(z->apex);
    bool dup = false;
    for (size_t i = 0; i < b->nzones; i++)
        if (dname_equal(b->zones[i].apex, z->apex)) {
            struct sbuf other = SBUF_INIT;
            sb_path_key(&other, b->zones[i].key);
            errlist_add(b->errs, "%s: the same zone as zones%s", sbuf_str(&b->path),
                        sbuf_str(&other));
            sbuf_free(&other);
            dup = true;
        }
    return !dup;
}

/* Takes the slot zone_name() filled for zone zname. */
static uint32_t zone_add(struct builder *b, const char *zname)
{
    struct bzone *z = &b->zones[b->nzones];
    z->key = zname;
    z->labels = dname_label_count(z->apex);
    z->ttl = STORE_DEFAULT_TTL;
    return (uint32_t)b->nzones++;
}

/* A zone member other than "records" (read after the others, which may set its TTL). val is not
 * used for an unknown key. */
static void zone_member(struct builder *b, uint32_t zi, const char *key, json_object *val)
{
    size_t mark = b->path.len;
    if (strcmp(key, "ttl") == 0) {
        sbuf_puts(&b->path, ".ttl");
        sb_get_u32(b, val, "ttl", STORE_TTL_MAX, &b->zones[zi].ttl);
    } else if (strcmp(key, "metadata") == 0) {
        sbuf_puts(&b->path, ".metadata");
        parse_metadata(b, &b->zones[zi], val);
    } else {
        sb_unknown_key(b, key, "ttl, records, metadata");
    }
    sbuf_truncate(&b->path, mark);
}

static void zone_without_records(struct builder *b, uint32_t zi)
{
    b->zones[zi].apex_dropped = true;
    errlist_add(b->errs, "%s: missing \"records\" (a zone needs at least SOA and NS)",
                sbuf_str(&b->path));
}

static void parse_zones(struct builder *b, json_object *zones)
{
    size_t mark = b->path.len;
    if (!sb_expect_type(b, zones, json_type_object, "an object of zones"))
        return;
    json_object_object_foreach(zones, zname, zobj)
    {
        sb_path_key(&b->path, zname);
        if (!zone_name(b, zname) || !sb_expect_type(b, zobj, json_type_object, "a zone object")) {
            sbuf_truncate(&b->path, mark);
            continue;
        }
        uint32_t zi = zone_add(b, zname);
        json_object *records = NULL;
        json_object_object_foreach(zobj, key, val)
        {
            if (strcmp(key, "records") == 0)
                records = val;
            else
                zone_member(b, zi, key, val);
        }
        if (!records) {
            zone_without_records(b, zi);
        } else {
            sbuf_puts(&b->path, ".records");
            parse_records(b, zi, records);
        }
        sbuf_truncate(&b->path, mark);
    }
}

/* ---- pass 1 from the text ----------------------------------------------------------------- */

/* Parses the value at the cursor with json-c and moves past it: for the small parts of the file
 * (checks, pools, zone TTLs and metadata) and for anything unusual, so that those are judged
 * exactly as in a tree. Fails, marking the cursor bad, if json-c refuses what jsonscan_check()
 * accepted (then store_build() starts over with the tree). */
static int parse_value(struct builder *b, struct jscan *c, json_object **out)
{
    *out = NULL;
    if (c->bad || !jscan_peek(c)) {
        c->bad = true;
        return -EINVAL;
    }
    if (!b->tok) {
        b->tok = json_tokener_new_ex(JSON_MAX_DEPTH);
        if (!b->tok)
            xalloc_die("json_tokener_new_ex");
        json_tokener_set_flags(b->tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8 |
                                           JSON_TOKENER_ALLOW_TRAILING_CHARS);
    }
    json_tokener_reset(b->tok);
    size_t left = c->len - c->pos;
    json_object *v =
        json_tokener_parse_ex(b->tok, c->json + c->pos, left > INT_MAX ? INT_MAX : (int)left);
    if (json_tokener_get_error(b->tok) != json_tokener_success) {
        json_object_put(v);
        c->bad = true;
        return -EINVAL;
    }
    c->pos += json_tokener_get_parse_end(b->tok);
    *out = v;
    return 0;
}

/* Reports the value at the cursor, which the walk found not to be an object or array it
 * expected, as sb_expect_type() does; moves past it. */
static void wrong_type_text(struct builder *b, struct jscan *c, json_type t, const char *what)
{
    json_object *v;
    if (parse_value(b, c, &v) == 0)
        sb_expect_type(b, v, t, what);
    json_object_put(v);
}

/* The decoded key k, in b->key, or with keep a copy in the scratch arena (for messages after the
 * walk). NULL, marking the cursor bad, if it cannot be decoded here (jsonscan_check() refuses
 * such keys anyway). */
static const char *
text_key(struct builder *b, struct jscan *c, const struct jscan_str *k, bool keep)
{
    sbuf_reset(&b->key);
    if (jsonscan_decode(c->json + k->off, k->len, &b->key) < 0) {
        c->bad = true;
        return NULL;
    }
    return keep ? arena_strndup(&b->scratch, b->key.p, b->key.len) : b->key.p;
}

/* The string member at the cursor, decoded into buf; false (nothing consumed) for anything
 * else, or a string only json-c should decode. */
static bool text_member(struct jscan *c, struct rec_member *m, struct sbuf *buf)
{
    if (!jscan_decoded(c, buf))
        return false;
    m->present = true;
    m->str = buf->p;
    m->len = buf->len;
    return true;
}

/* Reads a record object straight from the text when its members are nothing but "type",
 * "content" and "pool" strings and a "ttl" of plain digits up to STORE_TTL_MAX, as in almost
 * every store file: no tree, and none of json-c's cost per call (a locale switch), which would
 * dominate the load of a million records. Returns false, with the cursor where it was, for
 * anything else, which goes through json-c and parse_record(). */
static bool read_record_text(struct builder *b, struct jscan *c, struct rec_in *in, uint32_t *ttl)
{
    size_t start = c->pos;
    struct jscan_str key;
    if (!jscan_enter(c, '{'))
        return false;
    while (jscan_next(c, &key)) {
        const char *k = c->json + key.off;
        bool ok;
        if (key.len == 4 && memcmp(k, "type", 4) == 0) {
            ok = text_member(c, &in->type, &b->dec[0]);
        } else if (key.len == 7 && memcmp(k, "content", 7) == 0) {
            ok = text_member(c, &in->content, &b->dec[1]);
        } else if (key.len == 4 && memcmp(k, "pool", 4) == 0) {
            ok = text_member(c, &in->pool, &b->dec[2]);
        } else if (key.len == 3 && memcmp(k, "ttl", 3) == 0) {
            uint64_t v = 0;
            ok = jscan_plain_uint(c, STORE_TTL_MAX, &v);
            *ttl = (uint32_t)v;
            in->has_ttl = true;
        } else {
            ok = false;
        }
        if (!ok) {
            c->pos = start;
            return false;
        }
    }
    return !c->bad;
}

static void parse_record_text(struct builder *b,
                              uint32_t zi,
                              const uint8_t *owner,
                              const char *owner_key,
                              size_t index,
                              struct jscan *c)
{
    struct brec r = {
        .zone = zi, .name = owner, .ttl = b->zones[zi].ttl, .owner_key = owner_key, .index = index};
    struct rec_in in = {0};
    if (read_record_text(b, c, &in, &r.ttl)) {
        check_record(b, &r, &in, true);
        return;
    }
    json_object *obj;
    if (parse_value(b, c, &obj) == 0)
        parse_record(b, zi, owner, owner_key, index, obj);
    json_object_put(obj);
}

static void parse_records_text(struct builder *b, uint32_t zi, struct jscan *c)
{
    struct bzone *z = &b->zones[zi];
    size_t mark = b->path.len;
    struct jscan_str k;

    if (!jscan_enter(c, '{')) {
        wrong_type_text(b, c, json_type_object, "an object of owner names");
        z->apex_dropped = true;
        return;
    }
    while (jscan_next(c, &k)) {
        const char *owner = text_key(b, c, &k, true);
        if (!owner)
            return;
        sb_path_key(&b->path, owner);
        const uint8_t *name = owner_name(b, z, owner);
        if (!name) {
            jscan_skip(c, NULL);
        } else if (!jscan_enter(c, '[')) {
            wrong_type_text(b, c, json_type_array, "an array of records");
        } else {
            if (jscan_peek(c) == ']')
                empty_record_list(b);
            for (size_t i = 0; jscan_next(c, NULL); i++) {
                size_t m2 = b->path.len;
                path_index(&b->path, i);
                parse_record_text(b, zi, name, owner, i, c);
                sbuf_truncate(&b->path, m2);
            }
        }
        sbuf_truncate(&b->path, mark);
    }
}

static void parse_zones_text(struct builder *b, struct jscan *c)
{
    size_t mark = b->path.len;
    struct jscan_str k;

    if (!jscan_enter(c, '{')) {
        wrong_type_text(b, c, json_type_object, "an object of zones");
        return;
    }
    while (jscan_next(c, &k)) {
        const char *zname = text_key(b, c, &k, true);
        if (!zname)
            return;
        sb_path_key(&b->path, zname);
        if (!zone_name(b, zname)) {
            jscan_skip(c, NULL);
        } else if (!jscan_enter(c, '{')) {
            wrong_type_text(b, c, json_type_object, "a zone object");
        } else {
            uint32_t zi = zone_add(b, zname);
            size_t records = 0, end; /* where the records are; 0: no "records" */
            /* Records are read last, as from a tree: skip them until the zone TTL is known. */
            while (jscan_next(c, &k)) {
                const char *key = text_key(b, c, &k, false);
                json_object *val = NULL;
                if (!key)
                    return;
                if (strcmp(key, "records") == 0) {
                    jscan_skip(c, &records);
                } else if (strcmp(key, "ttl") != 0 && strcmp(key, "metadata") != 0) {
                    zone_member(b, zi, key, NULL);
                    jscan_skip(c, NULL);
                } else if (parse_value(b, c, &val) == 0) {
                    zone_member(b, zi, key, val);
                    json_object_put(val);
                }
            }
            end = c->pos;
            /* "records": null is no records, as json-c's tree has it. */
            if (!records || c->json[records] == 'n') {
                zone_without_records(b, zi);
            } else {
                c->pos = records;
                sbuf_puts(&b->path, ".records");
                parse_records_text(b, zi, c);
                c->pos = end;
            }
        }
        sbuf_truncate(&b->path, mark);
    }
}

/* ---- pass 2: group, check, render -------------------------------------------------------- */

/* RFC 4034 section 6.1 canonical order of lowercase wire names, leaving out their last `skip`
 * labels, which the caller knows to be the same (the apex of their zone). */
static int canon_cmp_below(const uint8_t *a, const uint8_t *b, int skip)
{
    const uint8_t *la[128], *lb[128];
    int na = 0, nb = 0;
    for (const uint8_t *p = a; *p; p += *p + 1)
        la[na++] = p;
    for (const uint8_t *p = b; *p; p += *p + 1)
        lb[nb++] = p;
    na -= skip;
    nb -= skip;
    while (na > 0 && nb > 0) {
        const uint8_t *x = la[--na], *y = lb[--nb];
        size_t n = x[0] < y[0] ? x[0] : y[0];
        int c = memcmp(x + 1, y + 1, n);
        if (c)
            return c;
        if (x[0] != y[0])
            return x[0] < y[0] ? -1 : 1;
    }
    return na - nb;
}

static int canon_cmp(const uint8_t *a, const uint8_t *b)
{
    return canon_cmp_below(a, b, 0);
}

static int brec_cmp(const void *pa, const void *pb)
{
    const struct brec *a = pa, *b = pb;
    if (a->zone != b->zone)
        return a->zone < b->zone ? -1 : 1;
    int c = a->name == b->name ? 0 : canon_cmp(a->name, b->name);
    if (c)
        return c;
    /* The SOA leads its name, so lists and AXFR start with it. */
    if ((a->type == RR_SOA) != (b->type == RR_SOA))
        return a->type == RR_SOA ? -1 : 1;
    return a->seq < b->seq ? -1 : (a->seq > b->seq);
}

/* Orders runs of records (by their first record) as brec_cmp() orders records, but for the SOA:
 * see sort_recs(). */
static int run_cmp(const void *pa, const void *pb, void *arg)
{
    const struct builder *bld = arg;
    const struct brec *a = &bld->recs[*(const uint32_t *)pa];
    const struct brec *b = &bld->recs[*(const uint32_t *)pb];
    if (a->zone != b->zone)
        return a->zone < b->zone ? -1 : 1;
    int c = a->name == b->name ? 0 : canon_cmp_below(a->name, b->name, bld->zones[a->zone].labels);
    if (c)
        return c;
    return a->seq < b->seq ? -1 : (a->seq > b->seq);
}

/* Returns the records' indices in brec_cmp() order, except that an SOA may still follow other
 * records of its name (finish() moves it up), and in *first where each name's records begin.
 * What gets sorted are runs of records that came one after the other with the same name, mostly
 * one owner's list: about half as many elements as records, and the records do not move. Runs
 * with the same name keep their file order, and so do the records within each. */
static uint32_t *sort_recs(const struct builder *b, bool **first)
{
    const struct brec *r = b->recs;
    uint32_t *runs = xmalloc((b->nrecs + 1) * sizeof(*runs));
    uint32_t *ord = xmalloc((b->nrecs + 1) * sizeof(*ord));
    *first = xmalloc(b->nrecs + 1);
    size_t nruns = 0, n = 0;
    for (size_t i = 0; i < b->nrecs; i++)
        if (i == 0 || r[i].name != r[i - 1].name || r[i].zone != r[i - 1].zone)
            runs[nruns++] = (uint32_t)i;
    qsort_r(runs, nruns, sizeof(*runs), run_cmp, (void *)b);
    for (size_t k = 0; k < nruns; k++) {
        const struct brec *prev = n ? &r[ord[n - 1]] : NULL;
        size_t i = runs[k];
        (*first)[n] = !prev || prev->zone != r[i].zone || !dname_equal(prev->name, r[i].name);
        do {
            ord[n] = (uint32_t)i++;
            (*first)[++n] = false;
        } while (i < b->nrecs && r[i].name == r[i - 1].name && r[i].zone == r[i - 1].zone);
    }
    free(runs);
    return ord;
}

static uint32_t hash_name(const uint8_t *name, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= name[i];
        h *= 16777619u;
    }
    return h;
}

static uint32_t zone_id_for(const char *canon_text)
{
    uint32_t h = hash_name((const uint8_t *)canon_text, strlen(canon_text)) & 0x7fffffffu;
    return h ? h : 1;
}

#define PUT_LITERAL(o, s) sbuf_put(o, s, sizeof(s) - 1)

/* qname: the name as a JSON string, quotes and all (the same for all records of a name). */
static void render_frag(struct sbuf *o,
                        const struct sbuf *qname,
                        const struct store_rr *rr,
                        uint32_t zone_id,
                        bool scoped)
{
    PUT_LITERAL(o, "{\"qtype\":\"");
    sbuf_puts(o, rrtype_name(rr->type));
    PUT_LITERAL(o, "\",\"qname\":");
    sbuf_put(o, qname->p, qname->len);
    PUT_LITERAL(o, ",\"content\":");
    put_json_str(o, rr->content, strlen(rr->content));
    PUT_LITERAL(o, ",\"ttl\":");
    sbuf_u64(o, rr->ttl);
    /* pdns takes the zone id for later lookups from the SOA's domain_id (getSOA); other records
     * do not need it, and on the pipe every byte costs pdns a system call. */
    if (rr->type == RR_SOA) {
        sbuf_puts(o, ",\"domain_id\":");
        sbuf_u64(o, zone_id);
    }
    /* pdns caches a name's lookup as a whole (qtype ANY): one record with a scopeMask keeps
     * them all out of its caches, but the static ones carry it too, so no cached copy of this
     * name can hide a health change. */
    if (scoped)
        sbuf_puts(o, ",\"scopeMask\":" STORE_SCOPE_MASK_TEXT);
    sbuf_putc(o, '}');
}

/* name: in the store's arena already (a record's owner, or an ancestor of a node's name). */
static struct store_node *new_node(store_t *s, const uint8_t *name, const struct store_zone *z)
{
    struct store_node *n = arena_zalloc(&s->arena, sizeof(*n));
    size_t len = dname_wire_len(name);
    char text[DNAME_TEXT_MAX];
    n->name = name;
    n->text = arena_strndup(&s->arena, text, dname_to_text(name, false, text));
    n->zone = z;
    n->hash = hash_name(name, len);
    /* Its bucket is a cache miss of its own (the index is spread over megabytes): start loading
     * it now, as index_node() comes after the name's records are rendered. */
    __builtin_prefetch(&s->buckets[n->hash & s->mask], 1);
    return n;
}

static void index_node(store_t *s, struct store_node *n)
{
    struct store_node **slot = &s->buckets[n->hash & s->mask];
    n->next = *slot;
    *slot = n;
}

/* Checks the records of one name (recs[0..n)) and returns false when they may not be served. */
static bool check_name(struct builder *b, const struct brec *recs, size_t n, struct sbuf *tmp)
{
    const struct bzone *z = &b->zones[recs[0].zone];
    bool apex = dname_equal(recs[0].name, z->apex);
    bool ok = true;
    size_t cname = 0, other = 0;
    for (size_t i = 0; i < n; i++) {
        const struct brec *r = &recs[i];
        if (r->type == RR_CNAME)
            cname++;
        else
            other++;
        if (r->type == RR_SOA && !apex) {
            rec_path(b, r, tmp);
            errlist_add(b->errs, "%s: an SOA record belongs only at the zone apex '@'",
                        sbuf_str(tmp));
            ok = false;
        }
        for (size_t j = 0; j < i; j++) {
            const struct brec *q = &recs[j];
            if (q->type != r->type)
                continue;
            if (q->pool || r->pool) {
                rec_path(b, r, tmp);
                errlist_add(b->errs,
                            "%s: a pool record must be the only %s record at its name (pool "
                            "'%s')",
                            sbuf_str(tmp), rrtype_name(r->type), (q->pool ? q : r)->pool->name);
                ok = false;
                break;
            }
            if (strcasecmp(q->content, r->content) == 0) {
                rec_path(b, r, tmp);
                errlist_add(b->errs, "%s: duplicate %s record '%s'", sbuf_str(tmp),
                            rrtype_name(r->type), r->content);
                ok = false;
                break;
            }
            if (q->ttl != r->ttl) {
                rec_path(b, r, tmp);
                errlist_add(b->errs,
                            "%s: ttl %u differs from ttl %u of another %s record of this name "
                            "(all records of one type at one name share a TTL, RFC 2181)",
                            sbuf_str(tmp), r->ttl, q->ttl, rrtype_name(r->type));
                ok = false;
                break;
            }
        }
    }
    if (cname && (other || cname > 1)) {
        char t[DNAME_TEXT_MAX];
        dname_to_text(recs[0].name, false, t);
        sbuf_reset(tmp);
        sbuf_puts(tmp, "zones");
        sb_path_key(tmp, z->key);
        sbuf_puts(tmp, ".records");
        sb_path_key(tmp, recs[0].owner_key);
        errlist_add(b->errs,
                    "%s: a CNAME must be the only record at '%s' (found %zu CNAME and %zu other "
                    "records)",
                    sbuf_str(tmp), t, cname, other);
        ok = false;
    }
    return ok;
}

static void check_apex(struct builder *b, uint32_t zi, const struct brec *recs, size_t n)
{
    const struct bzone *z = &b->zones[zi];
    size_t soa = 0, ns = 0;
    for (size_t i = 0; i < n; i++) {
        soa += recs[i].type == RR_SOA;
        ns += recs[i].type == RR_NS;
    }
    if (z->apex_dropped)
        return;
    /* What `pdnsutil clear-zone` leaves: no records but those of pools (which edits keep). pdns
     * lists the zone and answers REFUSED for its names (no SOA) until records are loaded. */
    if (soa == 0 && ns == 0 && z->nstatic == 0 && !z->had_error)
        return;
    struct sbuf path = SBUF_INIT;
    sbuf_puts(&path, "zones");
    sb_path_key(&path, z->key);
    sbuf_puts(&path, ".records");
    if (soa != 1)
        errlist_add(b->errs, "%s: the zone needs exactly one SOA record at '@', found %zu",
                    sbuf_str(&path), soa);
    if (ns == 0)
        errlist_add(b->errs, "%s: the zone needs at least one NS record at '@'", sbuf_str(&path));
    sbuf_free(&path);
}

static int finish(struct builder *b, store_t *s)
{
    struct sbuf tmp = SBUF_INIT, frag = SBUF_INIT, qname = SBUF_INIT;
    size_t nnodes = 0;
    size_t errs_before = errlist_count(b->errs); /* the caller's errlist may hold older messages */
    bool *first;
    uint32_t *ord = sort_recs(b, &first);
    struct brec *grp = NULL; /* the records of one name, in brec_cmp() order */
    size_t capgrp = 0, *offs = NULL;
#define REC(k) (&b->recs[ord[k]])

    /* Zones: sorted by name, ids derived from the name, collisions resolved in name order. */
    s->nzones = b->nzones;
    s->zones = arena_zalloc(&s->arena, (b->nzones + 1) * sizeof(*s->zones));
    s->by_id = arena_zalloc(&s->arena, (b->nzones + 1) * sizeof(*s->by_id));
    uint32_t *order = xcalloc(b->nzones + 1, sizeof(*order));
    uint32_t *zmap = xcalloc(b->nzones + 1, sizeof(*zmap)); /* build index -> sorted index */
    for (size_t i = 0; i < b->nzones; i++)
        order[i] = (uint32_t)i;
    for (size_t i = 1; i < b->nzones; i++) /* insertion sort: zone counts are small */
        for (size_t j = i;
             j > 0 && canon_cmp(b->zones[order[j]].apex, b->zones[order[j - 1]].apex) < 0; j--)
        {
            uint32_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t i = 0; i < b->nzones; i++) {
        const struct bzone *bz = &b->zones[order[i]];
        struct store_zone *z = &s->zones[i];
        char text[DNAME_TEXT_MAX];
        size_t al = dname_wire_len(bz->apex);
        z->apex = arena_memdup(&s->arena, bz->apex, al);
        z->name = arena_strndup(&s->arena, text, dname_to_text(bz->apex, false, text));
        z->id = zone_id_for(z->name);
        for (bool clash = true; clash;) {
            clash = false;
            for (size_t j = 0; j < i; j++)
                if (s->zones[j].id == z->id) {
                    z->id = z->id == 0x7fffffffu ? 1 : z->id + 1;
                    clash = true;
                }
        }
        z->meta = bz->meta;
        z->nmeta = bz->nmeta;
        zmap[order[i]] = (uint32_t)i;
        s->by_id[i] = z;
    }
    free(order);

    /* Count names to size the index (ENTs at most double it per label; grow as needed). */
    for (size_t i = 0; i < b->nrecs; i++)
        nnodes += first[i];
    size_t nb = 16;
    while (nb < (nnodes + 1) * 2)
        nb *= 2;
    s->buckets = arena_zalloc(&s->arena, nb * sizeof(*s->buckets));
    s->mask = nb - 1;

    bool ok = true;
    struct store_node **znodes = xcalloc(nnodes + 1, sizeof(*znodes));
    size_t i = 0;
    while (i < b->nrecs) {
        uint32_t zi = REC(i)->zone;
        size_t nz = 0;
        bool have_apex = false;
        while (i < b->nrecs && REC(i)->zone == zi) {
            size_t j = i + 1;
            while (j < b->nrecs && !first[j])
                j++;
            size_t n = j - i;
            if (n > capgrp) {
                capgrp = n * 2;
                grp = xrealloc(grp, capgrp * sizeof(*grp));
                offs = xrealloc(offs, capgrp * sizeof(*offs));
            }
            bool soa_late = false;
            for (size_t k = 0; k < n; k++) {
                grp[k] = *REC(i + k);
                soa_late = soa_late || (k && grp[k].type == RR_SOA && grp[k - 1].type != RR_SOA);
            }
            if (soa_late)
                qsort(grp, n, sizeof(*grp), brec_cmp);
            if (!check_name(b, grp, n, &tmp))
                ok = false;
            if (dname_equal(grp[0].name, b->zones[zi].apex)) {
                check_apex(b, zi, grp, n);
                have_apex = true;
            }
            struct store_zone *z = &s->zones[zmap[zi]];
            struct store_node *node = new_node(s, grp[0].name, z);
            struct store_rr *rrs = arena_zalloc(&s->arena, n * sizeof(*rrs));
            sbuf_reset(&frag);
            sbuf_reset(&qname);
            put_json_str(&qname, node->text, strlen(node->text));
            for (size_t k = 0; k < n; k++) {
                const struct pool *p = grp[k].pool;
                node->dynamic = node->dynamic || p;
                node->scoped = node->scoped || (p && (!s->pdns_control || !pool_cacheable(p)));
            }
            for (size_t k = 0; k < n; k++) {
                struct store_rr *rr = &rrs[k];
                rr->type = grp[k].type;
                rr->ttl = grp[k].ttl;
                rr->content = grp[k].content;
                rr->pool = grp[k].pool;
                if (rr->pool)
                    continue; /* rendered per query from the pool */
                if (frag.len)
                    sbuf_putc(&frag, ',');
                offs[k] = frag.len;
                render_frag(&frag, &qname, rr, z->id, node->scoped);
                rr->frag_len = (uint32_t)(frag.len - offs[k]);
            }
            node->any_frag = arena_strndup(&s->arena, sbuf_str(&frag), frag.len);
            node->any_len = (uint32_t)frag.len;
            for (size_t k = 0; k < n; k++)
                if (!rrs[k].pool)
                    rrs[k].frag = node->any_frag + offs[k];
            node->rrs = rrs;
            node->nrr = (uint32_t)n;
            z->nrecords += node->nrr;
            znodes[nz++] = node;
            index_node(s, node);
            i = j;
        }
        if (!have_apex)
            check_apex(b, zi, NULL, 0);
        struct store_zone *z = &s->zones[zmap[zi]];
        z->nodes = arena_memdup(&s->arena, znodes, nz * sizeof(*znodes));
        z->nnodes = nz;
        s->nrecords += z->nrecords;
    }
    /* Zones without any record still need their SOA/NS error. */
    for (size_t zi = 0; zi < b->nzones; zi++)
        if (s->zones[zmap[zi]].nnodes == 0)
            check_apex(b, (uint32_t)zi, NULL, 0);
    free(znodes);
    free(grp);
    free(offs);
    free(ord);
    free(first);
#undef REC

    /* Empty non-terminals: every ancestor of a name, up to its apex, exists. */
    for (size_t zi = 0; zi < s->nzones; zi++) {
        struct store_zone *z = &s->zones[zi];
        for (size_t k = 0; k < z->nnodes; k++) {
            const uint8_t *p = z->nodes[k]->name;
            int depth = dname_label_count(p) - dname_label_count(z->apex);
            for (; depth > 1; depth--) {
                p = dname_parent(p);
                if (store_find(s, p, z->id))
                    break; /* its ancestors were added with it */
                struct store_node *ent = new_node(s, p, z);
                sbuf_reset(&frag);
                sbuf_puts(&frag, "{\"qtype\":\"ENT\",\"qname\":");
                sbuf_json_str(&frag, ent->text, strlen(ent->text));
                sbuf_puts(&frag, ",\"content\":\"\"}");
                ent->any_frag = arena_strndup(&s->arena, sbuf_str(&frag), frag.len);
                ent->any_len = (uint32_t)frag.len;
                index_node(s, ent);
            }
        }
    }

    /* Serials for getAllDomains/getDomainInfo. */
    for (size_t zi = 0; zi < s->nzones; zi++) {
        struct store_zone *z = &s->zones[zi];
        if (z->nnodes && z->nodes[0]->nrr && z->nodes[0]->rrs[0].type == RR_SOA) {
            uint32_t minimum;
            rdata_soa_numbers(z->nodes[0]->rrs[0].content, &z->serial, &minimum);
        }
    }
    /* by_id sorted for bsearch */
    for (size_t a = 1; a < s->nzones; a++)
        for (size_t c = a; c > 0 && s->by_id[c]->id < s->by_id[c - 1]->id; c--) {
            struct store_zone *t = s->by_id[c];
            s->by_id[c] = s->by_id[c - 1];
            s->by_id[c - 1] = t;
        }

    pools_finish(b, &s->arena, &s->pools);
    free(zmap);
    sbuf_free(&tmp);
    sbuf_free(&frag);
    sbuf_free(&qname);
    if (!ok || errlist_count(b->errs) > errs_before)
        return -EINVAL;
    return 0;
}

/* "pdns": {"control_socket": "/run/pdns/pdns.controlsocket"}: how our tools reach the pdns
 * serving this store (zone add/delete tell it to rediscover). */
static void parse_pdns(struct builder *b, json_object *obj, store_t *s)
{
    size_t mark = b->path.len;
    if (!sb_expect_type(b, obj, json_type_object,
                        "an object like {\"control_socket\": \"/run/pdns/pdns.controlsocket\"}"))
        return;
    json_object_object_foreach(obj, key, val)
    {
        if (strcmp(key, "control_socket") != 0) {
            sb_unknown_key(b, key, "control_socket");
            continue;
        }
        sbuf_puts(&b->path, ".control_socket");
        if (sb_expect_type(b, val, json_type_string, "a path")) {
            const char *p = json_object_get_string(val);
            size_t n = strlen(p);
            if (n == 0 || n > 107 || p[0] != '/')
                errlist_add(b->errs,
                            "%s: '%.120s' is not an absolute path to a unix socket (at most 107 "
                            "bytes)",
                            sbuf_str(&b->path), p);
            else
                s->pdns_control = arena_strndup(&s->arena, p, n);
        }
        sbuf_truncate(&b->path, mark);
    }
}

/* "notify": {"webhook": "http://..."}: where transitions are POSTed. */
static void parse_notify(struct builder *b, json_object *obj, store_t *s)
{
    size_t mark = b->path.len;
    if (!sb_expect_type(b, obj, json_type_object, "an object like {\"webhook\": \"http://...\"}"))
        return;
    json_object_object_foreach(obj, key, val)
    {
        if (strcmp(key, "webhook") != 0) {
            sb_unknown_key(b, key, "webhook");
            continue;
        }
        sbuf_puts(&b->path, ".webhook");
        if (sb_expect_type(b, val, json_type_string, "an http:// or https:// URL")) {
            const char *u = json_object_get_string(val);
            size_t n = strlen(u);
            if ((strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) || n > 2000 ||
                n <= 8 || strpbrk(u, " \t\r\n"))
                errlist_add(b->errs, "%s: '%.80s' is not an http:// or https:// URL",
                            sbuf_str(&b->path), u);
            else
                s->webhook = arena_strndup(&s->arena, u, n);
        }
        sbuf_truncate(&b->path, mark);
    }
}

/* ---- entry points ------------------------------------------------------------------------- */

/* Offset of the first \u0000 escape inside a string of valid JSON, or len. json-c silently cuts
 * strings and keys there, which would turn "192.0.2.1\u0000junk" into a valid address. */
static size_t find_escaped_nul(const char *json, size_t len)
{
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        if (json[i] == '"') {
            in_string = !in_string;
        } else if (in_string && json[i] == '\\') {
            if (i + 5 < len && json[i + 1] == 'u' && memcmp(json + i + 2, "0000", 4) == 0)
                return i;
            i++; /* the escaped character */
        }
    }
    return len;
}

static void
syntax_error(struct builder *b, const char *json, size_t len, size_t off, const char *desc)
{
    size_t line = 1, col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (json[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    errlist_add(b->errs, "line %zu, column %zu: JSON syntax error: %s", line, col, desc);
}

/* The top-level members besides "zones", parsed in this order whatever the order in the file:
 * zones refer to pools and pools to checks by name. */
enum { SEC_CHECKS, SEC_POOLS, SEC_NOTIFY, SEC_PDNS, NSECTIONS };
static const char *const section_names[NSECTIONS] = {"checks", "pools", "notify", "pdns"};

static int section_index(const char *key)
{
    for (int i = 0; i < NSECTIONS; i++)
        if (strcmp(key, section_names[i]) == 0)
            return i;
    return -1;
}

/* sec[i]: the value of section i, NULL when absent (or null). */
static void parse_sections(struct builder *b, store_t *s, json_object *const sec[NSECTIONS])
{
    for (int i = 0; i < NSECTIONS; i++) {
        if (!sec[i])
            continue;
        sbuf_puts(&b->path, section_names[i]);
        if (i == SEC_CHECKS)
            pools_parse_checks(b, sec[i]);
        else if (i == SEC_POOLS)
            pools_parse_pools(b, sec[i]);
        else if (i == SEC_NOTIFY)
            parse_notify(b, sec[i], s);
        else
            parse_pdns(b, sec[i], s);
        sbuf_reset(&b->path);
    }
}

#define TOP_LEVEL_KEYS "zones, checks, pools, notify, pdns"

/* Frees the builder's own memory; hands out the store, or frees it when the build failed or
 * anything was reported. r: the build's result (-EAGAIN passes through). */
static int build_end(struct builder *b, store_t *s, int r, size_t errs_before, store_t **ret)
{
    pools_free_builder(b);
    free(b->zones);
    free(b->recs);
    sbuf_free(&b->path);
    sbuf_free(&b->rdata);
    sbuf_free(&b->key);
    for (size_t i = 0; i < ARRAY_SIZE(b->dec); i++)
        sbuf_free(&b->dec[i]);
    arena_free(&b->scratch);
    if (b->tok)
        json_tokener_free(b->tok);
    if (r < 0 || errlist_count(b->errs) > errs_before) {
        store_free(s);
        return r == -EAGAIN ? r : -EINVAL;
    }
    *ret = s;
    return 0;
}

/* Validates and indexes a parsed store document (root is borrowed). */
static int build_doc(json_object *root, store_t **ret_store, struct errlist *errs)
{
    struct builder b = {.errs = errs};
    store_t *s = xcalloc(1, sizeof(*s));
    int r = -EINVAL;
    size_t errs_before = errlist_count(errs);
    json_object *sec[NSECTIONS] = {NULL}, *zones = NULL;

    b.arena = &s->arena;
    if (!json_object_is_type(root, json_type_object)) {
        errlist_add(errs, "the top level must be an object like {\"zones\": {...}}");
        goto out;
    }
    json_object_object_foreach(root, key, val)
    {
        int i = section_index(key);
        if (i >= 0)
            sec[i] = val;
        else if (strcmp(key, "zones") == 0)
            zones = val;
        else
            sb_unknown_key(&b, key, TOP_LEVEL_KEYS);
    }
    if (!zones) {
        errlist_add(errs, "missing \"zones\" at the top level");
        goto out;
    }
    parse_sections(&b, s, sec);
    sbuf_puts(&b.path, "zones");
    parse_zones(&b, zones);
    sbuf_reset(&b.path);
    /* Run the whole-name and whole-zone checks even after record errors, so that one run
     * reports everything; records with errors were left out and cannot cause knock-on errors
     * except for the apex counts, which check_apex() skips in that case. */
    r = finish(&b, s);
out:
    return build_end(&b, s, r, errs_before, ret_store);
}

/* build_doc() for text that jsonscan_check() accepted, walking the text instead of a tree of
 * it: zones, owner names and record lists member by member, records mostly without json-c, and
 * the rest (the small top-level sections, zone TTLs and metadata, unusual records) one value at
 * a time through json-c, whose trees are freed as soon as they have been read (the sections'
 * at the end: pools keep names from them). The same errors in the same order as build_doc() on
 * json-c's tree of the text; returns -EAGAIN in the cases left to that (a top level that is no
 * object; json-c refusing a value, which jsonscan_check() should have prevented). owned: the
 * buffer holding the text, when the text may be freed once read (before the store's bulk is
 * built: at a million records that is 60 MB less at the peak), or NULL. */
static int build_text(const char *json,
                      size_t len,
                      const struct jsonscan_index *index,
                      struct sbuf *owned,
                      store_t **ret_store,
                      struct errlist *errs)
{
    struct builder b = {.errs = errs};
    store_t *s = xcalloc(1, sizeof(*s));
    int r = -EAGAIN;
    size_t errs_before = errlist_count(errs);
    json_object *sec[NSECTIONS] = {NULL};
    size_t at[NSECTIONS] = {0}, zones = 0; /* where their values are (0: absent) */
    struct jscan c;
    struct jscan_str k;

    b.arena = &s->arena;
    jscan_init(&c, json, len, index);
    if (!jscan_enter(&c, '{'))
        goto out;
    while (jscan_next(&c, &k)) {
        const char *key = text_key(&b, &c, &k, false);
        if (!key)
            goto out;
        int i = section_index(key);
        if (i >= 0) {
            jscan_skip(&c, &at[i]);
        } else if (strcmp(key, "zones") == 0) {
            jscan_skip(&c, &zones);
        } else {
            sb_unknown_key(&b, key, TOP_LEVEL_KEYS);
            jscan_skip(&c, NULL);
        }
    }
    if (c.bad)
        goto out;
    /* "zones": null is no zones, as json-c's tree has it. */
    if (!zones || json[zones] == 'n') {
        errlist_add(errs, "missing \"zones\" at the top level");
        r = -EINVAL;
        goto out;
    }
    for (int i = 0; i < NSECTIONS; i++) {
        c.pos = at[i];
        if (at[i] && parse_value(&b, &c, &sec[i]) < 0)
            goto out;
    }
    parse_sections(&b, s, sec);
    c.pos = zones;
    sbuf_puts(&b.path, "zones");
    parse_zones_text(&b, &c);
    sbuf_reset(&b.path);
    if (!c.bad) {
        /* Everything needed from the text has been copied: no going back to the tree now. */
        if (owned)
            sbuf_free(owned);
        r = finish(&b, s);
    }
out:
    r = build_end(&b, s, r, errs_before, ret_store);
    for (int i = 0; i < NSECTIONS; i++)
        json_object_put(sec[i]);
    return r;
}

int store_build_doc(json_object *root, store_t **ret_store, struct errlist *errs)
{
    return build_doc(root, ret_store, errs);
}

int store_build_tree(const char *json, size_t len, store_t **ret_store, struct errlist *errs)
{
    struct builder b = {.errs = errs};
    json_object *root = NULL;
    size_t errs_before = errlist_count(errs);
    int r = -EINVAL;

    if (memchr(json, '\0', len)) {
        syntax_error(&b, json, len, (size_t)((const char *)memchr(json, '\0', len) - json),
                     "NUL byte in the file");
        return -EINVAL;
    }
    json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
    if (!tok)
        xalloc_die("json_tokener_new_ex");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    root = json_tokener_parse_ex(tok, json, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    if (jerr == json_tokener_continue) {
        syntax_error(&b, json, len, len, "unexpected end of input (truncated file?)");
    } else if (jerr != json_tokener_success) {
        syntax_error(&b, json, len, json_tokener_get_parse_end(tok), json_tokener_error_desc(jerr));
    } else {
        size_t end = json_tokener_get_parse_end(tok);
        while (end < len &&
               (json[end] == ' ' || json[end] == '\n' || json[end] == '\r' || json[end] == '\t'))
            end++;
        if (end < len)
            syntax_error(&b, json, len, end, "unexpected data after the top-level object");
        else if ((end = find_escaped_nul(json, len)) < len)
            syntax_error(&b, json, len, end, "NUL character (\\u0000) in a string");
    }
    json_tokener_free(tok);
    if (errlist_count(errs) == errs_before) {
        /* Reported, then validation goes on: the file gets every other error in the same run. */
        json_report_duplicate_keys(json, len, errs);
        r = build_doc(root, ret_store, errs);
        if (r == 0 && errlist_count(errs) > errs_before) {
            store_free(*ret_store);
            *ret_store = NULL;
            r = -EINVAL;
        }
    }
    json_object_put(root);
    return r;
}

/* Forgets the messages added since errs held n messages and had dropped `dropped`. */
static void errs_rollback(struct errlist *errs, size_t n, size_t dropped)
{
    while (errs->n > n)
        free(errs->msgs[--errs->n]);
    errs->dropped = dropped;
}

/* store_build(); owned as for build_text(). */
static int
build(const char *json, size_t len, struct sbuf *owned, store_t **ret_store, struct errlist *errs)
{
    /* Text that jsonscan_check() accepts is read without a tree of the whole document (which
     * costs json-c about 1.4 kB per record). The rest, which is mostly text with a syntax error
     * or a duplicate key to report, goes through json-c's tree, which also finds and describes
     * those. The index, down to the records objects, lets the walk step over the zones (read
     * after the other sections) and over a zone's records (read after its other members). */
    struct jsonscan_index index = {.depth = 4};
    int r = -EAGAIN;
    if (jsonscan_check(json, len, NULL, &index) == 0) {
        size_t n = errs->n, dropped = errs->dropped;
        r = build_text(json, len, &index, owned, ret_store, errs);
        if (r == -EAGAIN)
            errs_rollback(errs, n, dropped);
    }
    jsonscan_index_free(&index);
    return r == -EAGAIN ? store_build_tree(json, len, ret_store, errs) : r;
}

int store_build(const char *json, size_t len, store_t **ret_store, struct errlist *errs)
{
    return build(json, len, NULL, ret_store, errs);
}

static struct store_limits limits = {STORE_DEFAULT_MAX_BYTES, POOL_MAX_MEMBERS};

void store_set_limits(const struct store_limits *l)
{
    limits = *l;
    if (limits.max_members == 0 || limits.max_members > POOL_MAX_MEMBERS)
        limits.max_members = POOL_MAX_MEMBERS;
}

const struct store_limits *store_get_limits(void)
{
    return &limits;
}

int store_read_file(const char *path, struct sbuf *text, struct errlist *errs)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        errlist_add(errs, "cannot open the store file (%s)", strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        errlist_add(errs, "not a regular file");
        close(fd);
        return -EINVAL;
    }
    if ((uint64_t)st.st_size > limits.max_bytes) {
        errlist_add(errs, "the store file is %llu bytes; the limit is %llu (--max-store-bytes)",
                    (unsigned long long)st.st_size, (unsigned long long)limits.max_bytes);
        close(fd);
        return -EFBIG;
    }
    sbuf_reset(text);
    sbuf_reserve(text, (size_t)st.st_size + 1);
    for (;;) {
        sbuf_reserve(text, 65536);
        ssize_t n = read(fd, text->p + text->len, text->cap - text->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            errlist_add(errs, "cannot read the store file (%s)", strerror(e));
            close(fd);
            return -e;
        }
        if (n == 0)
            break;
        text->len += (size_t)n;
        text->p[text->len] = '\0';
        if (text->len > limits.max_bytes) { /* grew while we read it */
            errlist_add(errs,
                        "the store file grew past the limit of %llu bytes while it was "
                        "read (--max-store-bytes)",
                        (unsigned long long)limits.max_bytes);
            close(fd);
            return -EFBIG;
        }
    }
    close(fd);
    return 0;
}

int store_load_file(const char *path, store_t **ret_store, struct errlist *errs)
{
    struct sbuf buf = SBUF_INIT;
    int r = store_read_file(path, &buf, errs);
    if (r == 0)
        r = build(sbuf_str(&buf), buf.len, &buf, ret_store, errs);
    sbuf_free(&buf);
    return r;
}

void store_free(store_t *s)
{
    if (!s)
        return;
    arena_free(&s->arena);
    free(s);
}

size_t store_zone_count(const store_t *s)
{
    return s->nzones;
}

const struct store_zone *store_zone_at(const store_t *s, size_t i)
{
    return i < s->nzones ? &s->zones[i] : NULL;
}

const struct store_zone *store_zone_by_id(const store_t *s, int64_t id)
{
    size_t lo = 0, hi = s->nzones;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->by_id[mid]->id == id)
            return s->by_id[mid];
        if (s->by_id[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const struct store_zone *store_zone_by_name(const store_t *s, const uint8_t *apex)
{
    /* Zones are sorted in canonical order: a binary search, which also finds a zone left with
     * no records at all (pdnsutil clear-zone), which has no apex node to find it by. */
    uint8_t low[DNAME_WIRE_MAX];
    memcpy(low, apex, dname_wire_len(apex));
    dname_lower(low);
    size_t lo = 0, hi = s->nzones;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = canon_cmp(s->zones[mid].apex, low);
        if (c == 0)
            return &s->zones[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *store_pdns_control(const store_t *s)
{
    return s->pdns_control;
}

const char *store_webhook(const store_t *s)
{
    return s->webhook;
}

const struct store_pools *store_pools(const store_t *s)
{
    return &s->pools;
}

size_t store_record_count(const store_t *s)
{
    return s->nrecords;
}

const struct store_node *store_find(const store_t *s, const uint8_t *name, int64_t zone_id)
{
    size_t len = dname_wire_len(name);
    uint32_t h = hash_name(name, len);
    const struct store_node *best = NULL;
    int best_labels = -1;
    for (const struct store_node *n = s->buckets[h & s->mask]; n; n = n->next) {
        if (n->hash != h || memcmp(n->name, name, len) != 0)
            continue;
        if (zone_id > 0) {
            if (n->zone->id == zone_id)
                return n;
            continue;
        }
        int labels = dname_label_count(n->zone->apex);
        if (labels > best_labels) {
            best = n;
            best_labels = labels;
        }
    }
    return best;
}
