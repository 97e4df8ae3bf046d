/* SPDX-License-Identifier: MIT */
/* Fuzz target: domain names. Whatever dname_from_text() accepts must print with dname_to_text()
 * into text that parses back to the same wire form, with and without the trailing dot. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dname.h"
#include "common/errbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* example.com. */
static const uint8_t origin_example[] = "\x07"
                                        "example"
                                        "\x03"
                                        "com";
/* Four 61-byte labels, 249 wire bytes: room for 6 more (one label of up to 5 bytes). */
static uint8_t origin_long[249];

static void dump(const char *what, const uint8_t *wire, int len)
{
    fprintf(stderr, "  %s:", what);
    for (int i = 0; i < len; i++)
        fprintf(stderr, " %02x", wire[i]);
    fputc('\n', stderr);
}

static void check_wire(const uint8_t *wire, int len)
{
    if (len < 1 || len > DNAME_WIRE_MAX || (size_t)len != dname_wire_len(wire))
        abort();
    int labels = 0;
    for (int i = 0; wire[i]; i += wire[i] + 1) {
        if (wire[i] > DNAME_LABEL_MAX)
            abort();
        labels++;
    }
    if (labels != dname_label_count(wire))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!origin_long[0]) {
        size_t o = 0;
        for (int l = 0; l < 4; l++) {
            origin_long[o++] = 61;
            memset(origin_long + o, 'a' + l, 61);
            o += 61;
        }
        origin_long[o] = 0;
    }
    /* Odd-sized inputs are relative to the long origin, to reach the 255-byte limit. */
    const uint8_t *origin = size % 2 ? origin_long : origin_example;
    const char *in = (const char *)data;
    size_t len = size;
    uint8_t wire[DNAME_WIRE_MAX], wire2[DNAME_WIRE_MAX];
    char text[DNAME_TEXT_MAX];
    struct errbuf err;

    /* Without an origin only absolute names parse, and then to what they give with one. */
    err.msg[0] = '\0';
    int n = dname_from_text(in, len, NULL, wire2, &err);
    if (n < 0 && (n != -EINVAL || !err.msg[0]))
        abort();
    int abs_len = n;
    err.msg[0] = '\0';
    n = dname_from_text(in, len, origin, wire, &err);
    if (n < 0) {
        if (n != -EINVAL || !err.msg[0] || abs_len > 0)
            abort();
        return 0;
    }
    if (abs_len > 0 && (abs_len != n || memcmp(wire, wire2, (size_t)n) != 0))
        abort();
    check_wire(wire, n);

    size_t tl = dname_to_text(wire, false, text);
    if (tl >= DNAME_TEXT_MAX || strlen(text) != tl || text[tl - 1] != '.')
        abort();
    int n2 = dname_from_text(text, tl, NULL, wire2, &err);
    if (n2 != n || memcmp(wire, wire2, (size_t)n) != 0) {
        fprintf(stderr, "fuzz_dname: '%.*s' -> '%s' does not round-trip (%s)\n", (int)len, in, text,
                n2 < 0 ? err.msg : "different wire");
        dump("first", wire, n);
        if (n2 > 0)
            dump("again", wire2, n2);
        abort();
    }

    /* Without the dot the text is relative; read against the root it is the same name. */
    tl = dname_to_text(wire, true, text);
    if (tl >= DNAME_TEXT_MAX || strlen(text) != tl)
        abort();
    if (strcmp(text, "@") != 0) { /* a lone "@" always means the origin, by design */
        n2 = dname_from_text(text, tl, (const uint8_t *)"", wire2, &err);
        if (n2 != n || memcmp(wire, wire2, (size_t)n) != 0) {
            fprintf(stderr, "fuzz_dname: '%.*s' -> '%s' (no dot) does not round-trip (%s)\n",
                    (int)len, in, text, n2 < 0 ? err.msg : "different wire");
            abort();
        }
    }

    /* Lowercasing is idempotent and keeps the name equal. */
    memcpy(wire2, wire, (size_t)n);
    dname_lower(wire2);
    if (!dname_equal(wire, wire2) || !dname_is_below(wire, wire2))
        abort();
    if (!dname_is_below(wire, dname_parent(wire)))
        abort();
    return 0;
}
