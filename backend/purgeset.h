/* SPDX-License-Identifier: MIT */
/* What to purge from pdns's caches when a pool's answer may have changed (purge mode, see
 * store_pdns_control()): the names of the pool's records, and the names whose cached packets
 * carry that answer too: CNAMEs leading to them (pdns follows in-zone CNAMEs into the packet),
 * and MX, SRV and NS records naming them (their additional section holds the addresses). A
 * wildcard pool name is purged with everything below its parent ("parent$"); other names
 * exactly. Every pool is covered, cacheable (pool_cacheable()) or not: the answers of the others
 * carry a scopeMask, which keeps them out of pdns's caches, but an empty answer has no record to
 * carry it and pdns's packet cache keeps that NODATA like any other. Built from a store, pure,
 * immutable; any thread may read it. */
#pragma once

#include <stddef.h>

#include "backend/store.h"

typedef struct purgeset purgeset_t;

/* The patterns for store s; NULL-free result (an empty set when s is not in purge mode). */
purgeset_t *purgeset_build(const store_t *s);
void purgeset_free(purgeset_t *ps);

/* Patterns ("www.example.com." or "dyn.example.com.$") to purge when target `ti` (an index into
 * store_pools(s)->targets) changes state; *n of them. */
const char *const *purgeset_for_target(const purgeset_t *ps, size_t ti, size_t *n);
/* Every pattern of the store (overrides changed, the prober stalled, a new store). */
const char *const *purgeset_all(const purgeset_t *ps, size_t *n);
