/* SPDX-License-Identifier: MIT */
/* One-message error buffer (see errbuf.h). */
#include "common/errbuf.h"

#include <stdarg.h>
#include <stdio.h>

int errbuf_set(struct errbuf *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}
