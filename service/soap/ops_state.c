/*
 * setEntitlementState, setLineItemState and deleteEntitlement: each item of
 * the request is one atomic unit; failed items are echoed back with a
 * reason.
 */
#include <stdio.h>

#include "convert.h"
#include "ops.h"

/* Status of a batch of n items of which failed failed, or of a batch that
 * is too large (then nothing ran). */
static struct fnp__StatusInfoType *ops__state_status(struct soap *soap, size_t n, size_t failed,
                                                     const char *too_large, const char *what)
{
    if (n == 0) {
        char reason[96];
        snprintf(reason, sizeof reason, "INVALID_REQUEST: the request has no %s", what);
        return convert_status(soap, LC_FAILURE, reason);
    }
    if (too_large != NULL)
        return convert_status(soap, LC_FAILURE, too_large);
    return convert_status(soap, lc_status_of(n - failed, n), ops_summary(soap, failed, n, what));
}

/* The BATCH_TOO_LARGE reason when n exceeds the limit, else NULL. */
static char *ops__too_large(struct soap *soap, size_t n, const char *what)
{
    int max = soap_worker(soap)->cfg->max_units;
    char reason[128];
    if (n <= (size_t)max)
        return NULL;
    snprintf(reason, sizeof reason, "BATCH_TOO_LARGE: %zu %s in the request, at most %d allowed", n, what, max);
    return soap_strdup(soap, reason);
}

int __fnp__setEntitlementState(struct soap *soap, struct fnp__setEntitlementStateRequestType *req,
                               struct fnp__setEntitlementStateResponseType *resp)
{
    lc_ctx_t ctx;
    ent_alloc_t alloc;
    int rc = ops_begin(soap, req, &ctx, &alloc);
    if (rc != SOAP_OK)
        return rc;
    size_t n = req->__sizeentitlement > 0 ? (size_t)req->__sizeentitlement : 0, failed = 0, first = 0;
    char *too_large = ops__too_large(soap, n, "entitlements");
    struct fnp__failedEntitlementStateDataListType *fl = soap_malloc(soap, sizeof *fl);
    if (fl == NULL || (fl->failedEntitlement = soap_malloc(soap, (n + 1) * sizeof *fl->failedEntitlement)) == NULL)
        return soap->error = SOAP_EOM;
    for (size_t i = 0; i < n; i++) {
        struct fnp__entitlementStateDataType *item = &req->entitlement[i];
        lc_outcome_t o = {REASON_BATCH_TOO_LARGE, too_large};
        if (too_large == NULL) {
            model_ref_t ref = convert_entitlement_key(item->entitlementIdentifier);
            o = lc_set_entitlement_state(&ctx, &ref, (model_state_t)item->stateToSet);
            if (o.reason == REASON_DATABASE_UNAVAILABLE && i == 0)
                return soap_unavailable_fault(soap, o.text);
        }
        if (o.reason != REASON_OK) {
            fl->failedEntitlement[failed].entitlement = item;
            fl->failedEntitlement[failed].reason = o.text;
            if (failed++ == 0)
                first = i + 1;
        }
    }
    ops_log_outcome("setEntitlementState", "entitlements", n, n - failed, first,
                    failed ? fl->failedEntitlement[0].reason : NULL);
    fl->__sizefailedEntitlement = (int)failed;
    resp->failedData = failed ? fl : NULL;
    resp->statusInfo = ops__state_status(soap, n, failed, too_large, "entitlements");
    return resp->statusInfo ? SOAP_OK : SOAP_EOM;
}

int __fnp__setLineItemState(struct soap *soap, struct fnp__setLineItemStateRequestType *req,
                            struct fnp__setLineItemStateResponseType *resp)
{
    lc_ctx_t ctx;
    ent_alloc_t alloc;
    int rc = ops_begin(soap, req, &ctx, &alloc);
    if (rc != SOAP_OK)
        return rc;
    size_t n = req->__sizelineItem > 0 ? (size_t)req->__sizelineItem : 0, failed = 0, first = 0;
    char *too_large = ops__too_large(soap, n, "line items");
    struct fnp__failedLineItemStateDataListType *fl = soap_malloc(soap, sizeof *fl);
    if (fl == NULL || (fl->failedLineItem = soap_malloc(soap, (n + 1) * sizeof *fl->failedLineItem)) == NULL)
        return soap->error = SOAP_EOM;
    for (size_t i = 0; i < n; i++) {
        struct fnp__lineItemStateDataType *item = &req->lineItem[i];
        lc_outcome_t o = {REASON_BATCH_TOO_LARGE, too_large};
        if (too_large == NULL) {
            model_ref_t ref = convert_line_item_key(item->lineItemIdentifier);
            o = lc_set_line_item_state(&ctx, &ref, (model_state_t)item->stateToSet,
                                       convert_bool(item->includeChildItems) == OPT_TRUE);
            if (o.reason == REASON_DATABASE_UNAVAILABLE && i == 0)
                return soap_unavailable_fault(soap, o.text);
        }
        if (o.reason != REASON_OK) {
            fl->failedLineItem[failed].lineItem = item;
            fl->failedLineItem[failed].reason = o.text;
            if (failed++ == 0)
                first = i + 1;
        }
    }
    ops_log_outcome("setLineItemState", "line items", n, n - failed, first,
                    failed ? fl->failedLineItem[0].reason : NULL);
    fl->__sizefailedLineItem = (int)failed;
    resp->failedData = failed ? fl : NULL;
    resp->statusInfo = ops__state_status(soap, n, failed, too_large, "line items");
    return resp->statusInfo ? SOAP_OK : SOAP_EOM;
}

int __fnp__deleteEntitlement(struct soap *soap, struct fnp__deleteEntitlementRequestType *req,
                             struct fnp__deleteEntitlementResponseType *resp)
{
    lc_ctx_t ctx;
    ent_alloc_t alloc;
    int rc = ops_begin(soap, req, &ctx, &alloc);
    if (rc != SOAP_OK)
        return rc;
    size_t n = req->__sizeentitlement > 0 ? (size_t)req->__sizeentitlement : 0, failed = 0, first = 0;
    char *too_large = ops__too_large(soap, n, "entitlements");
    struct fnp__failedDeleteEntitlementDataListType *fl = soap_malloc(soap, sizeof *fl);
    if (fl == NULL || (fl->failedEntitlement = soap_malloc(soap, (n + 1) * sizeof *fl->failedEntitlement)) == NULL)
        return soap->error = SOAP_EOM;
    for (size_t i = 0; i < n; i++) {
        struct fnp__entitlementIdentifierType *id = req->entitlement[i].entitlementIdentifier;
        lc_outcome_t o = {REASON_BATCH_TOO_LARGE, too_large};
        if (too_large == NULL) {
            model_ref_t ref = convert_entitlement_key(id);
            o = lc_delete_entitlement(&ctx, &ref);
            if (o.reason == REASON_DATABASE_UNAVAILABLE && i == 0)
                return soap_unavailable_fault(soap, o.text);
        }
        if (o.reason != REASON_OK) {
            fl->failedEntitlement[failed].entitlementIdentifier = id;
            fl->failedEntitlement[failed].reason = o.text;
            if (failed++ == 0)
                first = i + 1;
        }
    }
    ops_log_outcome("deleteEntitlement", "entitlements", n, n - failed, first,
                    failed ? fl->failedEntitlement[0].reason : NULL);
    fl->__sizefailedEntitlement = (int)failed;
    resp->failedData = failed ? fl : NULL;
    resp->statusInfo = ops__state_status(soap, n, failed, too_large, "entitlements");
    return resp->statusInfo ? SOAP_OK : SOAP_EOM;
}
