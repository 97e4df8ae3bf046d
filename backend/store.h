/* SPDX-License-Identifier: MIT */
/* The record store: zones, names and records loaded from the JSON store file, validated, and
 * indexed for lookups by (name, zone). A built store is immutable: every part of it lives in one
 * arena, reply fragments are rendered once at load time, and it is freed whole. Readers on any
 * thread may use a store concurrently; building one is single-threaded. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/errlist.h"

#define STORE_TTL_MAX     2147483647u /* RFC 2181 section 8 */
#define STORE_DEFAULT_TTL 3600u
/* scopeMask sent on every record of a name with pool records (see render_frag). */
#define STORE_SCOPE_MASK_TEXT "32"

struct pool;
struct store_pools;

struct store_rr {
    uint16_t type;
    uint32_t ttl;
    const char *content; /* normalised, as pdns prints it ("" for a pool record) */
    const char *frag;    /* this record as a lookup-reply JSON object (NULL: pool record) */
    uint32_t frag_len;
    const struct pool *pool; /* A/AAAA answered from this pool's healthy members */
};

struct store_zone;

struct store_node {
    const uint8_t *name; /* lowercase wire form */
    const char *text;    /* canonical text, trailing dot */
    const struct store_zone *zone;
    struct store_node *next; /* hash chain */
    uint32_t hash;
    uint32_t nrr; /* 0: an empty non-terminal */
    const struct store_rr *rrs;
    const char *any_frag; /* all static records (or the ENT pseudo-record), comma-separated */
    uint32_t any_len;
    bool dynamic; /* has pool records: answers depend on health */
    /* every record carries a scopeMask, keeping the name out of pdns's caches: dynamic, and
     * not purge mode with only cacheable pools (see store_purge_mode()) */
    bool scoped;
};

struct store_meta {
    const char *kind;
    const char *const *values;
    size_t nvalues;
};

struct store_zone {
    const uint8_t *apex; /* lowercase wire form */
    const char *name;    /* canonical text, trailing dot */
    uint32_t id;         /* derived from the name: stable across restarts and edits */
    uint32_t serial;
    uint32_t nrecords;
    const struct store_node *const *nodes; /* canonical DNS order, apex first */
    size_t nnodes;
    const struct store_meta *meta;
    size_t nmeta;
};

typedef struct store store_t;

/* Builds a store from JSON text. Every problem found is added to errs as
 * "<json path>: <value and reason>" (syntax errors as "line L, column C: ...").
 * Returns 0 and the store in *ret_store (free with store_free()), or -EINVAL when any error was
 * found (nothing is returned then). Pure: no I/O. */
int store_build(const char *json, size_t len, store_t **ret_store, struct errlist *errs);
struct json_object;
/* The same from a parsed document (borrowed; duplicate keys cannot be detected there): for a
 * document built or edited in memory, which need not be written out and parsed again. */
int store_build_doc(struct json_object *root, store_t **ret_store, struct errlist *errs);
/* Process-wide limits on what a store may hold, set once by main() before any store is
 * loaded (the daemon's --max-store-bytes and --max-members); every loader (start-up, reloads,
 * commits, pipe initialize) applies them, so a store past a limit is refused with a message
 * naming the limit and the option that raises it. */
struct store_limits {
    uint64_t max_bytes;   /* store file size */
    unsigned max_members; /* members of one pool, at most POOL_MAX_MEMBERS */
};
#define STORE_DEFAULT_MAX_BYTES (1024ULL * 1024 * 1024)
void store_set_limits(const struct store_limits *l);
const struct store_limits *store_get_limits(void);
struct sbuf;
/* Reads the whole file at `path` into text (replacing what it held). I/O errors are reported
 * through errs. Returns 0 or -errno. */
int store_read_file(const char *path, struct sbuf *text, struct errlist *errs);
/* Reads `path` and builds the store from it; I/O errors are reported through errs too
 * (the caller prefixes messages with the path). */
int store_load_file(const char *path, store_t **ret_store, struct errlist *errs);
void store_free(store_t *s);

size_t store_zone_count(const store_t *s);
/* Zones sorted by name. */
const struct store_zone *store_zone_at(const store_t *s, size_t i);
const struct store_zone *store_zone_by_id(const store_t *s, int64_t id);
/* Zone with exactly this apex (lowercase wire form), or NULL. */
const struct store_zone *store_zone_by_name(const store_t *s, const uint8_t *apex);
size_t store_record_count(const store_t *s);
/* The pdns control socket ("pdns": {"control_socket": ...}), or NULL. With it the store is in
 * purge mode: names whose pools are all pool_cacheable() are answered without a scopeMask (pdns
 * caches them) and pdns-failover purges them through this socket whenever their answer may
 * change. */
const char *store_pdns_control(const store_t *s);
/* The "notify" webhook URL, or NULL. */
const char *store_webhook(const store_t *s);
/* Pools and probe targets (empty when the store has none). */
const struct store_pools *store_pools(const store_t *s);

/* The node for a lowercase wire name. With zone_id > 0, only that zone's node; otherwise the
 * node of the deepest zone holding the name. NULL when nothing is there. */
const struct store_node *store_find(const store_t *s, const uint8_t *name, int64_t zone_id);
