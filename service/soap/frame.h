/*
 * frame.h - HTTP/1.1 request framing, before gSOAP sees a byte.
 *
 * The server reads each connection without blocking into a buffer and asks
 * frame_scan whether it holds a whole request yet. Only a whole request is
 * handed to a worker's gSOAP context, so a slow or stalled client holds a
 * buffer, never a worker, and the bytes after a request (a pipelined one)
 * stay in the buffer for the next. frame_body and frame_header then
 * rewrite the request into the one form gSOAP is given: the request line
 * (with an origin-form target), only the headers gSOAP needs (Host,
 * Authorization, SOAPAction, Content-Type), a Connection header that says
 * what we decided, a Content-Length of the body, and the body itself
 * (de-chunked). gSOAP never sees a header we did not judge: it reads some
 * headers its own way (it takes "Transfer_Encoding" for Transfer-Encoding),
 * and each such disagreement would be a way around the checks here and in
 * the guard.
 *
 * Nothing here knows gSOAP or sockets; the unit tests drive it with bytes.
 */
#ifndef ENT_SOAP_FRAME_H
#define ENT_SOAP_FRAME_H

#include <stdbool.h>
#include <stddef.h>

typedef struct frame_limits {
    size_t max_header;      /* request line and headers together (431 above) */
    size_t max_header_line; /* one line of them (431 above) */
    size_t max_body;        /* body, after de-chunking (413 above) */
} frame_limits_t;

typedef enum frame_status {
    FRAME_MORE,  /* not a whole request yet: read more */
    FRAME_DONE,  /* a whole request: buf[0, total) */
    FRAME_ERROR  /* cannot be served: answer http_status and close */
} frame_status_t;

typedef struct frame {
    frame_status_t status;
    int http_status;          /* FRAME_ERROR: 400, 405, 411, 413, 414, 415, 417, 431, 501 or 505 */
    const char *why;          /* FRAME_ERROR: what is wrong (static text) */
    size_t header_len;        /* once known: request line and headers with the blank line; else 0 */
    size_t total;             /* FRAME_DONE: bytes the request takes in buf */
    size_t body_len;          /* FRAME_DONE: bytes of the body after de-chunking */
    bool chunked;             /* Transfer-Encoding: chunked */
    bool expect_continue;     /* Expect: 100-continue, and the body is still to come */
    bool is_get;
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

/* The largest size frame_normalize may write for a request f of buf. */
size_t frame_normalized_size(const frame_t *f);

/* Writes the body of the request f (FRAME_DONE) of buf into out, de-chunked;
 * out holds at least f->body_len bytes. */
void frame_body(const char *buf, const frame_t *f, char *out);

/* Writes the normalized header of the request f of buf for a body of
 * body_len bytes into out (cap bytes; frame_normalized_size bounds what is
 * needed); returns its length, or 0 if cap is too small. */
size_t frame_header(const char *buf, const frame_t *f, size_t body_len, char *out, size_t cap);

#endif
