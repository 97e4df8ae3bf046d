/* SPDX-License-Identifier: MIT */
/* Fuzz target: status code expectations (health/expect.c), as a check's "expect" in the store
 * file brings them. The input is a comma-separated list. Each item must be accepted exactly when
 * a plain reading of the documented grammar accepts it ("NNN" from 100 to 599, "Nxx" or "NXX"
 * for a class 1 to 5, "NNN-NNN" within 100 to 599 with start <= end), with the same range; a
 * refusal must come with a message that quotes the item and leave the range alone. Then
 * expect_match() over the accepted ranges must agree with a loop over them for statuses taken
 * from the input, every range's edges and the extremes of a long. There is no printer of
 * ranges to round-trip through: the ranges only ever go to expect_match(). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health/expect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ITEMS 16

static void fail(const char *why, const char *item)
{
    fprintf(stderr, "fuzz_expect: %s: '%s'\n", why, item);
    abort();
}

static int digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : -1;
}

/* Three digits at p (which has at least three bytes before its NUL) as a number, or -1. */
static int number3(const char *p)
{
    int a = digit(p[0]), b = digit(p[1]), c = digit(p[2]);
    return a < 0 || b < 0 || c < 0 ? -1 : a * 100 + b * 10 + c;
}

/* The grammar of expect.h read the obvious way, independently of expect.c's code. */
static bool reference(const char *s, struct expect_range *r)
{
    size_t len = strlen(s);
    int lo = -1, hi = -1;
    if (len == 3 && digit(s[0]) >= 1 && digit(s[0]) <= 5 &&
        ((s[1] == 'x' && s[2] == 'x') || (s[1] == 'X' && s[2] == 'X')))
    {
        lo = digit(s[0]) * 100;
        hi = lo + 99;
    } else if (len == 3) {
        lo = hi = number3(s);
    } else if (len == 7 && s[3] == '-') {
        lo = number3(s);
        hi = number3(s + 4);
    }
    if (lo < 100 || lo > 599 || hi < 100 || hi > 599 || lo > hi)
        return false;
    r->lo = (uint16_t)lo;
    r->hi = (uint16_t)hi;
    return true;
}

static bool naive_match(const struct expect_range *r, size_t n, long status)
{
    if (n == 0)
        return status == 200;
    bool in = false;
    for (size_t i = 0; i < n; i++)
        in = in || (status >= (long)r[i].lo && status <= (long)r[i].hi);
    return in;
}

static void check_match(const struct expect_range *r, size_t n, long status)
{
    if (expect_match(r, n, status) != naive_match(r, n, status)) {
        char what[64];
        snprintf(what, sizeof(what), "status %ld with %zu ranges", status, n);
        fail("expect_match() disagrees with the ranges", what);
    }
}

/* Parses one item (a C string) and checks it against the reference; adds accepted ranges. */
static void check_item(const char *item, struct expect_range *ranges, size_t *n)
{
    struct errbuf err;
    struct expect_range got = {1, 2}, want = {0, 0};
    err.msg[0] = '\0';
    int r = expect_parse(item, &got, &err);
    bool ok = reference(item, &want);

    if (r != 0 && r != -EINVAL)
        fail("returned neither 0 nor -EINVAL", item);
    if ((r == 0) != ok)
        fail(ok ? "refused what the grammar allows" : "accepted what the grammar refuses", item);
    if ((r == 0) == (err.msg[0] != '\0'))
        fail(r ? "failed without a message" : "succeeded with a message", item);
    if (r < 0) {
        /* The message quotes the item, so the operator sees which list entry is wrong. */
        if (strlen(item) < 200 && !strstr(err.msg, item))
            fail("the message does not quote the text", item);
        if (got.lo != 1 || got.hi != 2)
            fail("a refused expectation changed the range", item);
        return;
    }
    if (got.lo != want.lo || got.hi != want.hi || got.lo > got.hi || got.lo < 100 || got.hi > 599)
        fail("accepted with the wrong range", item);
    ranges[(*n)++] = got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct expect_range ranges[MAX_ITEMS];
    size_t n = 0, items = 0;
    struct errbuf err;

    /* The store passes whatever string json-c decoded, NUL bytes ending it early. */
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    for (char *p = text, *comma; p && items < MAX_ITEMS; p = comma ? comma + 1 : NULL, items++) {
        comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        check_item(p, ranges, &n);
    }

    err.msg[0] = '\0';
    if (expect_parse(NULL, &ranges[0], &err) != -EINVAL || !err.msg[0])
        fail("a missing expectation is not refused with a message", "(null)");

    /* Statuses from the input's first and last two bytes, every range's edges, and extremes;
     * 200 + 65536 would match 200 if a status were ever cut to 16 bits like the ranges. */
    check_match(ranges, n, size ? (long)(data[0] << 8 | data[size - 1]) % 1000 : 200);
    check_match(ranges, n, size > 1 ? (long)(data[1] << 8 | data[size - 2]) % 700 - 50 : 0);
    static const long fixed[] = {LONG_MIN, -200, -1,  0,           99,      100,
                                 200,      599,  600, 65536 + 200, LONG_MAX};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        check_match(ranges, n, fixed[i]);
    for (size_t i = 0; i < n; i++) {
        check_match(ranges, n, ranges[i].lo - 1);
        check_match(ranges, n, ranges[i].lo);
        check_match(ranges, n, ranges[i].hi);
        check_match(ranges, n, ranges[i].hi + 1);
        /* One range at a time too: a later range must not hide an earlier one's miss. */
        check_match(&ranges[i], 1, ranges[i].lo - 1);
        check_match(&ranges[i], 1, ranges[i].hi + 1);
    }
    free(text);
    return 0;
}
