/* Reading a request's JSON in one pass (jsonr.h). */
#include "jsonr.h"

#include "utf8.h"

#include <stdbool.h>
#include <string.h>

/* Deeper nesting is left to jansson (its own limit is 2048): no request
 * of ours nests past a dozen, and the recursion stays shallow. */
#define JSONR_MAX_DEPTH 64
/* Integers of more digits are left to jansson, which says when one does
 * not fit in 64 bits: 18 digits always fit. */
#define JSONR_MAX_DIGITS 18

typedef struct jsonr__in {
    const char *p, *end;
    int depth;
} jsonr__in_t;

static json_t *jsonr__value(jsonr__in_t *in);

/* RFC 8259's white space, as jansson skips it. */
static void jsonr__ws(jsonr__in_t *in)
{
    while (in->p < in->end && (*in->p == ' ' || *in->p == '\n' || *in->p == '\r' || *in->p == '\t'))
        in->p++;
}

/* The string at in->p (its opening quote): its bytes in *s and *n, with
 * in->p past its closing quote. False for anything but a plain string:
 * an escape, a control character, a byte that is not UTF-8, no end. */
static bool jsonr__string(jsonr__in_t *in, const char **s, size_t *n)
{
    const unsigned char *p = (const unsigned char *)in->p + 1, *end = (const unsigned char *)in->end;
    *s = (const char *)p;
    while (p < end) {
        unsigned char c = *p;
        if (c == '"') {
            *n = (size_t)(p - (const unsigned char *)*s);
            in->p = (const char *)p + 1;
            return true;
        }
        if (c < 0x20 || c == '\\')
            return false;
        if (c < 0x80) {
            p++;
            continue;
        }
        unsigned cp;
        size_t k = utf8_decode((const char *)p, (size_t)(end - p), &cp);
        if (k == 0)
            return false;
        p += k;
    }
    return false;
}

/* An integer: '-'? then 0 or a digit 1-9 and more digits, and then
 * neither a fraction nor an exponent (a real is jansson's). */
static json_t *jsonr__integer(jsonr__in_t *in)
{
    const char *p = in->p;
    bool neg = *p == '-';
    if (neg)
        p++;
    const char *digits = p;
    long long v = 0;
    while (p < in->end && *p >= '0' && *p <= '9') {
        if (p - digits == JSONR_MAX_DIGITS)
            return NULL;
        v = v * 10 + (*p - '0');
        p++;
    }
    if (p == digits || (*digits == '0' && p - digits > 1))
        return NULL;
    if (p < in->end && (*p == '.' || *p == 'e' || *p == 'E'))
        return NULL;
    in->p = p;
    return json_integer(neg ? -v : v);
}

/* One of true, false and null. */
static json_t *jsonr__literal(jsonr__in_t *in, const char *word, size_t n, json_t *(*make)(void))
{
    if ((size_t)(in->end - in->p) < n || memcmp(in->p, word, n) != 0)
        return NULL;
    in->p += n;
    return make();
}

/* After a member or an element: 1 when a ',' announces another (white
 * space after it skipped), 0 at the closing bracket close (passed), -1
 * for anything else. */
static int jsonr__next(jsonr__in_t *in, char close)
{
    jsonr__ws(in);
    if (in->p < in->end && *in->p == ',') {
        in->p++;
        jsonr__ws(in);
        return 1;
    }
    if (in->p < in->end && *in->p == close) {
        in->p++;
        return 0;
    }
    return -1;
}

static json_t *jsonr__object(jsonr__in_t *in)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    in->p++;
    jsonr__ws(in);
    if (in->p < in->end && *in->p == '}') {
        in->p++;
        return o;
    }
    for (;;) {
        const char *key;
        size_t klen;
        if (in->p >= in->end || *in->p != '"' || !jsonr__string(in, &key, &klen))
            break;
        jsonr__ws(in);
        if (in->p >= in->end || *in->p != ':')
            break;
        in->p++;
        jsonr__ws(in);
        json_t *v = jsonr__value(in);
        if (v == NULL)
            break;
        /* A duplicate is refused, with jansson's words for it. */
        if (json_object_getn(o, key, klen) != NULL) {
            json_decref(v);
            break;
        }
        if (json_object_setn_new_nocheck(o, key, klen, v) != 0) /* (takes v, even when it fails) */
            break;
        int more = jsonr__next(in, '}');
        if (more == 0)
            return o;
        if (more < 0)
            break;
    }
    json_decref(o);
    return NULL;
}

static json_t *jsonr__array(jsonr__in_t *in)
{
    json_t *a = json_array();
    if (a == NULL)
        return NULL;
    in->p++;
    jsonr__ws(in);
    if (in->p < in->end && *in->p == ']') {
        in->p++;
        return a;
    }
    for (;;) {
        json_t *v = jsonr__value(in);
        if (v == NULL || json_array_append_new(a, v) != 0) /* (takes v, even when it fails) */
            break;
        int more = jsonr__next(in, ']');
        if (more == 0)
            return a;
        if (more < 0)
            break;
    }
    json_decref(a);
    return NULL;
}

/* The value at in->p (white space skipped before it, not after). */
static json_t *jsonr__value(jsonr__in_t *in)
{
    if (in->p >= in->end)
        return NULL;
    json_t *v = NULL;
    switch (*in->p) {
    case '{':
    case '[':
        if (in->depth >= JSONR_MAX_DEPTH)
            return NULL;
        in->depth++;
        v = *in->p == '{' ? jsonr__object(in) : jsonr__array(in);
        in->depth--;
        return v;
    case '"': {
        const char *s;
        size_t n;
        return jsonr__string(in, &s, &n) ? json_stringn_nocheck(s, n) : NULL;
    }
    case 't':
        return jsonr__literal(in, "true", 4, json_true);
    case 'f':
        return jsonr__literal(in, "false", 5, json_false);
    case 'n':
        return jsonr__literal(in, "null", 4, json_null);
    default:
        return *in->p == '-' || (*in->p >= '0' && *in->p <= '9') ? jsonr__integer(in) : NULL;
    }
}

json_t *jsonr_fast(const char *s, size_t len)
{
    jsonr__in_t in = {s, s + len, 0};
    jsonr__ws(&in);
    /* An object or an array, as json_loadb takes without JSON_DECODE_ANY. */
    if (in.p >= in.end || (*in.p != '{' && *in.p != '['))
        return NULL;
    json_t *v = jsonr__value(&in);
    if (v == NULL)
        return NULL;
    jsonr__ws(&in);
    if (in.p != in.end) {
        json_decref(v);
        return NULL;
    }
    return v;
}

json_t *jsonr_load(const char *s, size_t len, json_error_t *e)
{
    json_t *v = jsonr_fast(s, len);
    return v != NULL ? v : json_loadb(s, len, JSON_REJECT_DUPLICATES, e);
}
