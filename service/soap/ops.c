/* Shared by the operation handlers: authentication and request context. */
#include <stdio.h>

#include "convert.h"
#include "ops.h"

int ops_begin(struct soap *soap, lc_ctx_t *ctx, ent_alloc_t *alloc)
{
    soap_worker_t *w = soap_worker(soap);
    int rc = auth_require(soap);
    /* The request's header carries credentials: never echo it back. */
    soap->header = NULL;
    if (rc != SOAP_OK)
        return rc;
    if ((rc = soap_validate_request(soap)) != SOAP_OK)
        return rc;
    *alloc = convert_alloc(soap);
    ctx->pool = w->pool;
    ctx->user = w->user;
    ctx->request_id = w->request_id;
    ctx->alloc = alloc;
    return SOAP_OK;
}

char *ops_summary(struct soap *soap, size_t failed, size_t total, const char *what)
{
    char buf[96];
    if (failed == 0)
        return NULL;
    snprintf(buf, sizeof buf, "%zu of %zu %s failed", failed, total, what);
    return soap_strdup(soap, buf);
}
