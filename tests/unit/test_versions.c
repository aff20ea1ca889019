/* soap/versions: v1..v3 trees to v4's and back, read from the schema's
 * version marks (the source the daemon embeds). */
#include <stdbool.h>
#include <stdlib.h>

#include "check.h"
#include "soap/versions.h"

extern const char ent_xsd_marked[];
extern const size_t ent_xsd_marked_len;

#define ENV_HEAD(ns)                                                                                       \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<e:Envelope xmlns:e=\"http://schemas.xmlsoap.org/soap/envelope/\" " \
    "xmlns:f=\"" ns "\"><e:Body>"
#define ENV_TAIL "</e:Body></e:Envelope>\n"
#define NS1 "urn:v1.webservices.operations.flexnet.com"
#define NS2 "urn:v2.webservices.operations.flexnet.com"
#define NS3 "urn:v3.webservices.operations.flexnet.com"
#define NS4 "urn:v4.webservices.operations.flexnet.com"

static versions_t *vs;

static int versions_setup(void)
{
    char err[160];
    return versions_new(ent_xsd_marked, ent_xsd_marked_len, &vs, err, sizeof err) == ENT_OK ? 0 : 1;
}

static int versions_teardown(void)
{
    versions_free(vs);
    return 0;
}

/* The request rewritten, or the refusal's message. */
static void check_request(int v, const char *in, const char *want)
{
    char err[160], *out = NULL;
    size_t n = 0;
    int rc = versions_request(vs, v, in, strlen(in), &out, &n, err, sizeof err);
    CHECK_EQ_STR(rc == ENT_OK ? out : err, want);
    free(out);
}

static void check_response(int v, const char *in, const char *want)
{
    char *out = NULL;
    size_t n = 0;
    CHECK_EQ_INT(versions_response(vs, v, in, strlen(in), &out, &n), ENT_OK);
    CHECK_EQ_STR(out, want);
    free(out);
}

#define PARTNER(unit, key)                                                                              \
    "<f:channelPartners><f:channelPartner><f:tierName>T</f:tierName><f:" unit "><f:primaryKeys><f:" key \
    ">A</f:" key "></f:primaryKeys></f:" unit "></f:channelPartner></f:channelPartners>"
#define PRODUCT                                                                                          \
    "<f:lineItems><f:activationId><f:id>L</f:id></f:activationId><f:product><f:primaryKeys><f:name>P</f:name>" \
    "<f:version>1</f:version></f:primaryKeys></f:product></f:lineItems>"

static void test_old_names_become_v4s(void)
{
    /* The account's key is renamed, the product's (also primaryKeys/name) is not. */
    check_request(1,
                  ENV_HEAD(NS1) "<f:createSimpleEntitlementRequest><f:simpleEntitlement><f:entitlementId><f:id>E"
                                "</f:id></f:entitlementId>" PRODUCT PARTNER("organizationUnit", "name")
                  "</f:simpleEntitlement></f:createSimpleEntitlementRequest>" ENV_TAIL,
                  ENV_HEAD(NS1) "<f:createSimpleEntitlementRequest><f:simpleEntitlement><f:entitlementId><f:id>E"
                                "</f:id></f:entitlementId>" PRODUCT PARTNER("accountUnit", "id")
                  "</f:simpleEntitlement></f:createSimpleEntitlementRequest>" ENV_TAIL);
    check_request(3,
                  ENV_HEAD(NS3) "<f:getEntitlementCountRequest><f:queryParams><f:accountUnitName><f:value>a"
                                "</f:value><f:searchType>EQUALS</f:searchType></f:accountUnitName></f:queryParams>"
                                "</f:getEntitlementCountRequest>" ENV_TAIL,
                  ENV_HEAD(NS3) "<f:getEntitlementCountRequest><f:queryParams><f:accountUnitName><f:value>a"
                                "</f:value><f:searchType>EQUALS</f:searchType></f:accountUnitName></f:queryParams>"
                                "</f:getEntitlementCountRequest>" ENV_TAIL);
}

static void test_undeclared_elements_are_refused(void)
{
    check_request(2,
                  ENV_HEAD(NS2) "<f:getEntitlementCountRequest><f:queryParams><f:accountUnitName><f:value>a"
                                "</f:value><f:searchType>EQUALS</f:searchType></f:accountUnitName></f:queryParams>"
                                "</f:getEntitlementCountRequest>" ENV_TAIL,
                  "malformed request: element <f:accountUnitName> is not expected here");
    check_request(3,
                  ENV_HEAD(NS3) "<f:createSimpleEntitlementRequest><f:simpleEntitlement><f:entitlementId><f:id>E"
                                "</f:id></f:entitlementId>" PARTNER("accountUnit", "id")
                  "</f:simpleEntitlement></f:createSimpleEntitlementRequest>" ENV_TAIL,
                  "malformed request: element <f:id> is not expected here");
    check_request(1, "<not xml", "malformed request: not well-formed XML");
    /* Another version's element inside: gSOAP would take a v4 one. */
    check_request(2,
                  ENV_HEAD(NS2) "<f:createSimpleEntitlementRequest><f:simpleEntitlement><f:entitlementId><f:id>E"
                                "</f:id></f:entitlementId><x:emailTemplateVariation xmlns:x=\"" NS4 "\">W"
                                "</x:emailTemplateVariation></f:simpleEntitlement></f:createSimpleEntitlementRequest>"
                  ENV_TAIL,
                  "wrong namespace: element <x:emailTemplateVariation> is in " NS4 ", the request in " NS2);
    /* A request in another version's namespace than the path's is left to
     * the handler, which refuses it for that. */
    const char *v4 = ENV_HEAD(NS4) "<f:getEntitlementCountRequest><f:queryParams><f:accountUnitName><f:value>a"
                                   "</f:value><f:searchType>EQUALS</f:searchType></f:accountUnitName></f:queryParams>"
                                   "</f:getEntitlementCountRequest>" ENV_TAIL;
    check_request(1, v4, v4);
}

static void check_name_in(int v, const char *name, const char *want)
{
    char out[64] = "";
    bool found = versions_name_in(vs, v, name, out, sizeof out);
    CHECK_EQ_STR(found ? out : "(none)", want);
}

static void test_names_in_messages(void)
{
    check_name_in(1, "accountUnit", "organizationUnit");
    check_name_in(2, "accountUnitName", "organizationUnitName");
    check_name_in(3, "accountUnit", "(none)");
    check_name_in(1, "id", "(none)"); /* "name" only under accountUnit */
    check_name_in(1, "entitlementId", "(none)");
}

static void test_answers_in_the_versions_trees(void)
{
    check_response(1,
                   ENV_HEAD(NS1) "<f:searchEntitlementResponse><f:entitlement><f:simpleEntitlement><f:entitlementId>"
                                 "<f:id>E</f:id></f:entitlementId><f:lastModifiedDateTime>2026-01-01T00:00:00Z"
                                 "</f:lastModifiedDateTime>" PARTNER("accountUnit", "id")
                   "<f:emailTemplateVariation>W</f:emailTemplateVariation></f:simpleEntitlement></f:entitlement>"
                   "</f:searchEntitlementResponse>" ENV_TAIL,
                   ENV_HEAD(NS1) "<f:searchEntitlementResponse><f:entitlement><f:simpleEntitlement><f:entitlementId>"
                                 "<f:id>E</f:id></f:entitlementId>" PARTNER("organizationUnit", "name")
                   "</f:simpleEntitlement></f:entitlement></f:searchEntitlementResponse>" ENV_TAIL);
    /* A fault is no operation's answer: left as it is. */
    const char *fault = ENV_HEAD(NS1) "<e:Fault><faultcode>e:Client</faultcode><faultstring>x</faultstring>"
                                      "</e:Fault>" ENV_TAIL;
    check_response(1, fault, fault);
}

static void check_differs(const char *element, bool want)
{
    CHECK_EQ_INT(versions_differ(vs, element, strlen(element)), want);
}

static void test_which_trees_differ(void)
{
    /* The facts: six operations are alike in every version. */
    check_differs("upgradeLicenseRequest", false);
    check_differs("upgradeLicenseResponse", false);
    check_differs("renewLicenseResponse", false);
    check_differs("deleteEntitlementRequest", false);
    check_differs("getEntitlementCountResponse", false);
    check_differs("getEntitlementCountRequest", true);
    check_differs("searchEntitlementRequest", true);
    check_differs("searchEntitlementResponse", true);
    check_differs("createSimpleEntitlementRequest", true);
    check_differs("createSimpleEntitlementResponse", true); /* failedData echoes the request */
    check_differs("noSuchRequest", false);
}

void register_versions_tests(void)
{
    CU_pSuite s = CU_add_suite("soap/versions", versions_setup, versions_teardown);
    CU_add_test(s, "old names become v4's, by type", test_old_names_become_v4s);
    CU_add_test(s, "elements a version does not declare", test_undeclared_elements_are_refused);
    CU_add_test(s, "answers in the version's trees", test_answers_in_the_versions_trees);
    CU_add_test(s, "which trees differ", test_which_trees_differ);
    CU_add_test(s, "names in messages", test_names_in_messages);
}
