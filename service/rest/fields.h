/*
 * fields.h - reading JSON request fields with the path of the first one
 * that is wrong ("nodes[2].releases[0].version: required"), as every 400
 * of the REST adapter names it.
 */
#ifndef ENT_REST_FIELDS_H
#define ENT_REST_FIELDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../core/model.h"

/* Longest identifier (characters) the adapter accepts; the other field
 * limits are core/model.h's too. */
#define FIELDS_MAX_ID MODEL_MAX_ID_CHARS
/* The identifiers that together name a stored object (a status log's
 * device: its publisher, idType and id) are one entry of a PostgreSQL
 * index, which holds at most 2,704 bytes with its headers: together they
 * are at most this many bytes of UTF-8. Any two of 255 characters fit
 * beside a third of 140 bytes; three of 255 characters of 4 bytes each
 * (3,060 bytes) do not. (A device's tenant, from entitlementctl, is 255
 * bytes at most: its ids always fit.) */
#define FIELDS_MAX_KEY_BYTES 2600
/* Longest path kept in a message. */
#define FIELDS_MAX_PATH 256

/* The first problem found; later checks on a bad fv do nothing. */
typedef struct fv {
    bool bad;
    char msg[FIELDS_MAX_PATH + 128];
} fv_t;

/* Kinds of strings: identifiers hold no control characters; text may hold
 * tabs and line breaks. */
typedef enum fv_text { FV_ID, FV_TEXT } fv_text_t;

/* Sets the problem of fv (printf format); returns false. */
bool fv_fail(fv_t *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The path of member name under prefix ("" at the top): "prefix.name". */
void fv_path(char *out, size_t cap, const char *prefix, const char *name);

/* Member name of obj as a string of at most max characters: NULL when
 * absent (a problem when required) or wrong. A longer one is the problem
 * "path: longer than max characters (n given)". */
const char *fv_string(fv_t *v, json_t *obj, const char *prefix, const char *name, bool required, size_t max,
                      fv_text_t kind);

/* Member name of obj as an integer (not a real, not a string) in
 * [min, max]: false when absent (a problem when required) or wrong. */
bool fv_integer(fv_t *v, json_t *obj, const char *prefix, const char *name, bool required, json_int_t min,
                json_int_t max, json_int_t *out);

/* Member name of obj as an object / an array: NULL when absent (a problem
 * when required) or of another type. */
json_t *fv_object(fv_t *v, json_t *obj, const char *prefix, const char *name, bool required);
json_t *fv_array(fv_t *v, json_t *obj, const char *prefix, const char *name, bool required);

/* False with the problem "names: at most FIELDS_MAX_KEY_BYTES bytes of
 * UTF-8 together (bytes given)" when bytes is over it (names lists the
 * fields, "id, idType and publisherName"). */
bool fv_key_fits(fv_t *v, const char *names, size_t bytes);

/* Whether s (n bytes) is UTF-8 of at most max characters and, for FV_ID,
 * holds no control characters (C0, DEL, C1) and is not only spaces (of
 * any kind: an identifier nobody can tell from another). */
bool fv_text_ok(const char *s, size_t n, size_t max, fv_text_t kind, const char **why);

#endif
