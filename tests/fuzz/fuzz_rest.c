/* libFuzzer target: the REST adapter's checks of what a client sends
 * (service/rest/), without a database or an HTTP server. The input is read as
 * a request body by jansson with the flags rest_body uses, then given to
 * the checks of a device status report, a status log and a subscription's
 * creation (rest_int.h: device_check, statuslog_check, subs_check, the
 * fields.c readers under them); and it is taken as the query string of an
 * update package request, whose productIds rest_query decodes and
 * subs_check parses. What passes is written as the handlers store it:
 * that must read back as the same values. A refusal must say why. The
 * body is also parsed and checked as a device report the way device_post
 * does it, in jansson's arena (core/jarena.h): the same verdict.
 *
 * The handlers' files are linked whole: what they call of the HTTP server,
 * the stores, the authenticator and the job runner is stood in for below
 * by functions that abort, since the checks call none of them.
 *
 * With FUZZ_TRACE set, each check's verdict is printed. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jarena.h"
#include "db/sub_store.h"
#include "rest/rest_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Longest productIds value subs.c keeps (its SUBS_MAX_QUERY). */
#define FUZZ_MAX_QUERY 2048

static int fuzz_trace;
static rest_ctx_t fuzz_ctx; /* large: not on the stack */

#define FUZZ_UNREACHED(name)                                          \
    {                                                                 \
        fprintf(stderr, "fuzz_rest: %s called by a check\n", name); \
        abort();                                                      \
    }

bool auth_bearer(const char *value, size_t n, const char **token, size_t *len) FUZZ_UNREACHED("auth_bearer")
void auth_forget_keys(auth_t *a) FUZZ_UNREACHED("auth_forget_keys")
auth_verdict_t auth_jwt(auth_t *a, const char *token, size_t n, const char *publisher, int leeway_s,
                        auth_jwt_t *out, const char **why) FUZZ_UNREACHED("auth_jwt")
auth_verdict_t auth_jwt_unnamed(auth_t *a, const char *token, size_t n, int leeway_s, const char **why)
    FUZZ_UNREACHED("auth_jwt_unnamed")
auth_verdict_t auth_token(auth_t *a, const char *token, size_t n, store_token_t *out, const char **why)
    FUZZ_UNREACHED("auth_token")
void db_conn_discard(db_conn_t *conn) FUZZ_UNREACHED("db_conn_discard")
int db_conn_reset(db_conn_t *conn) FUZZ_UNREACHED("db_conn_reset")
int db_pool_acquire(db_pool_t *pool, db_conn_t **out) FUZZ_UNREACHED("db_pool_acquire")
void db_pool_release(db_pool_t *pool, db_conn_t *conn) FUZZ_UNREACHED("db_pool_release")
void http_close_after(http_exchange_t *x) FUZZ_UNREACHED("http_close_after")
bool http_content_type_is(const http_request_t *r, const char *type) FUZZ_UNREACHED("http_content_type_is")
bool http_content_type_charset(const http_request_t *r, const char **v, size_t *vn)
    FUZZ_UNREACHED("http_content_type_charset")
void http_discard(http_exchange_t *x) FUZZ_UNREACHED("http_discard")
bool http_local_authority(const http_exchange_t *x, char *buf, size_t cap) FUZZ_UNREACHED("http_local_authority")
bool http_header(const http_request_t *r, const char *name, const char **value, size_t *len)
    FUZZ_UNREACHED("http_header")
int http_piece_write(http_piece_t *p, const void *data, size_t n) FUZZ_UNREACHED("http_piece_write")
int http_respond(http_exchange_t *x, int status, const char *content_type, const char *extra_headers,
                 const void *body, size_t n) FUZZ_UNREACHED("http_respond")
int http_respond_source(http_exchange_t *x, int status, const char *content_type, const char *extra_headers,
                        const http_source_t *src) FUZZ_UNREACHED("http_respond_source")
void job_runner_queued(job_runner_t *r, job_lane_t lane) FUZZ_UNREACHED("job_runner_queued")
db_conn_t *rest_db(rest_ctx_t *c) FUZZ_UNREACHED("rest_db")
bool rest_defer_write(rest_ctx_t *c, rest_pending_t *p) FUZZ_UNREACHED("rest_defer_write")
void rest_deferred_begin(rest_ctx_t *c, const rest_pending_t *p, char *saved_rid)
    FUZZ_UNREACHED("rest_deferred_begin")
void rest_deferred_end(const rest_pending_t *p, const char *saved_rid) FUZZ_UNREACHED("rest_deferred_end")
void store_write_free(store_write_t *w) FUZZ_UNREACHED("store_write_free")
void rest_db_error(rest_ctx_t *c, int rc, const char *what) FUZZ_UNREACHED("rest_db_error")
void rest_db_release(rest_ctx_t *c, db_conn_t *conn, int rc) FUZZ_UNREACHED("rest_db_release")
bool rest_idem_begin(rest_ctx_t *c, const char *scope, rest_idem_t *i) FUZZ_UNREACHED("rest_idem_begin")
bool rest_idem_replay(rest_ctx_t *c, const rest_idem_t *i) FUZZ_UNREACHED("rest_idem_replay")
bool rest_idem_claim(rest_ctx_t *c, db_conn_t *conn, const rest_idem_t *i) FUZZ_UNREACHED("rest_idem_claim")
void rest_idem_respond(rest_ctx_t *c, db_conn_t *conn, const rest_idem_t *i, int status, json_t *body,
                       const char *extra_headers) FUZZ_UNREACHED("rest_idem_respond")
store_idem_t rest_idem_row(const rest_idem_t *i, int status, const char *headers, const char *body)
    FUZZ_UNREACHED("rest_idem_row")
int store_device_get(db_conn_t *c, long long token_id, const char *tenant, const char *device_id, bool *token_ok,
                     bool *found, char **nodes_json, char *session, char *source, size_t cap, long long *latest_ms)
    FUZZ_UNREACHED("store_device_get")
store_write_t *store_device_report(const store_report_t *r, const store_idem_t *idem, store_done_fn done, void *arg)
    FUZZ_UNREACHED("store_device_report")
int store_device_summary(db_conn_t *c, long long token_id, const char *tenant, bool *token_ok, char **json)
    FUZZ_UNREACHED("store_device_summary")
int store_package_get(db_conn_t *c, const char *package_id, const store_sub_caller_t *who, char **json)
    FUZZ_UNREACHED("store_package_get")
int store_package_open(db_conn_t *c, const char *package_id, const store_sub_caller_t *who, long long *id,
                       int *pages, char **head, char status[16]) FUZZ_UNREACHED("store_package_open")
int store_package_page(db_conn_t *c, long long id, int page, int (*emit)(void *arg, const char *data, size_t n),
                       void *arg) FUZZ_UNREACHED("store_package_page")
int store_package_products(db_conn_t *c, const char *ref, const store_sub_caller_t *who, const long long *product_nos,
                           size_t n, bool *visible, long long *bad) FUZZ_UNREACHED("store_package_products")
int store_package_request(db_conn_t *c, const char *ref, const store_sub_caller_t *who, const char *day,
                          const long long *product_nos, size_t n, const char *package_id, int delay_ms,
                          store_package_verdict_t *verdict, long long *bad_product)
    FUZZ_UNREACHED("store_package_request")
int store_statuslog_poll(db_conn_t *c, long long key_id, const char *polling_id, const char *publisher,
                         int retention_s, bool *key_ok, bool *found, bool *done, char *key, char *message,
                         char *arguments, size_t cap) FUZZ_UNREACHED("store_statuslog_poll")
store_write_t *store_statuslog_post(long long key_id, const char *polling_id, const char *publisher,
                                    const char *request_json, const store_idem_t *idem, store_done_fn done, void *arg)
    FUZZ_UNREACHED("store_statuslog_post")
int store_statuslog_publisher(db_conn_t *c, const char *polling_id, char *publisher, size_t cap)
    FUZZ_UNREACHED("store_statuslog_publisher")
int store_sub_create(db_conn_t *c, const store_sub_new_t *s, size_t *missing, char **json)
    FUZZ_UNREACHED("store_sub_create")
int store_sub_delete(db_conn_t *c, const char *platform, const char *ref, const store_sub_caller_t *who)
    FUZZ_UNREACHED("store_sub_delete")
int store_sub_get(db_conn_t *c, const char *platform, const char *ref, const store_sub_caller_t *who, char **json)
    FUZZ_UNREACHED("store_sub_get")
int store_sub_status(db_conn_t *c, const char *platform, const char *ref, const store_sub_caller_t *who,
                     char **json) FUZZ_UNREACHED("store_sub_status")
int store_sub_trigger(db_conn_t *c, const char *platform, const char *ref, const store_sub_caller_t *who,
                      const char *msg_id, long long *run_id, bool *queued) FUZZ_UNREACHED("store_sub_trigger")

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_trace = getenv("FUZZ_TRACE") != NULL;
    /* jansson allocates as in the daemon (core/jarena.h). */
    jarena_install();
    return 0;
}

/* A check's verdict: a refusal says why. */
static void fuzz_verdict(const char *what, bool ok, const char *msg)
{
    if (fuzz_trace)
        printf("fuzz_rest: %s: %s\n", what, ok ? "passes" : msg);
    if (!ok && msg[0] == '\0') {
        fprintf(stderr, "fuzz_rest: %s refused without a message\n", what);
        abort();
    }
}

/* Whether member name of a and of b are the same string, or both absent. */
static bool fuzz_same_string(json_t *a, json_t *b, const char *name)
{
    json_t *x = json_object_get(a, name), *y = json_object_get(b, name);
    if (!json_is_string(x) || !json_is_string(y))
        return !json_is_string(x) && !json_is_string(y);
    return json_string_length(x) == json_string_length(y) &&
           memcmp(json_string_value(x), json_string_value(y), json_string_length(x)) == 0;
}

/* The nodes of a report that passed, as stored: the same nodes, by id.
 * Returns whether it passed. */
static bool fuzz_device(json_t *req)
{
    char msg[512], *nodes = NULL;
    bool ok = device_check(req, &nodes, msg, sizeof msg);
    fuzz_verdict("device", ok, msg);
    if (!ok)
        return false;
    json_t *body = json_object_get(req, "body") ? json_object_get(req, "body") : req;
    json_t *sent = json_object_get(body, "nodes"), *back = json_loads(nodes, 0, NULL);
    if (!json_is_array(back) || json_array_size(back) != json_array_size(sent)) {
        fprintf(stderr, "fuzz_rest: device nodes stored as %s\n", nodes);
        abort();
    }
    for (size_t i = 0; i < json_array_size(sent); i++)
        if (!fuzz_same_string(json_array_get(sent, i), json_array_get(back, i), "id")) {
            fprintf(stderr, "fuzz_rest: device node %zu stored as %s\n", i, nodes);
            abort();
        }
    json_decref(back);
    free(nodes);
    return true;
}

/* The fields of a status log that passed, as stored: the same values. */
static void fuzz_statuslog(json_t *body)
{
    static const char *const names[] = {"id", "idType", "publisherName", "updateId", "packageId",
                                        "platform", "timeStamp", "updateName", "statusReason"};
    char msg[512], *fields = NULL;
    bool ok = statuslog_check(body, &fields, msg, sizeof msg);
    fuzz_verdict("statuslog", ok, msg);
    if (!ok)
        return;
    json_t *back = json_loads(fields, 0, NULL);
    if (!json_is_object(back) ||
        !json_equal(json_object_get(back, "statusCode"), json_object_get(body, "statusCode"))) {
        fprintf(stderr, "fuzz_rest: status log stored as %s\n", fields);
        abort();
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!fuzz_same_string(body, back, names[i])) {
            fprintf(stderr, "fuzz_rest: status log's %s stored as %s\n", names[i], fields);
            abort();
        }
    json_decref(back);
    free(fields);
}

/* The refusal of a body jansson could not read: a message, naming the
 * field being read where it went wrong when it can (rest_json_refusal). */
static void fuzz_refusal(const uint8_t *data, size_t size, const json_error_t *e)
{
    char msg[320];
    http_request_t r = {.body = (char *)data, .body_len = size, .query = ""}; /* (read only) */
    fuzz_ctx.r = &r;
    msg[0] = '\0';
    rest_json_refusal(&fuzz_ctx, e, msg, sizeof msg);
    fuzz_ctx.r = NULL;
    if (msg[0] == '\0' || strlen(msg) >= sizeof msg)
        abort();
    if (fuzz_trace)
        fprintf(stderr, "refused: %s\n", msg);
}

/* The input as the query string of an update package request. */
static void fuzz_query(const uint8_t *data, size_t size)
{
    char *query = strndup((const char *)data, size), ids[FUZZ_MAX_QUERY + 1], msg[512];
    if (query == NULL)
        return;
    http_request_t r = {.query = query};
    fuzz_ctx.r = &r;
    if (rest_query(&fuzz_ctx, "productIds", ids, sizeof ids) == 1) {
        if (strlen(ids) >= sizeof ids)
            abort();
        fuzz_verdict("productIds", subs_check(NULL, ids, msg, sizeof msg), msg);
    }
    fuzz_ctx.r = NULL;
    free(query);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[512];
    json_error_t e;
    /* As rest_body reads a body (with malloc, where AddressSanitizer sees
     * every value on its own). */
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &e);
    bool parsed = body != NULL, passed = false;
    if (body != NULL) {
        passed = fuzz_device(body);
        fuzz_statuslog(body);
        fuzz_verdict("subscription", subs_check(body, NULL, msg, sizeof msg), msg);
        json_decref(body);
    } else {
        fuzz_refusal(data, size, &e);
    }
    /* As device_post reads a report: parsed and checked in the arena,
     * which is given back after the report is freed. The same verdict. */
    char *nodes = NULL;
    jarena_on();
    json_t *report = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &e);
    bool ok = report != NULL && device_check(report, &nodes, msg, sizeof msg);
    jarena_off();
    if ((report != NULL) != parsed || ok != passed) {
        fprintf(stderr, "fuzz_rest: in the arena the body %s and the report %s\n", report ? "parses" : "does not parse",
                ok ? "passes" : "does not pass");
        abort();
    }
    if (report != NULL)
        fuzz_verdict("device in the arena", ok, msg);
    free(nodes);
    json_decref(report);
    jarena_reset();
    fuzz_query(data, size);
    return 0;
}
