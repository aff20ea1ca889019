/*
 * The listener: connections in one epoll set, a fixed pool of workers that
 * wait in epoll themselves, frame whole requests and hand each to its
 * front (http.h). docs/ARCHITECTURE.md, "Requests", tells the story.
 */
#include "http.h"

#include <errno.h>
#include <linux/filter.h>
#include <malloc.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../core/clock.h"
#include "../core/ids.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/thread.h"
#include "frame.h"
#include "peers.h"

/* The request line and headers together, and one line of them: what
 * honest clients send fits with room to spare (431 above). A line is
 * 8 KiB with its CR LF: gSOAP reads the lines it is passed into 8 KiB and
 * fails on longer ones, so the framing refuses them first, for every
 * front alike. */
#define SERVER_MAX_HEADER 65536
#define SERVER_MAX_HEADER_LINE 8190
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
/* Events a stopping worker takes at once while draining, and how long it
 * waits for clients to read the answers they are sent. */
#define SERVER_DRAIN_EVENTS 64
#define SERVER_DRAIN_SECONDS 10
/* ... as long as each such client keeps reading: one that took nothing
 * for this long is not waited for. */
#define SERVER_DRAIN_STALL_SECONDS 2
/* How long a stopping server waits for the first request of connections
 * that have sent nothing yet (a client between its connect and its send):
 * the request is answered 503 rather than reset by the close. */
#define SERVER_FIRST_REQUEST_WAIT_MS 1000
/* Connections turned away (over a limit) that wait, after their 503, for
 * their client to close (SERVER_LINGER_S at most) so that it reads the 503
 * rather than a reset; more are closed at once. */
#define SERVER_MAX_TURNED_AWAY 256
/* Once this share (in quarters) of ENTITLEMENTD_MAX_CONNECTIONS is taken,
 * a connection that has sent nothing for SERVER_FIRST_BYTE_BUSY_S is
 * closed: idle sockets cannot hold the table for a whole receive timeout. */
#define SERVER_BUSY_QUARTERS 3
#define SERVER_FIRST_BYTE_BUSY_S 2
/* A request still arriving after this long (in whole seconds of the
 * clock: 1 to 2 s) may be closed (with a 408) to make room for a new
 * connection when there is none: a client sending a byte now and then
 * (slowloris) cannot hold its place for a whole receive timeout while
 * others are turned away. A request arrives well within it on a working
 * network. */
#define SERVER_SLOW_SHED_S 2
/* Longest Host header we pass on (it is echoed into WSDL addresses and
 * poll URLs). */
#define SERVER_MAX_HOST 255
/* Pieces of a streamed body (http_source_t) a worker makes and sends for
 * one connection before it hands the connection back to epoll (to the end
 * of the queue): a fast reader of a large document does not hold a worker
 * for long. */
#define SERVER_SOURCE_PIECES 4
/* Longest method and target (frame.c refuses longer ones). */
#define SERVER_MAX_METHOD 16
#define SERVER_MAX_TARGET 4096
/* Turns of a credential check remembered for a request being put back
 * as the check ended (auth calls back two per check). */
#define SERVER_TURNS_OWED 2

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
    WAIT_LINGER, /* closing: what the client still sends is dropped until it closes */
    WAIT_PARKED  /* a request put back (http_retry_later), in `in`: not in epoll until retried */
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
    bool turned_away;       /* WAIT_LINGER after a 503 at accept: not counted in nopen nor peers */
    unsigned char addr[PEERS_ADDR_LEN]; /* the client's address (peers.h) */
    unsigned long long touched; /* s->clock when accepted or last served: the order of shedding */
    double parked_at;       /* when its request was first put back (0: not) */
    /* Bytes read and not yet served, and bytes of a response not yet sent;
     * owned by the connection (NULL when empty), counted in s->buffered_in
     * and s->buffered_out. */
    char *in;
    size_t in_len, in_cap;
    char *out;
    size_t out_len, out_off, out_cap;
    /* The rest of a streamed body (source.next NULL: none), made a piece
     * at a time once out has gone; framed as chunks when chunked. */
    http_source_t source;
    bool chunked;
} conn_t;

/* What a worker thread owns. */
typedef struct http_worker {
    struct http_server *s;
    void *state[HTTP_MAX_FRONTS]; /* each front's per-worker state */
    /* Bytes read from the connection being served: the request being
     * framed and whatever follows it. Grows as needed. */
    char *in;
    size_t in_len, in_cap, in_pos; /* in_pos: where the requests not yet served start */
    /* The responses written for the connection being served. */
    char *out;
    size_t out_len, out_cap;
    /* De-chunked bodies (a Content-Length body is served where it lies). */
    char *body;
    size_t body_cap;
} http_worker_t;

struct http_exchange {
    http_worker_t *w;
    struct http_deferred *deferred; /* http_defer */
    http_request_t req;
    size_t out_mark;         /* where this request's response starts in w->out */
    bool close;              /* http_close_after */
    int fd;                  /* the connection */
    const char *route;       /* http_set_route */
    http_source_t source;    /* http_respond_source (next NULL: none) */
    bool chunked;
    bool retry;              /* http_retry_later */
    bool trim;               /* http_trim_after */
    double parked_at;        /* the connection's, when the request was first put back */
    char method[SERVER_MAX_METHOD + 1];
    char target[SERVER_MAX_TARGET + 1];
    char path[SERVER_MAX_TARGET + 1];
    char host[SERVER_MAX_HOST + 1];
    char request_id[HTTP_REQUEST_ID_MAX];
};

/* A response finished later (http_defer). Two parties let go of it: the
 * worker that served the request, once it has left the connection's
 * unread input with the connection, and the front, once the response is
 * written (http_resume); the second sends it and hands the connection on.
 * Until then the connection is busy (neither in epoll nor the reaper's)
 * and holds no thread. */
struct http_deferred {
    struct http_server *s;
    atomic_int refs;
    int fd;
    int front;
    bool head;              /* a HEAD request: the body written is dropped */
    bool close;             /* the client asked to close after this request */
    double t0;              /* when the request began to be served */
    void (*start)(void *arg); /* http_defer's: queues the work */
    void *start_arg;
    http_worker_t w;        /* only its output: the response */
    http_exchange_t x;
};

struct http_server {
    const ent_config_t *cfg;
    http_front_t fronts[HTTP_MAX_FRONTS];
    int nfronts;
    frame_limits_t limits;
    int listen_fd;
    int port;
    int epfd;
    int wake_fd;            /* eventfd, readable once stopping: wakes every worker */
    pthread_t *threads;
    http_worker_t *workers;
    int nworkers;
    /* Workers that take requests at once (ENTITLEMENTD_ACTIVE_WORKERS).
     * Each worker counts in active unless it stands by or waits (for the
     * database or a credential check: core/thread.h's waits). One that comes back for work above
     * the cap stands by; when the last active one begins to wait, one
     * standing by is called back. */
    int active_max;
    atomic_int active;
    atomic_int standing;       /* workers standing by, or about to */
    thread_waits_t waits;
    pthread_mutex_t standby_lock;
    pthread_cond_t standby_cond;
    int callbacks;          /* under standby_lock: workers called back, not yet up */

    pthread_mutex_t reap_lock; /* one worker sweeps idle connections at a time */
    pthread_mutex_t lock;   /* guards everything below */
    atomic_llong last_reap; /* second of the last sweep; read without the lock */
    atomic_bool stopping;   /* also read without the lock */
    atomic_int phase;       /* http_phase_t */
    atomic_bool accept_paused; /* out of descriptors: the listener waits for the next sweep */
    /* Bytes (buffer capacity) of requests still arriving and of responses
     * not yet taken, held by connections; each is capped on its own by
     * ENTITLEMENTD_MAX_BUFFERED_MB. */
    atomic_llong buffered_in, buffered_out;
    conn_t *conns;          /* indexed by descriptor */
    int nconns_max;         /* size of conns */
    atomic_int nopen;       /* client connections (those turned away aside) */
    atomic_int ndeferred;   /* responses deferred and not yet sent: stopping waits for them */
    peers_t *peers;         /* nopen by client address */
    atomic_ullong clock;    /* ticks once per accept and per request served */
    int nturned_away;       /* turned-away connections lingering */
    /* Connections whose request was put back (WAIT_PARKED), oldest first:
     * a ring of nconns_max descriptors. An entry whose connection is no
     * longer parked (closed meanwhile) is skipped when it comes out. */
    int *parked;
    int parked_head, nparked;
    /* Turns a check offered when none was parked (at most
     * SERVER_TURNS_OWED): a request that found no turn, and was being put
     * back as the check ended, is called back at once rather than at the
     * next sweep. */
    int turns_owed;
};

static double server__now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------------- */
/* Routing. */

/* Whether path starts with prefix at a '/' boundary ("/" takes all). */
static bool server__prefix_matches(const char *prefix, const char *path, size_t n)
{
    size_t k = strlen(prefix);
    if (k == 1 && prefix[0] == '/')
        return true;
    if (n < k || memcmp(path, prefix, k) != 0)
        return false;
    return n == k || path[k] == '/' || path[k] == '?';
}

/* The front of a target (path and query, n bytes): the longest prefix
 * that matches. With no target (a request line that cannot be read) or no
 * match, the front of "/" if there is one, else the first. */
static int server__route(const struct http_server *s, const char *target, size_t n)
{
    int best = -1;
    size_t best_len = 0;
    for (int i = 0; i < s->nfronts; i++) {
        size_t k = strlen(s->fronts[i].prefix);
        bool any = k == 1 && s->fronts[i].prefix[0] == '/';
        if (n > 0 && !any && k > best_len && server__prefix_matches(s->fronts[i].prefix, target, n)) {
            best = i;
            best_len = k;
        }
    }
    for (int i = 0; best < 0 && i < s->nfronts; i++)
        if (strcmp(s->fronts[i].prefix, "/") == 0)
            best = i;
    return best < 0 ? 0 : best;
}

static size_t server__body_limit(void *arg, const char *target, size_t n)
{
    const struct http_server *s = arg;
    return s->fronts[server__route(s, target, n)].max_body;
}

/* ---------------------------------------------------------------------- */
/* Buffers. */

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

/* Set when a large buffer was given back: the next sweep asks the
 * allocator to return the free memory of its heaps to the system. */
static atomic_bool server__trim_wanted;

void http_trim_after(http_exchange_t *x)
{
    x->trim = true;
}

/* After a large request, gives the memory back. */
static void server__shrink(char **buf, size_t *cap)
{
    if (*cap <= 16 * SERVER_BUF_MIN)
        return;
    atomic_store_explicit(&server__trim_wanted, true, memory_order_relaxed);
    char *p = realloc(*buf, SERVER_BUF_MIN);
    if (p != NULL) {
        *buf = p;
        *cap = SERVER_BUF_MIN;
    }
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

/* ---------------------------------------------------------------------- */
/* The exchange API of the fronts. */

/* A piece of a streamed body is made straight in the worker's output. */
struct http_piece {
    http_worker_t *w;
};

const http_request_t *http_request(const http_exchange_t *x)
{
    return &x->req;
}

bool http_header(const http_request_t *r, const char *name, const char **value, size_t *len)
{
    size_t pos = 0, k = strlen(name), nl, vl;
    const char *n, *v;
    while (frame_header_next(r->headers, r->headers_len, &pos, &n, &nl, &v, &vl)) {
        if (nl == k && strncasecmp(n, name, k) == 0) {
            *value = v;
            *len = vl;
            return true;
        }
    }
    return false;
}

bool http_header_next(const http_request_t *r, size_t *pos, const char **name, size_t *nlen, const char **value,
                      size_t *vlen)
{
    return frame_header_next(r->headers, r->headers_len, pos, name, nlen, value, vlen);
}

bool http_content_type_is(const http_request_t *r, const char *type)
{
    const char *v;
    size_t n, k = strlen(type);
    if (!http_header(r, "Content-Type", &v, &n))
        return false;
    const char *semi = memchr(v, ';', n);
    if (semi != NULL)
        n = (size_t)(semi - v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    return n == k && strncasecmp(v, type, k) == 0;
}

bool http_content_type_charset(const http_request_t *r, const char **v, size_t *vn)
{
    const char *ct, *end;
    size_t n;
    if (!http_header(r, "Content-Type", &ct, &n))
        return false;
    for (end = ct + n; (ct = memchr(ct, ';', (size_t)(end - ct))) != NULL;) {
        ct++;
        while (ct < end && (*ct == ' ' || *ct == '\t'))
            ct++;
        if (end - ct < 8 || strncasecmp(ct, "charset=", 8) != 0)
            continue;
        const char *p = ct + 8, *q = p;
        if (p < end && *p == '"') {
            p++;
            const char *close = memchr(p, '"', (size_t)(end - p));
            q = close != NULL ? close : end;
        } else {
            while (q < end && *q != ';' && *q != ' ' && *q != '\t')
                q++;
        }
        *v = p;
        *vn = (size_t)(q - p);
        return true;
    }
    return false;
}

int http_write(http_exchange_t *x, const void *data, size_t n)
{
    http_worker_t *w = x->w;
    if (!server__reserve(&w->out, &w->out_cap, w->out_len + n))
        return ENT_ENOMEM;
    memcpy(w->out + w->out_len, data, n);
    w->out_len += n;
    return ENT_OK;
}

const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return status >= 500 ? "Internal Server Error" : status >= 400 ? "Bad Request" : "OK";
    }
}

/* Two decimal digits of v at p. */
static void server__digits2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

void http_date(char out[HTTP_DATE_LEN + 1])
{
    static _Thread_local time_t formatted = (time_t)-1;
    static _Thread_local char text[HTTP_DATE_LEN + 1];
    time_t now = time(NULL);
    if (now != formatted) {
        /* Not strftime: %a and %b follow the locale; RFC 9110 wants these. */
        static const char days[] = "SunMonTueWedThuFriSat", months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
        struct tm tm;
        if (gmtime_r(&now, &tm) == NULL)
            memset(&tm, 0, sizeof tm);
        unsigned year = (unsigned)(tm.tm_year + 1900) % 10000u;
        memcpy(text, "Thu, 01 Jan 1970 00:00:00 GMT", sizeof text);
        memcpy(text, days + 3 * ((unsigned)tm.tm_wday % 7u), 3);
        server__digits2(text + 5, (unsigned)tm.tm_mday);
        memcpy(text + 8, months + 3 * ((unsigned)tm.tm_mon % 12u), 3);
        server__digits2(text + 12, year / 100);
        server__digits2(text + 14, year % 100);
        server__digits2(text + 17, (unsigned)tm.tm_hour);
        server__digits2(text + 20, (unsigned)tm.tm_min);
        server__digits2(text + 23, (unsigned)tm.tm_sec);
        formatted = now;
    }
    memcpy(out, text, sizeof text);
}

/* Writes a status line and the headers every response of ours has; the
 * body is n bytes, or with streamed a source's (chunked, or up to the
 * close for HTTP/1.0). */
static int server__head(http_exchange_t *x, int status, const char *content_type, const char *extra, size_t n,
                        bool streamed)
{
    char head[1024], date[HTTP_DATE_LEN + 1];
    bool close = x->close || x->req.close;
    int hl;
    http_date(date);
    if (status == 204) /* no body, and so no Content-Length (RFC 9110, 8.6) */
        hl = snprintf(head, sizeof head, "HTTP/1.1 204 %s\r\nDate: %s\r\nX-Request-Id: %s\r\nConnection: %s\r\n",
                      http_reason(status), date, x->request_id, close ? "close" : "keep-alive");
    else if (streamed)
        hl = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\n%sX-Request-Id: %s\r\n"
                      "Connection: %s\r\n",
                      status, http_reason(status), date, content_type,
                      x->chunked ? "Transfer-Encoding: chunked\r\n" : "", x->request_id, close ? "close" : "keep-alive");
    else
        hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d %s\r\nDate: %s\r\n%s%s%sContent-Length: %zu\r\nX-Request-Id: %s\r\n"
                      "Connection: %s\r\n",
                      status, http_reason(status), date, content_type ? "Content-Type: " : "",
                      content_type ? content_type : "", content_type ? "\r\n" : "", n, x->request_id,
                      close ? "close" : "keep-alive");
    if (hl < 0 || (size_t)hl >= sizeof head)
        return ENT_EINVAL;
    int rc = http_write(x, head, (size_t)hl);
    if (rc == ENT_OK && extra != NULL)
        rc = http_write(x, extra, strlen(extra));
    if (rc == ENT_OK)
        rc = http_write(x, "\r\n", 2);
    return rc;
}

int http_respond(http_exchange_t *x, int status, const char *content_type, const char *extra_headers,
                 const void *body, size_t n)
{
    int rc = server__head(x, status, body ? content_type : NULL, extra_headers, body ? n : 0, false);
    if (rc == ENT_OK && body != NULL && n > 0)
        rc = http_write(x, body, n);
    return rc;
}

int http_respond_source(http_exchange_t *x, int status, const char *content_type, const char *extra_headers,
                        const http_source_t *src)
{
    if (x->source.next != NULL || x->retry) { /* one response per exchange, and none when put back */
        src->free(src->arg);
        return ENT_EINVAL;
    }
    /* An HTTP/1.0 client knows no chunks: its body ends with the connection. */
    x->chunked = x->req.minor >= 1;
    if (!x->chunked)
        x->close = true;
    int rc = server__head(x, status, content_type, extra_headers, 0, true);
    if (rc != ENT_OK) {
        src->free(src->arg);
        return rc;
    }
    x->source = *src;
    return ENT_OK;
}

int http_piece_write(http_piece_t *p, const void *data, size_t n)
{
    http_worker_t *w = p->w;
    if (!server__reserve(&w->out, &w->out_cap, w->out_len + n))
        return ENT_ENOMEM;
    memcpy(w->out + w->out_len, data, n);
    w->out_len += n;
    return ENT_OK;
}

void http_discard(http_exchange_t *x)
{
    x->w->out_len = x->out_mark;
    if (x->source.next != NULL) {
        x->source.free(x->source.arg);
        memset(&x->source, 0, sizeof x->source);
    }
}

size_t http_written(const http_exchange_t *x, const char **data)
{
    *data = x->w->out + x->out_mark;
    return x->w->out_len - x->out_mark;
}

void http_close_after(http_exchange_t *x)
{
    x->close = true;
}

int http_socket(const http_exchange_t *x)
{
    return x->fd;
}

bool http_local_authority(const http_exchange_t *x, char *buf, size_t cap)
{
    struct sockaddr_storage a = {0};
    socklen_t al = sizeof a;
    char host[INET6_ADDRSTRLEN];
    if (getsockname(http_socket(x), (struct sockaddr *)&a, &al) != 0)
        return false;
    int n;
    if (a.ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a;
        if (inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host) == NULL)
            return false;
        n = snprintf(buf, cap, "%s:%u", host, (unsigned)ntohs(v4->sin_port));
    } else if (a.ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&a;
        if (inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host) == NULL)
            return false;
        n = snprintf(buf, cap, "[%s]:%u", host, (unsigned)ntohs(v6->sin6_port));
    } else {
        return false;
    }
    return n > 0 && (size_t)n < cap;
}

void http_set_route(http_exchange_t *x, const char *route)
{
    x->route = route;
}

bool http_retry_later(http_exchange_t *x, double max_wait_s)
{
    struct http_server *s = x->w->s;
    /* What waits is counted against the same budget as requests still
     * arriving: over it, the front answers now. */
    long long held = (long long)(x->w->in_len - x->w->in_pos) +
                     atomic_load_explicit(&s->buffered_in, memory_order_relaxed);
    if (http_parked_seconds(x) >= max_wait_s || x->deferred != NULL || x->source.next != NULL ||
        atomic_load(&s->stopping) ||
        held > (long long)s->cfg->max_buffered_mb * 1048576)
        return false;
    x->retry = true;
    return true;
}

double http_parked_seconds(const http_exchange_t *x)
{
    return x->parked_at > 0 ? server__now() - x->parked_at : 0;
}

/* ---------------------------------------------------------------------- */
/* Refusals: answers the server gives on a front's behalf. */

/* Writes a refusal of status into buf (len bytes) in the format of front
 * f, with request id rid; returns its length. The connection closes after
 * it. Also used by the reaper (408), outside any worker. */
static size_t server__refusal(const http_front_t *f, char *buf, size_t len, int status, const char *msg,
                              const char *rid, const char *target, size_t target_len)
{
    char body[2048];
    const char *ctype = "text/plain; charset=utf-8";
    size_t bl = f->error_body ? f->error_body(status, msg, target, target_len, body, sizeof body, &ctype) : 0;
    if (f->error_body == NULL)
        bl = (size_t)snprintf(body, sizeof body, "%s\n", msg);
    if (bl >= sizeof body)
        bl = sizeof body - 1;
    char date[HTTP_DATE_LEN + 1];
    http_date(date);
    int n = snprintf(buf, len,
                     "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "X-Request-Id: %s\r\n%sConnection: close\r\n\r\n%.*s",
                     status, http_reason(status), date, ctype, bl, rid, status == 503 ? "Retry-After: 1\r\n" : "",
                     (int)bl, body);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

/* Queues a refusal in the worker's output buffer. */
static void server__refuse(http_worker_t *w, int front, int status, const char *msg, const char *rid,
                           const char *target, size_t target_len)
{
    char buf[2048], id[HTTP_REQUEST_ID_MAX];
    if (rid == NULL) {
        if (ids_request_id(id, sizeof id) != ENT_OK)
            snprintf(id, sizeof id, "0000000000000000");
        rid = id;
    }
    size_t n = server__refusal(&w->s->fronts[front], buf, sizeof buf, status, msg, rid, target, target_len);
    if (server__reserve(&w->out, &w->out_cap, w->out_len + n)) {
        memcpy(w->out + w->out_len, buf, n);
        w->out_len += n;
    }
    metrics_http("refused", NULL, status, 0);
}

/* What a refusal of a partly read request (buf, len bytes) says: the
 * front its target goes to, its target, and the client's X-Request-Id
 * once that header line has arrived, else one of ours (rid holds
 * HTTP_REQUEST_ID_MAX bytes). Returns the front. */
static int server__partial(const struct http_server *s, const char *buf, size_t len, char *rid,
                           const char **target, size_t *target_len)
{
    frame_t f;
    frame_scan(buf, len, &s->limits, &f);
    if (f.request_id_len > 0 && f.request_id_len < HTTP_REQUEST_ID_MAX) {
        memcpy(rid, buf + f.request_id_off, f.request_id_len);
        rid[f.request_id_len] = '\0';
    } else if (ids_request_id(rid, HTTP_REQUEST_ID_MAX) != ENT_OK) {
        snprintf(rid, HTTP_REQUEST_ID_MAX, "0000000000000000");
    }
    *target = buf + f.target_off;
    *target_len = f.target_len;
    return server__route(s, buf + f.target_off, f.target_len);
}

/* Answers the request that starts with head (n bytes: enough to route
 * it) with a 503 "stopping" and closes fd's sending side, then reads what
 * the client sent after it: a close with unread bytes would reset the
 * connection, 503 and all. The caller closes fd. */
static void server__stopping_503(struct http_server *s, int fd, const char *head, size_t n)
{
    char buf[2048], rid[HTTP_REQUEST_ID_MAX];
    const char *target;
    size_t tl;
    const http_front_t *f = &s->fronts[server__partial(s, head, n, rid, &target, &tl)];
    size_t len = server__refusal(f, buf, sizeof buf, 503, "the server is stopping; try again", rid, target, tl);
    (void)send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(fd, SHUT_WR);
    for (int k = 0; k < 16 && recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0; k++)
        ;
}

/* A connection accepted once stopping: its request, if it has sent one,
 * is answered 503; then it is closed (never entered in the tables). */
static void server__turn_away_stopping(struct http_server *s, int fd)
{
    char head[2048];
    ssize_t n = recv(fd, head, sizeof head, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0)
        server__stopping_503(s, fd, head, (size_t)n);
    close(fd);
}

/* ---------------------------------------------------------------------- */
/* Serving. */

/* Accepts a Host header only if it looks like host[:port]: fronts echo it
 * into addresses they send (the WSDL's, a poll URL). */
static bool server__host_ok(const char *v, size_t n)
{
    if (n == 0 || n > SERVER_MAX_HOST)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == ':' || c == '[' || c == ']' || c == '_'))
            return false;
    }
    return true;
}

/* The method as a static string for /metrics (whose labels must outlive
 * the request): the standard ones, else "other". */
static const char *server__method_label(const char *m)
{
    static const char *const known[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(m, known[i]) == 0)
            return known[i];
    return "other";
}

/* The status code of the response at out (n bytes), 0 if none. */
static int server__status_of(const char *out, size_t n)
{
    if (n < 12 || memcmp(out, "HTTP/1.", 7) != 0)
        return 0;
    return (out[9] - '0') * 100 + (out[10] - '0') * 10 + (out[11] - '0');
}

/* Whether a path is served while starting: what supervisors and load
 * balancers ask. */
static bool server__served_while_starting(const char *path)
{
    return strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0 || strcmp(path, "/metrics") == 0;
}

/* Serves the whole request f at in_pos in the worker's input buffer;
 * returns whether the connection is to close after the response. */
static bool server__serve_one(http_worker_t *w, int fd, const frame_t *f, http_deferred_t **deferred, bool *retry)
{
    struct http_server *s = w->s;
    const char *raw = w->in + w->in_pos;
    http_exchange_t x;
    double t0 = server__now();

    memset(&x, 0, offsetof(http_exchange_t, method));
    x.w = w;
    x.fd = fd;
    x.out_mark = w->out_len;
    x.parked_at = s->conns[fd].parked_at;
    memcpy(x.method, raw + f->method_off, f->method_len);
    x.method[f->method_len] = '\0';
    /* HEAD is GET without the body: the fronts serve GET, the body they
     * write is dropped below (Content-Length stays: it is HEAD's answer). */
    bool head = strcmp(x.method, "HEAD") == 0;
    if (head)
        memcpy(x.method, "GET", 4);
    size_t tl = f->target_root ? 1 : f->target_len;
    memcpy(x.target, f->target_root ? "/" : raw + f->target_off, tl);
    x.target[tl] = '\0';
    const char *q = memchr(x.target, '?', tl);
    size_t pl = q ? (size_t)(q - x.target) : tl;
    memcpy(x.path, x.target, pl);
    x.path[pl] = '\0';
    x.host[0] = '\0';
    if (server__host_ok(raw + f->host_off, f->host_len)) {
        memcpy(x.host, raw + f->host_off, f->host_len);
        x.host[f->host_len] = '\0';
    }
    if (f->request_id_len > 0) {
        memcpy(x.request_id, raw + f->request_id_off, f->request_id_len);
        x.request_id[f->request_id_len] = '\0';
    } else if (ids_request_id(x.request_id, sizeof x.request_id) != ENT_OK) {
        snprintf(x.request_id, sizeof x.request_id, "0000000000000000");
    }
    log_set_request_id(x.request_id);

    x.req.method = x.method;
    x.req.target = x.target;
    x.req.path = x.path;
    x.req.query = q ? x.target + pl + 1 : "";
    x.req.minor = f->minor;
    /* A stopping server answers what has arrived with Connection: close:
     * the client sends nothing more on it, and knows it was served. */
    x.req.close = f->close || atomic_load(&s->stopping);
    x.req.host = x.host;
    x.req.request_id = x.request_id;
    x.req.peer = s->conns[fd].addr;
    x.req.headers = raw + f->headers_off;
    x.req.headers_len = f->headers_len;
    int front = server__route(s, x.target, tl);
    if (f->chunked) {
        if (!server__reserve(&w->body, &w->body_cap, f->body_len + 1)) {
            log_error("out of memory for a request of %zu bytes", f->total);
            server__refuse(w, front, 413, "request too large for the memory available", x.request_id, x.path,
                           strlen(x.path));
            log_set_request_id(NULL);
            return true;
        }
        frame_body(raw, f, w->body);
        x.req.body = w->body;
    } else {
        /* Served where it lies: the worker owns the buffer. */
        x.req.body = w->in + w->in_pos + f->header_len;
    }
    x.req.body_len = f->body_len;

    if (atomic_load(&s->phase) == HTTP_STARTING && !server__served_while_starting(x.path)) {
        server__refuse(w, front, 503, "the service is starting: it waits for its database; try again", x.request_id,
                       x.path, strlen(x.path));
        log_set_request_id(NULL);
        return true;
    }
    s->fronts[front].serve(w->state[front], &x);
    /* (The front has let go of the request's memory by now.) */
    if (x.trim)
        atomic_store_explicit(&server__trim_wanted, true, memory_order_relaxed);

    if (x.retry) {
        /* Put back: nothing of it goes out, and nothing is counted yet. */
        w->out_len = x.out_mark;
        *retry = true;
        if (f->chunked)
            server__shrink(&w->body, &w->body_cap);
        log_set_request_id(NULL);
        return false;
    }
    s->conns[fd].parked_at = 0;
    if (x.deferred != NULL) {
        /* Answered later, into the deferred exchange (anything written
         * here after http_defer is a bug, and dropped). */
        http_deferred_t *d = x.deferred;
        w->out_len = x.out_mark;
        d->front = front;
        d->head = head;
        d->close = x.req.close; /* the request's, or the server's once stopping */
        d->t0 = t0;
        *deferred = d;
        if (f->chunked)
            server__shrink(&w->body, &w->body_cap);
        log_set_request_id(NULL);
        return false;
    }
    bool close = x.close || x.req.close; /* as the Connection header said */
    if (x.source.next != NULL) {
        /* The body follows from the source once the head has gone (HEAD:
         * the head is the answer). */
        if (head) {
            x.source.free(x.source.arg);
        } else {
            s->conns[fd].source = x.source;
            s->conns[fd].chunked = x.chunked;
        }
    }
    if (w->out_len == x.out_mark) {
        /* The front wrote nothing (a bug): the client must not wait. */
        log_error("no response written for %s %s", x.method, x.path);
        server__refuse(w, front, 500, "internal error: no response", x.request_id, x.path, strlen(x.path));
        close = true;
    }
    if (head) {
        const char *end = memmem(w->out + x.out_mark, w->out_len - x.out_mark, "\r\n\r\n", 4);
        if (end != NULL)
            w->out_len = (size_t)(end + 4 - w->out);
    }
    metrics_http(x.route, head ? "HEAD" : server__method_label(x.method), server__status_of(w->out + x.out_mark, w->out_len - x.out_mark),
                 server__now() - t0);
    if (f->chunked)
        server__shrink(&w->body, &w->body_cap);
    log_set_request_id(NULL);
    return close;
}

/* ---------------------------------------------------------------------- */
/* Connections. */

/* Frees what a connection holds and takes it off the budget. Caller holds
 * s->lock or owns the connection (CONN_BUSY). */
static void server__conn_reset(struct http_server *s, conn_t *c)
{
    if (c->source.next != NULL)
        c->source.free(c->source.arg);
    /* An answer its client never took, or a request it never finished:
     * given back to the system as after any large one. */
    if (c->in_cap > 16 * SERVER_BUF_MIN || c->out_cap > 16 * SERVER_BUF_MIN)
        atomic_store_explicit(&server__trim_wanted, true, memory_order_relaxed);
    atomic_fetch_sub_explicit(&s->buffered_in, (long long)c->in_cap, memory_order_relaxed);
    atomic_fetch_sub_explicit(&s->buffered_out, (long long)c->out_cap, memory_order_relaxed);
    free(c->in);
    free(c->out);
    memset(c, 0, sizeof *c);
}

static void server__conn_close(struct http_server *s, int fd)
{
    /* Caller holds s->lock. Forget the descriptor before closing it: once
     * closed, accept may hand out the same number again. */
    conn_t *c = &s->conns[fd];
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
    if (c->turned_away) {
        s->nturned_away--;
    } else {
        peers_del(s->peers, c->addr);
        atomic_fetch_sub(&s->nopen, 1);
    }
    server__conn_reset(s, c);
    c->state = CONN_FREE;
    close(fd);
}

/* Hands a connection (held by this worker) back to epoll to wait as
 * c->wait says; closes it when stopping, unless it has an answer to
 * finish writing (the stopping workers wait for those). */
static void server__park(struct http_server *s, int fd)
{
    conn_t *c = &s->conns[fd];
    /* A connection with whole requests already read waits for "writable",
     * which a healthy socket is at once: it goes to the end of the queue. */
    uint32_t events = c->wait == WAIT_WRITE ? EPOLLOUT : c->resume ? EPOLLOUT | EPOLLIN : EPOLLIN | EPOLLRDHUP;
    struct epoll_event ev = {.events = events | EPOLLONESHOT, .data.fd = fd};
    pthread_mutex_lock(&s->lock);
    c->state = CONN_IDLE;
    if ((atomic_load(&s->stopping) && c->wait != WAIT_WRITE) || epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev) != 0)
        server__conn_close(s, fd);
    pthread_mutex_unlock(&s->lock);
}

/* Serves again up to n parked connections, oldest first: back to epoll,
 * whose "writable" comes at once; returns how many of the n found none.
 * Caller holds s->lock. */
static int server__unpark_locked(struct http_server *s, int n)
{
    while (n > 0 && s->nparked > 0) {
        int fd = s->parked[s->parked_head];
        s->parked_head = (s->parked_head + 1) % s->nconns_max;
        s->nparked--;
        conn_t *c = &s->conns[fd];
        if (c->state != CONN_IDLE || c->wait != WAIT_PARKED)
            continue; /* closed meanwhile: its descriptor may be another's now */
        c->wait = WAIT_READ;
        c->resume = true;
        struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLONESHOT, .data.fd = fd};
        if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev) != 0)
            server__conn_close(s, fd);
        n--;
    }
    return n;
}

void http_server_retry_parked(http_server_t *s, int n)
{
    pthread_mutex_lock(&s->lock);
    int left = server__unpark_locked(s, n);
    s->turns_owed = left < SERVER_TURNS_OWED ? left : SERVER_TURNS_OWED;
    pthread_mutex_unlock(&s->lock);
}

int http_server_parked(http_server_t *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->nparked;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* Puts back the request at w->in_pos (held by this worker, not served):
 * it and whatever followed it wait with the connection, which waits for
 * server__unpark_locked and not in epoll (its one-shot event was taken).
 * A request put back again keeps its place at the front of the queue. */
static void server__put_back(struct http_server *s, http_worker_t *w, int fd)
{
    conn_t *c = &s->conns[fd];
    size_t n = w->in_len - w->in_pos;
    memmove(w->in, w->in + w->in_pos, n);
    w->in_len = n;
    w->in_pos = 0;
    if (w->in_cap > 2 * n + SERVER_BUF_MIN) { /* what waits holds its own size, not a read's */
        char *p = realloc(w->in, n > 0 ? n : 1);
        if (p != NULL) {
            w->in = p;
            w->in_cap = n > 0 ? n : 1;
        }
    }
    server__hand_over(&s->buffered_in, &w->in, &w->in_cap, &c->in, &c->in_cap);
    c->in_len = n;
    w->in_len = 0;
    bool again = c->parked_at != 0;
    if (!again)
        c->parked_at = server__now();
    pthread_mutex_lock(&s->lock);
    c->state = CONN_IDLE;
    c->wait = WAIT_PARKED;
    if (s->nparked == s->nconns_max) /* only entries of closed connections can fill it */
        (void)server__unpark_locked(s, 1);
    if (again) {
        s->parked_head = (s->parked_head + s->nconns_max - 1) % s->nconns_max;
        s->parked[s->parked_head] = fd;
    } else {
        s->parked[(s->parked_head + s->nparked) % s->nconns_max] = fd;
    }
    s->nparked++;
    if (s->turns_owed > 0) {
        s->turns_owed--;
        (void)server__unpark_locked(s, 1);
    }
    pthread_mutex_unlock(&s->lock);
}

static void server__close(struct http_server *s, int fd)
{
    pthread_mutex_lock(&s->lock);
    server__conn_close(s, fd);
    pthread_mutex_unlock(&s->lock);
}

/* Starts closing a connection whose response is written: no more writes,
 * and what the client still sends is dropped until it closes (in epoll). */
static void server__linger(struct http_server *s, int fd)
{
    conn_t *c = &s->conns[fd];
    shutdown(fd, SHUT_WR);
    c->wait = WAIT_LINGER;
    c->since = clock_seconds();
    server__park(s, fd);
}

/* Whether a connection waiting in epoll has nothing to read: nothing in
 * its buffer, and nothing arrived in its socket that a worker has not yet
 * come for (a request sent at once after connecting is there before the
 * worker is). */
static bool server__silent(const conn_t *c, int fd)
{
    int waiting = 0;
    return c->in_len == 0 && !(ioctl(fd, FIONREAD, &waiting) == 0 && waiting > 0);
}

/* Tells the client of a connection whose request has not arrived in time
 * so (408), before it is closed. */
static void server__too_slow(struct http_server *s, int fd)
{
    conn_t *c = &s->conns[fd];
    char buf[2048], rid[HTTP_REQUEST_ID_MAX];
    const char *target;
    size_t tl;
    const http_front_t *f = &s->fronts[server__partial(s, c->in, c->in_len, rid, &target, &tl)];
    size_t n = server__refusal(f, buf, sizeof buf, 408, "the request did not arrive in time", rid, target, tl);
    (void)send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static bool server__shed_one(struct http_server *s, int fd, int kind, const unsigned char *addr)
{
    static const char *const kinds[] = {"the oldest silent", "the oldest idle keep-alive",
                                        "the slowest arriving"};
    if (kind == 2)
        server__too_slow(s, fd);
    log_info("%s: closed %s connection%s to make room",
             addr ? "too many connections from an address" : "connection table full", kinds[kind],
             addr ? " of that address" : "");
    server__conn_close(s, fd);
    return true;
}

/* Makes room for a new connection when the table is full: closes the
 * oldest connection that has sent nothing yet, or else the oldest idle
 * keep-alive one, or else, of the requests arriving for SERVER_SLOW_SHED_S
 * or more, the one arriving at the fewest bytes a second (with a 408). For
 * a client address at its limit (addr not NULL), only the last, among its
 * own connections: its silent and idle ones are its own to close, and its
 * next one is turned away (503) as before. False when there is nothing to
 * close. Caller holds s->lock. */
static bool server__shed(struct http_server *s, const unsigned char *addr)
{
    time_t now = clock_seconds();
    int slow = -1;
    /* The oldest by the table alone, then asked of the kernel: one system
     * call per shedding rather than one per connection, as the oldest
     * silent connection is nearly always still silent. */
    for (int tries = 0; tries < 4; tries++) {
        int best[3] = {-1, -1, -1};
        for (int fd = 0; fd < s->nconns_max; fd++) {
            const conn_t *c = &s->conns[fd];
            if (c->state != CONN_IDLE || c->wait != WAIT_READ || c->turned_away || c->resume)
                continue;
            if (addr != NULL && memcmp(c->addr, addr, PEERS_ADDR_LEN) != 0)
                continue;
            if (c->in_len > 0) {
                /* Of those, the slowest: fewest bytes a second so far (a
                 * large body arriving at a steady pace is not a trickle). */
                const conn_t *b = best[2] >= 0 ? &s->conns[best[2]] : NULL;
                if (c->since > 0 && now - c->since >= SERVER_SLOW_SHED_S &&
                    (b == NULL || (unsigned long long)c->in_len * (unsigned long long)(now - b->since) <
                                      (unsigned long long)b->in_len * (unsigned long long)(now - c->since)))
                    best[2] = fd;
                continue;
            }
            if (addr != NULL)
                continue;
            int *b = &best[c->served ? 1 : 0];
            if (*b < 0 || c->touched < s->conns[*b].touched)
                *b = fd;
        }
        slow = best[2];
        int kind = best[0] >= 0 ? 0 : best[1] >= 0 ? 1 : 2, victim = best[kind];
        if (victim < 0)
            return false;
        if (kind < 2 && !server__silent(&s->conns[victim], victim)) {
            /* A request has arrived for it (a connection just accepted,
             * not read yet, looks silent too): not a candidate this time. */
            s->conns[victim].touched = atomic_fetch_add_explicit(&s->clock, 1, memory_order_relaxed);
            continue;
        }
        return server__shed_one(s, victim, kind, addr);
    }
    return slow >= 0 && server__shed_one(s, slow, 2, addr);
}

/* Answers a connection over a limit with a 503 (Retry-After) and closes
 * it: never a silent close or a reset. What the client has sent is read
 * and dropped first, and (when there is room) the connection lingers in
 * epoll until the client closes, so that it reads the answer. */
static void server__turn_away(struct http_server *s, int fd, const char *why)
{
    char buf[2048], rid[HTTP_REQUEST_ID_MAX], sink[4096];
    while (recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0)
        ;
    if (ids_request_id(rid, sizeof rid) != ENT_OK)
        snprintf(rid, sizeof rid, "0000000000000000");
    size_t n = server__refusal(&s->fronts[server__route(s, "", 0)], buf, sizeof buf, 503, why, rid, NULL, 0);
    (void)send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(fd, SHUT_WR);
    metrics_http("refused", NULL, 503, 0);
    log_warn("connection refused: %s", why);
    pthread_mutex_lock(&s->lock);
    if (fd < s->nconns_max && s->nturned_away < SERVER_MAX_TURNED_AWAY && !atomic_load(&s->stopping)) {
        conn_t *c = &s->conns[fd];
        memset(c, 0, sizeof *c);
        c->state = CONN_IDLE;
        c->wait = WAIT_LINGER;
        c->turned_away = true;
        c->since = c->last_active = clock_seconds();
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.fd = fd};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == 0) {
            s->nturned_away++;
            fd = -1;
        } else {
            c->state = CONN_FREE;
            c->turned_away = false;
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (fd >= 0)
        close(fd);
}

static void server__accept(struct http_server *s)
{
    for (;;) {
        union {
            struct sockaddr sa;
            struct sockaddr_storage ss;
        } peer;
        socklen_t pl = sizeof peer;
        memset(&peer, 0, sizeof peer);
        int fd = accept4(s->listen_fd, &peer.sa, &pl, SOCK_CLOEXEC);
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
        unsigned char addr[PEERS_ADDR_LEN];
        peers_addr(&peer.sa, addr);
        const char *why = NULL;
        pthread_mutex_lock(&s->lock);
        if (atomic_load(&s->stopping)) {
            pthread_mutex_unlock(&s->lock);
            server__turn_away_stopping(s, fd);
            continue;
        }
        if (fd >= s->nconns_max)
            why = "the server has no room for another connection; try again";
        else if (!peers_add(s->peers, addr, s->cfg->max_connections_per_client) &&
                 (!server__shed(s, addr) || !peers_add(s->peers, addr, s->cfg->max_connections_per_client)))
            why = "too many connections from this client address; use fewer, or try again";
        else if (atomic_load(&s->nopen) >= s->cfg->max_connections && !server__shed(s, NULL)) {
            peers_del(s->peers, addr);
            why = "the server has too many connections, all busy; try again";
        }
        if (why != NULL) {
            pthread_mutex_unlock(&s->lock);
            server__turn_away(s, fd, why);
            continue;
        }
        atomic_fetch_add(&s->nopen, 1);
        conn_t *c = &s->conns[fd];
        memset(c, 0, sizeof *c);
        memcpy(c->addr, addr, sizeof addr);
        c->state = CONN_IDLE;
        c->wait = WAIT_READ;
        c->last_active = clock_seconds();
        c->touched = atomic_fetch_add_explicit(&s->clock, 1, memory_order_relaxed);
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
static void server__reap_idle(struct http_server *s, time_t now)
{
    pthread_mutex_lock(&s->lock);
    /* Mostly full: connections that have sent nothing get a short while. */
    bool busy = atomic_load(&s->nopen) * 4 >= s->cfg->max_connections * SERVER_BUSY_QUARTERS;
    int first_byte_s = busy ? SERVER_FIRST_BYTE_BUSY_S : s->cfg->recv_timeout_s;
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
        case WAIT_PARKED:
            expired = false; /* served again below */
            break;
        default:
            if (c->in_len > 0) {
                int waiting = 0;
                /* Not the client's fault when whole requests, or more of
                 * this one, wait for a worker that has been busy. */
                expired = !c->resume && now - c->since >= s->cfg->recv_timeout_s &&
                          !(ioctl(fd, FIONREAD, &waiting) == 0 && waiting > 0);
                if (expired)
                    server__too_slow(s, fd);
            } else {
                expired = now - c->last_active >= (c->served ? s->cfg->keepalive_timeout_s : first_byte_s) &&
                          (!busy || server__silent(c, fd));
            }
        }
        if (expired)
            server__conn_close(s, fd);
    }
    /* Requests put back are tried again at least once a sweep. */
    (void)server__unpark_locked(s, s->nparked);
    if (atomic_exchange(&s->accept_paused, false) && !atomic_load(&s->stopping)) {
        struct epoll_event lev = {.events = EPOLLIN | EPOLLONESHOT, .data.fd = s->listen_fd};
        epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->listen_fd, &lev);
    }
    atomic_store_explicit(&s->last_reap, (long long)now, memory_order_relaxed);
    pthread_mutex_unlock(&s->lock);
    log_flush_repeats();
    /* Pieces below the mapping threshold freed in the middle of a heap
     * stay with the process otherwise (at most once a second, and only
     * after large requests: it walks every arena). */
    if (atomic_exchange_explicit(&server__trim_wanted, false, memory_order_relaxed))
        malloc_trim(0);
}

/* Takes a client connection that epoll reported (one-shot, so no other
 * worker has it) unless the reaper closed it meanwhile. */
static bool server__claim(struct http_server *s, int fd)
{
    bool mine = false;
    pthread_mutex_lock(&s->lock);
    /* A parked connection is out of epoll: an event for its descriptor is
     * a stale one of an earlier connection, and it is unparked in turn. */
    if (fd >= 0 && fd < s->nconns_max && s->conns[fd].state == CONN_IDLE && s->conns[fd].wait != WAIT_PARKED) {
        s->conns[fd].state = CONN_BUSY;
        mine = true;
    }
    pthread_mutex_unlock(&s->lock);
    return mine;
}

/* Reads what has arrived on fd into the worker's input buffer, without
 * waiting. Returns the bytes read (0: none yet), or -1 when the peer has
 * closed or the connection failed. */
static ssize_t server__read(http_worker_t *w, int fd, size_t max)
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
            /* A short read took all there was: asking again would only
             * say so (one system call per request saved). */
            if ((size_t)n < room)
                return (ssize_t)got;
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

/* Makes the next piece of the connection's streamed body in the worker's
 * (empty) output, framed as a chunk when chunked; after the last piece,
 * the last chunk, and the source is freed. */
static int server__pump(http_worker_t *w, conn_t *c)
{
    /* The chunk's size goes in front once known: eight hex digits (leading
     * zeros are allowed, RFC 9112 7.1). */
    static const char hex[] = "0123456789abcdef";
    const size_t size_len = 10;
    bool end = false;
    if (c->chunked && !server__reserve(&w->out, &w->out_cap, size_len))
        return ENT_ENOMEM;
    w->out_len = c->chunked ? size_len : 0;
    http_piece_t p = {w};
    int rc = c->source.next(c->source.arg, &p, &end);
    size_t n = w->out_len - (c->chunked ? size_len : 0);
    if (rc == ENT_OK && c->chunked && n > 0xffffffffu)
        rc = ENT_EINVAL;
    if (rc != ENT_OK) {
        w->out_len = 0;
        return rc;
    }
    if (c->chunked) {
        if (n == 0) {
            w->out_len = 0; /* an empty chunk would end the body */
        } else {
            for (int i = 0; i < 8; i++)
                w->out[i] = hex[(n >> (28 - 4 * i)) & 0xf];
            memcpy(w->out + 8, "\r\n", 2);
            if ((rc = http_piece_write(&p, "\r\n", 2)) != ENT_OK)
                return rc;
        }
        if (end && (rc = http_piece_write(&p, "0\r\n\r\n", 5)) != ENT_OK)
            return rc;
    }
    if (end) {
        c->source.free(c->source.arg);
        memset(&c->source, 0, sizeof c->source);
    }
    return ENT_OK;
}

/* Writes the worker's output, and then a streamed body's pieces as the
 * client takes them; what the client cannot take yet waits with the
 * connection (and no further request is read until it has gone). A
 * connection to close then lingers: what the client still sends is
 * dropped until it closes, so that it reads the answer rather than a
 * reset. Returns false when the connection was given up or parked. */
static bool server__flush(struct http_server *s, http_worker_t *w, int fd, bool close_after)
{
    conn_t *c = &s->conns[fd];
    size_t off = 0;
    int rc;
    for (int pieces = 0;; pieces++) {
        off = 0;
        rc = server__send(fd, w->out, w->out_len, &off);
        if (rc < 0) {
            /* The client is gone: its answer, however large, goes back
             * as a delivered one would. */
            w->out_len = 0;
            server__shrink(&w->out, &w->out_cap);
            server__close(s, fd);
            return false;
        }
        /* A streamed body goes on in another pass now and then, so that
         * other connections get their turn. */
        if (rc == 0 || c->source.next == NULL || pieces == SERVER_SOURCE_PIECES)
            break;
        int prc = server__pump(w, c);
        if (prc != ENT_OK) {
            log_error("a streamed response was cut short: %s", ent_strerror(prc));
            server__close(s, fd);
            return false;
        }
    }
    if (rc == 0 || c->source.next != NULL) {
        /* The unsent rest (and any pipelined input) waits in epoll; a
         * streamed body's next piece is made when the connection comes
         * back. */
        if (rc == 0) {
            server__hand_over(&s->buffered_out, &w->out, &w->out_cap, &c->out, &c->out_cap);
            c->out_len = w->out_len;
            c->out_off = off;
        }
        w->out_len = 0;
        server__shrink(&w->out, &w->out_cap);
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
        c->since = clock_seconds();
        server__park(s, fd);
        return false;
    }
    w->out_len = 0;
    server__shrink(&w->out, &w->out_cap);
    if (close_after) {
        server__linger(s, fd);
        return false;
    }
    return true;
}

/* Drops what a lingering connection's client still sends; closes on its
 * end of the connection. */
static void server__drain(struct http_server *s, int fd)
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
static bool server__stash(struct http_server *s, http_worker_t *w, int fd, bool whole_waiting)
{
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
        char rid[HTTP_REQUEST_ID_MAX];
        const char *target;
        size_t tl;
        int front = server__partial(s, w->in, w->in_len, rid, &target, &tl);
        server__refuse(w, front, 503, "the server is receiving too many requests at once; try again", rid, target,
                       tl);
        w->in_len = 0;
        server__flush(s, w, fd, true);
        return false;
    }
    if (c->since == 0)
        c->since = clock_seconds();
    server__hand_over(&s->buffered_in, &w->in, &w->in_cap, &c->in, &c->in_cap);
    c->in_len = n;
    w->in_len = 0;
    server__park(s, fd);
    return true;
}

/* The message for a request refused while framing. */
static const char *server__frame_message(const frame_t *f, char *buf, size_t len)
{
    if (f->http_status == 413) {
        snprintf(buf, len, "request body larger than %zu bytes", f->max_body);
        return buf;
    }
    return f->why;
}

/* Leaves what follows a deferred request (pipelined bytes) with the
 * connection, whose owner is now the deferred response. */
static void server__keep_input(struct http_server *s, http_worker_t *w, conn_t *c)
{
    size_t n = w->in_len - w->in_pos;
    c->resume = n > 0;
    if (n > 0) {
        memmove(w->in, w->in + w->in_pos, n);
        server__hand_over(&s->buffered_in, &w->in, &w->in_cap, &c->in, &c->in_cap);
        c->in_len = n;
    }
    w->in_len = w->in_pos = 0;
}

/* Sends a deferred response (its last party has let go) and hands its
 * connection on: to epoll for its next request, at once when the next is
 * already read, or to wait for the client to take the rest. */
static void server__finish(http_deferred_t *d)
{
    struct http_server *s = d->s;
    http_worker_t *w = &d->w;
    http_exchange_t *x = &d->x;
    int fd = d->fd;
    conn_t *c = &s->conns[fd];
    bool close = x->close || d->close;
    char rid[HTTP_REQUEST_ID_MAX]; /* this thread's own request's */

    snprintf(rid, sizeof rid, "%s", log_request_id());
    log_set_request_id(x->request_id);
    if (x->source.next != NULL) {
        if (d->head) {
            x->source.free(x->source.arg);
        } else {
            c->source = x->source;
            c->chunked = x->chunked;
        }
    }
    if (w->out_len == 0) {
        log_error("no response written for %s %s", x->method, x->path);
        server__refuse(w, d->front, 500, "internal error: no response", x->request_id, x->path, strlen(x->path));
        close = true;
    }
    if (d->head) {
        const char *end = memmem(w->out, w->out_len, "\r\n\r\n", 4);
        if (end != NULL)
            w->out_len = (size_t)(end + 4 - w->out);
    }
    metrics_http(x->route, d->head ? "HEAD" : server__method_label(x->method), server__status_of(w->out, w->out_len),
                 server__now() - d->t0);
    c->last_active = clock_seconds();
    if (server__flush(s, w, fd, close)) {
        c->wait = WAIT_READ;
        server__park(s, fd);
    }
    free(w->out);
    free(d);
    atomic_fetch_sub_explicit(&s->ndeferred, 1, memory_order_release);
    log_set_request_id(rid);
}

http_deferred_t *http_defer(http_exchange_t *x, void (*start)(void *arg), void *arg)
{
    if (x->retry || x->deferred != NULL || x->source.next != NULL || x->w->out_len != x->out_mark)
        return NULL;
    http_deferred_t *d = malloc(sizeof *d);
    if (d == NULL)
        return NULL;
    d->s = x->w->s;
    atomic_init(&d->refs, 2);
    d->fd = x->fd;
    d->start = start;
    d->start_arg = arg;
    memset(&d->w, 0, sizeof d->w);
    d->w.s = d->s;
    d->x = *x;
    d->x.w = &d->w;
    d->x.deferred = d;
    d->x.out_mark = 0;
    /* The request's own texts come along; its headers and body stay with
     * the worker, which goes on to other connections. */
    d->x.req.method = d->x.method;
    d->x.req.target = d->x.target;
    d->x.req.path = d->x.path;
    d->x.req.query = x->req.query[0] != '\0' ? d->x.target + (x->req.query - x->target) : "";
    d->x.req.host = d->x.host;
    d->x.req.request_id = d->x.request_id;
    d->x.req.headers = NULL;
    d->x.req.headers_len = 0;
    d->x.req.body = NULL;
    d->x.req.body_len = 0;
    x->deferred = d;
    atomic_fetch_add_explicit(&d->s->ndeferred, 1, memory_order_relaxed);
    return d;
}

http_exchange_t *http_deferred_exchange(http_deferred_t *d)
{
    return &d->x;
}

void http_resume(http_deferred_t *d)
{
    if (atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) == 1)
        server__finish(d);
}

/* A connection epoll reported ready (claimed by this worker): goes on with
 * what it waits for, then reads what has arrived and serves the whole
 * requests in it (at most SERVER_MAX_PIPELINE before it goes back to the
 * queue). Once stopping, what has arrived is served with Connection: close
 * (part of a request gets a 503), and the connection is closed. */
static void server__event(struct http_server *s, http_worker_t *w, int fd)
{
    conn_t *c = &s->conns[fd]; /* ours while CONN_BUSY */
    /* Room for one byte more than frame_scan accepts: it refuses first. */
    const size_t max_in = frame_max_raw(&s->limits) + 1;
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
                c->since = clock_seconds(); /* the send timeout counts time without progress */
            server__park(s, fd);
            return;
        }
        atomic_fetch_sub_explicit(&s->buffered_out, (long long)c->out_cap, memory_order_relaxed);
        free(c->out);
        c->out = NULL;
        c->out_len = c->out_off = c->out_cap = 0;
        c->last_active = clock_seconds(); /* the keep-alive wait starts when the answer is out */
        c->touched = atomic_fetch_add_explicit(&s->clock, 1, memory_order_relaxed);
        if (c->source.next != NULL) {
            /* The next pieces of a streamed body; lingers or parks when done
             * or when the client is slow. */
            w->out_len = 0;
            if (!server__flush(s, w, fd, c->close_after))
                return;
        } else if (c->close_after) {
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
        if (read_now) {
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
        frame_scan(w->in + w->in_pos, w->in_len - w->in_pos, &s->limits, &f);
        if (f.status == FRAME_ERROR) {
            char msg[96];
            const char *m = server__frame_message(&f, msg, sizeof msg);
            int front = server__route(s, w->in + w->in_pos + f.target_off, f.target_len);
            char rid[HTTP_REQUEST_ID_MAX];
            const char *rp = NULL;
            if (f.request_id_len > 0) {
                memcpy(rid, w->in + w->in_pos + f.request_id_off, f.request_id_len);
                rid[f.request_id_len] = '\0';
                rp = rid;
            }
            log_info("request refused: HTTP %d, %s", f.http_status, m);
            server__refuse(w, front, f.http_status, m, rp, w->in + w->in_pos + f.target_off, f.target_len);
            w->in_len = w->in_pos = 0;
            server__flush(s, w, fd, true);
            break;
        }
        if (f.status == FRAME_MORE) {
            if (!read_now) {
                read_now = true; /* served what was read: read what came since */
                continue;
            }
            if (f.lead == w->in_len - w->in_pos)
                w->in_pos = w->in_len; /* blank lines between requests: nothing pending */
            if (stopping && got >= 0 && w->in_len > w->in_pos) {
                /* Part of a request, and no time to wait for the rest: it is
                 * told so (closing with its bytes unread would reset the
                 * connection, and the client could not tell what happened). */
                char rid[HTTP_REQUEST_ID_MAX];
                const char *target;
                size_t tl;
                int front = server__partial(s, w->in + w->in_pos, w->in_len - w->in_pos, rid, &target, &tl);
                server__refuse(w, front, 503, "the server is stopping; try again", rid, target, tl);
                w->in_len = w->in_pos = 0;
                server__flush(s, w, fd, true);
                break;
            }
            if (got < 0 || stopping || w->in_len - w->in_pos >= max_in) {
                /* Gone mid-request (or idle and gone), or stopping with
                 * nothing pending: nobody to answer. */
                server__close(s, fd);
                break;
            }
            if (f.expect_continue && !c->continued) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                c->continued = send(fd, cont, sizeof cont - 1, MSG_NOSIGNAL | MSG_DONTWAIT) > 0;
            }
            server__stash(s, w, fd, false);
            break;
        }
        if (atomic_load_explicit(&s->buffered_out, memory_order_relaxed) > budget) {
            log_warn("request refused: %lld bytes of responses wait for their clients",
                     (long long)atomic_load_explicit(&s->buffered_out, memory_order_relaxed));
            int front = server__route(s, w->in + w->in_pos + f.target_off, f.target_len);
            w->in_len = w->in_pos = 0;
            server__refuse(w, front, 503, "the server holds too many responses its clients have not read; try again",
                           NULL, NULL, 0);
            server__flush(s, w, fd, true);
            break;
        }
        http_deferred_t *d = NULL;
        bool retry = false;
        bool close = server__serve_one(w, fd, &f, &d, &retry);
        if (retry) {
            server__put_back(s, w, fd);
            break;
        }
        /* Whatever followed the request (pipelined) is the next one. */
        w->in_pos += f.total;
        c->since = w->in_len > w->in_pos ? clock_seconds() : 0;
        c->continued = false;
        c->served = true;
        c->last_active = clock_seconds();
        c->touched = atomic_fetch_add_explicit(&s->clock, 1, memory_order_relaxed);
        if (d != NULL) {
            /* The answer comes later: what followed the request waits
             * with the connection, to be served once it has gone. */
            server__keep_input(s, w, c);
            void (*start)(void *) = d->start;
            void *arg = d->start_arg;
            if (atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) == 1)
                server__finish(d);
            if (start != NULL)
                start(arg);
            break;
        }
        if (!server__flush(s, w, fd, close))
            break;
        if (w->in_len == w->in_pos && !stopping) {
            server__stash(s, w, fd, false);
            break;
        }
        if (++served >= SERVER_MAX_PIPELINE || (stopping && w->in_len == w->in_pos)) {
            if (stopping)
                server__close(s, fd);
            else
                server__stash(s, w, fd, true);
            break;
        }
        read_now = false;
    }
    w->in_len = w->in_pos = 0;
    server__shrink(&w->in, &w->in_cap);
}

/* Stopping: whether a connection is still writing an answer to a client
 * that took some of it within SERVER_DRAIN_STALL_SECONDS. (Read under the
 * lock; the owner of a busy connection may be moving its since on: a
 * second more or less only changes when the waiting ends.) */
static bool server__writing(struct http_server *s)
{
    time_t now = clock_seconds();
    bool any = false;
    if (atomic_load_explicit(&s->buffered_out, memory_order_relaxed) == 0)
        return false;
    pthread_mutex_lock(&s->lock);
    for (int fd = 0; fd < s->nconns_max && !any; fd++) {
        const conn_t *c = &s->conns[fd];
        any = c->state != CONN_FREE && c->wait == WAIT_WRITE && now - c->since < SERVER_DRAIN_STALL_SECONDS;
    }
    pthread_mutex_unlock(&s->lock);
    return any;
}

/* Why the cap: each worker asleep in epoll_wait is one more thread the
 * kernel wakes for a single request, where a busy one would have found it
 * on its next call without sleeping; on two cores a wake-up and a sleep
 * cost more than the request's own work (BENCHMARKS.md, step 14). Fewer
 * workers alone would leave none to take requests while they all wait for
 * the database, so the others stand by for that. Calling one back as soon
 * as any worker waits (a commit group's leader does, for each group) gave
 * back the switches the cap saves: the measured choice is to call one back
 * only when no worker is left to take requests. */

/* A worker begins a wait (for the database or a credential check): if
 * it was the last one taking requests, one standing by takes its place. (Both sides change
 * one counter and then read the other, sequentially consistent: either
 * this sees the worker going to stand by, or that one sees this one gone
 * and stays.) */
static void server__wait_begin(void *arg)
{
    struct http_server *s = arg;
    if (atomic_fetch_sub(&s->active, 1) - 1 < 1 && atomic_load(&s->standing) > 0) {
        pthread_mutex_lock(&s->standby_lock);
        if (atomic_load(&s->standing) > s->callbacks) {
            s->callbacks++;
            pthread_cond_signal(&s->standby_cond);
        }
        pthread_mutex_unlock(&s->standby_lock);
    }
}

static void server__wait_end(void *arg)
{
    struct http_server *s = arg;
    atomic_fetch_add(&s->active, 1);
}

/* Above the cap, a worker coming back for work stands by until a wait, or
 * stopping, calls it back. */
static void server__stand_by(struct http_server *s)
{
    pthread_mutex_lock(&s->standby_lock);
    atomic_fetch_add(&s->standing, 1);
    if (atomic_load(&s->active) > s->active_max && !atomic_load(&s->stopping)) {
        /* Standing by leaves at least one active: active_max >= 1. */
        atomic_fetch_sub(&s->active, 1);
        while (s->callbacks == 0 && !atomic_load(&s->stopping))
            pthread_cond_wait(&s->standby_cond, &s->standby_lock);
        if (s->callbacks > 0)
            s->callbacks--;
        atomic_fetch_add(&s->active, 1);
    }
    atomic_fetch_sub(&s->standing, 1);
    pthread_mutex_unlock(&s->standby_lock);
}

/* A worker waits in epoll itself and serves what it is woken for: no
 * hand-off between threads on the way to a request. */
static void *server__work(void *arg)
{
    http_worker_t *w = arg;
    struct http_server *s = w->s;
    struct epoll_event evs[SERVER_DRAIN_EVENTS];

    if (s->cfg->sched_batch)
        thread_batch_self();
    thread_set_waits(&s->waits);
    for (;;) {
        if (atomic_load_explicit(&s->active, memory_order_relaxed) > s->active_max)
            server__stand_by(s);
        int n = epoll_wait(s->epfd, evs, 1, 1000);
        time_t now = clock_seconds();
        if (n == 1 && evs[0].data.fd == s->wake_fd)
            break;
        if (n == 1 && evs[0].data.fd == s->listen_fd)
            server__accept(s);
        else if (n == 1 && server__claim(s, evs[0].data.fd))
            server__event(s, w, evs[0].data.fd);
        /* Whoever notices a new second sweeps idle keep-alive connections. */
        if (now != atomic_load_explicit(&s->last_reap, memory_order_relaxed) &&
            pthread_mutex_trylock(&s->reap_lock) == 0) {
            if (now != atomic_load_explicit(&s->last_reap, memory_order_relaxed))
                server__reap_idle(s, now);
            pthread_mutex_unlock(&s->reap_lock);
        }
    }
    /* Stopping: serve the requests that have already arrived, and finish
     * writing the answers their clients are still reading (a large one
     * waits for its reader: at most SERVER_DRAIN_SECONDS), then go. No
     * worker stands by any more (stopping called them all back). */
    time_t deadline = clock_seconds() + SERVER_DRAIN_SECONDS;
    for (;;) {
        bool writing = server__writing(s);
        int n = epoll_wait(s->epfd, evs, SERVER_DRAIN_EVENTS, writing ? 50 : 0), served = 0;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd != s->wake_fd && fd != s->listen_fd && server__claim(s, fd)) {
                server__event(s, w, fd);
                served++;
            }
        }
        /* A deferred answer is finished by whichever worker runs its
         * work, perhaps after this one has found nothing to do. */
        bool deferred = atomic_load_explicit(&s->ndeferred, memory_order_acquire) > 0;
        if (served == 0 && ((!writing && !deferred) || clock_seconds() >= deadline))
            break;
        if (served == 0) {
            /* Only the wake-up is ready (it stays so): wait for the readers. */
            struct timespec pause = {0, 5 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
    }
    return NULL;
}

static int server__listen(const ent_config_t *cfg, int *fd_out, int *port_out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST};
    struct addrinfo *res = NULL;
    char port[16];
    int fd = -1, one = 1;

    snprintf(port, sizeof port, "%d", cfg->port);
    if (getaddrinfo(cfg->bind, port, &hints, &res) != 0) {
        log_error("ENTITLEMENTD_BIND: '%s' is not a numeric address", cfg->bind);
        return ENT_EINVAL;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        log_error("cannot listen on %s:%d: %s", cfg->bind, cfg->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return ENT_EIO;
    }
    freeaddrinfo(res);
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_storage ss;
    } addr;
    /* Zeroed: scan-build does not model getsockname filling it. */
    memset(&addr, 0, sizeof addr);
    socklen_t sl = sizeof addr;
    if (getsockname(fd, &addr.sa, &sl) != 0) {
        log_error("cannot read the listening address: %s", strerror(errno));
        close(fd);
        return ENT_EIO;
    }
    *port_out = ntohs(addr.sa.sa_family == AF_INET6 ? addr.in6.sin6_port : addr.in.sin_port);
    *fd_out = fd;
    return ENT_OK;
}

/* Raises the soft limit of open descriptors to what the table can hold
 * (systemd and most shells give 1024 soft, much more hard): without it,
 * accept fails long before ENTITLEMENTD_MAX_CONNECTIONS. */
static void server__raise_nofile(int need)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)need + 64; /* and files, the listener, epoll */
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rlim_t cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
    rl.rlim_cur = cur;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || cur < want)
        log_warn("open files limited to %llu: fewer than the %d connections and database sockets configured; "
                 "raise the hard limit (LimitNOFILE=, ulimit -Hn)",
                 (unsigned long long)cur, need);
}

/* Frees the workers' front states and buffers. */
static void server__free_workers(struct http_server *s)
{
    for (int i = 0; s->workers && i < s->nworkers; i++) {
        http_worker_t *w = &s->workers[i];
        for (int k = 0; k < s->nfronts; k++)
            if (w->state[k] != NULL && s->fronts[k].worker_free != NULL)
                s->fronts[k].worker_free(w->state[k]);
        free(w->in);
        free(w->out);
        free(w->body);
    }
}

int http_server_start(const ent_config_t *cfg, const http_front_t *fronts, int nfronts, http_server_t **out)
{
    struct http_server *s;
    int rc;

    if (nfronts < 1 || nfronts > HTTP_MAX_FRONTS)
        return ENT_EINVAL;
    if ((s = calloc(1, sizeof *s)) == NULL)
        return ENT_ENOMEM;
    s->cfg = cfg;
    memcpy(s->fronts, fronts, (size_t)nfronts * sizeof *fronts);
    s->nfronts = nfronts;
    s->limits.max_header = SERVER_MAX_HEADER;
    s->limits.max_header_line = SERVER_MAX_HEADER_LINE;
    for (int i = 0; i < nfronts; i++)
        if (fronts[i].max_body > s->limits.max_body)
            s->limits.max_body = fronts[i].max_body;
    s->limits.body_limit = server__body_limit;
    s->limits.arg = s;
    s->nworkers = cfg->workers;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s->active_max = cfg->active_workers > 0                   ? cfg->active_workers
                    : cores > 0 && cores <= s->nworkers / 2 ? 2 * (int)cores
                                                            : s->nworkers;
    if (s->active_max > s->nworkers)
        s->active_max = s->nworkers;
    atomic_init(&s->active, s->nworkers);
    s->waits = (thread_waits_t){.begin = server__wait_begin, .end = server__wait_end, .arg = s};
    s->listen_fd = s->epfd = s->wake_fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->reap_lock, NULL);
    pthread_mutex_init(&s->standby_lock, NULL);
    pthread_cond_init(&s->standby_cond, NULL);
    atomic_init(&s->last_reap, (long long)clock_seconds());
    /* Descriptors index the table; leave room for the database sockets
     * (the pool's, the job and webhook workers', their listener's), a
     * webhook post's socket per webhook worker, and files besides
     * max_connections clients. */
    s->nconns_max = cfg->max_connections + SERVER_MAX_TURNED_AWAY + 2 * cfg->db_pool_size + cfg->job_workers +
                    2 * cfg->webhook_workers + 4 + 64;
    server__raise_nofile(s->nconns_max);
    s->conns = calloc((size_t)s->nconns_max, sizeof *s->conns);
    if (s->conns != NULL && peers_new(s->nconns_max, &s->peers) != ENT_OK) {
        free(s->conns);
        s->conns = NULL;
    }
    s->parked = calloc((size_t)s->nconns_max, sizeof *s->parked);
    s->threads = calloc((size_t)s->nworkers, sizeof *s->threads);
    s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
    if (!s->conns || !s->parked || !s->threads || !s->workers) {
        rc = ENT_ENOMEM;
        goto fail;
    }
    for (int i = 0; i < s->nworkers; i++) {
        s->workers[i].s = s;
        for (int k = 0; k < nfronts; k++) {
            if (fronts[k].worker_new == NULL)
                continue;
            if ((s->workers[i].state[k] = fronts[k].worker_new(fronts[k].ctx)) == NULL) {
                rc = ENT_ENOMEM;
                goto fail;
            }
        }
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
        if (pthread_create(&s->threads[i], NULL, server__work, &s->workers[i]) != 0) {
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
    server__free_workers(s);
    free(s->workers);
    free(s->threads);
    free(s->conns);
    free(s->parked);
    peers_free(s->peers);
    free(s);
    return rc;
}

void http_server_set_phase(http_server_t *s, http_phase_t phase)
{
    atomic_store(&s->phase, (int)phase);
}

http_phase_t http_phase(const http_exchange_t *x)
{
    return (http_phase_t)atomic_load(&x->w->s->phase);
}

int http_server_port(const http_server_t *s)
{
    return s->port;
}

void http_server_connections(http_server_t *s, int *open, int *max)
{
    *open = atomic_load(&s->nopen);
    *max = s->cfg->max_connections;
}

void http_server_workers(http_server_t *s, int *taking, int *waiting, int *standing, int *active_max)
{
    int active = atomic_load(&s->active), by = atomic_load(&s->standing);
    *standing = by < 0 ? 0 : by > s->nworkers ? s->nworkers : by;
    *taking = active < 0 ? 0 : active > s->nworkers - *standing ? s->nworkers - *standing : active;
    *waiting = s->nworkers - *standing - *taking;
    *active_max = s->active_max;
}

/* The listening socket takes no new connection from now on: a filter that
 * drops every packet makes the kernel drop new handshakes (their clients
 * are refused once the socket closes) instead of completing some after
 * the backlog was emptied, which the close would then reset. */
static void server__refuse_handshakes(int listen_fd)
{
    struct sock_filter drop[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
    struct sock_fprog prog = {.len = 1, .filter = drop};
    if (setsockopt(listen_fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0)
        log_warn("stopping: new connections are not held off (%s)", strerror(errno));
}

/* Closes the connections fds (n) that have sent nothing yet, after waiting
 * up to SERVER_FIRST_REQUEST_WAIT_MS for each one's first request, which is
 * answered 503: a close before it arrived would reset the connection and
 * the client could not tell whether it was served. */
static void server__await_first(struct http_server *s, struct pollfd *p, int n)
{
    double deadline = server__now() + SERVER_FIRST_REQUEST_WAIT_MS / 1000.0;
    int left = n;
    while (left > 0) {
        int ms = (int)((deadline - server__now()) * 1000.0);
        if (ms <= 0 || poll(p, (nfds_t)n, ms) <= 0)
            break;
        for (int i = 0; i < n; i++) {
            if (p[i].fd < 0 || p[i].revents == 0)
                continue;
            server__turn_away_stopping(s, p[i].fd);
            p[i].fd = -1;
            left--;
        }
    }
    for (int i = 0; i < n; i++)
        if (p[i].fd >= 0)
            close(p[i].fd);
}

/* Connections the kernel completed that nobody accepted yet would be
 * reset when the listening socket closes: each is accepted and turned
 * away as a worker accepting one now would; those whose request has not
 * arrived yet go to silent (at most cap; *n of them), to wait for it in
 * server__await_first. */
static void server__turn_away_backlog(struct http_server *s, struct pollfd *silent, int cap, int *n)
{
    for (int k = 0; k < 1024; k++) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            break;
        char one;
        if (recv(fd, &one, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
            *n < cap) {
            silent[(*n)++] = (struct pollfd){.fd = fd, .events = POLLIN};
            continue;
        }
        server__turn_away_stopping(s, fd);
    }
}

void http_server_stop(http_server_t *s)
{
    uint64_t one = 1;

    /* No new connections; the workers finish their requests and those
     * that have arrived, then end; idle connections are closed last. */
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->stopping, true);
    pthread_mutex_unlock(&s->lock);
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->listen_fd, NULL);
    server__refuse_handshakes(s->listen_fd);
    /* The connections that have not sent their first request: the
     * backlog's and, once the workers are done, the table's. */
    int silent_cap = 1024 + s->nconns_max, nsilent = 0;
    struct pollfd *silent = malloc((size_t)silent_cap * sizeof *silent);
    if (silent == NULL)
        silent_cap = 0;
    server__turn_away_backlog(s, silent, silent_cap, &nsilent);
    close(s->listen_fd);
    if (write(s->wake_fd, &one, sizeof one) < 0)
        log_warn("waking the workers failed: %s", strerror(errno));
    pthread_mutex_lock(&s->standby_lock);
    pthread_cond_broadcast(&s->standby_cond);
    pthread_mutex_unlock(&s->standby_lock);
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->threads[i], NULL);
    for (int fd = 0; fd < s->nconns_max; fd++)
        if (s->conns[fd].state != CONN_FREE) {
            conn_t *c = &s->conns[fd];
            char buf[2048];
            /* A request that arrived after the drain looked (or part of
             * one) is answered too: a close with its bytes unread would
             * reset the connection, and the client could not tell whether
             * it was served. An idle connection just closes. */
            ssize_t unread = c->wait == WAIT_READ && c->in_len == 0 ? recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT)
                                                                    : 0;
            bool nothing_yet = unread < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
            if (c->wait == WAIT_PARKED || (c->wait == WAIT_READ && (c->in_len > 0 || unread > 0)))
                server__stopping_503(s, fd, c->in_len > 0 ? c->in : buf, c->in_len > 0 ? c->in_len : (size_t)unread);
            bool first = nothing_yet && !c->served && nsilent < silent_cap;
            server__conn_reset(s, c);
            if (first)
                silent[nsilent++] = (struct pollfd){.fd = fd, .events = POLLIN};
            else
                close(fd);
        }
    server__await_first(s, silent, nsilent);
    free(silent);
    free(s->parked);
    server__free_workers(s);
    close(s->epfd);
    close(s->wake_fd);
    pthread_mutex_destroy(&s->reap_lock);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->standby_lock);
    pthread_cond_destroy(&s->standby_cond);
    free(s->workers);
    free(s->threads);
    free(s->conns);
    peers_free(s->peers);
    free(s);
}
