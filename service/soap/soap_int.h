/*
 * soap_int.h - what the files of service/soap share: the per-worker state
 * hung on each gSOAP context (soap->user).
 */
#ifndef ENT_SOAP_INT_H
#define ENT_SOAP_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/config.h"
#include "../db/pool.h"
#include "../lifecycle/group.h"
#include "frame.h"
#include "guard.h"
#include "soapH.h"

/* Longest Host header we echo into the WSDL address. */
#define SOAP_MAX_HOST 255

typedef struct soap_worker {
    const ent_config_t *cfg;
    db_pool_t *pool;
    struct auth_cache *auth;
    lc_group_t *group;         /* commit groups of upgrade and upsell; may be NULL */
    char request_id[17];
    char host[SOAP_MAX_HOST + 1]; /* Host header of the request, validated */
    bool close_wanted;         /* gSOAP asked to close the connection */
    /* Bytes read from the connection being served: the request being
     * framed and whatever follows it (frame.h). Grows as needed. */
    char *in;
    size_t in_len, in_cap, in_pos; /* in_pos: where the requests not yet served start */
    /* The request in the form gSOAP reads it (frame_normalize), and where
     * gSOAP is in it; body points into it. */
    char *req;
    size_t req_len, req_cap, req_pos;
    const char *body;
    size_t body_len;
    int (*fparsehdr)(struct soap *, const char *, const char *); /* gSOAP's own */
    char user[512];            /* authenticated user name, for the audit */
    /* Responses written by gSOAP (its fsend), sent by the server without
     * blocking; out_mark is where the current request's response starts. */
    char *out;
    size_t out_len, out_cap, out_mark;
    struct validator *validator; /* ENTITLEMENTD_VALIDATE_XML; NULL when off */
} soap_worker_t;

static inline soap_worker_t *soap_worker(struct soap *soap)
{
    return (soap_worker_t *)soap->user;
}

/* Sets a Client fault with the message and returns SOAP_FAULT. */
int soap_client_fault(struct soap *soap, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets a Server fault and the HTTP status 503, and returns it. */
int soap_unavailable_fault(struct soap *soap, const char *msg);

/* Authenticates the request (HTTP Basic or the UserId/UserPassword
 * headers). Returns SOAP_OK and fills soap_worker(soap)->user, or sets an
 * HTTP 401 Client fault (503 when the user store is unreachable) and
 * returns the status to hand back to gSOAP. */
int auth_require(struct soap *soap);

/* Called with the value of the Authorization header after gSOAP decoded
 * it into soap->userid and soap->passwd, which are C strings: HTTP Basic
 * credentials with a NUL byte in them ("admin:pw\0x" would be admin with
 * "pw") are dropped, so the request has none and fails authentication. */
void auth_http_authorization(struct soap *soap, const char *value);

struct auth_cache *auth_cache_new(void);
void auth_cache_free(struct auth_cache *c);

/* With ENTITLEMENTD_VALIDATE_XML: checks the request body against the
 * schema; returns SOAP_OK or sets a Client fault and returns SOAP_FAULT. */
int soap_validate_request(struct soap *soap);

/* Serves GET: ?wsdl on an endpoint path, the service list, else 404. */
int soap_http_get(struct soap *soap);

/* The version (1..4) of an endpoint path, or 0 when path is none. */
int soap_endpoint_version(const char *path);

#endif
