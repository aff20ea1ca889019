/*
 * Idempotency-Key: a POST that carries one is done once; the same key with
 * the same request (method, path, body) replays the first response for 24
 * hours, the same key with another request is 409. The key's row is
 * written by the request's own statement, so a response is kept exactly
 * when its work committed; of two concurrent requests with one key, the
 * second waits for the first and then replays it.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/hex.h"
#include "../core/log.h"
#include "fields.h"
#include "rest_int.h"

db_conn_t *rest_db(rest_ctx_t *c)
{
    db_conn_t *conn = NULL;
    int rc = db_pool_acquire(c->f->pool, &conn);
    if (rc != ENT_OK) {
        rest_error(c, 503, NULL, "the database cannot be reached; try again");
        return NULL;
    }
    return conn;
}

void rest_db_release(rest_ctx_t *c, db_conn_t *conn, int rc)
{
    if (rc == ENT_EDBDOWN)
        db_conn_discard(conn);
    db_pool_release(c->f->pool, conn);
}

void rest_db_error(rest_ctx_t *c, int rc, const char *what)
{
    if (rc == ENT_EDBDOWN || rc == ENT_ETIMEDOUT) {
        rest_error(c, 503, NULL, "the database cannot be reached; try again");
        return;
    }
    if (rc == ENT_ELOCKED) {
        log_warn("%s: %s", what, ent_strerror(rc));
        rest_error(c, 503, NULL, "a row it needs is locked by another transaction; nothing was done; try again");
        return;
    }
    if (rc == ENT_ERETRY) {
        /* Retried already, and still in conflict with concurrent requests. */
        log_warn("%s: %s", what, ent_strerror(rc));
        rest_error(c, 503, NULL, "the request met concurrent ones and was not done; try again");
        return;
    }
    log_error("%s: %s", what, ent_strerror(rc));
    rest_error(c, 500, NULL, "internal error (request %s)", c->r->request_id);
}

/* Feeds path to ctx as RFC 3986 section 6.2.2 normalises it: an escaped
 * unreserved character is the character (%63 is c) and the hex digits of
 * other escapes are upper case, so spellings of one target are one
 * request. A path without '%' is fed as it is (keys kept before stay
 * valid). */
static bool idem__digest_path(EVP_MD_CTX *ctx, const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    char buf[256];
    size_t n = 0;
    for (const char *p = path;; p++) {
        if (n + 3 > sizeof buf || *p == '\0') {
            if (EVP_DigestUpdate(ctx, buf, n) != 1)
                return false;
            n = 0;
            if (*p == '\0')
                return EVP_DigestUpdate(ctx, "", 1) == 1;
        }
        int hi, lo;
        if (p[0] == '%' && (hi = hex_digit(p[1])) >= 0 && (lo = hex_digit(p[2])) >= 0) {
            char ch = (char)(hi << 4 | lo);
            if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                (ch != '\0' && strchr("-._~", ch) != NULL)) {
                buf[n++] = ch;
            } else {
                buf[n++] = '%';
                buf[n++] = hex[hi];
                buf[n++] = hex[lo];
            }
            p += 2;
        } else {
            buf[n++] = *p;
        }
    }
}

bool rest_idem_begin(rest_ctx_t *c, const char *scope, rest_idem_t *i)
{
    const char *v, *why;
    size_t n;
    unsigned char md[32];
    unsigned int mdlen = 0;

    memset(i, 0, sizeof *i);
    if (!http_header(c->r, "Idempotency-Key", &v, &n))
        return true;
    if (n == 0 || n > REST_MAX_IDEM_KEY || !fv_text_ok(v, n, REST_MAX_IDEM_KEY, FV_ID, &why)) {
        rest_error(c, 400, NULL, "Idempotency-Key: must be 1 to %d characters without control characters",
                   REST_MAX_IDEM_KEY);
        return false;
    }
    memcpy(i->key, v, n);
    i->key[n] = '\0';
    snprintf(i->scope, sizeof i->scope, "%s", scope);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, c->r->method, strlen(c->r->method) + 1) == 1 &&
              idem__digest_path(ctx, c->r->path) &&
              /* (Only when there is one: keys kept before it counted stay valid.) */
              (c->r->query[0] == '\0' || EVP_DigestUpdate(ctx, c->r->query, strlen(c->r->query) + 1) == 1) &&
              EVP_DigestUpdate(ctx, c->r->body, c->r->body_len) == 1 && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        rest_error(c, 500, NULL, "internal error (request %s)", c->r->request_id);
        return false;
    }
    hex_encode(md, 32, i->hash_hex);
    i->present = true;
    return true;
}

/* Answers with the response kept under key i (read on conn): replayed
 * for the same request, 409 for another. False when there is none. */
static bool idem__answer(rest_ctx_t *c, db_conn_t *conn, const rest_idem_t *i, int *rc_out)
{
    store_idem_hit_t hit;
    int rc = *rc_out = store_idem_get(conn, i->scope, i->key, &hit);
    if (rc == ENT_ENOTFOUND)
        return false;
    if (rc != ENT_OK) {
        rest_db_error(c, rc, "reading an idempotency key");
        return true;
    }
    if (strcmp(hit.hash_hex, i->hash_hex) != 0) {
        rest_error(c, 409, NULL, "Idempotency-Key was used with another request; use a new key for a new request");
    } else {
        char extra[1024];
        snprintf(extra, sizeof extra, "%sIdempotent-Replayed: true\r\n", hit.headers);
        if (http_respond(c->x, hit.status, "application/json; charset=utf-8", extra, hit.body, strlen(hit.body)) !=
            ENT_OK)
            http_close_after(c->x);
    }
    free(hit.headers);
    free(hit.body);
    return true;
}

bool rest_idem_replay(rest_ctx_t *c, const rest_idem_t *i)
{
    db_conn_t *conn;
    int rc;
    if (!i->present)
        return false;
    if ((conn = rest_db(c)) == NULL)
        return true;
    bool answered = idem__answer(c, conn, i, &rc);
    rest_db_release(c, conn, rc);
    return answered;
}

bool rest_idem_claim(rest_ctx_t *c, db_conn_t *conn, const rest_idem_t *i)
{
    if (!i->present)
        return true;
    store_idem_t row = rest_idem_row(i, 0, "", "");
    int rc = db_begin(conn);
    if (rc == ENT_OK && (rc = store_idem_claim(conn, &row)) == ENT_OK)
        return true;
    db_rollback(conn);
    if (rc == ENT_EEXIST) {
        /* Another request with this key ended while this one waited: its
         * response (or 409). Gone meanwhile (expired): try again. */
        if (!idem__answer(c, conn, i, &rc) && rc == ENT_ENOTFOUND)
            rest_error(c, 409, NULL, "a request with this Idempotency-Key has just ended; try again");
        return false;
    }
    rest_db_error(c, rc, "taking an idempotency key");
    return false;
}

bool rest_idem_keep(rest_ctx_t *c, db_conn_t *conn, const rest_idem_t *i, int status, const char *headers,
                    const char *body)
{
    if (!i->present)
        return true;
    store_idem_t row = rest_idem_row(i, status, headers ? headers : "", body);
    int rc = store_idem_keep(conn, &row);
    if (rc == ENT_OK)
        rc = db_commit(conn);
    if (rc != ENT_OK) {
        db_rollback(conn);
        rest_db_error(c, rc, "keeping a response under its idempotency key");
        return false;
    }
    return true;
}

void rest_idem_respond(rest_ctx_t *c, db_conn_t *conn, const rest_idem_t *i, int status, json_t *body,
                       const char *extra_headers)
{
    if (!i->present) {
        rest_json(c, status, body, extra_headers);
        return;
    }
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        db_rollback(conn);
        rest_error(c, 500, NULL, "out of memory");
        return;
    }
    if (rest_idem_keep(c, conn, i, status, extra_headers, text) &&
        http_respond(c->x, status, "application/json; charset=utf-8", extra_headers, text, strlen(text)) != ENT_OK) {
        http_discard(c->x);
        http_close_after(c->x);
    }
    free(text);
}

store_idem_t rest_idem_row(const rest_idem_t *i, int status, const char *headers, const char *body)
{
    store_idem_t row = {NULL, NULL, NULL, 0, NULL, NULL};
    if (i->present) {
        row.scope = i->scope;
        row.key = i->key;
        row.hash_hex = i->hash_hex;
        row.status = status;
        row.headers = headers;
        row.body = body;
    }
    return row;
}
