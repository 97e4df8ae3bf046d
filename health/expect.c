/* SPDX-License-Identifier: MIT */
/* Expected HTTP status codes (see expect.h). The grammar is small and fixed, so it is matched by
 * shape rather than with strtol: no signs, spaces or extra digits slip through. */
#include "health/expect.h"

#include <errno.h>
#include <string.h>

#define STATUS_MIN 100
#define STATUS_MAX 599

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Three digits at p; returns their value or -1. */
static int three_digits(const char *p)
{
    if (!is_digit(p[0]) || !is_digit(p[1]) || !is_digit(p[2]))
        return -1;
    return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

static bool is_status(int v)
{
    return v >= STATUS_MIN && v <= STATUS_MAX;
}

int expect_parse(const char *text, struct expect_range *ret, struct errbuf *err)
{
    if (!text)
        return errbuf_set(err, -EINVAL, "missing status code expectation");

    size_t len = strlen(text);
    int lo, hi;

    if (len == 3 && is_digit(text[0]) &&
        ((text[1] == 'x' && text[2] == 'x') || (text[1] == 'X' && text[2] == 'X')))
    {
        int cls = text[0] - '0';
        if (cls < STATUS_MIN / 100 || cls > STATUS_MAX / 100)
            return errbuf_set(err, -EINVAL, "'%s' is not a status class from 1xx to 5xx", text);
        lo = cls * 100;
        hi = lo + 99;
    } else if (len == 3 && (lo = three_digits(text)) >= 0) {
        if (!is_status(lo))
            return errbuf_set(err, -EINVAL, "'%s' is not a status code from 100 to 599", text);
        hi = lo;
    } else if (len == 7 && text[3] == '-' && (lo = three_digits(text)) >= 0 &&
               (hi = three_digits(text + 4)) >= 0)
    {
        if (!is_status(lo) || !is_status(hi))
            return errbuf_set(err, -EINVAL,
                              "'%s' is not a range of status codes: both ends must be from 100 to "
                              "599",
                              text);
        if (lo > hi)
            return errbuf_set(err, -EINVAL,
                              "'%s' is not a range of status codes: the start must not be above "
                              "the end",
                              text);
    } else {
        return errbuf_set(err, -EINVAL,
                          "'%s' is not a status code, a class like '2xx' or a range like "
                          "'200-399'",
                          text);
    }

    ret->lo = (uint16_t)lo;
    ret->hi = (uint16_t)hi;
    return 0;
}

bool expect_match(const struct expect_range *r, size_t n, long status)
{
    if (n == 0)
        return status == 200;
    for (size_t i = 0; i < n; i++)
        if (status >= r[i].lo && status <= r[i].hi)
            return true;
    return false;
}
