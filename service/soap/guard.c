#include "guard.h"

#include <string.h>

void guard_reset(guard_t *g)
{
    memset(g, 0, sizeof *g);
}

/* One byte of the UTF-8 automaton (Unicode 15, table 3-7). */
static bool guard__utf8(guard_t *g, unsigned char c)
{
    if (g->need > 0) {
        if (c < g->lo || c > g->hi)
            return false;
        g->need--;
        g->lo = 0x80;
        g->hi = 0xBF;
        return true;
    }
    if (c < 0x80)
        return true;
    g->lo = 0x80;
    g->hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        g->need = 1;
    else if (c == 0xE0) {
        g->need = 2;
        g->lo = 0xA0;
    } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
        g->need = 2;
    else if (c == 0xED) {
        g->need = 2;
        g->hi = 0x9F; /* no surrogates */
    } else if (c == 0xF0) {
        g->need = 3;
        g->lo = 0x90;
    } else if (c >= 0xF1 && c <= 0xF3)
        g->need = 3;
    else if (c == 0xF4) {
        g->need = 3;
        g->hi = 0x8F;
    } else
        return false;
    return true;
}

/* Whether XML 1.0 allows code point v (production Char). */
static bool guard__xml_char(unsigned long v)
{
    return v == 0x9 || v == 0xA || v == 0xD || (v >= 0x20 && v <= 0xD7FF) || (v >= 0xE000 && v <= 0xFFFD) ||
           (v >= 0x10000 && v <= 0x10FFFF);
}

/* Whether the window ends with s. */
static bool guard__ends(const guard_t *g, const char *s)
{
    size_t n = strlen(s);
    return memcmp(g->win + GUARD_WINDOW - n, s, n) == 0;
}

/* Largest value of a character reference we count to: past U+10FFFF it
 * is refused anyway, and the count cannot overflow. */
#define GUARD_REF_CAP 0x110000UL

/* One byte of the character check; false when it refuses. */
static bool guard__char(guard_t *g, unsigned char c)
{
    if (c < 0x20 && !guard__xml_char(c)) {
        g->bad = c;
        return false;
    }
    memmove(g->win, g->win + 1, GUARD_WINDOW - 1);
    g->win[GUARD_WINDOW - 1] = c;
    switch (g->markup) {
    case 1:
        g->markup = guard__ends(g, "-->") ? 0 : 1;
        return true;
    case 2:
        g->markup = guard__ends(g, "]]>") ? 0 : 2;
        return true;
    case 3:
        g->markup = guard__ends(g, "?>") ? 0 : 3;
        return true;
    default:
        break;
    }
    if (guard__ends(g, "<!--") || guard__ends(g, "<![CDATA[") || guard__ends(g, "<?")) {
        g->markup = guard__ends(g, "<!--") ? 1 : guard__ends(g, "<?") ? 3 : 2;
        g->ref = 0;
        return true;
    }
    bool dec = c >= '0' && c <= '9';
    bool hex = dec || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
    unsigned long digit = dec ? (unsigned long)(c - '0') : (unsigned long)((c | 0x20) - 'a' + 10);
    switch (g->ref) {
    case 1:
        g->ref = c == '#' ? 2 : c == '&' ? 1 : 0;
        g->value = 0;
        return true;
    case 2:
        g->ref = c == 'x' ? 4 : dec ? 3 : c == '&' ? 1 : 0;
        g->value = dec ? digit : 0;
        return true;
    case 3:
    case 4:
    case 5:
        if (g->ref == 3 ? dec : hex) {
            g->value = g->value * (g->ref == 3 ? 10 : 16) + digit;
            if (g->value > GUARD_REF_CAP)
                g->value = GUARD_REF_CAP;
            if (g->ref == 4)
                g->ref = 5;
            return true;
        }
        if (c == ';' && !guard__xml_char(g->value)) { /* "&#x;" counts as 0 */
            g->bad = g->value;
            return false;
        }
        g->ref = c == '&' ? 1 : 0;
        return true;
    default:
        g->ref = c == '&' ? 1 : 0;
        return true;
    }
}

guard_verdict_t guard_feed(guard_t *g, const char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)buf;

    for (size_t i = 0; i < len && g->verdict == GUARD_OK; i++) {
        unsigned char c = s[i];
        if (!guard__utf8(g, c)) {
            g->verdict = GUARD_BAD_UTF8;
            break;
        }
        if (!guard__char(g, c)) {
            g->verdict = GUARD_BAD_CHAR;
            break;
        }
        /* "<!" followed by a letter starts a declaration (DOCTYPE, ENTITY,
         * ELEMENT, ATTLIST); comments "<!--" and CDATA "<![" are fine. */
        if (g->ntail == 2 && g->tail[0] == '<' && g->tail[1] == '!' &&
            ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
            g->verdict = GUARD_DTD;
        if (g->ntail == 2)
            g->tail[0] = g->tail[1];
        else
            g->ntail++;
        g->tail[g->ntail - 1] = c;
    }
    return g->verdict;
}
