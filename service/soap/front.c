/*
 * The SOAP front: each request under /flexnet/services, whole and framed
 * by the HTTP transport, is checked by the guard, rewritten into the form
 * gSOAP reads (request.c) and served by the worker's gSOAP context from
 * memory; gSOAP writes its response into the exchange.
 */
#include "front.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/quote.h"
#include "../core/utf8.h"
#include "soap_int.h"
#include "validate.h"
#include "versions.h"

/* The schema source with its version marks (CMake embeds it). */
extern const char ent_xsd_marked[];
extern const size_t ent_xsd_marked_len;

/* The normalized request buffer starts at this size and shrinks back to it
 * after a large request, so that idle workers hold little memory. */
#define FRONT_BUF_MIN 16384
/* Longest request target: gSOAP keeps the path in a buffer of 1 KiB. */
#define FRONT_MAX_TARGET 1000

/* gSOAP names the fault code after the SOAP version of the request, and
 * before an envelope was read (a GET, a path without a service) it has
 * none and writes "at source", which is not a QName. We speak SOAP 1.1
 * only, so every fault is a SOAP 1.1 fault. */
static void server__fault_version(struct soap *soap)
{
    soap->version = 1;
}

int soap_client_fault(struct soap *soap, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    quote_vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    server__fault_version(soap);
    return soap_sender_fault(soap, msg, NULL);
}

int soap_unavailable_fault(struct soap *soap, const char *msg)
{
    char text[1024];
    soap_worker_t *w = soap_worker(soap);
    /* Like every other 503 of ours: when to try again. */
    size_t n = strlen(w->extra_header);
    if (strstr(w->extra_header, "Retry-After") == NULL)
        snprintf(w->extra_header + n, sizeof w->extra_header - n, "\r\nRetry-After: 1");
    server__fault_version(soap);
    quote_format(text, sizeof text, "%s", msg);
    soap_receiver_fault(soap, text, NULL);
    return 503;
}

int soap_throttled_fault(struct soap *soap, int wait_s)
{
    char text[160];
    soap_worker_t *w = soap_worker(soap);
    size_t n = strlen(w->extra_header);
    snprintf(w->extra_header + n, sizeof w->extra_header - n, "\r\nRetry-After: %d", wait_s);
    server__fault_version(soap);
    snprintf(text, sizeof text, "too many failed logins from this address or for this user; try again in %d s",
             wait_s);
    soap_sender_fault(soap, text, NULL);
    return 429;
}

/* gSOAP asks this before it writes a fault (soap_send_fault). Its own
 * polls the socket and has nothing written when the client has closed its
 * sending side after its request (readable, nothing to peek): that client
 * got "internal error: no response" instead of its fault. The fault goes
 * to the transport's buffer; whether the client reads it is the
 * transport's business. */
static int server__fpoll(struct soap *soap)
{
    (void)soap;
    return SOAP_OK;
}

/* gSOAP closes a connection it considers finished; closing is the
 * transport's to do, so its close only records the wish. */
static int server__fclosesocket(struct soap *soap, SOAP_SOCKET fd)
{
    (void)fd;
    if (soap_worker(soap)->x != NULL)
        http_close_after(soap_worker(soap)->x);
    return SOAP_OK;
}

static int server__fshutdownsocket(struct soap *soap, SOAP_SOCKET fd, int how)
{
    (void)soap;
    (void)fd;
    (void)how;
    return SOAP_OK;
}

/* gSOAP writes every response through here into the exchange; the
 * transport sends it without blocking. */
static int server__fsend(struct soap *soap, const char *data, size_t n)
{
    return http_write(soap_worker(soap)->x, data, n) == ENT_OK ? SOAP_OK : SOAP_EOM;
}

int soap_validate_request(struct soap *soap)
{
    soap_worker_t *w = soap_worker(soap);
    char err[256];
    if (w->validator == NULL)
        return SOAP_OK;
    const char *body = w->sent ? w->sent : w->body;
    size_t len = w->sent ? w->sent_len : w->body_len;
    if (validator_check(w->validator, body, len, w->version, err, sizeof err) != ENT_OK)
        return soap_client_fault(soap, "request does not match the schema: %s", err);
    return SOAP_OK;
}

/* Checks the response just written; a mismatch is our bug, so it is
 * logged. */
static void server__validate_response(soap_worker_t *w, int version)
{
    char err[256];
    const char *r;
    size_t n = http_written(w->x, &r);
    const char *body = n ? memmem(r, n, "\r\n\r\n", 4) : NULL;
    if (body == NULL)
        return;
    body += 4;
    if (validator_check(w->validator, body, n - (size_t)(body - r), version, err, sizeof err) != ENT_OK)
        log_error("response does not match the schema: %s", err);
}

/* gSOAP reads the normalized request from the worker's buffer: the whole
 * request is there (frame.h), and nothing after it. */
static size_t server__frecv(struct soap *soap, char *buf, size_t len)
{
    soap_worker_t *w = soap_worker(soap);
    size_t n = w->req_len - w->req_pos;
    if (n > len)
        n = len;
    memcpy(buf, w->req + w->req_pos, n);
    w->req_pos += n;
    return n;
}

/* Sends the fault that the context holds with HTTP status (500 when 0). */
static void server__send_fault(struct soap *soap, int status)
{
    /* A fault raised while the request was read still holds its SOAP
     * Header, credentials included (ops_begin drops it only once a
     * handler runs): a fault carries no header of ours. */
    soap->header = NULL;
    soap->keep_alive = 0;
    if (status != 0)
        soap->error = status;
    soap_send_fault(soap);
}

/* Whether a SOAP_OCCURS came from the repetition cap: gSOAP stacks the
 * arrays it is reading in soap->blist and refuses to grow the one it is
 * reading (the top) when it holds maxoccurs items. A required element
 * missing from the maxoccurs-th item of an array looks the same. */
static bool server__over_maxoccurs(const struct soap *soap)
{
    return soap->blist != NULL && soap->blist->item >= soap->maxoccurs;
}

/* Whether the root element read is an Envelope in a namespace other than
 * SOAP 1.1's (gSOAP then takes the body for plain XML and stops). */
static bool server__foreign_envelope(const struct soap *soap)
{
    const char *local = strchr(soap->tag, ':');
    local = local ? local + 1 : soap->tag;
    return soap->level == 0 && strcmp(local, "Envelope") == 0;
}

/* A SOAP 1.1 VersionMismatch fault: the envelope is not in the SOAP 1.1
 * namespace (a SOAP 1.2 envelope, say). Answered as SOAP 1.1, as a SOAP
 * 1.1 node does. */
static void server__version_mismatch(struct soap *soap)
{
    soap_client_fault(soap, "this service speaks SOAP 1.1 only: the Envelope must be in namespace "
                            "http://schemas.xmlsoap.org/soap/envelope/");
    *soap_faultcode(soap) = "SOAP-ENV:VersionMismatch";
}

/* Maps an error gSOAP met while reading a request to the fault we send;
 * returns the HTTP status (0 for the default 500). */
/* gSOAP names the element it stopped at by its v4 name: in a rewritten
 * request, by the name the client wrote where that is unambiguous
 * (versions_name_in). */
static void server__older_tag(soap_worker_t *w, struct soap *soap)
{
    char *colon = strchr(soap->tag, ':'), old[64];
    const char *local = colon ? colon + 1 : soap->tag;
    if (!versions_name_in(w->versions, w->rewritten, local, old, sizeof old))
        return;
    size_t at = (size_t)(local - soap->tag);
    if (at + strlen(old) < sizeof soap->tag)
        memcpy(soap->tag + at, old, strlen(old) + 1);
}

/* gSOAP reads an element inside a string's element as more text: from
 * "<description><x>y</x></description>" it takes the value "<x>y</x>".
 * The guard refuses text beside elements (GUARD_MIXED); an element alone
 * is caught here, after the value was read: a '<' in it is markup unless
 * the request's text holds an escaped one (then it may be that, and the
 * value stands). The stubs read every string with soap_instring, and are
 * linked with --wrap=soap_instring (CMakeLists.txt), so every one passes
 * here; outside the server (soap->user not a worker: the interop client)
 * nothing changes. */
char **__real_soap_instring(struct soap *soap, const char *tag, char **p, const char *type, int t, int flag,
                            long minlen, long maxlen, const char *pattern);
char **__wrap_soap_instring(struct soap *soap, const char *tag, char **p, const char *type, int t, int flag,
                            long minlen, long maxlen, const char *pattern);

char **__wrap_soap_instring(struct soap *soap, const char *tag, char **p, const char *type, int t, int flag,
                            long minlen, long maxlen, const char *pattern)
{
    char **s = __real_soap_instring(soap, tag, p, type, t, flag, minlen, maxlen, pattern);
    soap_worker_t *w = soap->user;
    if (s == NULL || *s == NULL || w == NULL || w->soap != soap || w->text_lt || strchr(*s, '<') == NULL)
        return s;
    w->markup_in_text = true; /* (soap->tag names the element, as written: its end tag was read last) */
    soap->error = SOAP_TYPE;
    return NULL;
}

/* Largest request whose missing element the schema is asked to name: its
 * tree is built whole (a hundred bytes and more an element), maybe before
 * its client is authenticated. Larger ones get gSOAP's own words. */
#define SERVER_DIAGNOSE_MAX_BYTES (256 * 1024)

/* What the schema says of a request gSOAP found incomplete (a required
 * element missing): true with its words in why. The schemas are the
 * run-time validator's, else loaded at the first such request (some 3 MiB,
 * kept) rather than at every start for a request that may never come. */
static bool server__schema_says(soap_worker_t *w, char *why, size_t n)
{
    /* The request as its client sent it (a v1..v3 request rewritten into
     * v4's trees is kept as sent: names of v4's are never said to an older
     * client). */
    const char *body = w->sent ? w->sent : w->rewritten ? NULL : w->body;
    size_t len = w->sent ? w->sent_len : w->body_len;
    if (body == NULL || len > SERVER_DIAGNOSE_MAX_BYTES)
        return false;
    soap_front_t *f = w->front;
    validator_t *v = f->validator;
    if (v == NULL) {
        pthread_mutex_lock(&f->diag_lock);
        if (f->diag == NULL && validator_new(&f->diag) != ENT_OK)
            log_warn("the schema cannot be loaded to name a request's missing element");
        v = f->diag;
        pthread_mutex_unlock(&f->diag_lock);
    }
    /* (w->version is its operation element's namespace's: the guard's.) */
    return v != NULL && validator_check(v, body, len, w->version, why, n) == ENT_EINVAL;
}

static int server__read_error(struct soap *soap)
{
    soap_worker_t *w = soap_worker(soap);
    int err = soap->error;

    if (w->rewritten)
        server__older_tag(w, soap);
    soap->error = SOAP_OK;
    soap_set_fault(soap); /* make sure soap->fault exists */
    if (err == SOAP_EOM) {
        soap_client_fault(soap, "request too large for the memory available");
        return 413;
    }
    switch (err) {
    case SOAP_LEVEL:
        soap_client_fault(soap, "XML nesting deeper than %d levels", w->cfg->max_depth);
        break;
    case SOAP_OCCURS: {
        /* gSOAP's word for both too many repetitions (maxoccurs) and a
         * required element that is missing; soap->tag is the repeated
         * element, or the one whose content is incomplete. The schema
         * names what is missing. */
        char why[320];
        if (server__over_maxoccurs(soap))
            soap_client_fault(soap, "an element is repeated more than %d times: <%s>", w->cfg->max_occurs,
                              soap->tag);
        else if (server__schema_says(w, why, sizeof why))
            soap_client_fault(soap, "request does not match the schema: %s", why);
        else
            soap_client_fault(soap, "a required element is missing or an element occurs too often in <%s>",
                              soap->tag);
        break;
    }
    case SOAP_VERSIONMISMATCH:
        server__version_mismatch(soap);
        break;
    case SOAP_NO_METHOD: {
        static const char *const known[] = {
            "upgradeLicenseRequest", "upsellLicenseRequest", "renewLicenseRequest",
            "createSimpleEntitlementRequest", "searchEntitlementRequest", "getEntitlementCountRequest",
            "setEntitlementStateRequest", "setLineItemStateRequest", "deleteEntitlementRequest"};
        const char *local = strchr(soap->tag, ':');
        local = local ? local + 1 : soap->tag;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (strcmp(local, known[i]) == 0) {
                soap_client_fault(soap, "wrong namespace: <%s> must be in urn:vN.webservices.operations.flexnet.com "
                                  "(N = 1..4)", local);
                return 0;
            }
        if (soap->tag[0] == '\0')
            soap_client_fault(soap, "malformed request: no operation element in the SOAP Body");
        else
            soap_client_fault(soap, "operation not supported: %s", soap->tag);
        break;
    }
    case SOAP_EOF:
        soap_client_fault(soap, "malformed request: the XML ends before the envelope is complete");
        break;
    case SOAP_TAG_MISMATCH:
        soap_client_fault(soap, "malformed request: element <%s> is not expected here", soap->tag);
        break;
    case SOAP_TYPE:
        if (w->markup_in_text)
            soap_client_fault(soap, "malformed request: element <%s> holds an element where text is expected",
                              soap->tag);
        else
            soap_client_fault(soap, "malformed request: element <%s> has a value of the wrong type", soap->tag);
        break;
    case SOAP_NO_TAG:
    case SOAP_POST: /* gSOAP's word for a POST body that is not XML */
        if (server__foreign_envelope(soap))
            server__version_mismatch(soap);
        else
            soap_client_fault(soap, "malformed request: not an XML SOAP envelope");
        break;
    case SOAP_SYNTAX_ERROR:
        soap_client_fault(soap, "malformed request: XML syntax error near <%s>", soap->tag);
        break;
    case SOAP_NAMESPACE:
        soap_client_fault(soap, "wrong namespace: element <%s> is not in a namespace this service knows", soap->tag);
        break;
    case SOAP_NULL:
    case SOAP_REQUIRED:
        soap_client_fault(soap, "malformed request: a required element is missing near <%s>", soap->tag);
        break;
    case SOAP_LENGTH:
        soap_client_fault(soap, "malformed request: value of <%s> too long or too short", soap->tag);
        break;
    case SOAP_UTF_ERROR:
        soap_client_fault(soap, "request is not valid UTF-8");
        break;
    case SOAP_MUSTUNDERSTAND:
        /* SOAP 1.1, 4.4.1: this case has a faultcode of its own. */
        soap_client_fault(soap, "a SOAP header marked mustUnderstand is not understood: <%s>", soap->tag);
        *soap_faultcode(soap) = "SOAP-ENV:MustUnderstand";
        break;
    case SOAP_EMPTY:
        soap_client_fault(soap, "malformed request: element <%s> is empty, and its type needs a value", soap->tag);
        break;
    case SOAP_END_TAG:
        soap_client_fault(soap, "malformed request: an end tag that does not close <%s>", soap->tag);
        break;
    default:
        soap_client_fault(soap, "malformed request: the XML cannot be read (gSOAP error %d near <%s>)", err,
                          soap->tag);
        break;
    }
    return 0;
}

/* The body of a refusal: a SOAP 1.1 fault (Client, or Server for 503: the
 * request may be sent again as it is).
 * The message is ours (static texts and numbers) but made text and escaped
 * all the same. */
static size_t front__error_body(int status, const char *msg, char *buf, size_t cap, const char **ctype);

/* The server's refusals (http.h): the same fault, whatever the target. */
static size_t front__refusal_body(int status, const char *msg, const char *target, size_t target_len, char *buf,
                                  size_t cap, const char **ctype)
{
    (void)target;
    (void)target_len;
    return front__error_body(status, msg, buf, cap, ctype);
}

static size_t front__error_body(int status, const char *msg, char *buf, size_t cap, const char **ctype)
{
    char text[256], esc[sizeof text * 5]; /* "&amp;" is the longest escape */
    size_t o = 0;
    quote_format(text, sizeof text, "%s", msg);
    for (const char *p = text; *p; p++) {
        const char *e = *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '&' ? "&amp;" : NULL;
        if (e != NULL) {
            memcpy(esc + o, e, strlen(e));
            o += strlen(e);
        } else {
            esc[o++] = *p;
        }
    }
    esc[o] = '\0';
    *ctype = "text/xml; charset=utf-8";
    int n = snprintf(buf, cap,
                     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                     "<SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:%s</faultcode>"
                     "<faultstring>%s</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>\n",
                     /* Our own failures are the Server's, as "unavailable" is. */
                     status == 503 || strncmp(msg, "internal error", 14) == 0 ? "Server" : "Client", esc);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Answers the exchange with a fault of our own (the request never reached
 * gSOAP) and closes the connection after it. */
static void front__refuse_after(soap_worker_t *w, int status, const char *msg, int retry_after_s)
{
    char body[2048], extra[64] = ""; /* holds any front__error_body */
    const char *ctype;
    size_t n = front__error_body(status, msg, body, sizeof body, &ctype);
    if (status == 405)
        snprintf(extra, sizeof extra, "Allow: GET, HEAD, POST\r\n");
    else if (retry_after_s > 0)
        snprintf(extra, sizeof extra, "Retry-After: %d\r\n", retry_after_s);
    http_close_after(w->x);
    http_discard(w->x);
    if (http_respond(w->x, status, ctype, extra, body, n) != ENT_OK)
        log_error("cannot write a refusal: out of memory");
    metrics_soap(w->operation ? w->operation : "none", "FAULT");
}

static void front__refuse(soap_worker_t *w, int status, const char *msg)
{
    front__refuse_after(w, status, msg, status == 503 ? 1 : 0);
}

/* Refuses, before its body is parsed, a request whose HTTP Basic
 * credentials the login throttle would refuse anyway: a flood of guesses
 * costs a header's worth of work each, not a SOAP parse. (Credentials in
 * the SOAP header are only known after the parse.) */
static bool front__throttled(soap_worker_t *w, const http_request_t *r)
{
    char login[AUTH_MAX_LOGIN + 1], password[AUTH_MAX_FIELD + 1], msg[128];
    const char *v;
    size_t n;
    int wait_s = 0;
    if (!http_header(r, "Authorization", &v, &n) || !auth_basic_parse(v, n, login, password))
        return false;
    bool throttled = auth_throttled(w->auth, login, password, r->peer, &wait_s);
    OPENSSL_cleanse(password, sizeof password);
    if (!throttled)
        return false;
    log_info("authentication refused for \"%s\": too many failed logins from this address or for this user", login);
    snprintf(msg, sizeof msg, "too many failed logins from this address or for this user; try again in %d s", wait_s);
    front__refuse_after(w, 429, msg, wait_s);
    return true;
}

/* A request put back to wait for a credential check's turn (ops.c,
 * auth_require) that would wait again is put back again before its body
 * is parsed: a waiting request costs one parse, not one per retry. */
static bool front__still_waiting(soap_worker_t *w, http_exchange_t *x)
{
    const http_request_t *r = http_request(x);
    char login[AUTH_MAX_LOGIN + 1], password[AUTH_MAX_FIELD + 1];
    const char *v;
    size_t n;
    if (http_parked_seconds(x) <= 0 || !http_header(r, "Authorization", &v, &n) ||
        !auth_basic_parse(v, n, login, password))
        return false;
    bool wait = auth_would_wait(w->auth, login, password);
    OPENSSL_cleanse(password, sizeof password);
    return wait && http_retry_later(x, AUTH_PARK_MAX_S);
}

/* Whether the Content-Type of r is a media type a SOAP body comes in (or
 * absent: the body is then taken for what the path says it is). */
static bool front__xml_body(const http_request_t *r)
{
    const char *v;
    size_t n;
    return !http_header(r, "Content-Type", &v, &n) || http_content_type_is(r, "text/xml") || http_content_type_is(r, "application/soap+xml") ||
           http_content_type_is(r, "application/xml");
}

/* The nine operations: request element, operation, response element. */
static const char *const front__ops[][3] = {
    {"upgradeLicenseRequest", "upgradeLicense", "upgradeLicenseResponse"},
    {"upsellLicenseRequest", "upsellLicense", "upsellLicenseResponse"},
    {"renewLicenseRequest", "renewLicense", "renewLicenseResponse"},
    {"createSimpleEntitlementRequest", "createSimpleEntitlement", "createSimpleEntitlementResponse"},
    {"searchEntitlementRequest", "getEntitlementsQuery", "searchEntitlementResponse"},
    {"getEntitlementCountRequest", "getEntitlementCount", "getEntitlementCountResponse"},
    {"setEntitlementStateRequest", "setEntitlementState", "setEntitlementStateResponse"},
    {"setLineItemStateRequest", "setLineItemState", "setLineItemStateResponse"},
    {"deleteEntitlementRequest", "deleteEntitlement", "deleteEntitlementResponse"}};

#define FRONT_NOPS (sizeof front__ops / sizeof front__ops[0])

/* The index in front__ops of a request element (qualified name, len
 * bytes); -1 if none. */
static int front__op_index(const char *tag, size_t len)
{
    const char *local = memchr(tag, ':', len);
    local = local ? local + 1 : tag;
    size_t n = len - (size_t)(local - tag);
    for (size_t i = 0; i < FRONT_NOPS; i++)
        if (strlen(front__ops[i][0]) == n && memcmp(local, front__ops[i][0], n) == 0)
            return (int)i;
    return -1;
}

/* The operation a request element asks for; NULL if none. */
static const char *front__operation(const char *tag)
{
    int i = front__op_index(tag, strlen(tag));
    return i < 0 ? NULL : front__ops[i][1];
}

/* Whether an older version's request (operation element tag, len bytes) or
 * its answer differs from v4's, and so is rewritten (versions.h); most
 * operations, upgradeLicense among them, are the same in every version. */
static bool front__older_differs(const soap_worker_t *w, const char *tag, size_t len)
{
    int i = front__op_index(tag, len);
    if (i < 0) /* gSOAP refuses it */
        return false;
    return versions_differ(w->versions, front__ops[i][0], strlen(front__ops[i][0])) ||
           versions_differ(w->versions, front__ops[i][2], strlen(front__ops[i][2]));
}

/* Checks the body with the guard; false (with the refusal written) when it
 * is refused. The operation element's name is at body + *op_offset,
 * *op_len bytes (0 when there is none). *version, the path's on entry,
 * becomes the request's: its operation element's namespace, if any. */
static bool front__guard(soap_worker_t *w, char *body, size_t *len, size_t *op_offset, size_t *op_len, int *version)
{
    guard_result_t g = {0};
    w->text_lt = true;
    w->markup_in_text = false;
    if (guard_check(body, len, w->cfg->max_depth, w->cfg->max_occurs, &g) == GUARD_OK) {
        *op_offset = g.op_offset;
        *op_len = g.op_len;
        w->text_lt = g.text_lt;
        /* Each version's request is answered in its own namespace and
         * trees, on whichever endpoint path it came (the contract: accept
         * all four, answer in the request's namespace). */
        if (g.ns_version != 0)
            *version = g.ns_version;
        /* Two versions in one request: an older version's rewriting names
         * the element in the other (versions.h); v4 has none. (ops_begin
         * checks what gSOAP matched against the same version.) */
        if (g.ns_version == 0 || !g.ns_mixed || g.ns_version < 4)
            return true;
        char msg[200];
        snprintf(msg, sizeof msg, "wrong namespace: the request has elements in another version's namespace "
                 "beside urn:v4.webservices.operations.flexnet.com");
        log_info("request refused: %s", msg);
        front__refuse(w, 500, msg);
        return false;
    }
    char msg[160];
    const char *m = g.what;
    if (g.verdict == GUARD_DEPTH) {
        snprintf(msg, sizeof msg, "XML nesting deeper than %d levels", w->cfg->max_depth);
        m = msg;
    } else if (g.verdict == GUARD_BAD_CHAR && g.code > 0x10FFFF) {
        snprintf(msg, sizeof msg, "malformed request: a character reference beyond U+10FFFF, the last character "
                 "(byte %zu of the body)", g.offset);
        m = msg;
    } else if (g.verdict == GUARD_BAD_CHAR) {
        snprintf(msg, sizeof msg, "malformed request: character U+%04lX is not allowed in XML 1.0 (byte %zu "
                 "of the body)", g.code, g.offset);
        m = msg;
    } else if (g.verdict == GUARD_BAD_UTF8) {
        snprintf(msg, sizeof msg, "malformed request: not valid UTF-8 at byte %zu of the body", g.offset);
        m = msg;
    } else if (g.verdict == GUARD_OCCURS) {
        /* gSOAP's words for the arrays it counts itself (server__read_error). */
        quote_format(msg, sizeof msg, "an element is repeated more than %d times: <%.*s>", w->cfg->max_occurs,
                     (int)g.name_len, body + g.name_offset);
        m = msg;
    } else if (g.verdict == GUARD_ATTRIBUTES) {
        snprintf(msg, sizeof msg, "an element has more than %d attributes", GUARD_MAX_ATTRIBUTES);
        m = msg;
    } else if (g.verdict != GUARD_DTD && g.verdict != GUARD_BAD_UTF8 && g.verdict != GUARD_NAMESPACE) {
        snprintf(msg, sizeof msg, "malformed request: %s (byte %zu of the body)", g.what, g.offset);
        m = msg;
    }
    log_info("request refused: %s", m);
    front__refuse(w, 500, m);
    return false;
}

/* Whether a body is UTF-16, which every XML processor reads (XML 1.0,
 * 4.3.3) and WS-I's Basic Profile allows beside UTF-8: its byte order
 * mark, or without one "<?" in UTF-16 (XML 1.0, appendix F). No UTF-8
 * document starts so. 1: little endian, 2: big endian, 0: not UTF-16;
 * *bom: the mark's length. */
static int front__utf16_order(const char *body, size_t n, size_t *bom)
{
    const unsigned char *b = (const unsigned char *)body;
    *bom = 2;
    if (n >= 2 && b[0] == 0xFF && b[1] == 0xFE)
        return 1;
    if (n >= 2 && b[0] == 0xFE && b[1] == 0xFF)
        return 2;
    *bom = 0;
    if (n >= 4 && b[0] == '<' && b[1] == 0 && b[2] == '?' && b[3] == 0)
        return 1;
    if (n >= 4 && b[0] == 0 && b[1] == '<' && b[2] == 0 && b[3] == '?')
        return 2;
    return 0;
}

/* The body, UTF-16 in order (front__utf16_order), as UTF-8 at out (room
 * for n / 2 * 3 bytes), its XML declaration's encoding now UTF-8: what
 * the guard and gSOAP read. False, with the refusal written, when it is
 * not UTF-16 or its declaration names another encoding. */
static bool front__from_utf16(soap_worker_t *w, const char *body, size_t n, int order, char *out, size_t *out_len)
{
    size_t bom, bad = 0;
    front__utf16_order(body, n, &bom);
    size_t len = utf16_to_utf8((const unsigned char *)body + bom, n - bom, order == 2, out, n / 2 * 3, &bad);
    char msg[160];
    if (len == (size_t)-1) {
        snprintf(msg, sizeof msg, "malformed request: not valid UTF-16 at byte %zu of the body", bom + bad);
        log_info("request refused: %s", msg);
        front__refuse(w, 500, msg);
        return false;
    }
    /* <?xml ... encoding="UTF-16" ...?>: the label says what the text is
     * now. */
    if (!guard_declaration_from_utf16(out, &len)) {
        static const char other[] = "malformed request: the body is UTF-16 but its XML declaration names another "
                                    "encoding";
        log_info("request refused: %s", other);
        front__refuse(w, 500, other);
        return false;
    }
    *out_len = len;
    return true;
}

/* What a body that is not UTF-16 is encoded in. */
enum { FRONT_UTF8, FRONT_LATIN1, FRONT_OTHER };

/* Whether the label v (n bytes) is one of names, ignoring case. */
static bool front__label_in(const char *v, size_t n, const char *const *names)
{
    for (; *names != NULL; names++)
        if (strlen(*names) == n && strncasecmp(v, *names, n) == 0)
            return true;
    return false;
}

/* How a body that is not UTF-16 is encoded: by the encoding its XML
 * declaration names, or else by the Content-Type's charset; UTF-8 when
 * neither says. UTF-8 and its subset US-ASCII are read as they are, and so
 * are the UTF-16 labels (the guard refuses a declaration of UTF-16 on text
 * that is not); ISO-8859-1 is read as UTF-8 after front__from_latin1;
 * anything else is FRONT_OTHER, its label (cut) in label. */
static int front__encoding(const http_request_t *r, char *label, size_t cap)
{
    static const char *const utf[] = {"UTF-8", "UTF8", "US-ASCII", "ASCII", "UTF-16", "UTF16", "UTF-16LE",
                                      "UTF-16BE", NULL};
    /* ISO-8859-1's names in the IANA character set registry. */
    static const char *const latin1[] = {"ISO-8859-1", "ISO_8859-1", "ISO_8859-1:1987", "ISO8859-1", "iso-ir-100",
                                         "latin1", "l1", "IBM819", "CP819", "csISOLatin1", NULL};
    const char *v;
    size_t n;
    if (!guard_declared_encoding(r->body, r->body_len, &v, &n) && !http_content_type_charset(r, &v, &n))
        return FRONT_UTF8;
    if (front__label_in(v, n, utf))
        return FRONT_UTF8;
    if (front__label_in(v, n, latin1))
        return FRONT_LATIN1;
    quote_value(label, cap, v, n, 32);
    return FRONT_OTHER;
}

/* The body, ISO-8859-1, as UTF-8 at out (room for cap >= 2 * n + 5
 * bytes), its XML declaration's encoding, if it names one, now UTF-8. */
static size_t front__from_latin1(const char *body, size_t n, char *out, size_t cap)
{
    size_t len = latin1_to_utf8((const unsigned char *)body, n, out);
    const char *v;
    size_t vn;
    if (guard_declared_encoding(out, len, &v, &vn))
        (void)guard_relabel_utf8(out, &len, cap, v, vn); /* cap has room for the longest */
    return len;
}

/* Makes *buf (of *cap bytes) hold at least need bytes (keeping its
 * content). (It takes the buffer, not the state: gcc's analyzer then
 * reports its false leak, front__serve_with's, where it is silenced.) */
static bool front__reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t want = *cap ? *cap : FRONT_BUF_MIN;
    while (want < need)
        want *= 2;
    char *p = realloc(*buf, want);
    if (p == NULL)
        return false;
    *buf = p;
    *cap = want;
    return true;
}

/* Rewrites the body at w->req + room (*blen bytes) of a version-v request
 * into v4's trees (versions.h); false after refusing it. */
static bool front__older_request(soap_worker_t *w, int v, size_t room, size_t *blen)
{
    char err[160], *out = NULL;
    size_t n = 0;
    int rc = versions_request(w->versions, v, w->req + room, *blen, &out, &n, err, sizeof err);
    if (rc != ENT_OK) {
        log_info("request refused: %s", rc == ENT_ENOMEM ? "out of memory" : err);
        front__refuse(w, rc == ENT_ENOMEM ? 413 : 500, rc == ENT_ENOMEM ? "request too large for the memory available"
                                                                        : err);
        return false;
    }
    /* What the client sent, for the validator and to name an element that
     * it lacks (server__schema_says) in its own version's words: the
     * latter only for a request small enough to be judged. */
    bool keep = w->validator != NULL || *blen <= SERVER_DIAGNOSE_MAX_BYTES;
    if (!front__reserve(&w->req, &w->req_cap, room + n + 1) || (keep && (w->sent = malloc(*blen + 1)) == NULL)) {
        free(out);
        front__refuse(w, 413, "request too large for the memory available");
        return false;
    }
    if (keep) {
        memcpy(w->sent, w->req + room, *blen);
        w->sent_len = *blen;
    }
    memcpy(w->req + room, out, n);
    *blen = n;
    free(out);
    w->rewritten = v;
    return true;
}

/* Rewrites the response gSOAP wrote into version v's trees, with its
 * Content-Length. A response that cannot be rewritten (data XML cannot
 * carry, put in the store behind the service's back, or no memory) is
 * replaced by a Server fault and logged: false then. */
static bool front__older_response(soap_worker_t *w, int v)
{
    const char *resp;
    size_t n = http_written(w->x, &resp);
    const char *end = n ? memmem(resp, n, "\r\n\r\n", 4) : NULL;
    if (end == NULL)
        return true;
    size_t hl = (size_t)(end + 4 - resp);
    char *body = NULL, *head = NULL;
    size_t bl = 0;
    if (versions_response(w->versions, v, resp + hl, n - hl, &body, &bl) != ENT_OK) {
        /* Never v4's names to a v%d client: a Server fault instead. */
        log_error("the answer could not be written in v%d's trees", v);
        http_discard(w->x);
        front__refuse(w, 500, "internal error: the answer could not be written in this version's elements");
        return false;
    }
    /* The header again, with the new length. */
    head = malloc(hl + 32);
    const char *cl = head ? memmem(resp, hl, "Content-Length: ", 16) : NULL;
    const char *eol = cl ? memmem(cl, hl - (size_t)(cl - resp), "\r\n", 2) : NULL;
    if (head == NULL || cl == NULL || eol == NULL) {
        log_error("the answer's header has no Content-Length to rewrite");
        free(head);
        free(body);
        return true;
    }
    size_t pre = (size_t)(cl - resp) + 16;
    memcpy(head, resp, pre);
    int k = snprintf(head + pre, 32, "%zu", bl);
    size_t post = hl - (size_t)(eol - resp);
    memcpy(head + pre + (size_t)k, eol, post);
    size_t newhl = pre + (size_t)k + post;
    http_discard(w->x);
    if (http_write(w->x, head, newhl) != ENT_OK || http_write(w->x, body, bl) != ENT_OK) {
        log_error("cannot write an answer of %zu bytes: out of memory", bl);
        http_discard(w->x);
        front__refuse(w, 500, "internal error: out of memory");
        free(head);
        free(body);
        return false;
    }
    free(head);
    free(body);
    return true;
}

/* The HTTP status of what gSOAP made of a request whose serving returned
 * rc: -1 when it wrote its answer, else the status of the fault to send (0:
 * the fault's own, 500). */
static int front__status(struct soap *soap, int rc)
{
    if (rc == SOAP_OK)
        return -1;
    int err = soap->error;
    if (err == SOAP_FAULT || (err >= 400 && err < 600)) {
        /* A handler set its fault (auth, unavailable). */
        soap->error = SOAP_FAULT;
        return err != SOAP_FAULT ? err : 0;
    }
    return err != SOAP_STOP ? server__read_error(soap) : -1;
}

/* After a POST was served: its fault (status >= 0), or its answer turned
 * into its version's trees and checked; counted for /metrics. */
static void front__answered(soap_worker_t *w, int status)
{
    struct soap *soap = w->soap;
    if (status >= 0) {
        http_discard(w->x); /* nothing of a response cut short goes before the fault */
        soap->http_extra_header = w->extra_header;
        server__send_fault(soap, status);
        http_close_after(w->x);
    } else {
        bool answered = !w->older || front__older_response(w, w->version);
        /* (soap->status holds the response's status by now, not the
         * request's method.) */
        if (answered && w->validator != NULL)
            server__validate_response(w, w->version);
    }
    metrics_soap(w->operation ? w->operation : "none", status >= 0 ? "FAULT" : w->outcome ? w->outcome : "FAULT");
}

/* Copies src after the at bytes of dst (cap bytes in all), cut to fit and
 * terminated; returns the new length. The request's fields are copied
 * for every request: no formatter is needed for them. */
static size_t front__copy(char *dst, size_t cap, size_t at, const char *src)
{
    size_t n = strlen(src);
    if (at >= cap)
        return at;
    if (n > cap - 1 - at)
        n = cap - 1 - at;
    memcpy(dst + at, src, n);
    dst[at + n] = '\0';
    return at + n;
}

/* Lets go of gSOAP's memory of the request. */
static void front__release(soap_worker_t *w)
{
    struct soap *soap = w->soap;
    if (soap->keep_alive == 0 || soap->error == SOAP_EOF)
        http_close_after(w->x);
    soap_destroy(soap);
    soap_end(soap);
    soap->socket = SOAP_INVALID_SOCKET;
}

/* Lets go of the rest of the request's memory. */
static void front__clear(soap_worker_t *w)
{
    free(w->sent);
    w->sent = NULL;
    w->rewritten = 0;
    if (w->req_cap > 16 * FRONT_BUF_MIN) {
        free(w->req);
        w->req = NULL;
        w->req_cap = 0;
    }
    w->x = NULL;
}

/* A request state (soap_worker_t) with its gSOAP context: a spare one, or
 * a new one while fewer than max_states exist; NULL otherwise. */
static soap_worker_t *front__state_new(soap_front_t *f);

static soap_worker_t *front__take(soap_front_t *f)
{
    pthread_mutex_lock(&f->spare_lock);
    soap_worker_t *w = f->spare;
    if (w != NULL) {
        f->spare = w->next_spare;
    } else if (f->nstates < f->max_states) {
        f->nstates++;
        pthread_mutex_unlock(&f->spare_lock);
        if ((w = front__state_new(f)) == NULL) {
            pthread_mutex_lock(&f->spare_lock);
            f->nstates--;
        } else {
            return w;
        }
    }
    pthread_mutex_unlock(&f->spare_lock);
    return w;
}

static void front__state_free(soap_worker_t *w)
{
    soap_free(w->soap);
    free(w->req);
    free(w);
}

static void front__give(soap_front_t *f, soap_worker_t *w)
{
    pthread_mutex_lock(&f->spare_lock);
    w->next_spare = f->spare;
    f->spare = w;
    pthread_mutex_unlock(&f->spare_lock);
}

/* The SOAP front of one worker thread: the state of the request it serves
 * (another one once a request's answer waits for its commit group). */
typedef struct front_slot {
    soap_front_t *f;
    soap_worker_t *w;
} front_slot_t;

/* Queues a request that waits for its commit group, once its worker has
 * let go of it. */
static void front__start(void *arg)
{
    soap_worker_t *w = arg;
    lc_change_batch_submit(w->pending);
}

/* Defers the answer of w's request until its commit group has run: the
 * request keeps its state, and the worker takes another. False when no
 * state can be spared (the request then runs at once, alone). */
static bool front__defer(front_slot_t *slot, soap_worker_t *w, http_exchange_t *x)
{
    soap_worker_t *next = front__take(slot->f);
    if (next == NULL)
        return false;
    http_deferred_t *d = http_defer(x, front__start, w);
    if (d == NULL) {
        front__give(slot->f, next);
        return false;
    }
    w->deferred = d;
    w->x = http_deferred_exchange(d);
    slot->w = next;
    return true;
}

void soap_group_done(void *arg)
{
    struct soap *soap = arg;
    soap_worker_t *w = soap_worker(soap);
    char rid[HTTP_REQUEST_ID_MAX]; /* this thread's own request's */

    snprintf(rid, sizeof rid, "%s", log_request_id());
    log_set_request_id(w->request_id);
    w->pending = NULL;
    front__answered(w, front__status(soap, w->finish(soap)));
    front__release(w);
    front__clear(w);
    http_deferred_t *d = w->deferred;
    w->deferred = NULL;
    front__give(w->front, w);
    http_resume(d);
    log_set_request_id(rid);
}

/* Serves x with the request state w of the worker's slot. (gcc 12's
 * analyzer loses the buffers this stores into *w, a state reached through
 * the slot, and reports them leaked; they are freed with the state,
 * front__state_free. scan-build sees no leak.) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
static void front__serve_with(front_slot_t *slot, soap_worker_t *w, http_exchange_t *x)
{
    struct soap *soap = w->soap;
    const http_request_t *r = http_request(x);
    bool is_get = strcmp(r->method, "GET") == 0;
    int status = -1;

    w->x = x;
    front__copy(w->request_id_buf, sizeof w->request_id_buf, 0, r->request_id);
    front__copy(w->host_buf, sizeof w->host_buf, 0, r->host);
    /* No Host (HTTP/1.0): the address the client connected to, as the
     * REST adapter's poll URLs take it, so the WSDL's keeps its port. */
    if (w->host_buf[0] == '\0' && !http_local_authority(x, w->host_buf, sizeof w->host_buf))
        w->host_buf[0] = '\0';
    w->request_id = w->request_id_buf;
    w->host = w->host_buf;
    w->operation = NULL;
    w->outcome = NULL;
    w->pending = NULL;
    w->finish = NULL;
    w->op_state = NULL;
    w->deferred = NULL;
    w->retry = false;
    memset(&w->user, 0, sizeof w->user);
    http_set_route(x, "/flexnet/services");

    if (strlen(r->target) > FRONT_MAX_TARGET) {
        front__refuse(w, 414, "request target longer than 1000 bytes");
        return;
    }
    if (!is_get && strcmp(r->method, "POST") != 0) {
        front__refuse(w, 405, "only GET (the WSDL) and POST (SOAP requests) are supported");
        return;
    }
    if (!is_get && http_content_type_is(r, "multipart/related")) {
        front__refuse(w, 415, "multipart (MIME, MTOM) requests are not supported; send text/xml");
        return;
    }
    if (!is_get && !front__xml_body(r)) {
        front__refuse(w, 415, "the body must be text/xml (or application/soap+xml)");
        return;
    }
    if (soap_endpoint_version(r->path) != 0) {
        http_set_route(x, "/flexnet/services/{version}/EntitlementOrderService");
    } else if (!is_get) {
        /* The path is judged before the body: whatever was posted, nothing
         * here would read it. */
        front__refuse(w, 404, "no service at this path; use /flexnet/services/v4/EntitlementOrderService");
        return;
    }
    if (!is_get && front__throttled(w, r))
        return;
    if (!is_get && front__still_waiting(w, x))
        return;

    /* The normalized request: the body goes after room for the header, is
     * checked (and maybe rewritten shorter) there, and the header is then
     * written in front of it. */
    size_t room = soap_request_header_max(r), blen = r->body_len, bom;
    int utf16 = is_get ? 0 : front__utf16_order(r->body, blen, &bom);
    char label[QUOTE_SIZE(32)];
    int enc = is_get || utf16 ? FRONT_UTF8 : front__encoding(r, label, sizeof label);
    if (enc == FRONT_OTHER) {
        char msg[192];
        quote_format(msg, sizeof msg, "malformed request: the body's encoding '%s' is not supported; send UTF-8, "
                     "UTF-16 or ISO-8859-1", label);
        log_info("request refused: %s", msg);
        front__refuse(w, 500, msg);
        return;
    }
    size_t need = utf16 ? blen / 2 * 3 : enc == FRONT_LATIN1 ? 2 * blen + 5 : blen;
    if (!front__reserve(&w->req, &w->req_cap, room + need + 1)) {
        log_error("out of memory for a request of %zu bytes", r->body_len);
        front__refuse(w, 413, "request too large for the memory available");
        return;
    }
    if (enc == FRONT_LATIN1)
        blen = front__from_latin1(r->body, r->body_len, w->req + room, need);
    else if (utf16 == 0)
        memcpy(w->req + room, r->body, blen);
    else if (!front__from_utf16(w, r->body, r->body_len, utf16, w->req + room, &blen))
        goto out;
    size_t op_offset = 0, op_len = 0;
    w->version = soap_endpoint_version(r->path);
    if (!is_get && !front__guard(w, w->req + room, &blen, &op_offset, &op_len, &w->version))
        goto out;
    w->older = !is_get && w->version >= 1 && w->version <= 3 &&
               front__older_differs(w, w->req + room + op_offset, op_len);
    if (w->older && !front__older_request(w, w->version, room, &blen))
        goto out;
    size_t hl = soap_request_header(r, blen, w->req, room);
    if (hl == 0) { /* room is computed to fit: a bug if it does not */
        log_error("normalized header of %zu bytes does not fit", r->headers_len);
        front__refuse(w, 500, "internal error: the request header could not be prepared");
        goto out;
    }
    memmove(w->req + hl, w->req + room, blen);
    w->req_len = hl + blen;
    w->req_pos = 0;
    w->body = w->req + hl;
    w->body_len = blen;

    char date[HTTP_DATE_LEN + 1];
    http_date(date);
    size_t eh = front__copy(w->extra_header, sizeof w->extra_header, 0, "Date: ");
    eh = front__copy(w->extra_header, sizeof w->extra_header, eh, date);
    eh = front__copy(w->extra_header, sizeof w->extra_header, eh, "\r\nX-Request-Id: ");
    (void)front__copy(w->extra_header, sizeof w->extra_header, eh, r->request_id);
    /* gSOAP reads and writes through us, but polls the socket before it
     * writes a fault. */
    soap->socket = http_socket(x);
    soap->keep_alive = -1;
    /* What soap_begin would reset that soap_begin_recv does not: calling
     * it walks gSOAP's id table (1,999 buckets) once more per request, on
     * top of soap_begin_recv's two walks and soap_end's one. */
    soap->error = SOAP_OK;
    soap->encoding = 0;
    soap->encodingStyle = "";
    soap->http_extra_header = w->extra_header;
    if (soap_begin_recv(soap) != SOAP_OK) {
        if (soap->error == SOAP_STOP) /* GET served */
            goto done;
        if (soap->status == SOAP_GET && soap->error >= 400 && soap->error < 600) {
            /* soap_http_get found nothing at this path. */
            status = soap->error;
            soap->error = SOAP_OK;
            soap_client_fault(soap, "no resource at this path; the WSDL is at /flexnet/services/v4/EntitlementOrderService?wsdl");
        } else {
            status = server__read_error(soap);
        }
    } else if (soap_endpoint_version(soap->path) == 0) {
        soap->error = SOAP_OK;
        soap_client_fault(soap, "no service at this path; use /flexnet/services/v4/EntitlementOrderService");
        status = 404;
    } else if (soap_envelope_begin_in(soap) || soap_recv_header(soap) || soap_body_begin_in(soap)) {
        status = server__read_error(soap);
    } else {
        if (soap_peek_element(soap) == SOAP_OK || soap->error == SOAP_TAG_MISMATCH)
            w->operation = front__operation(soap->tag);
        soap->error = SOAP_OK;
        int rc = soap_serve_request(soap);
        if (w->retry) /* put back: served again later, from the start */
            goto done;
        if (w->pending != NULL) {
            /* An upgrade or upsell waits for its commit group: answered
             * from soap_group_done, in the thread that runs the group. */
            if (front__defer(slot, w, x))
                return;
            lc_change_batch_now(w->pending);
            w->pending = NULL;
            rc = w->finish(soap);
        }
        status = front__status(soap, rc);
    }
    if (is_get) {
        if (status >= 0) {
            http_discard(x);
            soap->http_extra_header = w->extra_header;
            server__send_fault(soap, status);
            http_close_after(x);
        }
    } else {
        front__answered(w, status);
    }
done:
    front__release(w);
out:
    front__clear(w);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* Serves one whole request of the exchange x. */
static void front__serve(void *state, http_exchange_t *x)
{
    front_slot_t *slot = state;
    front__serve_with(slot, slot->w, x);
}

static soap_worker_t *front__state_new(soap_front_t *f)
{
    soap_worker_t *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    struct soap *soap = soap_new1(SOAP_IO_KEEPALIVE | SOAP_XML_STRICT | SOAP_C_UTFSTRING);
    if (soap == NULL) {
        free(w);
        return NULL;
    }
    soap_set_omode(soap, SOAP_IO_KEEPALIVE | SOAP_C_UTFSTRING);
    /* Document/literal has no id and href multi-references to resolve:
     * without SOAP_XML_TREE, gSOAP walked its whole table of ids (1,999
     * buckets) each time an array it was parsing moved to its final block,
     * 8 to 10 % of the daemon's CPU for an upgrade of 100 units. */
    soap_set_imode(soap, SOAP_XML_TREE);
    soap_set_namespaces(soap, namespaces);
    soap->recv_timeout = f->cfg->recv_timeout_s;
    soap->send_timeout = f->cfg->send_timeout_s;
    soap->maxlevel = (unsigned)f->cfg->max_depth;
    soap->maxoccurs = (size_t)f->cfg->max_occurs;
    soap->recv_maxlength = (ULONG64)f->cfg->max_body_bytes + 2 * 65536;
    soap->max_keep_alive = 0; /* no per-connection request limit */
    w->front = f;
    w->cfg = f->cfg;
    w->pool = f->pool;
    w->auth = f->auth;
    w->group = f->group;
    w->validator = f->validator;
    w->versions = f->versions;
    w->soap = soap;
    soap->fsend = server__fsend;
    soap->frecv = server__frecv;
    soap->fget = soap_http_get;
    soap->fclosesocket = server__fclosesocket;
    soap->fpoll = server__fpoll;
    soap->fshutdownsocket = server__fshutdownsocket;
    soap->user = w;
    return w;
}

static void *front__worker_new(void *ctx)
{
    front_slot_t *slot = calloc(1, sizeof *slot);
    if (slot == NULL)
        return NULL;
    slot->f = ctx;
    if ((slot->w = front__take(slot->f)) == NULL) {
        free(slot);
        return NULL;
    }
    return slot;
}

static void front__worker_free(void *state)
{
    front_slot_t *slot = state;
    front__give(slot->f, slot->w);
    free(slot);
}

int soap_front_new(const ent_config_t *cfg, db_pool_t *pool, auth_t *auth, soap_front_t **out)
{
    soap_front_t *f = calloc(1, sizeof *f);
    int rc = ENT_OK;
    if (f == NULL)
        return ENT_ENOMEM;
    f->cfg = cfg;
    f->pool = pool;
    f->auth = auth;
    pthread_mutex_init(&f->spare_lock, NULL);
    pthread_mutex_init(&f->diag_lock, NULL);
    /* Each worker's, and as many for requests waiting for their commit
     * groups (a worker hands one over per request it defers). */
    f->max_states = 4 * cfg->workers;
    if (cfg->commit_groups > 0 &&
        (rc = lc_group_new(cfg->commit_groups, (size_t)cfg->max_units, &f->group)) != ENT_OK)
        goto fail;
    char err[160];
    if ((rc = versions_new(ent_xsd_marked, ent_xsd_marked_len, &f->versions, err, sizeof err)) != ENT_OK) {
        log_error("cannot read the versions of the schema: %s", rc == ENT_EINVAL ? err : ent_strerror(rc));
        goto fail;
    }
    if (cfg->validate_xml && (rc = validator_new(&f->validator)) != ENT_OK) {
        log_error("cannot load the schema for ENTITLEMENTD_VALIDATE_XML: %s", ent_strerror(rc));
        goto fail;
    }
    *out = f;
    return ENT_OK;
fail:
    soap_front_free(f);
    return rc;
}

void soap_front_free(soap_front_t *f)
{
    if (f == NULL)
        return;
    while (f->spare != NULL) {
        soap_worker_t *w = f->spare;
        f->spare = w->next_spare;
        front__state_free(w);
    }
    pthread_mutex_destroy(&f->spare_lock);
    pthread_mutex_destroy(&f->diag_lock);
    lc_group_free(f->group);
    validator_free(f->validator);
    validator_free(f->diag);
    versions_free(f->versions);
    free(f);
}

http_front_t soap_front_http(soap_front_t *f)
{
    http_front_t h = {
        .prefix = "/flexnet/services",
        .max_body = (size_t)f->cfg->max_body_bytes,
        .ctx = f,
        .worker_new = front__worker_new,
        .worker_free = front__worker_free,
        .serve = front__serve,
        .error_body = front__refusal_body,
    };
    return h;
}
