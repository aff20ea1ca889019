/*
 * jwt.h - JSON Web Tokens (JWS compact serialization) signed with RS256 or
 * ES256, checked against keys the caller holds.
 *
 * The checks are a contract, each one refusing a known attack:
 *   - algorithms come from an allow-list matched exactly ("RS256", "ES256");
 *     "none", HMAC (which would verify with the public key as the secret)
 *     and look-alikes ("rs256", "RS384", "PS256") are refused before any key
 *     is touched;
 *   - the key's type must match the algorithm (RSA of at least 2048 bits,
 *     EC on P-256), so one algorithm's signature is never checked with
 *     another kind of key;
 *   - keys come only from the caller: "jku", "jwk", "x5u" and "x5c" in the
 *     header are ignored, and "crit" is refused (no extension is understood);
 *   - every segment is strict base64url and every JSON object strict
 *     (duplicate keys refused, so two readers cannot see different claims);
 *   - "exp" is required.
 * Verification is split in three steps (parse, signature, time) so that a
 * caller picks the key by the parsed "kid" and knows which step failed.
 * Nothing here logs: tokens, signatures and keys never reach a log.
 */
#ifndef ENT_AUTH_JWT_H
#define ENT_AUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/types.h>

#include "../core/err.h"

/* Longest token accepted. An 8 KiB header line is what common proxies let
 * through; a token beyond it is not ours and only costs parsing. */
#define JWT_MAX_TOKEN 8192

/* Longest "kid" accepted: enough for a thumbprint, a UUID or a file name. */
#define JWT_MAX_KID 128

/* Longest "iss" or "sub" accepted, in bytes: what the stores keep of a
 * publisher's name, 255 characters of up to 4 bytes each. */
#define JWT_MAX_CLAIM_STR (255 * 4)

/* Smallest RSA modulus accepted, in bits (NIST SP 800-131A). */
#define JWT_RSA_MIN_BITS 2048

/* Length of a key thumbprint from jwt_key_thumbprint(), without the NUL. */
#define JWT_THUMBPRINT_LEN 43

typedef enum jwt_alg {
    JWT_ALG_NONE_ = 0, /* no allowed algorithm (not the "none" algorithm, which is refused) */
    JWT_ALG_RS256,     /* RSASSA-PKCS1-v1_5 with SHA-256, RSA key >= JWT_RSA_MIN_BITS */
    JWT_ALG_ES256      /* ECDSA on P-256 with SHA-256, signature r||s */
} jwt_alg_t;

typedef enum jwt_verdict {
    JWT_OK = 0,        /* the step passed */
    JWT_MALFORMED,     /* not a well-formed token: shape, base64url, JSON, header or claim types */
    JWT_BAD_ALG,       /* "alg" missing, not a string, or not on the allow-list */
    JWT_NO_KEY,        /* no key to verify with */
    JWT_KEY_MISMATCH,  /* the key does not serve the token's algorithm (type, size or curve) */
    JWT_BAD_SIGNATURE, /* the signature does not verify with the key */
    JWT_NO_EXP,        /* the "exp" claim is missing or not a number */
    JWT_EXPIRED,       /* "exp" has passed, beyond the leeway */
    JWT_NOT_YET_VALID, /* "nbf" is still ahead, beyond the leeway */
    JWT_INTERNAL       /* out of memory or an OpenSSL failure: the token was not judged */
} jwt_verdict_t;

/* A parsed token. Fields are valid after jwt_parse() returned JWT_OK, until
 * jwt_clear(). signing_input and sig are owned by the struct. */
typedef struct jwt {
    jwt_alg_t alg;
    bool has_kid;
    char kid[JWT_MAX_KID + 1];
    double exp;                 /* seconds since the epoch; always present */
    double nbf, iat;            /* valid when has_nbf, has_iat */
    bool has_nbf, has_iat;
    bool has_iss, has_sub;
    char iss[JWT_MAX_CLAIM_STR + 1];
    char sub[JWT_MAX_CLAIM_STR + 1];
    char *signing_input;        /* copy of "header.payload" as received (not NUL-terminated) */
    size_t signing_input_len;
    unsigned char *sig;         /* decoded signature */
    size_t sig_len;
} jwt_t;

/* Parses the n bytes at token (need not be NUL-terminated) into *out and
 * checks its shape, header and claim types; the signature and the times are
 * not checked here. On JWT_OK the caller owns what *out holds and must
 * jwt_clear() it; on any other verdict *out is left cleared (jwt_clear() is
 * harmless). JWT_BAD_ALG, JWT_NO_EXP and JWT_MALFORMED say what was wrong;
 * JWT_INTERNAL means memory ran out. */
jwt_verdict_t jwt_parse(const char *token, size_t n, jwt_t *out);

/* Verifies the signature of a parsed token with key, which stays the
 * caller's. Returns JWT_NO_KEY if key is NULL, JWT_KEY_MISMATCH if the key
 * does not serve t->alg, JWT_BAD_SIGNATURE if the signature is wrong (an
 * ES256 signature must be 64 bytes), JWT_INTERNAL if OpenSSL failed. Safe
 * to call from several threads at once with the same key. */
jwt_verdict_t jwt_verify_signature(const jwt_t *t, EVP_PKEY *key);

/* Checks "exp" and "nbf" of a parsed token against now (seconds since the
 * epoch), allowing leeway_s seconds of clock skew, clamped to [0, 60].
 * Returns JWT_EXPIRED if now > exp + leeway, JWT_NOT_YET_VALID if
 * now + leeway < nbf. */
jwt_verdict_t jwt_check_time(const jwt_t *t, long long now, int leeway_s);

/* Frees what jwt_parse() stored in *t and zeroes it; t may be NULL. */
void jwt_clear(jwt_t *t);

/* Returns a short static text for a verdict, fit for logs ("expired"). */
const char *jwt_verdict_str(jwt_verdict_t v);

/* Parses the n bytes at der, a DER SubjectPublicKeyInfo, into a key that
 * *out receives and the caller frees with EVP_PKEY_free(). Returns
 * ENT_EINVAL (and *out = NULL) for anything but exactly one RSA key of at
 * least JWT_RSA_MIN_BITS or one EC key on P-256, trailing bytes included. */
int jwt_key_from_der(const unsigned char *der, size_t n, EVP_PKEY **out) ENT_MUSTCHECK;

/* Says which algorithm key serves: JWT_ALG_RS256, JWT_ALG_ES256, or
 * JWT_ALG_NONE_ for a NULL key or any key this module does not accept. */
jwt_alg_t jwt_key_alg(const EVP_PKEY *key);

/* Writes the base64url (unpadded) SHA-256 of the n DER bytes at der and a
 * NUL into out (cap bytes, at least JWT_THUMBPRINT_LEN + 1): the default
 * "kid" of a key. This hashes the DER, it is not the RFC 7638 JWK
 * thumbprint. Returns ENT_EINVAL for bad arguments, ENT_ENOMEM if OpenSSL
 * could not hash. */
int jwt_key_thumbprint(const unsigned char *der, size_t n, char *out, size_t cap) ENT_MUSTCHECK;

#endif
