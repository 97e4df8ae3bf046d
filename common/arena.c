/* SPDX-License-Identifier: MIT */
/* Bump allocator over a list of chunks (see arena.h). */
#include "common/arena.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

#define CHUNK_SIZE (256 * 1024)

struct arena_chunk {
    struct arena_chunk *next;
    size_t size;
    size_t off;
    _Alignas(16) unsigned char data[];
};

void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    struct arena_chunk *c = a->head;
    if (!c || c->size - c->off < n) {
        size_t size = n > CHUNK_SIZE / 4 ? n : CHUNK_SIZE;
        c = xmalloc(sizeof(*c) + size);
        c->size = size;
        c->off = 0;
        if (size == n && a->head) {
            /* Keep filling the current chunk: put the big block behind it. */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = c->data + c->off;
    c->off += n;
    a->used += n;
    return p;
}

void *arena_zalloc(struct arena *a, size_t n)
{
    void *p = arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

void *arena_memdup(struct arena *a, const void *p, size_t n)
{
    void *q = arena_alloc(a, n);
    if (n)
        memcpy(q, p, n);
    return q;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void arena_free(struct arena *a)
{
    if (!a)
        return;
    struct arena_chunk *c = a->head;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
}
