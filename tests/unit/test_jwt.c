/* auth/jwt: every rule of the contract in jwt.h, with keys made and tokens
 * signed here. */
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "check.h"
#include "core/base64.h"

/* A fixed "now", so that no test depends on the clock. */
#define NOW 1700000000LL

#define HDR_RS "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"
#define HDR_ES "{\"alg\":\"ES256\",\"typ\":\"JWT\"}"
/* exp is NOW + 3600. */
#define CLAIMS "{\"exp\":1700003600,\"iss\":\"https://issuer.example\",\"sub\":\"user-1\"}"

static EVP_PKEY *rsa_a, *rsa_b, *rsa_1024, *ec_a, *ec_384, *ed25519;

/* Keys are made once for the suite: RSA generation is slow, more so under
 * valgrind. */
static int jwt_suite_init(void)
{
    rsa_a = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa_b = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa_1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    ec_a = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ec_384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    ed25519 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    return rsa_a && rsa_b && rsa_1024 && ec_a && ec_384 && ed25519 ? 0 : -1;
}

static int jwt_suite_clean(void)
{
    EVP_PKEY_free(rsa_a);
    EVP_PKEY_free(rsa_b);
    EVP_PKEY_free(rsa_1024);
    EVP_PKEY_free(ec_a);
    EVP_PKEY_free(ec_384);
    EVP_PKEY_free(ed25519);
    return 0;
}

/* Returns a + sep + b, malloc'd. */
static char *join(const char *a, const char *sep, const char *b)
{
    size_t la = strlen(a), ls = strlen(sep), lb = strlen(b);
    char *r = malloc(la + ls + lb + 1);
    if (r != NULL) {
        memcpy(r, a, la);
        memcpy(r + la, sep, ls);
        memcpy(r + la + ls, b, lb + 1);
    }
    return r;
}

/* Returns the unpadded base64url of n bytes, malloc'd. */
static char *b64u(const void *p, size_t n)
{
    size_t cap = B64URL_ENCODED_LEN(n) + 1;
    char *s = malloc(cap);
    if (s != NULL)
        b64url_encode(p, n, s, cap);
    return s;
}

/* Returns "base64url(hdr).base64url(claims)", malloc'd. */
static char *signing_input(const char *hdr, const char *claims)
{
    char *h = b64u(hdr, strlen(hdr)), *c = b64u(claims, strlen(claims));
    char *r = join(h, ".", c);
    free(h);
    free(c);
    return r;
}

/* Signs si as RS256 (RSA key) or ES256 (EC key, signature turned from DER
 * into r||s) into sig (cap bytes); returns its length, 0 on failure. */
static size_t sign(EVP_PKEY *key, const char *si, unsigned char *sig, size_t cap)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char der[256];
    const unsigned char *p = der;
    size_t len = 0;
    bool ec = EVP_PKEY_get_base_id(key) == EVP_PKEY_EC;
    ECDSA_SIG *es = NULL;

    if (ctx == NULL || EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key) != 1)
        goto fail;
    if (!ec && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
        goto fail;
    if (!ec) {
        len = cap;
        if (EVP_DigestSign(ctx, sig, &len, (const unsigned char *)si, strlen(si)) != 1)
            goto fail;
    } else {
        len = sizeof der;
        if (EVP_DigestSign(ctx, der, &len, (const unsigned char *)si, strlen(si)) != 1)
            goto fail;
        /* r and s each take the size of the group order: 32 bytes on
         * P-256, 48 on P-384. */
        const BIGNUM *r, *s;
        int half = (EVP_PKEY_get_bits(key) + 7) / 8;
        if (cap < 2 * (size_t)half || (es = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL)
            goto fail;
        ECDSA_SIG_get0(es, &r, &s);
        if (BN_bn2binpad(r, sig, half) != half || BN_bn2binpad(s, sig + half, half) != half)
            goto fail;
        len = 2 * (size_t)half;
    }
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(ctx);
    return len;
fail:
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(ctx);
    return 0;
}

/* Returns si + "." + base64url(sig), malloc'd. */
static char *with_sig(const char *si, const unsigned char *sig, size_t n)
{
    char *s = b64u(sig, n);
    char *r = join(si, ".", s);
    free(s);
    return r;
}

/* Returns a token for hdr and claims signed with key, or carrying the
 * bytes "sig" when key is NULL; malloc'd. */
static char *make_token(const char *hdr, const char *claims, EVP_PKEY *key)
{
    unsigned char sig[1024];
    size_t n = 3;
    char *si = signing_input(hdr, claims), *tok;

    memcpy(sig, "sig", 3);
    if (key != NULL && (n = sign(key, si, sig, sizeof sig)) == 0) {
        free(si);
        return NULL;
    }
    tok = with_sig(si, sig, n);
    free(si);
    return tok;
}

/* Returns a token made of three already encoded segments, malloc'd. */
static char *raw_token(const char *h, const char *c, const char *s)
{
    char *hc = join(h, ".", c);
    char *r = join(hc, ".", s);
    free(hc);
    return r;
}

static jwt_verdict_t parse_only(const char *tok)
{
    jwt_t t;
    jwt_verdict_t v = jwt_parse(tok, strlen(tok), &t);
    jwt_clear(&t);
    return v;
}

/* The whole check as a front would run it: parse, signature, time. */
static jwt_verdict_t judge(const char *tok, EVP_PKEY *key)
{
    jwt_t t;
    jwt_verdict_t v = jwt_parse(tok, strlen(tok), &t);
    if (v == JWT_OK)
        v = jwt_verify_signature(&t, key);
    if (v == JWT_OK)
        v = jwt_check_time(&t, NOW, 0);
    jwt_clear(&t);
    return v;
}

/* Parses a token for hdr and claims (signature "sig", never checked). */
static jwt_verdict_t parse_json(const char *hdr, const char *claims)
{
    char *tok = make_token(hdr, claims, NULL);
    jwt_verdict_t v;
    CU_ASSERT_FATAL(tok != NULL);
    v = parse_only(tok);
    free(tok);
    return v;
}

/* DER SubjectPublicKeyInfo of key; *n gets its length. OPENSSL_free() it. */
static unsigned char *pubkey_der(EVP_PKEY *key, size_t *n)
{
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(key, &der);
    *n = len > 0 ? (size_t)len : 0;
    return len > 0 ? der : NULL;
}

static void test_valid_rs256(void)
{
    char *tok = make_token(HDR_RS, CLAIMS, rsa_a);
    jwt_t t;
    CU_ASSERT_FATAL(tok != NULL);
    CHECK_EQ_INT(jwt_parse(tok, strlen(tok), &t), JWT_OK);
    CHECK_EQ_INT(t.alg, JWT_ALG_RS256);
    CHECK(!t.has_kid);
    CHECK(t.exp == 1700003600.0);
    CHECK(!t.has_nbf && !t.has_iat);
    CHECK(t.has_iss && t.has_sub);
    CHECK_EQ_STR(t.iss, "https://issuer.example");
    CHECK_EQ_STR(t.sub, "user-1");
    CHECK_EQ_INT(t.sig_len, 256);
    CHECK_EQ_INT(jwt_verify_signature(&t, rsa_a), JWT_OK);
    CHECK_EQ_INT(jwt_check_time(&t, NOW, 0), JWT_OK);
    jwt_clear(&t);
    jwt_clear(&t); /* clearing twice is harmless */

    /* Only the n bytes given are read: what follows does not matter. */
    size_t n = strlen(tok);
    char *longer = join(tok, "", ".trailing garbage");
    CU_ASSERT_FATAL(longer != NULL);
    CHECK_EQ_INT(jwt_parse(longer, n, &t), JWT_OK);
    /* The token may go before the check: the struct holds its own copy. */
    free(longer);
    CHECK_EQ_INT(jwt_verify_signature(&t, rsa_a), JWT_OK);
    jwt_clear(&t);
    free(tok);

    tok = make_token("{\"alg\":\"RS256\",\"kid\":\"key-1\"}", "{\"exp\":1700003600}", rsa_a);
    CHECK_EQ_INT(jwt_parse(tok, strlen(tok), &t), JWT_OK);
    CHECK(t.has_kid);
    CHECK_EQ_STR(t.kid, "key-1");
    CHECK(!t.has_iss && !t.has_sub);
    CHECK_EQ_INT(jwt_verify_signature(&t, rsa_a), JWT_OK);
    jwt_clear(&t);
    free(tok);
}

static void test_valid_es256(void)
{
    char *tok = make_token(HDR_ES, CLAIMS, ec_a);
    jwt_t t;
    CU_ASSERT_FATAL(tok != NULL);
    CHECK_EQ_INT(jwt_parse(tok, strlen(tok), &t), JWT_OK);
    CHECK_EQ_INT(t.alg, JWT_ALG_ES256);
    CHECK_EQ_INT(t.sig_len, 64);
    CHECK_EQ_INT(jwt_verify_signature(&t, ec_a), JWT_OK);
    CHECK_EQ_INT(jwt_check_time(&t, NOW, 0), JWT_OK);
    jwt_clear(&t);
    free(tok);
    /* No typ at all is fine too. */
    tok = make_token("{\"alg\":\"ES256\"}", CLAIMS, ec_a);
    CHECK_EQ_INT(judge(tok, ec_a), JWT_OK);
    free(tok);
}

/* Keys read from DER verify what the generated keys signed. */
static void test_keys_from_der(void)
{
    EVP_PKEY *k = NULL;
    size_t n;
    unsigned char *der = pubkey_der(rsa_a, &n);
    char *tok = make_token(HDR_RS, CLAIMS, rsa_a);
    CU_ASSERT_FATAL(der != NULL && tok != NULL);
    CHECK_EQ_INT(jwt_key_from_der(der, n, &k), ENT_OK);
    CHECK_EQ_INT(jwt_key_alg(k), JWT_ALG_RS256);
    CHECK_EQ_INT(judge(tok, k), JWT_OK);
    EVP_PKEY_free(k);

    /* A byte after the DER, or one missing, is refused. */
    unsigned char *more = malloc(n + 1);
    CU_ASSERT_FATAL(more != NULL);
    memcpy(more, der, n);
    more[n] = 0;
    k = (EVP_PKEY *)1;
    CHECK_EQ_INT(jwt_key_from_der(more, n + 1, &k), ENT_EINVAL);
    CHECK(k == NULL);
    CHECK_EQ_INT(jwt_key_from_der(der, n - 1, &k), ENT_EINVAL);
    CHECK_EQ_INT(jwt_key_from_der(der, 0, &k), ENT_EINVAL);
    CHECK_EQ_INT(jwt_key_from_der(NULL, n, &k), ENT_EINVAL);
    CHECK_EQ_INT(jwt_key_from_der((const unsigned char *)"hello", 5, &k), ENT_EINVAL);
    CHECK(k == NULL);
    free(more);
    OPENSSL_free(der);
    free(tok);

    der = pubkey_der(ec_a, &n);
    tok = make_token(HDR_ES, CLAIMS, ec_a);
    CU_ASSERT_FATAL(der != NULL && tok != NULL);
    CHECK_EQ_INT(jwt_key_from_der(der, n, &k), ENT_OK);
    CHECK_EQ_INT(jwt_key_alg(k), JWT_ALG_ES256);
    CHECK_EQ_INT(judge(tok, k), JWT_OK);
    EVP_PKEY_free(k);
    OPENSSL_free(der);
    free(tok);

    /* Small RSA, other curves and other key types are refused. */
    EVP_PKEY *refused[] = {rsa_1024, ec_384, ed25519};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        der = pubkey_der(refused[i], &n);
        CU_ASSERT_FATAL(der != NULL);
        k = (EVP_PKEY *)1;
        CHECK_EQ_INT(jwt_key_from_der(der, n, &k), ENT_EINVAL);
        CHECK(k == NULL);
        CHECK_EQ_INT(jwt_key_alg(refused[i]), JWT_ALG_NONE_);
        OPENSSL_free(der);
    }
    CHECK_EQ_INT(jwt_key_alg(NULL), JWT_ALG_NONE_);
}

static void test_alg_allow_list(void)
{
    static const char *hdrs[] = {
        "{\"alg\":\"none\"}",   "{\"alg\":\"None\"}",    "{\"alg\":\"NONE\"}",
        "{\"alg\":\"HS256\"}",  "{\"alg\":\"hs256\"}",   "{\"alg\":\"Rs256\"}",
        "{\"alg\":\"rs256\"}",  "{\"alg\":\"RS384\"}",   "{\"alg\":\"RS512\"}",
        "{\"alg\":\"PS256\"}",  "{\"alg\":\"ES384\"}",   "{\"alg\":\"es256\"}",
        "{\"alg\":\"EdDSA\"}",  "{\"alg\":\"RS256 \"}",  "{\"alg\":\" RS256\"}",
        "{\"alg\":\"RS2560\"}", "{\"alg\":\"RS25\"}",    "{\"alg\":\"\"}",
        "{\"typ\":\"JWT\"}",    "{}",                    "{\"alg\":256}",
        "{\"alg\":null}",       "{\"alg\":true}",        "{\"alg\":[\"RS256\"]}",
        "{\"alg\":{\"name\":\"RS256\"}}", "{\"ALG\":\"RS256\"}",
    };
    jwt_t t;
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        /* Signed with a real key: the refusal must not depend on it. */
        char *tok = make_token(hdrs[i], CLAIMS, rsa_a);
        CU_ASSERT_FATAL(tok != NULL);
        CHECK_EQ_INT(jwt_parse(tok, strlen(tok), &t), JWT_BAD_ALG);
        /* A refused parse leaves nothing a verify could accept. */
        CHECK_EQ_INT(t.alg, JWT_ALG_NONE_);
        CHECK(jwt_verify_signature(&t, rsa_a) != JWT_OK);
        jwt_clear(&t);
        free(tok);
    }

    /* The classic "none" token has an empty signature segment. */
    char *si = signing_input("{\"alg\":\"none\",\"typ\":\"JWT\"}", CLAIMS);
    char *tok = join(si, ".", "");
    CHECK_EQ_INT(parse_only(tok), JWT_BAD_ALG);
    free(tok);
    free(si);
}

/* The key confusion attack: an HS256 token whose HMAC secret is the
 * server's RSA public key (PEM or DER) must be refused by the allow-list,
 * before any verification. */
static void test_hs256_key_confusion(void)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    size_t der_len;
    unsigned char *der = pubkey_der(rsa_a, &der_len);
    CU_ASSERT_FATAL(bio != NULL && der != NULL);
    CU_ASSERT_FATAL(PEM_write_bio_PUBKEY(bio, rsa_a) == 1);
    long pem_len = BIO_get_mem_data(bio, &pem);
    CU_ASSERT_FATAL(pem_len > 0);

    const struct {
        const void *key;
        size_t len;
    } secrets[] = {{pem, (size_t)pem_len}, {der, der_len}};
    for (size_t i = 0; i < 2; i++) {
        char *si = signing_input("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", CLAIMS);
        unsigned char mac[32];
        size_t mac_len = 0;
        CU_ASSERT_FATAL(si != NULL);
        CU_ASSERT_FATAL(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secrets[i].key,
                                  secrets[i].len, (const unsigned char *)si, strlen(si), mac,
                                  sizeof mac, &mac_len) != NULL);
        char *tok = with_sig(si, mac, mac_len);
        jwt_t t;
        CHECK_EQ_INT(jwt_parse(tok, strlen(tok), &t), JWT_BAD_ALG);
        CHECK_EQ_INT(jwt_verify_signature(&t, rsa_a), JWT_MALFORMED);
        CHECK_EQ_INT(judge(tok, rsa_a), JWT_BAD_ALG);
        jwt_clear(&t);
        free(tok);
        free(si);
    }
    BIO_free(bio);
    OPENSSL_free(der);
}

static void test_malformed_shape(void)
{
    char *good = make_token(HDR_RS, CLAIMS, rsa_a);
    CU_ASSERT_FATAL(good != NULL);
    CHECK_EQ_INT(judge(good, rsa_a), JWT_OK);
    const char *dot1 = strchr(good, '.'), *dot2 = strchr(dot1 + 1, '.');
    size_t hlen = (size_t)(dot1 - good), silen = (size_t)(dot2 - good);
    char h[64], c[256], *tok;
    const char *s = dot2 + 1;
    jwt_t t;
    CU_ASSERT_FATAL(hlen < sizeof h && silen - hlen - 1 < sizeof c);
    memcpy(h, good, hlen);
    h[hlen] = '\0';
    memcpy(c, dot1 + 1, silen - hlen - 1);
    c[silen - hlen - 1] = '\0';

    CHECK_EQ_INT(jwt_parse("", 0, &t), JWT_MALFORMED);
    CHECK_EQ_INT(jwt_parse(NULL, 10, &t), JWT_MALFORMED);
    CHECK_EQ_INT(jwt_parse(good, strlen(good), NULL), JWT_MALFORMED);
    CHECK_EQ_INT(parse_only("abc"), JWT_MALFORMED);
    CHECK_EQ_INT(parse_only(".."), JWT_MALFORMED);
    CHECK_EQ_INT(parse_only("..."), JWT_MALFORMED);

    /* Two segments. */
    CHECK_EQ_INT(jwt_parse(good, silen, &t), JWT_MALFORMED);
    /* Four segments, and a trailing dot. */
    tok = join(good, ".", s);
    CHECK_EQ_INT(parse_only(tok), JWT_MALFORMED);
    free(tok);
    tok = join(good, ".", "");
    CHECK_EQ_INT(parse_only(tok), JWT_MALFORMED);
    free(tok);
    /* Empty header, empty claims, empty signature. */
    tok = raw_token("", c, s);
    CHECK_EQ_INT(parse_only(tok), JWT_MALFORMED);
    free(tok);
    tok = raw_token(h, "", s);
    CHECK_EQ_INT(parse_only(tok), JWT_MALFORMED);
    free(tok);
    tok = raw_token(h, c, "");
    CHECK_EQ_INT(parse_only(tok), JWT_MALFORMED);
    free(tok);

    /* Bad base64url in each segment: a stray character, the standard
     * alphabet, padding, whitespace. */
    const char *bad_seg[] = {"*", "+", "/", "==", "=", " ", "\n"};
    for (size_t i = 0; i < sizeof bad_seg / sizeof bad_seg[0]; i++) {
        char *x = join(h, "", bad_seg[i]);
        tok = raw_token(x, c, s);
        CHECK_EQ_INT(parse_only(tok), JWT_MALFORMED);
        free(tok);
        free(x);
        x = join(c, "", bad_seg[i]);
        tok = raw_token(h, x, s);
        CHECK_EQ_INT(parse_only(tok), JWT_MALFORMED);
        free(tok);
        free(x);
        x = join(s, "", bad_seg[i]);
        tok = raw_token(h, c, x);
        CHECK_EQ_INT(parse_only(tok), JWT_MALFORMED);
        free(tok);
        free(x);
    }
    /* 256 signature bytes encode with two pad characters in base64. */
    tok = join(good, "", "==");
    CHECK_EQ_INT(parse_only(tok), JWT_MALFORMED);
    free(tok);
    /* A NUL inside the token. */
    tok = join(good, "", "");
    tok[hlen + 3] = '\0';
    CHECK_EQ_INT(jwt_parse(tok, strlen(good), &t), JWT_MALFORMED);
    free(tok);
    /* A signature segment whose last character has spare bits set. */
    tok = join(good, "", "");
    char *last = tok + strlen(tok) - 1;
    *last = 'B'; /* canonical is one of A, Q, g, w */
    CHECK_EQ_INT(parse_only(tok), JWT_MALFORMED);
    free(tok);
    free(good);
}

static void test_malformed_json(void)
{
    static const char *bad_hdr[] = {
        "[\"RS256\"]",                        /* an array */
        "[{\"alg\":\"RS256\"}]",
        "\"RS256\"",                          /* a string */
        "256",
        "null",
        "",
        "{\"alg\":\"RS256\"",                 /* unterminated */
        "{\"alg\":\"RS256\",}",               /* trailing comma */
        "{\"alg\":\"RS256\"} x",              /* trailing content */
        "{\"alg\":\"RS256\"}{}",
        "{'alg':'RS256'}",
        "{\"alg\":\"RS256\",\"x\":\"\xff\"}", /* not UTF-8 */
        "{\"alg\":\"none\",\"alg\":\"RS256\"}", /* duplicate keys */
        "{\"alg\":\"RS256\",\"alg\":\"RS256\"}",
        "{\"alg\":\"RS256\\u0000\"}",         /* NUL in a string */
    };
    for (size_t i = 0; i < sizeof bad_hdr / sizeof bad_hdr[0]; i++)
        CHECK_EQ_INT(parse_json(bad_hdr[i], CLAIMS), JWT_MALFORMED);

    static const char *bad_claims[] = {
        "[1700003600]",
        "\"exp\"",
        "1700003600",
        "{\"exp\":1700003600",
        "{\"exp\":1700003600,\"exp\":1}",
        "{\"exp\":1700003600} x",
        "{\"exp\":1e999}",                    /* overflows a double */
        "{\"exp\":99999999999999999999999}", /* overflows an integer */
        "{\"exp\":NaN}",
    };
    for (size_t i = 0; i < sizeof bad_claims / sizeof bad_claims[0]; i++)
        CHECK_EQ_INT(parse_json(HDR_RS, bad_claims[i]), JWT_MALFORMED);

    /* Whitespace inside the JSON is JSON's business, not base64's. */
    CHECK_EQ_INT(parse_json(" { \"alg\" : \"RS256\" } ", " {\"exp\" : 1700003600}\n"), JWT_OK);
}

/* The length limit: a token of JWT_MAX_TOKEN bytes is read, one byte more
 * is not. */
#define PAD_FMT "{\"exp\":1700003600,\"pad\":\"%s\"}"
static void test_huge_token(void)
{
    const size_t h_len = B64URL_ENCODED_LEN(strlen(HDR_RS));
    const size_t s_len = B64URL_ENCODED_LEN(256); /* RS256 with a 2048-bit key */
    size_t pad = 0, total = 0;
    char *padding, *claims, *tok;

    /* Find the longest pad that keeps the token within the limit. */
    for (size_t k = 5000; k < 7000; k++) {
        size_t c_len = B64URL_ENCODED_LEN(strlen(PAD_FMT) - 2 + k);
        size_t len = h_len + 1 + c_len + 1 + s_len;
        if (len > JWT_MAX_TOKEN)
            break;
        pad = k;
        total = len;
    }
    CU_ASSERT_FATAL(pad > 0);
    CHECK(total > JWT_MAX_TOKEN - 4);
    padding = malloc(pad + 2);
    claims = malloc(pad + 64);
    CU_ASSERT_FATAL(padding != NULL && claims != NULL);
    memset(padding, 'x', pad + 1);

    padding[pad] = '\0';
    snprintf(claims, pad + 64, PAD_FMT, padding);
    tok = make_token(HDR_RS, claims, rsa_a);
    CU_ASSERT_FATAL(tok != NULL);
    CHECK_EQ_INT(strlen(tok), total);
    CHECK_EQ_INT(judge(tok, rsa_a), JWT_OK);
    free(tok);

    padding[pad] = 'x';
    padding[pad + 1] = '\0';
    snprintf(claims, pad + 64, PAD_FMT, padding);
    tok = make_token(HDR_RS, claims, rsa_a);
    CU_ASSERT_FATAL(tok != NULL);
    CHECK(strlen(tok) > JWT_MAX_TOKEN);
    CHECK_EQ_INT(judge(tok, rsa_a), JWT_MALFORMED);
    free(tok);
    free(claims);
    free(padding);

    /* A megabyte of anything is refused without being read. */
    size_t big = 1u << 20;
    char *junk = malloc(big);
    jwt_t t;
    CU_ASSERT_FATAL(junk != NULL);
    memset(junk, 'A', big);
    junk[100] = '.';
    junk[200] = '.';
    CHECK_EQ_INT(jwt_parse(junk, big, &t), JWT_MALFORMED);
    free(junk);
}

static void test_header_rules(void)
{
    char kid[JWT_MAX_KID + 2], hdr[256];
    jwt_t t;

    /* kid: 1 to JWT_MAX_KID printable ASCII characters. */
    memset(kid, 'k', sizeof kid);
    kid[JWT_MAX_KID] = '\0';
    snprintf(hdr, sizeof hdr, "{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid);
    char *tok = make_token(hdr, CLAIMS, NULL);
    CHECK_EQ_INT(jwt_parse(tok, strlen(tok), &t), JWT_OK);
    CHECK_EQ_STR(t.kid, kid);
    jwt_clear(&t);
    free(tok);
    kid[JWT_MAX_KID] = 'k';
    kid[JWT_MAX_KID + 1] = '\0';
    snprintf(hdr, sizeof hdr, "{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid);
    CHECK_EQ_INT(parse_json(hdr, CLAIMS), JWT_MALFORMED);
    CHECK_EQ_INT(parse_json("{\"alg\":\"RS256\",\"kid\":\"!~\"}", CLAIMS), JWT_OK);

    static const char *bad_kid[] = {
        "\"\"", "\"a b\"", "\"a\\tb\"", "\"a\\nb\"", "\"caf\\u00e9\"", "\"caf\xc3\xa9\"",
        "\"\\u007f\"", "\"\\u001b[31m\"", "5", "null", "true", "[\"k\"]", "{}",
    };
    for (size_t i = 0; i < sizeof bad_kid / sizeof bad_kid[0]; i++) {
        snprintf(hdr, sizeof hdr, "{\"alg\":\"RS256\",\"kid\":%s}", bad_kid[i]);
        CHECK_EQ_INT(parse_json(hdr, CLAIMS), JWT_MALFORMED);
    }

    /* crit: we understand no extension, whatever is listed. */
    CHECK_EQ_INT(parse_json("{\"alg\":\"RS256\",\"crit\":[\"exp\"],\"exp\":1}", CLAIMS),
                 JWT_MALFORMED);
    CHECK_EQ_INT(parse_json("{\"alg\":\"RS256\",\"crit\":[]}", CLAIMS), JWT_MALFORMED);
    CHECK_EQ_INT(parse_json("{\"alg\":\"ES256\",\"crit\":null}", CLAIMS), JWT_MALFORMED);

    /* typ: JWT or application/jwt in any case, nothing else. */
    CHECK_EQ_INT(parse_json("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", CLAIMS), JWT_OK);
    CHECK_EQ_INT(parse_json("{\"alg\":\"RS256\",\"typ\":\"application/jwt\"}", CLAIMS), JWT_OK);
    CHECK_EQ_INT(parse_json("{\"alg\":\"RS256\",\"typ\":\"Application/JWT\"}", CLAIMS), JWT_OK);
    CHECK_EQ_INT(parse_json("{\"alg\":\"RS256\",\"typ\":\"jwt\"}", CLAIMS), JWT_OK);
    CHECK_EQ_INT(parse_json("{\"alg\":\"RS256\",\"typ\":\"Jwt\"}", CLAIMS), JWT_OK);
    static const char *bad_typ[] = {
        "\"at+jwt\"", "\"at+JWT\"", "\"JWT \"", "\"JW\"", "\"JOSE\"",
        "\"\"",       "1",          "null",     "[\"JWT\"]", "\"application/at+jwt\"", "\"application/\"",
        "\"text/jwt\"", "\"application/jwtx\"",
    };
    for (size_t i = 0; i < sizeof bad_typ / sizeof bad_typ[0]; i++) {
        snprintf(hdr, sizeof hdr, "{\"alg\":\"RS256\",\"typ\":%s}", bad_typ[i]);
        CHECK_EQ_INT(parse_json(hdr, CLAIMS), JWT_MALFORMED);
    }
}

/* Keys named by the token itself are ignored: a token signed with another
 * key that it carries or points to fails against ours. */
static void test_embedded_keys_ignored(void)
{
    const char *hdr = "{\"alg\":\"RS256\",\"jku\":\"https://evil.example/jwks.json\","
                      "\"x5u\":\"https://evil.example/cert.pem\","
                      "\"jwk\":{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"},\"x5c\":[\"AAAA\"]}";
    char *tok = make_token(hdr, CLAIMS, rsa_b);
    CU_ASSERT_FATAL(tok != NULL);
    CHECK_EQ_INT(parse_only(tok), JWT_OK);
    CHECK_EQ_INT(judge(tok, rsa_a), JWT_BAD_SIGNATURE);
    free(tok);
    tok = make_token(hdr, CLAIMS, rsa_a);
    CHECK_EQ_INT(judge(tok, rsa_a), JWT_OK);
    free(tok);
}

static void test_claim_rules(void)
{
    char str[JWT_MAX_CLAIM_STR + 2], claims[2 * JWT_MAX_CLAIM_STR + 100];
    jwt_t t;

    memset(str, 's', sizeof str);
    str[JWT_MAX_CLAIM_STR] = '\0';
    snprintf(claims, sizeof claims, "{\"exp\":1700003600,\"iss\":\"%s\",\"sub\":\"%s\"}", str, str);
    char *tok = make_token(HDR_RS, claims, NULL);
    CHECK_EQ_INT(jwt_parse(tok, strlen(tok), &t), JWT_OK);
    CHECK_EQ_STR(t.iss, str);
    CHECK_EQ_STR(t.sub, str);
    jwt_clear(&t);
    free(tok);

    str[JWT_MAX_CLAIM_STR] = 's';
    str[JWT_MAX_CLAIM_STR + 1] = '\0';
    snprintf(claims, sizeof claims, "{\"exp\":1700003600,\"iss\":\"%s\"}", str);
    CHECK_EQ_INT(parse_json(HDR_RS, claims), JWT_MALFORMED);
    snprintf(claims, sizeof claims, "{\"exp\":1700003600,\"sub\":\"%s\"}", str);
    CHECK_EQ_INT(parse_json(HDR_RS, claims), JWT_MALFORMED);
    CHECK_EQ_INT(parse_json(HDR_RS, "{\"exp\":1700003600,\"iss\":42}"), JWT_MALFORMED);
    CHECK_EQ_INT(parse_json(HDR_RS, "{\"exp\":1700003600,\"sub\":[\"a\"]}"), JWT_MALFORMED);
    CHECK_EQ_INT(parse_json(HDR_RS, "{\"exp\":1700003600,\"sub\":null}"), JWT_MALFORMED);
    CHECK_EQ_INT(parse_json(HDR_RS, "{\"exp\":1700003600,\"nbf\":\"soon\"}"), JWT_MALFORMED);
    CHECK_EQ_INT(parse_json(HDR_RS, "{\"exp\":1700003600,\"nbf\":null}"), JWT_MALFORMED);
    CHECK_EQ_INT(parse_json(HDR_RS, "{\"exp\":1700003600,\"iat\":\"now\"}"), JWT_MALFORMED);
    /* Claims we do not read are left alone. */
    CHECK_EQ_INT(parse_json(HDR_RS, "{\"exp\":1700003600,\"aud\":[\"x\"],\"x\":{\"y\":[1]}}"),
                 JWT_OK);

    /* exp is required and numeric. */
    static const char *no_exp[] = {
        "{}", "{\"sub\":\"a\"}", "{\"exp\":\"1700003600\"}", "{\"exp\":null}", "{\"exp\":true}",
        "{\"exp\":[1700003600]}", "{\"EXP\":1700003600}",
    };
    for (size_t i = 0; i < sizeof no_exp / sizeof no_exp[0]; i++)
        CHECK_EQ_INT(parse_json(HDR_RS, no_exp[i]), JWT_NO_EXP);

    /* Integer or real. */
    tok = make_token(HDR_RS, "{\"exp\":1700000000.5,\"nbf\":1699999000,\"iat\":1699999000.25}",
                     NULL);
    CHECK_EQ_INT(jwt_parse(tok, strlen(tok), &t), JWT_OK);
    CHECK(t.exp == 1700000000.5);
    CHECK(t.has_nbf && t.nbf == 1699999000.0);
    CHECK(t.has_iat && t.iat == 1699999000.25);
    jwt_clear(&t);
    free(tok);
}

/* Parses claims (unsigned token) and checks the times at now. */
static jwt_verdict_t at(const char *claims, long long now, int leeway)
{
    char *tok = make_token(HDR_RS, claims, NULL);
    jwt_t t;
    jwt_verdict_t v;
    CU_ASSERT_FATAL(tok != NULL);
    v = jwt_parse(tok, strlen(tok), &t);
    if (v == JWT_OK)
        v = jwt_check_time(&t, now, leeway);
    jwt_clear(&t);
    free(tok);
    return v;
}

static void test_times(void)
{
    /* exp = NOW - 30: inside a minute of leeway, outside less of it. */
    const char *past30 = "{\"exp\":1699999970}";
    CHECK_EQ_INT(at(past30, NOW, 60), JWT_OK);
    CHECK_EQ_INT(at(past30, NOW, 30), JWT_OK);
    CHECK_EQ_INT(at(past30, NOW, 29), JWT_EXPIRED);
    CHECK_EQ_INT(at(past30, NOW, 0), JWT_EXPIRED);

    /* exp = NOW - 120: beyond any leeway, which is clamped to 60. */
    const char *past120 = "{\"exp\":1699999880}";
    CHECK_EQ_INT(at(past120, NOW, 60), JWT_EXPIRED);
    CHECK_EQ_INT(at(past120, NOW, 120), JWT_EXPIRED);
    CHECK_EQ_INT(at(past120, NOW, 600), JWT_EXPIRED);
    CHECK_EQ_INT(at(past120, NOW, INT_MAX), JWT_EXPIRED);
    CHECK_EQ_INT(at(past120, NOW - 60, 600), JWT_OK);

    /* exp = NOW: valid up to and including that second; a negative
     * leeway counts as none. */
    const char *now_exp = "{\"exp\":1700000000}";
    CHECK_EQ_INT(at(now_exp, NOW, 0), JWT_OK);
    CHECK_EQ_INT(at(now_exp, NOW + 1, 0), JWT_EXPIRED);
    CHECK_EQ_INT(at(now_exp, NOW + 1, -100), JWT_EXPIRED);
    CHECK_EQ_INT(at(now_exp, NOW + 1, INT_MIN), JWT_EXPIRED);
    CHECK_EQ_INT(at("{\"exp\":1700000000.5}", NOW + 1, 0), JWT_EXPIRED);

    /* nbf = NOW + 120 and NOW + 30. */
    const char *nbf120 = "{\"exp\":1700003600,\"nbf\":1700000120}";
    CHECK_EQ_INT(at(nbf120, NOW, 60), JWT_NOT_YET_VALID);
    CHECK_EQ_INT(at(nbf120, NOW, 600), JWT_NOT_YET_VALID);
    CHECK_EQ_INT(at(nbf120, NOW + 60, 60), JWT_OK);
    CHECK_EQ_INT(at(nbf120, NOW + 120, 0), JWT_OK);
    const char *nbf30 = "{\"exp\":1700003600,\"nbf\":1700000030}";
    CHECK_EQ_INT(at(nbf30, NOW, 60), JWT_OK);
    CHECK_EQ_INT(at(nbf30, NOW, 0), JWT_NOT_YET_VALID);
    CHECK_EQ_INT(at(nbf30, NOW, -5), JWT_NOT_YET_VALID);
    /* iat is informational. */
    CHECK_EQ_INT(at("{\"exp\":1700003600,\"iat\":1800000000}", NOW, 0), JWT_OK);
    CHECK_EQ_INT(jwt_check_time(NULL, NOW, 0), JWT_MALFORMED);

    /* All three steps on a signed, expired token. */
    char *tok = make_token(HDR_ES, past120, ec_a);
    CHECK_EQ_INT(judge(tok, ec_a), JWT_EXPIRED);
    free(tok);
}

static void test_signature_rules(void)
{
    char *rs = make_token(HDR_RS, CLAIMS, rsa_a);
    char *es = make_token(HDR_ES, CLAIMS, ec_a);
    char *rs_small = make_token(HDR_RS, CLAIMS, rsa_1024);
    char *es_384 = make_token(HDR_ES, CLAIMS, ec_384);
    jwt_t t;
    CU_ASSERT_FATAL(rs && es && rs_small && es_384);

    /* Another key of the right type: the signature is wrong. */
    CHECK_EQ_INT(judge(rs, rsa_b), JWT_BAD_SIGNATURE);
    /* A key of the wrong type, size or curve is never used. */
    CHECK_EQ_INT(judge(es, rsa_a), JWT_KEY_MISMATCH);
    CHECK_EQ_INT(judge(rs, ec_a), JWT_KEY_MISMATCH);
    CHECK_EQ_INT(judge(rs, ed25519), JWT_KEY_MISMATCH);
    CHECK_EQ_INT(judge(rs_small, rsa_1024), JWT_KEY_MISMATCH);
    CHECK_EQ_INT(judge(es_384, ec_384), JWT_KEY_MISMATCH);
    CHECK_EQ_INT(judge(es, ec_384), JWT_KEY_MISMATCH);
    /* No key at all. */
    CHECK_EQ_INT(judge(rs, NULL), JWT_NO_KEY);
    CHECK_EQ_INT(judge(es, NULL), JWT_NO_KEY);
    CHECK_EQ_INT(jwt_verify_signature(NULL, NULL), JWT_NO_KEY);
    CHECK_EQ_INT(jwt_verify_signature(NULL, rsa_a), JWT_MALFORMED);
    /* A struct that no parse filled. */
    memset(&t, 0, sizeof t);
    CHECK_EQ_INT(jwt_verify_signature(&t, rsa_a), JWT_MALFORMED);

    /* Tampered claims (a later exp) or header (an added kid), signature
     * kept. */
    char *forged_c = signing_input(HDR_RS, "{\"exp\":1800003600,\"sub\":\"user-1\"}");
    char *forged_h = signing_input("{\"alg\":\"RS256\",\"kid\":\"x\"}", CLAIMS);
    char *tok = join(forged_c, ".", strrchr(rs, '.') + 1);
    CHECK_EQ_INT(judge(tok, rsa_a), JWT_BAD_SIGNATURE);
    free(tok);
    tok = join(forged_h, ".", strrchr(rs, '.') + 1);
    CHECK_EQ_INT(judge(tok, rsa_a), JWT_BAD_SIGNATURE);
    free(tok);
    free(forged_c);
    free(forged_h);
    forged_c = signing_input(HDR_ES, "{\"exp\":1800003600,\"sub\":\"user-1\"}");
    tok = join(forged_c, ".", strrchr(es, '.') + 1);
    CHECK_EQ_INT(judge(tok, ec_a), JWT_BAD_SIGNATURE);
    free(tok);
    free(forged_c);

    /* A flipped bit in each signature, and signatures of the wrong length. */
    unsigned char sig[512];
    size_t n;
    char *si = signing_input(HDR_RS, CLAIMS);
    n = sign(rsa_a, si, sig, sizeof sig);
    CU_ASSERT_FATAL(n == 256);
    sig[100] ^= 0x01;
    tok = with_sig(si, sig, n);
    CHECK_EQ_INT(judge(tok, rsa_a), JWT_BAD_SIGNATURE);
    free(tok);
    sig[100] ^= 0x01;
    tok = with_sig(si, sig, n - 1);
    CHECK_EQ_INT(judge(tok, rsa_a), JWT_BAD_SIGNATURE);
    free(tok);
    tok = with_sig(si, sig, n);
    CHECK_EQ_INT(judge(tok, rsa_a), JWT_OK);
    free(tok);
    free(si);

    si = signing_input(HDR_ES, CLAIMS);
    n = sign(ec_a, si, sig, sizeof sig);
    CU_ASSERT_FATAL(n == 64);
    sig[40] ^= 0x80;
    tok = with_sig(si, sig, n);
    CHECK_EQ_INT(judge(tok, ec_a), JWT_BAD_SIGNATURE);
    free(tok);
    sig[40] ^= 0x80;
    tok = with_sig(si, sig, 63);
    CHECK_EQ_INT(judge(tok, ec_a), JWT_BAD_SIGNATURE);
    free(tok);
    sig[64] = 0;
    tok = with_sig(si, sig, 65);
    CHECK_EQ_INT(judge(tok, ec_a), JWT_BAD_SIGNATURE);
    free(tok);
    tok = with_sig(si, sig, 64);
    CHECK_EQ_INT(judge(tok, ec_a), JWT_OK);
    free(tok);
    /* r = s = 0 (the "psychic signature") must not verify anything. */
    memset(sig, 0, 64);
    tok = with_sig(si, sig, 64);
    CHECK_EQ_INT(judge(tok, ec_a), JWT_BAD_SIGNATURE);
    free(tok);

    /* The DER form OpenSSL produces is not what JWS sends: refused by
     * length. */
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    CU_ASSERT_FATAL(ctx != NULL);
    n = sizeof sig;
    CU_ASSERT_FATAL(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, ec_a) == 1);
    CU_ASSERT_FATAL(EVP_DigestSign(ctx, sig, &n, (const unsigned char *)si, strlen(si)) == 1);
    CHECK(n != 64);
    tok = with_sig(si, sig, n);
    CHECK_EQ_INT(judge(tok, ec_a), JWT_BAD_SIGNATURE);
    free(tok);
    EVP_MD_CTX_free(ctx);
    free(si);

    free(rs);
    free(es);
    free(rs_small);
    free(es_384);
}

static void test_thumbprint(void)
{
    char tp[JWT_THUMBPRINT_LEN + 1], tp2[JWT_THUMBPRINT_LEN + 1];
    size_t n;
    unsigned char *der;

    CHECK_EQ_INT(jwt_key_thumbprint((const unsigned char *)"abc", 3, tp, sizeof tp), ENT_OK);
    CHECK_EQ_STR(tp, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");

    der = pubkey_der(rsa_a, &n);
    CU_ASSERT_FATAL(der != NULL);
    CHECK_EQ_INT(jwt_key_thumbprint(der, n, tp, sizeof tp), ENT_OK);
    CHECK_EQ_INT(strlen(tp), 43);
    CHECK_EQ_INT(jwt_key_thumbprint(der, n, tp2, sizeof tp2), ENT_OK);
    CHECK_EQ_STR(tp2, tp);
    CHECK_EQ_INT(jwt_key_thumbprint(der, n, tp2, JWT_THUMBPRINT_LEN), ENT_EINVAL);
    CHECK_EQ_INT(jwt_key_thumbprint(NULL, n, tp2, sizeof tp2), ENT_EINVAL);
    CHECK_EQ_INT(jwt_key_thumbprint(der, n, NULL, sizeof tp2), ENT_EINVAL);
    OPENSSL_free(der);

    der = pubkey_der(ec_a, &n);
    CU_ASSERT_FATAL(der != NULL);
    CHECK_EQ_INT(jwt_key_thumbprint(der, n, tp2, sizeof tp2), ENT_OK);
    CHECK_EQ_INT(strlen(tp2), 43);
    CHECK(strcmp(tp, tp2) != 0);
    OPENSSL_free(der);
}

static void test_verdict_str(void)
{
    for (int v = JWT_OK; v <= JWT_INTERNAL; v++) {
        const char *s = jwt_verdict_str((jwt_verdict_t)v);
        CHECK(s != NULL && s[0] != '\0');
        for (int w = JWT_OK; w < v; w++)
            CHECK(strcmp(s, jwt_verdict_str((jwt_verdict_t)w)) != 0);
    }
    CHECK_EQ_STR(jwt_verdict_str(JWT_EXPIRED), "expired");
    CHECK(jwt_verdict_str((jwt_verdict_t)99) != NULL);
}

/* Parsed tokens and keys shared by the threads below; only read. */
static jwt_t shared_rs, shared_es;

static void *verify_many(void *arg)
{
    long failures = 0;
    (void)arg;
    for (int i = 0; i < 25; i++) {
        failures += jwt_verify_signature(&shared_rs, rsa_a) != JWT_OK;
        failures += jwt_verify_signature(&shared_es, ec_a) != JWT_OK;
        failures += jwt_verify_signature(&shared_rs, rsa_b) != JWT_BAD_SIGNATURE;
    }
    return (void *)failures;
}

/* One key, several threads verifying at once. */
static void test_threads(void)
{
    char *rs = make_token(HDR_RS, CLAIMS, rsa_a), *es = make_token(HDR_ES, CLAIMS, ec_a);
    pthread_t th[4];
    int started = 0;
    CU_ASSERT_FATAL(rs && es);
    CHECK_EQ_INT(jwt_parse(rs, strlen(rs), &shared_rs), JWT_OK);
    CHECK_EQ_INT(jwt_parse(es, strlen(es), &shared_es), JWT_OK);
    for (int i = 0; i < 4; i++)
        started += pthread_create(&th[i], NULL, verify_many, NULL) == 0;
    CHECK_EQ_INT(started, 4);
    for (int i = 0; i < started; i++) {
        void *failures = NULL;
        CHECK_EQ_INT(pthread_join(th[i], &failures), 0);
        CHECK_EQ_INT((long)failures, 0);
    }
    jwt_clear(&shared_rs);
    jwt_clear(&shared_es);
    free(rs);
    free(es);
}

void register_jwt_tests(void)
{
    CU_pSuite s = CU_add_suite("auth/jwt", jwt_suite_init, jwt_suite_clean);
    CU_add_test(s, "valid RS256", test_valid_rs256);
    CU_add_test(s, "valid ES256", test_valid_es256);
    CU_add_test(s, "keys from DER", test_keys_from_der);
    CU_add_test(s, "algorithm allow-list", test_alg_allow_list);
    CU_add_test(s, "HS256 with the public key as secret", test_hs256_key_confusion);
    CU_add_test(s, "malformed shape and base64url", test_malformed_shape);
    CU_add_test(s, "malformed JSON", test_malformed_json);
    CU_add_test(s, "token length limit", test_huge_token);
    CU_add_test(s, "header rules", test_header_rules);
    CU_add_test(s, "keys in the header ignored", test_embedded_keys_ignored);
    CU_add_test(s, "claim rules", test_claim_rules);
    CU_add_test(s, "times and leeway", test_times);
    CU_add_test(s, "signature rules", test_signature_rules);
    CU_add_test(s, "thumbprint", test_thumbprint);
    CU_add_test(s, "verdict texts", test_verdict_str);
    CU_add_test(s, "concurrent verification", test_threads);
}
