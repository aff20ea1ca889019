#include "frame.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A chunk-size line (hex digits and extensions) longer than this is not
 * a client's honest framing. */
#define FRAME_MAX_CHUNK_LINE 1024
/* Chunks a body may come in: honest clients send chunks of kilobytes, and
 * every new read of a request still arriving walks its chunk headers
 * again, so their number is bounded. */
#define FRAME_MAX_CHUNKS(max_body) (4096 + (max_body) / 256)
/* Chunk framing may add this much on top of the body before we call the
 * request too large (the chunk headers FRAME_MAX_CHUNKS allows). */
#define FRAME_CHUNK_SLACK(max_body) (FRAME_MAX_CHUNKS(max_body) * 24 + 65536)
/* Longest request target: room for a REST path with ids of 255 characters
 * of up to 4 bytes each, percent-encoded (the SOAP front allows less:
 * gSOAP keeps the path in 1 KiB). */
#define FRAME_MAX_TARGET 4096
/* Longest Host header: gSOAP keeps it in a buffer of 1 KiB, and a host
 * name has at most 253 characters (with a port, a little more). */
#define FRAME_MAX_HOST 255
/* Longest method token: the longest standard one is 7 (OPTIONS, CONNECT). */
#define FRAME_MAX_METHOD 16
/* Longest X-Request-Id taken from a client; a longer (or odd) one is
 * replaced by one of ours, as it goes into every log line and response. */
#define FRAME_MAX_REQUEST_ID 128
/* Blank lines tolerated before a request line. */
#define FRAME_MAX_LEAD 1024

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

/* A header over its limits: 414 while still in the request line at pos
 * (its target is what is long: the method is a short token), with as much
 * of the target as came, so that the refusal goes to its path's front;
 * else 431. */
static void frame__too_large(frame_t *f, const char *buf, size_t len, size_t pos, bool request_line)
{
    if (!request_line) {
        frame__error(f, 431, "HTTP request header too large");
        return;
    }
    const char *sp = memchr(buf + pos, ' ', len - pos);
    if (sp != NULL) {
        size_t at = (size_t)(sp + 1 - buf), n = 0;
        while (at + n < len && buf[at + n] != ' ' && buf[at + n] != '\r' && buf[at + n] != '\n')
            n++;
        f->target_off = at;
        f->target_len = n;
    }
    frame__error(f, 414, "request target longer than 4096 bytes");
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

/* Whether l is a field line, "name: value" with a token for its name and
 * no control character but HTAB in its value (a header, or a trailer of a
 * chunked body). False with f set if not. */
static bool frame__field_line(const frame__line_t *l, frame_t *f, bool trailer)
{
    size_t name = 0;
    while (name < l->n && frame__tchar(l->p[name]))
        name++;
    if (name == 0 || name >= l->n || l->p[name] != ':')
        return frame__error(f, 400, trailer ? "malformed chunked trailer line" : "malformed HTTP header line");
    for (size_t k = name + 1; k < l->n; k++)
        if (((unsigned char)l->p[k] < 0x20 && l->p[k] != '\t') || l->p[k] == 0x7F)
            return frame__error(f, 400,
                                trailer ? "a control character in a chunked trailer" : "a control character in an HTTP header");
    return true;
}

/* Whether p (n bytes) is what may follow a chunk's size on its line:
 * chunk extensions, *( BWS ";" BWS name [ BWS "=" BWS value ] ) with
 * tokens for names and tokens or quoted strings for values (RFC 9112,
 * section 7.1.1). Anything else ("2 zz") is a framing another parser may
 * read otherwise. */
static bool frame__chunk_ext(const char *p, size_t n)
{
    size_t i = 0;
#define FRAME__BWS() while (i < n && (p[i] == ' ' || p[i] == '\t')) i++
    FRAME__BWS();
    while (i < n) {
        if (p[i++] != ';')
            return false;
        FRAME__BWS();
        size_t t = i;
        while (i < n && frame__tchar(p[i]))
            i++;
        if (i == t)
            return false;
        FRAME__BWS();
        if (i < n && p[i] == '=') {
            i++;
            FRAME__BWS();
            if (i < n && p[i] == '"') {
                for (i++;; i++) {
                    if (i >= n)
                        return false;
                    unsigned char c = (unsigned char)p[i];
                    if (c == '"')
                        break;
                    if (c == '\\') {
                        if (++i >= n)
                            return false;
                        c = (unsigned char)p[i];
                    }
                    if ((c < 0x20 && c != '\t') || c == 0x7F)
                        return false;
                }
                i++;
            } else {
                t = i;
                while (i < n && frame__tchar(p[i]))
                    i++;
                if (i == t)
                    return false;
            }
            FRAME__BWS();
        }
    }
#undef FRAME__BWS
    return true;
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

/* The request target of request line l (between the two spaces). */
static void frame__target(const frame__line_t *l, const char **t, size_t *tn)
{
    const char *sp = memchr(l->p, ' ', l->n);
    const char *sp2 = sp ? memchr(sp + 1, ' ', (size_t)(l->p + l->n - sp - 1)) : NULL;
    *t = sp ? sp + 1 : l->p;
    *tn = sp && sp2 ? (size_t)(sp2 - sp - 1) : 0;
}

/* An absolute-form target ("http://host:port/path") in origin form
 * ("/path"): every server must accept it, and gSOAP does not. */
static void frame__origin_form(const char **t, size_t *tn)
{
    const char *p = *t, *end = *t + *tn;
    size_t k = *tn >= 7 && strncasecmp(p, "http://", 7) == 0    ? 7
               : *tn >= 8 && strncasecmp(p, "https://", 8) == 0 ? 8
                                                                : 0;
    if (k == 0)
        return;
    const char *slash = memchr(p + k, '/', (size_t)(end - p - k));
    if (slash == NULL) {
        /* No path: the root, which is not in the buffer (frame_t says so
         * with target_root). */
        *t = end;
        *tn = 0;
        return;
    }
    *t = slash;
    *tn = (size_t)(end - slash);
}

/* Whether the method token m (n bytes) is one HTTP defines (RFC 9110, 9;
 * RFC 5789): the others are 501, not a 405 of the path (RFC 9110, 9.1).
 * Methods are case-sensitive: "get" is not GET. */
static bool frame__method_known(const char *m, size_t n)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i]) == n && memcmp(known[i], m, n) == 0)
            return true;
    return false;
}

/* Whether c is one of the characters of set (NUL is not). */
static bool frame__in(char c, const char *set)
{
    return c != '\0' && strchr(set, c) != NULL;
}

/* Whether v (n bytes) is a valid Host value (RFC 9110, 7.2; RFC 3986,
 * 3.2.2): uri-host [":" port], the host an IP literal in brackets or a
 * reg-name (unreserved, pct-encoded, sub-delims), the port digits. Empty is
 * valid: a target without an authority sends it so. */
static bool frame__host_valid(const char *v, size_t n)
{
    size_t i = 0;
    if (n > 0 && v[0] == '[') {
        for (i = 1; i < n && v[i] != ']'; i++)
            if (!isalnum((unsigned char)v[i]) && !frame__in(v[i], ":.-_~!$&'()*+,;=%"))
                return false;
        if (i == n || i == 1)
            return false;
        i++;
    } else {
        for (; i < n && v[i] != ':'; i++) {
            if (v[i] == '%') {
                if (i + 2 >= n || !isxdigit((unsigned char)v[i + 1]) || !isxdigit((unsigned char)v[i + 2]))
                    return false;
                i += 2;
            } else if (!isalnum((unsigned char)v[i]) && !frame__in(v[i], "-._~!$&'()*+,;=")) {
                return false;
            }
        }
    }
    if (i == n)
        return true;
    if (v[i++] != ':')
        return false;
    for (; i < n; i++)
        if (!isdigit((unsigned char)v[i]))
            return false;
    return true;
}

/* Parses the request line l of buf; false with f set on error. */
static bool frame__request_line(const char *buf, const frame__line_t *l, frame_t *f, bool *http10)
{
    size_t i = 0;
    while (i < l->n && frame__tchar(l->p[i]))
        i++;
    if (i == 0 || i >= l->n || l->p[i] != ' ')
        return frame__error(f, 400, "malformed HTTP request line");
    if (i > FRAME_MAX_METHOD)
        return frame__error(f, 501, "unknown HTTP method");
    f->method_off = (size_t)(l->p - buf);
    f->method_len = i;
    size_t t = ++i;
    while (i < l->n && l->p[i] != ' ')
        i++;
    if (i == t || i >= l->n)
        return frame__error(f, 400, "malformed HTTP request line");
    for (size_t k = t; k < i; k++)
        if ((unsigned char)l->p[k] < 0x21 || l->p[k] == 0x7F)
            return frame__error(f, 400, "malformed HTTP request line");
        else if (l->p[k] == '#') /* a fragment is the client's own, never sent */
            return frame__error(f, 400, "the request target has a fragment ('#')");
    /* The target first: a refusal of the version or the length is still
     * written in the format of the front the path belongs to. */
    const char *target;
    size_t tn;
    frame__target(l, &target, &tn);
    /* An absolute-form target's authority is the host asked, whatever the
     * Host header says (RFC 9112, 3.2.2). */
    const char *auth = target + (tn >= 7 && strncasecmp(target, "http://", 7) == 0    ? 7
                                 : tn >= 8 && strncasecmp(target, "https://", 8) == 0 ? 8
                                                                                      : 0);
    if (auth > target) {
        const char *end = target + tn, *slash = memchr(auth, '/', (size_t)(end - auth)), *at;
        end = slash ? slash : end;
        while ((at = memchr(auth, '@', (size_t)(end - auth))) != NULL)
            auth = at + 1; /* userinfo is not the host */
        if (end > auth && (size_t)(end - auth) <= FRAME_MAX_HOST) {
            f->host_off = (size_t)(auth - buf);
            f->host_len = (size_t)(end - auth);
            f->host_in_target = true;
        }
    }
    frame__origin_form(&target, &tn);
    f->target_root = tn == 0 && target > l->p;
    f->target_off = (size_t)(target - buf);
    f->target_len = tn;
    const char *v = l->p + i + 1;
    size_t vn = l->n - i - 1;
    /* HTTP-version is "HTTP/" DIGIT "." DIGIT, and the line ends there
     * (RFC 9112, 2.3 and 3): anything else is malformed, not another
     * version; a later minor version of 1 is served as 1.1. */
    if (vn != 8 || memcmp(v, "HTTP/", 5) != 0 || !isdigit((unsigned char)v[5]) || v[6] != '.' ||
        !isdigit((unsigned char)v[7]))
        return frame__error(f, 400, "malformed HTTP request line");
    if (v[5] != '1')
        return frame__error(f, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
    if (tn > FRAME_MAX_TARGET)
        return frame__error(f, 414, "request target longer than 4096 bytes");
    if (!frame__method_known(l->p, f->method_len))
        return frame__error(f, 501, "unknown HTTP method");
    if (!f->target_root && (tn == 0 || target[0] != '/')) {
        f->target_len = 0;
        return frame__error(f, 400, "the request target must be a path (or an absolute http URL)");
    }
    f->minor = v[7] == '0' ? 0 : 1;
    *http10 = v[7] == '0';
    return true;
}

/* Whether an X-Request-Id value is one we may echo into headers and logs:
 * visible ASCII (what tracing systems put there: UUIDs, base64, "Root=1-…;
 * Parent=…"), but no blank, quote, backslash or angle bracket, so that it
 * stays one word in a log line and needs no escaping in a header. */
static bool frame__request_id_ok(const char *v, size_t vn)
{
    if (vn == 0 || vn > FRAME_MAX_REQUEST_ID)
        return false;
    for (size_t i = 0; i < vn; i++)
        if (v[i] <= ' ' || v[i] > '~' || strchr("\"'\\<>", v[i]) != NULL)
            return false;
    return true;
}

/* Whether the comma-separated list v (vn bytes) holds token tok. */
static bool frame__has_token(const char *v, size_t vn, const char *tok)
{
    size_t k = strlen(tok);
    for (size_t i = 0; i < vn;) {
        while (i < vn && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t j = i;
        while (j < vn && v[j] != ',')
            j++;
        size_t e = j;
        while (e > i && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - i == k && strncasecmp(v + i, tok, k) == 0)
            return true;
        i = j;
    }
    return false;
}

/* Walks the chunks after the header. Returns FRAME_DONE with the request's
 * end in *end and the body size in *body, FRAME_MORE, or FRAME_ERROR
 * (f set). When out is given, copies the chunks' data there. */
static frame_status_t frame__chunks(const char *buf, size_t len, size_t pos, const frame_limits_t *lim,
                                    frame_t *f, size_t *end, size_t *body, char *out)
{
    frame__line_t l;
    size_t total = 0, chunks = 0;

    for (;;) {
        if (++chunks > FRAME_MAX_CHUNKS(lim->max_body)) {
            frame__error(f, 400, "the body comes in too many chunks (send chunks of kilobytes)");
            return FRAME_ERROR;
        }
        if (!frame__line(buf, len, pos, &l))
            return len - pos > FRAME_MAX_CHUNK_LINE ? (frame__error(f, 400, "malformed chunk size"), FRAME_ERROR)
                                                    : FRAME_MORE;
        if (l.n > FRAME_MAX_CHUNK_LINE) {
            frame__error(f, 400, "malformed chunk size");
            return FRAME_ERROR;
        }
        /* chunk-size is 1*HEXDIG (RFC 9112, 7.1): leading zeros are
         * legal, however many; a value of 16 significant digits or more
         * is beyond any body. */
        size_t size = 0, i = 0, digits = 0;
        for (; i < l.n; i++) {
            char c = l.p[i];
            int d = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
            if (d < 0)
                break;
            if (digits > 0 || d > 0)
                digits++;
            if (digits < 16)
                size = size * 16 + (size_t)d;
        }
        if (i == 0 || digits >= 16 || !frame__chunk_ext(l.p + i, l.n - i)) {
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
                if (!frame__field_line(&l, f, true))
                    return FRAME_ERROR;
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

/* A request refused for its request line or one of its header lines: an
 * X-Request-Id on a line after it is still echoed in the refusal (and
 * logged with it), as it is when it comes before. The lines are read as
 * far as they have arrived, up to the blank line. */
static void frame__later_request_id(const char *buf, size_t len, frame_t *f)
{
    frame__line_t l;
    const char *v;
    size_t vn;
    if (f->status != FRAME_ERROR || f->request_id_len > 0 || !frame__line(buf, len, f->lead, &l))
        return;
    for (size_t pos = l.next; frame__line(buf, len, pos, &l) && l.n > 0; pos = l.next)
        if (frame__is(&l, "X-Request-Id", &v, &vn)) {
            if (frame__request_id_ok(v, vn)) {
                f->request_id_off = (size_t)(v - buf);
                f->request_id_len = vn;
            }
            return;
        }
}

void frame_scan(const char *buf, size_t len, const frame_limits_t *lim, frame_t *f)
{
    frame__line_t l;
    size_t pos = frame__lead(buf, len);
    long long content_length = -1;
    bool expect = false, http10 = false, close = false, keep = false;
    int hosts = 0, auths = 0, types = 0, actions = 0, ids = 0, idem = 0;

    memset(f, 0, sizeof *f);
    f->status = FRAME_MORE;
    f->lead = pos;
    f->max_body = lim->max_body;
    if (pos > FRAME_MAX_LEAD) {
        frame__error(f, 400, "blank lines instead of a request");
        return;
    }
    if (pos == len)
        return;
    for (bool first = true;; first = false) {
        if (!frame__line(buf, len, pos, &l)) {
            if (len - pos > lim->max_header_line || len > lim->max_header)
                frame__too_large(f, buf, len, pos, first);
            goto refused;
        }
        if (l.n > lim->max_header_line || l.next > lim->max_header) {
            frame__too_large(f, buf, len, pos, first);
            goto refused;
        }
        pos = l.next;
        if (first) {
            if (!frame__request_line(buf, &l, f, &http10))
                goto refused;
            if (lim->body_limit != NULL) {
                size_t m = lim->body_limit(lim->arg, buf + f->target_off, f->target_len);
                f->max_body = m < lim->max_body ? m : lim->max_body;
            }
            f->headers_off = pos;
            continue;
        }
        if (l.n == 0)
            break;
        const char *v;
        size_t vn;
        if (!frame__field_line(&l, f, false))
            goto refused;
        if (frame__is(&l, "Content-Length", &v, &vn)) {
            /* Any number of digits is a valid length (RFC 9110, 8.6): one
             * too large to hold stays at LLONG_MAX, over every cap (413). */
            long long n = 0;
            if (vn == 0) {
                frame__error(f, 400, "invalid Content-Length");
                goto refused;
            }
            for (size_t i = 0; i < vn; i++) {
                if (v[i] < '0' || v[i] > '9') {
                    frame__error(f, 400, "invalid Content-Length");
                    goto refused;
                }
                n = n > (LLONG_MAX - 9) / 10 ? LLONG_MAX : n * 10 + (v[i] - '0');
            }
            if (content_length >= 0 && content_length != n) {
                frame__error(f, 400, "conflicting Content-Length headers");
                goto refused;
            }
            content_length = n;
        } else if (frame__is(&l, "Transfer-Encoding", &v, &vn)) {
            if (f->chunked || vn != 7 || strncasecmp(v, "chunked", 7) != 0) {
                frame__error(f, 501, "only Transfer-Encoding: chunked is supported");
                goto refused;
            }
            f->chunked = true;
        } else if (frame__is(&l, "Expect", &v, &vn)) {
            if (vn != 12 || strncasecmp(v, "100-continue", 12) != 0) {
                frame__error(f, 417, "only Expect: 100-continue is supported");
                goto refused;
            }
            expect = true;
        } else if (frame__is(&l, "Content-Type", &v, &vn)) {
            types++;
        } else if (frame__is(&l, "Connection", &v, &vn)) {
            close = close || frame__has_token(v, vn, "close");
            keep = keep || frame__has_token(v, vn, "keep-alive");
        } else if (frame__is(&l, "Host", &v, &vn)) {
            if (++hosts > 1 || vn > FRAME_MAX_HOST) {
                frame__error(f, 400, hosts > 1 ? "more than one Host header" : "Host header longer than 255 bytes");
                goto refused;
            }
            if (!frame__host_valid(v, vn)) {
                frame__error(f, 400, "the Host header is not a host name or address with an optional port");
                goto refused;
            }
            if (!f->host_in_target) {
                f->host_off = (size_t)(v - buf);
                f->host_len = vn;
            }
        } else if (frame__is(&l, "Authorization", &v, &vn)) {
            auths++;
        } else if (frame__is(&l, "SOAPAction", &v, &vn)) {
            actions++;
        } else if (frame__is(&l, "X-Request-Id", &v, &vn)) {
            if (++ids == 1 && frame__request_id_ok(v, vn)) {
                f->request_id_off = (size_t)(v - buf);
                f->request_id_len = vn;
            }
        } else if (frame__is(&l, "Idempotency-Key", &v, &vn)) {
            idem++;
        }
    }
    f->header_len = pos;
    /* The header lines without the blank line (CR LF or a bare LF). */
    f->headers_len = pos - f->headers_off - (pos >= 2 && buf[pos - 2] == '\r' ? 2 : 1);
    f->close = close || (http10 && !keep);
    /* Every HTTP/1.1 client sends Host (RFC 9112, 3.2), even with an
     * absolute-form target; HTTP/1.0 ones need not. */
    if (hosts == 0 && !http10) {
        frame__error(f, 400, "an HTTP/1.1 request needs a Host header");
        return;
    }
    if (auths > 1 || types > 1 || actions > 1 || ids > 1 || idem > 1) {
        frame__error(f, 400, "a header that may appear once appears more than once");
        return;
    }
    if (f->chunked && (content_length >= 0 || http10)) {
        frame__error(f, 400, http10 ? "Transfer-Encoding in an HTTP/1.0 request"
                                    : "both Transfer-Encoding and Content-Length");
        return;
    }
    /* A request with neither Content-Length nor Transfer-Encoding has no
     * body, whatever its method (RFC 9112, 6.3): a POST without either
     * (curl -X POST) is routed and judged as one with an empty body. */
    if (content_length > (long long)f->max_body) {
        frame__error(f, 413, NULL);
        return;
    }
    if (f->chunked) {
        size_t end, body;
        frame_limits_t own = *lim;
        own.max_body = f->max_body;
        frame_status_t s = frame__chunks(buf, len, pos, &own, f, &end, &body, NULL);
        if (s == FRAME_ERROR)
            return;
        if (s == FRAME_MORE) {
            if (len - pos > f->max_body + FRAME_CHUNK_SLACK(f->max_body))
                frame__error(f, 413, NULL);
            f->expect_continue = expect && !http10 && len == pos; /* HTTP/1.0 knows no 100 */
            return;
        }
        f->total = end;
        f->body_len = body;
        f->status = FRAME_DONE;
        return;
    }
    size_t n = content_length < 0 ? 0 : (size_t)content_length;
    if (len - pos < n) {
        f->expect_continue = expect && !http10 && len == pos; /* HTTP/1.0 knows no 100 */
        return;
    }
    f->total = pos + n;
    f->body_len = n;
    f->status = FRAME_DONE;
    return;
refused:
    frame__later_request_id(buf, len, f);
}

size_t frame_max_raw(const frame_limits_t *lim)
{
    return lim->max_header + lim->max_body + FRAME_CHUNK_SLACK(lim->max_body);
}

void frame_body(const char *buf, const frame_t *f, char *out)
{
    if (!f->chunked) {
        memcpy(out, buf + f->header_len, f->body_len);
        return;
    }
    /* frame_scan accepted these chunks under the caller's limits: walk them
     * again with no limit of our own (the chunk count's included). */
    frame_limits_t lim = {f->total, f->total, (size_t)-1 / 2, NULL, NULL};
    frame_t scratch;
    size_t end = 0, body = 0;
    memset(&scratch, 0, sizeof scratch);
    frame_status_t s = frame__chunks(buf, f->total, f->header_len, &lim, &scratch, &end, &body, out);
    /* Cannot differ from what frame_scan found; if it ever did, the body
     * must not keep bytes of an earlier request. */
    if (s != FRAME_DONE || body != f->body_len)
        memset(out, ' ', f->body_len);
}

bool frame_header_next(const char *lines, size_t n, size_t *pos, const char **name, size_t *nlen,
                       const char **value, size_t *vlen)
{
    frame__line_t l;
    if (*pos >= n)
        return false;
    if (!frame__line(lines, n, *pos, &l)) {
        /* The last line: its LF is not part of lines. */
        l.p = lines + *pos;
        l.n = n - *pos;
        if (l.n > 0 && l.p[l.n - 1] == '\r')
            l.n--;
        l.next = n;
    }
    *pos = l.next;
    /* frame_scan checked the syntax: a token, a colon, the value. */
    const char *colon = memchr(l.p, ':', l.n);
    if (colon == NULL)
        return false;
    const char *v = colon + 1, *end = l.p + l.n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *name = l.p;
    *nlen = (size_t)(colon - l.p);
    *value = v;
    *vlen = (size_t)(end - v);
    return true;
}
