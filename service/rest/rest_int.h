/*
 * rest_int.h - what the files of service/rest share: the request context
 * a handler gets, and the replies it writes.
 */
#ifndef ENT_REST_INT_H
#define ENT_REST_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "../db/auth_store.h"
#include "../db/rest_store.h"
#include "../jobs/jobs.h"
#include "rest.h"

/* Path parameters of a route ("{pollingId}") at most, and the longest one
 * kept, decoded (an id of 255 characters of up to 4 bytes fits; a longer
 * one is refused by the handler that reads it). */
#define REST_MAX_PARAMS 4
#define REST_MAX_PARAM 2048

struct rest_front {
    const ent_config_t *cfg;
    db_pool_t *pool;
    auth_t *auth;
    job_runner_t *jobs;   /* this daemon's job runner (its workers may be none) */
    db_group_t *group;    /* statement groups of the POSTs' writes; owned */
};

/* One request being served. */
typedef struct rest_ctx {
    rest_front_t *f;
    http_exchange_t *x;
    const http_request_t *r;
    const char *route;                             /* the route's pattern */
    char params[REST_MAX_PARAMS][REST_MAX_PARAM + 1]; /* percent-decoded, NUL-free */
    size_t param_len[REST_MAX_PARAMS];
    int nparams;
    /* When set, rest_error answers through it: an endpoint whose errors
     * have a shape of their own (device status). */
    void (*error_shape)(struct rest_ctx *c, int status, const char *extra_headers, const char *message);
    void *error_arg;
} rest_ctx_t;

typedef void (*rest_handler_fn)(rest_ctx_t *c);

/* Writes body (taken: decref'd here) as the JSON response with status and
 * extra header lines (each ending in CR LF; may be NULL). */
void rest_json(rest_ctx_t *c, int status, json_t *body, const char *extra_headers);

/* Writes the error {"message": ..., "status": status} with the extra
 * header lines that status needs (Retry-After for 503). */
void rest_error(rest_ctx_t *c, int status, const char *extra_headers, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes a plain response (text or a document served as is). */
void rest_raw(rest_ctx_t *c, int status, const char *content_type, const void *body, size_t n);

/* Whether the request's Content-Type is application/json, with no charset
 * or UTF-8's. */
bool rest_json_media(const rest_ctx_t *c);

/* Whether the request has no body and no Content-Type: nothing was sent
 * (a 400 where a body is required), not a body of another type (415). */
bool rest_body_missing(const rest_ctx_t *c);

/* What jansson found wrong in a body, in words that name none of its
 * internals. */
const char *rest_json_problem(const json_error_t *e);

/* What a 400 for the request's body that jansson refused (e) says: the
 * field of an integer beyond 64 bits ("language: must be an integer of at
 * most 64 bits"), else where and what ("malformed JSON at byte 12: ..."),
 * into msg (cap bytes). */
void rest_json_refusal(const rest_ctx_t *c, const json_error_t *e, char *msg, size_t cap);

/* Reads the request body as a JSON value: refuses (writes the answer and
 * returns NULL) another media type (415) and malformed JSON (400, with
 * where). The value is the caller's (json_decref). */
json_t *rest_body(rest_ctx_t *c);

/* rest_body without the answer: on refusal returns NULL with the status
 * (415 or 400) and the words (into msg, cap bytes) it would answer. */
json_t *rest_body_read(rest_ctx_t *c, int *status, char *msg, size_t cap);

/* Checks the request's "Authorization: Bearer" API token: AUTH_OK with
 * *tok; AUTH_DENIED (none, unknown, revoked; *why says which for the log)
 * or AUTH_UNAVAILABLE. Answers nothing: each endpoint has its own words. */
auth_verdict_t rest_api_token(rest_ctx_t *c, store_token_t *tok, const char **why);

/* The value of query parameter name, percent-decoded into buf (cap
 * bytes): 1, or 0 when absent, -1 when it does not decode or fit, -2
 * when it is given more than once (which one was meant is not guessed). */
int rest_query(const rest_ctx_t *c, const char *name, char *buf, size_t cap);

/* Percent-decodes in (n bytes) into out (cap bytes, NUL-terminated); false
 * on a bad escape, a NUL byte or no room. */
bool rest_decode(const char *in, size_t n, char *out, size_t cap, size_t *out_len);

/* A pooled connection for the request, or NULL after answering 503 (with
 * Retry-After) when the database cannot be had. */
db_conn_t *rest_db(rest_ctx_t *c);

/* Gives the connection back; rc is the last result on it (a connection
 * lost is closed, to be opened anew). */
void rest_db_release(rest_ctx_t *c, db_conn_t *conn, int rc);

/* Answers a database error: 503 when it cannot be reached, else 500
 * (details only in the log). */
void rest_db_error(rest_ctx_t *c, int rc, const char *what);

/* An Idempotency-Key of a POST: the scope (who posted), the key and the
 * SHA-256 of the request (method, path and body). */
#define REST_MAX_IDEM_KEY 255
typedef struct rest_idem {
    bool present;
    char scope[STORE_MAX_NAME + 16];
    char key[REST_MAX_IDEM_KEY + 1];
    char hash_hex[65];
} rest_idem_t;

/* Reads the request's Idempotency-Key for scope into *i; false after
 * answering 400 when it is malformed. */
bool rest_idem_begin(rest_ctx_t *c, const char *scope, rest_idem_t *i);

/* With a key: the stored response for it, replayed when the request is
 * the same (true: answered) or 409 when it is not (true: answered); false
 * when the key is new. Takes a pooled connection for the moment it needs
 * one. On a database error answers and returns true. */
bool rest_idem_replay(rest_ctx_t *c, const rest_idem_t *i);

/* For a POST whose work is store calls on conn (no statement of its own
 * takes the key): with a key, begins a transaction on conn and takes the
 * key in it (waiting for a request that holds it); true when the handler
 * goes on, false after answering (the response kept for this key, 409,
 * or a database error). Without a key: true, and no transaction. */
bool rest_idem_claim(rest_ctx_t *c, db_conn_t *conn, const rest_idem_t *i);

/* After rest_idem_claim, once the work is done on conn: keeps the
 * response to send (status, extra header lines, body) under the key and
 * commits, so that the work and its response commit together (a failure
 * after the claim is rolled back with the connection's release: nothing
 * is kept). False after answering a database error. Without a key: true. */
bool rest_idem_keep(rest_ctx_t *c, db_conn_t *conn, const rest_idem_t *i, int status, const char *headers,
                    const char *body);

/* Answers body (taken) with status and extra header lines, kept under
 * key i first (rest_idem_keep) when there is one. */
void rest_idem_respond(rest_ctx_t *c, db_conn_t *conn, const rest_idem_t *i, int status, json_t *body,
                       const char *extra_headers);

/* The store's view of i with the response to keep (NULLs without a key). */
store_idem_t rest_idem_row(const rest_idem_t *i, int status, const char *headers, const char *body);

/* An answer that waits for a statement group (db/group.h) without
 * holding the worker (http.h, http_defer). A handler's pending state
 * begins with a rest_pending_t whose w is its write (store_write_t);
 * rest_defer_write defers c's answer and, once the worker has let go,
 * queues p->w on the front's groups (and clears it: the group owns it);
 * false when out of memory (nothing deferred: answer at once, and free
 * p->w). The write's done answers in a context made by
 * rest_deferred_begin (the deferred exchange, and the log's request id,
 * the thread's own saved in saved_rid, HTTP_REQUEST_ID_MAX bytes), then
 * rest_deferred_end sends the answer and gives the thread its request id
 * back. The request's headers and body are gone by then: keep what the
 * answer needs. */
typedef struct rest_pending {
    rest_front_t *f;
    http_deferred_t *d;
    store_write_t *w;   /* until queued */
} rest_pending_t;
bool rest_defer_write(rest_ctx_t *c, rest_pending_t *p);
void rest_deferred_begin(rest_ctx_t *c, const rest_pending_t *p, char *saved_rid);
void rest_deferred_end(const rest_pending_t *p, const char *saved_rid);

/* Update status log (UAI), publisher keys, device status 4.0.0. */
void statuslog_post(rest_ctx_t *c);
void statuslog_poll(rest_ctx_t *c);
void keys_put(rest_ctx_t *c);
void keys_delete(rest_ctx_t *c);
void device_post(rest_ctx_t *c);
void device_get(rest_ctx_t *c);
void device_summary(rest_ctx_t *c);

/* Subscriptions. Package requests (the acquisition API's POST) answer in
 * an envelope, refusals included, under this prefix. */
#define SUBS_ENVELOPE_PREFIX "/acquisition_api/v1/subscriptionUpdates/"
void subs_create(rest_ctx_t *c);
void subs_get(rest_ctx_t *c);
void subs_delete(rest_ctx_t *c);
void subs_trigger(rest_ctx_t *c);
void subs_status(rest_ctx_t *c);
void subs_package_request(rest_ctx_t *c);
/* rest_error's answer in subs_package_request's envelope (the words in
 * globalErrors): its error_shape, also where the router refuses (405). */
void subs_envelope_shape(rest_ctx_t *c, int status, const char *extra, const char *msg);
void subs_package_get(rest_ctx_t *c);
void subs_package_content(rest_ctx_t *c);

/* The checks of a request's JSON as the handlers above make them, storing
 * nothing and answering nothing: for the fuzz target (tests/fuzz/
 * fuzz_rest.c). Each returns true when what it is given passes, else false
 * with the message of the 400 in msg (cap bytes).
 *
 * device_check: the body of a device status report; *nodes is then the
 * nodes as stored (malloc'd, the caller frees). statuslog_check: the body
 * of a status log; *fields is then the request as stored (malloc'd).
 * subs_check: the body of a subscription's creation (create, unless NULL)
 * and the percent-decoded productIds of an update package request
 * (product_ids, unless NULL). */
bool device_check(json_t *req, char **nodes, char *msg, size_t cap);
bool statuslog_check(json_t *body, char **fields, char *msg, size_t cap);
bool subs_check(json_t *create, const char *product_ids, char *msg, size_t cap);

/* Operations: health, readiness, metrics, the OpenAPI document. */
void ops_healthz(rest_ctx_t *c);
void ops_readyz(rest_ctx_t *c);
void ops_metrics(rest_ctx_t *c);
void ops_openapi(rest_ctx_t *c);

#endif
