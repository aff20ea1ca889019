/*
 * jsonr.h - reading a request's JSON into jansson's values, faster than
 * jansson's own parser for the common forms.
 *
 * json_loadb reads a byte at a time through a stream, checks and saves each
 * one into a growing buffer and scans every string twice: 35 µs for a
 * device report of 2 KB, a quarter of the daemon's CPU for the request.
 * jsonr_fast reads the same text in one pass and builds the same values
 * with jansson's constructors. It takes only what it is sure of: objects,
 * arrays, strings without escapes, integers of up to 18 digits, true,
 * false, null. Anything else (a real, an escape, a duplicate key, deep
 * nesting, any error) makes it give up, and jsonr_load then asks jansson,
 * whose answer (the value, or the error and its position) is the one that
 * counts. So every text jsonr_fast accepts is one json_loadb accepts, with
 * the same values in the same order (tests/fuzz/fuzz_jsonr.c holds it to
 * that).
 */
#ifndef ENT_JSONR_H
#define ENT_JSONR_H

#include <jansson.h>
#include <stddef.h>

/* The object or array that len bytes at s hold (the caller's reference),
 * or NULL when the fast reader leaves the text to jansson. */
json_t *jsonr_fast(const char *s, size_t len);

/* As json_loadb(s, len, JSON_REJECT_DUPLICATES, e) would answer, read by
 * jsonr_fast when it can (*e is then untouched). */
json_t *jsonr_load(const char *s, size_t len, json_error_t *e);

#endif
