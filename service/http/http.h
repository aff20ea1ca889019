/*
 * http.h - the one HTTP/1.1 transport of the daemon, for every front.
 *
 * One listener, one port, one set of limits, timeouts and buffer budgets:
 * connections wait in epoll, a fixed pool of worker threads frames whole
 * requests (frame.h) and hands each to the front whose path prefix it
 * matches. A front is registered from the top (main.c) with its prefix,
 * its per-worker state and its handler; nothing here knows SOAP or JSON.
 *
 * A handler gets the request (http_request_t) and writes one response into
 * the exchange, either whole (http_respond) or as raw bytes of a complete
 * HTTP response (http_write, for gSOAP, which writes its own), before it
 * returns or later, from another thread (http_defer). The server sends it
 * without blocking, keeps the connection alive or closes it, and counts it
 * for /metrics under the route the handler named.
 */
#ifndef ENT_HTTP_H
#define ENT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/config.h"
#include "../core/err.h"

/* Longest request id we generate or accept (X-Request-Id), with its NUL. */
#define HTTP_REQUEST_ID_MAX 129

typedef struct http_request {
    const char *method;      /* "GET", "POST", ... (NUL-terminated) */
    const char *target;      /* path and query in origin form, as sent (NUL-terminated) */
    const char *path;        /* the target before any '?' (NUL-terminated, not decoded) */
    const char *query;       /* after the '?' ("" when none) */
    int minor;               /* HTTP/1.minor */
    bool close;              /* the client asked to close after this request */
    const char *host;        /* Host header if it is host[:port] of safe characters, else "" */
    const char *request_id;  /* the client's X-Request-Id if it sent a usable one, else ours */
    const unsigned char *peer; /* the client's address: 16 bytes, IPv4 as IPv4-mapped IPv6 */
    const char *headers;     /* the header lines as received (frame_header_next walks them) */
    size_t headers_len;
    char *body;              /* de-chunked; writable by the handler (the SOAP guard rewrites it) */
    size_t body_len;
} http_request_t;

typedef struct http_exchange http_exchange_t;

/* The request of an exchange; valid until the handler returns. */
const http_request_t *http_request(const http_exchange_t *x);

/* Finds header name (case-insensitive); sets *value and *len (without
 * surrounding blanks). False when the request has none. frame.c refuses
 * a second Host, Authorization, Content-Type, SOAPAction, X-Request-Id or
 * Idempotency-Key, so for those the first is the only one. */
bool http_header(const http_request_t *r, const char *name, const char **value, size_t *len);

/* Walks the request's header lines: fills the name and value (without
 * surrounding blanks) of the line at *pos (start with 0) and advances it;
 * false after the last. */
bool http_header_next(const http_request_t *r, size_t *pos, const char **name, size_t *nlen, const char **value,
                      size_t *vlen);

/* Whether the request's Content-Type is type (case-insensitive, parameters
 * after ';' ignored). */
bool http_content_type_is(const http_request_t *r, const char *type);

/* The charset parameter of the request's Content-Type: *v, *vn (its
 * quotes taken off). False when it names none. */
bool http_content_type_charset(const http_request_t *r, const char **v, size_t *vn);

/* Appends raw bytes of the response (status line and headers included) to
 * the exchange's output. ENT_ENOMEM when the buffer cannot grow. */
int http_write(http_exchange_t *x, const void *data, size_t n) ENT_MUSTCHECK;

/* Writes a whole response: the status line, Content-Type (when body is not
 * NULL), Content-Length, X-Request-Id, Connection, the extra header lines
 * (each ending in CR LF; may be NULL) and the body. */
int http_respond(http_exchange_t *x, int status, const char *content_type, const char *extra_headers,
                 const void *body, size_t n) ENT_MUSTCHECK;

/* A response body made piece by piece after the handler returns: a
 * document too large to hold at once (an update package's content). The
 * transport asks for the next piece only once the client has taken the
 * previous one, in whichever worker the connection comes to, and between
 * pieces the connection waits in epoll like any other: a slow reader holds
 * one piece of memory and no thread. */
typedef struct http_piece http_piece_t;

/* Appends n bytes to the piece being made. ENT_ENOMEM when it cannot grow. */
int http_piece_write(http_piece_t *p, const void *data, size_t n) ENT_MUSTCHECK;

typedef struct http_source {
    /* Writes the next piece (a few hundred KiB is right) into p, and sets
     * *end with the last. An error cuts the response short: the connection
     * closes without the chunked body's last chunk, which tells the client
     * that the body is incomplete. */
    int (*next)(void *arg, http_piece_t *p, bool *end);
    /* Frees arg: after the last piece, after an error, or when the
     * connection goes first. Called with the server's lock held: cheap. */
    void (*free)(void *arg);
    void *arg;
} http_source_t;

/* Writes the status line and headers of a response whose body comes from
 * src: "Transfer-Encoding: chunked" for HTTP/1.1, for HTTP/1.0 a body that
 * ends when the connection closes. Takes src, even on error (HEAD frees it
 * without a piece). */
int http_respond_source(http_exchange_t *x, int status, const char *content_type, const char *extra_headers,
                        const http_source_t *src) ENT_MUSTCHECK;

/* Forgets what the handler wrote so far (a response cut short by an error
 * is replaced by an error response). */
void http_discard(http_exchange_t *x);

/* Bytes written so far, and a pointer to them (for response validation). */
size_t http_written(const http_exchange_t *x, const char **data);

/* A response finished later, by any thread: a handler whose answer waits
 * for work another thread does (a statement group's COMMIT) defers it and
 * returns, and its worker goes on to other connections; the connection
 * waits, holding no thread, until the response is written into the
 * deferred exchange and resumed.
 *
 * http_defer: before anything is written into x. start(arg) is called by
 * the worker once the handler has returned and the worker has let go of
 * the connection: it hands the work on (or does it, in that thread). Work
 * begun from the handler itself could hold the worker, and with it the
 * response, until the work and whatever that thread takes on after it
 * are done. The deferred exchange keeps the request's method, target,
 * path, query, host, request id and version, not its headers or body
 * (they stay with the worker): the handler copies what its answer needs.
 * NULL when out of memory (the handler then answers at once). The handler
 * must write nothing more into x itself.
 *
 * http_deferred_exchange: where the response is written (http_respond,
 * http_write, http_close_after, http_set_route, ...), until http_resume.
 *
 * http_resume: the response is written; it is sent (by this thread, or by
 * the worker if it has not let go yet) and the connection goes on to its
 * next request. Frees d. */
typedef struct http_deferred http_deferred_t;
http_deferred_t *http_defer(http_exchange_t *x, void (*start)(void *arg), void *arg);
http_exchange_t *http_deferred_exchange(http_deferred_t *d);
void http_resume(http_deferred_t *d);

/* Puts the request back unanswered, to be served again from the start
 * later: when http_server_retry_parked says that what it waits for may be
 * there (a credential check's turn), or within a second at most. Meanwhile
 * the connection holds its request and no thread. Whatever the handler
 * wrote for it is dropped. False when it cannot wait (it was first put
 * back max_wait_s or more ago, the server is stopping, or the response is
 * deferred or streamed): the handler answers now. */
bool http_retry_later(http_exchange_t *x, double max_wait_s);

/* Seconds since the request was first put back (0: never). */
double http_parked_seconds(const http_exchange_t *x);

/* Asks to close the connection after this response (what the client
 * still sends is read and dropped first, so that it reads the answer). */
void http_close_after(http_exchange_t *x);

/* Asks the transport to give the heap's free memory back to the system
 * once the front is done with this exchange: for a request that held much
 * memory of the front's own (a query page read and then refused), which
 * the transport's buffers do not show. */
void http_trim_after(http_exchange_t *x);

/* The connection's descriptor, for a library that must see a live socket
 * (gSOAP polls it before it writes a fault). A front never reads, writes
 * or closes it: the transport does. */
int http_socket(const http_exchange_t *x);

/* The address the exchange's connection came in on, as the authority of
 * a URL ("127.0.0.1:8080", "[::1]:8080") into buf; false when unknown. */
bool http_local_authority(const http_exchange_t *x, char *buf, size_t cap);

/* Names the route for /metrics (a pattern such as "/uai/2.0/updates/
 * statusLog/{id}", never the raw path); a static string. */
void http_set_route(http_exchange_t *x, const char *route);

/* The reason phrase of an HTTP status ("Not Found"). */
const char *http_reason(int status);

/* Length of an HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT"), without NUL. */
#define HTTP_DATE_LEN 29

/* Writes the current time as the value of a Date header (IMF-fixdate, RFC
 * 9110, 5.6.7) and a NUL into out. Formatted once a second per thread. */
void http_date(char out[HTTP_DATE_LEN + 1]);

/* A front: the requests whose path starts with prefix (at a '/' boundary)
 * go to serve, in the worker thread that framed them. */
typedef struct http_front {
    const char *prefix;       /* "/flexnet/services"; "/" takes what no other front takes */
    size_t max_body;          /* largest body this front accepts (413 above) */
    void *ctx;                /* borrowed; passed to worker_new */
    /* Per-worker state (a gSOAP context, say), made once per worker thread;
     * NULL is an error. */
    void *(*worker_new)(void *ctx);
    void (*worker_free)(void *state);
    /* Serves one whole request; writes exactly one response. */
    void (*serve)(void *state, http_exchange_t *x);
    /* The body of a refusal the server makes on the front's behalf (the
     * request was malformed, too large or too slow, or the server too busy):
     * writes at most cap bytes into buf, sets *content_type (static) and
     * returns the length. target (target_len bytes, not NUL-terminated) is
     * the request's target as sent, when it was read (else NULL). Must be
     * thread-safe and keep no state. */
    size_t (*error_body)(int status, const char *message, const char *target, size_t target_len, char *buf, size_t cap,
                         const char **content_type);
} http_front_t;

typedef struct http_server http_server_t;

/* Binds the listener (cfg's bind address and port) and starts the worker
 * threads serving the fronts (nfronts of them, copied; at most
 * HTTP_MAX_FRONTS). cfg must outlive the server. */
#define HTTP_MAX_FRONTS 4
int http_server_start(const ent_config_t *cfg, const http_front_t *fronts, int nfronts,
                      http_server_t **out) ENT_MUSTCHECK;

/* The port actually bound (useful with port 0 in tests). */
int http_server_port(const http_server_t *s);

/* Connections open now, and the most allowed (for /metrics). */
void http_server_connections(http_server_t *s, int *open, int *max);

/* Worker threads by what they do now: taking requests (in epoll_wait or
 * serving), waiting (for the database or a credential check), standing
 * by (ENTITLEMENTD_ACTIVE_WORKERS); and how many may take requests at
 * once. Read without a lock: the three may be off by one while a worker
 * changes state, never below 0. */
void http_server_workers(http_server_t *s, int *taking, int *waiting, int *standing, int *active_max);

/* Serves again (in arrival order) up to n of the requests put back with
 * http_retry_later. Any thread. */
void http_server_retry_parked(http_server_t *s, int n);

/* Requests put back and waiting now (for /metrics). */
int http_server_parked(http_server_t *s);

/* The daemon's phase, set from the top. Starting (the database is waited
 * for and migrated): the server answers every request but /healthz,
 * /readyz and /metrics itself, with a 503 and Retry-After. Stopping
 * (SIGTERM): everything is still served, and /readyz says 503, so that a
 * load balancer stops sending before the listener closes. */
typedef enum http_phase { HTTP_STARTING, HTTP_READY, HTTP_STOPPING } http_phase_t;
void http_server_set_phase(http_server_t *s, http_phase_t phase);

/* The phase of the server serving x. */
http_phase_t http_phase(const http_exchange_t *x);

/* Stops accepting, lets in-flight requests finish, closes every connection
 * and joins the threads; then frees the server. */
void http_server_stop(http_server_t *s);

#endif
