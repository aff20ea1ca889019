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

/* Writes the UTF-8 of the n bytes of UTF-16 at in (big_endian or little;
 * no byte order mark: the caller has read it) into out, which holds cap
 * bytes (n / 2 * 3 always suffice). Returns the bytes written, or
 * (size_t)-1 when the text is not UTF-16 (an odd byte at the end, a
 * surrogate without its pair) or out is too small; *bad_at then holds the
 * offset in in of the unit that failed. */
size_t utf16_to_utf8(const unsigned char *in, size_t n, bool big_endian, char *out, size_t cap, size_t *bad_at);

/* Writes the UTF-8 of the n bytes of ISO-8859-1 at in into out, which
 * holds at least 2 * n bytes (every byte is a character: U+0000 to
 * U+00FF). Returns the bytes written. */
size_t latin1_to_utf8(const unsigned char *in, size_t n, char *out);

#endif
