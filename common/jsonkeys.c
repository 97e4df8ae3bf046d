/* SPDX-License-Identifier: MIT */
/* Duplicate-key scan over JSON text (see jsonkeys.h). One pass; each open object keeps a hash
 * set of its keys, so a zone with 100,000 owner names costs linear time. */
#include "common/jsonkeys.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

struct key {
    size_t off; /* of the key's first byte after the opening quote */
    size_t len;
};

struct frame {
    bool object;
    bool expect_key;   /* in an object: the next string is a key */
    struct key *slots; /* open addressing; len == SIZE_MAX marks a free slot */
    size_t nslots, nkeys;
};

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void set_init(struct frame *f, size_t nslots)
{
    f->slots = xmalloc(nslots * sizeof(*f->slots));
    for (size_t i = 0; i < nslots; i++)
        f->slots[i].len = SIZE_MAX;
    f->nslots = nslots;
    f->nkeys = 0;
}

/* Inserts key; returns the earlier equal key, or NULL. */
static const struct key *set_add(struct frame *f, const char *json, struct key k)
{
    if (!f->slots)
        set_init(f, 16);
    if ((f->nkeys + 1) * 2 > f->nslots) {
        struct frame g = {0};
        set_init(&g, f->nslots * 2);
        for (size_t i = 0; i < f->nslots; i++)
            if (f->slots[i].len != SIZE_MAX)
                set_add(&g, json, f->slots[i]);
        free(f->slots);
        f->slots = g.slots;
        f->nslots = g.nslots;
        f->nkeys = g.nkeys;
    }
    size_t mask = f->nslots - 1;
    for (size_t i = hash_bytes(json + k.off, k.len) & mask;; i = (i + 1) & mask) {
        struct key *s = &f->slots[i];
        if (s->len == SIZE_MAX) {
            *s = k;
            f->nkeys++;
            return NULL;
        }
        if (s->len == k.len && memcmp(json + s->off, json + k.off, k.len) == 0)
            return s;
    }
}

static void position(const char *json, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (json[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

size_t json_report_duplicate_keys(const char *json, size_t len, struct errlist *errs)
{
    struct frame *stack = NULL;
    size_t depth = 0, cap = 0, found = 0;

    for (size_t i = 0; i < len; i++) {
        char c = json[i];
        if (c == '{' || c == '[') {
            if (depth == cap) {
                cap = cap ? cap * 2 : 16;
                stack = xrealloc(stack, cap * sizeof(*stack));
            }
            stack[depth++] = (struct frame){.object = c == '{', .expect_key = c == '{'};
        } else if (c == '}' || c == ']') {
            if (depth)
                free(stack[--depth].slots);
        } else if (c == ',') {
            if (depth && stack[depth - 1].object)
                stack[depth - 1].expect_key = true;
        } else if (c == '"') {
            size_t start = i + 1;
            for (i = start; i < len && json[i] != '"'; i++)
                if (json[i] == '\\')
                    i++;
            if (depth && stack[depth - 1].object && stack[depth - 1].expect_key) {
                struct frame *f = &stack[depth - 1];
                struct key k = {start, i - start};
                f->expect_key = false;
                const struct key *prev = set_add(f, json, k);
                if (prev) {
                    size_t l1, c1, l0, c0;
                    position(json, start - 1, &l1, &c1);
                    position(json, prev->off - 1, &l0, &c0);
                    errlist_add(errs,
                                "line %zu, column %zu: duplicate key \"%.*s\" in one object "
                                "(the one at line %zu, column %zu would be ignored)",
                                l1, c1, (int)(k.len > 80 ? 80 : k.len), json + start, l0, c0);
                    found++;
                }
            }
        }
    }
    while (depth)
        free(stack[--depth].slots);
    free(stack);
    return found;
}
