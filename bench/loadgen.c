/*
 * loadgen - a SOAP load generator: one thread per keep-alive connection,
 * each sending the request template with its placeholders filled in, for a
 * fixed time. Prints one line of key=value results.
 *
 *   loadgen -p PORT -c CONNS -d SECONDS -a USER:PASSWORD -f TEMPLATE
 *           [-h HOST] [-P PATH] [-e EXPECT] [-u UNITS] [-w WARMUP] [-r TAG]
 *   loadgen -p PORT -i N -d SECONDS ...   open N keep-alive connections, send
 *                                         one request on each, then hold them idle
 *
 * Placeholders in the template: {C} the connection number, {S} the
 * request's sequence number on its connection, {R} the run tag. A response
 * counts as an error unless it is HTTP 200 and contains EXPECT (default
 * "<fnp:status>SUCCESS</fnp:status>").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Latency samples kept per connection; later ones are counted, not kept. */
#define MAX_SAMPLES 2000000

typedef struct opts {
    const char *host, *path, *auth_b64, *expect, *tag;
    char *tmpl;
    int port, conns, idle, units;
    double seconds, warmup;
} opts_t;

typedef struct worker {
    const opts_t *o;
    int id;
    double start, warm_end, end;
    long requests, errors;
    double *lat;
    long nlat;
    char first_error[256];
} worker_t;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
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

/* Fills the template into buf; returns the length. */
static size_t fill(const opts_t *o, int conn, long seq, char **buf, size_t *cap)
{
    size_t n = 0, tl = strlen(o->tmpl);
    char num[64];
    if (*cap < tl * 2 + 4096) {
        *cap = tl * 2 + 4096;
        *buf = realloc(*buf, *cap);
    }
    for (size_t i = 0; i < tl; i++) {
        const char *rep = NULL;
        if (o->tmpl[i] == '{' && i + 2 < tl && o->tmpl[i + 2] == '}') {
            char k = o->tmpl[i + 1];
            if (k == 'C')
                snprintf(num, sizeof num, "%d", conn), rep = num;
            else if (k == 'S')
                snprintf(num, sizeof num, "%ld", seq), rep = num;
            else if (k == 'R')
                rep = o->tag;
        }
        if (rep != NULL) {
            size_t rl = strlen(rep);
            if (n + rl + 1 >= *cap) {
                *cap *= 2;
                *buf = realloc(*buf, *cap);
            }
            memcpy(*buf + n, rep, rl);
            n += rl;
            i += 2;
        } else {
            if (n + 2 >= *cap) {
                *cap *= 2;
                *buf = realloc(*buf, *cap);
            }
            (*buf)[n++] = o->tmpl[i];
        }
    }
    return n;
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

/* Reads one HTTP response; returns its status (or -1) and the body in
 * *body (NUL-terminated, in the reused buffer). */
static int read_response(int fd, char **buf, size_t *cap, char **body)
{
    size_t len = 0;
    char *hend = NULL;
    long clen = -1;
    for (;;) {
        if (len + 65536 > *cap) {
            *cap = (len + 65536) * 2;
            *buf = realloc(*buf, *cap);
        }
        ssize_t r = recv(fd, *buf + len, *cap - len - 1, 0);
        if (r <= 0)
            return -1;
        len += (size_t)r;
        (*buf)[len] = '\0';
        if (hend == NULL && (hend = strstr(*buf, "\r\n\r\n")) != NULL) {
            char *cl = strcasestr(*buf, "\r\nContent-Length:");
            if (cl != NULL && cl < hend)
                clen = strtol(cl + 17, NULL, 10);
            else
                return -1; /* the service always sends Content-Length */
        }
        if (hend != NULL && (long)(len - (size_t)(hend + 4 - *buf)) >= clen)
            break;
    }
    *body = hend + 4;
    (*body)[clen] = '\0';
    return atoi(*buf + 9);
}

static void *run(void *arg)
{
    worker_t *w = arg;
    const opts_t *o = w->o;
    char *req = NULL, *body = NULL, *resp = NULL, *rbody;
    size_t reqcap = 0, bodycap = 0, respcap = 0;
    int fd = connect_to(o);
    long seq = 0;

    w->lat = malloc(sizeof(double) * MAX_SAMPLES);
    while (fd >= 0) {
        double t0 = now();
        if (t0 >= w->end)
            break;
        size_t bl = fill(o, w->id, seq++, &body, &bodycap);
        if (reqcap < bl + 1024) {
            reqcap = bl + 1024;
            req = realloc(req, reqcap);
        }
        int hl = snprintf(req, reqcap,
                          "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: text/xml; charset=utf-8\r\n"
                          "SOAPAction: \"\"\r\nAuthorization: Basic %s\r\nContent-Length: %zu\r\n\r\n",
                          o->path, o->host, o->port, o->auth_b64, bl);
        memcpy(req + hl, body, bl);
        int status = -1;
        if (send_all(fd, req, (size_t)hl + bl))
            status = read_response(fd, &resp, &respcap, &rbody);
        double t1 = now();
        bool counted = t0 >= w->warm_end;
        bool ok = status == 200 && strstr(rbody, o->expect) != NULL;
        if (counted) {
            w->requests++;
            if (!ok) {
                w->errors++;
                if (w->first_error[0] == '\0')
                    snprintf(w->first_error, sizeof w->first_error, "status %d: %.200s", status,
                             status > 0 ? rbody : "connection failed");
            }
            if (w->nlat < MAX_SAMPLES)
                w->lat[w->nlat++] = t1 - t0;
        }
        if (status < 0) {
            close(fd);
            fd = connect_to(o);
        }
        if (o->idle > 0) {
            /* Idle mode: one request, then hold the connection. */
            while (now() < w->end)
                sleep(1);
            break;
        }
    }
    if (fd >= 0)
        close(fd);
    free(req);
    free(body);
    free(resp);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    opts_t o = {.host = "127.0.0.1", .path = "/flexnet/services/v4/EntitlementOrderService",
                .expect = "<fnp:status>SUCCESS</fnp:status>", .tag = "run", .conns = 1, .units = 1,
                .seconds = 10};
    const char *auth = NULL, *file = NULL;
    int c;
    while ((c = getopt(argc, argv, "h:p:P:c:d:a:f:e:u:w:r:i:")) != -1) {
        switch (c) {
        case 'h': o.host = optarg; break;
        case 'p': o.port = atoi(optarg); break;
        case 'P': o.path = optarg; break;
        case 'c': o.conns = atoi(optarg); break;
        case 'd': o.seconds = atof(optarg); break;
        case 'a': auth = optarg; break;
        case 'f': file = optarg; break;
        case 'e': o.expect = optarg; break;
        case 'u': o.units = atoi(optarg); break;
        case 'w': o.warmup = atof(optarg); break;
        case 'r': o.tag = optarg; break;
        case 'i': o.idle = atoi(optarg); break;
        default: return 2;
        }
    }
    if (o.port <= 0 || auth == NULL || file == NULL) {
        fprintf(stderr, "usage: loadgen -p PORT -a USER:PASSWORD -f TEMPLATE [-c CONNS] [-d SECONDS] ...\n");
        return 2;
    }
    FILE *f = fopen(file, "rb");
    if (f == NULL) {
        perror(file);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long fl = ftell(f);
    fseek(f, 0, SEEK_SET);
    o.tmpl = malloc((size_t)fl + 1);
    if (fread(o.tmpl, 1, (size_t)fl, f) != (size_t)fl)
        return 2;
    o.tmpl[fl] = '\0';
    fclose(f);
    o.auth_b64 = b64(auth);
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
    long req = 0, err = 0, n = 0;
    for (int i = 0; i < o.conns; i++) {
        pthread_join(ts[i], NULL);
        req += ws[i].requests;
        err += ws[i].errors;
        n += ws[i].nlat;
    }
    double *all = malloc(sizeof(double) * (size_t)(n + 1));
    long k = 0;
    for (int i = 0; i < o.conns; i++) {
        memcpy(all + k, ws[i].lat, sizeof(double) * (size_t)ws[i].nlat);
        k += ws[i].nlat;
        if (ws[i].first_error[0] && err > 0)
            fprintf(stderr, "first error (connection %d): %s\n", i, ws[i].first_error);
    }
    qsort(all, (size_t)n, sizeof *all, cmp);
#define PCT(p) (n ? all[(long)((double)(n - 1) * (p))] * 1000.0 : 0.0)
    printf("conns=%d seconds=%.1f requests=%ld errors=%ld rps=%.1f units_per_s=%.1f "
           "p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
           o.conns, o.seconds, req, err, (double)req / o.seconds, (double)req * o.units / o.seconds, PCT(0.50),
           PCT(0.90), PCT(0.99), n ? all[n - 1] * 1000.0 : 0.0);
    return err ? 1 : 0;
}
