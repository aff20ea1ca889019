/*
 * quote.h - request values in messages: SOAP faults, failure reasons, REST
 * error bodies and log lines.
 *
 * Whatever a client sent, a message quoting it stays text every reader
 * takes: valid UTF-8 of characters XML 1.0 and JSON can carry, without
 * control characters (a log line stays one line), cut only between
 * characters and never between a character and its combining marks, with
 * the cut marked. Escaping <, & and " is the serialiser's (gSOAP, jansson,
 * jsonw): this makes the text something they can escape.
 */
#ifndef ENT_QUOTE_H
#define ENT_QUOTE_H

#include <stdarg.h>
#include <stddef.h>

#define QUOTE_CUT "\xE2\x80\xA6"         /* U+2026, where text was cut */
#define QUOTE_REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD, for what cannot be carried */

/* Longest part of a request value a message quotes, in characters. */
#define QUOTE_MAX_CHARS 64

/* Buffer size that holds any quote_value of at most max_chars characters
 * (a character takes at most 4 bytes; the cut mark, 3; the NUL, 1). */
#define QUOTE_SIZE(max_chars) ((max_chars) * 4 + 4)

/* Writes the n bytes at s into dst (cap bytes, at least 4) as a message
 * quotes them: at most max_chars characters, and as many as fit; a cut
 * falls between characters, before a character's combining marks rather
 * than among them, and is marked with U+2026. Invalid UTF-8, control
 * characters and characters XML 1.0 does not allow each become U+FFFD.
 * Returns dst, NUL-terminated. */
const char *quote_value(char *dst, size_t cap, const char *s, size_t n, size_t max_chars);

/* quote_value of a NUL-terminated s (NULL reads as ""), at most
 * QUOTE_MAX_CHARS characters. */
const char *quote_str(char *dst, size_t cap, const char *s);

/* Formats into msg (cap bytes) and makes the result whole as quote_value
 * does: a message longer than msg is cut on a character boundary and
 * marked, and anything that is not carriable text is replaced. Every
 * message that may hold request text is built with this. */
void quote_vformat(char *msg, size_t cap, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
void quote_format(char *msg, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
