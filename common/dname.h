/* SPDX-License-Identifier: MIT */
/* Domain names: presentation text (with pdns's \DDD and \X escapes) <-> wire form, the
 * canonical text pdns prints, and case-insensitive comparison. Pure; any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/errbuf.h"

#define DNAME_WIRE_MAX  255
#define DNAME_LABEL_MAX 63
/* Longest canonical text: every byte escaped as \DDD, plus dots. */
#define DNAME_TEXT_MAX (DNAME_WIRE_MAX * 4 + 2)

/* Parses presentation text (len bytes, no NUL needed) into wire form in wire[DNAME_WIRE_MAX].
 * A name that does not end in an unescaped '.' is relative: origin (wire form) is appended, or,
 * when origin is NULL, it is an error. "@" alone stands for origin. Case is kept.
 * Returns the wire length (>= 1) or -EINVAL with the reason in err. */
int dname_from_text(
    const char *in, size_t len, const uint8_t *origin, uint8_t *wire, struct errbuf *err);

/* Writes the name as pdns prints it into out[DNAME_TEXT_MAX]: labels joined by '.', a trailing
 * dot unless no_dot (the root is always "."), '.' and '\' escaped with a backslash, bytes outside
 * 0x21..0x7e as \DDD. Returns the text length. */
size_t dname_to_text(const uint8_t *wire, bool no_dot, char *out);

/* Length of a valid wire name, including the final zero byte. */
size_t dname_wire_len(const uint8_t *wire);
/* Lowercases ASCII letters in place. */
void dname_lower(uint8_t *wire);
int dname_label_count(const uint8_t *wire);
/* True when name equals parent or lies below it (case-insensitive). */
bool dname_is_below(const uint8_t *name, const uint8_t *parent);
/* Case-insensitive equality. */
bool dname_equal(const uint8_t *a, const uint8_t *b);
/* The name without its first label (the root stays the root). */
static inline const uint8_t *dname_parent(const uint8_t *wire)
{
    return wire[0] ? wire + 1 + wire[0] : wire;
}
