/* SPDX-License-Identifier: MIT */
/* Record data: validation and normalisation into PowerDNS's zone representation (see rdata.h).
 * Every output format here was taken from pdns 4.7.3 itself (pdnsutil check-zone and edit-zone
 * against a remote backend serving the content), not only from the RFCs. Where the two differ we
 * print what pdns prints, and we reject input that pdns would parse into something it then
 * prints differently, since check-zone would warn about it forever. */
#include "backend/rdata.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/compiler.h"
#include "common/dname.h"

/* Offending values are quoted in messages, but a store could hold megabytes in one field. */
#define SHOW(n) ((n) > 80 ? 80 : (int)(n))

#define MAX_FIELDS     8
#define MAX_SVC_PARAMS 64

static const struct {
    int type;
    const char *name;
} rr_types[] = {
    {RR_A, "A"},       {RR_AAAA, "AAAA"}, {RR_NS, "NS"},       {RR_CNAME, "CNAME"},
    {RR_PTR, "PTR"},   {RR_SOA, "SOA"},   {RR_MX, "MX"},       {RR_TXT, "TXT"},
    {RR_SRV, "SRV"},   {RR_CAA, "CAA"},   {RR_NAPTR, "NAPTR"}, {RR_SSHFP, "SSHFP"},
    {RR_TLSA, "TLSA"}, {RR_DS, "DS"},     {RR_HTTPS, "HTTPS"}, {RR_SVCB, "SVCB"},
    {RR_ANY, "ANY"},
};

int rrtype_from_name(const char *s, size_t len)
{
    if (len == 3 && strncasecmp(s, "ANY", 3) == 0) /* what pdns's query path always asks */
        return RR_ANY;
    for (size_t i = 0; i < ARRAY_SIZE(rr_types); i++) {
        const char *n = rr_types[i].name;
        if (strlen(n) == len && strncasecmp(s, n, len) == 0)
            return rr_types[i].type;
    }
    return 0;
}

const char *rrtype_name(int type)
{
    for (size_t i = 0; i < ARRAY_SIZE(rr_types); i++)
        if (rr_types[i].type == type)
            return rr_types[i].name;
    return NULL;
}

const char *rrtype_list(void)
{
    return "A, AAAA, NS, CNAME, PTR, SOA, MX, TXT, SRV, CAA, NAPTR, SSHFP, TLSA, DS, HTTPS, SVCB";
}

/* ---- fields ---- */

struct field {
    const char *p;
    size_t n;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Finds the next whitespace-separated field at *pos. A backslash protects the next byte (names
 * may hold "\ "); with `quotes`, a double-quoted part may hold whitespace too (TXT-like strings,
 * and SvcParams such as key7="a b"). Returns 1, 0 at the end, or -EINVAL. */
static int next_field(const char **pos, bool quotes, struct field *f, struct errbuf *err)
{
    const char *s = *pos;
    while (*s && is_space(*s))
        s++;
    if (!*s) {
        *pos = s;
        return 0;
    }
    const char *start = s;
    bool inq = false;
    while (*s && (inq || !is_space(*s))) {
        if (*s == '\\' && s[1])
            s++;
        else if (*s == '"' && quotes)
            inq = !inq;
        s++;
    }
    if (inq)
        return errbuf_set(err, -EINVAL, "'%.*s' has no closing quote", SHOW((size_t)(s - start)),
                          start);
    f->p = start;
    f->n = (size_t)(s - start);
    *pos = s;
    return 1;
}

/* Splits content into fields, storing the first MAX_FIELDS; *count gets the total, so that the
 * "got N" of a field-count message is right even for junk with many fields. Bit i of `quoted`
 * marks field i as a character-string, which may be "quoted"; in the other fields (names, as
 * pdns's xfrName reads them) a quote is just a byte. */
static int
split_fields(const char *content, unsigned quoted, struct field *f, int *count, struct errbuf *err)
{
    struct field tmp;
    int n = 0, rc;
    while ((rc = next_field(&content, n < MAX_FIELDS && (quoted >> n & 1),
                            n < MAX_FIELDS ? &f[n] : &tmp, err)) > 0)
        n++;
    *count = n;
    return rc;
}

static int field_count_error(int type, int want, const char *names, int got, struct errbuf *err)
{
    return errbuf_set(err, -EINVAL, "%s needs %d field%s (%s), got %d", rrtype_name(type), want,
                      want == 1 ? "" : "s", names, got);
}

/* Plain decimal only: pdns rejects signs and unit suffixes (1H) too, and accepts leading zeros,
 * which the output drops. */
static int
parse_num(struct field f, uint32_t max, const char *what, uint32_t *out, struct errbuf *err)
{
    uint64_t v = 0;
    *out = 0;
    if (f.n == 0)
        goto bad;
    for (size_t i = 0; i < f.n; i++) {
        if (f.p[i] < '0' || f.p[i] > '9')
            goto bad;
        v = v * 10 + (uint64_t)(f.p[i] - '0');
        if (v > max)
            goto bad;
    }
    *out = (uint32_t)v;
    return 0;
bad:
    return errbuf_set(err, -EINVAL, "%s '%.*s' is not a number from 0 to %u", what, SHOW(f.n), f.p,
                      max);
}

static int
put_num(struct sbuf *out, struct field f, uint32_t max, const char *what, struct errbuf *err)
{
    uint32_t v;
    int rc = parse_num(f, max, what, &v, err);
    if (rc < 0)
        return rc;
    sbuf_u64(out, v);
    return 0;
}

/* Set for the duration of rdata_to_store(): every name gets its trailing dot. */
static _Thread_local bool all_dots;

static int
put_name(struct sbuf *out, struct field f, const uint8_t *origin, bool dot, struct errbuf *err)
{
    uint8_t wire[DNAME_WIRE_MAX];
    char text[DNAME_TEXT_MAX];
    int rc = dname_from_text(f.p, f.n, origin, wire, err);
    if (rc < 0)
        return rc;
    sbuf_put(out, text, dname_to_text(wire, !(dot || all_dots), text));
    return 0;
}

/* ---- character strings ---- */

/* Decodes presentation text (\DDD and \X escapes) into bytes appended to `bytes`. An unescaped
 * quote is an error unless `quote_ok` (the whole of an unquoted TXT, where it can only be
 * meant literally). */
static int
decode_chars(const char *p, size_t n, bool quote_ok, struct sbuf *bytes, struct errbuf *err)
{
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)p[i];
        if (c == '\\') {
            if (i + 1 >= n)
                return errbuf_set(err, -EINVAL, "'%.*s' ends in a lone backslash", SHOW(n), p);
            if (p[i + 1] >= '0' && p[i + 1] <= '9') {
                if (i + 3 >= n || p[i + 2] < '0' || p[i + 2] > '9' || p[i + 3] < '0' ||
                    p[i + 3] > '9')
                    return errbuf_set(err, -EINVAL, "'%.*s' has a short \\DDD escape", SHOW(n), p);
                c = (unsigned)(p[i + 1] - '0') * 100 + (unsigned)(p[i + 2] - '0') * 10 +
                    (unsigned)(p[i + 3] - '0');
                if (c > 255)
                    return errbuf_set(err, -EINVAL, "'%.*s' has an escape \\%.3s above 255",
                                      SHOW(n), p, p + i + 1);
                i += 3;
            } else {
                c = (unsigned char)p[++i];
            }
        } else if (c == '"' && !quote_ok) {
            return errbuf_set(err, -EINVAL, "'%.*s' has a stray quote", SHOW(n), p);
        }
        sbuf_putc(bytes, (char)c);
    }
    return 0;
}

/* One character-string field, either "quoted" or a bare word. */
static int decode_string(struct field f, struct sbuf *bytes, struct errbuf *err)
{
    if (f.n > 0 && f.p[0] == '"') {
        if (f.n < 2 || f.p[f.n - 1] != '"')
            return errbuf_set(err, -EINVAL, "'%.*s' has text after its closing quote", SHOW(f.n),
                              f.p);
        return decode_chars(f.p + 1, f.n - 2, false, bytes, err);
    }
    return decode_chars(f.p, f.n, false, bytes, err);
}

/* The escaping of pdns's txtEscape(): what pdns prints for text it read from the wire. */
static void put_escaped(struct sbuf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)s[i];
        if (c < 32 || c >= 127) {
            char e[4] = {'\\', (char)('0' + c / 100), (char)('0' + c / 10 % 10),
                         (char)('0' + c % 10)};
            sbuf_put(out, e, 4);
        } else {
            if (c == '"' || c == '\\')
                sbuf_putc(out, '\\');
            sbuf_putc(out, (char)c);
        }
    }
}

static void put_quoted(struct sbuf *out, const char *s, size_t n)
{
    sbuf_putc(out, '"');
    put_escaped(out, s, n);
    sbuf_putc(out, '"');
}

/* A character-string limited to 255 bytes, as in NAPTR. */
static int put_string255(
    struct sbuf *out, struct field f, const char *what, struct sbuf *tmp, struct errbuf *err)
{
    sbuf_reset(tmp);
    int rc = decode_string(f, tmp, err);
    if (rc < 0)
        return rc;
    if (tmp->len > 255)
        return errbuf_set(err, -EINVAL, "%s '%.*s' is longer than 255 bytes", what, SHOW(f.n), f.p);
    put_quoted(out, sbuf_str(tmp), tmp->len);
    return 0;
}

/* ---- hex ---- */

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The digest runs to the end of the content and may be split by whitespace, as pdns allows; it
 * prints it joined and in lower case. Odd digit counts are refused: pdns would pad with a 0. */
static int put_hex(struct sbuf *out, const char *p, size_t *nbytes, struct errbuf *err)
{
    size_t n = strlen(p), digits = 0;
    while (n > 0 && is_space(p[n - 1]))
        n--;
    for (size_t i = 0; i < n; i++) {
        if (is_space(p[i]))
            continue;
        if (hex_val(p[i]) < 0)
            return errbuf_set(err, -EINVAL, "'%.*s' is not a hex string", SHOW(n), p);
        digits++;
    }
    if (digits % 2)
        return errbuf_set(err, -EINVAL, "'%.*s' is not a hex string (odd number of digits)",
                          SHOW(n), p);
    for (size_t i = 0; i < n; i++)
        if (!is_space(p[i]))
            sbuf_putc(out, "0123456789abcdef"[hex_val(p[i])]);
    *nbytes = digits / 2;
    return 0;
}

/* Digest sizes by algorithm (RFC 4509/5933/6605 for DS, RFC 4255/6594 for SSHFP, RFC 6698 for
 * TLSA); 0 for codes whose size we do not know, which are left alone. */
static size_t digest_len(int type, uint32_t code)
{
    switch (type) {
    case RR_DS:
        return code == 1 ? 20 : code == 2 || code == 3 ? 32 : code == 4 ? 48 : 0;
    case RR_SSHFP:
        return code == 1 ? 20 : code == 2 ? 32 : 0;
    default:
        return code == 1 ? 32 : code == 2 ? 64 : 0;
    }
}

/* ---- addresses ---- */

static int parse_addr(int af, const char *p, size_t n, void *addr, struct errbuf *err)
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (n < sizeof(buf)) {
        memcpy(buf, p, n);
        buf[n] = '\0';
        if (inet_pton(af, buf, addr) == 1)
            return 0;
    }
    return errbuf_set(err, -EINVAL, "'%.*s' is not an IPv%d address", SHOW(n), p,
                      af == AF_INET ? 4 : 6);
}

static void put_addr(struct sbuf *out, int af, const void *addr)
{
    char buf[INET6_ADDRSTRLEN];
    sbuf_puts(out, inet_ntop(af, addr, buf, sizeof(buf)));
}

/* RFC 5952 text without the dotted-quad tail inet_ntop uses for ::ffff:a.b.c.d and ::a.b.c.d:
 * check-zone warns about any AAAA content that contains a dot. */
static void put_ipv6_hex(struct sbuf *out, const uint8_t a[16])
{
    unsigned w[8];
    int best = -1, bestlen = 1;
    for (int i = 0; i < 8; i++)
        w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && w[j] == 0)
            j++;
        if (j - i > bestlen) {
            best = i;
            bestlen = j - i;
        }
        i = j > i ? j : i + 1;
    }
    bool sep = false;
    for (int i = 0; i < 8;) {
        if (i == best) {
            sbuf_puts(out, "::");
            i += bestlen;
            sep = false;
            continue;
        }
        if (sep)
            sbuf_putc(out, ':');
        sbuf_printf(out, "%x", w[i]);
        sep = true;
        i++;
    }
}

/* ---- base64 (SVCB ech) ---- */

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict: whole quads with '=' padding. pdns silently drops an unpadded tail, so that must be an
 * error; decoding and re-encoding also clears stray low bits before the padding, as pdns does. */
static bool put_base64(struct sbuf *out, const char *s, size_t n)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (n == 0 || n % 4)
        return false;
    for (size_t i = 0; i < n; i += 4) {
        unsigned bits = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            int v = b64_val(s[i + k]);
            if (v < 0) {
                /* '=' only as the last one or two characters of the text */
                if (s[i + k] != '=' || i + 4 != n || k < 2 || (k == 2 && s[i + 3] != '='))
                    return false;
                v = 0;
                pad++;
            }
            bits = bits << 6 | (unsigned)v;
        }
        /* 3 - pad data bytes, re-encoded from the bytes alone */
        if (pad == 2)
            bits &= 0xff0000u;
        else if (pad == 1)
            bits &= 0xffff00u;
        sbuf_putc(out, digits[bits >> 18 & 63]);
        sbuf_putc(out, digits[bits >> 12 & 63]);
        sbuf_putc(out, pad == 2 ? '=' : digits[bits >> 6 & 63]);
        sbuf_putc(out, pad ? '=' : digits[bits & 63]);
    }
    return true;
}

/* ---- TXT ---- */

/* Each string is printed quoted, escaped like pdns prints wire data, and cut into 255-byte
 * pieces, which is also how pdns puts an over-long string on the wire. */
static void put_txt_string(struct sbuf *out, size_t start, const char *s, size_t n, size_t *wire)
{
    size_t off = 0;
    do {
        size_t k = n - off > 255 ? 255 : n - off;
        if (out->len > start)
            sbuf_putc(out, ' ');
        put_quoted(out, s + off, k);
        *wire += k + 1;
        off += k;
    } while (off < n);
}

static int norm_txt(const char *content, struct sbuf *out, struct errbuf *err)
{
    size_t n = strlen(content), start = out->len, wire = 0;
    while (n > 0 && is_space(content[n - 1]))
        n--;
    while (n > 0 && is_space(content[0])) {
        content++;
        n--;
    }
    struct sbuf bytes = SBUF_INIT;
    int rc = 0;

    if (n == 0 || content[0] != '"') {
        /* pdns wraps unquoted TXT content in quotes itself: one string, spaces and all */
        rc = decode_chars(content, n, true, &bytes, err);
        if (rc == 0)
            put_txt_string(out, start, sbuf_str(&bytes), bytes.len, &wire);
        n = 0;
    }
    for (size_t i = 0; rc == 0 && i < n;) {
        if (is_space(content[i])) {
            i++;
            continue;
        }
        if (content[i] != '"') {
            rc = errbuf_set(err, -EINVAL, "'%.*s' mixes quoted strings and unquoted text", SHOW(n),
                            content);
            break;
        }
        size_t j = i + 1;
        while (j < n && content[j] != '"')
            j += content[j] == '\\' ? 2 : 1;
        if (j >= n) {
            rc = errbuf_set(err, -EINVAL, "'%.*s' has an unbalanced quote", SHOW(n), content);
            break;
        }
        sbuf_reset(&bytes);
        rc = decode_chars(content + i + 1, j - i - 1, false, &bytes, err);
        if (rc == 0)
            put_txt_string(out, start, sbuf_str(&bytes), bytes.len, &wire);
        i = j + 1;
    }
    sbuf_free(&bytes);
    if (rc == 0 && wire > 65535)
        rc = errbuf_set(err, -EINVAL, "TXT data '%.*s...' is longer than 65535 bytes", 40,
                        out->p + start);
    return rc;
}

/* ---- SVCB / HTTPS ---- */

enum {
    SVC_MANDATORY = 0,
    SVC_ALPN = 1,
    SVC_NO_DEFAULT_ALPN = 2,
    SVC_PORT = 3,
    SVC_IPV4HINT = 4,
    SVC_ECH = 5,
    SVC_IPV6HINT = 6,
    SVC_KNOWN = 7,
};

/* The keys pdns 4.7 knows by name; later ones (dohpath, ohttp) only as keyNNNNN. */
static const char *const svc_names[SVC_KNOWN] = {
    "mandatory", "alpn", "no-default-alpn", "port", "ipv4hint", "ech", "ipv6hint",
};

static int svc_key(const char *p, size_t n, uint32_t *key, struct errbuf *err)
{
    for (uint32_t k = 0; k < SVC_KNOWN; k++) {
        if (strlen(svc_names[k]) == n && memcmp(p, svc_names[k], n) == 0) {
            *key = k;
            return 0;
        }
    }
    if (n > 3 && memcmp(p, "key", 3) == 0) {
        struct field num = {p + 3, n - 3};
        uint32_t v;
        if (parse_num(num, 65535, "SvcParam key", &v, NULL) == 0) {
            /* pdns reads keyN of a known key as raw wire bytes, which nobody means */
            if (v < SVC_KNOWN)
                return errbuf_set(err, -EINVAL, "write SvcParam '%.*s' as '%s'", SHOW(n), p,
                                  svc_names[v]);
            if (v == 65535)
                return errbuf_set(err, -EINVAL, "SvcParam 'key65535' is reserved");
            *key = v;
            return 0;
        }
    }
    return errbuf_set(err, -EINVAL,
                      "'%.*s' is not a SvcParam key (mandatory, alpn, no-default-alpn, port, "
                      "ipv4hint, ech, ipv6hint or keyNNNNN)",
                      SHOW(n), p);
}

static void put_svc_key(struct sbuf *out, uint32_t key)
{
    if (key < SVC_KNOWN)
        sbuf_puts(out, svc_names[key]);
    else
        sbuf_printf(out, "key%u", key);
}

struct svc_param {
    uint32_t key;
    size_t off, len; /* its text in the scratch buffer */
};

struct svc_state {
    struct svc_param params[MAX_SVC_PARAMS];
    int n;
    uint32_t mandatory[MAX_SVC_PARAMS];
    int nmandatory;
};

/* Calls fn on each comma-separated item of a decoded value; empty items are errors, as they
 * are for pdns. */
static int svc_list(struct field f,
                    const struct sbuf *v,
                    struct sbuf *out,
                    struct svc_state *st,
                    int (*fn)(struct field item,
                              struct field whole,
                              struct sbuf *out,
                              struct svc_state *st,
                              struct errbuf *err),
                    struct errbuf *err)
{
    const char *p = sbuf_str(v);
    size_t start = 0;
    for (size_t i = 0; i <= v->len; i++) {
        if (i < v->len && p[i] != ',')
            continue;
        if (i == start)
            return errbuf_set(err, -EINVAL, "'%.*s' has an empty list entry", SHOW(f.n), f.p);
        if (start)
            sbuf_putc(out, ',');
        struct field item = {p + start, i - start};
        int rc = fn(item, f, out, st, err);
        if (rc < 0)
            return rc;
        start = i + 1;
    }
    return 0;
}

static int svc_mandatory_item(struct field item,
                              struct field whole,
                              struct sbuf *out,
                              struct svc_state *st,
                              struct errbuf *err)
{
    uint32_t key;
    (void)out;
    int rc = svc_key(item.p, item.n, &key, err);
    if (rc < 0)
        return rc;
    if (key == SVC_MANDATORY)
        return errbuf_set(err, -EINVAL, "'%.*s': mandatory must not list itself", SHOW(whole.n),
                          whole.p);
    int i = st->nmandatory;
    for (int k = 0; k < i; k++)
        if (st->mandatory[k] == key)
            return errbuf_set(err, -EINVAL, "'%.*s' lists '%.*s' twice", SHOW(whole.n), whole.p,
                              SHOW(item.n), item.p);
    if (i == MAX_SVC_PARAMS)
        return errbuf_set(err, -EINVAL, "'%.*s' lists too many keys", SHOW(whole.n), whole.p);
    /* kept sorted: pdns prints the list in key order */
    while (i > 0 && st->mandatory[i - 1] > key) {
        st->mandatory[i] = st->mandatory[i - 1];
        i--;
    }
    st->mandatory[i] = key;
    st->nmandatory++;
    return 0;
}

/* ALPN ids are printed bare and comma-joined by pdns, which mangles escapes on the way back in
 * and cannot read '(' ')' ';' at all; real ids are plain tokens such as h2 or h3. */
static int svc_alpn_item(struct field item,
                         struct field whole,
                         struct sbuf *out,
                         struct svc_state *st,
                         struct errbuf *err)
{
    (void)st;
    for (size_t i = 0; i < item.n; i++) {
        unsigned char c = (unsigned char)item.p[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"\\();", c))
            return errbuf_set(err, -EINVAL,
                              "'%.*s': an ALPN id must be printable ASCII without space, "
                              "quote, backslash, '(', ')' or ';'",
                              SHOW(whole.n), whole.p);
    }
    if (item.n > 255)
        return errbuf_set(err, -EINVAL, "'%.*s': an ALPN id is longer than 255 bytes",
                          SHOW(whole.n), whole.p);
    sbuf_put(out, item.p, item.n);
    return 0;
}

static int svc_ipv4_item(struct field item,
                         struct field whole,
                         struct sbuf *out,
                         struct svc_state *st,
                         struct errbuf *err)
{
    uint8_t a[4];
    (void)whole;
    (void)st;
    int rc = parse_addr(AF_INET, item.p, item.n, a, err);
    if (rc == 0)
        put_addr(out, AF_INET, a);
    return rc;
}

/* ipv6hint, unlike AAAA, is compared by check-zone as printed, i.e. inet_ntop's form. */
static int svc_ipv6_item(struct field item,
                         struct field whole,
                         struct sbuf *out,
                         struct svc_state *st,
                         struct errbuf *err)
{
    uint8_t a[16];
    (void)whole;
    (void)st;
    int rc = parse_addr(AF_INET6, item.p, item.n, a, err);
    if (rc == 0)
        put_addr(out, AF_INET6, a);
    return rc;
}

/* Renders one "key=value" field into out; v is scratch for the decoded value. */
static int svc_param(struct field f,
                     uint32_t *keyp,
                     struct sbuf *out,
                     struct sbuf *v,
                     struct svc_state *st,
                     struct errbuf *err)
{
    const char *eq = memchr(f.p, '=', f.n);
    size_t klen = eq ? (size_t)(eq - f.p) : f.n;
    uint32_t key;
    int rc = svc_key(f.p, klen, &key, err);
    if (rc < 0)
        return rc;
    *keyp = key;
    for (int i = 0; i < st->n; i++)
        if (st->params[i].key == key)
            return errbuf_set(err, -EINVAL, "SvcParam '%.*s' appears twice", SHOW(klen), f.p);

    if (key == SVC_NO_DEFAULT_ALPN) {
        if (eq)
            return errbuf_set(err, -EINVAL, "'%.*s': no-default-alpn takes no value", SHOW(f.n),
                              f.p);
        sbuf_puts(out, "no-default-alpn");
        return 0;
    }
    struct field val = {eq ? eq + 1 : f.p + f.n, eq ? f.n - klen - 1 : 0};
    if (val.n == 0)
        return errbuf_set(err, -EINVAL, "SvcParam '%.*s' needs a value", SHOW(klen), f.p);
    sbuf_reset(v);
    rc = decode_string(val, v, err);
    if (rc < 0)
        return rc;
    /* only a generic key may be empty, and then only when written as "" */
    if (v->len == 0 && key < SVC_KNOWN)
        return errbuf_set(err, -EINVAL, "SvcParam '%.*s' needs a value", SHOW(klen), f.p);

    put_svc_key(out, key);
    sbuf_putc(out, '=');
    switch (key) {
    case SVC_MANDATORY:
        /* only collects the keys: norm_svcb writes the list once it has checked them */
        return svc_list(f, v, out, st, svc_mandatory_item, err);
    case SVC_ALPN:
        return svc_list(f, v, out, st, svc_alpn_item, err);
    case SVC_PORT: {
        struct field num = {sbuf_str(v), v->len};
        return put_num(out, num, 65535, "port", err);
    }
    case SVC_IPV4HINT:
        return svc_list(f, v, out, st, svc_ipv4_item, err);
    case SVC_IPV6HINT:
        return svc_list(f, v, out, st, svc_ipv6_item, err);
    case SVC_ECH:
        sbuf_putc(out, '"');
        if (!put_base64(out, sbuf_str(v), v->len))
            return errbuf_set(err, -EINVAL, "ech value '%.*s' is not padded base64", SHOW(val.n),
                              val.p);
        sbuf_putc(out, '"');
        return 0;
    default:
        /* pdns prints these bytes raw and then fails to read them back */
        if (strpbrk(sbuf_str(v), "();") || strlen(sbuf_str(v)) != v->len)
            return errbuf_set(err, -EINVAL,
                              "'%.*s' has '(', ')', ';' or a NUL byte, which pdns 4.7 cannot "
                              "read back",
                              SHOW(f.n), f.p);
        put_quoted(out, sbuf_str(v), v->len);
        return 0;
    }
}

static int norm_svcb(
    int type, const char *content, const uint8_t *origin, struct sbuf *out, struct errbuf *err)
{
    const char *pos = content;
    struct field f[2];
    int n = 0, rc;
    while (n < 2 && (rc = next_field(&pos, false, &f[n], err)) > 0) /* priority, target name */
        n++;
    if (n < 2)
        return rc < 0 ? rc
                      : errbuf_set(err, -EINVAL, "%s needs at least 2 fields (%s), got %d",
                                   rrtype_name(type), "priority target [params]", n);
    char what[16];
    snprintf(what, sizeof(what), "%s priority", rrtype_name(type));
    uint32_t prio;
    rc = parse_num(f[0], 65535, what, &prio, err);
    if (rc < 0)
        return rc;
    sbuf_u64(out, prio);
    sbuf_putc(out, ' ');
    rc = put_name(out, f[1], origin, false, err);
    if (rc < 0)
        return rc;

    struct svc_state state = {.n = 0}, *st = &state;
    struct sbuf texts = SBUF_INIT, v = SBUF_INIT;
    struct field pf;
    bool has_alpn = false, has_nda = false;
    while ((rc = next_field(&pos, true, &pf, err)) > 0) {
        if (prio == 0) {
            rc = errbuf_set(err, -EINVAL, "%s priority 0 (alias mode) takes no parameters",
                            rrtype_name(type));
            break;
        }
        if (st->n == MAX_SVC_PARAMS) {
            rc = errbuf_set(err, -EINVAL, "more than %d SvcParams", MAX_SVC_PARAMS);
            break;
        }
        struct svc_param *p = &st->params[st->n];
        p->off = texts.len;
        rc = svc_param(pf, &p->key, &texts, &v, st, err);
        if (rc < 0)
            break;
        p->len = texts.len - p->off;
        has_alpn |= p->key == SVC_ALPN;
        has_nda |= p->key == SVC_NO_DEFAULT_ALPN;
        st->n++;
    }
    /* the two inconsistencies check-zone warns about */
    if (rc == 0 && has_nda && !has_alpn)
        rc = errbuf_set(err, -EINVAL, "no-default-alpn needs an alpn parameter too");
    for (int i = 0; rc == 0 && i < st->nmandatory; i++) {
        int k = 0;
        while (k < st->n && st->params[k].key != st->mandatory[i])
            k++;
        if (k == st->n) {
            struct sbuf name = SBUF_INIT;
            put_svc_key(&name, st->mandatory[i]);
            rc = errbuf_set(err, -EINVAL, "mandatory lists '%s', which is not a parameter here",
                            sbuf_str(&name));
            sbuf_free(&name);
        }
    }
    if (rc == 0) {
        /* pdns prints the parameters in key order whatever order they came in */
        for (int i = 1; i < st->n; i++) {
            struct svc_param t = st->params[i];
            int k = i;
            while (k > 0 && st->params[k - 1].key > t.key) {
                st->params[k] = st->params[k - 1];
                k--;
            }
            st->params[k] = t;
        }
        for (int i = 0; i < st->n; i++) {
            sbuf_putc(out, ' ');
            if (st->params[i].key == SVC_MANDATORY) {
                sbuf_puts(out, "mandatory=");
                for (int k = 0; k < st->nmandatory; k++) {
                    if (k)
                        sbuf_putc(out, ',');
                    put_svc_key(out, st->mandatory[k]);
                }
            } else {
                sbuf_put(out, texts.p + st->params[i].off, st->params[i].len);
            }
        }
    }
    sbuf_free(&texts);
    sbuf_free(&v);
    return rc;
}

/* ---- the other types ---- */

static int norm_caa(const struct field *f, struct sbuf *out, struct errbuf *err)
{
    int rc = put_num(out, f[0], 255, "CAA flags", err);
    if (rc < 0)
        return rc;
    bool alnum = f[1].n >= 1 && f[1].n <= 15;
    for (size_t i = 0; i < f[1].n; i++) {
        char c = f[1].p[i];
        alnum &= (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
    if (!alnum)
        return errbuf_set(err, -EINVAL, "CAA tag '%.*s' is not 1 to 15 letters and digits",
                          SHOW(f[1].n), f[1].p);
    sbuf_putc(out, ' ');
    sbuf_put(out, f[1].p, f[1].n);
    sbuf_putc(out, ' ');
    /* a bare value is accepted (RFC 8659 allows it, pdns does not) and printed quoted */
    struct sbuf v = SBUF_INIT;
    rc = decode_string(f[2], &v, err);
    if (rc == 0)
        put_quoted(out, sbuf_str(&v), v.len);
    sbuf_free(&v);
    return rc;
}

static int
norm_naptr(const struct field *f, const uint8_t *origin, struct sbuf *out, struct errbuf *err)
{
    static const char *const what[3] = {"NAPTR flags", "NAPTR services", "NAPTR regexp"};
    struct sbuf tmp = SBUF_INIT;
    int rc = put_num(out, f[0], 65535, "NAPTR order", err);
    if (rc == 0) {
        sbuf_putc(out, ' ');
        rc = put_num(out, f[1], 65535, "NAPTR preference", err);
    }
    for (int i = 0; rc == 0 && i < 3; i++) {
        sbuf_putc(out, ' ');
        rc = put_string255(out, f[2 + i], what[i], &tmp, err);
    }
    sbuf_free(&tmp);
    if (rc == 0) {
        sbuf_putc(out, ' ');
        rc = put_name(out, f[5], origin, false, err);
    }
    return rc;
}

/* DS, SSHFP and TLSA: some 8- or 16-bit numbers, then a hex digest running to the end. */
static int
norm_digest(int type, const struct field *f, int nnum, struct sbuf *out, struct errbuf *err)
{
    static const char *const ds[] = {"DS key tag", "DS algorithm", "DS digest type"};
    static const char *const sshfp[] = {"SSHFP algorithm", "SSHFP fingerprint type"};
    static const char *const tlsa[] = {"TLSA usage", "TLSA selector", "TLSA matching type"};
    const char *const *what = type == RR_DS ? ds : type == RR_SSHFP ? sshfp : tlsa;
    uint32_t num[3] = {0};
    size_t len = 0;
    int rc;
    for (int i = 0; i < nnum; i++) {
        rc = parse_num(f[i], type == RR_DS && i == 0 ? 65535 : 255, what[i], &num[i], err);
        if (rc < 0)
            return rc;
        sbuf_u64(out, num[i]);
        sbuf_putc(out, ' ');
    }
    rc = put_hex(out, f[nnum].p, &len, err);
    if (rc < 0)
        return rc;
    /* a digest of the wrong size for its algorithm can never match; pdns does not check */
    size_t want = digest_len(type, num[nnum - 1]);
    if (want && len != want)
        return errbuf_set(err, -EINVAL, "%s %u needs %zu bytes (%zu hex digits), got %zu",
                          what[nnum - 1], num[nnum - 1], want, want * 2, len);
    return 0;
}

static int
norm_soa(const struct field *f, const uint8_t *origin, struct sbuf *out, struct errbuf *err)
{
    static const char *const what[5] = {"SOA serial", "SOA refresh", "SOA retry", "SOA expire",
                                        "SOA minimum"};
    int rc = put_name(out, f[0], origin, true, err);
    if (rc < 0)
        return rc;
    sbuf_putc(out, ' ');
    rc = put_name(out, f[1], origin, true, err);
    for (int i = 0; rc == 0 && i < 5; i++) {
        sbuf_putc(out, ' ');
        rc = put_num(out, f[2 + i], UINT32_MAX, what[i], err);
    }
    return rc;
}

int rdata_normalize(
    int type, const char *content, const uint8_t *origin, struct sbuf *out, struct errbuf *err)
{
    struct field f[MAX_FIELDS];
    int n, rc;

    if (type == RR_TXT)
        return norm_txt(content, out, err);
    if (type == RR_SVCB || type == RR_HTTPS)
        return norm_svcb(type, content, origin, out, err);
    /* only these have quoted strings: the CAA value, the NAPTR flags, services and regexp */
    unsigned quoted = type == RR_CAA ? 1u << 2 : type == RR_NAPTR ? 7u << 2 : 0;
    rc = split_fields(content, quoted, f, &n, err);
    if (rc < 0)
        return rc;

    switch (type) {
    case RR_A:
    case RR_AAAA: {
        uint8_t a[16];
        int af = type == RR_A ? AF_INET : AF_INET6;
        if (n != 1)
            return field_count_error(type, 1, "address", n, err);
        rc = parse_addr(af, f[0].p, f[0].n, a, err);
        if (rc < 0)
            return rc;
        if (af == AF_INET)
            put_addr(out, af, a);
        else
            put_ipv6_hex(out, a);
        return 0;
    }
    case RR_NS:
    case RR_CNAME:
    case RR_PTR:
        if (n != 1)
            return field_count_error(type, 1, "target name", n, err);
        return put_name(out, f[0], origin, false, err);
    case RR_MX:
        if (n != 2)
            return field_count_error(type, 2, "preference exchange", n, err);
        rc = put_num(out, f[0], 65535, "MX preference", err);
        if (rc < 0)
            return rc;
        sbuf_putc(out, ' ');
        return put_name(out, f[1], origin, false, err);
    case RR_SRV: {
        static const char *const what[3] = {"SRV priority", "SRV weight", "SRV port"};
        if (n != 4)
            return field_count_error(type, 4, "priority weight port target", n, err);
        for (int i = 0; i < 3; i++) {
            rc = put_num(out, f[i], 65535, what[i], err);
            if (rc < 0)
                return rc;
            sbuf_putc(out, ' ');
        }
        return put_name(out, f[3], origin, false, err);
    }
    case RR_SOA:
        if (n != 7)
            return field_count_error(type, 7, "mname rname serial refresh retry expire minimum", n,
                                     err);
        return norm_soa(f, origin, out, err);
    case RR_CAA:
        if (n != 3)
            return field_count_error(type, 3, "flags tag value", n, err);
        return norm_caa(f, out, err);
    case RR_NAPTR:
        if (n != 6)
            return field_count_error(type, 6, "order preference flags services regexp replacement",
                                     n, err);
        return norm_naptr(f, origin, out, err);
    case RR_SSHFP:
        if (n < 3)
            return field_count_error(type, 3, "algorithm fingerprint-type fingerprint", n, err);
        return norm_digest(type, f, 2, out, err);
    case RR_TLSA:
        if (n < 4)
            return field_count_error(type, 4, "usage selector matching-type data", n, err);
        return norm_digest(type, f, 3, out, err);
    case RR_DS:
        if (n < 4)
            return field_count_error(type, 4, "key-tag algorithm digest-type digest", n, err);
        return norm_digest(type, f, 3, out, err);
    default:
        return errbuf_set(err, -EINVAL, "record type %d is not supported", type);
    }
}

int rdata_to_store(int type, const char *content, struct sbuf *out, struct errbuf *err)
{
    static const uint8_t root[1] = {0};
    all_dots = true;
    int r = rdata_normalize(type, content, root, out, err);
    all_dots = false;
    return r;
}

int rdata_soa_numbers(const char *soa, uint32_t *serial, uint32_t *minimum)
{
    struct field f[MAX_FIELDS];
    int n;
    if (split_fields(soa, 0, f, &n, NULL) < 0 || n != 7 ||
        parse_num(f[2], UINT32_MAX, "", serial, NULL) < 0 ||
        parse_num(f[6], UINT32_MAX, "", minimum, NULL) < 0)
        return -EINVAL;
    return 0;
}
