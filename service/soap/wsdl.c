/*
 * GET requests: the WSDL of each endpoint version and the service list.
 * Served without credentials: deployments use ?wsdl as a liveness probe.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "soap_int.h"

/* The self-contained WSDL of each version (its own schema inlined; the
 * namespace v4's), compiled in (cmake/embed_file.cmake). */
extern const char ent_wsdl_v1[], ent_wsdl_v2[], ent_wsdl_v3[], ent_wsdl_v4[];
extern const size_t ent_wsdl_v1_len, ent_wsdl_v2_len, ent_wsdl_v3_len, ent_wsdl_v4_len;

#define HTTP_PATH_PREFIX "/flexnet/services/v"
#define HTTP_PATH_SUFFIX "/EntitlementOrderService"
/* The address and namespace written in wsdl/ and replaced when served. */
#define WSDL_ADDRESS "http://localhost:8080/flexnet/services/v4/EntitlementOrderService"
#define WSDL_NAMESPACE "urn:v4.webservices.operations.flexnet.com"

int soap_endpoint_version(const char *path)
{
    size_t pl = strlen(HTTP_PATH_PREFIX), sl = strlen(HTTP_PATH_SUFFIX);
    if (path == NULL || strncmp(path, HTTP_PATH_PREFIX, pl) != 0)
        return 0;
    char v = path[pl];
    if (v < '1' || v > '4' || strncmp(path + pl + 1, HTTP_PATH_SUFFIX, sl) != 0)
        return 0;
    char end = path[pl + 1 + sl];
    return end == '\0' || end == '?' ? v - '0' : 0;
}

/* Writes the WSDL of version v, with its address and namespace. */
static int http__send_wsdl(struct soap *soap, int v)
{
    soap_worker_t *w = soap_worker(soap);
    char address[SOAP_MAX_HOST + 128], ns[64];
    const char *host = w->host[0] ? w->host : "localhost";
    static const char *const texts[4] = {ent_wsdl_v1, ent_wsdl_v2, ent_wsdl_v3, ent_wsdl_v4};
    const size_t lens[4] = {ent_wsdl_v1_len, ent_wsdl_v2_len, ent_wsdl_v3_len, ent_wsdl_v4_len};
    const char *p = texts[v - 1], *end = texts[v - 1] + lens[v - 1];
    size_t al = strlen(WSDL_ADDRESS), nl = strlen(WSDL_NAMESPACE);

    snprintf(address, sizeof address, "http://%s" HTTP_PATH_PREFIX "%d" HTTP_PATH_SUFFIX, host, v);
    snprintf(ns, sizeof ns, "urn:v%d.webservices.operations.flexnet.com", v);
    soap->http_content = "text/xml; charset=utf-8";
    if (soap_response(soap, SOAP_FILE) != SOAP_OK)
        return soap->error;
    while (p < end) {
        const char *a = strstr(p, WSDL_ADDRESS), *n = strstr(p, WSDL_NAMESPACE);
        const char *next = a && (!n || a < n) ? a : n;
        if (next == NULL) {
            if (soap_send_raw(soap, p, (size_t)(end - p)))
                return soap->error;
            break;
        }
        if (soap_send_raw(soap, p, (size_t)(next - p)))
            return soap->error;
        if (next == a) {
            if (soap_send_raw(soap, address, strlen(address)))
                return soap->error;
            p = next + al;
        } else {
            if (soap_send_raw(soap, ns, strlen(ns)))
                return soap->error;
            p = next + nl;
        }
    }
    return soap_end_send(soap);
}

static int http__send_list(struct soap *soap)
{
    soap_worker_t *w = soap_worker(soap);
    const char *host = w->host[0] ? w->host : "localhost";
    char line[2 * SOAP_MAX_HOST + 512];

    soap->http_content = "text/html; charset=utf-8";
    if (soap_response(soap, SOAP_FILE) != SOAP_OK ||
        soap_send(soap, "<!DOCTYPE html>\n<html><head><title>entitlementd services</title></head><body>\n"
                        "<h1>Services</h1>\n<ul>\n"))
        return soap->error;
    for (int v = 4; v >= 1; v--) {
        snprintf(line, sizeof line,
                 "<li>EntitlementOrderService (v%d): <a href=\"http://%s" HTTP_PATH_PREFIX "%d" HTTP_PATH_SUFFIX
                 "?wsdl\">http://%s" HTTP_PATH_PREFIX "%d" HTTP_PATH_SUFFIX "?wsdl</a></li>\n",
                 v, host, v, host, v);
        if (soap_send(soap, line))
            return soap->error;
    }
    if (soap_send(soap, "</ul>\n</body></html>\n"))
        return soap->error;
    return soap_end_send(soap);
}

int soap_http_get(struct soap *soap)
{
    const char *path = soap->path;
    int v = soap_endpoint_version(path);
    const char *q = strchr(path, '?');

    if (v != 0 && q != NULL && strcasecmp(q + 1, "wsdl") == 0)
        return http__send_wsdl(soap, v);
    if (strcmp(path, "/flexnet/services") == 0 || strcmp(path, "/flexnet/services/") == 0)
        return http__send_list(soap);
    return 404;
}
