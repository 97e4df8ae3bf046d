/* SPDX-License-Identifier: MIT */
/* Line framing of the remote-backend protocol: pdns writes one JSON request per line and waits
 * for the reply. This module turns received bytes into complete lines, bounded by a maximum line
 * length; it knows nothing about JSON or sockets. Pure; one instance per connection. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/sbuf.h"

struct proto_lines {
    struct sbuf buf;
    size_t start;    /* first byte not yet returned */
    size_t scan;     /* bytes from start already searched for a newline */
    size_t max_line; /* longest line accepted, without its newline */
    bool discarding; /* skipping the rest of an over-long line */
};

/* A buffer bigger than this is freed once everything in it is consumed. */
#define PROTO_KEEP_BYTES (1024 * 1024)

enum proto_result {
    PROTO_NEED_MORE, /* no complete line buffered */
    PROTO_LINE,      /* *line, *len: one request, without "\n" (a trailing "\r" is kept) */
    PROTO_TOO_LONG,  /* a line passed max_line: answer it with an error; its bytes are skipped */
};

void proto_init(struct proto_lines *pl, size_t max_line);
void proto_free(struct proto_lines *pl);
/* Room for at least `want` more bytes: returns where to write and the room in *room. Call
 * proto_commit() with the number of bytes actually written. */
char *proto_reserve(struct proto_lines *pl, size_t want, size_t *room);
void proto_commit(struct proto_lines *pl, size_t n);
/* Copies n bytes in (for tests and callers without their own read buffer). */
void proto_feed(struct proto_lines *pl, const void *data, size_t n);
/* Returns the next complete line, valid until the next proto_next/reserve/feed. */
enum proto_result proto_next(struct proto_lines *pl, const char **line, size_t *len);
/* At EOF: returns a final unterminated line, if any (PROTO_LINE), else PROTO_NEED_MORE. */
enum proto_result proto_finish(struct proto_lines *pl, const char **line, size_t *len);
/* Bytes buffered but not yet returned. */
size_t proto_pending(const struct proto_lines *pl);
