/* SPDX-License-Identifier: MIT */
/* Internals of the store loader shared by store.c (zones and records) and pools.c (checks,
 * pools, probe targets): the builder state and the JSON field helpers that put the JSON path
 * into every message. Not for use outside the store. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/pools.h"
#include "backend/store.h"
#include "common/arena.h"
#include "common/dname.h"
#include "common/errlist.h"
#include "common/sbuf.h"

/* One record while building: where it came from (for messages) and what it is. */
struct brec {
    uint32_t zone;       /* index into the build zone array */
    uint32_t seq;        /* position in the file, keeps file order stable */
    const uint8_t *name; /* lowercase wire, arena */
    uint16_t type;
    uint32_t ttl;
    const char *content; /* arena; "" for a pool record */
    const struct pool *pool;
    const char *owner_key;
    size_t index;
};

struct bzone {
    const char *key; /* the JSON key, for messages */
    uint8_t apex[DNAME_WIRE_MAX];
    int labels;
    uint32_t ttl;
    struct store_meta *meta;
    size_t nmeta;
    bool apex_dropped; /* an apex record had errors: its SOA/NS count would mislead */
    size_t nstatic;    /* records other than pool records, anywhere in the zone */
    bool had_error;    /* any record of the zone had an error */
};

struct builder {
    struct arena *arena;
    struct errlist *errs;
    struct bzone *zones;
    size_t nzones;
    struct brec *recs;
    size_t nrecs, caprecs;
    size_t capzones;
    struct sbuf path;
    struct sbuf rdata; /* a record's normalised content */
    /* store.c reading the text itself (see build_text()) */
    struct arena scratch; /* zone and owner keys, for messages, until the build ends */
    struct sbuf key;      /* the key at hand, decoded */
    struct sbuf dec[3];   /* a record's type, content and pool, decoded */
    json_tokener *tok;    /* for the values read with json-c */
    /* pools.c */
    struct store_pools *pools;
};

/* store_build() through json-c's tree of the whole text, which is what store_build() does with
 * text jsonscan_check() refuses (all text with syntax errors among it), so that json-c finds and
 * describes them. The same result otherwise, at ten times the memory: tests compare the two. */
int store_build_tree(const char *json, size_t len, store_t **ret_store, struct errlist *errs);

/* Appends ["key"] (JSON-escaped) to a path. */
void sb_path_key(struct sbuf *p, const char *key);
/* A JSON value as text for messages, shortened to cap bytes. */
const char *sb_show_value(json_object *v, char *buf, size_t cap);
/* Reads a whole number 0..max at the builder's current path; reports and returns -EINVAL. */
int sb_get_u32(struct builder *b, json_object *v, const char *what, uint32_t max, uint32_t *out);
void sb_unknown_key(struct builder *b, const char *key, const char *expected);
bool sb_expect_type(struct builder *b, json_object *v, json_type t, const char *what);

/* pools.c: "checks" and "pools" (parsed before the zones, which refer to pools by name). */
void pools_parse_checks(struct builder *b, json_object *checks);
void pools_parse_pools(struct builder *b, json_object *pools);
/* The pool with this name, or NULL. */
const struct pool *pools_lookup(const struct builder *b, const char *name);
/* Moves the pools and targets into the store's arena; *out is filled. */
void pools_finish(struct builder *b, struct arena *a, struct store_pools *out);
void pools_free_builder(struct builder *b);
