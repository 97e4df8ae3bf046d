/* SPDX-License-Identifier: MIT */
/* Edits of a store document (the parsed JSON of the store file) as PowerDNS asks for them:
 * replace an RRset, insert a record, empty a zone, set metadata, add or delete a zone. An edit
 * changes only what it names, in place, so the file written back differs from the old one only
 * there (see storefmt.h). Records that come from a pool are never changed by an edit: replacing
 * or inserting at a pool's (name, type) is refused with a message naming the pool, and a
 * whole-zone replacement keeps them (records fed for them are a snapshot of the pool's answer
 * and are dropped). Pure: parsing and applying take everything as arguments. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/errbuf.h"

enum edit_kind {
    EDIT_CLEAR_ZONE,    /* start of a whole-zone replacement: all but pool records go */
    EDIT_REPLACE_RRSET, /* (qname, type) becomes rrs; no rrs: the RRset is deleted */
    EDIT_FEED,          /* one record inserted (rrs[0]) */
    EDIT_SET_META,      /* metadata kind becomes values; no values: deleted */
    EDIT_ADD_ZONE,      /* a new zone with rrs (SOA and NS at the apex) */
    EDIT_DELETE_ZONE,
};

struct edit_rr {
    char *qname;   /* absolute */
    int type;      /* enum rr_type */
    char *content; /* as received; normalised when applied */
    uint32_t ttl;
};

struct edit_op {
    enum edit_kind kind;
    char *zone;  /* absolute name, trailing dot */
    char *qname; /* REPLACE_RRSET, FEED */
    int type;    /* REPLACE_RRSET */
    bool whole;  /* FEED inside a whole-zone replacement */
    struct edit_rr *rrs;
    size_t nrrs;
    char *meta_kind;
    char **values;
    size_t nvalues;
    uint32_t zone_ttl; /* ADD_ZONE: the zone's default TTL; 0: none written */
    /* REPLACE_RRSET of the SOA: the serial it replaced, recorded by its first application
     * (-1 before). Applied again on a store another writer changed meanwhile, a serial that
     * would not move past that writer's is set to one more than it. */
    int64_t base_serial;
};

/* Frees what op holds (not op itself). NULL-safe. */
void edit_op_clear(struct edit_op *op);

/* Builds op from the parameters of pdns's replaceRRSet / feedRecord / setDomainMetadata.
 * zone is the transaction's zone (for the first two). Content is validated for its type here,
 * so a bad record is refused at once. Returns 0 or -EINVAL with the reason in err. */
int edit_op_replace(json_object *params, const char *zone, struct edit_op *op, struct errbuf *err);
int edit_op_feed(
    json_object *params, const char *zone, bool whole, struct edit_op *op, struct errbuf *err);
int edit_op_meta(json_object *params, struct edit_op *op, struct errbuf *err);
int edit_op_clear_zone(const char *zone, struct edit_op *op, struct errbuf *err);
/* A new zone: soa is the SOA content, ns the name servers, ttl the default TTL (0: none). */
int edit_op_add_zone(const char *zone,
                     const char *soa,
                     const char *const *ns,
                     size_t nns,
                     uint32_t ttl,
                     struct edit_op *op,
                     struct errbuf *err);
int edit_op_delete_zone(const char *zone, struct edit_op *op, struct errbuf *err);

/* Applies ops[0..n) to doc in order (ops may record base_serial). Stops at the first failure:
 * returns -EINVAL (or -ENOENT for a zone that does not exist) with the reason in err, and doc
 * may then be partly changed. */
int edit_apply(json_object *doc, struct edit_op *ops, size_t n, struct errbuf *err);

/* Normalises a zone name given by a person ("example.com" or "Example.COM.") to the form edits
 * use ("example.com."). Returns 0 or -EINVAL. */
int edit_zone_name(const char *in, char *out, size_t cap, struct errbuf *err);
