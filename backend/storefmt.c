/* SPDX-License-Identifier: MIT */
/* Canonical store layout (see storefmt.h). Written by hand rather than with json-c's pretty
 * printer: that one puts every scalar on its own line (a record becomes five lines) and escapes
 * '/', which makes diffs of edited stores noisy. */
#include "backend/storefmt.h"

#include <stdbool.h>
#include <string.h>

static bool is_scalar(json_object *v)
{
    return !json_object_is_type(v, json_type_object) && !json_object_is_type(v, json_type_array);
}

static bool scalar_object(json_object *v)
{
    if (!json_object_is_type(v, json_type_object))
        return false;
    json_object_object_foreach(v, key, val)
    {
        (void)key;
        if (!is_scalar(val))
            return false;
    }
    return true;
}

static bool scalar_array(json_object *v)
{
    if (!json_object_is_type(v, json_type_array))
        return false;
    size_t n = json_object_array_length(v);
    for (size_t i = 0; i < n; i++)
        if (!is_scalar(json_object_array_get_idx(v, i)))
            return false;
    return true;
}

/* An object of scalars (or arrays of scalars, like metadata values) is a candidate for one
 * line; so is an array of scalars or of such objects. Anything deeper always spreads out. */
static bool flat(json_object *v)
{
    if (is_scalar(v))
        return true;
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, key, val)
        {
            (void)key;
            if (!is_scalar(val) && !scalar_array(val))
                return false;
        }
        return true;
    }
    size_t n = json_object_array_length(v);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        if (!is_scalar(e) && !(json_object_is_type(e, json_type_object) && flat(e)))
            return false;
    }
    return true;
}

/* JSON string escaping that leaves UTF-8 and '/' alone. */
static void put_str(struct sbuf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sbuf_putc(out, '"');
    for (size_t i = 0; i < n; i++) {
        size_t run = i;
        while (run < n && (unsigned char)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) { /* the common case: copy plain bytes in one go */
            sbuf_put(out, s + i, run - i);
            i = run;
            if (i == n)
                break;
        }
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            sbuf_puts(out, "\\\"");
            break;
        case '\\':
            sbuf_puts(out, "\\\\");
            break;
        case '\n':
            sbuf_puts(out, "\\n");
            break;
        case '\t':
            sbuf_puts(out, "\\t");
            break;
        case '\r':
            sbuf_puts(out, "\\r");
            break;
        default:
            if (c < 0x20) {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                sbuf_put(out, e, sizeof(e));
            } else {
                sbuf_putc(out, (char)c);
            }
        }
    }
    sbuf_putc(out, '"');
}

static void put_scalar(struct sbuf *out, json_object *v)
{
    if (json_object_is_type(v, json_type_string))
        put_str(out, json_object_get_string(v), (size_t)json_object_get_string_len(v));
    else /* numbers keep the text they were parsed from; null, true, false */
        sbuf_puts(out, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

static void put_inline(struct sbuf *out, json_object *v)
{
    if (is_scalar(v)) {
        put_scalar(out, v);
    } else if (json_object_is_type(v, json_type_object)) {
        bool first = true;
        sbuf_putc(out, '{');
        json_object_object_foreach(v, key, val)
        {
            if (!first)
                sbuf_puts(out, ", ");
            first = false;
            put_str(out, key, strlen(key));
            sbuf_puts(out, ": ");
            put_inline(out, val);
        }
        sbuf_putc(out, '}');
    } else {
        size_t n = json_object_array_length(v);
        sbuf_putc(out, '[');
        for (size_t i = 0; i < n; i++) {
            if (i)
                sbuf_puts(out, ", ");
            put_inline(out, json_object_array_get_idx(v, i));
        }
        sbuf_putc(out, ']');
    }
}

static void indent(struct sbuf *out, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        sbuf_putc(out, ' ');
}

/* Writes v at the current position, `col` columns into the line, its members at depth+2. */
static void
put_value(struct sbuf *out, json_object *v, unsigned depth, size_t col, bool root, bool in_array)
{
    if (!root && flat(v)) {
        size_t mark = out->len;
        put_inline(out, v);
        /* +1: the comma that may follow. A record (an object of scalars in a list) stays on
         * one line whatever its length: it is what a diff should show as one changed line. */
        if (col + (out->len - mark) + 1 <= STOREFMT_WIDTH || is_scalar(v) ||
            (in_array && scalar_object(v)))
            return;
        sbuf_truncate(out, mark);
    }
    if (json_object_is_type(v, json_type_object)) {
        if (json_object_object_length(v) == 0) {
            sbuf_puts(out, "{}");
            return;
        }
        bool first = true;
        sbuf_putc(out, '{');
        json_object_object_foreach(v, key, val)
        {
            sbuf_puts(out, first ? "\n" : ",\n");
            first = false;
            indent(out, depth + 2);
            size_t mark = out->len;
            put_str(out, key, strlen(key));
            sbuf_puts(out, ": ");
            put_value(out, val, depth + 2, depth + 2 + (out->len - mark), false, false);
        }
        sbuf_putc(out, '\n');
        indent(out, depth);
        sbuf_putc(out, '}');
    } else {
        size_t n = json_object_array_length(v);
        if (n == 0) {
            sbuf_puts(out, "[]");
            return;
        }
        sbuf_putc(out, '[');
        for (size_t i = 0; i < n; i++) {
            sbuf_puts(out, i ? ",\n" : "\n");
            indent(out, depth + 2);
            put_value(out, json_object_array_get_idx(v, i), depth + 2, depth + 2, false, true);
        }
        sbuf_putc(out, '\n');
        indent(out, depth);
        sbuf_putc(out, ']');
    }
}

void storefmt_render(json_object *doc, struct sbuf *out)
{
    if (is_scalar(doc))
        put_scalar(out, doc);
    else
        put_value(out, doc, 0, 0, true, false);
    sbuf_putc(out, '\n');
}
