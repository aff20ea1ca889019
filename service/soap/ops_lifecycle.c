/*
 * upgradeLicense, upsellLicense and renewLicense: each entitlementData is
 * one atomic unit (lifecycle.h); the response lists failed units echoed
 * back with a reason and done units with record numbers and identifiers.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "convert.h"
#include "ops.h"

/* The units of one request and what became of them. */
typedef struct ops_batch {
    size_t n;
    model_unit_t *units;
    lc_outcome_t *outcomes;
    model_unit_result_t *results;
    size_t ok;
    char *too_large; /* the BATCH_TOO_LARGE reason, when it applies */
} ops_batch_t;

static const char *const ops__names[] = {"upgradeLicense", "upsellLicense", "renewLicense"};

/* Collects the explicit new activation ids of all units in request order
 * and marks the units that repeat one seen earlier. */
/* Marks each unit's first line item that names an activation id the
 * request names twice (units[u].repeated, repeated_at). */
static int ops__duplicates(struct soap *soap, ops_batch_t *b)
{
    size_t total = 0, k = 0;
    for (size_t u = 0; u < b->n; u++)
        total += b->units[u].n_changes;
    const char **ids = soap_malloc(soap, (total + 1) * sizeof *ids);
    bool *dup = soap_malloc(soap, (total + 1) * sizeof *dup);
    size_t *scratch = soap_malloc(soap, lc_dup_scratch_len(total) * sizeof *scratch);
    if (ids == NULL || dup == NULL || scratch == NULL)
        return soap->error = SOAP_EOM;
    for (size_t u = 0; u < b->n; u++)
        for (size_t c = 0; c < b->units[u].n_changes; c++) {
            const model_line_item_t *it = &b->units[u].changes[c].item;
            ids[k++] = it->activation_id && it->activation_id[0] && !it->auto_generate ? it->activation_id : NULL;
        }
    lc_mark_duplicates(ids, total, dup, scratch);
    k = 0;
    for (size_t u = 0; u < b->n; u++) {
        b->units[u].repeated = NULL;
        for (size_t c = 0; c < b->units[u].n_changes; c++, k++)
            if (dup[k] && b->units[u].repeated == NULL) {
                b->units[u].repeated = ids[k];
                b->units[u].repeated_at = c;
            }
    }
    return SOAP_OK;
}

/* Runs the converted units of b in request order; ops__run_end follows.
 * Returns SOAP_OK, or the status for gSOAP (503 when the database is gone
 * before anything was done). An upgrade or upsell that waits for its
 * commit group returns SOAP_OK with w->pending set. */
static int ops__run(struct soap *soap, lc_ctx_t *ctx, lc_op_t op, ops_batch_t *b)
{
    soap_worker_t *w = soap_worker(soap);
    int rc;
    b->ok = 0;
    b->too_large = NULL;
    if (b->n > (size_t)w->cfg->max_units) {
        char reason[128];
        snprintf(reason, sizeof reason, "BATCH_TOO_LARGE: %zu entitlementData in the request, at most %d allowed",
                 b->n, w->cfg->max_units);
        b->too_large = soap_strdup(soap, reason);
        return b->too_large ? SOAP_OK : (soap->error = SOAP_EOM);
    }
    b->outcomes = soap_malloc(soap, (b->n + 1) * sizeof *b->outcomes);
    b->results = soap_malloc(soap, (b->n + 1) * sizeof *b->results);
    if (!b->outcomes || !b->results)
        return soap->error = SOAP_EOM;
    if ((rc = ops__duplicates(soap, b)) != SOAP_OK)
        return rc;
    /* A unit that cannot be carried out as sent fails, with the reason of
     * its first line item that fails: at once when that is its first, else
     * when its line items are checked in request order (the batch and the
     * unit path stop at lc_unit_stop_at). */
    for (size_t i = 0; i < b->n; i++) {
        b->outcomes[i] = (lc_outcome_t){REASON_OK, NULL};
        size_t at = lc_unit_stop_at(&b->units[i]);
        if (at == 0 || (at != SIZE_MAX && at >= b->units[i].n_changes))
            b->outcomes[i] = lc_unit_stop(ctx, &b->units[i]);
    }
    if (op == LC_RENEW) {
        for (size_t i = 0; i < b->n; i++) {
            if (b->outcomes[i].reason != REASON_OK)
                continue;
            b->outcomes[i] = lc_change_unit(ctx, op, &b->units[i], &b->results[i]);
            if (b->outcomes[i].reason == REASON_DATABASE_UNAVAILABLE && i == 0)
                return soap_unavailable_fault(soap, b->outcomes[i].text); /* nothing done yet: HTTP 503 */
        }
    } else {
        w->pending = lc_change_batch_begin(ctx, op, b->units, b->n, b->results, b->outcomes, soap_group_done, soap);
    }
    return SOAP_OK;
}

/* What follows the units' outcomes: counted, logged, and a 503 when the
 * database was gone before anything was done. */
static int ops__run_end(struct soap *soap, lc_op_t op, ops_batch_t *b)
{
    b->ok = 0;
    if (b->too_large != NULL) {
        ops_log_outcome(ops__names[op], "units", b->n, 0, 1, b->too_large);
        return SOAP_OK;
    }
    /* The database was gone before anything was done: HTTP 503. */
    size_t unavailable = 0, first = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->outcomes[i].reason == REASON_OK)
            b->ok++;
        else if (first == 0)
            first = i + 1;
        unavailable += b->outcomes[i].reason == REASON_DATABASE_UNAVAILABLE;
    }
    if (b->ok == 0 && unavailable > 0 && b->outcomes[0].reason == REASON_DATABASE_UNAVAILABLE)
        return soap_unavailable_fault(soap, b->outcomes[0].text);
    ops_log_outcome(ops__names[op], "units", b->n, b->ok, first, first ? b->outcomes[first - 1].text : NULL);
    return SOAP_OK;
}

static struct fnp__StatusInfoType *ops__status(struct soap *soap, const ops_batch_t *b)
{
    if (b->n == 0)
        return convert_status(soap, LC_FAILURE, "INVALID_REQUEST: the request has no entitlementData");
    if (b->too_large != NULL)
        return convert_status(soap, LC_FAILURE, b->too_large);
    return convert_status(soap, lc_status_of(b->ok, b->n), ops_summary(soap, b->n - b->ok, b->n, "entitlements"));
}

/* The reason of unit i (the batch reason when nothing ran). */
static char *ops__reason(const ops_batch_t *b, size_t i)
{
    return b->too_large ? b->too_large : b->outcomes[i].text;
}

static bool ops__failed(const ops_batch_t *b, size_t i)
{
    return b->too_large != NULL || b->outcomes[i].reason != REASON_OK;
}

/* An upgrade or upsell, kept in the request's arena while it waits for
 * its commit group. */
typedef struct ops_change {
    lc_op_t op;
    struct fnp__EntitlementLifeCycleRequestType *req;
    ops_batch_t b;
    lc_ctx_t ctx;
    ent_alloc_t alloc;
} ops_change_t;

/* The response of oc's units, once every outcome is set. */
static int ops__change_answer(struct soap *soap, ops_change_t *oc, struct fnp__EntitlementLifeCycleResponseType *resp)
{
    ops_batch_t b = oc->b;
    struct fnp__EntitlementLifeCycleRequestType *req = oc->req;
    int rc = ops__run_end(soap, oc->op, &b);
    if (rc != SOAP_OK)
        return rc;

    struct fnp__failedEntitlementLifeCycleDataListType *fl = soap_malloc(soap, sizeof *fl);
    struct fnp__createdEntitlementLifeCycleDataListType *dl = soap_malloc(soap, sizeof *dl);
    if (!fl || !dl || !(fl->failedEntitlement = soap_malloc(soap, (b.n + 1) * sizeof *fl->failedEntitlement)) ||
        !(dl->entitlementData = soap_malloc(soap, (b.n + 1) * sizeof *dl->entitlementData)))
        return soap->error = SOAP_EOM;
    fl->__sizefailedEntitlement = dl->__sizeentitlementData = 0;
    for (size_t i = 0; i < b.n; i++) {
        if (ops__failed(&b, i)) {
            struct fnp__failedEntitlementLifeCycleDataType *f = &fl->failedEntitlement[fl->__sizefailedEntitlement++];
            f->entitlementData = &req->entitlementData[i];
            f->reason = ops__reason(&b, i);
            continue;
        }
        const model_unit_result_t *res = &b.results[i];
        struct fnp__createdEntitlementLifeCycleDataType *d = &dl->entitlementData[dl->__sizeentitlementData++];
        d->entitlementRecordRefNo = convert_number(soap, (long long)i + 1);
        d->parentEntitlementIdentifier = convert_entitlement_ref(soap, res->entitlement_unique_id, res->entitlement_id);
        d->__sizecreatedLineItemData = (int)res->n_changes;
        d->createdLineItemData = soap_malloc(soap, (res->n_changes + 1) * sizeof *d->createdLineItemData);
        if (d->createdLineItemData == NULL)
            return soap->error = SOAP_EOM;
        for (size_t c = 0; c < res->n_changes; c++) {
            struct fnp__lifeCycleLineItemDataType *li = &d->createdLineItemData[c];
            const model_change_result_t *cr = &res->changes[c];
            li->lineItemRecordRefNo = convert_number(soap, (long long)c + 1);
            li->parentLineItemIdentifier = convert_line_item_ref(soap, cr->parent_unique_id, cr->parent_activation_id);
            if ((li->newLineItem = soap_malloc(soap, sizeof *li->newLineItem)) == NULL)
                return soap->error = SOAP_EOM;
            li->newLineItem->uniqueId = cr->new_unique_id;
            li->newLineItem->activationId = cr->new_activation_id;
        }
    }
    resp->statusInfo = ops__status(soap, &b);
    resp->failedData = fl->__sizefailedEntitlement ? fl : NULL;
    resp->responseData = dl->__sizeentitlementData ? dl : NULL;
    return resp->statusInfo ? SOAP_OK : SOAP_EOM;
}

/* Writes the response of a request that waited for its commit group
 * (soap_worker_t.finish), as gSOAP's generated serve would have. */
static int ops__change_finish(struct soap *soap)
{
    ops_change_t *oc = soap_worker(soap)->op_state;
    struct fnp__EntitlementLifeCycleResponseType *resp = soap_malloc(soap, sizeof *resp);
    const char *tag = oc->op == LC_UPSELL ? "fnp:upsellLicenseResponse" : "fnp:upgradeLicenseResponse";
    int rc;
    if (resp == NULL)
        return soap->error = SOAP_EOM;
    soap_default_fnp__EntitlementLifeCycleResponseType(soap, resp);
    if ((rc = ops__change_answer(soap, oc, resp)) != SOAP_OK)
        return soap->error = rc; /* as gSOAP's serve keeps a handler's status */
    soap->encodingStyle = NULL; /* literal */
    soap_serializeheader(soap);
    soap_serialize_fnp__EntitlementLifeCycleResponseType(soap, resp);
    if (soap_begin_count(soap))
        return soap->error;
    if ((soap->mode & SOAP_IO_LENGTH) &&
        (soap_envelope_begin_out(soap) || soap_putheader(soap) || soap_body_begin_out(soap) ||
         soap_put_fnp__EntitlementLifeCycleResponseType(soap, resp, tag, "") || soap_body_end_out(soap) ||
         soap_envelope_end_out(soap)))
        return soap->error;
    if (soap_end_count(soap) || soap_response(soap, SOAP_OK) || soap_envelope_begin_out(soap) ||
        soap_putheader(soap) || soap_body_begin_out(soap) ||
        soap_put_fnp__EntitlementLifeCycleResponseType(soap, resp, tag, "") || soap_body_end_out(soap) ||
        soap_envelope_end_out(soap) || soap_end_send(soap))
        return soap->error;
    return soap_closesock(soap);
}

static int ops__change(struct soap *soap, lc_op_t op, struct fnp__EntitlementLifeCycleRequestType *req,
                       struct fnp__EntitlementLifeCycleResponseType *resp)
{
    soap_worker_t *w = soap_worker(soap);
    ops_change_t *oc = soap_malloc(soap, sizeof *oc);
    if (oc == NULL)
        return soap->error = SOAP_EOM;
    memset(oc, 0, sizeof *oc);
    oc->op = op;
    oc->req = req;
    int rc = ops_begin(soap, req, &oc->ctx, &oc->alloc);
    if (rc != SOAP_OK)
        return rc;

    ops_batch_t *b = &oc->b;
    b->n = req->__sizeentitlementData > 0 ? (size_t)req->__sizeentitlementData : 0;
    b->units = soap_malloc(soap, (b->n + 1) * sizeof *b->units);
    if (b->units == NULL)
        return soap->error = SOAP_EOM;
    /* Every unit is read, too many of them included: one that cannot be
     * read faults the request, and failedData echoes only what was read. */
    for (size_t i = 0; i < b->n; i++)
        if ((rc = convert_unit(soap, &req->entitlementData[i], &b->units[i])) != SOAP_OK)
            return rc;
    if ((rc = ops__run(soap, &oc->ctx, op, b)) != SOAP_OK)
        return rc;
    if (w->pending != NULL) {
        /* The answer waits for the commit group (soap/front.c), written
         * by ops__change_finish: gSOAP's serve stops here. */
        w->op_state = oc;
        w->finish = ops__change_finish;
        return soap->error = SOAP_STOP;
    }
    return ops__change_answer(soap, oc, resp);
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

int __fnp__renewLicense(struct soap *soap, struct fnp__renewEntitlementRequestType *req,
                        struct fnp__renewEntitlementResponseType *resp)
{
    ops_batch_t b = {0};
    lc_ctx_t ctx;
    ent_alloc_t alloc;
    int rc = ops_begin(soap, req, &ctx, &alloc);
    if (rc != SOAP_OK)
        return rc;

    b.n = req->__sizeentitlementData > 0 ? (size_t)req->__sizeentitlementData : 0;
    b.units = soap_malloc(soap, (b.n + 1) * sizeof *b.units);
    if (b.units == NULL)
        return soap->error = SOAP_EOM;
    for (size_t i = 0; i < b.n; i++) /* all of them, as above */
        if ((rc = convert_renew_unit(soap, &req->entitlementData[i], &b.units[i])) != SOAP_OK)
            return rc;
    if ((rc = ops__run(soap, &ctx, LC_RENEW, &b)) != SOAP_OK || (rc = ops__run_end(soap, LC_RENEW, &b)) != SOAP_OK)
        return rc;

    struct fnp__failedRenewEntitlementDataListType *fl = soap_malloc(soap, sizeof *fl);
    struct fnp__createdRenewEntitlementDataListType *dl = soap_malloc(soap, sizeof *dl);
    if (!fl || !dl || !(fl->failedEntitlement = soap_malloc(soap, (b.n + 1) * sizeof *fl->failedEntitlement)) ||
        !(dl->entitlementData = soap_malloc(soap, (b.n + 1) * sizeof *dl->entitlementData)))
        return soap->error = SOAP_EOM;
    fl->__sizefailedEntitlement = dl->__sizeentitlementData = 0;
    for (size_t i = 0; i < b.n; i++) {
        if (ops__failed(&b, i)) {
            struct fnp__failedRenewEntitlementDataType *f = &fl->failedEntitlement[fl->__sizefailedEntitlement++];
            f->entitlementData = &req->entitlementData[i];
            f->reason = ops__reason(&b, i);
            continue;
        }
        const model_unit_result_t *res = &b.results[i];
        struct fnp__createdRenewEntitlementDataType *d = &dl->entitlementData[dl->__sizeentitlementData++];
        d->entitlementRecordRefNo = convert_number(soap, (long long)i + 1);
        d->parentEntitlementIdentifier = convert_entitlement_ref(soap, res->entitlement_unique_id, res->entitlement_id);
        d->__sizerenewedLineItem = (int)res->n_changes;
        d->renewedLineItem = soap_malloc(soap, (res->n_changes + 1) * sizeof *d->renewedLineItem);
        if (d->renewedLineItem == NULL)
            return soap->error = SOAP_EOM;
        for (size_t c = 0; c < res->n_changes; c++) {
            struct fnp__renewedEntitlementLineItemDataType *li = &d->renewedLineItem[c];
            const model_change_result_t *cr = &res->changes[c];
            li->lineItemRecordRefNo = convert_number(soap, (long long)c + 1);
            li->parentLineItemIdentifier = convert_line_item_ref(soap, cr->parent_unique_id, cr->parent_activation_id);
            if ((li->newLineItem = soap_malloc(soap, sizeof *li->newLineItem)) == NULL)
                return soap->error = SOAP_EOM;
            li->newLineItem->uniqueId = cr->new_unique_id;
            li->newLineItem->activationId = cr->new_activation_id;
        }
    }
    resp->statusInfo = ops__status(soap, &b);
    resp->failedData = fl->__sizefailedEntitlement ? fl : NULL;
    resp->responseData = dl->__sizeentitlementData ? dl : NULL;
    return resp->statusInfo ? SOAP_OK : SOAP_EOM;
}
