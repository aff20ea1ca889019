/*
 * frame.h - HTTP/1.1 request framing, before any front sees a byte.
 *
 * The server reads each connection without blocking into a buffer and asks
 * frame_scan whether it holds a whole request yet. Only a whole request is
 * handed to a front (SOAP or REST), so a slow or stalled client holds a
 * buffer, never a worker, and the bytes after a request (a pipelined one)
 * stay in the buffer for the next. frame_body de-chunks the body.
 *
 * The framing judges what every front relies on: the request line, the
 * header syntax, the length of the body (Content-Length or chunked, never
 * both), header lines that may appear once, and the limits. What a request
 * means (methods, media types) is the front's to judge.
 *
 * Nothing here knows sockets or any front; the unit tests drive it with
 * bytes.
 */
#ifndef ENT_HTTP_FRAME_H
#define ENT_HTTP_FRAME_H

#include <stdbool.h>
#include <stddef.h>

typedef struct frame_limits {
    size_t max_header;      /* request line and headers together (431 above) */
    size_t max_header_line; /* one line of them (431 above) */
    size_t max_body;        /* body, after de-chunking (413 above); the largest of any target */
    /* When set, the body limit of a target (path and query, origin form,
     * n bytes), asked once the request line is read: each front has its
     * own (JSON bodies are smaller than SOAP ones). At most max_body. */
    size_t (*body_limit)(void *arg, const char *target, size_t n);
    void *arg;
} frame_limits_t;

typedef enum frame_status {
    FRAME_MORE,  /* not a whole request yet: read more */
    FRAME_DONE,  /* a whole request: buf[0, total) */
    FRAME_ERROR  /* cannot be served: answer http_status and close */
} frame_status_t;

typedef struct frame {
    frame_status_t status;
    int http_status;          /* FRAME_ERROR: 400, 413, 414, 417, 431, 501 or 505 */
    const char *why;          /* FRAME_ERROR: what is wrong (static text) */
    size_t header_len;        /* once known: request line and headers with the blank line; else 0 */
    size_t total;             /* FRAME_DONE: bytes the request takes in buf */
    size_t body_len;          /* FRAME_DONE: bytes of the body after de-chunking */
    bool chunked;             /* Transfer-Encoding: chunked */
    bool expect_continue;     /* Expect: 100-continue, and the body is still to come */
    size_t max_body;          /* the body limit that applied (413 above) */
    /* Where the parts of the request are in buf (offset and length; a
     * length of 0 when absent). The target is in origin form (an absolute
     * http URL's path and query). Set as far as the scan got; only the
     * request line is known on most errors. */
    size_t method_off, method_len;
    size_t target_off, target_len;
    bool target_root;         /* an absolute URL with no path: the target is "/" (target_len 0) */
    size_t headers_off, headers_len; /* the header lines after the request line, without the blank line */
    size_t host_off, host_len; /* the Host header's, or an absolute-form target's authority */
    bool host_in_target;       /* host_off is in the target */
    size_t request_id_off, request_id_len; /* X-Request-Id */
    int minor;                /* HTTP/1.minor */
    bool close;               /* the client asked to close after this request (or HTTP/1.0 without keep-alive) */
    size_t lead;              /* blank lines before the request line (bytes); all of buf when nothing else */
} frame_t;

/* Examines buf[0, len): the start of the next request of a connection.
 * Fills out; when the header is complete but the body is not, status is
 * FRAME_MORE and header_len is set. */
void frame_scan(const char *buf, size_t len, const frame_limits_t *lim, frame_t *out);

/* The most bytes a request may take before frame_scan refuses it (413 or
 * 431): the header, the body and what chunk framing may add. */
size_t frame_max_raw(const frame_limits_t *lim);

/* Writes the body of the request f (FRAME_DONE) of buf into out, de-chunked;
 * out holds at least f->body_len bytes. */
void frame_body(const char *buf, const frame_t *f, char *out);

/* Iterates over header lines (lines, n bytes: frame_t's headers): fills
 * the name (name, nlen) and the value (value, vlen; without surrounding
 * blanks) of the line at offset pos and advances pos. Returns false after
 * the last line. */
bool frame_header_next(const char *lines, size_t n, size_t *pos, const char **name, size_t *nlen,
                       const char **value, size_t *vlen);

#endif
