#include "webhook.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/base64.h"
#include "../core/quote.h"

int webhook_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? ENT_OK : ENT_EIO;
}

void webhook_global_cleanup(void)
{
    curl_global_cleanup();
}

int webhook_sign(const unsigned char *key, size_t key_len, const char *msg_id, long long timestamp, const char *body,
                 size_t n, char *out, size_t cap)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    char prefix[160];
    int pl = snprintf(prefix, sizeof prefix, "%s.%lld.", msg_id, timestamp);
    if (pl < 0 || (size_t)pl >= sizeof prefix || cap < 4 + B64_ENCODED_LEN(32) + 1)
        return ENT_EINVAL;
    /* HMAC over prefix and body without copying the body. */
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
    size_t got = 0;
    int ok = ctx != NULL && EVP_MAC_init(ctx, key, key_len, params) == 1 &&
             EVP_MAC_update(ctx, (const unsigned char *)prefix, (size_t)pl) == 1 &&
             EVP_MAC_update(ctx, (const unsigned char *)body, n) == 1 && EVP_MAC_final(ctx, mac, &got, sizeof mac) == 1;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    mac_len = (unsigned int)got;
    if (!ok || mac_len != 32)
        return ENT_EINVAL;
    memcpy(out, "v1,", 3);
    return b64_encode(mac, mac_len, out + 3, cap - 3) > 0 ? ENT_OK : ENT_EINVAL;
}

int webhook_reach_parse(const char *name)
{
    static const char *const names[] = {"public", "private", "any"};
    for (int i = 0; i < 3; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

/* Where an address lies, from the narrowest reach that allows it. */
typedef enum { WEBHOOK__PUBLIC, WEBHOOK__PRIVATE, WEBHOOK__NEVER } webhook__class_t;

static webhook__class_t webhook__class4(uint32_t a)
{
    if ((a >> 24) == 0 || (a >> 28) >= 0xE || (a >> 16) == 0xA9FE) /* 0/8; 224/4 and 240/4; 169.254/16 */
        return WEBHOOK__NEVER;
    if ((a >> 24) == 127 || (a >> 24) == 10 || (a >> 20) == 0xAC1 || (a >> 16) == 0xC0A8 ||
        (a >> 22) == (0x6440 >> 6)) /* 127/8, 10/8, 172.16/12, 192.168/16, 100.64/10 */
        return WEBHOOK__PRIVATE;
    /* Not public either: 192.0.0/24 (protocol assignments), the three
     * documentation networks and 198.18/15 (benchmarking). */
    if ((a >> 8) == 0xC00000 || (a >> 8) == 0xC00002 || (a >> 8) == 0xC63364 || (a >> 8) == 0xCB0071 ||
        (a >> 17) == (0xC612 >> 1))
        return WEBHOOK__PRIVATE;
    return WEBHOOK__PUBLIC;
}

/* The IPv4 address in b[at..at+3]. */
static uint32_t webhook__v4_at(const unsigned char *b, int at)
{
    return (uint32_t)b[at] << 24 | (uint32_t)b[at + 1] << 16 | (uint32_t)b[at + 2] << 8 | b[at + 3];
}

bool webhook_address_allowed(const struct sockaddr *sa, webhook_reach_t reach)
{
    webhook__class_t c;
    if (reach == WEBHOOK_REACH_ANY)
        return true;
    if (sa->sa_family == AF_INET) {
        c = webhook__class4(ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr));
    } else if (sa->sa_family == AF_INET6) {
        const unsigned char *b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
        static const unsigned char nat64[12] = {0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};
        static const unsigned char zero[15] = {0};
        /* An IPv4 address inside (mapped, NAT64's 64:ff9b::/96, 6to4's
         * 2002::/16, the old IPv4-compatible ::a.b.c.d) is judged as
         * itself: each can lead to it. */
        if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
            c = webhook__class4(webhook__v4_at(b, 12));
        else if (b[0] == 0x20 && b[1] == 0x02)
            c = webhook__class4(webhook__v4_at(b, 2));
        else if (memcmp(b, zero, 15) == 0) /* :: and ::1 */
            c = b[15] == 1 ? WEBHOOK__PRIVATE : WEBHOOK__NEVER;
        else if (memcmp(b, zero, 12) == 0)
            c = webhook__class4(webhook__v4_at(b, 12));
        else if (b[0] == 0xFF || (b[0] == 0xFE && (b[1] & 0xC0) == 0x80)) /* ff00::/8, fe80::/10 */
            c = WEBHOOK__NEVER;
        else if ((b[0] & 0xFE) == 0xFC) /* fc00::/7 */
            c = WEBHOOK__PRIVATE;
        else
            c = WEBHOOK__PUBLIC;
    } else {
        return false;
    }
    return c == WEBHOOK__PUBLIC || (c == WEBHOOK__PRIVATE && reach == WEBHOOK_REACH_PRIVATE);
}

/* A post's socket opener: refuses an address its reach does not allow,
 * and says which. */
typedef struct webhook__opener {
    webhook_reach_t reach;
    bool opened;                     /* an allowed address was tried */
    char refused[INET6_ADDRSTRLEN]; /* the last address refused */
} webhook__opener_t;

static curl_socket_t webhook__open(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    webhook__opener_t *o = arg;
    (void)purpose;
    if (!webhook_address_allowed(&a->addr, o->reach)) {
        const void *in = a->family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)(void *)&a->addr)->sin6_addr
                                               : (const void *)&((struct sockaddr_in *)(void *)&a->addr)->sin_addr;
        if (inet_ntop(a->family, in, o->refused, sizeof o->refused) == NULL)
            snprintf(o->refused, sizeof o->refused, "?");
        return CURL_SOCKET_BAD;
    }
    o->opened = true;
    return socket(a->family, a->socktype, a->protocol);
}

/* The answer's body is not kept. */
static size_t webhook__discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

/* What went wrong, in the words of the status page ("connection refused"). */
static void webhook__detail(CURL *h, CURLcode rc, const char *errbuf, webhook_result_t *res)
{
    long os_errno = 0;
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
    const char *what = NULL;
    if (rc == CURLE_COULDNT_CONNECT && os_errno == ECONNREFUSED)
        what = "connection refused";
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        what = "timed out";
    else if (rc == CURLE_COULDNT_RESOLVE_HOST)
        what = "host not found";
    else if (rc == CURLE_COULDNT_CONNECT)
        what = "could not connect";
    quote_format(res->detail, sizeof res->detail, "%s", what ? what : errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

int webhook_post(const char *url, const unsigned char *key, size_t key_len, const char *msg_id, const char *body,
                 size_t n, const webhook_options_t *opt, webhook_result_t *res)
{
    webhook__opener_t opener = {opt->reach, false, ""};
    char sig[128], h_id[160], h_ts[64], h_sig[160], errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL, *l;
    struct timespec t0, t1;
    long long ts = (long long)time(NULL);
    int rc = ENT_ENOMEM;

    memset(res, 0, sizeof *res);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall); /* a date, for the attempt's row */
    res->started_ms = (long long)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (webhook_sign(key, key_len, msg_id, ts, body, n, sig, sizeof sig) != ENT_OK) {
        snprintf(res->detail, sizeof res->detail, "the message could not be signed");
        return ENT_OK;
    }
    snprintf(h_id, sizeof h_id, "webhook-id: %s", msg_id);
    snprintf(h_ts, sizeof h_ts, "webhook-timestamp: %lld", ts);
    snprintf(h_sig, sizeof h_sig, "webhook-signature: %s", sig);
    const char *lines[] = {"Content-Type: application/json", h_id, h_ts, h_sig, "Expect:"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if ((l = curl_slist_append(headers, lines[i])) == NULL)
            goto out;
        headers = l;
    }
    CURL *h = curl_easy_init();
    if (h == NULL)
        goto out;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for timeouts */
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)opt->connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)opt->timeout_s);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, webhook__open);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &opener);
    /* A proxy from the environment (http_proxy, ...) would be the address
     * checked, and would reach any other: none unless any address may be. */
    if (opt->reach != WEBHOOK_REACH_ANY)
        curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "entitlementd-webhooks/1");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, webhook__discard);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = curl_easy_perform(h);
    if (cc == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        res->http_status = (int)status;
        res->delivered = status >= 200 && status <= 299;
        if (!res->delivered)
            snprintf(res->detail, sizeof res->detail, "HTTP %ld", status);
    } else if (opener.refused[0] != '\0' && !opener.opened) {
        /* Every address tried was refused (when an allowed one was tried
         * too, its error is the one to report). */
        quote_format(res->detail, sizeof res->detail, "address %s not allowed (ENTITLEMENTD_WEBHOOK_ADDRESSES)",
                     opener.refused);
    } else {
        webhook__detail(h, cc, errbuf, res);
    }
    curl_easy_cleanup(h);
    rc = ENT_OK;
out:
    curl_slist_free_all(headers);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    res->duration_ms = (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
    if (rc != ENT_OK)
        snprintf(res->detail, sizeof res->detail, "out of memory");
    return rc;
}
