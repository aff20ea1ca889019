/*
 * jsonw.h - writing JSON text straight into a buffer.
 *
 * For the hot paths that answer or store JSON built from values already
 * checked: no tree of nodes to allocate, fill, serialise and free (with
 * jansson that was half of the daemon's time on a device report). Strings
 * must be valid UTF-8 (they come from a parsed request, or are ours); they
 * are escaped as RFC 8259 requires.
 */
#ifndef ENT_JSONW_H
#define ENT_JSONW_H

#include <stdbool.h>
#include <stddef.h>

typedef struct jsonw {
    char *data;   /* NUL-terminated; malloc'd, the caller frees (jsonw_take or free) */
    size_t len, cap;
    bool oom;     /* an append failed: the text is incomplete */
} jsonw_t;

/* Appends n bytes as they are (punctuation, names known to need no
 * escaping, a JSON text from elsewhere). */
void jsonw_raw(jsonw_t *w, const char *s, size_t n);
/* Appends a NUL-terminated literal as it is. */
void jsonw_lit(jsonw_t *w, const char *s);
/* Appends s (n bytes) as a JSON string, quoted and escaped. */
void jsonw_str(jsonw_t *w, const char *s, size_t n);
/* Appends a NUL-terminated s as a JSON string; NULL gives null. */
void jsonw_cstr(jsonw_t *w, const char *s);
/* Appends an integer. */
void jsonw_int(jsonw_t *w, long long v);
/* Writes the decimal digits of v (and a '-') at the end of buf, which
 * holds JSONW_INT_MAX bytes; returns where they start (not
 * NUL-terminated: they end at buf + JSONW_INT_MAX). */
#define JSONW_INT_MAX 20
char *jsonw_digits(char *buf, long long v);

/* The text (the caller's to free), or NULL when an append failed (the
 * buffer is freed then). */
char *jsonw_take(jsonw_t *w);

#endif
