/*
 * gsoap_client - interop check with gSOAP's own client stubs (soapClient.c
 * generated from our WSDL): create an entitlement, upgrade its line item,
 * then find it with a query. Prints one line per step; exits 0 when every
 * step gave the expected answer.
 *
 * usage: gsoap_client ENDPOINT USER PASSWORD PRODUCT FROM_VERSION TO_VERSION TAG
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soapH.h"

extern struct Namespace namespaces[];

static int fail(struct soap *soap, const char *step)
{
    fprintf(stderr, "%s failed: ", step);
    soap_print_fault(soap, stderr);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: gsoap_client ENDPOINT USER PASSWORD PRODUCT FROM_VERSION TO_VERSION TAG\n");
        return 2;
    }
    const char *endpoint = argv[1], *product = argv[4], *from = argv[5], *to = argv[6], *tag = argv[7];
    char eid[128], aid[128], count[] = "5", batch[] = "10";
    enum xsd__boolean yes = xsd__boolean__true_;
    int rc = 1;

    snprintf(eid, sizeof eid, "G-%s", tag);
    snprintf(aid, sizeof aid, "GL-%s", tag);
    struct soap *soap = soap_new1(SOAP_XML_STRICT | SOAP_C_UTFSTRING);
    soap_set_namespaces(soap, namespaces);

    /* createSimpleEntitlement */
    struct fnp__productPKType ppk = {(char *)product, (char *)from};
    struct fnp__productIdentifierType pid = {NULL, &ppk};
    struct fnp__idType lid = {aid, NULL};
    struct fnp__createEntitlementLineItemDataType li;
    memset(&li, 0, sizeof li);
    li.activationId = &lid;
    li.product = &pid;
    li.numberOfCopies = count;
    struct fnp__idType eidt = {eid, NULL};
    struct fnp__createSimpleEntitlementDataType se;
    memset(&se, 0, sizeof se);
    se.entitlementId = &eidt;
    se.__sizelineItems = 1;
    se.lineItems = &li;
    se.autoDeploy = &yes;
    struct fnp__createSimpleEntitlementRequestType creq = {1, &se, NULL};
    struct fnp__createSimpleEntitlementResponseType cresp;
    soap->userid = argv[2]; /* gSOAP clears the credentials after each call */
    soap->passwd = argv[3];
    if (soap_call___fnp__createSimpleEntitlement(soap, endpoint, NULL, &creq, &cresp) != SOAP_OK)
        return fail(soap, "createSimpleEntitlement");
    if (cresp.statusInfo == NULL || cresp.statusInfo->status != fnp__StatusType__SUCCESS) {
        fprintf(stderr, "createSimpleEntitlement: not SUCCESS\n");
        goto out;
    }
    printf("created %s %s\n", cresp.responseData->createdSimpleEntitlement[0].entitlementId,
           cresp.responseData->createdSimpleEntitlement[0].uniqueId);

    /* upgradeLicense: the whole count to the new version */
    struct fnp__entitlementLineItemPKType parent_pk = {aid};
    struct fnp__entitlementLineItemIdentifierType parent = {NULL, &parent_pk};
    struct fnp__productPKType npk = {(char *)product, (char *)to};
    struct fnp__productIdentifierType npid = {NULL, &npk};
    struct fnp__idType nid = {NULL, &yes};
    struct fnp__createEntitlementLineItemDataType nli;
    memset(&nli, 0, sizeof nli);
    nli.activationId = &nid;
    nli.product = &npid;
    nli.numberOfCopies = count;
    struct fnp__lineItemLifeCycleDataType lld = {&parent, &nli, &yes, NULL, &yes};
    struct fnp__entitlementLifeCycleDataType unit = {NULL, 1, &lld};
    struct fnp__EntitlementLifeCycleRequestType ureq = {1, &unit};
    struct fnp__EntitlementLifeCycleResponseType uresp;
    soap->userid = argv[2]; /* gSOAP clears the credentials after each call */
    soap->passwd = argv[3];
    if (soap_call___fnp__upgradeLicense(soap, endpoint, NULL, &ureq, &uresp) != SOAP_OK)
        return fail(soap, "upgradeLicense");
    if (uresp.statusInfo->status != fnp__StatusType__SUCCESS || uresp.responseData == NULL ||
        uresp.responseData->__sizeentitlementData != 1) {
        fprintf(stderr, "upgradeLicense: not SUCCESS (%s)\n",
                uresp.statusInfo->reason ? uresp.statusInfo->reason : "");
        goto out;
    }
    struct fnp__createdEntitlementLifeCycleDataType *d = &uresp.responseData->entitlementData[0];
    printf("upgraded %s -> %s (record %s, entitlement %s)\n",
           d->createdLineItemData[0].parentLineItemIdentifier->primaryKeys->activationId,
           d->createdLineItemData[0].newLineItem->activationId, d->entitlementRecordRefNo,
           d->parentEntitlementIdentifier->primaryKeys->entitlementId);

    /* getEntitlementsQuery */
    struct fnp__SimpleQueryType q = {eid, fnp__simpleSearchType__EQUALS};
    struct fnp__searchEntitlementDataType crit;
    memset(&crit, 0, sizeof crit);
    crit.entitlementId = &q;
    struct fnp__searchEntitlementRequestType sreq = {&crit, batch, NULL};
    struct fnp__searchEntitlementResponseType sresp;
    soap->userid = argv[2];
    soap->passwd = argv[3];
    if (soap_call___fnp__getEntitlementsQuery(soap, endpoint, NULL, &sreq, &sresp) != SOAP_OK)
        return fail(soap, "getEntitlementsQuery");
    if (sresp.__sizeentitlement != 1 || sresp.entitlement[0].simpleEntitlement->__sizelineItems != 2) {
        fprintf(stderr, "getEntitlementsQuery: expected 1 entitlement with 2 line items\n");
        goto out;
    }
    printf("found %s with %d line items\n", sresp.entitlement[0].simpleEntitlement->entitlementId->id,
           sresp.entitlement[0].simpleEntitlement->__sizelineItems);

    /* A wrong password: HTTP 401 and a Client fault. */
    soap->userid = argv[2];
    soap->passwd = "wrong";
    if (soap_call___fnp__getEntitlementsQuery(soap, endpoint, NULL, &sreq, &sresp) == SOAP_OK) {
        fprintf(stderr, "wrong password accepted\n");
        goto out;
    }
    printf("wrong password refused (error %d)\n", soap->error);
    rc = 0;
out:
    soap_destroy(soap);
    soap_end(soap);
    soap_free(soap);
    return rc;
}
