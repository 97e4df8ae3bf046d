/* SPDX-License-Identifier: MIT */
/* The store file's canonical layout: how a store document is written back after an edit. Keys
 * keep their order; an object of scalars in a list (a record, a pool member) is always one line;
 * any other object or array of scalars or such objects is one line when it fits in 100 columns;
 * everything else is one member per line, indented by two spaces. A record therefore is one line
 * and an owner name's records one line or one line each, so a diff of two commits shows only the
 * records that changed. Pure. */
#pragma once

#include <json-c/json.h>

#include "common/sbuf.h"

#define STOREFMT_WIDTH 100

/* Appends doc in the canonical layout, ending in a newline. */
void storefmt_render(json_object *doc, struct sbuf *out);
