/* soap/frame: HTTP request framing and normalization. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "soap/frame.h"

static const frame_limits_t lim = {65536, 8192, 1000};

static frame_t scan(const char *req)
{
    frame_t f;
    frame_scan(req, strlen(req), &lim, &f);
    return f;
}

/* The normalized form of a whole request, in out. */
static void normalize(const char *req, char *out, size_t cap)
{
    frame_t f = scan(req);
    CHECK_EQ_INT(f.status, FRAME_DONE);
    if (f.status != FRAME_DONE)
        return;
    char *body = malloc(f.body_len + 1);
    frame_body(req, &f, body);
    size_t h = frame_header(req, &f, f.body_len, out, cap);
    CHECK(h > 0 && h + f.body_len < cap);
    memcpy(out + h, body, f.body_len);
    out[h + f.body_len] = '\0';
    free(body);
}

static void test_content_length(void)
{
    const char *req = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloPOST /p HTTP/1.1\r\n";
    frame_t f = scan(req);
    CHECK_EQ_INT(f.status, FRAME_DONE);
    CHECK_EQ_INT(f.total, strlen(req) - strlen("POST /p HTTP/1.1\r\n")); /* the next request stays */
    CHECK_EQ_INT(f.body_len, 5);
    /* Each prefix is incomplete, never an error. */
    for (size_t n = 0; n < f.total; n++) {
        frame_t p;
        frame_scan(req, n, &lim, &p);
        CHECK_EQ_INT(p.status, FRAME_MORE);
    }
    CHECK_EQ_INT(scan("GET /x?wsdl HTTP/1.0\n\n").status, FRAME_DONE);
    CHECK_EQ_INT(scan("\r\nGET /x HTTP/1.1\r\n\r\n").status, FRAME_DONE);
}

static void test_chunked(void)
{
    char out[512];
    const char *req = "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
                      "3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n";
    frame_t f = scan(req);
    CHECK_EQ_INT(f.status, FRAME_DONE);
    CHECK_EQ_INT(f.total, strlen(req));
    CHECK_EQ_INT(f.body_len, 13);
    normalize(req, out, sizeof out);
    CHECK_EQ_STR(out, "POST /p HTTP/1.1\r\nConnection: keep-alive\r\nContent-Length: 13\r\n\r\nabc0123456789");
    for (size_t n = 0; n < f.total; n++) {
        frame_t p;
        frame_scan(req, n, &lim, &p);
        CHECK_EQ_INT(p.status, FRAME_MORE);
    }
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3E9\r\n").http_status, 413);
}

static void test_chunked_body_copied_whole(void)
{
    /* 8,000 chunks of 100 bytes: within the limit for 1 MiB, and more than
     * a limit computed from the body's own size would allow. */
    frame_limits_t mib = {65536, 8192, 1 << 20};
    size_t cap = 128 + 8000 * 106, n = 0;
    char *req = malloc(cap), *body = malloc(800000);
    n += (size_t)sprintf(req, "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 8000; i++) {
        n += (size_t)sprintf(req + n, "64\r\n");
        memset(req + n, 'a' + i % 26, 100);
        n += 100;
        n += (size_t)sprintf(req + n, "\r\n");
    }
    n += (size_t)sprintf(req + n, "0\r\n\r\n");
    frame_t f;
    frame_scan(req, n, &mib, &f);
    CHECK_EQ_INT(f.status, FRAME_DONE);
    CHECK_EQ_INT(f.body_len, 800000);
    memset(body, 0, 800000);
    frame_body(req, &f, body);
    CHECK_EQ_INT(body[0], 'a');
    CHECK_EQ_INT(body[799999], 'a' + 7999 % 26);
    free(req);
    free(body);
}

static void test_expect_continue(void)
{
    frame_t f = scan("POST /p HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    CHECK_EQ_INT(f.status, FRAME_MORE);
    CHECK(f.expect_continue);
    CHECK(f.header_len > 0);
    f = scan("POST /p HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nab");
    CHECK(!f.expect_continue); /* the body has started: no need */
}

static void test_errors(void)
{
    CHECK_EQ_INT(scan("PUT /p HTTP/1.1\r\n\r\n").http_status, 405);
    CHECK_EQ_INT(scan("POST /p HTTP/2.0\r\n\r\n").http_status, 505);
    CHECK_EQ_INT(scan("garbage\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\n\r\n").http_status, 411);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nContent-Length: 1001\r\n\r\n").http_status, 413);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nContent-Length: +5\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n").http_status, 501);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nContent-Type: multipart/related; boundary=x\r\nContent-Length: 1\r\n\r\nx")
                     .http_status, 415);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\n folded: x\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nExpect: x\r\nContent-Length: 0\r\n\r\n").http_status, 417);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n")
                     .http_status, 415);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nContent-Type: Text/XML; charset=utf-8\r\nContent-Length: 0\r\n\r\n")
                     .status, FRAME_DONE);
    CHECK_EQ_INT(scan("POST /p HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 0\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nAuthorization: a\r\nAuthorization: b\r\nContent-Length: 0\r\n\r\n")
                     .http_status, 400);
    CHECK_EQ_INT(scan("POST * HTTP/1.1\r\nContent-Length: 0\r\n\r\n").http_status, 400);
    char line[1200] = "GET /";
    memset(line + 5, 'a', 1001);
    strcpy(line + 1006, " HTTP/1.1\r\n\r\n");
    CHECK_EQ_INT(scan(line).http_status, 414);
    char host[400] = "GET / HTTP/1.1\r\nHost: ";
    size_t hl = strlen(host);
    memset(host + hl, 'h', 256);
    strcpy(host + hl + 256, "\r\n\r\n");
    CHECK_EQ_INT(scan(host).http_status, 400);
    /* 1-byte chunks: refused long before the body limit (1 MiB: 8192 chunks). */
    size_t n = 0, cap = 64 + 8300 * 6 + 16;
    char *chunks = malloc(cap);
    n += (size_t)sprintf(chunks, "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 8300; i++)
        n += (size_t)sprintf(chunks + n, "1\r\na\r\n");
    frame_limits_t mib = {65536, 8192, 1 << 20};
    frame_t f;
    frame_scan(chunks, n, &mib, &f);
    CHECK_EQ_INT(f.http_status, 400);
    free(chunks);
    char *big = malloc(10000);
    memset(big, 'a', 9999);
    big[9999] = '\0';
    memcpy(big, "GET /", 5);
    CHECK_EQ_INT(scan(big).http_status, 431); /* one line over the line limit */
    free(big);
}

static void test_normalized_headers(void)
{
    char out[1024];
    /* Only the headers gSOAP needs pass; lookalikes it would take for
     * framing headers ("Transfer_Encoding") do not. */
    normalize("POST http://h:8080/p?x HTTP/1.1\r\nHost: h\r\nTransfer_Encoding: chunked\r\nX-Other: 1\r\n"
              "Content-Type: text/xml\r\nSOAPAction: \"\"\r\nAuthorization: Basic eA==\r\n"
              "Connection: TE, close\r\nContent-Length: 2\r\n\r\nab",
              out, sizeof out);
    CHECK_EQ_STR(out, "POST /p?x HTTP/1.1\r\nHost: h\r\nContent-Type: text/xml\r\nSOAPAction: \"\"\r\n"
                      "Authorization: Basic eA==\r\nConnection: close\r\nContent-Length: 2\r\n\r\nab");
    normalize("GET /w?wsdl HTTP/1.0\n\n", out, sizeof out);
    CHECK_EQ_STR(out, "GET /w?wsdl HTTP/1.0\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    normalize("GET /w HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", out, sizeof out);
    CHECK_EQ_STR(out, "GET /w HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
    normalize("GET http://h HTTP/1.1\r\n\r\n", out, sizeof out);
    CHECK_EQ_STR(out, "GET / HTTP/1.1\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
}

static void test_blank_lines(void)
{
    frame_t f = scan("\r\n\r\n");
    CHECK_EQ_INT(f.status, FRAME_MORE);
    CHECK_EQ_INT(f.lead, 4);
    char blank[2048];
    memset(blank, '\n', sizeof blank - 1);
    blank[sizeof blank - 1] = '\0';
    CHECK_EQ_INT(scan(blank).http_status, 400);
}

void register_frame_tests(void)
{
    CU_pSuite s = CU_add_suite("soap/frame", NULL, NULL);
    CU_add_test(s, "Content-Length framing, pipelining, prefixes", test_content_length);
    CU_add_test(s, "chunked framing and normalization", test_chunked);
    CU_add_test(s, "Expect: 100-continue", test_expect_continue);
    CU_add_test(s, "a chunked body is copied whole", test_chunked_body_copied_whole);
    CU_add_test(s, "refused requests and their statuses", test_errors);
    CU_add_test(s, "normalized header: only what gSOAP needs, origin form, Connection", test_normalized_headers);
    CU_add_test(s, "blank lines between requests", test_blank_lines);
}
