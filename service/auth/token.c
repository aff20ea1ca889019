/*
 * API tokens: Bearer tokens of integrations and device reporters, issued
 * by `entitlementctl token add`, stored as SHA-256 hashes and revocable.
 *
 * A token is 256 random bits, so its SHA-256 is as good a secret as the
 * token and a fast hash is enough (unlike passwords). Lookups are by that
 * hash; a token found is remembered for TOKEN_CACHE_TTL seconds. What a
 * token speaks for never changes, only whether it is revoked, and the
 * statements that act for a token check that themselves.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "../core/base64.h"
#include "../core/clock.h"
#include "auth_int.h"

#define TOKEN_CACHE_TTL 5

int auth_token_make(char token[AUTH_TOKEN_LEN + 1], unsigned char hash[32])
{
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return ENT_EIO;
    memcpy(token, AUTH_TOKEN_PREFIX, strlen(AUTH_TOKEN_PREFIX));
    size_t n = b64url_encode(raw, sizeof raw, token + strlen(AUTH_TOKEN_PREFIX),
                             AUTH_TOKEN_LEN + 1 - strlen(AUTH_TOKEN_PREFIX));
    OPENSSL_cleanse(raw, sizeof raw);
    if (n != AUTH_TOKEN_LEN - strlen(AUTH_TOKEN_PREFIX))
        return ENT_EINVAL;
    if (EVP_Digest(token, AUTH_TOKEN_LEN, hash, NULL, EVP_sha256(), NULL) != 1)
        return ENT_EIO;
    return ENT_OK;
}

auth_verdict_t auth_token(auth_t *a, const char *token, size_t n, store_token_t *out, const char **why)
{
    unsigned char hash[32];
    time_t now = clock_seconds(); /* the cache's: an age */
    db_conn_t *c = NULL;

    if (n != AUTH_TOKEN_LEN || strncmp(token, AUTH_TOKEN_PREFIX, strlen(AUTH_TOKEN_PREFIX)) != 0) {
        *why = "not an API token";
        return AUTH_DENIED;
    }
    if (EVP_Digest(token, n, hash, NULL, EVP_sha256(), NULL) != 1) {
        *why = "hashing failed";
        return AUTH_UNAVAILABLE;
    }
    unsigned slot = ((unsigned)hash[0] | (unsigned)hash[1] << 8) % AUTH_TOKEN_SLOTS;
    pthread_mutex_lock(&a->tokens_lock);
    auth_token_slot_t *s = &a->tokens[slot];
    bool hit = s->expires > now && CRYPTO_memcmp(s->hash, hash, 32) == 0;
    if (hit)
        *out = s->row;
    pthread_mutex_unlock(&a->tokens_lock);
    if (hit)
        return AUTH_OK;

    int rc = db_pool_acquire(a->pool, &c);
    if (rc == ENT_OK) {
        rc = store_token_find(c, hash, out);
        if (rc == ENT_EDBDOWN && db_conn_reset(c) == ENT_OK) /* a read: safe to repeat */
            rc = store_token_find(c, hash, out);
        if (rc == ENT_EDBDOWN)
            db_conn_discard(c);
        db_pool_release(a->pool, c);
    }
    if (rc == ENT_ENOTFOUND) {
        *why = "unknown or revoked API token";
        return AUTH_DENIED;
    }
    if (rc != ENT_OK) {
        *why = "the token store cannot be reached";
        return AUTH_UNAVAILABLE;
    }
    pthread_mutex_lock(&a->tokens_lock);
    memcpy(s->hash, hash, 32);
    s->row = *out;
    s->expires = now + TOKEN_CACHE_TTL;
    pthread_mutex_unlock(&a->tokens_lock);
    return AUTH_OK;
}
