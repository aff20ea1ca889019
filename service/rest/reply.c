/* Replies and request helpers shared by the REST handlers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/hex.h"
#include "../core/jsonr.h"
#include "../core/log.h"
#include "../core/quote.h"
#include "rest_int.h"

#define REPLY_JSON "application/json; charset=utf-8"

void rest_raw(rest_ctx_t *c, int status, const char *content_type, const void *body, size_t n)
{
    if (http_respond(c->x, status, content_type, NULL, body, n) != ENT_OK) {
        log_error("cannot write a response of %zu bytes: out of memory", n);
        http_discard(c->x);
        http_close_after(c->x);
    }
}

void rest_json(rest_ctx_t *c, int status, json_t *body, const char *extra_headers)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        log_error("cannot write a JSON response: out of memory");
        static const char oom[] = "{\"message\":\"out of memory\",\"status\":500}";
        if (http_respond(c->x, 500, REPLY_JSON, NULL, oom, sizeof oom - 1) != ENT_OK)
            http_close_after(c->x);
        return;
    }
    if (http_respond(c->x, status, REPLY_JSON, extra_headers, text, strlen(text)) != ENT_OK) {
        http_discard(c->x);
        http_close_after(c->x);
    }
    free(text);
}

void rest_error(rest_ctx_t *c, int status, const char *extra_headers, const char *fmt, ...)
{
    char msg[512], extra[256];
    va_list ap;
    va_start(ap, fmt);
    quote_vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(extra, sizeof extra, "%s%s", extra_headers ? extra_headers : "",
             status == 503 ? "Retry-After: 1\r\n" : "");
    if (status >= 500)
        log_warn("HTTP %d: %s", status, msg);
    else
        log_info("HTTP %d: %s", status, msg);
    if (c->error_shape != NULL) {
        c->error_shape(c, status, extra, msg);
        return;
    }
    rest_json(c, status, json_pack("{s:s, s:i}", "message", msg, "status", status), extra);
}

bool rest_json_media(const rest_ctx_t *c)
{
    const char *cs;
    size_t k;
    if (!http_content_type_is(c->r, "application/json"))
        return false;
    /* A charset, if named, is UTF-8: a body is read as nothing else.
     * (utf8, without the dash, is what some clients write.) */
    if (!http_content_type_charset(c->r, &cs, &k))
        return true;
    return (k == 5 && strncasecmp(cs, "utf-8", 5) == 0) || (k == 4 && strncasecmp(cs, "utf8", 4) == 0);
}

const char *rest_json_problem(const json_error_t *e)
{
    /* jansson names its own flag for this one. */
    if (strstr(e->text, "JSON_ALLOW_NUL") != NULL)
        return "a string holds \\u0000 (NUL), which is not allowed";
    return e->text;
}

/* Appends the path step of key (or of index i when key is NULL) to path
 * (len bytes used, cap in all): "a", ".b", "[2]". */
static size_t reply__step(char *path, size_t len, size_t cap, const char *key, size_t i)
{
    int n = key ? snprintf(path + len, cap - len, "%s%s", len ? "." : "", key)
                : snprintf(path + len, cap - len, "[%zu]", i);
    return n < 0 ? len : len + (size_t)n < cap ? len + (size_t)n : cap - 1;
}

/* Whether v holds a number beyond a 64-bit integer (v read with
 * JSON_DECODE_INT_AS_REAL); the path of the first one into path. */
static bool reply__huge(const json_t *v, char *path, size_t len, size_t cap)
{
    if (json_is_real(v)) {
        double d = json_real_value(v);
        return d >= 9223372036854775808.0 || d < -9223372036854775808.0;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (reply__huge(json_array_get(v, i), path, reply__step(path, len, cap, NULL, i), cap))
                return true;
    } else if (json_is_object(v)) {
        const char *key;
        const json_t *m;
        json_object_foreach ((json_t *)v, key, m)
            if (reply__huge(m, path, reply__step(path, len, cap, key, 0), cap))
                return true;
    }
    path[len] = '\0';
    return false;
}

/* The path of the value the JSON text b is at when it reaches byte pos
 * ("nodes[0].releases[0].version"), for a message about malformed JSON;
 * "" at the top, or when nested deeper than is worth naming. Keys are as
 * written (escapes and all). */
static void reply__path_at(const char *b, size_t pos, char *path, size_t cap)
{
    enum { DEPTH = 64 };
    struct {
        bool obj, expect_key, has_key;
        const char *key;
        size_t klen, index;
    } st[DEPTH];
    int depth = 0;
    path[0] = '\0';
    for (size_t i = 0; i < pos; i++) {
        char ch = b[i];
        if (ch == '"') {
            size_t j = i + 1;
            while (j < pos && b[j] != '"')
                j += b[j] == '\\' ? 2 : 1;
            if (j > pos)
                j = pos;
            if (depth > 0 && st[depth - 1].obj && st[depth - 1].expect_key) {
                st[depth - 1].key = b + i + 1;
                st[depth - 1].klen = j - i - 1;
                st[depth - 1].has_key = true;
                st[depth - 1].expect_key = false;
            }
            i = j;
        } else if (ch == '{' || ch == '[') {
            if (depth == DEPTH)
                return;
            st[depth].obj = ch == '{';
            st[depth].expect_key = ch == '{';
            st[depth].has_key = false;
            st[depth].index = 0;
            depth++;
        } else if ((ch == '}' || ch == ']') && depth > 0) {
            depth--;
        } else if (ch == ',' && depth > 0) {
            if (st[depth - 1].obj) {
                st[depth - 1].expect_key = true;
                st[depth - 1].has_key = false;
            } else {
                st[depth - 1].index++;
            }
        }
    }
    size_t len = 0;
    for (int d = 0; d < depth; d++) {
        char key[256];
        if (st[d].obj && !st[d].has_key)
            break;
        if (st[d].obj)
            snprintf(key, sizeof key, "%.*s", (int)(st[d].klen < 255 ? st[d].klen : 255), st[d].key);
        len = reply__step(path, len, cap, st[d].obj ? key : NULL, st[d].index);
    }
}

void rest_json_refusal(const rest_ctx_t *c, const json_error_t *e, char *msg, size_t cap)
{
    /* jansson says only where an integer overflowed: read again with
     * numbers as reals, the field is found and named as every other is. */
    if (json_error_code(e) == json_error_numeric_overflow) {
        json_error_t again;
        json_t *v = json_loadb(c->r->body, c->r->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &again);
        char path[256] = "";
        bool found = v != NULL && reply__huge(v, path, 0, sizeof path) && path[0] != '\0';
        json_decref(v);
        if (found) {
            /* (Keys are the client's: quoted as every message's values.) */
            quote_format(msg, cap, "%s: must be an integer of at most 64 bits", path);
            return;
        }
    }
    /* Where it went wrong, named as a field is when it can be: the value
     * (or key) being read at that byte. */
    char path[256];
    size_t at = e->position > 0 && (size_t)e->position <= c->r->body_len ? (size_t)e->position : 0;
    reply__path_at(c->r->body, at, path, sizeof path);
    if (path[0] != '\0')
        quote_format(msg, cap, "%s: malformed JSON at byte %d: %s", path, e->position, rest_json_problem(e));
    else
        snprintf(msg, cap, "malformed JSON at byte %d: %s", e->position, rest_json_problem(e));
}

bool rest_body_missing(const rest_ctx_t *c)
{
    const char *v;
    size_t n;
    return c->r->body_len == 0 && !http_header(c->r, "Content-Type", &v, &n);
}

json_t *rest_body_read(rest_ctx_t *c, int *status, char *msg, size_t cap)
{
    json_error_t e;
    if (rest_body_missing(c)) {
        *status = 400;
        snprintf(msg, cap, "a JSON body is required (Content-Type: application/json)");
        return NULL;
    }
    if (!rest_json_media(c)) {
        *status = 415;
        snprintf(msg, cap, "the body must be application/json (UTF-8)");
        return NULL;
    }
    /* Duplicate keys are refused: two readers of one body must not
     * disagree on what it says. */
    json_t *v = jsonr_load(c->r->body, c->r->body_len, &e);
    if (v == NULL) {
        *status = 400;
        rest_json_refusal(c, &e, msg, cap);
    }
    return v;
}

json_t *rest_body(rest_ctx_t *c)
{
    int status;
    char msg[320];
    json_t *v = rest_body_read(c, &status, msg, sizeof msg);
    if (v == NULL)
        rest_error(c, status, NULL, "%s", msg);
    return v;
}

auth_verdict_t rest_api_token(rest_ctx_t *c, store_token_t *tok, const char **why)
{
    const char *v, *token;
    size_t n, len;
    *why = "no Bearer token";
    if (!http_header(c->r, "Authorization", &v, &n) || !auth_bearer(v, n, &token, &len))
        return AUTH_DENIED;
    return auth_token(c->f->auth, token, len, tok, why);
}

bool rest_decode(const char *in, size_t n, char *out, size_t cap, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = in[i];
        if (ch == '%') {
            if (i + 2 >= n)
                return false;
            int hi = hex_digit(in[i + 1]), lo = hex_digit(in[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            ch = (char)(hi * 16 + lo);
            i += 2;
        }
        if (ch == '\0' || o + 1 >= cap)
            return false;
        out[o++] = ch;
    }
    out[o] = '\0';
    if (out_len != NULL)
        *out_len = o;
    return true;
}

int rest_query(const rest_ctx_t *c, const char *name, char *buf, size_t cap)
{
    const char *q = c->r->query, *at = NULL;
    size_t k = strlen(name), len = 0;
    while (*q != '\0') {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        if (n >= k && (n == k || q[k] == '=') && memcmp(q, name, k) == 0) {
            if (at != NULL)
                return -2;
            at = q;
            len = n;
        }
        q += n + (amp ? 1 : 0);
    }
    if (at == NULL)
        return 0;
    if (len == k) { /* "name" without '=': an empty value */
        if (cap == 0)
            return -1;
        buf[0] = '\0';
        return 1;
    }
    /* '+' is a space in a query string. */
    char tmp[4 * REST_MAX_PARAM + 1];
    size_t tl = len - k - 1 < sizeof tmp - 1 ? len - k - 1 : sizeof tmp - 1;
    memcpy(tmp, at + k + 1, tl);
    for (size_t i = 0; i < tl; i++)
        if (tmp[i] == '+')
            tmp[i] = ' ';
    return tl == len - k - 1 && rest_decode(tmp, tl, buf, cap, NULL) ? 1 : -1;
}
