/* SPDX-License-Identifier: MIT */
/* A list of error messages: validation collects every error, then fails once. */
#pragma once

#include <stddef.h>

#include "common/compiler.h"

#define ERRLIST_MAX 1000 /* past this, errors are only counted */

struct errlist {
    char **msgs;
    size_t n;
    size_t cap;
    size_t dropped; /* errors not kept because ERRLIST_MAX was reached */
};

#define ERRLIST_INIT  \
    {                 \
        NULL, 0, 0, 0 \
    }

void errlist_add(struct errlist *l, const char *fmt, ...) ATTR_PRINTF(2, 3);
/* Total number of errors seen, kept or not. */
size_t errlist_count(const struct errlist *l);
void errlist_free(struct errlist *l);
