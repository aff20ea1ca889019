#include "utf8.h"

#include <string.h>

size_t utf8_decode(const char *str, size_t n, unsigned *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[0], v;
    size_t len;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
    } else {
        return 0; /* a continuation byte, C0, C1 (overlong) or F5..FF */
    }
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[k] & 0x3Fu);
    }
    /* Overlong forms, surrogates and values past U+10FFFF. */
    if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

static bool utf8__scan(const char *s, size_t len, bool xml)
{
    for (size_t i = 0, n; i < len; i += n) {
        unsigned cp;
        /* ASCII without a call: most text is. */
        if ((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x80) {
            n = 1;
            continue;
        }
        if ((n = utf8_decode(s + i, len - i, &cp)) == 0 || (xml && !utf8_is_xml_char(cp)))
            return false;
    }
    return true;
}

bool utf8_valid(const char *s, size_t len)
{
    return utf8__scan(s, len, false);
}

bool utf8_xml_valid(const char *s, size_t len)
{
    return utf8__scan(s, len, true);
}

bool utf8_is_xml_char(unsigned cp)
{
    if (cp < 0x20)
        return cp == '\t' || cp == '\n' || cp == '\r';
    return cp != 0xFFFE && cp != 0xFFFF && !(cp >= 0xD800 && cp <= 0xDFFF) && cp <= 0x10FFFF;
}

bool utf8_is_control(unsigned cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
}

bool utf8_is_space(unsigned cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

bool utf8_is_blank(const char *s)
{
    size_t len = s != NULL ? strlen(s) : 0;
    for (size_t i = 0, n; i < len; i += n) {
        unsigned cp = 0;
        if ((n = utf8_decode(s + i, len - i, &cp)) == 0 || !utf8_is_space(cp))
            return false;
    }
    return true;
}

bool utf8_is_combining(unsigned cp)
{
    return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) || (cp >= 0x1DC0 && cp <= 0x1DFF) ||
           (cp >= 0x20D0 && cp <= 0x20FF) || (cp >= 0xFE20 && cp <= 0xFE2F) || (cp >= 0xFE00 && cp <= 0xFE0F) ||
           (cp >= 0xE0100 && cp <= 0xE01EF) || cp == 0x200D;
}

size_t utf16_to_utf8(const unsigned char *in, size_t n, bool big_endian, char *out, size_t cap, size_t *bad_at)
{
    int hi = big_endian ? 0 : 1;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        *bad_at = i;
        if (n - i < 2)
            return (size_t)-1;
        unsigned cp = (unsigned)in[i + hi] << 8 | in[i + 1 - hi], len;
        i += 2;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return (size_t)-1; /* a low surrogate first */
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo = n - i >= 2 ? ((unsigned)in[i + hi] << 8 | in[i + 1 - hi]) : 0;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return (size_t)-1;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 2;
        }
        len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (cap - o < len)
            return (size_t)-1;
        if (len == 1) {
            out[o++] = (char)cp;
            continue;
        }
        static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
        for (unsigned k = len - 1; k > 0; k--, cp >>= 6)
            out[o + k] = (char)(0x80 | (cp & 0x3F));
        out[o] = (char)(lead[len] | cp);
        o += len;
    }
    return o;
}

size_t latin1_to_utf8(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] < 0x80) {
            out[o++] = (char)in[i];
        } else {
            out[o++] = (char)(0xC0 | (in[i] >> 6));
            out[o++] = (char)(0x80 | (in[i] & 0x3F));
        }
    }
    return o;
}
