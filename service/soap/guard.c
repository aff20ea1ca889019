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

guard_verdict_t guard_feed(guard_t *g, const char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)buf;

    for (size_t i = 0; i < len && g->verdict == GUARD_OK; i++) {
        unsigned char c = s[i];
        if (!guard__utf8(g, c)) {
            g->verdict = GUARD_BAD_UTF8;
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
