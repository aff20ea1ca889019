/*
 * utf8.h - reading UTF-8 strictly: one decoder for every check of a
 * request's text (identifiers, JSON fields, quoting in messages).
 *
 * Strict means RFC 3629: no overlong forms, no surrogates (U+D800 to
 * U+DFFF), nothing past U+10FFFF, no stray continuation bytes.
 */
#ifndef ENT_UTF8_H
#define ENT_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* The character at s (n bytes available, n > 0): stores its code point in
 * *cp and returns its length, 1 to 4; returns 0 for an invalid or
 * incomplete sequence. */
size_t utf8_decode(const char *s, size_t n, unsigned *cp);

/* len bytes at s are valid UTF-8. */
bool utf8_valid(const char *s, size_t len);

/* len bytes at s are valid UTF-8 of characters XML 1.0 allows (no C0
 * control but tab, LF and CR; no U+FFFE or U+FFFF). */
bool utf8_xml_valid(const char *s, size_t len);

/* cp may appear in an XML 1.0 document. */
bool utf8_is_xml_char(unsigned cp);

/* C0 controls, DEL, C1 controls, and the line and paragraph separators. */
bool utf8_is_control(unsigned cp);

/* Unicode White_Space: tab to carriage return, the spaces (no-break, ideographic,
 * en, em, ...), the next-line control and the line and paragraph separators.
 * A name made of nothing else is empty. */
bool utf8_is_space(unsigned cp);

/* Whether s is NULL, empty or nothing but utf8_is_space characters (a byte
 * that does not decode is not a space). */
bool utf8_is_blank(const char *s);

/* cp combines with the character before it (the combining-mark blocks,
 * variation selectors and the zero-width joiner): a cut just before it
 * would change how that character reads. */
bool utf8_is_combining(unsigned cp);

#endif
