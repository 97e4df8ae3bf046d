/* SPDX-License-Identifier: MIT */
/* Reading a big JSON text without building a tree of it. jsonscan_check() validates the whole
 * text in one pass, at least as strictly as json-c's strict mode (so json-c accepts whatever it
 * accepts); a cursor then walks the checked text member by member and element by element and
 * hands out where keys and values are, for the caller to decode (jsonscan_decode) or to give to
 * a real parser: the store loader reads a file of a million records that way, with a parser's
 * tree of one record at a time at most. Pure; any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sbuf.h"

/* Deepest nesting of objects and arrays that jsonscan_check() accepts: half of what the store
 * loader lets json-c nest, so that no slice of a checked text can hit json-c's limit. */
#define JSONSCAN_MAX_DEPTH 32

/* Where the outer objects and arrays of a checked text end, so that a cursor can step over a
 * big one (a zone's records) without reading it again. */
struct jsonscan_span {
    size_t start; /* of the '{' or '[' */
    size_t end;   /* after the closing bracket */
};

struct jsonscan_index {
    size_t depth; /* set by the caller: containers this deep at most are recorded (1: the top) */
    struct jsonscan_span *spans; /* by start */
    size_t n, cap;
};

/* Returns 0 when json[0..len) is a single JSON value with nothing but whitespace (space, tab,
 * LF, CR) around it, following RFC 8259 strictly, with none of what JSON parsers read each
 * their own way: at most JSONSCAN_MAX_DEPTH deep, no key twice in one object (compared decoded:
 * "a" and "\u0061" are the same), no key with a \u escape of a UTF-16 surrogate, no control
 * character or \u0000 escape in a string, no byte sequence in a string that json-c's UTF-8 check
 * would refuse, and no number or literal right at the end (json-c wants a byte after one).
 * Otherwise returns -EINVAL and, when bad_off is not NULL, the offset where the text stopped
 * being acceptable. Refusing is always safe: the caller then lets json-c find (and describe)
 * the problem, if there is one. With index (may be NULL), the spans of the containers at most
 * index->depth deep are recorded there (free with jsonscan_index_free(), whatever the result). */
int jsonscan_check(const char *json, size_t len, size_t *bad_off, struct jsonscan_index *index);
void jsonscan_index_free(struct jsonscan_index *index);

/* A cursor over text that jsonscan_check() accepted. It never reads outside json[0..len); when
 * the text is not what it expects it sets `bad` and stops (reporting no more members). */
struct jscan {
    const char *json;
    size_t len;
    const struct jsonscan_index *index; /* may be NULL */
    size_t pos;                         /* the next unread byte */
    bool bad;
};

/* A key or string value: the bytes between the quotes, still escaped. */
struct jscan_str {
    size_t off;
    size_t len;
};

/* index: what jsonscan_check() recorded of the text, or NULL. */
void jscan_init(struct jscan *c, const char *json, size_t len, const struct jsonscan_index *index);
/* Skips whitespace and returns the next byte ('{', '[', '"', ...), or 0 at the end. */
char jscan_peek(struct jscan *c);
/* Consumes the '{' or '[' (open) that comes next; false (consuming nothing) if something else
 * does. */
bool jscan_enter(struct jscan *c, char open);
/* Moves to the next member of the object (key not NULL: its key in *key) or the next element of
 * the array (key NULL) just entered, leaving the cursor at its value, which the caller must read
 * or skip. Returns false past the last one, having consumed the closing bracket. */
bool jscan_next(struct jscan *c, struct jscan_str *key);
/* Skips the value that comes next, in one step if the index has it; its first byte is at *start
 * (may be NULL) afterwards. */
void jscan_skip(struct jscan *c, size_t *start);
/* Reads the string value that comes next into *s; false (consuming nothing) for another value. */
bool jscan_string(struct jscan *c, struct jscan_str *s);
/* Reads the string value that comes next into out (replacing what it held), decoded as by
 * jsonscan_decode(); false, consuming nothing (out then holds nothing useful), for another value
 * or a string that function refuses. One pass, where jscan_string() and jsonscan_decode() make
 * two. */
bool jscan_decoded(struct jscan *c, struct sbuf *out);
/* Reads the number that comes next when it is written as plain digits (no sign, fraction or
 * exponent) with a value of at most max; false (consuming nothing) otherwise. */
bool jscan_plain_uint(struct jscan *c, uint64_t max, uint64_t *out);

/* Appends the decoded bytes of a string (raw: the bytes between the quotes of a string that
 * jsonscan_check() accepted) to out, NUL-terminated. Returns -EINVAL, leaving out as it was,
 * for \u0000 (it would end the C string) and for a \u escape of a UTF-16 surrogate: JSON
 * libraries differ in what they make of those (json-c puts U+FFFD for a lone one), so the
 * caller decodes such strings with its own. */
int jsonscan_decode(const char *raw, size_t n, struct sbuf *out);
