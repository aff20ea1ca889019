#include "server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../core/ids.h"
#include "../core/log.h"
#include "soap_int.h"
#include "validate.h"

/* The request line and headers together, and one line of them: what
 * honest clients send fits with room to spare (431 above). */
#define SERVER_MAX_HEADER 65536
#define SERVER_MAX_HEADER_LINE 8192
/* A worker's buffers start at this size and shrink back to it after a
 * large request, so that idle workers hold little memory. */
#define SERVER_BUF_MIN 16384
/* A connection closed after a refusal or "Connection: close" first has
 * what the client still sends read and dropped for at most this long (in
 * epoll, not in a worker), so that the client reads the answer rather than
 * a reset. */
#define SERVER_LINGER_S 2
/* Bytes a worker reads from one connection in one pass; a request larger
 * than that arrives over several passes (the connection waits in epoll in
 * between, and the socket holds what is not read yet). */
#define SERVER_READ_MAX (1024 * 1024)
/* Requests a worker serves from one connection's buffer before it hands
 * the connection back to epoll (to the end of the queue): a client that
 * pipelines thousands of requests does not hold a worker for long. */
#define SERVER_MAX_PIPELINE 32
/* Events a stopping worker takes at once while draining. */
#define SERVER_DRAIN_EVENTS 64

typedef enum conn_state {
    CONN_FREE,  /* no connection on this descriptor */
    CONN_IDLE,  /* open, waiting in epoll (see conn_wait_t) */
    CONN_BUSY   /* held by a worker */
} conn_state_t;

/* What a connection waiting in epoll waits for. No worker is held while it
 * waits, so a slow client costs a buffer, never a thread. */
typedef enum conn_wait {
    WAIT_READ,   /* the next request, or the rest of one (in) */
    WAIT_WRITE,  /* the client to take the rest of a response (out) */
    WAIT_LINGER  /* closing: what the client still sends is dropped until it closes */
} conn_wait_t;

typedef struct conn {
    conn_state_t state;
    conn_wait_t wait;
    time_t last_active;     /* accepted, or last request served */
    time_t since;           /* first byte of the request in `in`; WAIT_WRITE, WAIT_LINGER: since when */
    bool served;            /* a request was served: the keep-alive timeout applies, not the receive timeout */
    bool continued;         /* "100 Continue" sent for the request in `in` */
    bool close_after;       /* WAIT_WRITE: close once the response is written */
    bool resume;            /* WAIT_READ: whole requests are waiting in `in`: come back at once */
    /* Bytes read and not yet served, and bytes of a response not yet sent;
     * owned by the connection (NULL when empty), counted in s->buffered_in
     * and s->buffered_out. */
    char *in;
    size_t in_len, in_cap;
    char *out;
    size_t out_len, out_off, out_cap;
} conn_t;

struct soap_server {
    const ent_config_t *cfg;
    db_pool_t *pool;
    struct auth_cache *auth;
    lc_group_t *group;      /* NULL when ENTITLEMENTD_COMMIT_GROUPS=0 */
    validator_t *validator; /* NULL unless ENTITLEMENTD_VALIDATE_XML=1 */
    int listen_fd;
    int port;
    int epfd;
    int wake_fd;            /* eventfd, readable once stopping: wakes every worker */
    pthread_t *threads;
    soap_worker_t *workers;
    struct soap **contexts;
    int nworkers;

    pthread_mutex_t reap_lock; /* one worker sweeps idle connections at a time */
    pthread_mutex_t lock;   /* guards everything below */
    atomic_llong last_reap; /* second of the last sweep; read without the lock */
    atomic_bool stopping;   /* also read without the lock */
    atomic_bool accept_paused; /* out of descriptors: the listener waits for the next sweep */
    /* Bytes (buffer capacity) of requests still arriving and of responses
     * not yet taken, held by connections; each is capped on its own by
     * ENTITLEMENTD_MAX_BUFFERED_MB. */
    atomic_llong buffered_in, buffered_out;
    conn_t *conns;          /* indexed by descriptor */
    int nconns_max;         /* size of conns */
    int nopen;
};

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
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    server__fault_version(soap);
    return soap_sender_fault(soap, msg, NULL);
}

int soap_unavailable_fault(struct soap *soap, const char *msg)
{
    server__fault_version(soap);
    soap_receiver_fault(soap, msg, NULL);
    return 503;
}

/* gSOAP closes a connection it considers finished; closing is ours to do
 * (see server__work), so its close only records the wish. */
static int server__fclosesocket(struct soap *soap, SOAP_SOCKET fd)
{
    (void)fd;
    soap_worker(soap)->close_wanted = true;
    return SOAP_OK;
}

static int server__fshutdownsocket(struct soap *soap, SOAP_SOCKET fd, int how)
{
    (void)soap;
    (void)fd;
    (void)how;
    return SOAP_OK;
}

/* gSOAP writes every response through here into the worker's output
 * buffer; the server sends it without blocking (server__flush). */
static int server__fsend(struct soap *soap, const char *data, size_t n)
{
    soap_worker_t *w = soap_worker(soap);
    if (w->out_len + n > w->out_cap) {
        size_t want = w->out_cap ? w->out_cap : SERVER_BUF_MIN;
        while (want < w->out_len + n)
            want *= 2;
        char *p = realloc(w->out, want);
        if (p == NULL)
            return SOAP_EOM;
        w->out = p;
        w->out_cap = want;
    }
    memcpy(w->out + w->out_len, data, n);
    w->out_len += n;
    return SOAP_OK;
}

int soap_validate_request(struct soap *soap)
{
    soap_worker_t *w = soap_worker(soap);
    char err[256];
    if (w->validator == NULL)
        return SOAP_OK;
    if (validator_check(w->validator, w->body, w->body_len, soap_endpoint_version(soap->path), err, sizeof err) !=
        ENT_OK)
        return soap_client_fault(soap, "request does not match the schema: %s", err);
    return SOAP_OK;
}

/* Checks the response just written (from out_mark on); a mismatch is our
 * bug, so it is logged. */
static void server__validate_response(soap_worker_t *w, int version)
{
    char err[256];
    const char *r = w->out + w->out_mark;
    size_t n = w->out_len - w->out_mark;
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

/* Accepts a Host header only if it looks like host[:port]: it is echoed
 * into the WSDL we serve. */
static bool server__host_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > SOAP_MAX_HOST)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_'))
            return false;
    }
    return true;
}

static int server__parsehdr(struct soap *soap, const char *key, const char *val)
{
    soap_worker_t *w = soap_worker(soap);
    if (strcasecmp(key, "Host") == 0 && val != NULL && server__host_ok(val))
        snprintf(w->host, sizeof w->host, "%s", val);
    int rc = w->fparsehdr(soap, key, val);
    if (rc == SOAP_OK && strcasecmp(key, "Authorization") == 0)
        auth_http_authorization(soap, val);
    return rc;
}

/* Sends the fault that the context holds with HTTP status (500 when 0). */
static void server__send_fault(struct soap *soap, int status)
{
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
static int server__read_error(struct soap *soap)
{
    soap_worker_t *w = soap_worker(soap);
    int err = soap->error;

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
    case SOAP_OCCURS:
        /* gSOAP's word for both too many repetitions (maxoccurs) and a
         * required element that is missing; soap->tag is the repeated
         * element, or the one whose content is incomplete. */
        if (server__over_maxoccurs(soap))
            soap_client_fault(soap, "an element is repeated more than %d times: <%s>", w->cfg->max_occurs,
                              soap->tag);
        else
            soap_client_fault(soap, "a required element is missing or an element occurs too often in <%s>",
                              soap->tag);
        break;
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
        soap_client_fault(soap, "operation not supported: %s", soap->tag[0] ? soap->tag : "(empty body)");
        break;
    }
    case SOAP_EOF:
        soap_client_fault(soap, "malformed request: the XML ends before the envelope is complete");
        break;
    case SOAP_TAG_MISMATCH:
        soap_client_fault(soap, "malformed request: element <%s> is not expected here", soap->tag);
        break;
    case SOAP_TYPE:
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
        soap_client_fault(soap, "a SOAP header marked mustUnderstand is not understood");
        break;
    default:
        soap_client_fault(soap, "malformed request: the XML cannot be read (gSOAP error %d near <%s>)", err,
                          soap->tag);
        break;
    }
    return 0;
}

/* What becomes of a connection after a request. */
typedef enum after {
    AFTER_KEEP,   /* keep-alive: back to epoll */
    AFTER_CLOSE,  /* close now */
    AFTER_LINGER  /* refused request: drain what the client still sends, then close */
} after_t;

/* Makes *buf hold at least need bytes (keeping its content). */
static bool server__reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t want = *cap ? *cap : SERVER_BUF_MIN;
    while (want < need)
        want *= 2;
    char *p = realloc(*buf, want);
    if (p == NULL)
        return false;
    *buf = p;
    *cap = want;
    return true;
}

/* After a large request, gives the memory back. */
static void server__shrink(char **buf, size_t *cap, size_t keep)
{
    if (*cap <= 16 * SERVER_BUF_MIN || keep > SERVER_BUF_MIN)
        return;
    char *p = realloc(*buf, SERVER_BUF_MIN);
    if (p != NULL) {
        *buf = p;
        *cap = SERVER_BUF_MIN;
    }
}

static const char *server__reason_phrase(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Internal Server Error";
    }
}

/* An HTTP response with a SOAP 1.1 fault (Client, or Server for 503) for a
 * request that never reaches gSOAP, written into buf (len bytes); returns
 * its length. The message is ours (static texts and numbers) but escaped
 * all the same. */
static size_t server__refusal(char *buf, size_t len, int status, const char *msg)
{
    char body[1024], esc[512];
    size_t o = 0;
    for (const char *p = msg; *p && o + 7 < sizeof esc; p++) {
        const char *e = *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '&' ? "&amp;" : NULL;
        if (e != NULL) {
            memcpy(esc + o, e, strlen(e));
            o += strlen(e);
        } else {
            esc[o++] = *p;
        }
    }
    esc[o] = '\0';
    int bl = snprintf(body, sizeof body,
                      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                      "<SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:%s</faultcode>"
                      "<faultstring>%s</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>\n",
                      status == 503 ? "Server" : "Client", esc);
    int n = snprintf(buf, len,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: %d\r\n"
                     "%sConnection: close\r\n\r\n%s",
                     status, server__reason_phrase(status), bl, status == 405 ? "Allow: GET, POST\r\n" : "", body);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

/* Queues a refusal in the worker's output buffer. */
static void server__refuse(struct soap *soap, int status, const char *msg)
{
    char buf[2048];
    size_t n = server__refusal(buf, sizeof buf, status, msg);
    (void)server__fsend(soap, buf, n);
}

/* The message for a request refused while framing. */
static const char *server__frame_message(const soap_worker_t *w, const frame_t *f, char *buf, size_t len)
{
    if (f->http_status == 413) {
        snprintf(buf, len, "request body larger than %d bytes", w->cfg->max_body_bytes);
        return buf;
    }
    return f->why;
}

/* Serves the whole request f at in_pos in the worker's input buffer;
 * the caller disposes of fd as the result says. */
static after_t server__serve_one(struct soap *soap, int fd, const frame_t *f)
{
    soap_worker_t *w = soap_worker(soap);
    after_t after;
    int status = -1;
    guard_result_t g = {GUARD_OK, 0, NULL, 0};

    if (ids_request_id(w->request_id, sizeof w->request_id) != ENT_OK)
        snprintf(w->request_id, sizeof w->request_id, "0000000000000000");
    log_set_request_id(w->request_id);
    w->close_wanted = false;
    w->out_mark = w->out_len;
    w->host[0] = w->user[0] = '\0';

    /* The normalized request: the body goes after room for the header,
     * is checked (and maybe rewritten shorter) there, and the header is
     * then written in front of it. */
    size_t room = frame_normalized_size(f) - f->body_len, blen = f->body_len;
    if (!server__reserve(&w->req, &w->req_cap, room + blen + 1)) {
        log_error("out of memory for a request of %zu bytes", f->total);
        server__refuse(soap, 413, "request too large for the memory available");
        log_set_request_id(NULL);
        return AFTER_LINGER;
    }
    frame_body(w->in + w->in_pos, f, w->req + room);
    if (!f->is_get && guard_check(w->req + room, &blen, w->cfg->max_depth, &g) != GUARD_OK) {
        char msg[160];
        const char *m = g.what;
        if (g.verdict == GUARD_DEPTH) {
            snprintf(msg, sizeof msg, "XML nesting deeper than %d levels", w->cfg->max_depth);
            m = msg;
        } else if (g.verdict == GUARD_BAD_CHAR) {
            snprintf(msg, sizeof msg, "malformed request: character U+%04lX is not allowed in XML 1.0 (byte %zu "
                     "of the body)", g.code, g.offset);
            m = msg;
        } else if (g.verdict == GUARD_ATTRIBUTES) {
            snprintf(msg, sizeof msg, "an element has more than %d attributes", GUARD_MAX_ATTRIBUTES);
            m = msg;
        } else if (g.verdict != GUARD_DTD && g.verdict != GUARD_BAD_UTF8) {
            snprintf(msg, sizeof msg, "malformed request: %s (byte %zu of the body)", g.what, g.offset);
            m = msg;
        }
        log_info("request refused: %s", m);
        server__refuse(soap, 500, m);
        server__shrink(&w->req, &w->req_cap, 0);
        log_set_request_id(NULL);
        return AFTER_LINGER;
    }
    size_t hl = frame_header(w->in + w->in_pos, f, blen, w->req, room);
    if (hl == 0) { /* room is computed to fit: a bug if it does not */
        log_error("normalized header of %zu bytes does not fit", f->header_len);
        server__refuse(soap, 500, "internal error: the request header could not be prepared");
        server__shrink(&w->req, &w->req_cap, 0);
        log_set_request_id(NULL);
        return AFTER_LINGER;
    }
    memmove(w->req + hl, w->req + room, blen);
    w->req_len = hl + blen;
    w->req_pos = 0;
    w->body = w->req + hl;
    w->body_len = blen;

    soap->socket = fd;
    soap->keep_alive = -1;
    soap_begin(soap);
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
    } else if (soap_serve_request(soap) != SOAP_OK) {
        int err = soap->error;
        if (err == SOAP_FAULT || (err >= 400 && err < 600)) {
            /* A handler set its fault (auth, unavailable). */
            if (err != SOAP_FAULT)
                status = err;
            else
                status = 0;
            soap->error = SOAP_FAULT;
        } else if (err != SOAP_STOP) {
            status = server__read_error(soap);
        }
    }
    if (status >= 0) {
        w->out_len = w->out_mark; /* nothing of a response cut short goes before the fault */
        server__send_fault(soap, status);
    } else if (w->validator != NULL && soap->status == SOAP_POST)
        server__validate_response(w, soap_endpoint_version(soap->path));
done:
    if (status >= 0)
        after = AFTER_LINGER;
    else if (!w->close_wanted && soap_valid_socket(soap->socket) && soap->keep_alive != 0 && soap->error != SOAP_EOF)
        after = AFTER_KEEP;
    else
        after = AFTER_CLOSE;
    if (w->out_len == w->out_mark) {
        /* gSOAP wrote nothing (cannot happen): the client must not wait. */
        log_error("no response written (gSOAP error %d)", soap->error);
        server__refuse(soap, 500, "internal error: no response");
        after = AFTER_LINGER;
    }
    soap_destroy(soap);
    soap_end(soap);
    soap->socket = SOAP_INVALID_SOCKET;
    server__shrink(&w->req, &w->req_cap, 0);
    log_set_request_id(NULL);
    return after;
}

/* Frees what a connection holds and takes it off the budget. Caller holds
 * s->lock or owns the connection (CONN_BUSY). */
static void server__conn_reset(soap_server_t *s, conn_t *c)
{
    atomic_fetch_sub_explicit(&s->buffered_in, (long long)c->in_cap, memory_order_relaxed);
    atomic_fetch_sub_explicit(&s->buffered_out, (long long)c->out_cap, memory_order_relaxed);
    free(c->in);
    free(c->out);
    memset(c, 0, sizeof *c);
}

static void server__conn_close(soap_server_t *s, int fd)
{
    /* Caller holds s->lock. Forget the descriptor before closing it: once
     * closed, accept may hand out the same number again. */
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
    server__conn_reset(s, &s->conns[fd]);
    s->conns[fd].state = CONN_FREE;
    s->nopen--;
    close(fd);
}

/* Hands a connection (held by this worker) back to epoll to wait as
 * c->wait says; closes it when stopping. */
static void server__park(soap_server_t *s, int fd)
{
    conn_t *c = &s->conns[fd];
    /* A connection with whole requests already read waits for "writable",
     * which a healthy socket is at once: it goes to the end of the queue. */
    uint32_t events = c->wait == WAIT_WRITE ? EPOLLOUT : c->resume ? EPOLLOUT | EPOLLIN : EPOLLIN | EPOLLRDHUP;
    struct epoll_event ev = {.events = events | EPOLLONESHOT, .data.fd = fd};
    pthread_mutex_lock(&s->lock);
    c->state = CONN_IDLE;
    if (atomic_load(&s->stopping) || epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev) != 0)
        server__conn_close(s, fd);
    pthread_mutex_unlock(&s->lock);
}

static void server__close(soap_server_t *s, int fd)
{
    pthread_mutex_lock(&s->lock);
    server__conn_close(s, fd);
    pthread_mutex_unlock(&s->lock);
}

/* Starts closing a connection whose response is written: no more writes,
 * and what the client still sends is dropped until it closes (in epoll). */
static void server__linger(soap_server_t *s, int fd)
{
    conn_t *c = &s->conns[fd];
    shutdown(fd, SHUT_WR);
    c->wait = WAIT_LINGER;
    c->since = time(NULL);
    server__park(s, fd);
}

static void server__accept(soap_server_t *s)
{
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
            continue;
        if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
            /* The connection stays queued and the listener would report it
             * again at once: pause accepting until the next sweep. */
            log_warn("cannot accept a connection: %s; accepting again in a second", strerror(errno));
            atomic_store(&s->accept_paused, true);
            return;
        }
        if (fd < 0)
            break;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_mutex_lock(&s->lock);
        if (fd >= s->nconns_max || s->nopen >= s->cfg->max_connections || atomic_load(&s->stopping)) {
            int nopen = s->nopen;
            pthread_mutex_unlock(&s->lock);
            log_warn("connection refused: %d connections open", nopen);
            close(fd);
            continue;
        }
        s->nopen++;
        conn_t *c = &s->conns[fd];
        memset(c, 0, sizeof *c);
        c->state = CONN_IDLE;
        c->wait = WAIT_READ;
        c->last_active = time(NULL);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.fd = fd};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
            server__conn_close(s, fd);
        pthread_mutex_unlock(&s->lock);
    }
    /* The listener is one-shot too: one worker accepts at a time. */
    struct epoll_event lev = {.events = EPOLLIN | EPOLLONESHOT, .data.fd = s->listen_fd};
    pthread_mutex_lock(&s->lock);
    if (!atomic_load(&s->stopping))
        epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->listen_fd, &lev);
    pthread_mutex_unlock(&s->lock);
}

/* Closes connections in epoll past their time: a request that has not
 * fully arrived within the receive timeout of its first byte (with a 408,
 * so that a slow client learns why), a connection that sent nothing within
 * the receive timeout of being accepted, an idle keep-alive connection
 * after the keep-alive timeout, a response the client has not taken within
 * the send timeout, and a lingering close after SERVER_LINGER_S. */
static void server__reap_idle(soap_server_t *s, time_t now)
{
    pthread_mutex_lock(&s->lock);
    for (int fd = 0; fd < s->nconns_max; fd++) {
        conn_t *c = &s->conns[fd];
        if (c->state != CONN_IDLE)
            continue;
        bool expired;
        switch (c->wait) {
        case WAIT_LINGER:
            expired = now - c->since >= SERVER_LINGER_S;
            break;
        case WAIT_WRITE:
            /* since moves on whenever the client takes some of it. */
            expired = now - c->since >= s->cfg->send_timeout_s;
            if (expired)
                log_warn("response cut off: the client took nothing of the last %zu bytes for %d s",
                         c->out_len - c->out_off, s->cfg->send_timeout_s);
            break;
        default:
            if (c->in_len > 0) {
                int waiting = 0;
                /* Not the client's fault when whole requests, or more of
                 * this one, wait for a worker that has been busy. */
                expired = !c->resume && now - c->since >= s->cfg->recv_timeout_s &&
                          !(ioctl(fd, FIONREAD, &waiting) == 0 && waiting > 0);
                if (expired) {
                    char buf[2048];
                    size_t n = server__refusal(buf, sizeof buf, 408, "the request did not arrive in time");
                    (void)send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                }
            } else {
                expired = now - c->last_active >= (c->served ? s->cfg->keepalive_timeout_s : s->cfg->recv_timeout_s);
            }
        }
        if (expired)
            server__conn_close(s, fd);
    }
    if (atomic_exchange(&s->accept_paused, false) && !atomic_load(&s->stopping)) {
        struct epoll_event lev = {.events = EPOLLIN | EPOLLONESHOT, .data.fd = s->listen_fd};
        epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->listen_fd, &lev);
    }
    atomic_store_explicit(&s->last_reap, (long long)now, memory_order_relaxed);
    pthread_mutex_unlock(&s->lock);
}

/* Takes a client connection that epoll reported (one-shot, so no other
 * worker has it) unless the reaper closed it meanwhile. */
static bool server__claim(soap_server_t *s, int fd)
{
    bool mine = false;
    pthread_mutex_lock(&s->lock);
    if (fd >= 0 && fd < s->nconns_max && s->conns[fd].state == CONN_IDLE) {
        s->conns[fd].state = CONN_BUSY;
        mine = true;
    }
    pthread_mutex_unlock(&s->lock);
    return mine;
}

/* Reads what has arrived on fd into the worker's input buffer, without
 * waiting. Returns the bytes read (0: none yet), or -1 when the peer has
 * closed or the connection failed. */
static ssize_t server__read(soap_worker_t *w, int fd, size_t max)
{
    size_t got = 0;
    for (;;) {
        if (w->in_len >= max)
            return (ssize_t)got;
        if (!server__reserve(&w->in, &w->in_cap, w->in_len + SERVER_BUF_MIN < max ? w->in_len + SERVER_BUF_MIN : max))
            return got ? (ssize_t)got : -1;
        size_t room = (w->in_cap < max ? w->in_cap : max) - w->in_len;
        ssize_t n = recv(fd, w->in + w->in_len, room, MSG_DONTWAIT);
        if (n > 0) {
            w->in_len += (size_t)n;
            got += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return (ssize_t)got;
        return -1; /* closed (0) or reset */
    }
}

/* Sends buf[*off, len) without waiting. Returns 1 when all is sent, 0 when
 * the rest must wait for the socket, -1 when the connection failed. */
static int server__send(int fd, const char *buf, size_t len, size_t *off)
{
    while (*off < len) {
        ssize_t n = send(fd, buf + *off, len - *off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            *off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
    return 1;
}

/* Moves the worker's buffer into the connection (no copy), counted in
 * *count; the worker allocates a new one when it next needs one. */
static void server__hand_over(atomic_llong *count, char **wbuf, size_t *wcap, char **cbuf, size_t *ccap)
{
    free(*cbuf);
    atomic_fetch_sub_explicit(count, (long long)*ccap, memory_order_relaxed);
    *cbuf = *wbuf;
    *ccap = *wcap;
    atomic_fetch_add_explicit(count, (long long)*ccap, memory_order_relaxed);
    *wbuf = NULL;
    *wcap = 0;
}

/* Takes the connection's buffer as the worker's (no copy). */
static void server__take_over(atomic_llong *count, char **wbuf, size_t *wcap, char **cbuf, size_t *ccap)
{
    free(*wbuf);
    *wbuf = *cbuf;
    *wcap = *ccap;
    atomic_fetch_sub_explicit(count, (long long)*ccap, memory_order_relaxed);
    *cbuf = NULL;
    *ccap = 0;
}

/* Writes the worker's output; what the client cannot take yet waits with
 * the connection (and no further request is read until it has gone).
 * Returns false when the connection was given up or parked. */
static bool server__flush(soap_server_t *s, soap_worker_t *w, int fd, bool close_after)
{
    conn_t *c = &s->conns[fd];
    size_t off = 0;
    int rc = server__send(fd, w->out, w->out_len, &off);
    if (rc < 0) {
        w->out_len = 0;
        server__close(s, fd);
        return false;
    }
    if (rc == 0) {
        /* The unsent rest (and any pipelined input) waits in epoll. */
        server__hand_over(&s->buffered_out, &w->out, &w->out_cap, &c->out, &c->out_cap);
        c->out_len = w->out_len;
        c->out_off = off;
        w->out_len = 0;
        if (w->in_len > w->in_pos) {
            memmove(w->in, w->in + w->in_pos, w->in_len - w->in_pos);
            w->in_len -= w->in_pos;
            w->in_pos = 0;
            server__hand_over(&s->buffered_in, &w->in, &w->in_cap, &c->in, &c->in_cap);
            c->in_len = w->in_len;
        }
        w->in_len = w->in_pos = 0;
        c->close_after = close_after;
        c->wait = WAIT_WRITE;
        c->since = time(NULL);
        server__park(s, fd);
        return false;
    }
    w->out_len = 0;
    server__shrink(&w->out, &w->out_cap, 0);
    if (close_after) {
        server__linger(s, fd);
        return false;
    }
    return true;
}

/* Drops what a lingering connection's client still sends; closes on its
 * end of the connection. */
static void server__drain(soap_server_t *s, int fd)
{
    char buf[16384];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            server__park(s, fd);
            return;
        }
        server__close(s, fd);
        return;
    }
}

/* Leaves the requests not yet served (and what follows them) with the
 * connection, and parks it to wait for more (or, with whole requests
 * waiting, to come back at once). False when over the budget of requests
 * still arriving: the connection then gets a 503 and closes. */
static bool server__stash(soap_server_t *s, struct soap *soap, int fd, bool whole_waiting)
{
    soap_worker_t *w = soap_worker(soap);
    conn_t *c = &s->conns[fd];
    size_t n = w->in_len - w->in_pos;

    c->wait = WAIT_READ;
    c->resume = whole_waiting;
    if (n == 0) {
        c->since = 0;
        w->in_len = w->in_pos = 0;
        server__park(s, fd);
        return true;
    }
    memmove(w->in, w->in + w->in_pos, n);
    w->in_len = n;
    w->in_pos = 0;
    if (!whole_waiting && (long long)w->in_cap + atomic_load_explicit(&s->buffered_in, memory_order_relaxed) >
                              (long long)s->cfg->max_buffered_mb * 1048576) {
        log_warn("request refused: %lld bytes of requests already wait to arrive",
                 (long long)atomic_load_explicit(&s->buffered_in, memory_order_relaxed));
        w->in_len = 0;
        server__refuse(soap, 503, "the server is receiving too many requests at once; try again");
        server__flush(s, w, fd, true);
        return false;
    }
    if (c->since == 0)
        c->since = time(NULL);
    server__hand_over(&s->buffered_in, &w->in, &w->in_cap, &c->in, &c->in_cap);
    c->in_len = n;
    w->in_len = 0;
    server__park(s, fd);
    return true;
}

/* A connection epoll reported ready (claimed by this worker): goes on with
 * what it waits for, then reads what has arrived and serves the whole
 * requests in it (at most SERVER_MAX_PIPELINE before it goes back to the
 * queue). Once stopping, nothing more is read: the requests already read
 * are served, and the connection is closed. */
static void server__event(soap_server_t *s, struct soap *soap, int fd)
{
    soap_worker_t *w = soap_worker(soap);
    conn_t *c = &s->conns[fd]; /* ours while CONN_BUSY */
    const size_t max_body = (size_t)s->cfg->max_body_bytes;
    const frame_limits_t lim = {SERVER_MAX_HEADER, SERVER_MAX_HEADER_LINE, max_body};
    /* Room for one byte more than frame_scan accepts: it refuses first. */
    const size_t max_in = frame_max_raw(&lim) + 1;
    const long long budget = (long long)s->cfg->max_buffered_mb * 1048576;
    frame_t f;

    if (c->wait == WAIT_LINGER) {
        server__drain(s, fd);
        return;
    }
    if (c->wait == WAIT_WRITE) {
        size_t before = c->out_off;
        int rc = server__send(fd, c->out, c->out_len, &c->out_off);
        if (rc < 0) {
            server__close(s, fd);
            return;
        }
        if (rc == 0) {
            if (c->out_off > before)
                c->since = time(NULL); /* the send timeout counts time without progress */
            server__park(s, fd);
            return;
        }
        atomic_fetch_sub_explicit(&s->buffered_out, (long long)c->out_cap, memory_order_relaxed);
        free(c->out);
        c->out = NULL;
        c->out_len = c->out_off = c->out_cap = 0;
        c->last_active = time(NULL); /* the keep-alive wait starts when the answer is out */
        if (c->close_after) {
            server__linger(s, fd);
            return;
        }
        c->wait = WAIT_READ;
    }
    w->in_len = w->in_pos = 0;
    w->out_len = 0;
    if (c->in != NULL) {
        server__take_over(&s->buffered_in, &w->in, &w->in_cap, &c->in, &c->in_cap);
        w->in_len = c->in_len;
        c->in_len = 0;
    }
    ssize_t got = 0;
    /* With whole requests already waiting, serve them before reading more:
     * what a connection holds stays one read's worth. */
    bool read_now = !c->resume;
    for (int served = 0;;) {
        bool stopping = atomic_load(&s->stopping);
        if (read_now && !stopping) {
            if (w->in_pos > 0) { /* compact once before reading more */
                memmove(w->in, w->in + w->in_pos, w->in_len - w->in_pos);
                w->in_len -= w->in_pos;
                w->in_pos = 0;
            }
            /* At most SERVER_READ_MAX more per pass: a client streaming
             * faster than it is served waits in its socket, not in memory. */
            got = server__read(w, fd, w->in_len + SERVER_READ_MAX < max_in ? w->in_len + SERVER_READ_MAX : max_in);
        }
        c->resume = false;
        frame_scan(w->in + w->in_pos, w->in_len - w->in_pos, &lim, &f);
        if (f.status == FRAME_ERROR) {
            char msg[96];
            const char *m = server__frame_message(w, &f, msg, sizeof msg);
            log_info("request refused: HTTP %d, %s", f.http_status, m);
            server__refuse(soap, f.http_status, m);
            w->in_len = w->in_pos = 0;
            server__flush(s, w, fd, true);
            break;
        }
        if (f.status == FRAME_MORE) {
            if (!read_now && !stopping) {
                read_now = true; /* served what was read: read what came since */
                continue;
            }
            if (f.lead == w->in_len - w->in_pos)
                w->in_pos = w->in_len; /* blank lines between requests: nothing pending */
            if (got < 0 || stopping || w->in_len - w->in_pos >= max_in) {
                /* Gone mid-request (or idle and gone), or stopping: nobody to answer. */
                server__close(s, fd);
                break;
            }
            if (f.expect_continue && !c->continued) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                c->continued = send(fd, cont, sizeof cont - 1, MSG_NOSIGNAL | MSG_DONTWAIT) > 0;
            }
            server__stash(s, soap, fd, false);
            break;
        }
        if (atomic_load_explicit(&s->buffered_out, memory_order_relaxed) > budget) {
            log_warn("request refused: %lld bytes of responses wait for their clients",
                     (long long)atomic_load_explicit(&s->buffered_out, memory_order_relaxed));
            w->in_len = w->in_pos = 0;
            server__refuse(soap, 503, "the server holds too many responses its clients have not read; try again");
            server__flush(s, w, fd, true);
            break;
        }
        after_t after = server__serve_one(soap, fd, &f);
        /* Whatever followed the request (pipelined) is the next one. */
        w->in_pos += f.total;
        c->since = w->in_len > w->in_pos ? time(NULL) : 0;
        c->continued = false;
        c->served = true;
        c->last_active = time(NULL);
        if (!server__flush(s, w, fd, after != AFTER_KEEP))
            break;
        if (w->in_len == w->in_pos && !stopping) {
            server__stash(s, soap, fd, false);
            break;
        }
        if (++served >= SERVER_MAX_PIPELINE || (stopping && w->in_len == w->in_pos)) {
            if (stopping)
                server__close(s, fd);
            else
                server__stash(s, soap, fd, true);
            break;
        }
        read_now = false;
    }
    w->in_len = w->in_pos = 0;
    server__shrink(&w->in, &w->in_cap, 0);
}

typedef struct worker_arg {
    soap_server_t *server;
    struct soap *soap;
} worker_arg_t;

/* A worker waits in epoll itself and serves what it is woken for: no
 * hand-off between threads on the way to a request. */
static void *server__work(void *arg)
{
    soap_server_t *s = ((worker_arg_t *)arg)->server;
    struct soap *soap = ((worker_arg_t *)arg)->soap;
    struct epoll_event evs[SERVER_DRAIN_EVENTS];
    free(arg);

    for (;;) {
        int n = epoll_wait(s->epfd, evs, 1, 1000);
        time_t now = time(NULL);
        if (n == 1 && evs[0].data.fd == s->wake_fd)
            break;
        if (n == 1 && evs[0].data.fd == s->listen_fd)
            server__accept(s);
        else if (n == 1 && server__claim(s, evs[0].data.fd))
            server__event(s, soap, evs[0].data.fd);
        /* Whoever notices a new second sweeps idle keep-alive connections. */
        if (now != atomic_load_explicit(&s->last_reap, memory_order_relaxed) &&
            pthread_mutex_trylock(&s->reap_lock) == 0) {
            if (now != atomic_load_explicit(&s->last_reap, memory_order_relaxed))
                server__reap_idle(s, now);
            pthread_mutex_unlock(&s->reap_lock);
        }
    }
    /* Stopping: serve the requests that have already arrived, then go. */
    for (;;) {
        int n = epoll_wait(s->epfd, evs, SERVER_DRAIN_EVENTS, 0), served = 0;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd != s->wake_fd && fd != s->listen_fd && server__claim(s, fd)) {
                server__event(s, soap, fd);
                served++;
            }
        }
        if (served == 0)
            break;
    }
    return NULL;
}

static int server__listen(const ent_config_t *cfg, int *fd_out, int *port_out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST};
    struct addrinfo *res = NULL;
    char port[16];
    int fd = -1, one = 1;

    snprintf(port, sizeof port, "%d", cfg->soap_port);
    if (getaddrinfo(cfg->bind, port, &hints, &res) != 0) {
        log_error("ENTITLEMENTD_BIND: '%s' is not a numeric address", cfg->bind);
        return ENT_EINVAL;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        log_error("cannot listen on %s:%d: %s", cfg->bind, cfg->soap_port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return ENT_EIO;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    return ENT_OK;
}

static struct soap *server__context(soap_server_t *s, soap_worker_t *w)
{
    struct soap *soap = soap_new1(SOAP_IO_KEEPALIVE | SOAP_XML_STRICT | SOAP_C_UTFSTRING);
    if (soap == NULL)
        return NULL;
    soap_set_omode(soap, SOAP_IO_KEEPALIVE | SOAP_C_UTFSTRING);
    soap_set_namespaces(soap, namespaces);
    soap->recv_timeout = s->cfg->recv_timeout_s;
    soap->send_timeout = s->cfg->send_timeout_s;
    soap->maxlevel = (unsigned)s->cfg->max_depth;
    soap->maxoccurs = (size_t)s->cfg->max_occurs;
    soap->recv_maxlength = (ULONG64)s->cfg->max_body_bytes + 2 * SERVER_MAX_HEADER;
    soap->max_keep_alive = 0; /* no per-connection request limit */
    w->cfg = s->cfg;
    w->pool = s->pool;
    w->auth = s->auth;
    w->group = s->group;
    w->validator = s->validator;
    soap->fsend = server__fsend;
    w->fparsehdr = soap->fparsehdr;
    soap->frecv = server__frecv;
    soap->fparsehdr = server__parsehdr;
    soap->fget = soap_http_get;
    soap->fclosesocket = server__fclosesocket;
    soap->fshutdownsocket = server__fshutdownsocket;
    soap->user = w;
    return soap;
}

int soap_server_start(const ent_config_t *cfg, db_pool_t *pool, soap_server_t **out)
{
    soap_server_t *s = calloc(1, sizeof *s);
    int rc;

    if (s == NULL)
        return ENT_ENOMEM;
    s->cfg = cfg;
    s->pool = pool;
    s->nworkers = cfg->workers;
    s->listen_fd = s->epfd = s->wake_fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->reap_lock, NULL);
    atomic_init(&s->last_reap, (long long)time(NULL));
    /* Descriptors index the table; leave room for the database sockets
     * and files besides max_connections clients. */
    s->nconns_max = cfg->max_connections + cfg->db_pool_size + 64;
    s->conns = calloc((size_t)s->nconns_max, sizeof *s->conns);
    s->threads = calloc((size_t)s->nworkers, sizeof *s->threads);
    s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
    s->contexts = calloc((size_t)s->nworkers, sizeof *s->contexts);
    s->auth = auth_cache_new();
    if (!s->conns || !s->threads || !s->workers || !s->contexts || !s->auth) {
        rc = ENT_ENOMEM;
        goto fail;
    }
    if (cfg->commit_groups > 0 &&
        (rc = lc_group_new(cfg->commit_groups, (size_t)cfg->max_units, &s->group)) != ENT_OK)
        goto fail;
    if (cfg->validate_xml && (rc = validator_new(&s->validator)) != ENT_OK) {
        log_error("cannot load the schema for ENTITLEMENTD_VALIDATE_XML: %s", ent_strerror(rc));
        goto fail;
    }
    if ((rc = server__listen(cfg, &s->listen_fd, &s->port)) != ENT_OK)
        goto fail;
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->epfd < 0 || s->wake_fd < 0) {
        rc = ENT_EIO;
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.fd = s->listen_fd};
    struct epoll_event wev = {.events = EPOLLIN, .data.fd = s->wake_fd};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listen_fd, &ev) != 0 ||
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wake_fd, &wev) != 0) {
        rc = ENT_EIO;
        goto fail;
    }
    for (int i = 0; i < s->nworkers; i++) {
        if ((s->contexts[i] = server__context(s, &s->workers[i])) == NULL) {
            rc = ENT_ENOMEM;
            goto fail;
        }
    }
    for (int i = 0; i < s->nworkers; i++) {
        worker_arg_t *a = malloc(sizeof *a);
        if (a == NULL) {
            rc = ENT_ENOMEM;
            goto fail; /* threads already started are not joined: we exit */
        }
        a->server = s;
        a->soap = s->contexts[i];
        if (pthread_create(&s->threads[i], NULL, server__work, a) != 0) {
            free(a);
            log_error("cannot start worker thread %d", i);
            rc = ENT_ENOMEM;
            goto fail; /* threads already started are not joined: we exit */
        }
    }
    *out = s;
    return ENT_OK;
fail:
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->epfd >= 0)
        close(s->epfd);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    for (int i = 0; s->contexts && i < s->nworkers; i++)
        if (s->contexts[i])
            soap_free(s->contexts[i]);
    auth_cache_free(s->auth);
    lc_group_free(s->group);
    validator_free(s->validator);
    free(s->contexts);
    free(s->workers);
    free(s->threads);
    free(s->conns);
    free(s);
    return rc;
}

int soap_server_port(const soap_server_t *s)
{
    return s->port;
}

void soap_server_stop(soap_server_t *s)
{
    uint64_t one = 1;

    /* No new connections; the workers finish their requests and those
     * that have arrived, then end; idle connections are closed last. */
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->stopping, true);
    pthread_mutex_unlock(&s->lock);
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->listen_fd, NULL);
    close(s->listen_fd);
    if (write(s->wake_fd, &one, sizeof one) < 0)
        log_warn("waking the workers failed: %s", strerror(errno));
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->threads[i], NULL);
    for (int fd = 0; fd < s->nconns_max; fd++)
        if (s->conns[fd].state != CONN_FREE) {
            server__conn_reset(s, &s->conns[fd]);
            close(fd);
        }
    for (int i = 0; i < s->nworkers; i++) {
        soap_free(s->contexts[i]);
        free(s->workers[i].in);
        free(s->workers[i].req);
        free(s->workers[i].out);
    }
    validator_free(s->validator);
    close(s->epfd);
    close(s->wake_fd);
    auth_cache_free(s->auth);
    lc_group_free(s->group);
    pthread_mutex_destroy(&s->reap_lock);
    pthread_mutex_destroy(&s->lock);
    free(s->contexts);
    free(s->workers);
    free(s->threads);
    free(s->conns);
    free(s);
}
