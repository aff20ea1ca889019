#include "quote.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

/* Longest message quote_vformat formats before making it whole. */
#define QUOTE_FORMAT_MAX 4096

/* One step of the copy: the character (or invalid sequence) at s + i, as
 * its length in the input (0: a character an earlier cut split, to drop),
 * the bytes to write for it, and whether it is a combining mark. */
static size_t quote__step(const char *s, size_t n, size_t i, bool more, const char **out, size_t *out_len,
                          bool *combining)
{
    unsigned cp = 0;
    size_t len = utf8_decode(s + i, n - i, &cp);
    *combining = false;
    *out = QUOTE_REPLACEMENT;
    *out_len = sizeof QUOTE_REPLACEMENT - 1;
    if (len == 0) {
        /* One replacement for a lead byte and the continuation bytes its
         * sequence would have had. */
        unsigned char c = (unsigned char)s[i];
        size_t want = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 1;
        len = 1;
        while (len < want && i + len < n && ((unsigned char)s[i + len] & 0xC0) == 0x80)
            len++;
        return more && i + len == n ? 0 : len;
    }
    if (!utf8_is_control(cp) && utf8_is_xml_char(cp)) {
        *out = s + i;
        *out_len = len;
        *combining = utf8_is_combining(cp);
    }
    return len;
}

/* quote_value, for text that may already have been cut after its n bytes
 * (more): the cut is marked, and a character cut short at the end is
 * dropped rather than replaced. */
static const char *quote__copy(char *dst, size_t cap, const char *s, size_t n, size_t max_chars, bool more)
{
    const size_t mark = sizeof QUOTE_CUT - 1;
    size_t o = 0, base = 0, chars = 0, i = 0, need = 0, len, out_len;
    const char *out;
    bool combining, cut = more;

    if (cap < mark + 1) {
        if (cap > 0)
            dst[0] = '\0';
        return dst;
    }
    /* Does all of it fit? Then no room need be kept for the mark. */
    for (i = 0; i < n && chars <= max_chars; i += len, chars++) {
        if ((len = quote__step(s, n, i, more, &out, &out_len, &combining)) == 0)
            break;
        need += out_len;
    }
    bool fits = !more && i >= n && chars <= max_chars && need + 1 <= cap;
    for (i = 0, chars = 0; i < n; i += len, chars++) {
        if ((len = quote__step(s, n, i, more, &out, &out_len, &combining)) == 0)
            break;
        if (!combining)
            base = o; /* a cut here keeps a character and its marks whole */
        if (!fits && (chars == max_chars || o + out_len + mark + 1 > cap)) {
            cut = true;
            if (combining)
                o = base;
            break;
        }
        memcpy(dst + o, out, out_len);
        o += out_len;
    }
    if (cut) {
        memcpy(dst + o, QUOTE_CUT, mark); /* room for it was kept */
        o += mark;
    }
    dst[o] = '\0';
    return dst;
}

const char *quote_value(char *dst, size_t cap, const char *s, size_t n, size_t max_chars)
{
    return quote__copy(dst, cap, s, n, max_chars, false);
}

const char *quote_str(char *dst, size_t cap, const char *s)
{
    return s == NULL ? quote_value(dst, cap, "", 0, QUOTE_MAX_CHARS)
                     : quote_value(dst, cap, s, strlen(s), QUOTE_MAX_CHARS);
}

void quote_vformat(char *msg, size_t cap, const char *fmt, va_list ap)
{
    char raw[QUOTE_FORMAT_MAX];
    int n = vsnprintf(raw, sizeof raw, fmt, ap);
    if (n < 0) {
        n = 0;
        raw[0] = '\0';
    }
    bool more = (size_t)n >= sizeof raw;
    quote__copy(msg, cap, raw, more ? sizeof raw - 1 : (size_t)n, SIZE_MAX, more);
}

void quote_format(char *msg, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    quote_vformat(msg, cap, fmt, ap);
    va_end(ap);
}
