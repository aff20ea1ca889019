#include "jsonw.h"

#include <stdlib.h>
#include <string.h>

/* Makes room for n more bytes and the NUL. */
static bool jsonw__room(jsonw_t *w, size_t n)
{
    if (w->oom)
        return false;
    if (w->len + n + 1 <= w->cap)
        return true;
    size_t want = w->cap ? w->cap : 256;
    while (want < w->len + n + 1)
        want *= 2;
    char *p = realloc(w->data, want);
    if (p == NULL) {
        w->oom = true;
        return false;
    }
    w->data = p;
    w->cap = want;
    return true;
}

void jsonw_raw(jsonw_t *w, const char *s, size_t n)
{
    if (!jsonw__room(w, n))
        return;
    memcpy(w->data + w->len, s, n);
    w->len += n;
    w->data[w->len] = '\0';
}

void jsonw_lit(jsonw_t *w, const char *s)
{
    jsonw_raw(w, s, strlen(s));
}

void jsonw_str(jsonw_t *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* At worst six bytes (\u00XX) per byte, and the quotes. */
    if (!jsonw__room(w, 6 * n + 2))
        return;
    char *o = w->data + w->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            *o++ = '\\';
            switch (c) {
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            case '\b': *o++ = 'b'; break;
            case '\f': *o++ = 'f'; break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            }
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    w->len = (size_t)(o - w->data);
    w->data[w->len] = '\0';
}

void jsonw_cstr(jsonw_t *w, const char *s)
{
    if (s == NULL)
        jsonw_lit(w, "null");
    else
        jsonw_str(w, s, strlen(s));
}

char *jsonw_digits(char *buf, long long v)
{
    char *p = buf + JSONW_INT_MAX;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    return p;
}

void jsonw_int(jsonw_t *w, long long v)
{
    char buf[JSONW_INT_MAX];
    char *p = jsonw_digits(buf, v);
    jsonw_raw(w, p, (size_t)(buf + sizeof buf - p));
}

char *jsonw_take(jsonw_t *w)
{
    char *d = w->data;
    if (w->oom) {
        free(d);
        d = NULL;
    }
    w->data = NULL;
    w->len = w->cap = 0;
    w->oom = false;
    return d;
}
