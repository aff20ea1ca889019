/*
 * The namespace table gSOAP uses for every context (the library refers to
 * the global "namespaces"). Written by hand rather than taken from the
 * generated .nsmap: the third column makes the fnp entry accept the v1..v4
 * namespaces of older FlexNet clients, and gSOAP then answers in the
 * namespace the request used.
 */
#include "soapH.h"

struct Namespace namespaces[] = {
    /* SOAP 1.1 only: no pattern that would accept a SOAP 1.2 envelope. */
    {"SOAP-ENV", "http://schemas.xmlsoap.org/soap/envelope/", NULL, NULL},
    {"SOAP-ENC", "http://schemas.xmlsoap.org/soap/encoding/", "http://www.w3.org/*/soap-encoding", NULL},
    {"xsi", "http://www.w3.org/2001/XMLSchema-instance", "http://www.w3.org/*/XMLSchema-instance", NULL},
    {"xsd", "http://www.w3.org/2001/XMLSchema", "http://www.w3.org/*/XMLSchema", NULL},
    {"fnp", "urn:v4.webservices.operations.flexnet.com", "urn:v*.webservices.operations.flexnet.com", NULL},
    {"flex", "urn:com.macrovision:flexnet/platform", NULL, NULL},
    {NULL, NULL, NULL, NULL},
};
