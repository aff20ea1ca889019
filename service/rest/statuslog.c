/*
 * Update status log (FlexNet UAI): an update client posts the status of an
 * update with its publisher's JWT and polls for the result.
 *
 *   POST /uai/2.0/updates/statusLog          -> 202 {"url": poll URL}, Location, Retry-After
 *   GET  /uai/2.0/updates/statusLog/{id}     -> 202 {"url"} while processing,
 *                                               200 {"arguments", "key", "message"} when done
 *
 * The POST stores the request and its job in one statement; a job worker
 * (updates/statuslog.c) processes it.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../auth/jwt.h"
#include "../core/base64.h"
#include "../core/jsonw.h"
#include "../core/log.h"
#include "fields.h"
#include "rest_int.h"

#define STATUSLOG_PATH "/uai/2.0/updates/statusLog/"
/* Random bytes of a polling id: 192 bits, 32 base64url characters. */
#define STATUSLOG_ID_BYTES 24
#define STATUSLOG_ID_LEN 32
/* Room for each part of a result (messages name up to three ids of 255
 * characters of up to 4 bytes). */
#define STATUSLOG_RESULT_MAX 4096
/* What a 401 says, whatever the reason (the log has the reason). */
#define STATUSLOG_INVALID_TOKEN "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n"

/* The JWT of the request, or answers 401 and returns false. */
static bool statuslog__token(rest_ctx_t *c, const char **token, size_t *len)
{
    const char *v;
    size_t n;
    if (http_header(c->r, "Authorization", &v, &n) && auth_bearer(v, n, token, len))
        return true;
    log_info("status log: 401: no Bearer token");
    rest_error(c, 401, STATUSLOG_INVALID_TOKEN, "a JWT is required (Authorization: Bearer <JWT>)");
    return false;
}

/* Answers 401 or 503 and returns false unless verdict v is AUTH_OK. */
static bool statuslog__passed(rest_ctx_t *c, auth_verdict_t v, const char *why)
{
    if (v == AUTH_OK)
        return true;
    if (v == AUTH_UNAVAILABLE || v == AUTH_BUSY) {
        rest_error(c, 503, NULL, "the key store cannot be reached; try again");
        return false;
    }
    log_info("status log: 401: %s", why);
    rest_error(c, 401, STATUSLOG_INVALID_TOKEN, "the JWT is not valid: %s", why);
    return false;
}

/* Verifies the JWT for publisher (a hint, may be NULL); answers 401 or 503
 * and returns false when it does not pass. */
static bool statuslog__verify(rest_ctx_t *c, const char *token, size_t len, const char *publisher, auth_jwt_t *out)
{
    const char *why = "";
    auth_verdict_t v = auth_jwt(c->f->auth, token, len, publisher, c->f->cfg->jwt_leeway_s, out, &why);
    return statuslog__passed(c, v, why);
}

/* The absolute URL of polling id into buf: under ENTITLEMENTD_PUBLIC_URL,
 * else the Host the client named, else the address it reached. */
static void statuslog__url(const rest_ctx_t *c, const char *id, char *buf, size_t cap)
{
    char local[80];
    if (c->f->cfg->public_url[0] != '\0')
        snprintf(buf, cap, "%.255s" STATUSLOG_PATH "%.64s", c->f->cfg->public_url, id);
    else
        snprintf(buf, cap, "http://%.255s" STATUSLOG_PATH "%.64s",
                 c->r->host[0]                                           ? c->r->host
                 : http_local_authority(c->x, local, sizeof local) ? local
                                                                         : "localhost",
                 id);
}

/* Appends ,"name":value (a string) to w. */
static void statuslog__put(jsonw_t *w, const char *name, const char *value)
{
    if (value == NULL)
        return;
    jsonw_raw(w, ",", 1);
    jsonw_str(w, name, strlen(name));
    jsonw_raw(w, ":", 1);
    jsonw_str(w, value, strlen(value));
}

/* The request's fields, checked, written as the JSON object of the known
 * ones into w; *publisher points at publisherName in body. False with the
 * problem in v. */
static bool statuslog__fields(fv_t *v, json_t *body, jsonw_t *w, const char **publisher)
{
    static const char *const ids[] = {"id", "idType", "publisherName", "updateId"};
    static const char *const opt_ids[] = {"packageId"};
    static const char *const opt_texts[] = {"platform", "timeStamp", "updateName"};
    json_int_t code = 0, language = 0;
    size_t device_key = 0; /* the device's identifiers' bytes (its unique key) */

    if (!json_is_object(body))
        return fv_fail(v, "the body must be a JSON object");
    jsonw_lit(w, "{\"deviceClass\":");
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const char *s = fv_string(v, body, "", ids[i], true, FIELDS_MAX_ID, FV_ID);
        if (s != NULL && s[0] == '\0')
            fv_fail(v, "%s: must not be empty", ids[i]);
        if (i == 2)
            *publisher = s;
        if (s != NULL && i < 3)
            device_key += strlen(s);
    }
    fv_key_fits(v, "id, idType and publisherName", device_key);
    for (size_t i = 0; i < sizeof opt_ids / sizeof opt_ids[0]; i++)
        fv_string(v, body, "", opt_ids[i], false, FIELDS_MAX_ID, FV_ID);
    for (size_t i = 0; i < sizeof opt_texts / sizeof opt_texts[0]; i++)
        fv_string(v, body, "", opt_texts[i], false, MODEL_MAX_NAME_CHARS, FV_TEXT);
    fv_string(v, body, "", "statusReason", false, MODEL_MAX_STATUS_REASON_CHARS, FV_TEXT);
    /* The code's value is the job's to judge (a result, not a 400). */
    bool has_code = fv_integer(v, body, "", "statusCode", true, -2147483647 - 1, 2147483647, &code);
    bool has_language = fv_integer(v, body, "", "language", false, -2147483647 - 1, 2147483647, &language);
    const char *cls = fv_string(v, body, "", "deviceClass", false, 16, FV_ID);
    if (cls != NULL && strcmp(cls, "client") != 0 && strcmp(cls, "server") != 0 && strcmp(cls, "served") != 0)
        fv_fail(v, "deviceClass: must be one of client, server, served");
    if (v->bad)
        return false;
    /* Checked: written from the body's own values. */
    jsonw_cstr(w, cls ? cls : "client");
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        statuslog__put(w, ids[i], json_string_value(json_object_get(body, ids[i])));
    for (size_t i = 0; i < sizeof opt_ids / sizeof opt_ids[0]; i++)
        statuslog__put(w, opt_ids[i], json_string_value(json_object_get(body, opt_ids[i])));
    for (size_t i = 0; i < sizeof opt_texts / sizeof opt_texts[0]; i++)
        statuslog__put(w, opt_texts[i], json_string_value(json_object_get(body, opt_texts[i])));
    statuslog__put(w, "statusReason", json_string_value(json_object_get(body, "statusReason")));
    if (has_code) {
        jsonw_lit(w, ",\"statusCode\":");
        jsonw_int(w, code);
    }
    if (has_language) {
        jsonw_lit(w, ",\"language\":");
        jsonw_int(w, language);
    }
    jsonw_raw(w, "}", 1);
    return true;
}

bool statuslog_check(json_t *body, char **fields, char *msg, size_t cap)
{
    fv_t v = {false, ""};
    jsonw_t w = {0};
    const char *publisher = NULL;
    bool ok = statuslog__fields(&v, body, &w, &publisher) && publisher != NULL;
    char *text = jsonw_take(&w);
    *fields = ok ? text : NULL;
    if (!ok)
        free(text);
    snprintf(msg, cap, "%s", v.msg);
    return *fields != NULL;
}

/* A POST whose statement waits in its group: what its answer needs. */
typedef struct statuslog__pending {
    rest_pending_t base;  /* first: rest_defer_write's */
    rest_idem_t idem;
    char id[STATUSLOG_ID_LEN + 1];
    char extra[600];
    char *resp;
} statuslog__pending_t;

/* Whether status log id was stored after all, when the connection went
 * while its group's COMMIT may have been on its way: looked up on another
 * connection (the COMMIT has ended by then, one way or the other, unless
 * the server has not seen the connection go). A 503 says nothing was done
 * and to send it again: without an Idempotency-Key, a second status log. */
static bool statuslog__stored(statuslog__pending_t *p)
{
    db_conn_t *conn = NULL;
    char publisher[STORE_MAX_NAME + 1];
    if (db_pool_acquire(p->base.f->pool, &conn) != ENT_OK)
        return false;
    int rc = store_statuslog_publisher(conn, p->id, publisher, sizeof publisher);
    if (rc == ENT_EDBDOWN && db_conn_reset(conn) == ENT_OK) /* a pooled connection that went too: a read */
        rc = store_statuslog_publisher(conn, p->id, publisher, sizeof publisher);
    if (rc == ENT_EDBDOWN)
        db_conn_discard(conn);
    db_pool_release(p->base.f->pool, conn);
    return rc == ENT_OK;
}

static void statuslog__pending_free(statuslog__pending_t *p)
{
    store_write_free(p->base.w);
    free(p->resp);
    free(p);
}

/* The statement's outcome: the answer (in the thread that ran its group). */
static void statuslog__posted(void *arg, int rc, const bool flags[STORE_WRITE_FLAGS])
{
    statuslog__pending_t *p = arg;
    rest_ctx_t c;
    char rid[HTTP_REQUEST_ID_MAX];

    /* Stored means the statement's checks passed (key active, key new). */
    static const bool stored[STORE_WRITE_FLAGS] = {true, true, true};
    rest_deferred_begin(&c, &p->base, rid);
    if (rc == ENT_EDBDOWN && statuslog__stored(p)) {
        log_warn("status log %s: the connection was lost at its COMMIT, which was made", p->id);
        rc = ENT_OK;
        flags = stored;
    }
    if (rc != ENT_OK) {
        rest_db_error(&c, rc, "storing a status log");
    } else if (!flags[0]) {
        /* Retired since it was remembered. */
        auth_forget_keys(p->base.f->auth);
        log_info("status log: 401: the key was retired");
        rest_error(&c, 401, STATUSLOG_INVALID_TOKEN, "the JWT is not valid: its key was retired");
    } else if (!flags[1]) {
        /* A concurrent request with the same key won: answer as it did. */
        if (!rest_idem_replay(&c, &p->idem))
            rest_error(&c, 409, NULL, "Idempotency-Key is being used by a request in progress; try again");
    } else {
        job_runner_queued(p->base.f->jobs, JOB_LANE_QUICK);
        if (http_respond(c.x, 202, "application/json; charset=utf-8", p->extra, p->resp, strlen(p->resp)) != ENT_OK)
            http_close_after(c.x);
    }
    rest_deferred_end(&p->base, rid);
    statuslog__pending_free(p);
}

void statuslog_post(rest_ctx_t *c)
{
    const char *token;
    size_t tlen;
    auth_jwt_t who;
    fv_t v = {false, ""};
    json_t *body = NULL;
    jsonw_t fields = {0};
    const char *publisher = NULL;
    char *request = NULL;
    statuslog__pending_t *p = NULL;

    if (!statuslog__token(c, &token, &tlen))
        return;
    int status = 0;
    char msg[320];
    body = rest_body_read(c, &status, msg, sizeof msg);
    json_t *pn = json_is_object(body) ? json_object_get(body, "publisherName") : NULL;
    if (!json_is_string(pn)) {
        /* A body that names no publisher leaves the key unknown, but a
         * token bad in itself (or under its kid) is still a 401 first. */
        const char *why = "";
        auth_verdict_t av = auth_jwt_unnamed(c->f->auth, token, tlen, c->f->cfg->jwt_leeway_s, &why);
        if (!statuslog__passed(c, av, why))
            goto out;
        if (body == NULL) {
            rest_error(c, status, NULL, "%s", msg);
            goto out;
        }
        /* No publisherName: its field error below. */
        if (!statuslog__fields(&v, body, &fields, &publisher) || publisher == NULL) {
            rest_error(c, 400, NULL, "%s", v.msg);
            goto out;
        }
    }
    if (!statuslog__verify(c, token, tlen, json_string_value(pn), &who))
        goto out;
    /* (publisher is set whenever the fields pass: publisherName is required.) */
    if (!statuslog__fields(&v, body, &fields, &publisher) || publisher == NULL) {
        rest_error(c, 400, NULL, "%s", v.msg);
        goto out;
    }
    if (strcmp(publisher, who.publisher) != 0) {
        rest_error(c, 403, NULL, "publisherName is not the publisher of the JWT's key");
        goto out;
    }
    if ((p = calloc(1, sizeof *p)) == NULL) {
        rest_error(c, 500, NULL, "out of memory");
        goto out;
    }
    char scope[STORE_MAX_NAME + 16];
    snprintf(scope, sizeof scope, "publisher:%s", publisher);
    if (!rest_idem_begin(c, scope, &p->idem))
        goto out;

    unsigned char raw[STATUSLOG_ID_BYTES];
    char id[STATUSLOG_ID_LEN + 1], url[512];
    if (RAND_bytes(raw, sizeof raw) != 1 || b64url_encode(raw, sizeof raw, id, sizeof id) != STATUSLOG_ID_LEN) {
        rest_error(c, 500, NULL, "internal error (request %s)", c->r->request_id);
        goto out;
    }
    statuslog__url(c, id, url, sizeof url);
    memcpy(p->id, id, sizeof p->id);
    snprintf(p->extra, sizeof p->extra, "Location: %s\r\nRetry-After: 1\r\n", url);
    jsonw_t answer = {0};
    jsonw_lit(&answer, "{\"url\":");
    jsonw_cstr(&answer, url);
    jsonw_raw(&answer, "}", 1);
    p->resp = jsonw_take(&answer);
    request = jsonw_take(&fields);
    if (p->resp == NULL || request == NULL) {
        rest_error(c, 500, NULL, "out of memory");
        goto out;
    }

    if (rest_idem_replay(c, &p->idem))
        goto out;
    store_idem_t row = rest_idem_row(&p->idem, 202, p->extra, p->resp);
    if ((p->base.w = store_statuslog_post(who.key_id, id, publisher, request, &row, statuslog__posted, p)) ==
        NULL) {
        rest_error(c, 500, NULL, "out of memory");
        goto out;
    }
    /* The answer waits for the statement's group, not in this thread. */
    if (!rest_defer_write(c, &p->base)) {
        rest_error(c, 500, NULL, "out of memory");
        goto out;
    }
    p = NULL;
out:
    if (p != NULL)
        statuslog__pending_free(p);
    free(request);
    free(jsonw_take(&fields));
    json_decref(body);
}

/* Whether s looks like one of our polling ids. */
static bool statuslog__id_ok(const char *s, size_t n)
{
    if (n != STATUSLOG_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_'))
            return false;
    }
    return true;
}

void statuslog_poll(rest_ctx_t *c)
{
    const char *token, *id = c->params[0];
    size_t tlen;
    auth_jwt_t who;
    db_conn_t *conn = NULL;
    char publisher[STORE_MAX_NAME + 1] = "", key[STATUSLOG_RESULT_MAX], message[STATUSLOG_RESULT_MAX],
        arguments[STATUSLOG_RESULT_MAX];
    bool known_id = statuslog__id_ok(id, c->param_len[0]);
    int rc = ENT_OK;

    if (!statuslog__token(c, &token, &tlen))
        return;
    /* Without a kid, the keys tried first are the polled status log's
     * publisher's: the one thing the request names (an iss is the
     * client's to set and says nothing the contract gives a role to; its
     * publisher's keys come after). */
    const char *hint = NULL;
    jwt_t peek;
    if (jwt_parse(token, tlen, &peek) == JWT_OK) {
        bool need = !peek.has_kid;
        jwt_clear(&peek);
        if (need && known_id) {
            /* Given back before the key is looked up: that takes a
             * connection of the same pool. */
            if ((conn = rest_db(c)) == NULL)
                return;
            rc = store_statuslog_publisher(conn, id, publisher, sizeof publisher);
            rest_db_release(c, conn, rc);
            conn = NULL;
            if (rc != ENT_OK && rc != ENT_ENOTFOUND) {
                rest_db_error(c, rc, "reading a status log");
                return;
            }
            rc = ENT_OK;
            if (publisher[0])
                hint = publisher;
        }
    }
    /* A kid-less token that this log's publisher's keys refuse may be
     * another publisher's: auth_jwt then tries the keys of the publisher
     * its iss names and the newest of all, so that another publisher's
     * polling id is a 404, as an unknown one is, and not a 401 that tells
     * the two apart. */
    const char *why = "";
    auth_verdict_t av = auth_jwt(c->f->auth, token, tlen, hint, c->f->cfg->jwt_leeway_s, &who, &why);
    if (!statuslog__passed(c, av, why))
        goto out;
    if (!known_id) {
        rest_error(c, 404, NULL, "no status log with this polling id");
        goto out;
    }
    if ((conn = rest_db(c)) == NULL)
        return;
    bool key_ok = false, found = false, done = false;
    rc = store_statuslog_poll(conn, who.key_id, id, who.publisher, c->f->cfg->statuslog_retention_h * 3600, &key_ok,
                              &found, &done, key, message, arguments, STATUSLOG_RESULT_MAX);
    if (rc != ENT_OK) {
        rest_db_error(c, rc, "polling a status log");
        goto out;
    }
    if (!key_ok) {
        auth_forget_keys(c->f->auth);
        rest_error(c, 401, STATUSLOG_INVALID_TOKEN, "the JWT is not valid: its key was retired");
        goto out;
    }
    if (!found) {
        /* Unknown, another publisher's, or past the retention: the same. */
        rest_error(c, 404, NULL, "no status log with this polling id");
        goto out;
    }
    if (!done) {
        char url[512];
        statuslog__url(c, id, url, sizeof url);
        rest_json(c, 202, json_pack("{s:s}", "url", url), "Retry-After: 1\r\n");
        goto out;
    }
    rest_json(c, 200, json_pack("{s:s, s:s, s:s}", "arguments", arguments, "key", key, "message", message), NULL);
out:
    if (conn != NULL)
        rest_db_release(c, conn, rc);
}
