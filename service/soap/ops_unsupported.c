/*
 * Operations of the WSDL that this version does not implement yet: they
 * answer a Client fault "operation not supported" after authentication.
 */
#include "ops.h"

static int ops__unsupported(struct soap *soap, const char *op)
{
    lc_ctx_t ctx;
    ent_alloc_t alloc;
    int rc = ops_begin(soap, &ctx, &alloc);
    if (rc != SOAP_OK)
        return rc;
    return soap_client_fault(soap, "operation not supported: %s", op);
}

int __fnp__renewLicense(struct soap *soap, struct fnp__renewEntitlementRequestType *req,
                        struct fnp__renewEntitlementResponseType *resp)
{
    (void)req;
    (void)resp;
    return ops__unsupported(soap, "renewLicense");
}

int __fnp__setEntitlementState(struct soap *soap, struct fnp__setEntitlementStateRequestType *req,
                               struct fnp__setEntitlementStateResponseType *resp)
{
    (void)req;
    (void)resp;
    return ops__unsupported(soap, "setEntitlementState");
}

int __fnp__setLineItemState(struct soap *soap, struct fnp__setLineItemStateRequestType *req,
                            struct fnp__setLineItemStateResponseType *resp)
{
    (void)req;
    (void)resp;
    return ops__unsupported(soap, "setLineItemState");
}

int __fnp__deleteEntitlement(struct soap *soap, struct fnp__deleteEntitlementRequestType *req,
                             struct fnp__deleteEntitlementResponseType *resp)
{
    (void)req;
    (void)resp;
    return ops__unsupported(soap, "deleteEntitlement");
}
