#include "fields.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../core/quote.h"
#include "../core/utf8.h"
#include "../lifecycle/rules.h"

bool fv_fail(fv_t *v, const char *fmt, ...)
{
    va_list ap;
    if (v->bad)
        return false;
    va_start(ap, fmt);
    quote_vformat(v->msg, sizeof v->msg, fmt, ap);
    va_end(ap);
    v->bad = true;
    return false;
}

void fv_path(char *out, size_t cap, const char *prefix, const char *name)
{
    snprintf(out, cap, "%s%s%s", prefix, prefix[0] ? "." : "", name);
}

bool fv_key_fits(fv_t *v, const char *names, size_t bytes)
{
    if (v->bad || bytes <= FIELDS_MAX_KEY_BYTES)
        return !v->bad;
    return fv_fail(v, "%s: at most %d bytes of UTF-8 together (%zu given)", names, FIELDS_MAX_KEY_BYTES, bytes);
}

/* The length of the space character (a Unicode space separator, or a
 * zero-width space, joiner or byte order mark) at s, n bytes left; 0 when
 * s is not at one. */
static size_t fv__space(const unsigned char *s, size_t n)
{
    if (s[0] == ' ')
        return 1;
    if (n >= 2 && s[0] == 0xC2 && s[1] == 0xA0)
        return 2; /* U+00A0 */
    if (n < 3)
        return 0;
    unsigned a = s[0], b = s[1], c = s[2];
    if ((a == 0xE1 && b == 0x9A && c == 0x80) ||                 /* U+1680 */
        (a == 0xE2 && b == 0x80 && (c <= 0x8B || c == 0xAF)) || /* U+2000..U+200B, U+202F */
        (a == 0xE2 && b == 0x81 && (c == 0x9F || c == 0xA0)) || /* U+205F, U+2060 */
        (a == 0xE3 && b == 0x80 && c == 0x80) ||                 /* U+3000 */
        (a == 0xEF && b == 0xBB && c == 0xBF))                   /* U+FEFF */
        return 3;
    return 0;
}

bool fv_text_ok(const char *s, size_t n, size_t max, fv_text_t kind, const char **why)
{
    size_t chars = 0;
    /* JSON strings are UTF-8 already (jansson checks); paths, queries and
     * headers are bytes. */
    if (!utf8_valid(s, n)) {
        *why = "is not valid UTF-8";
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) != 0x80)
            chars++;
        bool control = c < 0x20 || c == 0x7F;
        /* C1 controls are U+0080..U+009F: 0xC2 0x80..0x9F in UTF-8. */
        if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] <= 0x9F)
            control = true;
        if (kind == FV_TEXT && (c == '\t' || c == '\n' || c == '\r'))
            control = false;
        if (control) {
            *why = "holds a control character";
            return false;
        }
    }
    if (chars > max) {
        *why = "too long";
        return false;
    }
    if (kind == FV_ID && n > 0) {
        size_t i = 0, k;
        while (i < n && (k = fv__space((const unsigned char *)s + i, n - i)) > 0)
            i += k;
        if (i == n) {
            *why = "is only spaces";
            return false;
        }
    }
    return true;
}

/* Member name of obj; NULL when absent (a problem when required). The
 * path (prefix.name) is only written when there is a problem to name. */
static json_t *fv__member(fv_t *v, json_t *obj, const char *prefix, const char *name, bool required)
{
    json_t *m = json_is_object(obj) ? json_object_get(obj, name) : NULL;
    if (v->bad)
        return NULL;
    if (m == NULL || json_is_null(m)) {
        if (required)
            fv_fail(v, "%s%s%s: required", prefix, prefix[0] ? "." : "", name);
        return NULL;
    }
    return m;
}

#define FV_PATH(prefix, name) (prefix), (prefix)[0] ? "." : "", (name)

const char *fv_string(fv_t *v, json_t *obj, const char *prefix, const char *name, bool required, size_t max,
                      fv_text_t kind)
{
    const char *why;
    json_t *m = fv__member(v, obj, prefix, name, required);
    if (m == NULL)
        return NULL;
    if (!json_is_string(m)) {
        fv_fail(v, "%s%s%s: must be a string", FV_PATH(prefix, name));
        return NULL;
    }
    if (!fv_text_ok(json_string_value(m), json_string_length(m), max, kind, &why)) {
        size_t chars;
        if (strcmp(why, "too long") == 0 && !lc_text_fits(json_string_value(m), max, &chars))
            fv_fail(v, "%s%s%s: longer than %zu characters (%zu given)", FV_PATH(prefix, name), max, chars);
        else
            fv_fail(v, "%s%s%s: %s", FV_PATH(prefix, name), why);
        return NULL;
    }
    return json_string_value(m);
}

bool fv_integer(fv_t *v, json_t *obj, const char *prefix, const char *name, bool required, json_int_t min,
                json_int_t max, json_int_t *out)
{
    json_t *m = fv__member(v, obj, prefix, name, required);
    if (m == NULL)
        return false;
    /* JSON has one kind of number: 4.0 or 4e0 is the integer 4 (what a
     * client whose numbers are all doubles may send); 4.5 is not. A
     * double outside 64 bits is not converted (undefined behaviour). */
    json_int_t i;
    if (json_is_real(m)) {
        double d = json_real_value(m);
        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || (double)(json_int_t)d != d)
            return fv_fail(v, "%s%s%s: must be an integer", FV_PATH(prefix, name));
        i = (json_int_t)d;
    } else if (json_is_integer(m)) {
        i = json_integer_value(m);
    } else {
        return fv_fail(v, "%s%s%s: must be an integer", FV_PATH(prefix, name));
    }
    if (i < min || i > max)
        return fv_fail(v, "%s%s%s: must be between %lld and %lld", FV_PATH(prefix, name), (long long)min,
                       (long long)max);
    *out = i;
    return true;
}

json_t *fv_object(fv_t *v, json_t *obj, const char *prefix, const char *name, bool required)
{
    json_t *m = fv__member(v, obj, prefix, name, required);
    if (m != NULL && !json_is_object(m)) {
        fv_fail(v, "%s%s%s: must be an object", FV_PATH(prefix, name));
        return NULL;
    }
    return m;
}

json_t *fv_array(fv_t *v, json_t *obj, const char *prefix, const char *name, bool required)
{
    json_t *m = fv__member(v, obj, prefix, name, required);
    if (m != NULL && !json_is_array(m)) {
        fv_fail(v, "%s%s%s: must be an array", FV_PATH(prefix, name));
        return NULL;
    }
    return m;
}
