/* SPDX-License-Identifier: MIT */
/* Shared fixtures for the unit tests: store JSON texts and builders that fail the running cmocka
 * test (printing every store error) instead of returning errors. Test code only. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "backend/store.h"
#include "common/dname.h"
#include "common/errlist.h"

/* The example store: one zone, example.com., with SOA, two NS and MX at the apex, A records for
 * ns1 and mail, A+AAAA at www (ttl 60), a wildcard *.dyn (ttl 30) and a TXT record at a.b.c, whose
 * ancestors b.c and c are empty non-terminals (as is dyn). 11 records, serial 2024010101. */
extern const char helpers_example_json[];
#define HELPERS_EXAMPLE_RECORDS 11u
#define HELPERS_EXAMPLE_SERIAL  2024010101u
/* Zone ids (derived from the zone name, so the same in every fixture). */
#define HELPERS_EXAMPLE_COM_ID     780533144u
#define HELPERS_SUB_EXAMPLE_COM_ID 64677748u

/* Two nested zones: example.com. (serial 1) delegates sub to ns.sub with glue, and
 * sub.example.com. (serial 2) is served too, with metadata ALSO-NOTIFY and SOA-EDIT-API. The
 * sub zone is listed first in the file. */
extern const char helpers_nested_json[];

/* The apex records most validation tests need, as members of a "records" object. */
#define HELPERS_APEX                                                                         \
    "\"@\": [{\"type\": \"SOA\", \"content\": \"ns1 hostmaster 1 7200 3600 1209600 300\"}, " \
    "{\"type\": \"NS\", \"content\": \"ns1\"}]"
/* A whole store with one zone example.com. holding HELPERS_APEX and `records`: "" or more members
 * of the records object, each preceded by a comma (", \"www\": [...]"). */
#define HELPERS_ZONE(records) \
    "{\"zones\": {\"example.com.\": {\"records\": {" HELPERS_APEX records "}}}}"

/* Builds a store from NUL-terminated JSON and fails the test, printing every error, unless
 * store_build succeeds. Owned by the caller, free with store_free(). */
store_t *helpers_build(const char *json);
/* Builds a store that must be rejected: asserts -EINVAL and that no store was returned, and
 * leaves the messages in errs (initialised here; free with errlist_free()). */
void helpers_build_fails(const char *json, struct errlist *errs);
/* Fails the test, printing every message, unless some message equals msg exactly. */
void helpers_assert_error(const struct errlist *errs, const char *msg);
/* Fails the test, printing every message, unless some message contains part. */
void helpers_assert_error_part(const struct errlist *errs, const char *part);
/* The single error of a store that must be rejected with exactly one error. Returns a copy in
 * buf[cap] so the errlist can be freed. */
const char *helpers_only_error(const char *json, char *buf, size_t cap);

/* Absolute text name -> lowercase wire form in buf[DNAME_WIRE_MAX]; fails the test on a bad
 * name. Returns buf. */
const uint8_t *helpers_wire(const char *text, uint8_t *buf);
/* store_find() by text name (lowercased first). */
const struct store_node *helpers_find(const store_t *s, const char *text, int64_t zone_id);
/* The zone with this apex (text), or a failed test. */
const struct store_zone *helpers_zone(const store_t *s, const char *text);

/* A fresh directory /tmp/PREFIX-XXXXXX (the test fails if it cannot be made); free it with
 * helpers_rmdir_all(), which removes it with everything in it. */
char *helpers_tmpdir(const char *prefix);
void helpers_rmdir_all(char *dir);
