/*
 * Device status protocol 4.0.0 (BlackBerry IVY/OTA "Status"):
 *
 *   POST /dmps/status/4.0.0                                   a device reports its anatomy
 *   GET  /dmps/status/4.0.0/tenants/{tenantId}/devices/{deviceId}   its latest state
 *   GET  /dmps/status/4.0.0/tenants/{tenantId}/summary              counts for analytics
 *
 * A request is {"header": {...}, "body": {"nodes": [...]}} or the same
 * fields flat at the top level; every field of the protocol's tables is
 * checked, and a 400 names the first wrong one by its path ("nodes[2].
 * releases[0].version: required"). Answers of the POST have the
 * protocol's response shape, errors included. A Bearer API token of the
 * tenant is required (403 for another tenant's).
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/hex.h"
#include "../core/jarena.h"
#include "../core/jsonr.h"
#include "../core/jsonw.h"
#include "../core/log.h"
#include "fields.h"
#include "rest_int.h"

/* Paths are built in buffers of this size. */
#define DEVICE_PATH FIELDS_MAX_PATH

/* What a request says about itself, as far as it was read. */
typedef struct device_req {
    const char *tenant, *device, *session, *source;
    bool tenant_echoed;      /* tenant was read after a refusal: for the answer only, not the 403 */
    long long latest_ms;     /* the newest timestamp of the report */
    EVP_MD_CTX *stamps;      /* SHA-256 of every timestamp, in order */
    jsonw_t nodes;           /* the nodes as stored (revision filled in), written as they are checked */
    jsonw_t ids;             /* their ids, as a PostgreSQL text[] literal */
    size_t nids;             /* nodes read so far */
    json_t *seen;            /* id -> its index (to find duplicates at once); owned */
} device_req_t;

/* Starts member name of an object being written (*first: none yet). */
static void device__member(jsonw_t *w, bool *first, const char *name)
{
    if (!*first)
        jsonw_raw(w, ",", 1);
    *first = false;
    jsonw_str(w, name, strlen(name));
    jsonw_raw(w, ":", 1);
}

/* A member with a string value, when the value is there. */
static void device__member_str(jsonw_t *w, bool *first, const char *name, const char *value)
{
    if (value == NULL)
        return;
    device__member(w, first, name);
    jsonw_str(w, value, strlen(value));
}

/* Writes prefix.name, or prefix.name[i] when i >= 0, into out (cap bytes,
 * cut if need be): the prefix of the fields below, formatted without
 * printf (a report has dozens of them, and a message needs one at most). */
static void device__path(char *out, size_t cap, const char *prefix, const char *name, long i)
{
    size_t o = 0, pl = strlen(prefix), nl = strlen(name);
    char num[24];
    size_t k = sizeof num;
    if (i >= 0) {
        num[--k] = ']';
        do {
            num[--k] = (char)('0' + i % 10);
            i /= 10;
        } while (i > 0);
        num[--k] = '[';
    }
    if (pl + 1 + nl + (sizeof num - k) + 1 > cap)
        pl = 0; /* cannot happen with the body limit; never overrun */
    memcpy(out + o, prefix, pl);
    o += pl;
    if (pl > 0)
        out[o++] = '.';
    memcpy(out + o, name, nl);
    o += nl;
    memcpy(out + o, num + k, sizeof num - k);
    o += sizeof num - k;
    out[o] = '\0';
}

/* Writes the protocol's response shape: code "0" and "Success", or the
 * HTTP status as the code, and the message (the first wrong field). The
 * extra header lines already hold Retry-After where it is due. */
static void device__shape(rest_ctx_t *c, int status, const char *extra, const char *msg)
{
    const device_req_t *d = c->error_arg;
    char code[8];
    snprintf(code, sizeof code, "%d", status == 200 ? 0 : status);
    json_t *o = json_pack("{s:{s:s, s:s, s:s}, s:{s:s, s:s}}", "protocol", "name", "Status", "version", "4.0.0",
                          "type", "RESPONSE", "status", "code", code, "message", msg);
    /* The protocol's ids are strings, always there: empty when the
     * request did not get as far as a valid one. */
    if (o != NULL) {
        json_object_set_new(o, "tenantId", json_string(d && d->tenant ? d->tenant : ""));
        json_object_set_new(o, "deviceId", json_string(d && d->device ? d->device : ""));
        json_object_set_new(o, "sessionId", json_string(d && d->session ? d->session : ""));
    }
    rest_json(c, status, o, extra);
}

/* Answers an error of the POST (in the protocol's shape, through
 * rest_error). */
#define device__answer(c, status, d, extra, ...) rest_error((c), (status), (extra), __VA_ARGS__)

/* A timestamp (milliseconds since the epoch) of the report. */
static void device__stamp(device_req_t *d, json_int_t ms)
{
    /* The text "ms;" (how stored reports were stamped), without printf. */
    char buf[JSONW_INT_MAX + 1];
    char *p = jsonw_digits(buf, (long long)ms);
    buf[JSONW_INT_MAX] = ';';
    EVP_DigestUpdate(d->stamps, p, (size_t)(buf + sizeof buf - p));
    if (ms > d->latest_ms)
        d->latest_ms = ms;
}

/* A status object {code, timestamp, message} at prefix; required says
 * which of code and message are. Writes it as member "status" of the
 * object being written. */
static void device__status(fv_t *v, device_req_t *d, json_t *st, const char *prefix, bool code_required,
                           bool message_required, bool *first)
{
    json_int_t ts = 0;
    const char *code = fv_string(v, st, prefix, "code", code_required, MODEL_MAX_DEVICE_TEXT_CHARS, FV_TEXT);
    const char *message =
        fv_string(v, st, prefix, "message", message_required, MODEL_MAX_DEVICE_TEXT_CHARS, FV_TEXT);
    if (fv_integer(v, st, prefix, "timestamp", true, 0, (json_int_t)1 << 53, &ts))
        device__stamp(d, ts);
    if (v->bad)
        return;
    bool f = true;
    device__member(&d->nodes, first, "status");
    jsonw_raw(&d->nodes, "{", 1);
    device__member_str(&d->nodes, &f, "code", code);
    device__member_str(&d->nodes, &f, "message", message);
    device__member(&d->nodes, &f, "timestamp");
    jsonw_int(&d->nodes, ts);
    jsonw_raw(&d->nodes, "}", 1);
}

/* One package of a release. */
static void device__package(fv_t *v, device_req_t *d, json_t *p, const char *prefix)
{
    char path[DEVICE_PATH];
    bool first = true;
    if (!json_is_object(p)) {
        fv_fail(v, "%s: must be an object", prefix);
        return;
    }
    const char *id = fv_string(v, p, prefix, "packageId", true, FIELDS_MAX_ID, FV_ID);
    const char *version = fv_string(v, p, prefix, "version", true, FIELDS_MAX_ID, FV_ID);
    const char *checksum = fv_string(v, p, prefix, "checksum", false, MODEL_MAX_DEVICE_TEXT_CHARS, FV_ID);
    jsonw_raw(&d->nodes, "{", 1);
    device__member_str(&d->nodes, &first, "packageId", id);
    device__member_str(&d->nodes, &first, "version", version);
    device__member_str(&d->nodes, &first, "checksum", checksum);
    json_t *st = fv_object(v, p, prefix, "status", false);
    if (st != NULL) {
        device__path(path, sizeof path, prefix, "status", -1);
        device__status(v, d, st, path, false, false, &first);
    }
    jsonw_raw(&d->nodes, "}", 1);
}

/* One release of a node. */
static void device__release(fv_t *v, device_req_t *d, json_t *r, const char *prefix)
{
    char path[DEVICE_PATH];
    json_int_t revision = 0;
    bool first = true;
    if (!json_is_object(r)) {
        fv_fail(v, "%s: must be an object", prefix);
        return;
    }
    const char *category = fv_string(v, r, prefix, "category", true, FIELDS_MAX_ID, FV_ID);
    const char *version = fv_string(v, r, prefix, "version", true, FIELDS_MAX_ID, FV_ID);
    fv_integer(v, r, prefix, "revision", false, 0, 2147483647, &revision);
    jsonw_raw(&d->nodes, "{", 1);
    device__member_str(&d->nodes, &first, "category", category);
    device__member_str(&d->nodes, &first, "version", version);
    device__member(&d->nodes, &first, "revision");
    jsonw_int(&d->nodes, revision);
    json_t *st = fv_object(v, r, prefix, "status", false);
    if (st != NULL) {
        device__path(path, sizeof path, prefix, "status", -1);
        device__status(v, d, st, path, true, true, &first);
    }
    json_t *pk = fv_array(v, r, prefix, "packages", false);
    if (pk != NULL) {
        device__member(&d->nodes, &first, "packages");
        jsonw_raw(&d->nodes, "[", 1);
        for (size_t i = 0; i < json_array_size(pk) && !v->bad; i++) {
            if (i)
                jsonw_raw(&d->nodes, ",", 1);
            device__path(path, sizeof path, prefix, "packages", (long)i);
            device__package(v, d, json_array_get(pk, i), path);
        }
        jsonw_raw(&d->nodes, "]", 1);
    }
    jsonw_raw(&d->nodes, "}", 1);
}

/* Adds id to the text[] literal of the node ids (every element quoted:
 * no id can change the array's shape). */
static void device__add_id(device_req_t *d, const char *id)
{
    if (d->nids > 0)
        jsonw_raw(&d->ids, ",", 1);
    jsonw_raw(&d->ids, "\"", 1);
    for (const char *e = id; *e; e++) {
        if (*e == '"' || *e == '\\')
            jsonw_raw(&d->ids, "\\", 1);
        jsonw_raw(&d->ids, e, 1);
    }
    jsonw_raw(&d->ids, "\"", 1);
}

/* One node of the anatomy. */
static void device__node(fv_t *v, device_req_t *d, json_t *n, const char *prefix)
{
    char path[DEVICE_PATH];
    bool first = true;
    if (!json_is_object(n)) {
        fv_fail(v, "%s: must be an object", prefix);
        return;
    }
    const char *id = fv_string(v, n, prefix, "id", true, FIELDS_MAX_ID, FV_ID);
    if (id != NULL && id[0] == '\0')
        fv_fail(v, "%s.id: must not be empty", prefix);
    if (id != NULL && !v->bad) {
        json_t *before = json_object_get(d->seen, id);
        if (before != NULL)
            fv_fail(v, "%s.id: the same as nodes[%lld].id", prefix, (long long)json_integer_value(before));
        device__add_id(d, id);
        json_object_set_new(d->seen, id, json_integer((json_int_t)d->nids++));
    }
    jsonw_raw(&d->nodes, "{", 1);
    device__member_str(&d->nodes, &first, "id", id);
    json_t *st = fv_object(v, n, prefix, "status", false);
    if (st != NULL) {
        device__path(path, sizeof path, prefix, "status", -1);
        device__status(v, d, st, path, true, true, &first);
    }
    json_t *props = fv_array(v, n, prefix, "properties", false);
    if (props != NULL) {
        device__member(&d->nodes, &first, "properties");
        jsonw_raw(&d->nodes, "[", 1);
        for (size_t i = 0; i < json_array_size(props) && !v->bad; i++) {
            json_t *p = json_array_get(props, i);
            bool pf = true;
            device__path(path, sizeof path, prefix, "properties", (long)i);
            if (!json_is_object(p)) {
                fv_fail(v, "%s: must be an object", path);
                break;
            }
            const char *key = fv_string(v, p, path, "key", true, MODEL_MAX_DEVICE_TEXT_CHARS, FV_ID);
            const char *value = fv_string(v, p, path, "value", false, MODEL_MAX_DEVICE_TEXT_CHARS, FV_TEXT);
            jsonw_raw(&d->nodes, i ? ",{" : "{", i ? 2 : 1);
            device__member_str(&d->nodes, &pf, "key", key);
            device__member_str(&d->nodes, &pf, "value", value);
            jsonw_raw(&d->nodes, "}", 1);
        }
        jsonw_raw(&d->nodes, "]", 1);
    }
    json_t *rel = fv_array(v, n, prefix, "releases", false);
    if (rel != NULL) {
        device__member(&d->nodes, &first, "releases");
        jsonw_raw(&d->nodes, "[", 1);
        for (size_t i = 0; i < json_array_size(rel) && !v->bad; i++) {
            if (i)
                jsonw_raw(&d->nodes, ",", 1);
            device__path(path, sizeof path, prefix, "releases", (long)i);
            device__release(v, d, json_array_get(rel, i), path);
        }
        jsonw_raw(&d->nodes, "]", 1);
    }
    jsonw_raw(&d->nodes, "}", 1);
}

/* The header's fields (in header, or flat in the top level). */
static void device__header(fv_t *v, device_req_t *d, json_t *h)
{
    json_t *proto = fv_object(v, h, "", "protocol", true);
    const char *name = fv_string(v, proto, "protocol", "name", true, 64, FV_ID);
    const char *version = fv_string(v, proto, "protocol", "version", true, 64, FV_ID);
    const char *type = fv_string(v, proto, "protocol", "type", true, 64, FV_ID);
    if (name && strcmp(name, "Status") != 0)
        fv_fail(v, "protocol.name: must be Status");
    if (version && strcmp(version, "4.0.0") != 0)
        fv_fail(v, "protocol.version: must be 4.0.0");
    if (type && strcmp(type, "REQUEST") != 0)
        fv_fail(v, "protocol.type: must be REQUEST");
    static const char *const ids[] = {"tenantId", "deviceId", "sourceId", "sessionId"};
    const char *got[4];
    for (int i = 0; i < 4; i++) {
        got[i] = fv_string(v, h, "", ids[i], true, FIELDS_MAX_ID, FV_ID);
        if (got[i] != NULL && got[i][0] == '\0')
            fv_fail(v, "%s: must not be empty", ids[i]);
    }
    /* Once a field was refused the checks stop; the refusal still echoes
     * the ids the client sent (the response's shape has them), when they
     * are text. */
    for (int i = 0; v->bad && i < 4; i++) {
        json_t *sent = got[i] == NULL ? json_object_get(h, ids[i]) : NULL;
        const char *why;
        if (json_is_string(sent) &&
            fv_text_ok(json_string_value(sent), json_string_length(sent), FIELDS_MAX_ID, FV_ID, &why)) {
            got[i] = json_string_value(sent);
            d->tenant_echoed |= i == 0;
        }
    }
    d->tenant = got[0];
    d->device = got[1];
    d->source = got[2];
    d->session = got[3];
}

/* Reads the report req into d: its header's ids, the nodes as stored,
 * the digest of its timestamps; the first problem goes into v.
 * ENT_ENOMEM when out of memory, else ENT_OK whatever v says. d starts
 * zeroed, and device__clear frees it whatever the result. */
static int device__read(fv_t *v, device_req_t *d, json_t *req)
{
    d->stamps = EVP_MD_CTX_new();
    d->seen = json_object();
    jsonw_raw(&d->nodes, "[", 1);
    jsonw_raw(&d->ids, "{", 1);
    if (d->stamps == NULL || d->seen == NULL || EVP_DigestInit_ex(d->stamps, EVP_sha256(), NULL) != 1)
        return ENT_ENOMEM;
    if (!json_is_object(req)) {
        fv_fail(v, "the body must be a JSON object");
        return ENT_OK;
    }
    /* {"header": ..., "body": ...} or the same fields flat. */
    bool nested = json_object_get(req, "header") != NULL || json_object_get(req, "body") != NULL;
    /* The header first: its ids are echoed in the answer, also when the
     * body is what is wrong. */
    json_t *h = nested ? fv_object(v, req, "", "header", true) : req;
    if (!v->bad)
        device__header(v, d, h);
    json_t *b = nested && !v->bad ? fv_object(v, req, "", "body", true) : req;
    json_t *nodes = v->bad ? NULL : fv_array(v, b, "", "nodes", true);
    for (size_t i = 0; nodes != NULL && i < json_array_size(nodes) && !v->bad; i++) {
        char path[DEVICE_PATH];
        device__path(path, sizeof path, "", "nodes", (long)i);
        if (i)
            jsonw_raw(&d->nodes, ",", 1);
        device__node(v, d, json_array_get(nodes, i), path);
    }
    jsonw_raw(&d->nodes, "]", 1);
    jsonw_raw(&d->ids, "}", 1);
    return ENT_OK;
}

/* Frees what device__read made. */
static void device__clear(device_req_t *d)
{
    EVP_MD_CTX_free(d->stamps);
    free(jsonw_take(&d->nodes));
    free(jsonw_take(&d->ids));
    json_decref(d->seen);
}

bool device_check(json_t *req, char **nodes, char *msg, size_t cap)
{
    device_req_t d = {0};
    fv_t v = {false, ""};
    int rc = device__read(&v, &d, req);
    *nodes = rc == ENT_OK && !v.bad ? jsonw_take(&d.nodes) : NULL;
    snprintf(msg, cap, "%s", rc != ENT_OK ? "out of memory" : v.msg);
    device__clear(&d);
    return *nodes != NULL;
}

/* The request's API token, for tenant (NULL: any tenant's); answers 401 /
 * 403 / 503 and returns false otherwise. */
static bool device__token(rest_ctx_t *c, const char *tenant, store_token_t *tok)
{
    const char *why;
    static const char www[] = "WWW-Authenticate: Bearer realm=\"entitlementd\"\r\n";
    auth_verdict_t verdict = rest_api_token(c, tok, &why);
    int status = verdict == AUTH_OK ? 0 : verdict == AUTH_DENIED ? 401 : 503;
    const char *msg = status == 401 ? "a valid API token is required (Authorization: Bearer <token>)"
                                    : "the token store cannot be reached; try again";
    if (status == 0 && (tok->tenant[0] == '\0' || (tenant != NULL && strcmp(tok->tenant, tenant) != 0))) {
        status = 403;
        msg = tok->tenant[0] ? "the API token is another tenant's" : "the API token is not a device reporter's";
    }
    if (status == 0)
        return true;
    if (status == 401)
        log_info("device status: 401: %s", why);
    rest_error(c, status, status == 401 ? www : NULL, "%s", msg);
    return false;
}

/* A report whose statement waits in its group: what its answer needs. */
typedef struct device__pending {
    rest_pending_t base; /* first: rest_defer_write's */
    rest_idem_t idem;
    char *tenant, *device, *session, *resp;
    device_req_t shape; /* the ids an error answer names */
} device__pending_t;

static void device__pending_free(device__pending_t *p)
{
    store_write_free(p->base.w);
    free(p->tenant);
    free(p->device);
    free(p->session);
    free(p->resp);
    free(p);
}

/* The statement's outcome: the answer (in the thread that ran its group). */
static void device__reported(void *arg, int rc, const bool flags[STORE_WRITE_FLAGS])
{
    device__pending_t *p = arg;
    rest_ctx_t c;
    char rid[HTTP_REQUEST_ID_MAX];

    rest_deferred_begin(&c, &p->base, rid);
    c.error_shape = device__shape;
    c.error_arg = &p->shape;
    if (rc == ENT_EDBDOWN || rc == ENT_ETIMEDOUT) {
        device__answer(&c, 503, &p->shape, NULL, "the database cannot be reached; try again");
    } else if (rc != ENT_OK) {
        log_error("storing a device status report: %s", ent_strerror(rc));
        device__answer(&c, 500, &p->shape, NULL, "internal error (request %s)", c.r->request_id);
    } else if (!flags[0]) {
        device__answer(&c, 401, &p->shape, "WWW-Authenticate: Bearer realm=\"entitlementd\"\r\n",
                       "a valid API token is required (Authorization: Bearer <token>)");
    } else if (!flags[1]) {
        if (!rest_idem_replay(&c, &p->idem))
            device__answer(&c, 409, &p->shape, NULL,
                           "Idempotency-Key is being used by a request in progress; try again");
    } else {
        if (!flags[2])
            log_debug("device status: a repeat of a stored report (tenant %s, device %s)", p->tenant, p->device);
        if (http_respond(c.x, 200, "application/json; charset=utf-8", NULL, p->resp, strlen(p->resp)) != ENT_OK)
            http_close_after(c.x);
    }
    rest_deferred_end(&p->base, rid);
    device__pending_free(p);
}

void device_post(rest_ctx_t *c)
{
    device_req_t d = {0};
    fv_t v = {false, ""};
    store_token_t tok;
    json_t *req = NULL;
    char *nodes_json = NULL, *node_ids = NULL, *resp = NULL;
    device__pending_t *p = NULL;
    int rc = ENT_OK;

    c->error_shape = device__shape;
    c->error_arg = &d;
    /* A token first, before anything of the body is read; whose tenant it
     * is, once the body says which. */
    if (!device__token(c, NULL, &tok))
        return;
    if (rest_body_missing(c)) {
        device__answer(c, 400, NULL, NULL, "a JSON body is required (Content-Type: application/json)");
        return;
    }
    if (!rest_json_media(c)) {
        device__answer(c, 415, NULL, NULL, "the body must be application/json");
        return;
    }
    /* The report is parsed and read with jansson's allocations in this
     * thread's arena (core/jarena.h), which is off again before any answer
     * is written and given back after the last use of req. */
    json_error_t e;
    jarena_on();
    req = jsonr_load(c->r->body, c->r->body_len, &e);
    rc = req != NULL ? device__read(&v, &d, req) : ENT_OK;
    jarena_off();
    if (req == NULL) {
        jarena_reset();
        char msg[320];
        rest_json_refusal(c, &e, msg, sizeof msg);
        /* Field paths start inside the header and the body, as the
         * tables' do (the flat form has neither). */
        const char *m = strncmp(msg, "header.", 7) == 0 ? msg + 7 : strncmp(msg, "body.", 5) == 0 ? msg + 5 : msg;
        device__answer(c, 400, NULL, NULL, "%s", m);
        return;
    }
    if (rc != ENT_OK) {
        device__answer(c, 500, NULL, NULL, "out of memory");
        goto out;
    }
    /* A tenant that is not given (or empty) is the 400's to name. */
    if (d.tenant && d.tenant[0] && !d.tenant_echoed && strcmp(tok.tenant, d.tenant) != 0) {
        device__answer(c, 403, &d, NULL, "%s", "the API token is another tenant's");
        goto out;
    }
    if (v.bad) {
        device__answer(c, 400, &d, NULL, "%s", v.msg);
        goto out;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    char stamp_hex[65];
    if (EVP_DigestFinal_ex(d.stamps, md, &mdlen) != 1) {
        device__answer(c, 500, &d, NULL, "internal error");
        goto out;
    }
    hex_encode(md, 32, stamp_hex);
    char scope[STORE_MAX_NAME + 16];
    snprintf(scope, sizeof scope, "tenant:%s", d.tenant);
    rest_idem_t idem;
    if (!rest_idem_begin(c, scope, &idem))
        goto out;
    nodes_json = jsonw_take(&d.nodes);
    node_ids = jsonw_take(&d.ids);
    jsonw_t ok = {0};
    jsonw_lit(&ok, "{\"protocol\":{\"name\":\"Status\",\"version\":\"4.0.0\",\"type\":\"RESPONSE\"},\"tenantId\":");
    jsonw_cstr(&ok, d.tenant);
    jsonw_lit(&ok, ",\"deviceId\":");
    jsonw_cstr(&ok, d.device);
    jsonw_lit(&ok, ",\"sessionId\":");
    jsonw_cstr(&ok, d.session);
    jsonw_lit(&ok, ",\"status\":{\"code\":\"0\",\"message\":\"Success\"}}");
    resp = jsonw_take(&ok);
    if (nodes_json == NULL || node_ids == NULL || resp == NULL) {
        device__answer(c, 500, &d, NULL, "out of memory");
        goto out;
    }
    if (rest_idem_replay(c, &idem))
        goto out;
    if ((p = calloc(1, sizeof *p)) == NULL || (p->tenant = strdup(d.tenant)) == NULL ||
        (p->device = strdup(d.device)) == NULL || (p->session = strdup(d.session)) == NULL) {
        device__answer(c, 500, &d, NULL, "out of memory");
        goto out;
    }
    p->idem = idem;
    p->resp = resp;
    resp = NULL;
    p->shape.tenant = p->tenant;
    p->shape.device = p->device;
    p->shape.session = p->session;
    store_report_t rp = {tok.id, d.tenant, d.device, d.session, d.source, stamp_hex, d.latest_ms, nodes_json,
                         node_ids};
    store_idem_t row = rest_idem_row(&idem, 200, "", p->resp);
    /* The write copies the report out of this thread's arena; the answer
     * waits for the report's group, not in this thread. */
    if ((p->base.w = store_device_report(&rp, &row, device__reported, p)) == NULL ||
        !rest_defer_write(c, &p->base)) {
        device__answer(c, 500, &d, NULL, "out of memory");
        goto out;
    }
    p = NULL;
out:
    if (p != NULL)
        device__pending_free(p);
    free(nodes_json);
    free(node_ids);
    free(resp);
    device__clear(&d);
    json_decref(req);
    jarena_reset();
}

/* The path's tenant and device ids, checked; answers 404 and returns false
 * when one cannot be an id. */
static bool device__path_ids(rest_ctx_t *c, int n)
{
    const char *why;
    for (int i = 0; i < n; i++)
        if (!fv_text_ok(c->params[i], c->param_len[i], FIELDS_MAX_ID, FV_ID, &why)) {
            rest_error(c, 404, NULL, "no such %s", i == 0 ? "tenant" : "device");
            return false;
        }
    return true;
}

void device_get(rest_ctx_t *c)
{
    store_token_t tok;
    db_conn_t *conn = NULL;
    char *nodes = NULL, session[FIELDS_MAX_ID * 4 + 1], source[FIELDS_MAX_ID * 4 + 1];
    long long latest = 0;
    bool token_ok = false, found = false;
    int rc = ENT_OK;

    if (!device__token(c, c->params[0], &tok) || !device__path_ids(c, 2))
        return;
    if ((conn = rest_db(c)) == NULL)
        return;
    rc = store_device_get(conn, tok.id, c->params[0], c->params[1], &token_ok, &found, &nodes, session, source,
                          sizeof session, &latest);
    if (rc != ENT_OK)
        rest_db_error(c, rc, "reading a device");
    else if (!token_ok)
        rest_error(c, 401, "WWW-Authenticate: Bearer realm=\"entitlementd\"\r\n", "the API token was revoked");
    else if (!found)
        rest_error(c, 404, NULL, "no such device");
    else {
        json_error_t e;
        json_t *n = json_loads(nodes, 0, &e);
        rest_json(c, 200,
                  json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "tenantId", c->params[0], "deviceId", c->params[1],
                            "sessionId", session, "sourceId", source, "reportedAt", (json_int_t)latest, "nodes",
                            n ? n : json_array()),
                  NULL);
    }
    free(nodes);
    rest_db_release(c, conn, rc);
}

void device_summary(rest_ctx_t *c)
{
    store_token_t tok;
    db_conn_t *conn = NULL;
    char *json = NULL;
    bool token_ok = false;
    int rc;

    if (!device__token(c, c->params[0], &tok) || !device__path_ids(c, 1))
        return;
    if ((conn = rest_db(c)) == NULL)
        return;
    rc = store_device_summary(conn, tok.id, c->params[0], &token_ok, &json);
    if (rc != ENT_OK)
        rest_db_error(c, rc, "summing up devices");
    else if (!token_ok)
        rest_error(c, 401, "WWW-Authenticate: Bearer realm=\"entitlementd\"\r\n", "the API token was revoked");
    else
        rest_raw(c, 200, "application/json; charset=utf-8", json, strlen(json));
    free(json);
    rest_db_release(c, conn, rc);
}
