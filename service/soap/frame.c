#include "frame.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A chunk-size line (hex digits and extensions) longer than this is not
 * a client's honest framing. */
#define FRAME_MAX_CHUNK_LINE 1024
/* Chunk framing may add this much on top of the body before we call the
 * request too large: honest clients use chunks of kilobytes, not bytes. */
#define FRAME_CHUNK_SLACK(max_body) ((max_body) + 65536)

typedef struct frame__line {
    const char *p;  /* first byte */
    size_t n;       /* without the CR LF */
    size_t next;    /* offset after the line's LF */
} frame__line_t;

/* The line starting at pos, if its LF has arrived. */
static bool frame__line(const char *buf, size_t len, size_t pos, frame__line_t *l)
{
    const char *lf = memchr(buf + pos, '\n', len - pos);
    if (lf == NULL)
        return false;
    l->p = buf + pos;
    l->n = (size_t)(lf - l->p);
    if (l->n > 0 && l->p[l->n - 1] == '\r')
        l->n--;
    l->next = (size_t)(lf - buf) + 1;
    return true;
}

static bool frame__error(frame_t *f, int status, const char *why)
{
    f->status = FRAME_ERROR;
    f->http_status = status;
    f->why = why;
    return false;
}

/* Bytes of blank lines before the request line, which robust servers
 * skip (some clients send a CR LF after a body). */
static size_t frame__lead(const char *buf, size_t len)
{
    size_t i = 0;
    while (i < len && (buf[i] == '\r' || buf[i] == '\n'))
        i++;
    return i;
}

static bool frame__tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Whether header line l is "name: ..." for name (case-insensitive); sets
 * *value and *vn to the value without surrounding blanks. */
static bool frame__is(const frame__line_t *l, const char *name, const char **value, size_t *vn)
{
    size_t k = strlen(name);
    if (l->n <= k || l->p[k] != ':' || strncasecmp(l->p, name, k) != 0)
        return false;
    const char *v = l->p + k + 1, *end = l->p + l->n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *value = v;
    *vn = (size_t)(end - v);
    return true;
}

/* Parses the request line; false with f set on error. */
static bool frame__request_line(const frame__line_t *l, frame_t *f)
{
    size_t i = 0;
    while (i < l->n && frame__tchar(l->p[i]))
        i++;
    if (i == 0 || i >= l->n || l->p[i] != ' ')
        return frame__error(f, 400, "malformed HTTP request line");
    bool get = i == 3 && memcmp(l->p, "GET", 3) == 0;
    bool post = i == 4 && memcmp(l->p, "POST", 4) == 0;
    size_t t = ++i;
    while (i < l->n && l->p[i] != ' ')
        i++;
    if (i == t || i >= l->n)
        return frame__error(f, 400, "malformed HTTP request line");
    const char *v = l->p + i + 1;
    size_t vn = l->n - i - 1;
    if (vn < 5 || memcmp(v, "HTTP/", 5) != 0)
        return frame__error(f, 400, "malformed HTTP request line");
    if (vn != 8 || v[5] != '1' || v[6] != '.' || (v[7] != '0' && v[7] != '1'))
        return frame__error(f, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
    if (!get && !post)
        return frame__error(f, 405, "only GET (the WSDL) and POST (SOAP requests) are supported");
    f->is_get = get;
    return true;
}

/* Walks the chunks after the header. Returns FRAME_DONE with the request's
 * end in *end and the body size in *body, FRAME_MORE, or FRAME_ERROR
 * (f set). When out is given, copies the chunks' data there. */
static frame_status_t frame__chunks(const char *buf, size_t len, size_t pos, const frame_limits_t *lim,
                                    frame_t *f, size_t *end, size_t *body, char *out)
{
    frame__line_t l;
    size_t total = 0;

    for (;;) {
        if (!frame__line(buf, len, pos, &l))
            return len - pos > FRAME_MAX_CHUNK_LINE ? (frame__error(f, 400, "malformed chunk size"), FRAME_ERROR)
                                                    : FRAME_MORE;
        if (l.n > FRAME_MAX_CHUNK_LINE) {
            frame__error(f, 400, "malformed chunk size");
            return FRAME_ERROR;
        }
        size_t size = 0, i = 0;
        for (; i < l.n && i < 16; i++) {
            char c = l.p[i];
            int d = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
            if (d < 0)
                break;
            size = size * 16 + (size_t)d;
        }
        if (i == 0 || i == 16 || (i < l.n && l.p[i] != ';' && l.p[i] != ' ' && l.p[i] != '\t')) {
            frame__error(f, 400, "malformed chunk size");
            return FRAME_ERROR;
        }
        pos = l.next;
        if (size == 0) {
            /* Trailer fields, then the blank line. */
            for (;;) {
                if (!frame__line(buf, len, pos, &l))
                    return len - pos > lim->max_header_line
                               ? (frame__error(f, 431, "chunked trailer too large"), FRAME_ERROR)
                               : FRAME_MORE;
                pos = l.next;
                if (l.n == 0)
                    break;
            }
            *end = pos;
            *body = total;
            return FRAME_DONE;
        }
        if (size > lim->max_body || total + size > lim->max_body) {
            frame__error(f, 413, NULL);
            return FRAME_ERROR;
        }
        if (len - pos < size + 1)
            return FRAME_MORE;
        if (out != NULL)
            memcpy(out + total, buf + pos, size);
        total += size;
        pos += size;
        if (buf[pos] == '\r') {
            if (len - pos < 2)
                return FRAME_MORE;
            pos++;
        }
        if (buf[pos] != '\n') {
            frame__error(f, 400, "malformed chunk: data longer than its size");
            return FRAME_ERROR;
        }
        pos++;
    }
}

void frame_scan(const char *buf, size_t len, const frame_limits_t *lim, frame_t *f)
{
    frame__line_t l;
    size_t pos = frame__lead(buf, len);
    long long content_length = -1;
    bool multipart = false, expect = false;

    memset(f, 0, sizeof *f);
    f->status = FRAME_MORE;
    if (pos == len)
        return;
    for (bool first = true;; first = false) {
        if (!frame__line(buf, len, pos, &l)) {
            if (len - pos > lim->max_header_line || len > lim->max_header)
                frame__error(f, 431, "HTTP request header too large");
            return;
        }
        if (l.n > lim->max_header_line || l.next > lim->max_header) {
            frame__error(f, 431, "HTTP request header too large");
            return;
        }
        pos = l.next;
        if (first) {
            if (!frame__request_line(&l, f))
                return;
            continue;
        }
        if (l.n == 0)
            break;
        const char *v;
        size_t vn;
        size_t name = 0;
        while (name < l.n && frame__tchar(l.p[name]))
            name++;
        if (name == 0 || name >= l.n || l.p[name] != ':') {
            frame__error(f, 400, "malformed HTTP header line");
            return;
        }
        if (frame__is(&l, "Content-Length", &v, &vn)) {
            long long n = 0;
            if (vn == 0 || vn > 18) {
                frame__error(f, 400, "invalid Content-Length");
                return;
            }
            for (size_t i = 0; i < vn; i++) {
                if (v[i] < '0' || v[i] > '9') {
                    frame__error(f, 400, "invalid Content-Length");
                    return;
                }
                n = n * 10 + (v[i] - '0');
            }
            if (content_length >= 0 && content_length != n) {
                frame__error(f, 400, "conflicting Content-Length headers");
                return;
            }
            content_length = n;
        } else if (frame__is(&l, "Transfer-Encoding", &v, &vn)) {
            if (f->chunked || vn != 7 || strncasecmp(v, "chunked", 7) != 0) {
                frame__error(f, 501, "only Transfer-Encoding: chunked is supported");
                return;
            }
            f->chunked = true;
        } else if (frame__is(&l, "Expect", &v, &vn)) {
            expect = vn == 12 && strncasecmp(v, "100-continue", 12) == 0;
        } else if (frame__is(&l, "Content-Type", &v, &vn)) {
            multipart = vn >= 10 && strncasecmp(v, "multipart/", 10) == 0;
        }
    }
    f->header_len = pos;
    if (f->chunked && content_length >= 0) {
        frame__error(f, 400, "both Transfer-Encoding and Content-Length");
        return;
    }
    if (!f->is_get && multipart) {
        frame__error(f, 415, "multipart (MIME, MTOM) requests are not supported; send text/xml");
        return;
    }
    if (!f->is_get && !f->chunked && content_length < 0) {
        frame__error(f, 411, "a POST needs a Content-Length or Transfer-Encoding: chunked");
        return;
    }
    if (content_length > (long long)lim->max_body) {
        frame__error(f, 413, NULL);
        return;
    }
    if (f->chunked) {
        size_t end, body;
        frame_status_t s = frame__chunks(buf, len, pos, lim, f, &end, &body, NULL);
        if (s == FRAME_ERROR)
            return;
        if (s == FRAME_MORE) {
            if (len - pos > FRAME_CHUNK_SLACK(lim->max_body) + lim->max_body)
                frame__error(f, 413, NULL);
            f->expect_continue = expect && len == pos;
            return;
        }
        f->total = end;
        f->body_len = body;
        f->status = FRAME_DONE;
        return;
    }
    size_t n = content_length < 0 ? 0 : (size_t)content_length;
    if (len - pos < n) {
        f->expect_continue = expect && len == pos;
        return;
    }
    f->total = pos + n;
    f->body_len = n;
    f->status = FRAME_DONE;
}

size_t frame_normalized_size(const frame_t *f)
{
    /* The header only loses lines, but gains "Content-Length: N" and
     * CR LF endings where the client used bare LF (at most one byte per
     * line, and a line has at least two bytes). */
    return f->header_len + f->header_len / 2 + 64 + f->body_len;
}

void frame_body(const char *buf, const frame_t *f, char *out)
{
    if (!f->chunked) {
        memcpy(out, buf + f->header_len, f->body_len);
        return;
    }
    frame_limits_t lim = {f->total, f->total, f->body_len};
    frame_t scratch;
    size_t end, body;
    memset(&scratch, 0, sizeof scratch);
    (void)frame__chunks(buf, f->total, f->header_len, &lim, &scratch, &end, &body, out);
}

size_t frame_header(const char *buf, const frame_t *f, size_t body_len, char *out, size_t cap)
{
    frame__line_t l;
    size_t pos = frame__lead(buf, f->header_len), o = 0;
    const char *v;
    size_t vn;

    for (bool first = true; frame__line(buf, f->header_len, pos, &l) && l.n > 0; first = false) {
        pos = l.next;
        if (!first && (frame__is(&l, "Content-Length", &v, &vn) || frame__is(&l, "Transfer-Encoding", &v, &vn) ||
                       frame__is(&l, "Expect", &v, &vn)))
            continue;
        if (o + l.n + 2 > cap)
            return 0;
        memcpy(out + o, l.p, l.n);
        o += l.n;
        out[o++] = '\r';
        out[o++] = '\n';
    }
    int n = snprintf(out + o, cap - o, "Content-Length: %zu\r\n\r\n", body_len);
    if (n < 0 || (size_t)n >= cap - o)
        return 0;
    return o + (size_t)n;
}
