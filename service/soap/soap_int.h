/*
 * soap_int.h - what the files of service/soap share: the per-worker state
 * hung on each gSOAP context (soap->user).
 */
#ifndef ENT_SOAP_INT_H
#define ENT_SOAP_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "../auth/auth.h"
#include "../core/config.h"
#include "../db/pool.h"
#include "../http/http.h"
#include "../lifecycle/group.h"
#include "../lifecycle/lifecycle.h"
#include "guard.h"
#include "soapH.h"

/* Longest Host header we echo into the WSDL address. */
#define SOAP_MAX_HOST 255

/* What every worker's SOAP front shares: borrowed from main. */
typedef struct soap_front {
    const ent_config_t *cfg;
    db_pool_t *pool;
    auth_t *auth;
    lc_group_t *group;           /* commit groups of upgrade and upsell; may be NULL */
    struct validator *validator; /* ENTITLEMENTD_VALIDATE_XML; NULL when off */
    /* The schemas loaded at the first request that lacks a required
     * element, to say which (when validator is NULL); under diag_lock. */
    pthread_mutex_t diag_lock;
    struct validator *diag;
    struct versions *versions;   /* owned: how v1..v3 differ (versions.h) */
    /* Request states (each with its gSOAP context) not in use, and how many
     * exist: a request waiting for its commit group keeps its own, and its
     * worker takes another (at most max_states in all). */
    pthread_mutex_t spare_lock;
    struct soap_worker *spare;
    int nstates, max_states;
} soap_front_t;

/* The SOAP front's state in one worker thread, hung on its gSOAP context
 * (soap->user). */
typedef struct soap_worker {
    soap_front_t *front;
    struct soap_worker *next_spare;
    const ent_config_t *cfg;
    db_pool_t *pool;
    auth_t *auth;
    lc_group_t *group;
    struct validator *validator;
    const struct versions *versions;
    struct soap *soap;           /* owned */
    http_exchange_t *x;          /* the request being served */
    const char *request_id;      /* its id (request_id_buf) */
    const char *host;            /* its Host header, validated ("" when none; host_buf) */
    char request_id_buf[HTTP_REQUEST_ID_MAX];
    char host_buf[SOAP_MAX_HOST + 1];
    char extra_header[256];       /* "X-Request-Id: ..." for gSOAP's responses (and Retry-After with a 503) */
    /* The request in the form gSOAP reads it (soap_request_header and the
     * body), and where gSOAP is in it; body points into it. */
    char *req;
    size_t req_len, req_cap, req_pos;
    const char *body;
    size_t body_len;
    /* A v1..v3 request as its client sent it, before it was rewritten
     * into v4's trees (versions.h), for the validator and to name an
     * element it lacks; owned, else NULL. */
    char *sent;
    size_t sent_len;
    int rewritten;               /* that version (1..3) when rewritten, else 0 */
    const char *operation;       /* the operation being served, for /metrics */
    const char *outcome;         /* its statusInfo status, once set */
    auth_user_t user;            /* authenticated user, for the audit */
    /* An upgrade or upsell waiting for its commit group (set by ops):
     * queued once the worker has let go, answered by finish (which writes
     * the response, or returns gSOAP's error) when its group has run. */
    lc_pending_t *pending;
    int (*finish)(struct soap *soap);
    void *op_state;
    http_deferred_t *deferred;
    /* The request's version (1..4: its operation element's namespace's,
     * else the path's), and whether its trees differ from v4's. */
    int version;
    bool older;
    bool retry;             /* put back to wait for a credential check's turn (http_retry_later) */
    /* Whether the request's text holds a '<' (guard.h, text_lt), and
     * whether a value gSOAP read held an element instead (front.c,
     * __wrap_soap_instring). */
    bool text_lt;
    bool markup_in_text;
} soap_worker_t;

static inline soap_worker_t *soap_worker(struct soap *soap)
{
    return (soap_worker_t *)soap->user;
}

/* The lifecycle's done of a request that waited for its commit group
 * (arg: its gSOAP context): writes and sends its answer (soap/front.c). */
void soap_group_done(void *arg);

/* Sets a Client fault with the message and returns SOAP_FAULT. */
int soap_client_fault(struct soap *soap, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets a Server fault and the HTTP status 503, and returns it. */
int soap_unavailable_fault(struct soap *soap, const char *msg);

/* Sets the Client fault of a login refused after too many failures (HTTP
 * 429 with Retry-After: wait_s) and returns the status. */
int soap_throttled_fault(struct soap *soap, int wait_s);

/* Authenticates the request (HTTP Basic or the UserId/UserPassword
 * headers). Returns SOAP_OK and fills soap_worker(soap)->user, or sets an
 * HTTP 401 Client fault (503 when the user store is unreachable) and
 * returns the status to hand back to gSOAP. */
int auth_require(struct soap *soap);

/* With ENTITLEMENTD_VALIDATE_XML: checks the request body against the
 * schema; returns SOAP_OK or sets a Client fault and returns SOAP_FAULT. */
int soap_validate_request(struct soap *soap);

/* Serves GET: ?wsdl on an endpoint path, the service list, else 404. */
int soap_http_get(struct soap *soap);

/* The version (1..4) of an endpoint path, or 0 when path is none. */
int soap_endpoint_version(const char *path);

/* The request line and headers gSOAP is given for r (only Host,
 * SOAPAction and Content-Type of r's headers, our own Connection and
 * Content-Length for body_len bytes), written into out (cap bytes);
 * returns the length, or 0 when cap is too small. soap_request_header_max
 * bounds what it needs. */
size_t soap_request_header(const http_request_t *r, size_t body_len, char *out, size_t cap);
size_t soap_request_header_max(const http_request_t *r);

#endif
