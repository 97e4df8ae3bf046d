/* SPDX-License-Identifier: MIT */
/* Allocation wrappers that never return NULL: a DNS sidecar has no useful OOM recovery, so
 * running out of memory logs one line and aborts. Callable from any thread. */
#pragma once

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Aborts with a message; for json-c/libcurl constructors that return NULL. */
void xalloc_die(const char *what) __attribute__((noreturn));
