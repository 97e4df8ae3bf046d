/* SPDX-License-Identifier: MIT */
/* Domain name parsing and printing (see dname.h). */
#include "common/dname.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

static int show_len(size_t len)
{
    return len > 80 ? 80 : (int)len;
}

int dname_from_text(
    const char *in, size_t len, const uint8_t *origin, uint8_t *wire, struct errbuf *err)
{
    size_t w = 0; /* bytes written to wire */
    size_t i = 0;

    if (len == 0)
        return errbuf_set(err, -EINVAL, "empty name");
    if (len == 1 && in[0] == '@') {
        if (!origin)
            return errbuf_set(err, -EINVAL, "'@' needs a zone origin");
        size_t ol = dname_wire_len(origin);
        memcpy(wire, origin, ol);
        return (int)ol;
    }
    if (len == 1 && in[0] == '.') {
        wire[0] = 0;
        return 1;
    }

    bool absolute = false;
    while (i < len) {
        size_t lab = w++; /* length byte position */
        size_t n = 0;
        if (in[i] == '.')
            return errbuf_set(err, -EINVAL, "'%.*s' has an empty label", show_len(len), in);
        while (i < len && in[i] != '.') {
            unsigned c = (unsigned char)in[i];
            if (c == '\\') {
                if (i + 1 >= len)
                    return errbuf_set(err, -EINVAL, "'%.*s' ends in a lone backslash",
                                      show_len(len), in);
                if (isdigit((unsigned char)in[i + 1])) {
                    if (i + 3 >= len || !isdigit((unsigned char)in[i + 2]) ||
                        !isdigit((unsigned char)in[i + 3]))
                        return errbuf_set(err, -EINVAL, "'%.*s' has a short \\DDD escape",
                                          show_len(len), in);
                    c = (unsigned)(in[i + 1] - '0') * 100 + (unsigned)(in[i + 2] - '0') * 10 +
                        (unsigned)(in[i + 3] - '0');
                    if (c > 255)
                        return errbuf_set(err, -EINVAL, "'%.*s' has an escape \\%.3s above 255",
                                          show_len(len), in, in + i + 1);
                    i += 4;
                } else {
                    c = (unsigned char)in[i + 1];
                    i += 2;
                }
            } else {
                i++;
            }
            if (n == DNAME_LABEL_MAX)
                return errbuf_set(err, -EINVAL, "'%.*s' has a label longer than 63 bytes",
                                  show_len(len), in);
            if (w >= DNAME_WIRE_MAX)
                return errbuf_set(err, -EINVAL, "'%.*s' is longer than 255 bytes", show_len(len),
                                  in);
            wire[w++] = (uint8_t)c;
            n++;
        }
        wire[lab] = (uint8_t)n;
        if (i < len) { /* at a dot */
            i++;
            if (i == len)
                absolute = true;
        }
    }

    if (absolute) {
        if (w >= DNAME_WIRE_MAX)
            return errbuf_set(err, -EINVAL, "'%.*s' is longer than 255 bytes", show_len(len), in);
        wire[w++] = 0;
        return (int)w;
    }
    if (!origin)
        return errbuf_set(err, -EINVAL, "'%.*s' is not absolute (it must end in '.')",
                          show_len(len), in);
    size_t ol = dname_wire_len(origin);
    if (w + ol > DNAME_WIRE_MAX)
        return errbuf_set(err, -EINVAL, "'%.*s' is longer than 255 bytes with its zone",
                          show_len(len), in);
    memcpy(wire + w, origin, ol);
    return (int)(w + ol);
}

size_t dname_to_text(const uint8_t *wire, bool no_dot, char *out)
{
    size_t o = 0;
    if (wire[0] == 0) {
        out[0] = '.';
        out[1] = '\0';
        return 1;
    }
    while (wire[0]) {
        size_t n = wire[0];
        for (size_t k = 1; k <= n; k++) {
            unsigned c = wire[k];
            if (c == '.' || c == '\\') {
                out[o++] = '\\';
                out[o++] = (char)c;
            } else if (c > 0x20 && c < 0x7f) {
                out[o++] = (char)c;
            } else {
                out[o++] = '\\';
                out[o++] = (char)('0' + c / 100);
                out[o++] = (char)('0' + c / 10 % 10);
                out[o++] = (char)('0' + c % 10);
            }
        }
        wire += n + 1;
        if (wire[0] || !no_dot)
            out[o++] = '.';
    }
    out[o] = '\0';
    return o;
}

size_t dname_wire_len(const uint8_t *wire)
{
    size_t n = 0;
    while (wire[n])
        n += wire[n] + 1u;
    return n + 1;
}

void dname_lower(uint8_t *wire)
{
    while (wire[0]) {
        size_t n = wire[0];
        for (size_t k = 1; k <= n; k++)
            if (wire[k] >= 'A' && wire[k] <= 'Z')
                wire[k] = (uint8_t)(wire[k] + 32);
        wire += n + 1;
    }
}

int dname_label_count(const uint8_t *wire)
{
    int n = 0;
    while (wire[0]) {
        n++;
        wire += wire[0] + 1;
    }
    return n;
}

bool dname_equal(const uint8_t *a, const uint8_t *b)
{
    size_t la = dname_wire_len(a), lb = dname_wire_len(b);
    if (la != lb)
        return false;
    for (size_t i = 0; i < la; i++) {
        uint8_t x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (uint8_t)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (uint8_t)(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

bool dname_is_below(const uint8_t *name, const uint8_t *parent)
{
    int nl = dname_label_count(name), pl = dname_label_count(parent);
    if (nl < pl)
        return false;
    for (int k = nl - pl; k > 0; k--)
        name = dname_parent(name);
    return dname_equal(name, parent);
}
