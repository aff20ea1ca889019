/* libFuzzer target: a SOAP request on the path soap/front.c takes before
 * its handlers. The body is checked by the guard (soap/guard.c); where its
 * endpoint is v1..v3 and its operation's trees differ, it is rewritten into
 * v4's (soap/versions.c); then gSOAP reads it from memory, as front.c feeds
 * a worker's context (request line and headers as soap/request.c writes
 * them), and the generated soap_serve_request dispatches it to the
 * deserialiser of its operation: every one of the nine. The handlers are
 * stand-ins defined here (no database is linked): each checks that gSOAP
 * served the operation the guard named and answers with an empty response,
 * which gSOAP writes into the void.
 *
 * The first byte of an input picks the endpoint's version ('1'..'4'; any
 * byte maps to one), the rest is the body. The limits are the daemon's
 * defaults (config_load; the ENTITLEMENTD_* variables change them), set
 * as front.c sets them. The schema source is read once from FUZZ_XSD.
 * libgsoap is Debian's shared library, not instrumented: coverage comes
 * from the guard, versions.c and the generated (de)serialisers.
 *
 * With FUZZ_TRACE set, each input's outcome is printed (the operation
 * served, or where it was refused): a seed that stops reaching its
 * handler is seen so, e.g. FUZZ_TRACE=1 ./fuzz_soap corpus/soap/\*. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/config.h"
#include "soap/guard.h"
#include "soap/versions.h"
#include "soapH.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ent_config_t fuzz_cfg;
static versions_t *fuzz_vs;
static struct soap *fuzz_soap;
/* A socket gSOAP is given while it serves, as front.c gives it the
 * exchange's: gSOAP closing it after a fault (fuzz_fclose, a no-op) also
 * drops what it read of the request and did not use. Without one it keeps
 * those bytes and reads them as the start of the next request, which the
 * daemon never does. Nothing is ever read from or written to it. */
static int fuzz_sockets[2] = {-1, -1};

/* The request fed to gSOAP, and how far it has read. */
static char *fuzz_req;
static size_t fuzz_req_len, fuzz_req_pos;

/* The operation element the guard found (its local name), and the one a
 * handler was called for. */
static char fuzz_op[64];
static const char *fuzz_served;
static int fuzz_trace;

/* The nine operations: request element and response element (front.c's
 * table). */
static const char *const fuzz_ops[][2] = {
    {"upgradeLicenseRequest", "upgradeLicenseResponse"},
    {"upsellLicenseRequest", "upsellLicenseResponse"},
    {"renewLicenseRequest", "renewLicenseResponse"},
    {"createSimpleEntitlementRequest", "createSimpleEntitlementResponse"},
    {"searchEntitlementRequest", "searchEntitlementResponse"},
    {"getEntitlementCountRequest", "getEntitlementCountResponse"},
    {"setEntitlementStateRequest", "setEntitlementStateResponse"},
    {"setLineItemStateRequest", "setLineItemStateResponse"},
    {"deleteEntitlementRequest", "deleteEntitlementResponse"}};

static size_t fuzz_frecv(struct soap *soap, char *buf, size_t len)
{
    (void)soap;
    size_t n = fuzz_req_len - fuzz_req_pos;
    if (n > len)
        n = len;
    memcpy(buf, fuzz_req + fuzz_req_pos, n);
    fuzz_req_pos += n;
    return n;
}

static int fuzz_fsend(struct soap *soap, const char *data, size_t n)
{
    (void)soap;
    (void)data;
    (void)n;
    return SOAP_OK;
}

static int fuzz_fclose(struct soap *soap, SOAP_SOCKET fd)
{
    (void)soap;
    (void)fd;
    return SOAP_OK;
}

static int fuzz_fshutdown(struct soap *soap, SOAP_SOCKET fd, int how)
{
    (void)soap;
    (void)fd;
    (void)how;
    return SOAP_OK;
}

/* What every stand-in handler does: the request element gSOAP read is the
 * one the guard named (front.c picks the version rewriting by the guard's,
 * the handler by gSOAP's: they must agree). A missing request is a fault,
 * as ops_begin answers it. */
static int fuzz_handler(struct soap *soap, const void *req, const char *element)
{
    if (strcmp(fuzz_op, element) != 0) {
        fprintf(stderr, "fuzz_soap: gSOAP served <%s>, the guard named <%s>\n", element, fuzz_op);
        abort();
    }
    fuzz_served = element;
    if (req == NULL)
        return soap_sender_fault(soap, "missing request element", NULL);
    return SOAP_OK;
}

int __fnp__upgradeLicense(struct soap *soap, struct fnp__EntitlementLifeCycleRequestType *req,
                          struct fnp__EntitlementLifeCycleResponseType *resp)
{
    (void)resp;
    return fuzz_handler(soap, req, "upgradeLicenseRequest");
}

int __fnp__upsellLicense(struct soap *soap, struct fnp__EntitlementLifeCycleRequestType *req,
                         struct fnp__EntitlementLifeCycleResponseType *resp)
{
    (void)resp;
    return fuzz_handler(soap, req, "upsellLicenseRequest");
}

int __fnp__renewLicense(struct soap *soap, struct fnp__renewEntitlementRequestType *req,
                        struct fnp__renewEntitlementResponseType *resp)
{
    (void)resp;
    return fuzz_handler(soap, req, "renewLicenseRequest");
}

int __fnp__createSimpleEntitlement(struct soap *soap, struct fnp__createSimpleEntitlementRequestType *req,
                                   struct fnp__createSimpleEntitlementResponseType *resp)
{
    (void)resp;
    return fuzz_handler(soap, req, "createSimpleEntitlementRequest");
}

int __fnp__getEntitlementsQuery(struct soap *soap, struct fnp__searchEntitlementRequestType *req,
                                struct fnp__searchEntitlementResponseType *resp)
{
    (void)resp;
    return fuzz_handler(soap, req, "searchEntitlementRequest");
}

int __fnp__getEntitlementCount(struct soap *soap, struct fnp__getEntitlementCountRequestType *req,
                               struct fnp__getEntitlementCountResponseType *resp)
{
    (void)resp;
    return fuzz_handler(soap, req, "getEntitlementCountRequest");
}

int __fnp__setEntitlementState(struct soap *soap, struct fnp__setEntitlementStateRequestType *req,
                               struct fnp__setEntitlementStateResponseType *resp)
{
    (void)resp;
    return fuzz_handler(soap, req, "setEntitlementStateRequest");
}

int __fnp__setLineItemState(struct soap *soap, struct fnp__setLineItemStateRequestType *req,
                            struct fnp__setLineItemStateResponseType *resp)
{
    (void)resp;
    return fuzz_handler(soap, req, "setLineItemStateRequest");
}

int __fnp__deleteEntitlement(struct soap *soap, struct fnp__deleteEntitlementRequestType *req,
                             struct fnp__deleteEntitlementResponseType *resp)
{
    (void)resp;
    return fuzz_handler(soap, req, "deleteEntitlementRequest");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static char text[1 << 20];
    char err[160];
    if (config_load(&fuzz_cfg, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_soap: %s\n", err);
        abort();
    }
    FILE *f = fopen(FUZZ_XSD, "rb");
    size_t n = f ? fread(text, 1, sizeof text, f) : 0;
    if (f == NULL || n == 0 || n == sizeof text || versions_new(text, n, &fuzz_vs, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_soap: cannot read %s\n", FUZZ_XSD);
        abort();
    }
    fclose(f);
    /* One context for every input, as a worker keeps one for every
     * request: set up as front__worker_new sets it up. */
    fuzz_soap = soap_new1(SOAP_IO_KEEPALIVE | SOAP_XML_STRICT | SOAP_C_UTFSTRING);
    if (fuzz_soap == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, fuzz_sockets) != 0)
        abort();
    soap_set_omode(fuzz_soap, SOAP_IO_KEEPALIVE | SOAP_C_UTFSTRING);
    soap_set_namespaces(fuzz_soap, namespaces);
    fuzz_soap->recv_timeout = fuzz_cfg.recv_timeout_s;
    fuzz_soap->send_timeout = fuzz_cfg.send_timeout_s;
    fuzz_soap->maxlevel = (unsigned)fuzz_cfg.max_depth;
    fuzz_soap->maxoccurs = (size_t)fuzz_cfg.max_occurs;
    fuzz_soap->recv_maxlength = (ULONG64)fuzz_cfg.max_body_bytes + 2 * 65536;
    fuzz_soap->max_keep_alive = 0;
    fuzz_soap->fsend = fuzz_fsend;
    fuzz_soap->frecv = fuzz_frecv;
    fuzz_soap->fclosesocket = fuzz_fclose;
    fuzz_soap->fshutdownsocket = fuzz_fshutdown;
    fuzz_trace = getenv("FUZZ_TRACE") != NULL;
    return 0;
}

/* Whether front.c rewrites a version-v request whose operation element is
 * op (its local name) into v4's trees. */
static int fuzz_older_differs(int v, const char *op)
{
    if (v == 4)
        return 0;
    for (size_t i = 0; i < sizeof fuzz_ops / sizeof fuzz_ops[0]; i++)
        if (strcmp(op, fuzz_ops[i][0]) == 0)
            return versions_differ(fuzz_vs, fuzz_ops[i][0], strlen(fuzz_ops[i][0])) ||
                   versions_differ(fuzz_vs, fuzz_ops[i][1], strlen(fuzz_ops[i][1]));
    return 0;
}

/* Serves the request in fuzz_req as front__serve does once it is
 * normalized. */
static void fuzz_serve(struct soap *soap)
{
    int fault = 0;
    fuzz_req_pos = 0;
    fuzz_served = NULL;
    soap->socket = fuzz_sockets[0];
    soap->keep_alive = -1;
    soap_begin(soap);
    if (soap_begin_recv(soap) != SOAP_OK || soap_envelope_begin_in(soap) || soap_recv_header(soap) ||
        soap_body_begin_in(soap)) {
        fault = 1;
    } else {
        (void)soap_peek_element(soap);
        soap->error = SOAP_OK;
        if (soap_serve_request(soap) != SOAP_OK && soap->error != SOAP_STOP)
            fault = 1;
    }
    if (fuzz_trace)
        printf("fuzz_soap: %s%s (error %d at <%s>)\n", fuzz_served ? "served " : "not served",
               fuzz_served ? fuzz_served : "", soap->error, soap->tag);
    if (fault) {
        /* The fault names what gSOAP stopped at (soap->tag). */
        soap->keep_alive = 0;
        soap->version = 1;
        soap_send_fault(soap);
    }
    soap_destroy(soap);
    soap_end(soap);
    soap->socket = SOAP_INVALID_SOCKET;
}

/* Serves a version-v request of body xml (len bytes), with the request
 * line and headers soap/request.c writes. */
static void fuzz_request(int v, const char *xml, size_t len)
{
    char head[256];
    int hl = snprintf(head, sizeof head,
                      "POST /flexnet/services/v%d/EntitlementOrderService HTTP/1.1\r\nHost: localhost\r\n"
                      "SOAPAction: \"\"\r\nContent-Type: text/xml; charset=utf-8\r\nConnection: keep-alive\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      v, len);
    if (hl < 0 || (size_t)hl >= sizeof head || (fuzz_req = malloc((size_t)hl + len)) == NULL)
        return;
    memcpy(fuzz_req, head, (size_t)hl);
    memcpy(fuzz_req + hl, xml, len);
    fuzz_req_len = (size_t)hl + len;
    fuzz_serve(fuzz_soap);
    free(fuzz_req);
    fuzz_req = NULL;
}

/* A request served after each input on the same context, as a worker
 * serves one client's request after another's: it must be served as
 * itself, whatever the input before it left behind. */
static const char fuzz_next[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soapenv:Envelope "
    "xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" "
    "xmlns:v4=\"urn:v4.webservices.operations.flexnet.com\"><soapenv:Body><v4:getEntitlementCountRequest>"
    "<v4:queryParams/></v4:getEntitlementCountRequest></soapenv:Body></soapenv:Envelope>";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int v = 1 + (unsigned char)(data[0] - '1') % 4;
    size_t len = size - 1;
    char *body = malloc(len + 1), *out = NULL;
    if (body == NULL)
        return 0;
    memcpy(body, data + 1, len);
    body[len] = '\0';
    guard_result_t g = {GUARD_OK, 0, NULL, 0, 0, 0, 0, false};
    if (guard_check(body, &len, fuzz_cfg.max_depth, fuzz_cfg.max_occurs, &g) != GUARD_OK) {
        if (fuzz_trace)
            printf("fuzz_soap: guard: %s at byte %zu\n", g.what, g.offset);
        goto out;
    }
    /* The operation's local name (front__op_index reads it so). */
    const char *op = body + g.op_offset, *colon = memchr(op, ':', g.op_len);
    size_t ol = g.op_len - (colon ? (size_t)(colon + 1 - op) : 0);
    if (ol >= sizeof fuzz_op)
        ol = sizeof fuzz_op - 1; /* no operation's name is as long */
    memcpy(fuzz_op, colon ? colon + 1 : op, ol);
    fuzz_op[ol] = '\0';
    const char *xml = body;
    if (fuzz_older_differs(v, fuzz_op)) {
        char err[160];
        if (versions_request(fuzz_vs, v, body, len, &out, &len, err, sizeof err) != 0) {
            if (fuzz_trace)
                printf("fuzz_soap: v%d: %s\n", v, err);
            goto out;
        }
        xml = out;
    }
    fuzz_request(v, xml, len);
    strcpy(fuzz_op, "getEntitlementCountRequest");
    fuzz_request(4, fuzz_next, sizeof fuzz_next - 1);
    if (fuzz_served == NULL) {
        fprintf(stderr, "fuzz_soap: the request after this input was not served\n");
        abort();
    }
out:
    free(out);
    free(body);
    return 0;
}
