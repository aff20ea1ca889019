#include "jwt.h"

#include <jansson.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/base64.h"

/* Bytes of each of r and s in an ES256 signature (RFC 7518 section 3.4). */
#define JWT__ES256_HALF 32

/* True when j is a string without an embedded NUL; gives its text and
 * length. jansson already refuses "\u0000" unless JSON_ALLOW_NUL is set,
 * which we do not set; checking again keeps that from being load-bearing. */
static bool jwt__string(const json_t *j, const char **s, size_t *len)
{
    if (!json_is_string(j))
        return false;
    *s = json_string_value(j);
    *len = json_string_length(j);
    return strlen(*s) == *len;
}

/* Decodes one base64url segment into buf (large enough for it) and parses
 * it as a JSON object into *out, which the caller then owns. */
static jwt_verdict_t jwt__segment_json(const char *seg, size_t len, unsigned char *buf,
                                       json_t **out)
{
    json_error_t jerr;
    size_t dlen;
    json_t *j;

    if (b64url_decode(seg, len, buf, B64_DECODED_MAX(len), &dlen) != ENT_OK)
        return JWT_MALFORMED;
    /* jansson limits nesting itself (JSON_PARSER_MAX_DEPTH), and the token
     * length bounds the rest. Duplicate keys are refused so that no other
     * reader of this token can pick a different "alg" or "exp" than ours. */
    j = json_loadb((const char *)buf, dlen, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL)
        return json_error_code(&jerr) == json_error_out_of_memory ? JWT_INTERNAL : JWT_MALFORMED;
    if (!json_is_object(j)) {
        json_decref(j);
        return JWT_MALFORMED;
    }
    *out = j;
    return JWT_OK;
}

static jwt_verdict_t jwt__read_header(const json_t *hdr, jwt_t *out)
{
    const json_t *j;
    const char *s;
    size_t len;

    /* Exact, case-sensitive match: anything else, "none" and HMAC first
     * among them, is refused before a key is ever looked at. */
    if (!jwt__string(json_object_get(hdr, "alg"), &s, &len))
        return JWT_BAD_ALG;
    if (len == 5 && memcmp(s, "RS256", 5) == 0)
        out->alg = JWT_ALG_RS256;
    else if (len == 5 && memcmp(s, "ES256", 5) == 0)
        out->alg = JWT_ALG_ES256;
    else
        return JWT_BAD_ALG;

    /* "crit" names extensions the recipient must understand; we know none
     * (RFC 7515 section 4.1.11), whatever its value. */
    if (json_object_get(hdr, "crit") != NULL)
        return JWT_MALFORMED;

    /* A "typ" other than JWT ("at+jwt", "dpop+jwt") marks a token meant
     * for another use, which must not be accepted here. "application/jwt"
     * is the same type (RFC 7515, 4.1.9: a value without a slash is read
     * with "application/" before it); media types ignore case. */
    if ((j = json_object_get(hdr, "typ")) != NULL) {
        if (!jwt__string(j, &s, &len))
            return JWT_MALFORMED;
        if (len == 15 && strncasecmp(s, "application/", 12) == 0) {
            s += 12;
            len -= 12;
        }
        if (len != 3 || strncasecmp(s, "JWT", 3) != 0)
            return JWT_MALFORMED;
    }

    /* The kid picks a key and may reach logs: printable ASCII only. */
    if ((j = json_object_get(hdr, "kid")) != NULL) {
        if (!jwt__string(j, &s, &len) || len < 1 || len > JWT_MAX_KID)
            return JWT_MALFORMED;
        for (size_t i = 0; i < len; i++) {
            if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
                return JWT_MALFORMED;
        }
        memcpy(out->kid, s, len + 1);
        out->has_kid = true;
    }
    /* "jku", "jwk", "x5u" and "x5c" are deliberately not read: a key named
     * by the token itself proves nothing. */
    return JWT_OK;
}

/* Reads an optional numeric claim. */
static bool jwt__opt_number(const json_t *claims, const char *name, double *v, bool *has)
{
    const json_t *j = json_object_get(claims, name);
    if (j == NULL)
        return true;
    if (!json_is_number(j))
        return false;
    *v = json_number_value(j);
    *has = true;
    return true;
}

/* Reads an optional string claim of at most JWT_MAX_CLAIM_STR bytes into
 * buf (JWT_MAX_CLAIM_STR + 1 bytes). */
static bool jwt__opt_string(const json_t *claims, const char *name, char *buf, bool *has)
{
    const json_t *j = json_object_get(claims, name);
    const char *s;
    size_t len;

    if (j == NULL)
        return true;
    if (!jwt__string(j, &s, &len) || len > JWT_MAX_CLAIM_STR)
        return false;
    memcpy(buf, s, len + 1);
    *has = true;
    return true;
}

static jwt_verdict_t jwt__read_claims(const json_t *claims, jwt_t *out)
{
    const json_t *exp = json_object_get(claims, "exp");

    /* A token without an expiry would be valid forever. */
    if (!json_is_number(exp))
        return JWT_NO_EXP;
    out->exp = json_number_value(exp);
    if (!jwt__opt_number(claims, "nbf", &out->nbf, &out->has_nbf) ||
        !jwt__opt_number(claims, "iat", &out->iat, &out->has_iat) ||
        !jwt__opt_string(claims, "iss", out->iss, &out->has_iss) ||
        !jwt__opt_string(claims, "sub", out->sub, &out->has_sub))
        return JWT_MALFORMED;
    return JWT_OK;
}

jwt_verdict_t jwt_parse(const char *token, size_t n, jwt_t *out)
{
    jwt_verdict_t v = JWT_MALFORMED;
    unsigned char *buf = NULL;
    json_t *hdr = NULL, *claims = NULL;
    const char *dot1, *dot2, *end;
    size_t hlen, plen, slen, cap;

    if (out == NULL)
        return JWT_MALFORMED;
    memset(out, 0, sizeof *out);
    if (token == NULL || n == 0 || n > JWT_MAX_TOKEN)
        return JWT_MALFORMED;

    /* Exactly three segments: two dots, no third. */
    end = token + n;
    if ((dot1 = memchr(token, '.', n)) == NULL)
        goto out;
    if ((dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1))) == NULL)
        goto out;
    if (memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL)
        goto out;
    hlen = (size_t)(dot1 - token);
    plen = (size_t)(dot2 - dot1 - 1);
    slen = (size_t)(end - dot2 - 1);

    /* One scratch buffer, large enough for any segment, serves the header
     * and then the payload. */
    if ((buf = malloc(B64_DECODED_MAX(n))) == NULL) {
        v = JWT_INTERNAL;
        goto out;
    }
    /* The header comes first so that a refused algorithm is reported as
     * such, even for "none" tokens that carry no signature. */
    if ((v = jwt__segment_json(token, hlen, buf, &hdr)) != JWT_OK)
        goto out;
    if ((v = jwt__read_header(hdr, out)) != JWT_OK)
        goto out;

    v = JWT_MALFORMED;
    if (slen == 0)
        goto out;
    cap = B64_DECODED_MAX(slen);
    if ((out->sig = malloc(cap)) == NULL) {
        v = JWT_INTERNAL;
        goto out;
    }
    if (b64url_decode(dot2 + 1, slen, out->sig, cap, &out->sig_len) != ENT_OK)
        goto out;

    if ((v = jwt__segment_json(dot1 + 1, plen, buf, &claims)) != JWT_OK)
        goto out;
    if ((v = jwt__read_claims(claims, out)) != JWT_OK)
        goto out;

    /* The signature covers the two segments exactly as received; a copy
     * lets the caller free the token before verifying. */
    out->signing_input_len = (size_t)(dot2 - token);
    if ((out->signing_input = malloc(out->signing_input_len)) == NULL) {
        v = JWT_INTERNAL;
        goto out;
    }
    memcpy(out->signing_input, token, out->signing_input_len);
    v = JWT_OK;
out:
    json_decref(hdr);
    json_decref(claims);
    free(buf);
    if (v != JWT_OK)
        jwt_clear(out);
    return v;
}

jwt_alg_t jwt_key_alg(const EVP_PKEY *key)
{
    char group[64];

    if (key == NULL)
        return JWT_ALG_NONE_;
    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
        /* Plain RSA only: an RSA-PSS key has its own type and is refused. */
        return EVP_PKEY_get_bits(key) >= JWT_RSA_MIN_BITS ? JWT_ALG_RS256 : JWT_ALG_NONE_;
    case EVP_PKEY_EC:
        /* A named curve only; a key with explicit curve parameters has no
         * group name and is refused. */
        if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                           NULL) != 1) {
            ERR_clear_error();
            return JWT_ALG_NONE_;
        }
        return strcmp(group, SN_X9_62_prime256v1) == 0 ? JWT_ALG_ES256 : JWT_ALG_NONE_;
    default:
        return JWT_ALG_NONE_;
    }
}

/* Turns a JWS ES256 signature (r||s, 32 bytes each, big-endian) into the
 * DER ECDSA-Sig-Value OpenSSL verifies. *der is the caller's, to be freed
 * with OPENSSL_free(). */
static jwt_verdict_t jwt__es256_der(const unsigned char *rs, unsigned char **der, int *der_len)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, JWT__ES256_HALF, NULL);
    BIGNUM *s = BN_bin2bn(rs + JWT__ES256_HALF, JWT__ES256_HALF, NULL);

    /* On success es owns r and s; otherwise they are still ours. */
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return JWT_INTERNAL;
    }
    *der = NULL;
    *der_len = i2d_ECDSA_SIG(es, der);
    ECDSA_SIG_free(es);
    return *der_len > 0 ? JWT_OK : JWT_INTERNAL;
}

jwt_verdict_t jwt_verify_signature(const jwt_t *t, EVP_PKEY *key)
{
    jwt_verdict_t v;
    EVP_MD_CTX *ctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *der = NULL;
    const unsigned char *sig;
    size_t sig_len;
    int der_len;

    if (key == NULL)
        return JWT_NO_KEY;
    if (t == NULL || t->signing_input == NULL || t->sig == NULL)
        return JWT_MALFORMED;
    if (t->alg != JWT_ALG_RS256 && t->alg != JWT_ALG_ES256)
        return JWT_BAD_ALG;
    if (jwt_key_alg(key) != t->alg)
        return JWT_KEY_MISMATCH;

    sig = t->sig;
    sig_len = t->sig_len;
    if (t->alg == JWT_ALG_ES256) {
        /* RFC 7518 section 3.4: exactly r||s. DER or any other length is
         * refused, not guessed at. */
        if (t->sig_len != 2 * JWT__ES256_HALF)
            return JWT_BAD_SIGNATURE;
        if ((v = jwt__es256_der(t->sig, &der, &der_len)) != JWT_OK)
            goto out;
        sig = der;
        sig_len = (size_t)der_len;
    }

    /* A context per call: the key itself is only read, which OpenSSL 3
     * allows from several threads at once. */
    v = JWT_INTERNAL;
    if ((ctx = EVP_MD_CTX_new()) == NULL)
        goto out;
    if (EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, key) != 1)
        goto out;
    if (t->alg == JWT_ALG_RS256 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
        goto out;
    v = EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)t->signing_input,
                         t->signing_input_len) == 1
            ? JWT_OK
            : JWT_BAD_SIGNATURE;
out:
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    /* A failed verification leaves entries in this thread's OpenSSL error
     * queue; they must not surface in some unrelated later call. */
    if (v != JWT_OK)
        ERR_clear_error();
    return v;
}

jwt_verdict_t jwt_check_time(const jwt_t *t, long long now, int leeway_s)
{
    /* More than a minute of skew is a broken clock, not skew. */
    int leeway = leeway_s < 0 ? 0 : leeway_s > 60 ? 60 : leeway_s;
    double dnow = (double)now;

    if (t == NULL)
        return JWT_MALFORMED;
    if (dnow > t->exp + leeway)
        return JWT_EXPIRED;
    if (t->has_nbf && dnow + leeway < t->nbf)
        return JWT_NOT_YET_VALID;
    return JWT_OK;
}

void jwt_clear(jwt_t *t)
{
    if (t == NULL)
        return;
    free(t->signing_input);
    free(t->sig);
    memset(t, 0, sizeof *t);
}

const char *jwt_verdict_str(jwt_verdict_t v)
{
    switch (v) {
    case JWT_OK:
        return "ok";
    case JWT_MALFORMED:
        return "malformed token";
    case JWT_BAD_ALG:
        return "algorithm not allowed";
    case JWT_NO_KEY:
        return "no key";
    case JWT_KEY_MISMATCH:
        return "key does not match algorithm";
    case JWT_BAD_SIGNATURE:
        return "bad signature";
    case JWT_NO_EXP:
        return "no expiry";
    case JWT_EXPIRED:
        return "expired";
    case JWT_NOT_YET_VALID:
        return "not yet valid";
    case JWT_INTERNAL:
        return "internal error";
    }
    return "unknown verdict";
}

int jwt_key_from_der(const unsigned char *der, size_t n, EVP_PKEY **out)
{
    const unsigned char *p = der;
    EVP_PKEY *key;

    if (out == NULL)
        return ENT_EINVAL;
    *out = NULL;
    if (der == NULL || n == 0 || n > LONG_MAX)
        return ENT_EINVAL;
    if ((key = d2i_PUBKEY(NULL, &p, (long)n)) == NULL) {
        ERR_clear_error();
        return ENT_EINVAL;
    }
    /* Bytes after the structure would make two different inputs the same
     * key (and the thumbprint of the DER ambiguous). */
    if (p != der + n || jwt_key_alg(key) == JWT_ALG_NONE_) {
        EVP_PKEY_free(key);
        return ENT_EINVAL;
    }
    *out = key;
    return ENT_OK;
}

int jwt_key_thumbprint(const unsigned char *der, size_t n, char *out, size_t cap)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    if (der == NULL || n == 0 || out == NULL || cap < JWT_THUMBPRINT_LEN + 1)
        return ENT_EINVAL;
    /* With a built-in digest, only an allocation can fail. */
    if (EVP_Digest(der, n, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32) {
        ERR_clear_error();
        return ENT_ENOMEM;
    }
    if (b64url_encode(md, md_len, out, cap) != JWT_THUMBPRINT_LEN)
        return ENT_EINVAL;
    return ENT_OK;
}
