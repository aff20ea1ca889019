/* http/frame: HTTP request framing. */
#define _XOPEN_SOURCE 700 /* strptime */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "http/frame.h"
#include "http/http.h"

static const frame_limits_t lim = {65536, 8192, 1000, NULL, NULL};

static frame_t scan(const char *req)
{
    frame_t f;
    frame_scan(req, strlen(req), &lim, &f);
    return f;
}

static void test_content_length(void)
{
    const char *req = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloPOST /p HTTP/1.1\r\nHost: h\r\n";
    frame_t f = scan(req);
    CHECK_EQ_INT(f.status, FRAME_DONE);
    CHECK_EQ_INT(f.total, strlen(req) - strlen("POST /p HTTP/1.1\r\nHost: h\r\n")); /* the next request stays */
    CHECK_EQ_INT(f.body_len, 5);
    /* Each prefix is incomplete, never an error. */
    for (size_t n = 0; n < f.total; n++) {
        frame_t p;
        frame_scan(req, n, &lim, &p);
        CHECK_EQ_INT(p.status, FRAME_MORE);
    }
    CHECK_EQ_INT(scan("GET /x?wsdl HTTP/1.0\n\n").status, FRAME_DONE);
    CHECK_EQ_INT(scan("\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n").status, FRAME_DONE);
}

static void test_chunked(void)
{
    char out[512];
    const char *req = "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
                      "3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n";
    frame_t f = scan(req);
    CHECK_EQ_INT(f.status, FRAME_DONE);
    CHECK_EQ_INT(f.total, strlen(req));
    CHECK_EQ_INT(f.body_len, 13);
    frame_body(req, &f, out);
    out[f.body_len] = '\0';
    CHECK_EQ_STR(out, "abc0123456789");
    for (size_t n = 0; n < f.total; n++) {
        frame_t p;
        frame_scan(req, n, &lim, &p);
        CHECK_EQ_INT(p.status, FRAME_MORE);
    }
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3E9\r\n").http_status, 413);
    /* chunk-size is 1*HEXDIG: leading zeros, however many, are legal;
     * 16 significant digits are not a size any body has. */
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "00000000000000000002\r\nab\r\n00000000000000000000\r\n\r\n").status, FRAME_DONE);
    CHECK_EQ_INT((int)scan("POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "00000000000000000002\r\nab\r\n0\r\n\r\n").body_len, 2);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n").http_status,
                 400);
}

/* What follows a chunk's size is extensions or nothing, and a trailer is a
 * field line: anything else is framing another parser may read otherwise
 * (a request hidden in a "trailer"). */
static void test_chunked_strict(void)
{
#define CHUNKED "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    static const char *const good[] = {
        CHUNKED "2 \r\nab\r\n0\r\n\r\n",
        CHUNKED "2;a\r\nab\r\n0\r\n\r\n",
        CHUNKED "2 ; a = b ;c\r\nab\r\n0\r\n\r\n",
        CHUNKED "2;a=\"q \\\" ;x\"\r\nab\r\n0;last\r\n\r\n",
        CHUNKED "2\r\nab\r\n0\r\nX-Sum: 1\r\nY:\t2\r\n\r\n",
    };
    static const char *const bad[] = {
        CHUNKED "2 zz\r\nab\r\n0\r\n\r\n",
        CHUNKED "2;\r\nab\r\n0\r\n\r\n",
        CHUNKED "2;a=\r\nab\r\n0\r\n\r\n",
        CHUNKED "2;a=\"open\r\nab\r\n0\r\n\r\n",
        CHUNKED "2;a=b c\r\nab\r\n0\r\n\r\n",
        CHUNKED "2;a\x01\r\nab\r\n0\r\n\r\n",
        CHUNKED "2\r\nab\r\n0\r\nGET /readyz HTTP/1.1\r\n\r\n",
        CHUNKED "2\r\nab\r\n0\r\nno colon\r\n\r\n",
        CHUNKED "2\r\nab\r\n0\r\nX: a\x01b\r\n\r\n",
        CHUNKED "2\r\nab\r\n0\r\n folded: x\r\n\r\n",
    };
#undef CHUNKED
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        frame_t f = scan(good[i]);
        CHECK_EQ_INT(f.status, FRAME_DONE);
        CHECK_EQ_INT(f.total, strlen(good[i]));
        CHECK_EQ_INT(f.body_len, 2);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(scan(bad[i]).http_status, 400);
}

static void test_chunked_body_copied_whole(void)
{
    /* 8,000 chunks of 100 bytes: within the limit for 1 MiB, and more than
     * a limit computed from the body's own size would allow. */
    frame_limits_t mib = {65536, 8192, 1 << 20, NULL, NULL};
    size_t cap = 128 + 8000 * 106, n = 0;
    char *req = malloc(cap), *body = malloc(800000);
    n += (size_t)sprintf(req, "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
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
    frame_t f = scan("POST /p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    CHECK_EQ_INT(f.status, FRAME_MORE);
    CHECK(f.expect_continue);
    CHECK(f.header_len > 0);
    f = scan("POST /p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nab");
    CHECK(!f.expect_continue); /* the body has started: no need */
}

static void test_errors(void)
{
    /* The methods HTTP defines are the fronts' to judge (405 with Allow);
     * any other is 501, and methods are case-sensitive. Without a length
     * there is no body (RFC 9112, 6.3), whatever the method. */
    /* HTTP/1.1 without Host, with an invalid one or with two, refused; an
     * empty one (a target without authority) and HTTP/1.0 without, served. */
    CHECK_EQ_INT(scan("GET /p HTTP/1.1\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("GET /p HTTP/1.1\r\nHost:\r\n\r\n").status, FRAME_DONE);
    CHECK_EQ_INT(scan("GET /p HTTP/1.0\r\n\r\n").status, FRAME_DONE);
    CHECK_EQ_INT(scan("GET /p HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").http_status, 400);
    static const char *const good_hosts[] = {"localhost", "h:8080", "h:", "127.0.0.1:1", "[::1]:443", "[fe80::1%25]",
                                             "a.b-c_d~e", "x%41y", "!$&'()*+,;="};
    static const char *const bad_hosts[] = {"a b", "u@x", "x/y", "x:abc", "x:1:2", "[::1", "[]", "x%4", "x%zz",
                                            "\xc3\xa9", "x\"y", "[::1]x"};
    char req[256];
    for (size_t i = 0; i < sizeof good_hosts / sizeof good_hosts[0]; i++) {
        snprintf(req, sizeof req, "GET /p HTTP/1.1\r\nHost: %s\r\n\r\n", good_hosts[i]);
        CHECK_EQ_INT(scan(req).status, FRAME_DONE);
    }
    for (size_t i = 0; i < sizeof bad_hosts / sizeof bad_hosts[0]; i++) {
        snprintf(req, sizeof req, "GET /p HTTP/1.1\r\nHost: %s\r\n\r\n", bad_hosts[i]);
        CHECK_EQ_INT(scan(req).http_status, 400);
    }
    CHECK_EQ_INT(scan("PUT /p HTTP/1.1\r\nHost: h\r\n\r\n").status, FRAME_DONE);
    CHECK_EQ_INT(scan("DELETE /p HTTP/1.1\r\nHost: h\r\n\r\n").status, FRAME_DONE);
    CHECK_EQ_INT(scan("PATCH /p HTTP/1.1\r\nHost: h\r\n\r\n").status, FRAME_DONE);
    CHECK_EQ_INT(scan("OPTIONS /p HTTP/1.1\r\nHost: h\r\n\r\n").status, FRAME_DONE);
    CHECK_EQ_INT(scan("BREW /p HTTP/1.1\r\nHost: h\r\n\r\n").http_status, 501);
    CHECK_EQ_INT(scan("get /p HTTP/1.1\r\nHost: h\r\n\r\n").http_status, 501);
    CHECK_EQ_INT((int)scan("BREW /p HTTP/1.1\r\nHost: h\r\n\r\n").target_len, 2); /* its front answers */
    CHECK_EQ_INT(scan("ABCDEFGHIJKLMNOPQ /p HTTP/1.1\r\nHost: h\r\n\r\n").http_status, 501);
    CHECK_EQ_INT(scan("POST /p HTTP/2.0\r\n\r\n").http_status, 505);
    /* Not an HTTP-version at all: malformed, not another version. A later
     * minor version of 1 is 1.1. */
    CHECK_EQ_INT(scan("GET /p HTTP/1.1 \r\nHost: h\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("GET /p HTTP/1.1\rHost: h\r\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("GET /p HTTP/1.x\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("GET /p HTTP/11\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("GET /p HTTP/1.2\r\nHost: h\r\n\r\n").status, FRAME_DONE);
    CHECK_EQ_INT(scan("GET /p HTTP/1.2\r\nHost: h\r\n\r\n").minor, 1);
    /* A fragment is never part of a request target. */
    CHECK_EQ_INT(scan("GET /p#frag HTTP/1.1\r\nHost: h\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("GET /p?q=1#f HTTP/1.1\r\nHost: h\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("garbage\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\n\r\n").status, FRAME_DONE);
    CHECK_EQ_INT((int)scan("POST /p HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\n\r\n").body_len, 0);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n").http_status, 413);
    /* A length too large to hold is still a length, over the cap. */
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 100000000000000000000000\r\n\r\n").http_status, 413);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n").http_status, 413);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 0000000000000000000000005\r\n\r\nhello").status,
                 FRAME_DONE);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999x\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n").http_status, 501);
    /* Media types are the fronts' to judge too. */
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nContent-Type: multipart/related; boundary=x\r\nContent-Length: 1\r\n\r\nx")
                     .status, FRAME_DONE);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\n folded: x\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nExpect: x\r\nContent-Length: 0\r\n\r\n").http_status, 417);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nContent-Type: a\r\nContent-Type: b\r\nContent-Length: 0\r\n\r\n")
                     .http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nX-Request-Id: a\r\nX-Request-Id: b\r\nContent-Length: 0\r\n\r\n")
                     .http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nIdempotency-Key: a\r\nidempotency-key: b\r\nContent-Length: 0\r\n\r\n")
                     .http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nContent-Type: Text/XML; charset=utf-8\r\nContent-Length: 0\r\n\r\n")
                     .status, FRAME_DONE);
    CHECK_EQ_INT(scan("POST /p HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 0\r\n\r\n").http_status, 400);
    CHECK_EQ_INT(scan("POST /p HTTP/1.1\r\nHost: h\r\nAuthorization: a\r\nAuthorization: b\r\nContent-Length: 0\r\n\r\n")
                     .http_status, 400);
    CHECK_EQ_INT(scan("POST * HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n").http_status, 400);
    char line[4200] = "GET /";
    memset(line + 5, 'a', 4096);
    strcpy(line + 4101, " HTTP/1.1\r\nHost: h\r\n\r\n");
    frame_t f414 = scan(line);
    CHECK_EQ_INT(f414.http_status, 414);
    CHECK_EQ_INT(f414.target_len, 4097); /* known: the refusal goes to the path's front */
    f414 = scan("GET /x HTTP/2.0\r\n\r\n");
    CHECK_EQ_INT(f414.http_status, 505);
    CHECK_EQ_INT(f414.target_len, 2);
    char host[400] = "GET / HTTP/1.1\r\nHost: ";
    size_t hl = strlen(host);
    memset(host + hl, 'h', 256);
    strcpy(host + hl + 256, "\r\n\r\n");
    CHECK_EQ_INT(scan(host).http_status, 400);
    /* 1-byte chunks: refused long before the body limit (1 MiB: 8192 chunks). */
    size_t n = 0, cap = 64 + 8300 * 6 + 16;
    char *chunks = malloc(cap);
    n += (size_t)sprintf(chunks, "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 8300; i++)
        n += (size_t)sprintf(chunks + n, "1\r\na\r\n");
    frame_limits_t mib = {65536, 8192, 1 << 20, NULL, NULL};
    frame_t f;
    frame_scan(chunks, n, &mib, &f);
    CHECK_EQ_INT(f.http_status, 400);
    free(chunks);
    char *big = malloc(10000);
    memset(big, 'a', 9999);
    big[9999] = '\0';
    memcpy(big, "GET /", 5);
    /* A request line over the line limit: its target is what is long. */
    CHECK_EQ_INT(scan(big).http_status, 414);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    CHECK_EQ_INT(scan(big).http_status, 431); /* a header line over it */
    free(big);
}

/* The parts of a request the fronts read. */
static void test_parts(void)
{
    const char *req = "POST http://h:8080/a/b?x=1 HTTP/1.0\r\nHost: h:8080\r\nX-Request-Id: abc-1\r\n"
                      "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    frame_t f = scan(req);
    CHECK_EQ_INT(f.status, FRAME_DONE);
    CHECK_EQ_INT(f.method_len, 4);
    CHECK(memcmp(req + f.method_off, "POST", 4) == 0);
    CHECK_EQ_INT(f.target_len, strlen("/a/b?x=1")); /* origin form */
    CHECK(memcmp(req + f.target_off, "/a/b?x=1", f.target_len) == 0);
    CHECK_EQ_INT(f.host_len, 6);
    CHECK_EQ_INT(f.request_id_len, 5);
    CHECK(memcmp(req + f.request_id_off, "abc-1", 5) == 0);
    CHECK_EQ_INT(f.minor, 0);
    CHECK(f.close); /* HTTP/1.0 without keep-alive */
    /* The header lines, one by one. */
    const char *name, *value;
    size_t pos = 0, nl, vl;
    int n = 0;
    while (frame_header_next(req + f.headers_off, f.headers_len, &pos, &name, &nl, &value, &vl))
        n++;
    CHECK_EQ_INT(n, 4);
    pos = 0;
    CHECK(frame_header_next(req + f.headers_off, f.headers_len, &pos, &name, &nl, &value, &vl));
    CHECK(nl == 4 && memcmp(name, "Host", 4) == 0 && vl == 6 && memcmp(value, "h:8080", 6) == 0);
    /* An absolute-form target's authority is the host, whatever Host says
     * (userinfo aside); a target without one keeps the header's. */
    static const struct {
        const char *req, *host;
    } hosts[] = {
        {"GET http://public.example:8443/x?wsdl HTTP/1.1\r\nHost: internal:1\r\n\r\n", "public.example:8443"},
        {"GET HTTPS://u:p@public.example HTTP/1.1\r\nHost: internal:1\r\n\r\n", "public.example"},
        {"GET /x HTTP/1.1\r\nHost: internal:1\r\n\r\n", "internal:1"},
    };
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        f = scan(hosts[i].req);
        CHECK_EQ_INT(f.status, FRAME_DONE);
        CHECK_EQ_INT(f.host_len, strlen(hosts[i].host));
        CHECK(memcmp(hosts[i].req + f.host_off, hosts[i].host, f.host_len) == 0);
    }
    /* An X-Request-Id we would not echo is not taken. */
    f = scan("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: a b\"c\r\n\r\n");
    CHECK_EQ_INT(f.status, FRAME_DONE);
    CHECK_EQ_INT(f.request_id_len, 0);
    f = scan("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: a<b\r\n\r\n");
    CHECK_EQ_INT(f.request_id_len, 0);
    /* What tracing systems send is echoed, up to 128 characters. */
    f = scan("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: Root=1-5759e988-bd862e3f;Parent=53995c3f/+=\r\n\r\n");
    CHECK_EQ_INT(f.request_id_len, strlen("Root=1-5759e988-bd862e3f;Parent=53995c3f/+="));
    char idreq[400];
    snprintf(idreq, sizeof idreq, "GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: %0128d\r\n\r\n", 0);
    CHECK_EQ_INT(scan(idreq).request_id_len, 128);
    snprintf(idreq, sizeof idreq, "GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: %0129d\r\n\r\n", 0);
    CHECK_EQ_INT(scan(idreq).request_id_len, 0);
    /* A request refused for a line before its X-Request-Id still has it,
     * as far as its lines have arrived; one we would not echo stays out. */
    static const struct {
        const char *req;
        int status;
        const char *id;
    } refused[] = {
        {"GET / HTTP/1.1\r\nHost: a b\r\nX-Request-Id: later-1\r\n\r\n", 400, "later-1"},
        {"BREW / HTTP/1.1\r\nHost: h\r\nx-request-id:  later-2 \r\n\r\n", 501, "later-2"},
        {"GET / HTTP/1.1\r\nContent-Length: x\r\nX-Request-Id: later-3\r\n", 400, "later-3"},
        {"GET / HTTP/1.1\r\nHost: a b\r\nX-Request-Id: a<b\r\n\r\n", 400, NULL},
        {"GET / HTTP/1.1\r\nHost: a b\r\n\r\nX-Request-Id: body\r\n\r\n", 400, NULL},
        {"GET / HTTP/1.1\r\nHost: a b\r\nX-Request-Id: cut", 400, NULL},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        f = scan(refused[i].req);
        CHECK_EQ_INT(f.status, FRAME_ERROR);
        CHECK_EQ_INT(f.http_status, refused[i].status);
        CHECK_EQ_INT(f.request_id_len, refused[i].id ? strlen(refused[i].id) : 0);
        if (refused[i].id != NULL)
            CHECK(memcmp(refused[i].req + f.request_id_off, refused[i].id, f.request_id_len) == 0);
    }
    f = scan("GET / HTTP/1.0\r\n\r\n");
    CHECK_EQ_INT(f.headers_len, 0);
}

static size_t small_json_limit(void *arg, const char *target, size_t n)
{
    (void)arg;
    return n >= 5 && memcmp(target, "/json", 5) == 0 ? 10 : 1000;
}

/* Each target may have a body limit of its own. */
static void test_body_limit_per_target(void)
{
    frame_limits_t l = {65536, 8192, 1000, small_json_limit, NULL};
    frame_t f;
    const char *big = "POST /json HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n";
    frame_scan(big, strlen(big), &l, &f);
    CHECK_EQ_INT(f.http_status, 413);
    CHECK_EQ_INT(f.max_body, 10);
    const char *ok = "POST /xml HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n01234567890";
    frame_scan(ok, strlen(ok), &l, &f);
    CHECK_EQ_INT(f.status, FRAME_DONE);
    const char *chunked = "POST /json HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n01234567890\r\n0\r\n\r\n";
    frame_scan(chunked, strlen(chunked), &l, &f);
    CHECK_EQ_INT(f.http_status, 413);
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

static void test_date(void)
{
    char d[HTTP_DATE_LEN + 1];
    time_t before = time(NULL);
    http_date(d);
    CHECK_EQ_INT(strlen(d), HTTP_DATE_LEN);
    CHECK_EQ_STR(d + 25, " GMT");
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(d, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    CHECK(end != NULL && *end == '\0');
    time_t t = timegm(&tm);
    CHECK(t >= before && t <= time(NULL));
}

void register_frame_tests(void)
{
    CU_pSuite s = CU_add_suite("http/frame", NULL, NULL);
    CU_add_test(s, "Content-Length framing, pipelining, prefixes", test_content_length);
    CU_add_test(s, "chunked framing", test_chunked);
    CU_add_test(s, "chunk extensions and trailers are held to the grammar", test_chunked_strict);
    CU_add_test(s, "Expect: 100-continue", test_expect_continue);
    CU_add_test(s, "a chunked body is copied whole", test_chunked_body_copied_whole);
    CU_add_test(s, "refused requests and their statuses", test_errors);
    CU_add_test(s, "method, target, Host, X-Request-Id and header lines", test_parts);
    CU_add_test(s, "a body limit per target", test_body_limit_per_target);
    CU_add_test(s, "blank lines between requests", test_blank_lines);
    CU_add_test(s, "the Date header's value", test_date);
}
