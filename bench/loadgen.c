/*
 * loadgen - an HTTP load generator for the SOAP service and the JSON REST
 * endpoints: one thread per keep-alive connection, each sending the request
 * (template) with its placeholders filled in, for a fixed time. Prints one
 * line of key=value results.
 *
 *   loadgen -p PORT [-c CONNS] [-d SECONDS] [-a USER:PASSWORD | -B TOKEN] [-f TEMPLATE]
 *           [-h HOST] [-P PATH] [-m METHOD] [-t CONTENT_TYPE] [-H 'Name: value']...
 *           [-s STATUS] [-e EXPECT] [-u UNITS] [-w WARMUP] [-r TAG] [-F [-W MS]]
 *           [-n N] [-C PID] [-G PID]
 *   loadgen -p PORT -i N -d SECONDS ...   open N keep-alive connections, send
 *                                         one request on each, then hold them idle
 *
 *   -p PORT          the daemon's port (required)
 *   -h HOST          default 127.0.0.1
 *   -c CONNS         connections, one thread each (default 1)
 *   -d SECONDS       measured duration (default 10), after -w WARMUP seconds
 *                    (default 0) whose requests are sent but not counted
 *   -P PATH          request path (default /flexnet/services/v4/EntitlementOrderService)
 *   -m METHOD        default POST
 *   -f TEMPLATE      file with the request body; without it no body is sent
 *                    (Content-Length: 0, except for GET and HEAD, which send none)
 *   -t CONTENT_TYPE  Content-Type of the body (default "text/xml; charset=utf-8");
 *                    a text/xml body makes a SOAP request, sent with SOAPAction: ""
 *   -a USER:PASSWORD Authorization: Basic; -B TOKEN: Authorization: Bearer TOKEN.
 *                    At most one of them; with neither, no Authorization header
 *   -H 'Name: value' an extra request header (repeatable, up to 16); one named
 *                    Host, Content-Type, SOAPAction or Authorization replaces
 *                    the header loadgen would send itself
 *   -s STATUS        the HTTP status a response must have (default 200)
 *   -e EXPECT        a string the response body must contain; the default is
 *                    "<fnp:status>SUCCESS</fnp:status>" for SOAP requests and ""
 *                    (any body) otherwise
 *   -u UNITS         units per request, for units_per_s (default 1)
 *   -r TAG           the run tag for {R} (default "run")
 *   -n N             {N} is a number drawn at random from [0, N) for each
 *                    request (default 1: always 0)
 *   -C PID           report the CPU time (user + system) process PID used over
 *                    the measured seconds, per counted request: cpu_us_per_req;
 *                    and its threads' context switches per request, those
 *                    they asked for (sleeping) and those forced on them:
 *                    vcs_per_req, ivcs_per_req
 *   -G PID           the same for a PostgreSQL cluster whose postmaster is PID
 *                    (the postmaster, its live children and those that exited
 *                    meanwhile), per unit: pg_cpu_us_per_unit
 *   -i N             idle mode, see above
 *   -F               follow mode, for asynchronous APIs: each request must be
 *                    answered 202 with a Location header (an absolute URL or a
 *                    path); the connection then GETs that location's path (same
 *                    -H headers and Authorization, no body), waiting -W MS
 *                    milliseconds (default 2) before each poll, until it answers
 *                    200 (202: poll again; anything else is an error). EXPECT is
 *                    looked for in the body of that 200. Requests accepted near
 *                    the end are followed for up to 30 s more. Not with -s.
 *
 * Placeholders in the template, the path and the -H header values: {C} the
 * connection number, {S} the request's sequence number on its connection,
 * {R} the run tag, {N} a random number (-n). A response counts as an error unless it has STATUS and
 * its body contains EXPECT. Responses must carry Content-Length (or end with
 * the connection); "Connection: close" makes loadgen reconnect.
 *
 * Output keys: conns seconds requests errors rps units_per_s p50_ms p90_ms
 * p99_ms max_ms, with -C cpu_us_per_req vcs_per_req ivcs_per_req, with -G
 * pg_cpu_us_per_unit, and with -F also done_p50_ms done_p99_ms done_max_ms (from
 * sending the request to receiving the final 200, successful requests only)
 * and polls (GETs sent for counted requests). requests, rps and the latency
 * keys always describe the requests themselves, never the polls.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Latency samples kept per connection; later ones are counted, not kept. */
#define MAX_SAMPLES 2000000
#define MAX_HEADERS 16
#define LOCATION_MAX 2048
#define SOAP_EXPECT "<fnp:status>SUCCESS</fnp:status>"
/* Largest response head and body accepted. */
#define MAX_HEAD (1 << 20)
#define MAX_BODY (1L << 30)
/* Follow mode keeps polling an accepted request this long after the end of
 * the run before it gives up on it (and counts an error). */
#define FOLLOW_GRACE_S 30.0

typedef struct opts {
    const char *host, *path, *expect, *tag, *method, *ctype;
    const char *auth;              /* the Authorization value, or NULL */
    const char *hdr[MAX_HEADERS]; /* extra headers, "Name: value" */
    int nhdr;
    bool soap;                     /* a text/xml body: SOAPAction, SOAP_EXPECT */
    bool own_host, own_ctype, own_soapaction, own_auth; /* replaced by -H */
    bool follow;
    char *tmpl;                    /* the body template, or NULL */
    int port, conns, idle, units, status;
    long random_n;                 /* -n: {N} is drawn from [0, random_n) */
    double seconds, warmup, poll_ms;
} opts_t;

typedef struct worker {
    const opts_t *o;
    int id;
    double start, warm_end, end;
    long requests, errors, polls;
    double *lat, *at, *done;
    long nlat, ndone;
    char first_error[256];
} worker_t;

/* A growable byte buffer, always NUL-terminated. */
typedef struct sb {
    char *p;
    size_t n, cap;
} sb_t;

/* One parsed response; body and location point into the reading buffer and
 * are valid until the next read. */
typedef struct response {
    int status; /* -1: no (valid) response, see why */
    bool close; /* the connection cannot be reused */
    char *body; /* NUL-terminated */
    size_t body_len;
    char location[LOCATION_MAX];
    const char *why;
} response_t;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_ms(double ms)
{
    if (ms <= 0)
        return;
    long long ns = (long long)(ms * 1e6);
    struct timespec t = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL) {
        fprintf(stderr, "loadgen: out of memory\n");
        exit(2);
    }
    return p;
}

static void sb_reserve(sb_t *b, size_t extra)
{
    if (b->n + extra + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->n + extra + 1)
            c *= 2;
        b->p = xrealloc(b->p, c);
        b->cap = c;
    }
}

static void sb_add(sb_t *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(sb_t *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static char *b64(const char *in)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), o = 0;
    char *out = malloc(4 * (n / 3 + 1) + 1);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < n) v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)in[i + 2];
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int connect_to(const opts_t *o)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    char port[16];
    snprintf(port, sizeof port, "%d", o->port);
    if (getaddrinfo(o->host, port, &hints, &res) != 0)
        return -1;
    int fd = socket(res->ai_family, SOCK_STREAM, 0), one = 1;
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Each connection's xorshift64* state for {N}, seeded by its thread. */
static _Thread_local unsigned long long rng_state = 88172645463325252ULL;

static unsigned long long next_random(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

/* Appends src to out with its placeholders filled in. */
static void fill(const opts_t *o, const char *src, int conn, long seq, sb_t *out)
{
    size_t tl = strlen(src);
    char num[64];
    sb_reserve(out, tl + 64);
    for (size_t i = 0; i < tl; i++) {
        const char *rep = NULL;
        if (src[i] == '{' && i + 2 < tl && src[i + 2] == '}') {
            char k = src[i + 1];
            if (k == 'C')
                snprintf(num, sizeof num, "%d", conn), rep = num;
            else if (k == 'S')
                snprintf(num, sizeof num, "%ld", seq), rep = num;
            else if (k == 'R')
                rep = o->tag;
            else if (k == 'N')
                snprintf(num, sizeof num, "%llu", next_random() % (unsigned long long)o->random_n), rep = num;
        }
        if (rep != NULL) {
            sb_str(out, rep);
            i += 2;
        } else {
            /* The text up to the next '{' in one piece: the load generator
             * shares the cores with what it measures. */
            const char *brace = memchr(src + i + 1, '{', tl - i - 1);
            size_t run = brace != NULL ? (size_t)(brace - (src + i)) : tl - i;
            sb_add(out, src + i, run);
            i += run - 1;
        }
    }
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Whether the comma-separated header value v[0..n) lists tok. */
static bool has_token(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok), i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
            return true;
    }
    return false;
}

static bool name_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* Parses the status line and headers in buf[0..hlen) (which ends with the
 * blank line). Sets r->status, r->close, r->location and *clen: the body
 * length, or -1 for a body that ends with the connection. Returns NULL or
 * what is wrong. */
static const char *parse_head(char *buf, size_t hlen, bool head_req, response_t *r, long *clen)
{
    if (hlen < 16 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' || !isdigit((unsigned char)buf[9]) ||
        !isdigit((unsigned char)buf[10]) || !isdigit((unsigned char)buf[11]))
        return "malformed status line";
    r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    bool http10 = buf[7] == '0', keep_alive = false, close_ = false, chunked = false;
    long cl = -1;
    char *line = strstr(buf, "\r\n") + 2, *end = buf + hlen - 2;
    while (line < end) {
        char *eol = strstr(line, "\r\n");
        char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon == NULL)
            return "malformed header line";
        char *v = colon + 1, *ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t nl = (size_t)(colon - line), vl = (size_t)(ve - v);
        if (name_is(line, nl, "Content-Length")) {
            char *e;
            long x = strtol(v, &e, 10);
            if (vl == 0 || e != ve || x < 0 || x > MAX_BODY || (cl >= 0 && x != cl))
                return "bad Content-Length";
            cl = x;
        } else if (name_is(line, nl, "Connection")) {
            close_ |= has_token(v, vl, "close");
            keep_alive |= has_token(v, vl, "keep-alive");
        } else if (name_is(line, nl, "Transfer-Encoding")) {
            chunked |= !has_token(v, vl, "identity");
        } else if (name_is(line, nl, "Location")) {
            if (vl < sizeof r->location) {
                memcpy(r->location, v, vl);
                r->location[vl] = '\0';
            }
        }
        line = eol + 2;
    }
    r->close = close_ || (http10 && !keep_alive);
    if (head_req || r->status / 100 == 1 || r->status == 204 || r->status == 304)
        *clen = 0;
    else if (chunked)
        return "chunked Transfer-Encoding is not supported";
    else if (cl >= 0)
        *clen = cl;
    else if (r->close)
        *clen = -1;
    else
        return "no Content-Length on a keep-alive response";
    return NULL;
}

/* Reads one HTTP response into the reused buffer; returns its status, or -1
 * with r->why set. */
static int read_response(int fd, bool head_req, char **buf, size_t *cap, response_t *r)
{
    size_t len = 0, hlen = 0;
    long clen = -1;
    r->status = -1;
    r->close = true;
    r->body = NULL;
    r->body_len = 0;
    r->location[0] = '\0';
    r->why = NULL;
    for (;;) {
        if (hlen > 0 && clen >= 0 && len - hlen >= (size_t)clen)
            break;
        size_t want = hlen > 0 && clen >= 0 ? hlen + (size_t)clen : len + 65536;
        if (want < len + 4096)
            want = len + 4096;
        if (want + 1 > *cap) {
            *cap = (want + 1) * 2;
            *buf = xrealloc(*buf, *cap);
        }
        ssize_t n = recv(fd, *buf + len, *cap - len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 && hlen > 0 && clen < 0) {
            clen = (long)(len - hlen); /* the body ended with the connection */
            break;
        }
        if (n <= 0) {
            r->status = -1;
            r->why = n == 0 ? "connection closed" : "connection failed";
            return -1;
        }
        size_t from = len > 3 ? len - 3 : 0;
        len += (size_t)n;
        (*buf)[len] = '\0';
        if (hlen == 0) {
            char *e = strstr(*buf + from, "\r\n\r\n");
            if (e == NULL) {
                if (len > MAX_HEAD) {
                    r->why = "response head too long";
                    return r->status = -1;
                }
                continue;
            }
            hlen = (size_t)(e + 4 - *buf);
            if ((r->why = parse_head(*buf, hlen, head_req, r, &clen)) != NULL) {
                r->close = true;
                return r->status = -1;
            }
        }
    }
    if (len > hlen + (size_t)clen)
        r->close = true; /* more than one response: don't trust the connection */
    r->body = *buf + hlen;
    r->body_len = (size_t)clen;
    r->body[clen] = '\0';
    return r->status;
}

/* The path (and query) of a Location value: an absolute URL or a path. */
static bool location_path(const char *loc, char *out, size_t outsz)
{
    const char *p = loc;
    if (p[0] != '/' || p[1] == '/') {
        const char *s = p[0] == '/' ? p : strstr(p, "://");
        if (s == NULL)
            return false;
        s += p[0] == '/' ? 2 : 3;
        p = s + strcspn(s, "/?#");
        if (*p != '/') {
            if (*p == '#' || *p == '\0')
                p = "/";
            else
                return false; /* "http://host?query": leave it */
        }
    }
    size_t n = strcspn(p, "#");
    if (n == 0 || n >= outsz)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* Host, Authorization and the -H headers, shared by requests and polls. */
static void add_common_headers(const opts_t *o, sb_t *b, int conn, long seq, bool with_host)
{
    char num[32];
    if (with_host && !o->own_host) {
        sb_str(b, "Host: ");
        sb_str(b, o->host);
        snprintf(num, sizeof num, ":%d\r\n", o->port);
        sb_str(b, num);
    }
    if (o->auth != NULL && !o->own_auth) {
        sb_str(b, "Authorization: ");
        sb_str(b, o->auth);
        sb_str(b, "\r\n");
    }
    for (int i = 0; i < o->nhdr; i++) {
        fill(o, o->hdr[i], conn, seq, b);
        sb_str(b, "\r\n");
    }
}

/* Builds the request proper into req (body: the filled template). */
static void build_request(const opts_t *o, sb_t *req, const sb_t *body, int conn, long seq)
{
    char num[48];
    req->n = 0;
    sb_str(req, o->method);
    sb_str(req, " ");
    fill(o, o->path, conn, seq, req);
    sb_str(req, " HTTP/1.1\r\n");
    if (!o->own_host) {
        sb_str(req, "Host: ");
        sb_str(req, o->host);
        snprintf(num, sizeof num, ":%d\r\n", o->port);
        sb_str(req, num);
    }
    if (o->tmpl != NULL) {
        if (!o->own_ctype) {
            sb_str(req, "Content-Type: ");
            sb_str(req, o->ctype);
            sb_str(req, "\r\n");
        }
        if (o->soap && !o->own_soapaction)
            sb_str(req, "SOAPAction: \"\"\r\n");
    }
    add_common_headers(o, req, conn, seq, false);
    if (o->tmpl != NULL || (strcmp(o->method, "GET") != 0 && strcmp(o->method, "HEAD") != 0)) {
        snprintf(num, sizeof num, "Content-Length: %zu\r\n", body->n);
        sb_str(req, num);
    }
    sb_str(req, "\r\n");
    if (body->n > 0)
        sb_add(req, body->p, body->n);
}

static void build_poll(const opts_t *o, sb_t *req, const char *path, int conn, long seq)
{
    req->n = 0;
    sb_str(req, "GET ");
    sb_str(req, path);
    sb_str(req, " HTTP/1.1\r\n");
    add_common_headers(o, req, conn, seq, true);
    sb_str(req, "\r\n");
}

/* Records the first error of a counted request on this connection. */
#define NOTE_ERROR(w, counted, ...)                                                                 \
    do {                                                                                            \
        if ((counted) && (w)->first_error[0] == '\0')                                               \
            snprintf((w)->first_error, sizeof (w)->first_error, __VA_ARGS__);                      \
    } while (0)

/* After a response (or a failure): reconnects when the connection can't be
 * reused. */
static int after_response(const opts_t *o, int fd, int status, const response_t *r)
{
    if (status < 0 || r->close) {
        close(fd);
        fd = connect_to(o);
    }
    return fd;
}

/* Follow mode: polls path until it answers 200. Returns whether the request
 * succeeded; *done_at is when the 200 arrived. */
static bool follow(worker_t *w, int *fd, const char *path, long seq, bool counted, sb_t *req, char **resp,
                   size_t *respcap, double *done_at)
{
    const opts_t *o = w->o;
    response_t r;
    for (;;) {
        if (*fd < 0) {
            NOTE_ERROR(w, counted, "poll %.100s: cannot reconnect", path);
            return false;
        }
        sleep_ms(o->poll_ms);
        if (now() > w->end + FOLLOW_GRACE_S) {
            NOTE_ERROR(w, counted, "poll %.100s: still 202 %.0f s after the end of the run", path, FOLLOW_GRACE_S);
            return false;
        }
        build_poll(o, req, path, w->id, seq);
        int status = -1;
        r.why = "connection failed";
        if (send_all(*fd, req->p, req->n))
            status = read_response(*fd, false, resp, respcap, &r);
        if (counted)
            w->polls++;
        *done_at = now();
        if (status == 200) {
            bool ok = strstr(r.body, o->expect) != NULL;
            if (!ok)
                NOTE_ERROR(w, counted, "poll %.60s: status 200 without EXPECT: %.150s", path, r.body);
            *fd = after_response(o, *fd, status, &r);
            return ok;
        }
        if (status != 202) {
            if (status < 0)
                NOTE_ERROR(w, counted, "poll %.100s: status -1: %s", path, r.why);
            else
                NOTE_ERROR(w, counted, "poll %.60s: status %d: %.150s", path, status, r.body);
            *fd = after_response(o, *fd, status, &r);
            return false;
        }
        *fd = after_response(o, *fd, status, &r);
    }
}

static void *run(void *arg)
{
    worker_t *w = arg;
    const opts_t *o = w->o;
    char *resp = NULL, path[LOCATION_MAX];
    sb_t req = {0}, body = {0};
    size_t respcap = 0;
    bool head_req = strcmp(o->method, "HEAD") == 0;
    int fd = connect_to(o);
    long seq = 0;
    response_t r;

    rng_state += 0x9e3779b97f4a7c15ULL * (unsigned long long)(w->id + 1);
    w->lat = malloc(sizeof(double) * MAX_SAMPLES);
    w->at = malloc(sizeof(double) * MAX_SAMPLES);
    if (o->follow)
        w->done = malloc(sizeof(double) * MAX_SAMPLES);
    while (fd >= 0) {
        double t0 = now();
        if (t0 >= w->end)
            break;
        long s = seq++;
        body.n = 0;
        if (o->tmpl != NULL)
            fill(o, o->tmpl, w->id, s, &body);
        build_request(o, &req, &body, w->id, s);
        int status = -1;
        r.why = "connection failed";
        if (send_all(fd, req.p, req.n))
            status = read_response(fd, head_req, &resp, &respcap, &r);
        double t1 = now();
        bool counted = t0 >= w->warm_end, ok;
        if (status < 0) {
            ok = false;
            NOTE_ERROR(w, counted, "status %d: %s", status, r.why);
        } else if (!o->follow) {
            ok = status == o->status && strstr(r.body, o->expect) != NULL;
            if (!ok)
                NOTE_ERROR(w, counted, "status %d: %.200s", status, r.body);
        } else {
            ok = status == 202 && location_path(r.location, path, sizeof path);
            if (!ok && status == 202)
                NOTE_ERROR(w, counted, "status 202 without a usable Location (\"%.100s\")", r.location);
            else if (!ok)
                NOTE_ERROR(w, counted, "status %d (expected 202): %.180s", status, r.body);
        }
        if (counted) {
            w->requests++;
            if (w->nlat < MAX_SAMPLES) {
                w->at[w->nlat] = t0 - w->warm_end;
                w->lat[w->nlat++] = t1 - t0;
            }
        }
        fd = after_response(o, fd, status, &r);
        if (ok && o->follow) {
            double t2 = t1;
            ok = follow(w, &fd, path, s, counted, &req, &resp, &respcap, &t2);
            if (ok && counted && w->ndone < MAX_SAMPLES)
                w->done[w->ndone++] = t2 - t0;
        }
        if (counted && !ok)
            w->errors++;
        if (o->idle > 0) {
            /* Idle mode: one request, then hold the connection. */
            while (now() < w->end)
                sleep(1);
            break;
        }
    }
    if (fd >= 0)
        close(fd);
    free(req.p);
    free(body.p);
    free(resp);
    return NULL;
}

/* The fields of /proc/PID/stat after the command name (which may hold
 * spaces: they follow its last ')'), in buf; NULL when pid is gone. */
static const char *stat_fields(pid_t pid, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return p != NULL && p[1] == ' ' ? p + 2 : NULL;
}

/* Seconds of CPU (user + system) process pid has used, with those of its
 * children that exited and were waited for when children is set; 0 when
 * it is gone. */
static double process_cpu(pid_t pid, bool children)
{
    char buf[1024];
    const char *p = stat_fields(pid, buf, sizeof buf);
    unsigned long long v[4] = {0};
    if (p == NULL || sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                            &v[3]) != 4)
        return 0;
    unsigned long long t = v[0] + v[1] + (children ? v[2] + v[3] : 0);
    return (double)t / (double)sysconf(_SC_CLK_TCK);
}

/* The context switches of all threads of process pid: voluntary ones in
 * *v, involuntary ones in *iv (0 and 0 when it is gone). */
static void process_switches(pid_t pid, double *v, double *iv)
{
    char path[64], line[256];
    *v = *iv = 0;
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    struct dirent *e;
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char status[320];
        snprintf(status, sizeof status, "/proc/%d/task/%s/status", (int)pid, e->d_name);
        FILE *f = fopen(status, "r");
        if (f == NULL)
            continue;
        unsigned long long n;
        while (fgets(line, sizeof line, f) != NULL) {
            if (sscanf(line, "voluntary_ctxt_switches: %llu", &n) == 1)
                *v += (double)n;
            else if (sscanf(line, "nonvoluntary_ctxt_switches: %llu", &n) == 1)
                *iv += (double)n;
        }
        fclose(f);
    }
    closedir(d);
}

/* The parent of process pid, or 0. */
static pid_t parent_of(pid_t pid)
{
    char buf[1024];
    const char *p = stat_fields(pid, buf, sizeof buf);
    int ppid = 0;
    if (p == NULL || sscanf(p, "%*c %d", &ppid) != 1)
        return 0;
    return (pid_t)ppid;
}

/* Seconds of CPU a PostgreSQL cluster has used: its postmaster, the
 * postmaster's live children and those that exited. */
static double cluster_cpu(pid_t postmaster)
{
    double t = process_cpu(postmaster, true);
    DIR *d = opendir("/proc");
    struct dirent *e;
    if (d == NULL)
        return t;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid != postmaster && parent_of(pid) == postmaster)
            t += process_cpu(pid, false);
    }
    closedir(d);
    return t;
}

/* LOADGEN_TRACE=DIR: every measured request into DIR/TAG.trace as
 * "connection start_s latency_ms", to see whether slow requests come
 * together (a stall) or spread out. */
static void trace_write(const worker_t *ws, int conns, const char *tag)
{
    const char *dir = getenv("LOADGEN_TRACE");
    char path[4096];
    if (dir == NULL || *dir == '\0')
        return;
    snprintf(path, sizeof path, "%s/%s.trace", dir, tag != NULL ? tag : "loadgen");
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return;
    }
    for (int i = 0; i < conns; i++)
        for (long j = 0; j < ws[i].nlat; j++)
            fprintf(f, "%d %.6f %.3f\n", i, ws[i].at[j], ws[i].lat[j] * 1000.0);
    fclose(f);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen -p PORT [-c CONNS] [-d SECONDS] [-a USER:PASSWORD | -B TOKEN] [-f TEMPLATE]\n"
            "               [-h HOST] [-P PATH] [-m METHOD] [-t CONTENT_TYPE] [-H 'Name: value']...\n"
            "               [-s STATUS] [-e EXPECT] [-u UNITS] [-w WARMUP] [-r TAG] [-F [-W MS]]\n"
            "       loadgen -p PORT -i N -d SECONDS ...   (N idle keep-alive connections)\n"
            "placeholders {C} {S} {R} {N} in the template, PATH and header values; see bench/loadgen.c\n");
}

/* Whether the -H header h is named name. */
static bool hdr_is(const char *h, const char *name)
{
    return name_is(h, (size_t)(strchr(h, ':') - h), name);
}

int main(int argc, char **argv)
{
    opts_t o = {.host = "127.0.0.1", .path = "/flexnet/services/v4/EntitlementOrderService", .tag = "run",
                .method = "POST", .ctype = "text/xml; charset=utf-8", .conns = 1, .units = 1, .status = 200,
                .seconds = 10, .poll_ms = 2, .random_n = 1};
    const char *basic = NULL, *bearer = NULL, *file = NULL;
    bool status_set = false;
    int c;
    pid_t cpu_pid = 0, pg_pid = 0;
    while ((c = getopt(argc, argv, "h:p:P:c:d:a:f:e:u:w:r:i:m:t:H:B:s:FW:n:C:G:")) != -1) {
        switch (c) {
        case 'h': o.host = optarg; break;
        case 'p': o.port = atoi(optarg); break;
        case 'P': o.path = optarg; break;
        case 'c': o.conns = atoi(optarg); break;
        case 'd': o.seconds = atof(optarg); break;
        case 'a': basic = optarg; break;
        case 'f': file = optarg; break;
        case 'e': o.expect = optarg; break;
        case 'u': o.units = atoi(optarg); break;
        case 'w': o.warmup = atof(optarg); break;
        case 'r': o.tag = optarg; break;
        case 'i': o.idle = atoi(optarg); break;
        case 'm': o.method = optarg; break;
        case 't': o.ctype = optarg; break;
        case 'B': bearer = optarg; break;
        case 's': o.status = atoi(optarg), status_set = true; break;
        case 'F': o.follow = true; break;
        case 'W': o.poll_ms = atof(optarg); break;
        case 'n': o.random_n = atol(optarg); break;
        case 'C': cpu_pid = (pid_t)atoi(optarg); break;
        case 'G': pg_pid = (pid_t)atoi(optarg); break;
        case 'H': {
            const char *colon = strchr(optarg, ':');
            if (o.nhdr == MAX_HEADERS) {
                fprintf(stderr, "loadgen: at most %d -H headers\n", MAX_HEADERS);
                return 2;
            }
            if (colon == NULL || colon == optarg || strpbrk(optarg, "\r\n") != NULL ||
                (size_t)(colon - optarg) != strcspn(optarg, " \t:")) {
                fprintf(stderr, "loadgen: -H wants 'Name: value', not '%s'\n", optarg);
                return 2;
            }
            if (hdr_is(optarg, "Content-Length")) {
                fprintf(stderr, "loadgen: Content-Length is set by loadgen\n");
                return 2;
            }
            o.hdr[o.nhdr++] = optarg;
            break;
        }
        default: usage(); return 2;
        }
    }
    if (optind < argc || o.port <= 0 || o.conns <= 0 || o.seconds <= 0 || o.random_n <= 0 || o.method[0] == '\0' ||
        strpbrk(o.method, " \t\r\n") != NULL || strpbrk(o.ctype, "\r\n") != NULL ||
        strpbrk(o.path, " \t\r\n") != NULL) {
        usage();
        return 2;
    }
    if (basic != NULL && bearer != NULL) {
        fprintf(stderr, "loadgen: -a and -B are mutually exclusive\n");
        return 2;
    }
    if (bearer != NULL && strpbrk(bearer, "\r\n") != NULL) {
        usage();
        return 2;
    }
    if (o.status < 100 || o.status > 999) {
        fprintf(stderr, "loadgen: -s wants an HTTP status\n");
        return 2;
    }
    if (o.follow && status_set) {
        fprintf(stderr, "loadgen: -s does not go with -F (the request must answer 202, its polls 200)\n");
        return 2;
    }
    if (file != NULL) {
        FILE *f = fopen(file, "rb");
        if (f == NULL) {
            perror(file);
            return 2;
        }
        fseek(f, 0, SEEK_END);
        long fl = ftell(f);
        fseek(f, 0, SEEK_SET);
        if (fl < 0)
            return 2;
        o.tmpl = malloc((size_t)fl + 1);
        if (fread(o.tmpl, 1, (size_t)fl, f) != (size_t)fl)
            return 2;
        o.tmpl[fl] = '\0';
        fclose(f);
    }
    /* A SOAP request: a body whose media type (without parameters) is text/xml. */
    o.soap = o.tmpl != NULL && strncasecmp(o.ctype, "text/xml", 8) == 0 && strchr(" \t;", o.ctype[8]) != NULL;
    if (o.expect == NULL)
        o.expect = o.soap ? SOAP_EXPECT : "";
    if (basic != NULL) {
        char *b = b64(basic), *v = malloc(strlen(b) + 7);
        sprintf(v, "Basic %s", b);
        free(b);
        o.auth = v;
    } else if (bearer != NULL) {
        char *v = malloc(strlen(bearer) + 8);
        sprintf(v, "Bearer %s", bearer);
        o.auth = v;
    }
    for (int i = 0; i < o.nhdr; i++) {
        o.own_host |= hdr_is(o.hdr[i], "Host");
        o.own_ctype |= hdr_is(o.hdr[i], "Content-Type");
        o.own_soapaction |= hdr_is(o.hdr[i], "SOAPAction");
        o.own_auth |= hdr_is(o.hdr[i], "Authorization");
    }
    if (o.idle > 0)
        o.conns = o.idle;

    worker_t *ws = calloc((size_t)o.conns, sizeof *ws);
    pthread_t *ts = calloc((size_t)o.conns, sizeof *ts);
    double start = now();
    for (int i = 0; i < o.conns; i++) {
        ws[i] = (worker_t){.o = &o, .id = i, .start = start, .warm_end = start + o.warmup,
                           .end = start + o.warmup + o.seconds};
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setstacksize(&at, 256 * 1024);
        pthread_create(&ts[i], &at, run, &ws[i]);
    }
    /* CPU over the measured seconds, sampled by this (otherwise idle) thread. */
    double cpu0 = 0, cpu1 = 0, pg0 = 0, pg1 = 0, v0 = 0, v1 = 0, iv0 = 0, iv1 = 0;
    if (cpu_pid > 0 || pg_pid > 0) {
        sleep_ms((start + o.warmup - now()) * 1000.0);
        if (cpu_pid > 0) {
            cpu0 = process_cpu(cpu_pid, false);
            process_switches(cpu_pid, &v0, &iv0);
        }
        pg0 = pg_pid > 0 ? cluster_cpu(pg_pid) : 0;
        sleep_ms((start + o.warmup + o.seconds - now()) * 1000.0);
        if (cpu_pid > 0) {
            cpu1 = process_cpu(cpu_pid, false);
            process_switches(cpu_pid, &v1, &iv1);
        }
        pg1 = pg_pid > 0 ? cluster_cpu(pg_pid) : 0;
    }
    long req = 0, err = 0, n = 0, nd = 0, polls = 0;
    for (int i = 0; i < o.conns; i++) {
        pthread_join(ts[i], NULL);
        req += ws[i].requests;
        err += ws[i].errors;
        polls += ws[i].polls;
        n += ws[i].nlat;
        nd += ws[i].ndone;
    }
    trace_write(ws, o.conns, o.tag);
    double *all = malloc(sizeof(double) * (size_t)(n + 1)), *done = malloc(sizeof(double) * (size_t)(nd + 1));
    long k = 0, kd = 0;
    for (int i = 0; i < o.conns; i++) {
        memcpy(all + k, ws[i].lat, sizeof(double) * (size_t)ws[i].nlat);
        k += ws[i].nlat;
        if (ws[i].ndone > 0)
            memcpy(done + kd, ws[i].done, sizeof(double) * (size_t)ws[i].ndone);
        kd += ws[i].ndone;
        if (ws[i].first_error[0] && err > 0)
            fprintf(stderr, "first error (connection %d): %s\n", i, ws[i].first_error);
    }
    qsort(all, (size_t)n, sizeof *all, cmp);
    qsort(done, (size_t)nd, sizeof *done, cmp);
#define PCT(v, cnt, p) ((cnt) ? (v)[(long)((double)((cnt) - 1) * (p))] * 1000.0 : 0.0)
    printf("conns=%d seconds=%.1f requests=%ld errors=%ld rps=%.1f units_per_s=%.1f "
           "p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f",
           o.conns, o.seconds, req, err, (double)req / o.seconds, (double)req * o.units / o.seconds,
           PCT(all, n, 0.50), PCT(all, n, 0.90), PCT(all, n, 0.99), n ? all[n - 1] * 1000.0 : 0.0);
    if (cpu_pid > 0)
        printf(" cpu_us_per_req=%.1f vcs_per_req=%.2f ivcs_per_req=%.2f", req ? (cpu1 - cpu0) * 1e6 / (double)req : 0.0,
               req ? (v1 - v0) / (double)req : 0.0, req ? (iv1 - iv0) / (double)req : 0.0);
    if (pg_pid > 0)
        printf(" pg_cpu_us_per_unit=%.1f", req ? (pg1 - pg0) * 1e6 / ((double)req * o.units) : 0.0);
    if (o.follow)
        printf(" done_p50_ms=%.2f done_p99_ms=%.2f done_max_ms=%.2f polls=%ld", PCT(done, nd, 0.50),
               PCT(done, nd, 0.99), nd ? done[nd - 1] * 1000.0 : 0.0, polls);
    printf("\n");
    return err ? 1 : 0;
}
