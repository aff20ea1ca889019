/*
 * upgradeLicense and upsellLicense: each entitlementData is one atomic
 * unit (lifecycle.h); the response lists failed units echoed back with a
 * reason and done units with record numbers and identifiers.
 */
#include <stdio.h>
#include <string.h>

#include "../core/log.h"
#include "convert.h"
#include "ops.h"

/* Collects the explicit new activation ids of all units in request order
 * and marks the units that repeat one seen earlier. */
static int ops__duplicates(struct soap *soap, const model_unit_t *units, size_t n, bool *unit_dup,
                           const char **dup_id)
{
    size_t total = 0, k = 0;
    for (size_t u = 0; u < n; u++)
        total += units[u].n_changes;
    const char **ids = soap_malloc(soap, (total + 1) * sizeof *ids);
    bool *dup = soap_malloc(soap, (total + 1) * sizeof *dup);
    size_t *scratch = soap_malloc(soap, lc_dup_scratch_len(total) * sizeof *scratch);
    if (ids == NULL || dup == NULL || scratch == NULL)
        return soap->error = SOAP_EOM;
    for (size_t u = 0; u < n; u++)
        for (size_t c = 0; c < units[u].n_changes; c++) {
            const model_line_item_t *it = &units[u].changes[c].item;
            ids[k++] = it->activation_id && it->activation_id[0] && !it->auto_generate ? it->activation_id : NULL;
        }
    lc_mark_duplicates(ids, total, dup, scratch);
    k = 0;
    for (size_t u = 0; u < n; u++) {
        unit_dup[u] = false;
        for (size_t c = 0; c < units[u].n_changes; c++, k++)
            if (dup[k] && !unit_dup[u]) {
                unit_dup[u] = true;
                dup_id[u] = ids[k];
            }
    }
    return SOAP_OK;
}

static int ops__change(struct soap *soap, lc_op_t op, struct fnp__EntitlementLifeCycleRequestType *req,
                       struct fnp__EntitlementLifeCycleResponseType *resp)
{
    soap_worker_t *w = soap_worker(soap);
    lc_ctx_t ctx;
    ent_alloc_t alloc;
    int rc = ops_begin(soap, &ctx, &alloc);
    size_t n = req && req->__sizeentitlementData > 0 ? (size_t)req->__sizeentitlementData : 0;
    size_t ok = 0;

    if (rc != SOAP_OK)
        return rc;
    resp->failedData = soap_malloc(soap, sizeof *resp->failedData);
    resp->responseData = soap_malloc(soap, sizeof *resp->responseData);
    model_unit_t *units = soap_malloc(soap, (n + 1) * sizeof *units);
    bool *unit_dup = soap_malloc(soap, (n + 1) * sizeof *unit_dup);
    const char **dup_id = soap_malloc(soap, (n + 1) * sizeof *dup_id);
    if (!resp->failedData || !resp->responseData || !units || !unit_dup || !dup_id)
        return soap->error = SOAP_EOM;
    resp->failedData->__sizefailedEntitlement = 0;
    resp->failedData->failedEntitlement = soap_malloc(soap, (n + 1) * sizeof(struct fnp__failedEntitlementLifeCycleDataType));
    resp->responseData->__sizeentitlementData = 0;
    resp->responseData->entitlementData = soap_malloc(soap, (n + 1) * sizeof(struct fnp__createdEntitlementLifeCycleDataType));
    if (!resp->failedData->failedEntitlement || !resp->responseData->entitlementData)
        return soap->error = SOAP_EOM;

    if (n == 0) {
        resp->statusInfo = convert_status(soap, LC_FAILURE, "INVALID_REQUEST: the request has no entitlementData");
        resp->failedData = NULL;
        resp->responseData = NULL;
        return resp->statusInfo ? SOAP_OK : SOAP_EOM;
    }
    if (n > (size_t)w->cfg->max_units) {
        char reason[128];
        snprintf(reason, sizeof reason, "BATCH_TOO_LARGE: %zu entitlementData in the request, at most %d allowed",
                 n, w->cfg->max_units);
        resp->statusInfo = convert_status(soap, LC_FAILURE, reason);
        for (size_t i = 0; i < n; i++) {
            struct fnp__failedEntitlementLifeCycleDataType *f = &resp->failedData->failedEntitlement[i];
            f->entitlementData = &req->entitlementData[i];
            f->reason = resp->statusInfo->reason;
        }
        resp->failedData->__sizefailedEntitlement = (int)n;
        resp->responseData = NULL;
        return SOAP_OK;
    }
    for (size_t i = 0; i < n; i++)
        if ((rc = convert_unit(soap, &req->entitlementData[i], &units[i])) != SOAP_OK)
            return rc;
    if ((rc = ops__duplicates(soap, units, n, unit_dup, dup_id)) != SOAP_OK)
        return rc;

    for (size_t i = 0; i < n; i++) {
        model_unit_result_t res;
        lc_outcome_t o;
        if (unit_dup[i])
            o = lc_fail(&ctx, REASON_DUPLICATE_IN_REQUEST, "activationId '%.255s' appears more than once in the request",
                        dup_id[i]);
        else
            o = lc_change_unit(&ctx, op, &units[i], &res);
        if (o.reason == REASON_DATABASE_UNAVAILABLE && ok == 0 && resp->failedData->__sizefailedEntitlement == 0)
            return soap_unavailable_fault(soap, o.text); /* nothing done yet: HTTP 503 */
        if (o.reason != REASON_OK) {
            struct fnp__failedEntitlementLifeCycleDataType *f =
                &resp->failedData->failedEntitlement[resp->failedData->__sizefailedEntitlement++];
            f->entitlementData = &req->entitlementData[i];
            f->reason = o.text;
            log_info("%s unit %zu failed: %s", op == LC_UPGRADE ? "upgradeLicense" : "upsellLicense", i + 1, o.text);
            continue;
        }
        struct fnp__createdEntitlementLifeCycleDataType *d =
            &resp->responseData->entitlementData[resp->responseData->__sizeentitlementData++];
        ok++;
        d->entitlementRecordRefNo = convert_number(soap, (long long)i + 1);
        d->parentEntitlementIdentifier = convert_entitlement_ref(soap, res.entitlement_unique_id, res.entitlement_id);
        d->__sizecreatedLineItemData = (int)res.n_changes;
        d->createdLineItemData = soap_malloc(soap, (res.n_changes + 1) * sizeof *d->createdLineItemData);
        if (d->createdLineItemData == NULL || d->parentEntitlementIdentifier == NULL)
            return soap->error = SOAP_EOM;
        for (size_t c = 0; c < res.n_changes; c++) {
            struct fnp__lifeCycleLineItemDataType *li = &d->createdLineItemData[c];
            const model_change_result_t *cr = &res.changes[c];
            li->lineItemRecordRefNo = convert_number(soap, (long long)c + 1);
            li->parentLineItemIdentifier = convert_line_item_ref(soap, cr->parent_unique_id, cr->parent_activation_id);
            li->newLineItem = soap_malloc(soap, sizeof *li->newLineItem);
            if (li->newLineItem == NULL)
                return soap->error = SOAP_EOM;
            li->newLineItem->uniqueId = cr->new_unique_id;
            li->newLineItem->activationId = cr->new_activation_id;
        }
    }
    size_t failed = n - ok;
    resp->statusInfo = convert_status(soap, lc_status_of(ok, n), ops_summary(soap, failed, n, "entitlements"));
    if (failed == 0)
        resp->failedData = NULL;
    if (ok == 0)
        resp->responseData = NULL;
    log_info("%s: %zu of %zu units applied", op == LC_UPGRADE ? "upgradeLicense" : "upsellLicense", ok, n);
    return resp->statusInfo ? SOAP_OK : SOAP_EOM;
}

int __fnp__upgradeLicense(struct soap *soap, struct fnp__EntitlementLifeCycleRequestType *req,
                          struct fnp__EntitlementLifeCycleResponseType *resp)
{
    return ops__change(soap, LC_UPGRADE, req, resp);
}

int __fnp__upsellLicense(struct soap *soap, struct fnp__EntitlementLifeCycleRequestType *req,
                         struct fnp__EntitlementLifeCycleResponseType *resp)
{
    return ops__change(soap, LC_UPSELL, req, resp);
}
