/* SPDX-License-Identifier: MIT */
/* Growable byte string, always NUL-terminated. Used to build replies, JSON paths and store
 * fragments. Not thread-safe; each owner keeps its own. */
#pragma once

#include <stddef.h>

#include "common/compiler.h"

struct sbuf {
    char *p;
    size_t len;
    size_t cap;
};

#define SBUF_INIT  \
    {              \
        NULL, 0, 0 \
    }

void sbuf_reserve(struct sbuf *b, size_t extra);
void sbuf_put(struct sbuf *b, const void *data, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_putc(struct sbuf *b, char c);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) ATTR_PRINTF(2, 3);
/* Appends s (n bytes) as a quoted JSON string, escaping what JSON requires. */
void sbuf_json_str(struct sbuf *b, const char *s, size_t n);
/* Appends an unsigned decimal number. */
void sbuf_u64(struct sbuf *b, unsigned long long v);
void sbuf_truncate(struct sbuf *b, size_t len);
static inline void sbuf_reset(struct sbuf *b)
{
    sbuf_truncate(b, 0);
}
/* Returns the string (or "" when empty); valid until the next change. */
const char *sbuf_str(const struct sbuf *b);
/* Hands the heap string to the caller (free with free()) and resets b. */
char *sbuf_take(struct sbuf *b);
void sbuf_free(struct sbuf *b);
