/*
 * subs.c - subscriptions (section 2 of the REST adapter): an API user
 * creates, reads and deletes its standing interest in the entitlement
 * changes of some products.
 *
 *   POST   /subscriptions/{platformType}        -> 201 {subscriptionRef, subscriptionProducts}, Location
 *   GET    /subscriptions/{platformType}/{ref}  -> 200 the subscription (never its secret)
 *   DELETE /subscriptions/{platformType}/{ref}  -> 204
 *   POST   /subscriptions/{platformType}/{ref}/trigger -> 202 {subscriptionRef, runId}: a run, queued
 *   GET    /subscriptions/{platformType}/{ref}/status  -> 200 {lastTriggered, webHookStatus}
 *   GET    /subscriptions/{ref}/status                 -> the same as cloud
 *
 * The caller is the API user of the Bearer token (entitlementctl token add
 * --user). It sees the subscriptions it owns and the global ones, and
 * deletes only its own; any other is a 404, as one that does not exist.
 */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/base64.h"
#include "../core/ids.h"
#include "../core/log.h"
#include "../core/quote.h"
#include "../db/sub_store.h"
#include "../lifecycle/rules.h"
#include "fields.h"
#include "rest_int.h"

/* Most products one subscription names. */
#define SUBS_MAX_PRODUCTS 100
/* Standard Webhooks secrets: "whsec_" and the base64 of 24 to 64 bytes. */
#define SUBS_SECRET_PREFIX "whsec_"
#define SUBS_SECRET_MIN 24
#define SUBS_SECRET_MAX 64
/* Longest schedule: a week. */
#define SUBS_MAX_MINUTES 10080

static const char subs__www[] = "WWW-Authenticate: Bearer realm=\"entitlementd\"\r\n";

/* The caller: the API user of the request's token. */
typedef struct subs_caller {
    char user[STORE_MAX_NAME + 1];
    store_sub_caller_t who;
} subs_caller_t;

/* The caller of the request into *me, or answers 401 / 503 and returns
 * false. */
static bool subs__user(rest_ctx_t *c, subs_caller_t *me)
{
    const char *why;
    store_token_t tok;
    auth_verdict_t verdict = rest_api_token(c, &tok, &why);
    if (verdict == AUTH_UNAVAILABLE) {
        rest_error(c, 503, NULL, "the token store cannot be reached; try again");
        return false;
    }
    if (verdict != AUTH_OK) {
        log_info("subscriptions: 401: %s", why);
        rest_error(c, 401, subs__www, "authentication failed: a valid API token is required "
                                      "(Authorization: Bearer <token>)");
        return false;
    }
    if (tok.username[0] == '\0') {
        /* The vendor's list of answers has 401 for a failed authentication
         * and no 403: a device reporter's token is not an API user's. */
        log_info("subscriptions: 401: a device reporter's token");
        rest_error(c, 401, subs__www, "authentication failed: the API token is a device reporter's; subscriptions "
                                      "take an API user's token (entitlementctl token add --user NAME)");
        return false;
    }
    snprintf(me->user, sizeof me->user, "%s", tok.username);
    me->who = (store_sub_caller_t){me->user, tok.id};
    return true;
}

/* The request's Idempotency-Key, in the scope of the caller (false after
 * answering 400). */
static bool subs__idem_begin(rest_ctx_t *c, const subs_caller_t *me, rest_idem_t *idem)
{
    char scope[STORE_MAX_NAME + 16];
    snprintf(scope, sizeof scope, "user:%s", me->user);
    return rest_idem_begin(c, scope, idem);
}

/* Answers a store error of the caller's request: 401 for a token revoked
 * since it was remembered, else as rest_db_error. */
static void subs__fail(rest_ctx_t *c, int rc, const char *what)
{
    if (rc == ENT_EAUTH)
        rest_error(c, 401, subs__www, "authentication failed: the API token has been revoked");
    else
        rest_db_error(c, rc, what);
}

/* The platformType path parameter, or answers 400 and returns NULL. The
 * route without one ("/subscriptions/{subscriptionRef}/status") means
 * cloud. */
static const char *subs__platform(rest_ctx_t *c)
{
    if (strcmp(c->route, "/subscriptions/{subscriptionRef}/status") == 0)
        return "cloud";
    const char *p = c->params[0];
    if (strcmp(p, "cloud") == 0 || strcmp(p, "containers") == 0)
        return p;
    char q[QUOTE_SIZE(QUOTE_MAX_CHARS)];
    rest_error(c, 400, NULL, "invalid platformType '%s': cloud or containers", quote_str(q, sizeof q, p));
    return NULL;
}

/* A POST that takes no body may still carry one: JSON, as every body
 * here (else 415, or 400 when malformed), and then unread. False after
 * answering. */
static bool subs__no_body(rest_ctx_t *c)
{
    if (c->r->body_len == 0)
        return true;
    json_t *body = rest_body(c);
    json_decref(body);
    return body != NULL;
}

/* A webhook URL: http or https, a host, a port (when given) from 1 to
 * 65535, no spaces or controls. What else a URL may hold is the sender's
 * to refuse (libcurl, then the address checks of webhook posts). */
static bool subs__url_ok(const char *u)
{
    const char *rest = strncasecmp(u, "https://", 8) == 0 ? u + 8 : strncasecmp(u, "http://", 7) == 0 ? u + 7 : NULL;
    if (rest == NULL || *rest == '\0' || *rest == '/' || *rest == '?' || *rest == '#')
        return false;
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7F)
            return false;
    /* The authority ends at the path, query or fragment; its host at the
     * port's colon, after the user information and any [IPv6] literal. */
    size_t alen = strcspn(rest, "/?#");
    const char *host = rest, *end = rest + alen;
    for (const char *p = rest; p < end; p++)
        if (*p == '@')
            host = p + 1;
    const char *colon = NULL;
    if (host < end && *host == '[') {
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (close == NULL || close == host + 1 || (close + 1 < end && close[1] != ':'))
            return false;
        colon = close + 1 < end ? close + 1 : NULL;
    } else {
        colon = memchr(host, ':', (size_t)(end - host));
        if (colon == host || host == end)
            return false;
    }
    if (colon == NULL)
        return true;
    long port = 0;
    if (colon + 1 == end)
        return false;
    for (const char *p = colon + 1; p < end; p++) {
        if (*p < '0' || *p > '9' || (port = port * 10 + (*p - '0')) > 65535)
            return false;
    }
    return port >= 1;
}

/* A subscription to create as its body gives it (strings borrowed from
 * the body). */
typedef struct subs_new {
    const char *name, *url;
    const char *names[SUBS_MAX_PRODUCTS], *versions[SUBS_MAX_PRODUCTS];
    size_t np;
    unsigned char secret[SUBS_SECRET_MAX + 2];
    size_t secret_len;
    json_int_t minutes;
    bool global;
} subs_new_t;

/* Reads and checks the body of a creation into *s; the first problem goes
 * into v. */
static void subs__read_new(fv_t *v, json_t *body, subs_new_t *s)
{
    memset(s, 0, sizeof *s);
    if (!json_is_object(body))
        fv_fail(v, "the body must be a JSON object");
    s->name = fv_string(v, body, "", "name", true, MODEL_MAX_NAME_CHARS, FV_ID);
    if (s->name != NULL && s->name[0] == '\0')
        fv_fail(v, "name: must not be empty");
    json_t *products = fv_array(v, body, "", "products", true);
    s->np = products ? json_array_size(products) : 0;
    if (products != NULL && (s->np == 0 || s->np > SUBS_MAX_PRODUCTS))
        fv_fail(v, "products: must hold 1 to %d products", SUBS_MAX_PRODUCTS);
    for (size_t i = 0; !v->bad && i < s->np; i++) {
        char path[32];
        snprintf(path, sizeof path, "products[%zu]", i);
        json_t *p = json_array_get(products, i);
        if (!json_is_object(p)) {
            fv_fail(v, "%s: must be an object", path);
            break;
        }
        s->names[i] = fv_string(v, p, path, "name", true, FIELDS_MAX_ID, FV_ID);
        s->versions[i] = fv_string(v, p, path, "version", true, FIELDS_MAX_ID, FV_ID);
        for (size_t k = 0; !v->bad && k < i; k++)
            if (strcmp(s->names[k], s->names[i]) == 0 && strcmp(s->versions[k], s->versions[i]) == 0)
                fv_fail(v, "%s: the same product as products[%zu]", path, k);
    }
    json_t *hook = fv_object(v, body, "", "webhook", false);
    s->url = hook ? fv_string(v, hook, "webhook", "url", true, MODEL_MAX_URL_CHARS, FV_ID) : NULL;
    const char *whsec = hook ? fv_string(v, hook, "webhook", "secret", true, 200, FV_ID) : NULL;
    if (s->url != NULL && !subs__url_ok(s->url))
        fv_fail(v, "webhook.url: must be an http or https URL with a host (and a port from 1 to 65535)");
    if (whsec != NULL && !v->bad) {
        /* Its padding may be left out (some generators drop the '='). */
        char b64[200 * 4 + 4];
        size_t pl = strlen(SUBS_SECRET_PREFIX), bl = 0;
        bool prefixed = strncmp(whsec, SUBS_SECRET_PREFIX, pl) == 0;
        if (prefixed) {
            bl = strlen(whsec + pl);
            memcpy(b64, whsec + pl, bl);
            while (bl % 4 != 0 && bl % 4 != 1)
                b64[bl++] = '=';
        }
        if (!prefixed || b64_decode(b64, bl, s->secret, sizeof s->secret, &s->secret_len) != ENT_OK ||
            s->secret_len < SUBS_SECRET_MIN || s->secret_len > SUBS_SECRET_MAX)
            fv_fail(v, "webhook.secret: must be whsec_ and the base64 of %d to %d bytes", SUBS_SECRET_MIN,
                    SUBS_SECRET_MAX);
        OPENSSL_cleanse(b64, sizeof b64);
    }
    fv_integer(v, body, "", "scheduleMinutes", false, 1, SUBS_MAX_MINUTES, &s->minutes);
    json_t *global = json_is_object(body) ? json_object_get(body, "global") : NULL;
    /* null is absent, as for every optional field */
    if (global != NULL && !json_is_null(global) && !json_is_boolean(global))
        fv_fail(v, "global: must be true or false");
    s->global = global != NULL && json_is_true(global);
    /* (fv_string marked v bad when name is missing; said again for the
     * analyzer, which reads s->name later.) */
    if (s->name == NULL)
        fv_fail(v, "name: required");
}

void subs_create(rest_ctx_t *c)
{
    subs_caller_t me;
    char ref[STORE_SUB_REF_LEN + 1], a[17], b[17];
    size_t missing = 0;
    subs_new_t want;
    char *answer = NULL;
    json_t *body = NULL;
    db_conn_t *conn = NULL;
    fv_t v = {0};
    int rc = ENT_OK;

    rest_idem_t idem;
    const char *platform = subs__platform(c);
    if (platform == NULL || !subs__user(c, &me) || (body = rest_body(c)) == NULL)
        goto out;
    if (!subs__idem_begin(c, &me, &idem) || rest_idem_replay(c, &idem))
        goto out;
    subs__read_new(&v, body, &want);
    if (v.bad) {
        rest_error(c, 400, NULL, "%s", v.msg);
        goto out;
    }
    if (ids_request_id(a, sizeof a) != ENT_OK || ids_request_id(b, sizeof b) != ENT_OK) {
        rest_error(c, 500, NULL, "internal error (request %s)", c->r->request_id);
        goto out;
    }
    snprintf(ref, sizeof ref, "sub-%s%s", a, b);
    store_sub_new_t s = {ref, platform, want.name, me.user, me.who.token_id, want.global, want.url,
                         want.url ? want.secret : NULL, want.secret_len, (int)want.minutes, want.names,
                         want.versions, want.np};
    if ((conn = rest_db(c)) == NULL || !rest_idem_claim(c, conn, &idem))
        goto out;
    rc = store_sub_create(conn, &s, &missing, &answer);
    if (rc != ENT_OK) {
        subs__fail(c, rc, "creating a subscription");
        goto out;
    }
    if (missing > 0) {
        char qn[QUOTE_SIZE(QUOTE_MAX_CHARS)], qv[QUOTE_SIZE(QUOTE_MAX_CHARS)];
        rest_error(c, 400, NULL, "products[%zu]: no product '%s' version '%s' in the catalog", missing - 1,
                   quote_str(qn, sizeof qn, want.names[missing - 1]),
                   quote_str(qv, sizeof qv, want.versions[missing - 1]));
        goto out;
    }
    log_info("subscription %s created by %s (%zu products)", ref, me.user, want.np);
    char extra[128];
    snprintf(extra, sizeof extra, "Location: /subscriptions/%s/%s\r\n", platform, ref);
    rest_idem_respond(c, conn, &idem, 201, json_loads(answer, 0, NULL), extra);
out:
    if (conn != NULL)
        rest_db_release(c, conn, rc);
    free(answer);
    json_decref(body);
}

void subs_get(rest_ctx_t *c)
{
    subs_caller_t me;
    char *answer = NULL;
    db_conn_t *conn;
    const char *platform = subs__platform(c);
    if (platform == NULL || !subs__user(c, &me) || (conn = rest_db(c)) == NULL)
        return;
    int rc = store_sub_get(conn, platform, c->params[1], &me.who, &answer);
    rest_db_release(c, conn, rc);
    if (rc == ENT_ENOTFOUND)
        rest_error(c, 404, NULL, "no %s subscription with this subscriptionRef that you can see", platform);
    else if (rc != ENT_OK)
        subs__fail(c, rc, "reading a subscription");
    else
        rest_json(c, 200, json_loads(answer, 0, NULL), NULL);
    free(answer);
}

void subs_delete(rest_ctx_t *c)
{
    subs_caller_t me;
    db_conn_t *conn;
    const char *platform = subs__platform(c);
    /* A body it does not read is still refused when it is not JSON (the
     * common rules), before anything is deleted. */
    if (platform == NULL || !subs__user(c, &me) || !subs__no_body(c) || (conn = rest_db(c)) == NULL)
        return;
    int rc = store_sub_delete(conn, platform, c->params[1], &me.who);
    rest_db_release(c, conn, rc);
    if (rc == ENT_ENOTFOUND)
        rest_error(c, 404, NULL, "no %s subscription with this subscriptionRef that you can see", platform);
    else if (rc == ENT_EPERM)
        /* The vendor's answers have no 403: "404, not found (or no
         * privileges)". */
        rest_error(c, 404, NULL, "a global subscription is deleted by its owner only");
    else if (rc != ENT_OK)
        subs__fail(c, rc, "deleting a subscription");
    else {
        log_info("subscription %s deleted by %s", c->params[1], me.user);
        rest_raw(c, 204, NULL, "", 0);
    }
}

void subs_trigger(rest_ctx_t *c)
{
    subs_caller_t me;
    char msg_id[STORE_RUN_MSG_ID_LEN + 1], a[17], b[17];
    long long run_id = 0;
    bool queued = false;
    db_conn_t *conn;
    rest_idem_t idem;
    const char *platform = subs__platform(c);
    if (platform == NULL || !subs__user(c, &me) || !subs__no_body(c) || !subs__idem_begin(c, &me, &idem) ||
        rest_idem_replay(c, &idem))
        return;
    if (ids_request_id(a, sizeof a) != ENT_OK || ids_request_id(b, sizeof b) != ENT_OK) {
        rest_error(c, 500, NULL, "internal error (request %s)", c->r->request_id);
        return;
    }
    snprintf(msg_id, sizeof msg_id, "msg_%s%s", a, b);
    if ((conn = rest_db(c)) == NULL)
        return;
    int rc = ENT_OK;
    if (!rest_idem_claim(c, conn, &idem))
        goto out;
    rc = store_sub_trigger(conn, platform, c->params[1], &me.who, msg_id, &run_id, &queued);
    if (rc == ENT_ENOTFOUND) {
        rest_error(c, 404, NULL, "no %s subscription with this subscriptionRef that you can see", platform);
        goto out;
    }
    if (rc != ENT_OK) {
        subs__fail(c, rc, "triggering a subscription");
        goto out;
    }
    log_info("subscription %s triggered by %s: run %lld%s", c->params[1], me.user, run_id,
             queued ? "" : " (pending already)");
    json_t *body = json_pack("{s:s, s:I}", "subscriptionRef", c->params[1], "runId", (json_int_t)run_id);
    rest_idem_respond(c, conn, &idem, 202, body, NULL);
    /* (Committed by now: the workers find the run.) */
    if (queued)
        job_runner_queued(c->f->jobs, JOB_LANE_WEBHOOK);
out:
    rest_db_release(c, conn, rc);
}

void subs_status(rest_ctx_t *c)
{
    subs_caller_t me;
    char *answer = NULL;
    db_conn_t *conn;
    const char *platform = subs__platform(c);
    const char *ref = c->params[c->nparams - 1];
    if (platform == NULL || !subs__user(c, &me) || (conn = rest_db(c)) == NULL)
        return;
    int rc = store_sub_status(conn, platform, ref, &me.who, &answer);
    rest_db_release(c, conn, rc);
    if (rc == ENT_ENOTFOUND)
        rest_error(c, 404, NULL, "no %s subscription with this subscriptionRef that you can see", platform);
    else if (rc != ENT_OK)
        subs__fail(c, rc, "reading a subscription's status");
    else
        rest_json(c, 200, json_loads(answer, 0, NULL), NULL);
    free(answer);
}

/* Update packages (section 3):
 *   POST /acquisition_api/v1/subscriptionUpdates/{subscriptionId}/{changesSinceDate}?productIds=1,2
 *        -> 200 envelope, data {status PACKAGED|NOUPDATE|LIMIT_REACHED, packageId}
 *   GET  /acquisition_api/v1/packages/{packageId}          -> 200 its description
 *   GET  /acquisition_api/v1/packages/{packageId}/content  -> 200 its document (READY), else 409 */

/* Longest productIds query value kept. */
#define SUBS_MAX_QUERY 2048

/* The acquisition API's envelope around data (taken; NULL: null), with
 * field errors and global errors (taken; NULL: []). */
static json_t *subs__envelope_of(json_t *data, json_t *field_errors, json_t *global_errors)
{
    return json_pack("{s:[], s:[], s:o, s:o, s:o}", "globalInfoMsgs", "globalWarnings", "globalErrors",
                     global_errors ? global_errors : json_array(), "fieldErrors",
                     field_errors ? field_errors : json_array(), "data", data ? data : json_null());
}

static void subs__envelope(rest_ctx_t *c, int status, const char *extra, json_t *data, json_t *field_errors,
                           json_t *global_errors)
{
    rest_json(c, status, subs__envelope_of(data, field_errors, global_errors), extra);
}

/* rest_error's answer in the envelope: every refusal of the acquisition
 * API (401, 409, 415, 503 as well as 400 and 404) has the one shape its
 * clients deserialise, the words in globalErrors. */
void subs_envelope_shape(rest_ctx_t *c, int status, const char *extra, const char *msg)
{
    subs__envelope(c, status, extra, NULL, NULL, json_pack("[s]", msg));
}

static void subs__field_error(json_t *errors, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void subs__field_error(json_t *errors, const char *field, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    quote_vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(errors, json_pack("{s:s, s:s}", "field", field, "message", msg));
}

/* The productIds value q (decoded): 1 to STORE_PACKAGE_MAX_PRODUCTS
 * positive integers, comma separated; *n of them into nos. False
 * otherwise. */
static bool subs__parse_ids(const char *q, long long *nos, size_t *n)
{
    *n = 0;
    for (const char *p = q;;) {
        char *end;
        if (*p < '0' || *p > '9' || *n == STORE_PACKAGE_MAX_PRODUCTS)
            return false;
        long long v = strtoll(p, &end, 10);
        if (v <= 0 || v > 1000000 || (*end != ',' && *end != '\0'))
            return false;
        nos[(*n)++] = v;
        if (*end == '\0')
            return true;
        p = end + 1;
    }
}

/* The request's productIds into nos (*n of them); false (with a field
 * error) when they are missing or wrong. */
static bool subs__product_ids(rest_ctx_t *c, json_t *errors, long long *nos, size_t *n)
{
    char q[SUBS_MAX_QUERY + 1];
    int got = rest_query(c, "productIds", q, sizeof q);
    *n = 0;
    if (got <= 0 || q[0] == '\0') {
        subs__field_error(errors, "productIds", "%s",
                          got == -2  ? "given more than once: give the subscriptionProductIds in one, comma separated"
                          : got < 0 ? "not valid percent-encoding, or too long"
                                    : "required: the subscriptionProductIds, comma separated");
        return false;
    }
    if (!subs__parse_ids(q, nos, n)) {
        subs__field_error(errors, "productIds", "must be 1 to %d subscriptionProductIds (positive integers), "
                                                "comma separated", STORE_PACKAGE_MAX_PRODUCTS);
        return false;
    }
    return true;
}

bool subs_check(json_t *create, const char *product_ids, char *msg, size_t cap)
{
    fv_t v = {0};
    subs_new_t s;
    long long nos[STORE_PACKAGE_MAX_PRODUCTS];
    size_t n = 0;
    if (create != NULL)
        subs__read_new(&v, create, &s);
    if (product_ids != NULL && !subs__parse_ids(product_ids, nos, &n))
        fv_fail(&v, "productIds: must be 1 to %d subscriptionProductIds (positive integers), comma separated",
                STORE_PACKAGE_MAX_PRODUCTS);
    snprintf(msg, cap, "%s", v.msg);
    return !v.bad;
}

void subs_package_request(rest_ctx_t *c)
{
    subs_caller_t me;
    char package_id[STORE_PACKAGE_ID_LEN + 1], day[LC_DATE_LEN + 1], a[17], b[17];
    long long nos[STORE_PACKAGE_MAX_PRODUCTS], bad = 0;
    size_t n = 0;
    store_package_verdict_t verdict = STORE_PACKAGE_NOUPDATE;
    const char *ref = c->params[0], *since = c->params[1];
    db_conn_t *conn;

    rest_idem_t idem;
    c->error_shape = subs_envelope_shape;
    if (!subs__user(c, &me) || !subs__no_body(c) || !subs__idem_begin(c, &me, &idem) ||
        rest_idem_replay(c, &idem))
        return;
    const char *why;
    if (!fv_text_ok(ref, c->param_len[0], REST_MAX_PARAM, FV_ID, &why)) {
        subs__envelope(c, 404, NULL, NULL, NULL,
                       json_pack("[s]", "no subscription with this subscriptionId that you can see"));
        return;
    }
    json_t *errors = json_array();
    if (ref[0] == '\0')
        subs__field_error(errors, "subscriptionId", "required");
    if (strlen(since) != LC_DATE_LEN || !lc_date_parse(since, day))
        subs__field_error(errors, "changesSinceDate", "'%s' is not a date YYYY-MM-DD", since);
    bool ids_ok = subs__product_ids(c, errors, nos, &n);
    if (json_array_size(errors) > 0) {
        /* Refused for the date: the products are named too, if wrong. */
        bool visible = false;
        if (ids_ok && ref[0] != '\0' && (conn = rest_db(c)) != NULL) {
            int rc = store_package_products(conn, ref, &me.who, nos, n, &visible, &bad);
            rest_db_release(c, conn, rc);
            if (rc != ENT_OK) {
                json_decref(errors);
                subs__fail(c, rc, "checking the products of an update package");
                return;
            }
            if (bad > 0)
                subs__field_error(errors, "productIds", "%lld is not a subscriptionProductId of this subscription",
                                  bad);
        } else if (ids_ok && ref[0] != '\0') {
            json_decref(errors); /* rest_db answered 503 */
            return;
        }
        subs__envelope(c, 400, NULL, NULL, errors, NULL);
        return;
    }
    if (ids_request_id(a, sizeof a) != ENT_OK || ids_request_id(b, sizeof b) != ENT_OK) {
        json_decref(errors);
        rest_error(c, 500, NULL, "internal error (request %s)", c->r->request_id);
        return;
    }
    snprintf(package_id, sizeof package_id, "pkg-%s%s", a, b);
    if ((conn = rest_db(c)) == NULL) {
        json_decref(errors);
        return;
    }
    int rc = ENT_OK;
    if (!rest_idem_claim(c, conn, &idem)) {
        json_decref(errors);
        goto out;
    }
    rc = store_package_request(conn, ref, &me.who, day, nos, n, package_id, c->f->cfg->package_delay_ms, &verdict,
                               &bad);
    if (rc != ENT_OK) {
        json_decref(errors);
        subs__fail(c, rc, "requesting an update package");
        goto out;
    }
    /* With an Idempotency-Key, what was decided is kept: a package and
     * NOUPDATE; refusals and LIMIT_REACHED (try again) are not. */
    switch (verdict) {
    case STORE_PACKAGE_NO_SUBSCRIPTION:
        subs__envelope(c, 404, NULL, NULL, errors,
                       json_pack("[s]", "no subscription with this subscriptionId that you can see"));
        break;
    case STORE_PACKAGE_BAD_PRODUCT:
        subs__field_error(errors, "productIds", "%lld is not a subscriptionProductId of this subscription", bad);
        subs__envelope(c, 400, NULL, NULL, errors, NULL);
        break;
    case STORE_PACKAGE_NOUPDATE:
        rest_idem_respond(c, conn, &idem, 200,
                          subs__envelope_of(json_pack("{s:s, s:n}", "status", "NOUPDATE", "packageId"), errors, NULL),
                          NULL);
        break;
    case STORE_PACKAGE_LIMIT_REACHED:
        subs__envelope(c, 200, "Retry-After: 5\r\n", json_pack("{s:s, s:n}", "status", "LIMIT_REACHED", "packageId"),
                       errors, NULL);
        break;
    case STORE_PACKAGE_PACKAGED:
        log_info("update package %s requested by %s (%zu products since %s)", package_id, me.user, n, day);
        rest_idem_respond(c, conn, &idem, 200,
                          subs__envelope_of(json_pack("{s:s, s:s}", "status", "PACKAGED", "packageId", package_id),
                                            errors, NULL),
                          NULL);
        /* (Committed by now: the workers find the job.) */
        job_runner_queued(c->f->jobs, JOB_LANE_QUICK);
        break;
    }
out:
    rest_db_release(c, conn, rc);
}

/* GET a package's description. */
void subs_package_get(rest_ctx_t *c)
{
    subs_caller_t me;
    char *answer = NULL;
    db_conn_t *conn;
    if (!subs__user(c, &me) || (conn = rest_db(c)) == NULL)
        return;
    int rc = store_package_get(conn, c->params[0], &me.who, &answer);
    rest_db_release(c, conn, rc);
    if (rc == ENT_ENOTFOUND)
        rest_error(c, 404, NULL, "no update package with this packageId that you asked for");
    else if (rc != ENT_OK)
        subs__fail(c, rc, "reading an update package");
    else
        rest_json(c, 200, json_loads(answer, 0, NULL), NULL);
    free(answer);
}

/* A package's content, streamed: the document's start, then a page of
 * changes per piece (each read with a pooled connection taken for that
 * moment only), then its end. */
typedef struct subs_stream {
    db_pool_t *pool;
    long long id;
    int page, pages;
    char *head; /* owned; NULL once sent */
    http_piece_t *piece;
} subs_stream_t;

static int subs__stream_emit(void *arg, const char *data, size_t n)
{
    return http_piece_write(((subs_stream_t *)arg)->piece, data, n);
}

static int subs__stream_next(void *arg, http_piece_t *p, bool *end)
{
    subs_stream_t *st = arg;
    int rc = ENT_OK;
    st->piece = p;
    if (st->head != NULL) {
        rc = http_piece_write(p, st->head, strlen(st->head));
        free(st->head);
        st->head = NULL;
    } else if (st->page > 0) {
        rc = http_piece_write(p, ", ", 2);
    }
    if (rc == ENT_OK && st->page < st->pages) {
        db_conn_t *conn = NULL;
        if ((rc = db_pool_acquire(st->pool, &conn)) != ENT_OK)
            return rc;
        rc = store_package_page(conn, st->id, st->page, subs__stream_emit, st);
        if (rc == ENT_EDBDOWN)
            db_conn_discard(conn);
        db_pool_release(st->pool, conn);
        if (rc == ENT_ENOTFOUND)
            log_warn("update package %lld went while it was being read (page %d of %d)", st->id, st->page, st->pages);
        st->page++;
    }
    if (rc == ENT_OK && st->page >= st->pages) {
        rc = http_piece_write(p, "]}", 2);
        *end = true;
    }
    return rc;
}

static void subs__stream_free(void *arg)
{
    subs_stream_t *st = arg;
    free(st->head);
    free(st);
}

/* GET a package's content (READY), else 409. */
void subs_package_content(rest_ctx_t *c)
{
    subs_caller_t me;
    subs_stream_t *st = calloc(1, sizeof *st);
    char status[16] = "";
    db_conn_t *conn;
    if (st == NULL) {
        rest_error(c, 503, NULL, "out of memory; try again");
        return;
    }
    if (!subs__user(c, &me) || (conn = rest_db(c)) == NULL) {
        free(st);
        return;
    }
    int rc = store_package_open(conn, c->params[0], &me.who, &st->id, &st->pages, &st->head, status);
    rest_db_release(c, conn, rc);
    if (rc != ENT_OK) {
        subs__stream_free(st);
        if (rc == ENT_ENOTFOUND)
            rest_error(c, 404, NULL, "no update package with this packageId that you asked for");
        else if (rc == ENT_EINVAL && status[0] != '\0')
            rest_error(c, 409, strcmp(status, "PROCESSING") == 0 ? "Retry-After: 2\r\n" : NULL,
                       "the package is %s: %s", status,
                       strcmp(status, "PROCESSING") == 0 ? "its content is not built yet; try again"
                                                         : "request another");
        else
            subs__fail(c, rc, "reading an update package");
        return;
    }
    st->pool = c->f->pool;
    http_source_t src = {subs__stream_next, subs__stream_free, st};
    if (http_respond_source(c->x, 200, "application/json; charset=utf-8", NULL, &src) != ENT_OK) {
        log_error("cannot write the head of a package's content: out of memory");
        http_discard(c->x);
        http_close_after(c->x);
    }
}
