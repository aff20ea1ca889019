/* Shared by the operation handlers: authentication and request context. */
#include <stdio.h>
#include <string.h>

#include "convert.h"
#include "ops.h"

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

int ops_begin(struct soap *soap, lc_ctx_t *ctx, ent_alloc_t *alloc)
{
    soap_worker_t *w = soap_worker(soap);
    int rc = auth_require(soap);
    /* The request's header carries credentials: never echo it back. */
    soap->header = NULL;
    if (rc != SOAP_OK)
        return rc;
    /* Each endpoint path speaks its own version's namespace. */
    int path_v = soap_endpoint_version(soap->path), ns_v = ops__namespace_version(soap);
    if (ns_v != 0 && path_v != 0 && ns_v != path_v)
        return soap_client_fault(soap, "wrong namespace: /flexnet/services/v%d/ expects "
                                       "urn:v%d.webservices.operations.flexnet.com, the request uses v%d",
                                 path_v, path_v, ns_v);
    if ((rc = soap_validate_request(soap)) != SOAP_OK)
        return rc;
    *alloc = convert_alloc(soap);
    ctx->pool = w->pool;
    ctx->user = w->user;
    ctx->request_id = w->request_id;
    ctx->alloc = alloc;
    ctx->group = w->group;
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
