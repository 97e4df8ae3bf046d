/* SPDX-License-Identifier: MIT */
/* Fuzz target: record content. The first byte picks a served record type (low 4 bits) and a zone
 * origin (bits 4-5); the rest is the content string. Whatever rdata_normalize() accepts, its
 * output must be accepted again and come out unchanged: the output is meant to be pdns's own
 * representation, so normalising it once more must be a no-op. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/rdata.h"
#include "common/errbuf.h"
#include "common/sbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int types[] = {
    RR_A,   RR_AAAA, RR_NS,    RR_CNAME, RR_PTR,  RR_SOA, RR_MX,    RR_TXT,
    RR_SRV, RR_CAA,  RR_NAPTR, RR_SSHFP, RR_TLSA, RR_DS,  RR_HTTPS, RR_SVCB,
};

/* Zone origins, picked by bits 4-5 of the first byte: example.com. (the seed files' '0'..'?'),
 * the root, an escaped label, and a 248-byte name that leaves room for one short label. */
static const uint8_t origin_example[] = "\x07"
                                        "example"
                                        "\x03"
                                        "com";
static const uint8_t origin_escaped[] = "\x03"
                                        "a.b"
                                        "\x04"
                                        "x\\ \""
                                        "\x03"
                                        "com";
static uint8_t origin_long[248];

/* The root: the second pass reads names that are already absolute (see below). */
static const uint8_t root[] = "";

/* True when some whitespace-separated token of s is exactly "@". */
static bool has_at_token(const char *s)
{
    for (const char *p = s; (p = strchr(p, '@')) != NULL; p++) {
        bool start = p == s || p[-1] == ' ';
        bool end = p[1] == '\0' || p[1] == ' ';
        if (start && end)
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int type = types[data[0] % (sizeof(types) / sizeof(types[0]))];
    if (!origin_long[0]) {
        /* four 60-byte labels and "zz": 4 * 61 + 3 + 1 = 248 wire bytes */
        size_t o = 0;
        for (int l = 0; l < 4; l++) {
            origin_long[o++] = 60;
            memset(origin_long + o, 'a' + l, 60);
            o += 60;
        }
        origin_long[o++] = 2;
        origin_long[o++] = 'z';
        origin_long[o++] = 'z';
        origin_long[o] = 0;
    }
    const uint8_t *origins[4] = {root, origin_escaped, origin_long, origin_example};
    const uint8_t *origin = origins[data[0] >> 4 & 3];
    /* Content is a C string (it comes from json-c); a NUL ends it early. */
    char *content = malloc(size);
    if (!content)
        abort();
    memcpy(content, data + 1, size - 1);
    content[size - 1] = '\0';

    struct sbuf out = SBUF_INIT, again = SBUF_INIT;
    struct errbuf err;
    err.msg[0] = '\0';
    int r = rdata_normalize(type, content, origin, &out, &err);
    if (r != 0 && r != -EINVAL)
        abort();
    if (r < 0 && !err.msg[0]) {
        fprintf(stderr, "fuzz_rdata: %s '%s' failed without a reason\n", rrtype_name(type),
                content);
        abort();
    }
    if (r == 0 && strlen(out.p ? out.p : "") != out.len) {
        fprintf(stderr, "fuzz_rdata: %s output holds a NUL byte\n", rrtype_name(type));
        abort();
    }
    /* Names in the output are absolute but printed without their trailing dot (SOA aside), as
     * pdns prints them, so the second pass reads them relative to the root rather than to the
     * origin. By design that cannot round-trip a name whose only label is "@": it prints as
     * "@", which always means the origin. Such output is skipped. */
    if (r == 0 && !has_at_token(sbuf_str(&out))) {
        int r2 = rdata_normalize(type, sbuf_str(&out), root, &again, &err);
        if (r2 != 0 || strcmp(sbuf_str(&out), sbuf_str(&again)) != 0) {
            fprintf(stderr,
                    "fuzz_rdata: %s not idempotent\n  input:  '%s'\n  output: '%s'\n"
                    "  again:  '%s' (%s)\n",
                    rrtype_name(type), content, sbuf_str(&out), r2 ? "" : sbuf_str(&again),
                    r2 ? err.msg : "no error");
            abort();
        }
    }
    sbuf_free(&out);
    sbuf_free(&again);
    free(content);
    return 0;
}
