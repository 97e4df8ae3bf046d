/* SPDX-License-Identifier: MIT */
/* Duplicate-key detection for JSON text. json-c (like most parsers) silently keeps the last of
 * two equal keys in one object; in a store file that would drop a whole list of records
 * without a word, so the loader scans for duplicates itself. Pure; any thread. */
#pragma once

#include <stddef.h>

#include "common/errlist.h"

/* Scans syntactically valid JSON text and adds one error per key that repeats an earlier key of
 * the same object: "line L, column C: duplicate key \"www\" (the earlier one at line L2 would be
 * ignored)". Keys are compared as written (escapes are not decoded). Returns the number of
 * duplicates found. */
size_t json_report_duplicate_keys(const char *json, size_t len, struct errlist *errs);
