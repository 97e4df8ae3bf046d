/* SPDX-License-Identifier: MIT */
/* Bump allocator: everything of one store generation lives in one arena and is freed with one
 * call, so swapping a generation cannot leak. Not thread-safe; built by one thread, then only
 * read. */
#pragma once

#include <stddef.h>

struct arena_chunk;

struct arena {
    struct arena_chunk *head;
    size_t used; /* bytes handed out, for statistics */
};

#define ARENA_INIT \
    {              \
        NULL, 0    \
    }

/* Returns 8-byte aligned, uninitialised memory valid until arena_free(). */
void *arena_alloc(struct arena *a, size_t n);
void *arena_zalloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
void *arena_memdup(struct arena *a, const void *p, size_t n);
void arena_free(struct arena *a);
