/* SPDX-License-Identifier: MIT */
/* Line framing with a bounded buffer (see protocol.h). An over-long line is reported once and
 * then skipped up to its newline without being stored, so a 10 MB line costs no 10 MB buffer. */
#include "backend/protocol.h"

#include <string.h>

void proto_init(struct proto_lines *pl, size_t max_line)
{
    memset(pl, 0, sizeof(*pl));
    pl->max_line = max_line;
}

void proto_free(struct proto_lines *pl)
{
    if (!pl)
        return;
    sbuf_free(&pl->buf);
    pl->start = pl->scan = 0;
}

static void compact(struct proto_lines *pl)
{
    if (pl->start == 0)
        return;
    size_t rest = pl->buf.len - pl->start;
    if (rest)
        memmove(pl->buf.p, pl->buf.p + pl->start, rest);
    sbuf_truncate(&pl->buf, rest);
    pl->start = 0;
}

char *proto_reserve(struct proto_lines *pl, size_t want, size_t *room)
{
    /* Move the unread tail to the front once the consumed head dominates the buffer. */
    if (pl->start && (pl->start == pl->buf.len || pl->start > pl->buf.cap / 2))
        compact(pl);
    sbuf_reserve(&pl->buf, want);
    *room = pl->buf.cap - pl->buf.len - 1;
    return pl->buf.p + pl->buf.len;
}

void proto_commit(struct proto_lines *pl, size_t n)
{
    pl->buf.len += n;
    pl->buf.p[pl->buf.len] = '\0';
}

void proto_feed(struct proto_lines *pl, const void *data, size_t n)
{
    size_t room;
    char *p = proto_reserve(pl, n, &room);
    memcpy(p, data, n);
    proto_commit(pl, n);
}

/* A buffer grown for a long request goes back once that request is consumed: otherwise every
 * connection that ever sent a 10 MB request would keep 10 MB while it idles. */
static enum proto_result need_more(struct proto_lines *pl)
{
    if (pl->start == pl->buf.len && pl->buf.cap > PROTO_KEEP_BYTES) {
        sbuf_free(&pl->buf);
        pl->start = pl->scan = 0;
    }
    return PROTO_NEED_MORE;
}

enum proto_result proto_next(struct proto_lines *pl, const char **line, size_t *len)
{
    for (;;) {
        char *base = pl->buf.p + pl->start;
        size_t avail = pl->buf.len - pl->start;
        char *nl = avail > pl->scan ? memchr(base + pl->scan, '\n', avail - pl->scan) : NULL;
        if (!nl) {
            if (pl->discarding) {
                pl->start = pl->buf.len; /* drop what we have of it */
                pl->scan = 0;
                return need_more(pl);
            }
            if (avail > pl->max_line) {
                pl->discarding = true;
                pl->start = pl->buf.len;
                pl->scan = 0;
                return PROTO_TOO_LONG;
            }
            pl->scan = avail;
            return need_more(pl);
        }
        size_t n = (size_t)(nl - base);
        pl->start += n + 1;
        pl->scan = 0;
        if (pl->discarding) {
            pl->discarding = false;
            continue;
        }
        if (n > pl->max_line)
            return PROTO_TOO_LONG;
        *line = base;
        *len = n;
        return PROTO_LINE;
    }
}

enum proto_result proto_finish(struct proto_lines *pl, const char **line, size_t *len)
{
    size_t avail = pl->buf.len - pl->start;
    if (pl->discarding || avail == 0)
        return PROTO_NEED_MORE;
    *line = pl->buf.p + pl->start;
    *len = avail;
    pl->start = pl->buf.len;
    pl->scan = 0;
    if (avail > pl->max_line)
        return PROTO_TOO_LONG;
    return PROTO_LINE;
}

size_t proto_pending(const struct proto_lines *pl)
{
    return pl->buf.len - pl->start;
}
