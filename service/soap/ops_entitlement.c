/*
 * createSimpleEntitlement, getEntitlementsQuery and getEntitlementCount.
 */
#include <stdio.h>
#include <string.h>

#include "convert.h"
#include "ops.h"

/* Marks in each entitlement the first line item whose activation id the
 * request names twice (repeated, repeated_at) and, when ids_too (no
 * opType), the entitlements whose entitlementId an earlier one has
 * (repeated_id: each after the first fails with DUPLICATE_IN_REQUEST, as
 * a repeated activation id does, instead of finding it taken). */
static int ops__duplicate_items(struct soap *soap, model_entitlement_t *ents, size_t n, bool ids_too)
{
    size_t total = 0, k = 0;
    for (size_t u = 0; u < n; u++)
        total += ents[u].n_items;
    size_t most = total > n ? total : n;
    const char **ids = soap_malloc(soap, (most + 1) * sizeof *ids);
    bool *dup = soap_malloc(soap, (most + 1) * sizeof *dup);
    size_t *scratch = soap_malloc(soap, lc_dup_scratch_len(most) * sizeof *scratch);
    if (ids == NULL || dup == NULL || scratch == NULL)
        return soap->error = SOAP_EOM;
    for (size_t u = 0; u < n; u++)
        for (size_t i = 0; i < ents[u].n_items; i++) {
            const model_line_item_t *it = &ents[u].items[i];
            ids[k++] = it->activation_id && it->activation_id[0] && !it->auto_generate ? it->activation_id : NULL;
        }
    lc_mark_duplicates(ids, total, dup, scratch);
    k = 0;
    for (size_t u = 0; u < n; u++) {
        ents[u].repeated = NULL;
        for (size_t i = 0; i < ents[u].n_items; i++, k++)
            if (dup[k] && ents[u].repeated == NULL) {
                ents[u].repeated = ids[k];
                ents[u].repeated_at = i;
            }
    }
    for (size_t u = 0; u < n; u++) {
        const model_entitlement_t *e = &ents[u];
        ids[u] = ids_too && e->entitlement_id && e->entitlement_id[0] && !e->auto_generate ? e->entitlement_id : NULL;
    }
    lc_mark_duplicates(ids, n, dup, scratch);
    for (size_t u = 0; u < n; u++)
        ents[u].repeated_id = dup[u];
    return SOAP_OK;
}

int __fnp__createSimpleEntitlement(struct soap *soap, struct fnp__createSimpleEntitlementRequestType *req,
                                   struct fnp__createSimpleEntitlementResponseType *resp)
{
    soap_worker_t *w = soap_worker(soap);
    lc_ctx_t ctx;
    ent_alloc_t alloc;
    int rc = ops_begin(soap, req, &ctx, &alloc);
    if (rc != SOAP_OK)
        return rc;
    size_t n = req->__sizesimpleEntitlement > 0 ? (size_t)req->__sizesimpleEntitlement : 0;
    size_t ok = 0, first = 0;
    model_create_op_t op = CREATE_ONLY;

    if (req->opType != NULL)
        op = *req->opType == fnp__CreateOrUpdateOperationType__CREATE_USCOREOR_USCOREIGNORE ? CREATE_OR_IGNORE
                                                                                           : CREATE_OR_UPDATE;
    struct fnp__failedSimpleEntitlementDataListType *fl = soap_malloc(soap, sizeof *fl);
    struct fnp__createdSimpleEntitlementDataListType *dl = soap_malloc(soap, sizeof *dl);
    if (fl == NULL || dl == NULL)
        return soap->error = SOAP_EOM;
    fl->__sizefailedSimpleEntitlement = 0;
    dl->__sizecreatedSimpleEntitlement = 0;
    fl->failedSimpleEntitlement = soap_malloc(soap, (n + 1) * sizeof *fl->failedSimpleEntitlement);
    dl->createdSimpleEntitlement = soap_malloc(soap, (n + 1) * sizeof *dl->createdSimpleEntitlement);
    if (fl->failedSimpleEntitlement == NULL || dl->createdSimpleEntitlement == NULL)
        return soap->error = SOAP_EOM;

    /* Everything is read before anything is done, too many units
     * included: a value that cannot be read faults the whole request (and
     * is never echoed back in failedData). */
    model_entitlement_t *ents = soap_malloc(soap, (n + 1) * sizeof *ents);
    if (ents == NULL)
        return soap->error = SOAP_EOM;
    for (size_t i = 0; i < n; i++)
        if ((rc = convert_entitlement(soap, &req->simpleEntitlement[i], &ents[i])) != SOAP_OK)
            return rc;
    if (n > (size_t)w->cfg->max_units) {
        char reason[128];
        snprintf(reason, sizeof reason, "BATCH_TOO_LARGE: %zu simpleEntitlement in the request, at most %d allowed",
                 n, w->cfg->max_units);
        ops_log_outcome("createSimpleEntitlement", "entitlements", n, 0, 1, reason);
        resp->statusInfo = convert_status(soap, LC_FAILURE, reason);
        for (size_t i = 0; i < n; i++) {
            fl->failedSimpleEntitlement[i].simpleEntitlement = &req->simpleEntitlement[i];
            fl->failedSimpleEntitlement[i].reason = resp->statusInfo ? resp->statusInfo->reason : NULL;
        }
        fl->__sizefailedSimpleEntitlement = (int)n;
        resp->failedData = fl;
        return resp->statusInfo ? SOAP_OK : SOAP_EOM;
    }

    if ((rc = ops__duplicate_items(soap, ents, n, op == CREATE_ONLY)) != SOAP_OK)
        return rc;

    for (size_t i = 0; i < n; i++) {
        model_created_t res = {0};
        lc_outcome_t o;
        /* What the unit cannot be carried out with fails it there
         * (lifecycle.c), once CREATE_OR_IGNORE has skipped an existing
         * entitlement. */
        o = lc_create_entitlement(&ctx, op, &ents[i], &res);
        if (o.reason == REASON_DATABASE_UNAVAILABLE && ok == 0 && fl->__sizefailedSimpleEntitlement == 0)
            return soap_unavailable_fault(soap, o.text);
        if (o.reason != REASON_OK) {
            struct fnp__failedSimpleEntitlementDataType *f =
                &fl->failedSimpleEntitlement[fl->__sizefailedSimpleEntitlement++];
            f->simpleEntitlement = &req->simpleEntitlement[i];
            f->reason = o.text;
            if (first == 0)
                first = i + 1;
            continue;
        }
        ok++;
        struct fnp__createdSimpleEntitlementDataType *d =
            &dl->createdSimpleEntitlement[dl->__sizecreatedSimpleEntitlement++];
        memset(d, 0, sizeof *d);
        d->recordRefNo = convert_number(soap, (long long)i + 1);
        d->uniqueId = res.unique_id;
        d->entitlementId = res.entitlement_id;
        d->__sizelineItemUniqueIds = (int)res.n_items;
        d->lineItemUniqueIds = res.item_unique_ids;
        d->__sizelineItemIdentifiers = (int)res.n_items;
        d->lineItemIdentifiers = soap_malloc(soap, (res.n_items + 1) * sizeof *d->lineItemIdentifiers);
        if (d->lineItemIdentifiers == NULL)
            return soap->error = SOAP_EOM;
        for (size_t k = 0; k < res.n_items; k++) {
            d->lineItemIdentifiers[k].uniqueId = res.item_unique_ids[k];
            d->lineItemIdentifiers[k].primaryKeys = soap_malloc(soap, sizeof *d->lineItemIdentifiers[k].primaryKeys);
            if (d->lineItemIdentifiers[k].primaryKeys == NULL)
                return soap->error = SOAP_EOM;
            d->lineItemIdentifiers[k].primaryKeys->activationId = res.item_activation_ids[k];
        }
    }
    size_t failed = n - ok;
    ops_log_outcome("createSimpleEntitlement", "entitlements", n, ok, first,
                    failed ? fl->failedSimpleEntitlement[0].reason : NULL);
    resp->statusInfo = convert_status(soap, lc_status_of(ok, n),
                                      n == 0 ? "INVALID_REQUEST: the request has no simpleEntitlement"
                                             : ops_summary(soap, failed, n, "entitlements"));
    resp->failedData = failed ? fl : NULL;
    resp->responseData = ok ? dl : NULL;
    return resp->statusInfo ? SOAP_OK : SOAP_EOM;
}

/* "INVALID_REQUEST: " and msg, on soap (NULL when out of memory). */
static const char *ops__invalid(struct soap *soap, const char *msg)
{
    char buf[320];
    snprintf(buf, sizeof buf, "%s: %s", lc_reason_code(REASON_INVALID_REQUEST), msg);
    return soap_strdup(soap, buf);
}

/* Reads and checks batchSize and pageNumber; returns a failure reason or
 * NULL. */
static const char *ops__paging(struct soap *soap, const struct fnp__searchEntitlementRequestType *req,
                               model_query_t *q, int *rc)
{
    soap_worker_t *w = soap_worker(soap);
    bool has = false;
    /* Beyond 64 bits, either is as far out of its bounds as its nearest
     * 64-bit value: the same answer. */
    const char *big;
    *rc = convert_integer(soap, "batchSize", req->batchSize, &has, &q->batch_size, &big);
    if (*rc != SOAP_OK)
        return NULL;
    if (!has || q->batch_size < 1 || q->batch_size > w->cfg->max_batch_size)
        return soap_strdup(soap, "INVALID_REQUEST: batchSize must be between 1 and the configured maximum (2000 by default)");
    *rc = convert_integer(soap, "pageNumber", req->pageNumber, &has, &q->page_number, &big);
    if (*rc != SOAP_OK)
        return NULL;
    if (!has)
        q->page_number = 1;
    if (q->page_number < 1)
        return soap_strdup(soap, "INVALID_REQUEST: pageNumber must be at least 1");
    /* Pages past the last entitlement are empty, not an error; one past
     * 10^12 entitlements is as empty as any later one, and its offset
     * cannot overflow. */
    if (q->page_number > 1000000000000LL / q->batch_size + 1)
        q->page_number = 1000000000000LL / q->batch_size + 1;
    return NULL;
}

int __fnp__getEntitlementsQuery(struct soap *soap, struct fnp__searchEntitlementRequestType *req,
                                struct fnp__searchEntitlementResponseType *resp)
{
    lc_ctx_t ctx;
    ent_alloc_t alloc;
    model_query_t q;
    model_found_t *found = NULL;
    size_t n = 0;
    int rc = ops_begin(soap, req, &ctx, &alloc);

    if (rc != SOAP_OK)
        return rc;
    if ((rc = convert_query(soap, req->entitlementSearchCriteria, &q)) != SOAP_OK)
        return rc;
    const char *bad = ops__paging(soap, req, &q, &rc);
    if (rc != SOAP_OK)
        return rc;
    if (bad == NULL && q.invalid != NULL)
        bad = ops__invalid(soap, q.invalid);
    if (bad != NULL) {
        resp->statusInfo = convert_status(soap, LC_FAILURE, bad);
        return resp->statusInfo ? SOAP_OK : SOAP_EOM;
    }
    soap_worker_t *w = soap_worker(soap);
    lc_outcome_t o = lc_search(&ctx, &q, (size_t)w->cfg->max_page_mb << 20, &found, &n);
    /* The rows read up to the limit are freed with the request's gSOAP
     * memory: small blocks all over the heaps, which stay with the process
     * unless it is trimmed (a page that is answered is trimmed after its
     * large response anyway). */
    if (o.reason == REASON_RESPONSE_TOO_LARGE)
        http_trim_after(w->x);
    if (o.reason == REASON_DATABASE_UNAVAILABLE)
        return soap_unavailable_fault(soap, o.text);
    if (o.reason != REASON_OK) {
        resp->statusInfo = convert_status(soap, LC_FAILURE, o.text);
        return resp->statusInfo ? SOAP_OK : SOAP_EOM;
    }
    resp->__sizeentitlement = (int)n;
    resp->entitlement = soap_malloc(soap, (n + 1) * sizeof *resp->entitlement);
    if (resp->entitlement == NULL)
        return soap->error = SOAP_EOM;
    for (size_t i = 0; i < n; i++)
        if (convert_found(soap, &found[i], &resp->entitlement[i]) != SOAP_OK)
            return soap->error = SOAP_EOM;
    resp->statusInfo = convert_status(soap, LC_SUCCESS, NULL);
    return resp->statusInfo ? SOAP_OK : SOAP_EOM;
}

int __fnp__getEntitlementCount(struct soap *soap, struct fnp__getEntitlementCountRequestType *req,
                               struct fnp__getEntitlementCountResponseType *resp)
{
    lc_ctx_t ctx;
    ent_alloc_t alloc;
    model_query_t q;
    long long count = 0;
    int rc = ops_begin(soap, req, &ctx, &alloc);

    if (rc != SOAP_OK)
        return rc;
    if ((rc = convert_query(soap, req->queryParams, &q)) != SOAP_OK)
        return rc;
    if (q.invalid != NULL) {
        resp->statusInfo = convert_status(soap, LC_FAILURE, ops__invalid(soap, q.invalid));
        return resp->statusInfo ? SOAP_OK : SOAP_EOM;
    }
    lc_outcome_t o = lc_count(&ctx, &q, &count);
    if (o.reason == REASON_DATABASE_UNAVAILABLE)
        return soap_unavailable_fault(soap, o.text);
    if (o.reason != REASON_OK) {
        resp->statusInfo = convert_status(soap, LC_FAILURE, o.text);
        return resp->statusInfo ? SOAP_OK : SOAP_EOM;
    }
    resp->statusInfo = convert_status(soap, LC_SUCCESS, NULL);
    resp->count = convert_number(soap, count);
    return resp->statusInfo ? SOAP_OK : SOAP_EOM;
}
