/* Shared by the operation handlers: authentication and request context. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "../core/log.h"
#include "../core/quote.h"
#include "convert.h"
#include "ops.h"

/* login: as given, or NULL when none could be read. It goes in the log
 * line so that failures of different users are told apart (and not taken
 * for one repeated message). */
static int ops__auth_fail(struct soap *soap, const char *login, const char *why)
{
    if (login != NULL)
        log_info("authentication failed for \"%s\": %s", login, why);
    else
        log_info("authentication failed: %s", why);
    soap->authrealm = "entitlementd";
    soap_sender_fault(soap, "authentication failed: user name or password missing or wrong", NULL);
    return 401;
}

int auth_require(struct soap *soap)
{
    soap_worker_t *w = soap_worker(soap);
    const http_request_t *r = http_request(w->x);
    char login[AUTH_MAX_LOGIN + 1], password[AUTH_MAX_FIELD + 1];
    const char *v, *why = "";
    size_t n;
    bool have = false;

    /* HTTP Basic first; without it (or with unusable Basic credentials),
     * the FlexNet header elements. */
    if (http_header(r, "Authorization", &v, &n))
        have = auth_basic_parse(v, n, login, password);
    if (!have && soap->header != NULL && soap->header->flex__UserId != NULL &&
        soap->header->flex__UserPassword != NULL) {
        if (!auth_flexnet_password(soap->header->flex__UserPassword, password))
            return ops__auth_fail(soap, NULL, "UserPassword is not base64, too long or holds a NUL byte");
        if (strlen(soap->header->flex__UserId) > AUTH_MAX_LOGIN) {
            OPENSSL_cleanse(password, sizeof password);
            return ops__auth_fail(soap, NULL, "credentials too long");
        }
        snprintf(login, sizeof login, "%s", soap->header->flex__UserId);
        have = true;
    }
    if (!have)
        return ops__auth_fail(soap, NULL, "no credentials");
    int wait_s = 0;
    auth_verdict_t verdict = auth_password(w->auth, login, password, r->peer, &w->user, &why, &wait_s);
    OPENSSL_cleanse(password, sizeof password);
    switch (verdict) {
    case AUTH_OK:
        return SOAP_OK;
    case AUTH_THROTTLED:
        log_info("authentication refused for \"%s\": %s", login, why);
        return soap_throttled_fault(soap, wait_s);
    case AUTH_BUSY:
        /* Put back to wait for a turn without a thread; after
         * AUTH_PARK_MAX_S of that, a 503. */
        if (http_retry_later(w->x, AUTH_PARK_MAX_S)) {
            w->retry = true;
            return soap_unavailable_fault(soap, "waiting for a turn to check the credentials");
        }
        log_warn("authentication deferred: %s", why);
        return soap_unavailable_fault(soap, "too many logins are being checked at once; try again");
    case AUTH_UNAVAILABLE:
        return soap_unavailable_fault(soap, "DATABASE_UNAVAILABLE: the user store cannot be reached");
    case AUTH_DENIED:
        break;
    }
    return ops__auth_fail(soap, login, why);
}

/* The version N of the urn:vN namespace the request used (gSOAP records a
 * namespace that matched the table's pattern in "out"), 0 if unknown. */
static int ops__namespace_version(struct soap *soap)
{
    const char *prefix = "urn:v";
    for (struct Namespace *ns = soap->local_namespaces; ns && ns->id; ns++) {
        if (strcmp(ns->id, "fnp") != 0)
            continue;
        const char *uri = ns->out ? ns->out : ns->ns;
        if (uri && strncmp(uri, prefix, strlen(prefix)) == 0 && uri[5] >= '1' && uri[5] <= '4' && uri[6] == '.')
            return uri[5] - '0';
    }
    return 0;
}

int ops_begin(struct soap *soap, const void *req, lc_ctx_t *ctx, ent_alloc_t *alloc)
{
    soap_worker_t *w = soap_worker(soap);
    /* gSOAP hands over no request for an empty body or a nil operation
     * element (the guard refuses xsi:nil; this holds whatever the cause). */
    if (req == NULL) {
        soap->header = NULL;
        return soap_client_fault(soap, "missing request element");
    }
    int rc = auth_require(soap);
    /* The request's header carries credentials: never echo it back. */
    soap->header = NULL;
    if (rc != SOAP_OK)
        return rc;
    /* The version the request was read as (its operation element's, by
     * the guard) is the one gSOAP matched: else it would be answered in
     * one version's namespace with another's trees. */
    int ns_v = ops__namespace_version(soap);
    if (ns_v != 0 && ns_v != w->version)
        return soap_client_fault(soap, "wrong namespace: the request was read as "
                                       "urn:v%d.webservices.operations.flexnet.com, its operation is in v%d",
                                 w->version, ns_v);
    if ((rc = soap_validate_request(soap)) != SOAP_OK)
        return rc;
    *alloc = convert_alloc(soap);
    ctx->pool = w->pool;
    ctx->user = w->user.login;
    ctx->request_id = w->request_id;
    ctx->alloc = alloc;
    ctx->group = w->group;
    ctx->lock_nowait = false;
    return SOAP_OK;
}

void ops_log_outcome(const char *op, const char *what, size_t n, size_t applied, size_t first, const char *reason)
{
    if (applied == n || reason == NULL)
        log_info("%s: %zu of %zu %s applied", op, applied, n, what);
    else
        log_info("%s: %zu of %zu %s applied; the first to fail, %zu: %s", op, applied, n, what, first, reason);
}

char *ops_summary(struct soap *soap, size_t failed, size_t total, const char *what)
{
    char buf[96];
    if (failed == 0)
        return NULL;
    snprintf(buf, sizeof buf, "%zu of %zu %s failed", failed, total, what);
    return soap_strdup(soap, buf);
}
