/* SPDX-License-Identifier: MIT */
/* A caller-owned buffer for one human-readable error message. Functions that can fail return 0
 * or -errno and describe the failure here; the caller decides where the text goes (log, stderr,
 * or the "log" array of a pdns reply). */
#pragma once

#include "common/compiler.h"

struct errbuf {
    char msg[512];
};

/* Formats the message into e (if e is not NULL) and returns code, which should be a negative
 * errno value, so that callers can write `return errbuf_set(err, -EINVAL, "...")`. */
int errbuf_set(struct errbuf *e, int code, const char *fmt, ...) ATTR_PRINTF(3, 4);
