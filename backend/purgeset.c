/* SPDX-License-Identifier: MIT */
/* Purge patterns per probe target (see purgeset.h). */
#include "backend/purgeset.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "backend/pools.h"
#include "backend/rdata.h"
#include "common/dname.h"
#include "common/xalloc.h"

/* How far dependents are followed (a CNAME to a CNAME to a pool name...): pdns itself stops
 * chasing CNAMEs after a handful. */
#define DEPTH_MAX 8

struct plist {
    const char **v;
    size_t n, cap;
};

struct purgeset {
    char **strings; /* owned */
    size_t nstrings, capstrings;
    struct plist *by_target;
    size_t ntargets;
    struct plist all;
};

static void plist_add(struct plist *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = s;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void plist_unique(struct plist *l)
{
    if (l->n < 2)
        return;
    qsort(l->v, l->n, sizeof(*l->v), str_cmp);
    size_t o = 1;
    for (size_t i = 1; i < l->n; i++)
        if (strcmp(l->v[i], l->v[o - 1]) != 0)
            l->v[o++] = l->v[i];
    l->n = o;
}

/* An edge of the dependency graph: the cached answer of `dep` carries `on`'s records. */
struct edge {
    const struct store_node *on, *dep;
};

static int edge_cmp(const void *a, const void *b)
{
    const struct edge *x = a, *y = b;
    return x->on < y->on ? -1 : x->on > y->on;
}

/* The name a CNAME, NS, MX or SRV record points at (last field of pdns's presentation). */
static const struct store_node *target_of(const store_t *s, const struct store_rr *rr)
{
    if (rr->type != RR_CNAME && rr->type != RR_NS && rr->type != RR_MX && rr->type != RR_SRV)
        return NULL;
    const char *t = strrchr(rr->content, ' ');
    t = t ? t + 1 : rr->content;
    static const uint8_t root[1] = {0};
    uint8_t wire[DNAME_WIRE_MAX];
    struct errbuf e;
    if (dname_from_text(t, strlen(t), root, wire, &e) < 0)
        return NULL;
    dname_lower(wire);
    const struct store_node *n = store_find(s, wire, -1);
    if (n)
        return n;
    /* A name we do not have is answered from the wildcard of its closest encloser: pdns follows
     * a CNAME there too, and caches the synthesised answer under the CNAME's name. */
    for (const uint8_t *p = dname_parent(wire);; p = dname_parent(p)) {
        uint8_t wc[DNAME_WIRE_MAX];
        size_t len = dname_wire_len(p);
        if (len + 2 > sizeof(wc))
            return NULL;
        wc[0] = 1;
        wc[1] = '*';
        memcpy(wc + 2, p, len);
        if ((n = store_find(s, wc, -1)))
            return n;
        if (!p[0] || store_find(s, p, -1))
            return NULL; /* the closest encloser, without a wildcard */
    }
}

static const char *pattern_of(purgeset_t *ps, const struct store_node *n)
{
    const char *text = n->text;
    size_t len = strlen(text);
    char *p;
    if (text[0] == '*' && text[1] == '.') { /* a wildcard: every name it answers, below parent */
        p = xmalloc(len);
        memcpy(p, text + 2, len - 2);
        p[len - 2] = '$';
        p[len - 1] = '\0';
    } else {
        p = xstrdup(text);
    }
    if (ps->nstrings == ps->capstrings) {
        ps->capstrings = ps->capstrings ? ps->capstrings * 2 : 16;
        ps->strings = xrealloc(ps->strings, ps->capstrings * sizeof(*ps->strings));
    }
    ps->strings[ps->nstrings++] = p;
    return p;
}

purgeset_t *purgeset_build(const store_t *s)
{
    purgeset_t *ps = xcalloc(1, sizeof(*ps));
    const struct store_pools *sp = store_pools(s);
    ps->ntargets = sp->ntargets;
    ps->by_target = xcalloc(sp->ntargets ? sp->ntargets : 1, sizeof(*ps->by_target));
    if (!store_pdns_control(s) || sp->npools == 0)
        return ps;

    /* The graph: for every record pointing at a name we serve, an edge from that name. */
    struct edge *edges = NULL;
    size_t nedges = 0, capedges = 0;
    for (size_t zi = 0; zi < store_zone_count(s); zi++) {
        const struct store_zone *z = store_zone_at(s, zi);
        for (size_t i = 0; i < z->nnodes; i++) {
            const struct store_node *n = z->nodes[i];
            for (uint32_t k = 0; k < n->nrr; k++) {
                const struct store_node *on = target_of(s, &n->rrs[k]);
                if (!on || on == n)
                    continue;
                if (nedges == capedges) {
                    capedges = capedges ? capedges * 2 : 64;
                    edges = xrealloc(edges, capedges * sizeof(*edges));
                }
                edges[nedges++] = (struct edge){.on = on, .dep = n};
            }
        }
    }
    if (nedges)
        qsort(edges, nedges, sizeof(*edges), edge_cmp);

    /* Per pool: its names and their dependents, breadth first. Every pool, cacheable or not:
     * a pool that is not keeps its scopeMask, but an empty answer (when_all_down "none",
     * every member drained or forced down, a fallback of the other family) puts no record in
     * pdns's reply to carry it, and pdns's packet cache keeps that NODATA (and the CNAMEs
     * leading to it) for up to cache-ttl seconds: purged with the rest, it goes at once. */
    for (size_t pi = 0; pi < sp->npools; pi++) {
        const struct pool *p = &sp->pools[pi];
        const struct store_node **queue = NULL;
        size_t nq = 0, capq = 0;
        for (size_t zi = 0; zi < store_zone_count(s); zi++) {
            const struct store_zone *z = store_zone_at(s, zi);
            for (size_t i = 0; i < z->nnodes; i++) {
                const struct store_node *n = z->nodes[i];
                bool uses = false;
                for (uint32_t k = 0; k < n->nrr && !uses; k++)
                    uses = n->rrs[k].pool == p;
                if (!uses)
                    continue;
                if (nq == capq) {
                    capq = capq ? capq * 2 : 16;
                    queue = xrealloc(queue, capq * sizeof(*queue));
                }
                queue[nq++] = n;
            }
        }
        size_t level_end = nq;
        for (size_t qi = 0, depth = 0; qi < nq && depth < DEPTH_MAX; qi++) {
            if (qi == level_end) {
                depth++;
                level_end = nq;
            }
            struct edge key = {.on = queue[qi]};
            struct edge *e = nedges ? bsearch(&key, edges, nedges, sizeof(*edges), edge_cmp) : NULL;
            if (!e)
                continue;
            while (e > edges && e[-1].on == key.on)
                e--;
            for (; e < edges + nedges && e->on == key.on; e++) {
                bool seen = false;
                for (size_t j = 0; j < nq && !seen; j++)
                    seen = queue[j] == e->dep;
                if (seen)
                    continue;
                if (nq == capq) {
                    capq = capq * 2;
                    queue = xrealloc(queue, capq * sizeof(*queue));
                }
                queue[nq++] = e->dep;
            }
        }
        for (size_t qi = 0; qi < nq; qi++) {
            const char *pat = pattern_of(ps, queue[qi]);
            plist_add(&ps->all, pat);
            for (size_t m = 0; m < p->nmembers; m++)
                if (p->members[m].target < ps->ntargets)
                    plist_add(&ps->by_target[p->members[m].target], pat);
        }
        free(queue);
    }
    free(edges);
    plist_unique(&ps->all);
    for (size_t t = 0; t < ps->ntargets; t++)
        plist_unique(&ps->by_target[t]);
    return ps;
}

void purgeset_free(purgeset_t *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->nstrings; i++)
        free(ps->strings[i]);
    free(ps->strings);
    for (size_t t = 0; t < ps->ntargets; t++)
        free(ps->by_target[t].v);
    free(ps->by_target);
    free(ps->all.v);
    free(ps);
}

const char *const *purgeset_for_target(const purgeset_t *ps, size_t ti, size_t *n)
{
    if (!ps || ti >= ps->ntargets) {
        *n = 0;
        return NULL;
    }
    *n = ps->by_target[ti].n;
    return ps->by_target[ti].v;
}

const char *const *purgeset_all(const purgeset_t *ps, size_t *n)
{
    if (!ps) {
        *n = 0;
        return NULL;
    }
    *n = ps->all.n;
    return ps->all.v;
}
