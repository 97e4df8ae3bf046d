/* SPDX-License-Identifier: MIT */
/* The record store: JSON store file -> validated, indexed, immutable store (see store.h).
 *
 * DESIGN: building happens in three passes. (1) Walk the JSON tree, validate every zone and
 * record, and collect flat build records (errors are collected, never fatal on the first).
 * (2) Sort the records by zone and canonical name so that each name's records are adjacent, run
 * the checks that need a whole name or zone (one SOA at the apex, CNAME alone, one TTL per
 * RRset, duplicates) and render each name's reply fragment once. (3) Add empty non-terminals
 * and build the hash index. Lookups then cost one hash probe and one memcpy of a fragment. */
#include "backend/store.h"
#include "backend/store_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
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

void sb_path_key(struct sbuf *p, const char *key)
{
    sbuf_putc(p, '[');
    sbuf_json_str(p, key, strlen(key));
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

/* ---- pass 1: walk the JSON tree ----------------------------------------------------------- */

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

static void parse_record(struct builder *b,
                         uint32_t zi,
                         const uint8_t *owner,
                         const char *owner_key,
                         size_t index,
                         json_object *obj)
{
    struct bzone *z = &b->zones[zi];
    struct brec r = {
        .zone = zi, .name = owner, .ttl = z->ttl, .owner_key = owner_key, .index = index};
    json_object *jtype = NULL, *jcontent = NULL, *jpool = NULL, *jttl = NULL;
    bool ok = true;
    size_t mark = b->path.len;

    if (!sb_expect_type(b, obj, json_type_object,
                        "a record object like {\"type\": \"A\", "
                        "\"content\": \"192.0.2.1\"}"))
        return;
    json_object_object_foreach(obj, key, val)
    {
        if (strcmp(key, "type") == 0) {
            jtype = val;
        } else if (strcmp(key, "content") == 0) {
            jcontent = val;
        } else if (strcmp(key, "pool") == 0) {
            jpool = val;
        } else if (strcmp(key, "ttl") == 0) {
            jttl = val;
            sbuf_puts(&b->path, ".ttl");
            if (sb_get_u32(b, val, "ttl", STORE_TTL_MAX, &r.ttl) < 0)
                ok = false;
            sbuf_truncate(&b->path, mark);
        } else {
            sb_unknown_key(b, key, "type, content, pool, ttl");
            ok = false;
        }
    }

    sbuf_puts(&b->path, ".type");
    if (!jtype) {
        errlist_add(b->errs, "%s: missing (every record needs a type)", sbuf_str(&b->path));
        ok = false;
    } else if (sb_expect_type(b, jtype, json_type_string, "a type name such as \"A\"")) {
        const char *t = json_object_get_string(jtype);
        int code = rrtype_from_name(t, (size_t)json_object_get_string_len(jtype));
        if (code <= 0 || code == RR_ANY) {
            errlist_add(b->errs, "%s: '%s' is not a supported record type (supported: %s)",
                        sbuf_str(&b->path), t, rrtype_list());
            ok = false;
        } else {
            r.type = (uint16_t)code;
        }
    } else {
        ok = false;
    }
    sbuf_truncate(&b->path, mark);

    if (jpool) {
        /* A pool record: its addresses come from the pool's healthy members at query time. */
        sbuf_puts(&b->path, ".pool");
        const char *name = sb_expect_type(b, jpool, json_type_string, "a pool name")
                               ? json_object_get_string(jpool)
                               : NULL;
        r.pool = name ? pools_lookup(b, name) : NULL;
        if (name && !r.pool) {
            errlist_add(b->errs, "%s: there is no pool '%.80s' in \"pools\"", sbuf_str(&b->path),
                        name);
        } else if (r.pool && r.type && r.type != RR_A && r.type != RR_AAAA) {
            errlist_add(b->errs, "%s: only A and AAAA records can come from a pool, not %s",
                        sbuf_str(&b->path), rrtype_name(r.type));
            r.pool = NULL;
        } else if (r.pool && r.type) {
            int family = r.type == RR_A ? AF_INET : AF_INET6;
            bool any = r.pool->all_down == POOL_DOWN_FALLBACK && r.pool->nfallback == 0;
            for (size_t i = 0; i < r.pool->nmembers; i++)
                any = any || r.pool->members[i].addr.family == family;
            if (!any && r.pool->nmembers)
                errlist_add(b->errs, "%s: pool '%s' has no %s members for a%s %s record",
                            sbuf_str(&b->path), r.pool->name, family == AF_INET ? "IPv4" : "IPv6",
                            r.type == RR_A ? "n" : "n", rrtype_name(r.type));
        }
        if (!r.pool)
            ok = false;
        sbuf_truncate(&b->path, mark);
        if (jcontent) {
            sbuf_puts(&b->path, ".content");
            errlist_add(b->errs,
                        "%s: a pool record has no content (its addresses come from the "
                        "pool)",
                        sbuf_str(&b->path));
            sbuf_truncate(&b->path, mark);
            ok = false;
        }
        if (!jttl)
            r.ttl = POOL_DEFAULT_TTL;
        r.content = "";
    } else {
        sbuf_puts(&b->path, ".content");
        if (!jcontent) {
            errlist_add(b->errs, "%s: missing (every record needs content, or a pool)",
                        sbuf_str(&b->path));
            ok = false;
        } else if (!sb_expect_type(b, jcontent, json_type_string, "a string")) {
            ok = false;
        } else if (r.type) {
            struct sbuf out = SBUF_INIT;
            struct errbuf err;
            if (rdata_normalize(r.type, json_object_get_string(jcontent), z->apex, &out, &err) < 0)
            {
                errlist_add(b->errs, "%s: %s", sbuf_str(&b->path), err.msg);
                ok = false;
            } else {
                r.content = arena_strndup(b->arena, sbuf_str(&out), out.len);
            }
            sbuf_free(&out);
        }
        sbuf_truncate(&b->path, mark);
    }

    if (ok) {
        add_rec(b, &r);
        z->nstatic += r.pool == NULL;
    } else {
        z->had_error = true;
        if (dname_equal(owner, z->apex))
            z->apex_dropped = true;
    }
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
        uint8_t wire[DNAME_WIRE_MAX];
        struct errbuf err;
        int n = dname_from_text(owner, strlen(owner), z->apex, wire, &err);
        if (n < 0) {
            errlist_add(b->errs, "%s: %s", sbuf_str(&b->path), err.msg);
        } else if (!dname_is_below(wire, z->apex)) {
            char zt[DNAME_TEXT_MAX];
            dname_to_text(z->apex, false, zt);
            errlist_add(b->errs, "%s: '%s' is not inside zone '%s'", sbuf_str(&b->path), owner, zt);
        } else if (sb_expect_type(b, list, json_type_array, "an array of records")) {
            dname_lower(wire);
            const uint8_t *name = arena_memdup(b->arena, wire, (size_t)n);
            size_t len = json_object_array_length(list);
            if (len == 0)
                errlist_add(b->errs, "%s: empty record list (remove the name instead)",
                            sbuf_str(&b->path));
            for (size_t i = 0; i < len; i++) {
                size_t m2 = b->path.len;
                sbuf_printf(&b->path, "[%zu]", i);
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

static void parse_zones(struct builder *b, json_object *zones)
{
    size_t mark = b->path.len;
    if (!sb_expect_type(b, zones, json_type_object, "an object of zones"))
        return;
    size_t n = (size_t)json_object_object_length(zones);
    b->zones = xcalloc(n ? n : 1, sizeof(*b->zones));

    json_object_object_foreach(zones, zname, zobj)
    {
        sb_path_key(&b->path, zname);
        struct bzone *z = &b->zones[b->nzones];
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
            sbuf_truncate(&b->path, mark);
            continue;
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
        if (dup || !sb_expect_type(b, zobj, json_type_object, "a zone object")) {
            sbuf_truncate(&b->path, mark);
            continue;
        }
        z->key = zname;
        z->labels = dname_label_count(z->apex);
        z->ttl = STORE_DEFAULT_TTL;
        uint32_t zi = (uint32_t)b->nzones++;
        json_object *records = NULL;
        json_object_object_foreach(zobj, key, val)
        {
            size_t m2 = b->path.len;
            if (strcmp(key, "ttl") == 0) {
                sbuf_puts(&b->path, ".ttl");
                sb_get_u32(b, val, "ttl", STORE_TTL_MAX, &z->ttl);
            } else if (strcmp(key, "records") == 0) {
                records = val;
            } else if (strcmp(key, "metadata") == 0) {
                sbuf_puts(&b->path, ".metadata");
                parse_metadata(b, z, val);
            } else {
                sb_unknown_key(b, key, "ttl, records, metadata");
            }
            sbuf_truncate(&b->path, m2);
        }
        if (!records) {
            z->apex_dropped = true;
            errlist_add(b->errs, "%s: missing \"records\" (a zone needs at least SOA and NS)",
                        sbuf_str(&b->path));
        } else {
            sbuf_puts(&b->path, ".records");
            parse_records(b, zi, records);
        }
        sbuf_truncate(&b->path, mark);
    }
}

/* ---- pass 2: group, check, render -------------------------------------------------------- */

/* RFC 4034 section 6.1 canonical order of lowercase wire names. */
static int canon_cmp(const uint8_t *a, const uint8_t *b)
{
    const uint8_t *la[128], *lb[128];
    int na = 0, nb = 0;
    for (const uint8_t *p = a; *p; p += *p + 1)
        la[na++] = p;
    for (const uint8_t *p = b; *p; p += *p + 1)
        lb[nb++] = p;
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

static int brec_cmp(const void *pa, const void *pb)
{
    const struct brec *a = pa, *b = pb;
    if (a->zone != b->zone)
        return a->zone < b->zone ? -1 : 1;
    int c = canon_cmp(a->name, b->name);
    if (c)
        return c;
    /* The SOA leads its name, so lists and AXFR start with it. */
    if ((a->type == RR_SOA) != (b->type == RR_SOA))
        return a->type == RR_SOA ? -1 : 1;
    return a->seq < b->seq ? -1 : (a->seq > b->seq);
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

static void render_frag(
    struct sbuf *o, const char *qname, const struct store_rr *rr, uint32_t zone_id, bool scoped)
{
    sbuf_puts(o, "{\"qtype\":\"");
    sbuf_puts(o, rrtype_name(rr->type));
    sbuf_puts(o, "\",\"qname\":");
    sbuf_json_str(o, qname, strlen(qname));
    sbuf_puts(o, ",\"content\":");
    sbuf_json_str(o, rr->content, strlen(rr->content));
    sbuf_puts(o, ",\"ttl\":");
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

static struct store_node *new_node(store_t *s, const uint8_t *name, const struct store_zone *z)
{
    struct store_node *n = arena_zalloc(&s->arena, sizeof(*n));
    size_t len = dname_wire_len(name);
    char text[DNAME_TEXT_MAX];
    n->name = arena_memdup(&s->arena, name, len);
    n->text = arena_strndup(&s->arena, text, dname_to_text(name, false, text));
    n->zone = z;
    n->hash = hash_name(name, len);
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
    struct sbuf tmp = SBUF_INIT, frag = SBUF_INIT;
    size_t nnodes = 0;
    size_t errs_before = errlist_count(b->errs); /* the caller's errlist may hold older messages */

    if (b->nrecs) /* qsort's base must not be NULL, even for 0 elements */
        qsort(b->recs, b->nrecs, sizeof(*b->recs), brec_cmp);

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
        if (i == 0 || b->recs[i].zone != b->recs[i - 1].zone ||
            !dname_equal(b->recs[i].name, b->recs[i - 1].name))
            nnodes++;
    size_t nb = 16;
    while (nb < (nnodes + 1) * 2)
        nb *= 2;
    s->buckets = arena_zalloc(&s->arena, nb * sizeof(*s->buckets));
    s->mask = nb - 1;

    bool ok = true;
    struct store_node **znodes = xcalloc(nnodes + 1, sizeof(*znodes));
    size_t i = 0;
    while (i < b->nrecs) {
        uint32_t zi = b->recs[i].zone;
        size_t nz = 0;
        bool have_apex = false;
        while (i < b->nrecs && b->recs[i].zone == zi) {
            size_t j = i + 1;
            while (j < b->nrecs && b->recs[j].zone == zi &&
                   dname_equal(b->recs[j].name, b->recs[i].name))
                j++;
            if (!check_name(b, &b->recs[i], j - i, &tmp))
                ok = false;
            if (dname_equal(b->recs[i].name, b->zones[zi].apex)) {
                check_apex(b, zi, &b->recs[i], j - i);
                have_apex = true;
            }
            struct store_zone *z = &s->zones[zmap[zi]];
            struct store_node *node = new_node(s, b->recs[i].name, z);
            struct store_rr *rrs = arena_zalloc(&s->arena, (j - i) * sizeof(*rrs));
            sbuf_reset(&frag);
            size_t *offs = xcalloc(j - i, sizeof(*offs));
            for (size_t k = i; k < j; k++) {
                const struct pool *p = b->recs[k].pool;
                node->dynamic = node->dynamic || p;
                node->scoped = node->scoped || (p && (!s->pdns_control || !pool_cacheable(p)));
            }
            for (size_t k = i; k < j; k++) {
                struct store_rr *rr = &rrs[k - i];
                rr->type = b->recs[k].type;
                rr->ttl = b->recs[k].ttl;
                rr->content = b->recs[k].content;
                rr->pool = b->recs[k].pool;
                if (rr->pool)
                    continue; /* rendered per query from the pool */
                if (frag.len)
                    sbuf_putc(&frag, ',');
                offs[k - i] = frag.len;
                render_frag(&frag, node->text, rr, z->id, node->scoped);
                rr->frag_len = (uint32_t)(frag.len - offs[k - i]);
            }
            node->any_frag = arena_strndup(&s->arena, sbuf_str(&frag), frag.len);
            node->any_len = (uint32_t)frag.len;
            for (size_t k = 0; k < j - i; k++)
                if (!rrs[k].pool)
                    rrs[k].frag = node->any_frag + offs[k];
            free(offs);
            node->rrs = rrs;
            node->nrr = (uint32_t)(j - i);
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

/* Validates and indexes a parsed store document (root is borrowed). */
static int build_doc(json_object *root, store_t **ret_store, struct errlist *errs)
{
    struct builder b = {.errs = errs};
    store_t *s = xcalloc(1, sizeof(*s));
    int r = -EINVAL;
    size_t errs_before = errlist_count(errs);

    b.arena = &s->arena;
    if (!json_object_is_type(root, json_type_object)) {
        errlist_add(errs, "the top level must be an object like {\"zones\": {...}}");
        goto out;
    }

    json_object *zones = NULL, *checks = NULL, *pools = NULL, *notify = NULL, *pdns = NULL;
    json_object_object_foreach(root, key, val)
    {
        if (strcmp(key, "zones") == 0)
            zones = val;
        else if (strcmp(key, "checks") == 0)
            checks = val;
        else if (strcmp(key, "pools") == 0)
            pools = val;
        else if (strcmp(key, "notify") == 0)
            notify = val;
        else if (strcmp(key, "pdns") == 0)
            pdns = val;
        else
            sb_unknown_key(&b, key, "zones, checks, pools, notify, pdns");
    }
    if (!zones) {
        errlist_add(errs, "missing \"zones\" at the top level");
        goto out;
    }
    /* Zones refer to pools and pools to checks by name: parse in that order, whatever the
     * order in the file. */
    if (checks) {
        sbuf_puts(&b.path, "checks");
        pools_parse_checks(&b, checks);
        sbuf_reset(&b.path);
    }
    if (pools) {
        sbuf_puts(&b.path, "pools");
        pools_parse_pools(&b, pools);
        sbuf_reset(&b.path);
    }
    if (notify) {
        sbuf_puts(&b.path, "notify");
        parse_notify(&b, notify, s);
        sbuf_reset(&b.path);
    }
    if (pdns) {
        sbuf_puts(&b.path, "pdns");
        parse_pdns(&b, pdns, s);
        sbuf_reset(&b.path);
    }
    sbuf_puts(&b.path, "zones");
    parse_zones(&b, zones);
    sbuf_reset(&b.path);
    /* Run the whole-name and whole-zone checks even after record errors, so that one run
     * reports everything; records with errors were left out and cannot cause knock-on errors
     * except for the apex counts, which check_apex() skips in that case. */
    r = finish(&b, s);

out:
    pools_free_builder(&b);
    free(b.zones);
    free(b.recs);
    sbuf_free(&b.path);
    if (r < 0 || errlist_count(errs) > errs_before) {
        store_free(s);
        return -EINVAL;
    }
    *ret_store = s;
    return 0;
}

int store_build_doc(json_object *root, store_t **ret_store, struct errlist *errs)
{
    return build_doc(root, ret_store, errs);
}

int store_build(const char *json, size_t len, store_t **ret_store, struct errlist *errs)
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
    }
    close(fd);
    return 0;
}

int store_load_file(const char *path, store_t **ret_store, struct errlist *errs)
{
    struct sbuf buf = SBUF_INIT;
    int r = store_read_file(path, &buf, errs);
    if (r == 0)
        r = store_build(sbuf_str(&buf), buf.len, ret_store, errs);
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
