/* SPDX-License-Identifier: MIT */
/* Collected error messages (see errlist.h). */
#include "common/errlist.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/sbuf.h"
#include "common/xalloc.h"

void errlist_add(struct errlist *l, const char *fmt, ...)
{
    if (l->n >= ERRLIST_MAX) {
        l->dropped++;
        return;
    }
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (r < 0)
        xalloc_die("vasprintf");
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->msgs = xrealloc(l->msgs, l->cap * sizeof(*l->msgs));
    }
    l->msgs[l->n++] = msg;
}

size_t errlist_count(const struct errlist *l)
{
    return l->n + l->dropped;
}

void errlist_free(struct errlist *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->msgs[i]);
    free(l->msgs);
    l->msgs = NULL;
    l->n = l->cap = l->dropped = 0;
}
