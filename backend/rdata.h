/* SPDX-License-Identifier: MIT */
/* Record types we serve and their content: validation of the presentation text from the store
 * and normalisation into the text PowerDNS itself prints for that record (its "zone
 * representation"), so that `pdnsutil check-zone` finds nothing to warn about. Pure; any thread. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/errbuf.h"
#include "common/sbuf.h"

enum rr_type {
    RR_A = 1,
    RR_NS = 2,
    RR_CNAME = 5,
    RR_SOA = 6,
    RR_PTR = 12,
    RR_MX = 15,
    RR_TXT = 16,
    RR_AAAA = 28,
    RR_SRV = 33,
    RR_NAPTR = 35,
    RR_DS = 43,
    RR_SSHFP = 44,
    RR_TLSA = 52,
    RR_SVCB = 64,
    RR_HTTPS = 65,
    RR_ANY = 255,
    RR_CAA = 257,
};

/* Type code for a mnemonic (case-insensitive, len bytes), or 0 when it is not a type we serve.
 * "ANY" gives RR_ANY, which is a query type only. */
int rrtype_from_name(const char *s, size_t len);
/* Upper-case mnemonic of a served type (or "ANY"), or NULL. */
const char *rrtype_name(int type);
/* Comma-separated list of the served types, for error messages. */
const char *rrtype_list(void);

/* Validates `content` as record data of `type` and appends PowerDNS's zone representation of it
 * to `out`. Names inside the content that do not end in '.' are relative to `origin` (wire
 * form; "@" is the origin itself). Names are written absolute WITHOUT the trailing dot, except in
 * SOA records, which keep it (that is what pdns prints and compares against).
 * Returns 0, or -EINVAL with a reason in err that quotes the offending value, written to follow a
 * JSON path and a colon, e.g. "'192.0.2.300' is not an IPv4 address". On failure `out` may hold
 * a partial result; the caller truncates it. */
int rdata_normalize(
    int type, const char *content, const uint8_t *origin, struct sbuf *out, struct errbuf *err);

/* Content as pdns sends it in edits (names absolute, usually without the trailing dot), in the
 * form the store file keeps: normalised like rdata_normalize(), every name with its trailing
 * dot, so the store reads it back unchanged whatever the zone. Returns 0 or -EINVAL. */
int rdata_to_store(int type, const char *content, struct sbuf *out, struct errbuf *err);

/* From a normalised SOA content, the serial and the minimum (negative TTL) fields.
 * Returns 0 or -EINVAL. */
int rdata_soa_numbers(const char *soa, uint32_t *serial, uint32_t *minimum);
