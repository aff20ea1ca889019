/*
 * The request as gSOAP is given it. gSOAP never sees a header the framing
 * did not judge: it reads some headers its own way (it takes
 * "Transfer_Encoding" for Transfer-Encoding), and each such disagreement
 * would be a way around the checks of http/frame.c and the guard. So it
 * gets the request line with an origin-form target, the three headers it
 * needs, and our own Connection and Content-Length.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "soap_int.h"

/* The only headers gSOAP is given, each checked by http/frame.c. */
static const char *const request__passed[] = {"Host", "SOAPAction", "Content-Type"};

size_t soap_request_header_max(const http_request_t *r)
{
    /* The request line, the passed headers (each a line of the original,
     * with CR LF where the client used bare LF) and under 96 bytes of our
     * own. */
    return strlen(r->method) + strlen(r->target) + 16 + r->headers_len + r->headers_len / 2 + 96;
}

size_t soap_request_header(const http_request_t *r, size_t body_len, char *out, size_t cap)
{
    const char *name, *v;
    size_t pos = 0, nl, vn, o;
    /* An HTTP/1.0 client that asked for keep-alive is shown to gSOAP as
     * HTTP/1.1 (the transport keeps the connection either way): gSOAP closes
     * every HTTP/1.0 exchange, whatever its Connection header says. */
    int n = snprintf(out, cap, "%s %s HTTP/1.%d\r\n", r->method, r->target, r->close ? r->minor : 1);
    if (n < 0 || (size_t)n >= cap)
        return 0;
    o = (size_t)n;
    while (http_header_next(r, &pos, &name, &nl, &v, &vn)) {
        for (size_t k = 0; k < sizeof request__passed / sizeof request__passed[0]; k++) {
            const char *p = request__passed[k];
            if (nl != strlen(p) || strncasecmp(name, p, nl) != 0)
                continue;
            n = snprintf(out + o, cap - o, "%s: %.*s\r\n", p, (int)vn, v);
            if (n < 0 || (size_t)n >= cap - o)
                return 0;
            o += (size_t)n;
        }
    }
    n = snprintf(out + o, cap - o, "Connection: %s\r\nContent-Length: %zu\r\n\r\n", r->close ? "close" : "keep-alive",
                 body_len);
    if (n < 0 || (size_t)n >= cap - o)
        return 0;
    return o + (size_t)n;
}
