/*
 * The REST front: the route table and the dispatch of a request to its
 * handler (404 for an unknown path, 405 with Allow for another method).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/quote.h"
#include "fields.h"
#include "rest_int.h"

typedef struct rest_route {
    const char *method;
    const char *pattern; /* segments; "{name}" matches one non-empty segment */
    rest_handler_fn handler;
} rest_route_t;

static const rest_route_t rest__routes[] = {
    {"GET", "/healthz", ops_healthz},
    {"GET", "/readyz", ops_readyz},
    {"GET", "/metrics", ops_metrics},
    {"GET", "/openapi.json", ops_openapi},
    {"POST", "/uai/2.0/updates/statusLog", statuslog_post},
    {"GET", "/uai/2.0/updates/statusLog/{pollingId}", statuslog_poll},
    {"PUT", "/flexnet/operations/api/updates/update-authorization-key", keys_put},
    {"DELETE", "/flexnet/operations/api/updates/update-authorization-key", keys_delete},
    {"POST", "/dmps/status/4.0.0", device_post},
    {"GET", "/dmps/status/4.0.0/tenants/{tenantId}/devices/{deviceId}", device_get},
    {"GET", "/dmps/status/4.0.0/tenants/{tenantId}/summary", device_summary},
    /* Before the two-segment pattern: ".../{ref}/status" is a status. */
    {"GET", "/subscriptions/{subscriptionRef}/status", subs_status},
    {"POST", "/subscriptions/{platformType}", subs_create},
    {"GET", "/subscriptions/{platformType}/{subscriptionRef}", subs_get},
    {"DELETE", "/subscriptions/{platformType}/{subscriptionRef}", subs_delete},
    {"POST", "/subscriptions/{platformType}/{subscriptionRef}/trigger", subs_trigger},
    {"GET", "/subscriptions/{platformType}/{subscriptionRef}/status", subs_status},
    {"POST", "/acquisition_api/v1/subscriptionUpdates/{subscriptionId}/{changesSinceDate}", subs_package_request},
    {"GET", "/acquisition_api/v1/packages/{packageId}", subs_package_get},
    {"GET", "/acquisition_api/v1/packages/{packageId}/content", subs_package_content},
};

#define REST_NROUTES (sizeof rest__routes / sizeof rest__routes[0])

/* Whether path matches pattern; fills c's parameters when it does. */
static bool rest__match(const char *pattern, const char *path, rest_ctx_t *c)
{
    const char *p = pattern, *q = path;
    int np = 0;
    while (*p != '\0' && *q != '\0') {
        if (*p != '/' || *q != '/')
            return false;
        p++;
        q++;
        const char *pe = strchr(p, '/'), *qe = strchr(q, '/');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p), ql = qe ? (size_t)(qe - q) : strlen(q);
        if (pl > 2 && p[0] == '{' && p[pl - 1] == '}') {
            if (ql == 0 || np >= REST_MAX_PARAMS)
                return false;
            if (c != NULL &&
                !rest_decode(q, ql, c->params[np], sizeof c->params[np], &c->param_len[np]))
                return false;
            np++;
        } else if (pl != ql || memcmp(p, q, pl) != 0) {
            return false;
        }
        p += pl;
        q += ql;
    }
    if (*p != '\0' || *q != '\0')
        return false;
    if (c != NULL)
        c->nparams = np;
    return true;
}

/* The parameters of pattern: of the routes a path matches, those with
 * the fewest are the path's (/subscriptions/{ref}/status is not the
 * {platformType}/{subscriptionRef} of a subscription named "status"). */
static int rest__params(const char *pattern)
{
    int n = 0;
    for (const char *p = pattern; (p = strchr(p, '{')) != NULL; p++)
        n++;
    return n;
}

static void rest__serve(void *state, http_exchange_t *x)
{
    rest_ctx_t *c = state;
    char allow[128] = "";
    const rest_route_t *hit = NULL;

    c->x = x;
    c->r = http_request(x);
    c->route = NULL;
    c->nparams = 0;
    c->error_shape = NULL;
    c->error_arg = NULL;
    /* One pass: a matching route with fewer parameters than those seen
     * starts the choice (and Allow) again. */
    int fewest = REST_MAX_PARAMS + 1;
    for (size_t i = 0; i < REST_NROUTES; i++) {
        const rest_route_t *rt = &rest__routes[i];
        if (!rest__match(rt->pattern, c->r->path, NULL))
            continue;
        int np = rest__params(rt->pattern);
        if (np > fewest)
            continue;
        if (np < fewest) {
            fewest = np;
            hit = NULL;
            allow[0] = '\0';
        }
        if (hit != NULL)
            continue;
        if (strcmp(rt->method, c->r->method) == 0) {
            hit = rt;
            continue;
        }
        /* HEAD is served wherever GET is (the transport drops the body). */
        size_t n = strlen(allow);
        if (strstr(allow, rt->method) == NULL)
            snprintf(allow + n, sizeof allow - n, "%s%s%s", n ? ", " : "", rt->method,
                     strcmp(rt->method, "GET") == 0 ? ", HEAD" : "");
    }
    if (hit != NULL) {
        c->route = hit->pattern;
        http_set_route(x, hit->pattern);
        if (!rest__match(hit->pattern, c->r->path, c)) {
            /* A path parameter that does not decode: the path names nothing. */
            rest_error(c, 404, NULL,
                       "no resource at this path (a path segment does not decode: a bad percent-escape, %%00, "
                       "or over %d bytes)", REST_MAX_PARAM);
            return;
        }
        /* Nor does one that is not text: every identifier is UTF-8 without
         * control characters, and the store would refuse the bytes. (The
         * acquisition API answers in its own envelope: it checks its own.) */
        for (int i = 0; hit->handler != subs_package_request && i < c->nparams; i++) {
            const char *why;
            if (!fv_text_ok(c->params[i], c->param_len[i], REST_MAX_PARAM, FV_ID, &why)) {
                rest_error(c, 404, NULL, "no resource at this path (a path segment is not UTF-8 text)");
                return;
            }
        }
        /* A body is JSON wherever one is sent (415 otherwise, the common
         * rules), also on the routes that read none; those that read one
         * judge it themselves, in their own order and shape. */
        if (strcmp(hit->method, "GET") == 0 && c->r->body_len > 0) {
            if (!rest_json_media(c)) {
                rest_error(c, 415, NULL, "a body, where one is sent, must be application/json (UTF-8)");
                return;
            }
            /* ... and well-formed (400), though nothing of it is used. */
            int status;
            char msg[320];
            json_t *unread = rest_body_read(c, &status, msg, sizeof msg);
            if (unread == NULL) {
                rest_error(c, status, NULL, "%s", msg);
                return;
            }
            json_decref(unread);
        }
        hit->handler(c);
        return;
    }
    if (allow[0] != '\0') {
        char extra[160];
        http_set_route(x, "method_not_allowed");
        if (strncmp(c->r->path, SUBS_ENVELOPE_PREFIX, sizeof SUBS_ENVELOPE_PREFIX - 1) == 0)
            c->error_shape = subs_envelope_shape;
        snprintf(extra, sizeof extra, "Allow: %s\r\n", allow);
        rest_error(c, 405, extra, "method %s is not allowed here; allowed: %s", c->r->method, allow);
        return;
    }
    http_set_route(x, "not_found");
    rest_error(c, 404, NULL, "no resource at this path");
}

/* Queues a deferred answer's write, once its worker has let go. */
static void rest__write_start(void *arg)
{
    rest_pending_t *p = arg;
    store_write_t *w = p->w;
    p->w = NULL;
    store_write_submit(p->f->group, w);
}

bool rest_defer_write(rest_ctx_t *c, rest_pending_t *p)
{
    p->f = c->f;
    return (p->d = http_defer(c->x, rest__write_start, p)) != NULL;
}

void rest_deferred_begin(rest_ctx_t *c, const rest_pending_t *p, char *saved_rid)
{
    c->f = p->f;
    c->x = http_deferred_exchange(p->d);
    c->r = http_request(c->x);
    c->route = NULL;
    c->nparams = 0;
    c->error_shape = NULL;
    c->error_arg = NULL;
    snprintf(saved_rid, HTTP_REQUEST_ID_MAX, "%s", log_request_id());
    log_set_request_id(c->r->request_id);
}

void rest_deferred_end(const rest_pending_t *p, const char *saved_rid)
{
    http_resume(p->d);
    log_set_request_id(saved_rid);
}

/* The body of a refusal the server makes for a REST path: in the device
 * status protocol's response shape for its POST (nothing of the request
 * read: no tenant, device or session), in the acquisition API's envelope
 * for a package request, else {message, status}. */
static size_t rest__error_body(int status, const char *message, const char *target, size_t target_len, char *buf,
                               size_t cap, const char **content_type)
{
    char text[256], code[8];
    static const char device[] = "/dmps/status/4.0.0";
    size_t dl = sizeof device - 1;
    quote_format(text, sizeof text, "%s", message);
    json_t *o;
    if (target != NULL && target_len >= dl && memcmp(target, device, dl) == 0 &&
        (target_len == dl || target[dl] == '?')) {
        snprintf(code, sizeof code, "%d", status);
        o = json_pack("{s:{s:s, s:s, s:s}, s:s, s:s, s:s, s:{s:s, s:s}}", "protocol", "name", "Status", "version",
                      "4.0.0", "type", "RESPONSE", "tenantId", "", "deviceId", "", "sessionId", "", "status", "code",
                      code, "message", text);
    } else if (target != NULL && target_len >= sizeof SUBS_ENVELOPE_PREFIX - 1 &&
               memcmp(target, SUBS_ENVELOPE_PREFIX, sizeof SUBS_ENVELOPE_PREFIX - 1) == 0) {
        o = json_pack("{s:[], s:[], s:[s], s:[], s:n}", "globalInfoMsgs", "globalWarnings", "globalErrors", text,
                      "fieldErrors", "data");
    } else {
        o = json_pack("{s:s, s:i}", "message", text, "status", status);
    }
    size_t n = 0;
    *content_type = "application/json; charset=utf-8";
    if (o != NULL) {
        n = json_dumpb(o, buf, cap, JSON_COMPACT);
        json_decref(o);
    }
    if (n == 0 || n >= cap)
        n = (size_t)snprintf(buf, cap, "{\"message\":\"request refused\",\"status\":%d}", status);
    return n < cap ? n : cap - 1;
}

static void *rest__worker_new(void *ctx)
{
    rest_ctx_t *c = calloc(1, sizeof *c);
    if (c != NULL)
        c->f = ctx;
    return c;
}

static void rest__worker_free(void *state)
{
    free(state);
}

void rest_front_set_jobs(rest_front_t *f, job_runner_t *jobs)
{
    f->jobs = jobs;
}

int rest_front_new(const ent_config_t *cfg, db_pool_t *pool, auth_t *auth, rest_front_t **out)
{
    rest_front_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return ENT_ENOMEM;
    f->cfg = cfg;
    f->pool = pool;
    f->auth = auth;
    int rc = db_group_new(pool, cfg->commit_groups, &f->group);
    if (rc != ENT_OK) {
        free(f);
        return rc;
    }
    *out = f;
    return ENT_OK;
}

void rest_front_free(rest_front_t *f)
{
    if (f == NULL)
        return;
    db_group_free(f->group);
    free(f);
}

http_front_t rest_front_http(rest_front_t *f)
{
    http_front_t h = {
        .prefix = "/",
        .max_body = (size_t)f->cfg->max_json_bytes,
        .ctx = f,
        .worker_new = rest__worker_new,
        .worker_free = rest__worker_free,
        .serve = rest__serve,
        .error_body = rest__error_body,
    };
    return h;
}
