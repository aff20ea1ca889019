/*
 * soap_bare - the yardstick of the daemon's CPU per request: the same
 * generated gSOAP stubs as entitlementd, in gSOAP's own multi-threaded
 * keep-alive server (one thread per connection, soap_serve), answering
 * upgradeLicense with a SUCCESS of the same shape the daemon writes and no
 * database, no authentication, no logging. scripts/bench runs scenario (a)'s
 * load against it and reports its CPU per request beside the daemon's.
 *
 *   soap_bare PORT [MAX_KEEP_ALIVE]
 *
 * MAX_KEEP_ALIVE is gSOAP's max_keep_alive: the requests a connection may
 * carry before the server closes it. The default, 0, never closes one, as
 * the daemon does not; gSOAP's own default is 100. (On this project's
 * 2-core machine a new thread per 100 requests made the yardstick a third
 * cheaper and faster than long-lived connections; see BENCHMARKS.md.)
 *
 * Every other operation answers a SOAP fault. SIGTERM or SIGINT ends it.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "soapH.h"
#include "EntitlementOrderServiceSoapBinding.nsmap"

static void *bare_serve(void *arg)
{
    struct soap *soap = arg;
    soap_serve(soap); /* every request of the keep-alive connection */
    soap_destroy(soap);
    soap_end(soap);
    soap_free(soap);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: soap_bare PORT [MAX_KEEP_ALIVE]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Read as the daemon's workers read: document/literal trees, no
     * id/href resolution (BENCHMARKS.md, step 11). */
    struct soap *listener = soap_new2(SOAP_IO_KEEPALIVE | SOAP_XML_TREE, SOAP_IO_KEEPALIVE);
    if (listener == NULL)
        return 1;
    listener->bind_flags = SO_REUSEADDR;
    listener->max_keep_alive = argc == 3 ? atoi(argv[2]) : 0;
    if (!soap_valid_socket(soap_bind(listener, "127.0.0.1", atoi(argv[1]), 64))) {
        soap_print_fault(listener, stderr);
        return 1;
    }
    for (;;) {
        if (!soap_valid_socket(soap_accept(listener)))
            continue;
        struct soap *conn = soap_copy(listener);
        pthread_t t;
        if (conn == NULL || pthread_create(&t, NULL, bare_serve, conn) != 0) {
            soap_force_closesock(listener);
            if (conn != NULL)
                soap_free(conn);
            continue;
        }
        pthread_detach(t);
    }
}

/* What the daemon answers a one-unit upgrade: the unit's record number,
 * its entitlement, and for each line item the parent and the new one. */
int __fnp__upgradeLicense(struct soap *soap, struct fnp__EntitlementLifeCycleRequestType *req,
                          struct fnp__EntitlementLifeCycleResponseType *resp)
{
    int n = req->__sizeentitlementData;
    struct fnp__createdEntitlementLifeCycleDataListType *dl = soap_malloc(soap, sizeof *dl);
    struct fnp__StatusInfoType *st = soap_malloc(soap, sizeof *st);
    if (dl == NULL || st == NULL || n <= 0)
        return soap_sender_fault(soap, "no entitlementData", NULL);
    dl->__sizeentitlementData = n;
    dl->entitlementData = soap_malloc(soap, (size_t)n * sizeof *dl->entitlementData);
    if (dl->entitlementData == NULL)
        return SOAP_EOM;
    for (int i = 0; i < n; i++) {
        const struct fnp__entitlementLifeCycleDataType *in = &req->entitlementData[i];
        struct fnp__createdEntitlementLifeCycleDataType *d = &dl->entitlementData[i];
        struct fnp__entitlementIdentifierType *eid = soap_malloc(soap, sizeof *eid);
        struct fnp__entitlementPKType *epk = soap_malloc(soap, sizeof *epk);
        int m = in->__sizelineItemData;
        if (eid == NULL || epk == NULL)
            return SOAP_EOM;
        epk->entitlementId = "BENCH-ENT-0001";
        eid->uniqueId = "HDR-0000000000000001";
        eid->primaryKeys = epk;
        d->entitlementRecordRefNo = soap_strdup(soap, soap_int2s(soap, i + 1));
        d->parentEntitlementIdentifier = eid;
        d->__sizecreatedLineItemData = m;
        d->createdLineItemData = soap_malloc(soap, (size_t)(m > 0 ? m : 1) * sizeof *d->createdLineItemData);
        if (d->createdLineItemData == NULL)
            return SOAP_EOM;
        for (int c = 0; c < m; c++) {
            const struct fnp__lineItemLifeCycleDataType *li_in = &in->lineItemData[c];
            struct fnp__lifeCycleLineItemDataType *li = &d->createdLineItemData[c];
            struct fnp__entitlementLineItemIdentifierType *pid = soap_malloc(soap, sizeof *pid);
            struct fnp__entitlementLineItemPKType *ppk = soap_malloc(soap, sizeof *ppk);
            struct fnp__newEntitlementLineItemDataType *nl = soap_malloc(soap, sizeof *nl);
            if (pid == NULL || ppk == NULL || nl == NULL)
                return SOAP_EOM;
            ppk->activationId = li_in->parentLineItemIdentifier != NULL && li_in->parentLineItemIdentifier->primaryKeys != NULL
                                    ? li_in->parentLineItemIdentifier->primaryKeys->activationId
                                    : "";
            pid->uniqueId = "LI-0000000000000001";
            pid->primaryKeys = ppk;
            nl->uniqueId = "LI-0000000000000002";
            nl->activationId = li_in->lineItem != NULL && li_in->lineItem->activationId != NULL
                                   ? li_in->lineItem->activationId->id
                                   : "";
            li->lineItemRecordRefNo = soap_strdup(soap, soap_int2s(soap, c + 1));
            li->parentLineItemIdentifier = pid;
            li->newLineItem = nl;
        }
    }
    st->status = fnp__StatusType__SUCCESS;
    st->reason = NULL;
    resp->statusInfo = st;
    resp->failedData = NULL;
    resp->responseData = dl;
    return SOAP_OK;
}

#define BARE_UNSUPPORTED(op, req_t, resp_t)                                        \
    int __fnp__##op(struct soap *soap, struct req_t *req, struct resp_t *resp)      \
    {                                                                              \
        (void)req;                                                                 \
        (void)resp;                                                                \
        return soap_receiver_fault(soap, "soap_bare serves upgradeLicense only", NULL); \
    }

BARE_UNSUPPORTED(upsellLicense, fnp__EntitlementLifeCycleRequestType, fnp__EntitlementLifeCycleResponseType)
BARE_UNSUPPORTED(renewLicense, fnp__renewEntitlementRequestType, fnp__renewEntitlementResponseType)
BARE_UNSUPPORTED(createSimpleEntitlement, fnp__createSimpleEntitlementRequestType,
                 fnp__createSimpleEntitlementResponseType)
BARE_UNSUPPORTED(getEntitlementsQuery, fnp__searchEntitlementRequestType, fnp__searchEntitlementResponseType)
BARE_UNSUPPORTED(getEntitlementCount, fnp__getEntitlementCountRequestType, fnp__getEntitlementCountResponseType)
BARE_UNSUPPORTED(setEntitlementState, fnp__setEntitlementStateRequestType, fnp__setEntitlementStateResponseType)
BARE_UNSUPPORTED(setLineItemState, fnp__setLineItemStateRequestType, fnp__setLineItemStateResponseType)
BARE_UNSUPPORTED(deleteEntitlement, fnp__deleteEntitlementRequestType, fnp__deleteEntitlementResponseType)
