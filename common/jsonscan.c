/* SPDX-License-Identifier: MIT */
/* Strict JSON check, cursor and string decoding (see jsonscan.h). The check is one loop over the
 * bytes with an explicit stack; strings, the bulk of a store file, go through a table lookup per
 * byte. The cursor trusts the check for the grammar but bounds every read by itself. */
#include "common/jsonscan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

/* Bytes that stand for themselves inside a string: not a quote, backslash, control character
 * or part of a multi-byte UTF-8 sequence. A table: strings are most of a store file. */
#define P1(c)  ((c) >= 0x20 && (c) < 0x80 && (c) != '"' && (c) != '\\')
#define P4(c)  P1(c), P1(c + 1), P1(c + 2), P1(c + 3)
#define P16(c) P4(c), P4(c + 4), P4(c + 8), P4(c + 12)
#define P64(c) P16(c), P16(c + 16), P16(c + 32), P16(c + 48)
static const bool plain[256] = {P64(0), P64(64), P64(128), P64(192)};
#undef P64
#undef P16
#undef P4
#undef P1

static bool is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* The code unit of the \uXXXX escape whose 'u' is at p[0] (4 bytes available), or -1. */
static long hex4(const char *p)
{
    long v = 0;
    for (int k = 1; k <= 4; k++) {
        char c = p[k], lower = (char)(c | 0x20);
        if (c >= '0' && c <= '9')
            v = v << 4 | (c - '0');
        else if (lower >= 'a' && lower <= 'f')
            v = v << 4 | (lower - 'a' + 10);
        else
            return -1;
    }
    return v;
}

/* Checks the string whose opening quote is at *i; leaves *i after the closing quote. The UTF-8
 * rule is json-c's: a lead byte announces 1 to 3 continuation bytes (10xxxxxx), nothing more. */
static bool check_string(const char *json, size_t len, size_t *i, bool *escaped)
{
    const unsigned char *p = (const unsigned char *)json;
    size_t k = *i + 1;
    *escaped = false;
    for (;;) {
        while (k < len && plain[p[k]])
            k++;
        if (k >= len)
            break;
        unsigned char c = p[k];
        if (c == '"') {
            *i = k + 1;
            return true;
        }
        if (c == '\\') {
            *escaped = true;
            if (k + 1 >= len)
                break;
            char e = (char)p[k + 1];
            if (e == 'u') {
                if (len - k < 6)
                    break;
                long v = hex4(json + k + 1);
                if (v <= 0) /* not hex, or \u0000, which json-c would cut the string at */
                    break;
                k += 6;
            } else if (e && strchr("\"\\/bfnrt", e)) {
                k += 2;
            } else {
                break;
            }
            continue;
        }
        size_t more;
        if ((c & 0xe0) == 0xc0)
            more = 1;
        else if ((c & 0xf0) == 0xe0)
            more = 2;
        else if ((c & 0xf8) == 0xf0)
            more = 3;
        else
            break; /* a control character or a stray continuation byte */
        if (len - k <= more)
            break;
        for (size_t m = 1; m <= more; m++)
            if ((p[k + m] & 0xc0) != 0x80)
                goto bad;
        k += more + 1;
    }
bad:
    *i = k;
    return false;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 8259 number at *i: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool check_number(const char *json, size_t len, size_t *i)
{
    size_t k = *i;
    if (k < len && json[k] == '-')
        k++;
    if (k < len && json[k] == '0') {
        k++;
    } else if (k < len && is_digit(json[k])) {
        while (k < len && is_digit(json[k]))
            k++;
    } else {
        *i = k;
        return false;
    }
    if (k < len && json[k] == '.') {
        k++;
        if (k >= len || !is_digit(json[k])) {
            *i = k;
            return false;
        }
        while (k < len && is_digit(json[k]))
            k++;
    }
    if (k < len && (json[k] == 'e' || json[k] == 'E')) {
        k++;
        if (k < len && (json[k] == '+' || json[k] == '-'))
            k++;
        if (k >= len || !is_digit(json[k])) {
            *i = k;
            return false;
        }
        while (k < len && is_digit(json[k]))
            k++;
    }
    *i = k;
    return true;
}

static bool check_literal(const char *json, size_t len, size_t *i)
{
    static const char *const words[] = {"true", "false", "null"};
    for (size_t w = 0; w < 3; w++) {
        size_t n = strlen(words[w]);
        if (len - *i >= n && memcmp(json + *i, words[w], n) == 0) {
            *i += n;
            return true;
        }
    }
    return false;
}

/* ---- duplicate keys ----------------------------------------------------------------------- */

/* Parsers differ on an object with a key twice (json-c keeps the first place and the last value),
 * and the store loader reads members in file order, so a text with one is left to json-c. Keys
 * are compared decoded ("a" and "\u0061" are the same key), unlike jsonkeys.h, which reports
 * keys as written. */

struct key {
    size_t off;   /* of the first raw byte after the opening quote */
    size_t len;   /* raw bytes up to the closing quote */
    bool escaped; /* holds a backslash: compared decoded */
};

/* A hash set slot, kept to 16 bytes: the set of a big zone's owner names has 100,000s of keys,
 * and each insert costs a cache miss or two. */
struct slot {
    uint64_t hash; /* of the decoded key, never 0; 0 marks a free slot */
    size_t tag;    /* key offset << 1, | 1 when escaped (the length is found again if needed) */
};

/* Most objects of a store file (the records) have two or three keys: those are compared in
 * place, without hashing, and only objects that grow past SMALL_KEYS get a hash set. */
#define SMALL_KEYS 8

struct frame {
    char open;   /* '{' or '[' */
    size_t span; /* its entry in the index, or SIZE_MAX */
    size_t nkeys;
    struct slot *slots; /* NULL while the keys fit small[] */
    size_t nslots;
    struct key small[SMALL_KEYS];
};

struct checker {
    const char *json;
    size_t len;
    struct sbuf a, b; /* decoded keys */
};

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    /* FNV-1a's low bits, which pick the slot, vary little across "host1", "host2", ...: mix. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h ? h : 1;
}

/* Decodes key k into out; false for a key that only the caller's parser should decode. */
static bool decode_key(struct checker *ck, const struct key *k, struct sbuf *out)
{
    sbuf_reset(out);
    return jsonscan_decode(ck->json + k->off, k->len, out) == 0;
}

static uint64_t hash_key(struct checker *ck, const struct key *k)
{
    if (!k->escaped)
        return hash_bytes(ck->json + k->off, k->len);
    decode_key(ck, k, &ck->a); /* decodable: add_key() made sure */
    return hash_bytes(ck->a.p, ck->a.len);
}

static bool same_key(struct checker *ck, const struct key *x, const struct key *y)
{
    if (!x->escaped && !y->escaped)
        return x->len == y->len && memcmp(ck->json + x->off, ck->json + y->off, x->len) == 0;
    decode_key(ck, x, &ck->a);
    decode_key(ck, y, &ck->b);
    return ck->a.len == ck->b.len && memcmp(ck->a.p, ck->b.p, ck->a.len) == 0;
}

/* The key a slot stands for. Its text was checked, so its closing quote is there. */
static struct key slot_key(const struct checker *ck, const struct slot *s)
{
    struct key k = {.off = s->tag >> 1, .escaped = s->tag & 1};
    size_t i = k.off;
    while (i < ck->len && ck->json[i] != '"')
        i += ck->json[i] == '\\' ? 2 : 1;
    k.len = i - k.off;
    return k;
}

/* Puts a key into the hash set, which has room; with ck, false if an equal key is there. */
static bool slot_add(struct checker *ck, struct frame *f, uint64_t hash, const struct key *k)
{
    size_t mask = f->nslots - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        struct slot *s = &f->slots[i];
        if (!s->hash) {
            s->hash = hash;
            s->tag = k->off << 1 | k->escaped;
            f->nkeys++;
            return true;
        }
        if (ck && s->hash == hash) {
            struct key o = slot_key(ck, s);
            if (same_key(ck, &o, k))
                return false;
        }
    }
}

static void set_grow(struct checker *ck, struct frame *f, size_t nslots)
{
    struct slot *old = f->slots;
    size_t nold = f->nslots;
    f->slots = xcalloc(nslots, sizeof(*f->slots));
    f->nslots = nslots;
    f->nkeys = 0;
    /* The keys are known to differ: no comparisons (ck NULL). */
    if (old) {
        for (size_t i = 0; i < nold; i++)
            if (old[i].hash) {
                struct key k = {.off = old[i].tag >> 1, .escaped = old[i].tag & 1};
                slot_add(NULL, f, old[i].hash, &k);
            }
        free(old);
    } else {
        for (size_t i = 0; i < SMALL_KEYS; i++)
            slot_add(NULL, f, hash_key(ck, &f->small[i]), &f->small[i]);
    }
}

/* Adds the key; false when the object has it already, or it cannot be decoded here. */
static bool add_key(struct checker *ck, struct frame *f, const struct key *k)
{
    if (k->escaped && !decode_key(ck, k, &ck->a))
        return false;
    if (!f->slots) {
        for (size_t i = 0; i < f->nkeys; i++)
            if (same_key(ck, &f->small[i], k))
                return false;
        if (f->nkeys < SMALL_KEYS) {
            f->small[f->nkeys++] = *k;
            return true;
        }
        set_grow(ck, f, 8 * SMALL_KEYS);
    } else if ((f->nkeys + 1) * 2 > f->nslots) {
        set_grow(ck, f, f->nslots * 2);
    }
    return slot_add(ck, f, hash_key(ck, k), k);
}

/* ---- the check ---------------------------------------------------------------------------- */

/* Records the container opening at `start`, depth deep; returns its entry or SIZE_MAX. */
static size_t span_open(struct jsonscan_index *ix, size_t depth, size_t start)
{
    if (!ix || depth > ix->depth)
        return SIZE_MAX;
    if (ix->n == ix->cap) {
        ix->cap = ix->cap ? ix->cap * 2 : 64;
        ix->spans = xrealloc(ix->spans, ix->cap * sizeof(*ix->spans));
    }
    ix->spans[ix->n] = (struct jsonscan_span){.start = start, .end = 0};
    return ix->n++;
}

static void span_close(struct jsonscan_index *ix, const struct frame *f, size_t end)
{
    if (f->span != SIZE_MAX)
        ix->spans[f->span].end = end;
}

void jsonscan_index_free(struct jsonscan_index *index)
{
    if (!index)
        return;
    free(index->spans);
    index->spans = NULL;
    index->n = index->cap = 0;
}

int jsonscan_check(const char *json, size_t len, size_t *bad_off, struct jsonscan_index *index)
{
    struct frame stack[JSONSCAN_MAX_DEPTH]; /* each open container */
    struct checker ck = {.json = json, .len = len, .a = SBUF_INIT, .b = SBUF_INIT};
    size_t depth = 0, i = 0;
    enum { VALUE, KEY, AFTER } want = VALUE;
    bool ok = false, escaped;

    for (;;) {
        while (i < len && is_ws(json[i]))
            i++;
        if (want == AFTER && depth == 0) {
            ok = i == len;
            break;
        }
        if (i >= len)
            break;
        char c = json[i];
        if (want == KEY) {
            size_t start = i;
            if (c != '"' || !check_string(json, len, &i, &escaped))
                break;
            struct key k = {.off = start + 1, .len = i - start - 2, .escaped = escaped};
            if (!add_key(&ck, &stack[depth - 1], &k)) {
                i = start;
                break;
            }
            while (i < len && is_ws(json[i]))
                i++;
            if (i >= len || json[i] != ':')
                break;
            i++;
            want = VALUE;
        } else if (want == AFTER) {
            struct frame *f = &stack[depth - 1];
            if (c == ',') {
                i++;
                want = f->open == '{' ? KEY : VALUE;
            } else if ((c == '}' && f->open == '{') || (c == ']' && f->open == '[')) {
                i++;
                span_close(index, f, i);
                free(f->slots);
                depth--;
            } else {
                break;
            }
        } else if (c == '{' || c == '[') {
            if (depth == JSONSCAN_MAX_DEPTH)
                break;
            struct frame *f = &stack[depth++];
            f->open = c;
            f->span = span_open(index, depth, i);
            f->nkeys = f->nslots = 0;
            f->slots = NULL;
            i++;
            want = c == '{' ? KEY : VALUE;
            while (i < len && is_ws(json[i]))
                i++;
            if (i < len && json[i] == (c == '{' ? '}' : ']')) {
                i++;
                span_close(index, f, i);
                depth--;
                want = AFTER;
            }
        } else {
            bool good = c == '"'                  ? check_string(json, len, &i, &escaped)
                        : c == '-' || is_digit(c) ? check_number(json, len, &i)
                                                  : check_literal(json, len, &i);
            /* json-c wants a byte after a number or literal to see that it has ended ("42" or
             * "true" alone is an unexpected end of input there). */
            if (!good || (c != '"' && i == len))
                break;
            want = AFTER;
        }
    }
    while (depth)
        free(stack[--depth].slots);
    sbuf_free(&ck.a);
    sbuf_free(&ck.b);
    if (ok)
        return 0;
    if (bad_off)
        *bad_off = i;
    return -EINVAL;
}

/* ---- cursor ------------------------------------------------------------------------------- */

void jscan_init(struct jscan *c, const char *json, size_t len, const struct jsonscan_index *index)
{
    *c = (struct jscan){.json = json, .len = len, .index = index};
}

/* The end of the container starting at `start` if the index has it, else 0. */
static size_t indexed_end(const struct jsonscan_index *ix, size_t start)
{
    size_t lo = 0, hi = ix ? ix->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->spans[mid].start == start)
            return ix->spans[mid].end;
        if (ix->spans[mid].start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

char jscan_peek(struct jscan *c)
{
    while (c->pos < c->len && is_ws(c->json[c->pos]))
        c->pos++;
    return c->pos < c->len ? c->json[c->pos] : 0;
}

bool jscan_enter(struct jscan *c, char open)
{
    if (c->bad || jscan_peek(c) != open)
        return false;
    c->pos++;
    return true;
}

/* The end (after the closing quote) of the checked string whose opening quote is at i, or 0.
 * A byte loop: the strings of a store are short, shorter than a memchr() call is worth. */
static size_t string_end(const struct jscan *c, size_t i)
{
    for (size_t k = i + 1; k < c->len; k++) {
        if (c->json[k] == '\\')
            k++; /* the escaped byte (of \uXXXX: the 'u'; the digits are plain) */
        else if (c->json[k] == '"')
            return k + 1;
    }
    return 0;
}

bool jscan_string(struct jscan *c, struct jscan_str *s)
{
    if (c->bad || jscan_peek(c) != '"')
        return false;
    size_t end = string_end(c, c->pos);
    if (!end) {
        c->bad = true;
        return false;
    }
    s->off = c->pos + 1;
    s->len = end - 1 - s->off;
    c->pos = end;
    return true;
}

bool jscan_next(struct jscan *c, struct jscan_str *key)
{
    if (c->bad)
        return false;
    char ch = jscan_peek(c);
    if (ch == ',') {
        c->pos++;
        ch = jscan_peek(c);
    }
    if (ch == (key ? '}' : ']')) {
        c->pos++;
        return false;
    }
    if (key) {
        if (!jscan_string(c, key) || jscan_peek(c) != ':') {
            c->bad = true;
            return false;
        }
        c->pos++;
    }
    if (!jscan_peek(c)) {
        c->bad = true;
        return false;
    }
    return true;
}

void jscan_skip(struct jscan *c, size_t *start)
{
    char ch = jscan_peek(c);
    if (start)
        *start = c->pos;
    if (c->bad || !ch) {
        c->bad = true;
        return;
    }
    if (ch == '"') {
        struct jscan_str s;
        jscan_string(c, &s);
        return;
    }
    size_t indexed = indexed_end(c->index, c->pos);
    if (indexed > c->pos && indexed <= c->len) {
        c->pos = indexed;
        return;
    }
    if (ch != '{' && ch != '[') {
        for (; c->pos < c->len && !is_ws(c->json[c->pos]); c->pos++) {
            ch = c->json[c->pos];
            if (ch == ',' || ch == ']' || ch == '}')
                break;
        }
        return;
    }
    size_t depth = 0;
    while (c->pos < c->len) {
        ch = c->json[c->pos];
        if (ch == '"') {
            size_t end = string_end(c, c->pos);
            if (!end)
                break;
            c->pos = end;
            continue;
        }
        c->pos++;
        if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (--depth == 0)
                return;
        }
    }
    c->bad = true;
}

bool jscan_plain_uint(struct jscan *c, uint64_t max, uint64_t *out)
{
    if (c->bad || !is_digit(jscan_peek(c)))
        return false;
    uint64_t v = 0;
    size_t k = c->pos;
    for (; k < c->len && is_digit(c->json[k]); k++) {
        uint64_t d = (uint64_t)(c->json[k] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (k < c->len && (c->json[k] == '.' || c->json[k] == 'e' || c->json[k] == 'E'))
        return false;
    *out = v;
    c->pos = k;
    return true;
}

/* ---- strings ------------------------------------------------------------------------------ */

static size_t put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    o[0] = (char)(0xe0 | cp >> 12);
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
}

/* Decodes the escape at raw[0] (a backslash, n bytes available) to o; returns the bytes written
 * (1 to 3) and the bytes read in *used, or 0 for what jsonscan_decode() refuses. */
static size_t decode_escape(const char *raw, size_t n, char *o, size_t *used)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char e = n > 1 ? raw[1] : '\0';
    if (e == 'u') {
        long v = n >= 6 ? hex4(raw + 1) : -1;
        if (v <= 0 || (v >= 0xd800 && v <= 0xdfff))
            return 0;
        *used = 6;
        return put_utf8(o, (unsigned long)v);
    }
    const char *f = e ? strchr(from, e) : NULL;
    if (!f)
        return 0;
    *o = to[f - from];
    *used = 2;
    return 1;
}

int jsonscan_decode(const char *raw, size_t n, struct sbuf *out)
{
    /* Decoding never makes a string longer: an escape of 2 or 6 bytes stands for 1 to 3. */
    sbuf_reserve(out, n);
    char *o = out->p + out->len;
    size_t i = 0, used, wrote;
    while (i < n) {
        if (raw[i] != '\\') {
            *o++ = raw[i++];
        } else if ((wrote = decode_escape(raw + i, n - i, o, &used))) {
            o += wrote;
            i += used;
        } else {
            out->p[out->len] = '\0';
            return -EINVAL;
        }
    }
    out->len = (size_t)(o - out->p);
    out->p[out->len] = '\0';
    return 0;
}

bool jscan_decoded(struct jscan *c, struct sbuf *out)
{
    if (c->bad || jscan_peek(c) != '"')
        return false;
    sbuf_reset(out);
    for (size_t k = c->pos + 1; k < c->len;) {
        size_t run = k, used, wrote;
        while (run < c->len && c->json[run] != '"' && c->json[run] != '\\')
            run++;
        sbuf_put(out, c->json + k, run - k);
        if (run >= c->len)
            break;
        if (c->json[run] == '"') {
            c->pos = run + 1;
            return true;
        }
        sbuf_reserve(out, 3);
        wrote = decode_escape(c->json + run, c->len - run, out->p + out->len, &used);
        if (!wrote) {
            out->p[out->len] = '\0';
            return false;
        }
        out->len += wrote;
        out->p[out->len] = '\0';
        k = run + used;
    }
    c->bad = true; /* no closing quote */
    return false;
}
