/*
 * The JWTs of update clients, checked against their publisher's public
 * keys (uploaded with admin credentials, several per publisher).
 *
 * The key is chosen before anything is verified: the header's kid names
 * one active key (none found ends the check: 401); without a kid, each
 * active key of the publisher the request names is tried, newest first,
 * then those of the publisher the token's iss names, then the
 * STORE_MAX_KEYS newest active keys of every publisher for its algorithm:
 * whose key verifies decides between a 403 or 404 (another publisher's)
 * and a 401 (nobody's). AUTH_MAX_VERIFIES at most; jwt_verify_signature
 * is never called without a key. Lookups are
 * remembered for AUTH_KEY_TTL seconds with their parsed keys; a key is
 * never changed once stored, only retired, and the statements that act
 * for a key check that it is still active.
 *
 * A token that passed is remembered as long as its keys would be (by a
 * SHA-256 of the token and the publisher it was presented for): presented
 * again, it is not parsed or verified again, only its exp and nbf are
 * checked again. An RSA verification costs more than the rest of a status
 * log POST's own work, and update clients send one token many times. A
 * token that failed is never remembered, and every remembered one is
 * forgotten when keys change (auth_forget_keys).
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../core/clock.h"
#include "auth_int.h"
#include "jwt.h"

#define AUTH_KEY_TTL 5
/* Signature verifications one token may cost at most: as many as the keys
 * of two publishers. */
#define AUTH_MAX_VERIFIES (2 * STORE_MAX_KEYS)

/* Drops the keys of slot s; caller holds keys_lock. */
static void keys__clear(auth_key_slot_t *s)
{
    for (int i = 0; i < s->n; i++)
        EVP_PKEY_free(s->keys[i]);
    memset(s, 0, sizeof *s);
}

void auth_forget_keys(auth_t *a)
{
    pthread_mutex_lock(&a->keys_lock);
    for (int i = 0; i < AUTH_KEY_SLOTS; i++)
        keys__clear(&a->key_slots[i]);
    a->key_gen++;
    pthread_mutex_unlock(&a->keys_lock);
}

/* The slot of a token's hash (keys__jwt_hash). */
static auth_jwt_slot_t *keys__jwt_slot(auth_t *a, const unsigned char hash[32])
{
    return &a->jwts[((unsigned)hash[0] | (unsigned)hash[1] << 8) % AUTH_JWT_SLOTS];
}

/* What a token (n bytes, at most JWT_MAX_TOKEN) presented for publisher
 * (NULL: none) is remembered by. */
static bool keys__jwt_hash(const char *token, size_t n, const char *publisher, unsigned char hash[32])
{
    char buf[STORE_MAX_NAME + 2 + JWT_MAX_TOKEN];
    size_t k = 0;
    if (publisher != NULL) {
        size_t p = strlen(publisher);
        if (p > STORE_MAX_NAME)
            return false;
        memcpy(buf, publisher, p);
        k = p;
    }
    buf[k++] = '\0'; /* no name holds a NUL: the hint ends here */
    buf[k++] = publisher != NULL ? 'P' : '-';
    memcpy(buf + k, token, n);
    bool ok = EVP_Digest(buf, k + n, hash, NULL, EVP_sha256(), NULL) == 1;
    OPENSSL_cleanse(buf, k + n); /* a bearer token: no copy is left behind */
    return ok;
}

/* Whether a token that passed is remembered under hash; if so *verdict:
 * AUTH_OK with *out when it still passes at now, AUTH_DENIED (*why) when
 * its time has gone. */
static bool keys__jwt_recall(auth_t *a, const unsigned char hash[32], time_t now, int leeway_s, auth_jwt_t *out,
                             const char **why, auth_verdict_t *verdict)
{
    jwt_t t;
    memset(&t, 0, sizeof t);
    pthread_mutex_lock(&a->keys_lock);
    const auth_jwt_slot_t *s = keys__jwt_slot(a, hash);
    bool hit = s->expires > clock_seconds() && s->key_gen == a->key_gen && CRYPTO_memcmp(s->hash, hash, 32) == 0;
    if (hit) {
        t.exp = s->exp;
        t.nbf = s->nbf;
        t.has_nbf = s->has_nbf;
        *out = s->who;
    }
    pthread_mutex_unlock(&a->keys_lock);
    if (!hit)
        return false;
    jwt_verdict_t v = jwt_check_time(&t, (long long)now, leeway_s);
    *verdict = v == JWT_OK ? AUTH_OK : AUTH_DENIED;
    if (v != JWT_OK)
        *why = jwt_verdict_str(v);
    return true;
}

/* Remembers for AUTH_KEY_TTL that the token of hash passed (t, *who), checked with the keys
 * of generation gen. */
static void keys__jwt_remember(auth_t *a, const unsigned char hash[32], unsigned long gen,
                               const jwt_t *t, const auth_jwt_t *who)
{
    pthread_mutex_lock(&a->keys_lock);
    auth_jwt_slot_t *s = keys__jwt_slot(a, hash);
    memcpy(s->hash, hash, 32);
    s->expires = clock_seconds() + AUTH_KEY_TTL;
    s->key_gen = gen;
    s->exp = t->exp;
    s->nbf = t->nbf;
    s->has_nbf = t->has_nbf;
    s->who = *who;
    pthread_mutex_unlock(&a->keys_lock);
}

/* The active keys of name, by what by says: copies into ids, publishers
 * and keys (a reference each, the caller's to free); *n. */
static auth_verdict_t keys__lookup(auth_t *a, store_key_by_t by, const char *name, long long *ids,
                                   char (*publishers)[STORE_MAX_NAME + 1], EVP_PKEY **keys, int *n)
{
    time_t now = clock_seconds(); /* the cache's: an age */
    *n = 0;
    pthread_mutex_lock(&a->keys_lock);
    unsigned long gen = a->key_gen;
    for (int i = 0; i < AUTH_KEY_SLOTS; i++) {
        auth_key_slot_t *s = &a->key_slots[i];
        if (s->expires > now && s->by == by && strcmp(s->name, name) == 0) {
            for (int k = 0; k < s->n; k++) {
                ids[k] = s->ids[k];
                memcpy(publishers[k], s->publishers[k], sizeof publishers[k]);
                EVP_PKEY_up_ref(s->keys[k]);
                keys[k] = s->keys[k];
            }
            *n = s->n;
            pthread_mutex_unlock(&a->keys_lock);
            return AUTH_OK;
        }
    }
    pthread_mutex_unlock(&a->keys_lock);

    /* Not remembered: ask the database (outside the lock). */
    store_key_t found[AUTH_KEYS_PER_SLOT];
    size_t nf = 0;
    db_conn_t *c = NULL;
    int rc = db_pool_acquire(a->pool, &c);
    if (rc == ENT_OK) {
        rc = store_key_find(c, by, name, found, AUTH_KEYS_PER_SLOT, &nf);
        if (rc == ENT_EDBDOWN && db_conn_reset(c) == ENT_OK) /* a read: safe to repeat */
            rc = store_key_find(c, by, name, found, AUTH_KEYS_PER_SLOT, &nf);
        if (rc == ENT_EDBDOWN)
            db_conn_discard(c);
        db_pool_release(a->pool, c);
    }
    if (rc != ENT_OK)
        return AUTH_UNAVAILABLE;
    for (size_t i = 0; i < nf; i++) {
        EVP_PKEY *k = NULL;
        if (jwt_key_from_der(found[i].der, found[i].der_len, &k) != ENT_OK)
            continue; /* checked on upload: cannot happen */
        ids[*n] = found[i].id;
        memcpy(publishers[*n], found[i].publisher, sizeof publishers[*n]);
        keys[*n] = k;
        (*n)++;
    }

    pthread_mutex_lock(&a->keys_lock);
    if (a->key_gen != gen) {
        /* Keys changed while we looked: what we found may be stale; use it
         * for this request, remember none of it. */
        pthread_mutex_unlock(&a->keys_lock);
        return AUTH_OK;
    }
    auth_key_slot_t *s = &a->key_slots[a->key_next++ % AUTH_KEY_SLOTS];
    keys__clear(s);
    s->by = by;
    snprintf(s->name, sizeof s->name, "%s", name);
    s->expires = now + AUTH_KEY_TTL;
    for (int k = 0; k < *n; k++) {
        s->ids[k] = ids[k];
        memcpy(s->publishers[k], publishers[k], sizeof s->publishers[k]);
        EVP_PKEY_up_ref(keys[k]);
        s->keys[k] = keys[k];
    }
    s->n = *n;
    pthread_mutex_unlock(&a->keys_lock);
    return AUTH_OK;
}

/* A set of keys to try: by what, which name. */
typedef struct keys__set {
    store_key_by_t by;
    const char *name;
} keys__set_t;

/* Verifies t with each of keys (n) but those whose id is in skip (nskip),
 * while *budget lasts (one a verification): JWT_OK with *at the one that
 * verified, else the last refusal (JWT_BAD_SIGNATURE when none was
 * tried). */
static jwt_verdict_t keys__try(const jwt_t *t, EVP_PKEY *const *keys, const long long *ids, int n,
                               const long long *skip, int nskip, int *at, int *budget)
{
    jwt_verdict_t v = JWT_BAD_SIGNATURE;
    for (int i = 0; i < n && *budget > 0; i++) {
        bool tried = false;
        for (int k = 0; k < nskip && !tried; k++)
            tried = skip[k] == ids[i];
        if (tried)
            continue;
        (*budget)--;
        v = jwt_verify_signature(t, keys[i]);
        if (v == JWT_OK || v == JWT_INTERNAL) {
            *at = i;
            return v;
        }
    }
    return v;
}

auth_verdict_t auth_jwt(auth_t *a, const char *token, size_t n, const char *publisher, int leeway_s,
                        auth_jwt_t *out, const char **why)
{
    jwt_t t;
    long long ids[AUTH_KEYS_PER_SLOT], tried[2 * AUTH_KEYS_PER_SLOT];
    char publishers[AUTH_KEYS_PER_SLOT][STORE_MAX_NAME + 1];
    EVP_PKEY *keys[AUTH_KEYS_PER_SLOT];
    int nkeys = 0, ntried = 0, at = -1, budget = AUTH_MAX_VERIFIES;
    auth_verdict_t verdict = AUTH_DENIED;
    unsigned char hash[32];
    time_t now = time(NULL);

    /* The keys' generation before they are looked up: a change after that
     * makes what is remembered below stale at once. */
    pthread_mutex_lock(&a->keys_lock);
    unsigned long gen = a->key_gen;
    pthread_mutex_unlock(&a->keys_lock);
    bool hashed = n <= JWT_MAX_TOKEN && keys__jwt_hash(token, n, publisher, hash);
    if (hashed && keys__jwt_recall(a, hash, now, leeway_s, out, why, &verdict))
        return verdict;

    jwt_verdict_t v = jwt_parse(token, n, &t);
    if (v != JWT_OK) {
        *why = jwt_verdict_str(v);
        return v == JWT_INTERNAL ? AUTH_UNAVAILABLE : AUTH_DENIED;
    }
    /* The keys tried, set after set until one verifies: the kid's alone;
     * without a kid, the keys of the publisher the request names, then of
     * the one the token's iss names, then the newest of all publishers for
     * its algorithm. The key that verifies says whose the token is: another
     * publisher's is a 403 or a 404 for the caller, not a 401 that would
     * tell another publisher's polling id from an unknown one. At most
     * AUTH_MAX_VERIFIES verifications a token (a token no key verifies is
     * never remembered). */
    keys__set_t sets[3];
    int nsets = 0;
    bool hinted = publisher != NULL && publisher[0] != '\0';
    if (t.has_kid) {
        sets[nsets++] = (keys__set_t){STORE_KEY_BY_KID, t.kid};
    } else {
        if (hinted)
            sets[nsets++] = (keys__set_t){STORE_KEY_BY_PUBLISHER, publisher};
        if (t.has_iss && t.iss[0] != '\0' && !(hinted && strcmp(t.iss, publisher) == 0))
            sets[nsets++] = (keys__set_t){STORE_KEY_BY_PUBLISHER, t.iss};
        sets[nsets++] = (keys__set_t){STORE_KEY_BY_ALG, t.alg == JWT_ALG_RS256 ? "RS256" : "ES256"};
    }
    v = JWT_BAD_SIGNATURE;
    for (int k = 0; k < nsets && v != JWT_OK && v != JWT_INTERNAL && budget > 0; k++) {
        if (strlen(sets[k].name) > STORE_MAX_NAME)
            continue; /* names no key */
        for (int i = 0; i < nkeys; i++) {
            if (ntried < (int)(sizeof tried / sizeof tried[0]))
                tried[ntried++] = ids[i];
            EVP_PKEY_free(keys[i]);
        }
        nkeys = 0;
        if ((verdict = keys__lookup(a, sets[k].by, sets[k].name, ids, publishers, keys, &nkeys)) != AUTH_OK) {
            *why = "the key store cannot be reached";
            goto out;
        }
        verdict = AUTH_DENIED;
        if (nkeys == 0 && t.has_kid) {
            *why = "unknown key (kid)";
            goto out;
        }
        v = keys__try(&t, keys, ids, nkeys, tried, ntried, &at, &budget);
    }
    if (v == JWT_INTERNAL) {
        *why = jwt_verdict_str(v);
        verdict = AUTH_UNAVAILABLE;
        goto out;
    }
    if (v != JWT_OK) {
        /* Without a kid, the same words whichever keys were tried: they
         * must not tell one polling id from another. */
        *why = t.has_kid ? jwt_verdict_str(v) : "no active key verifies its signature";
        goto out;
    }
    /* The time after the lookup, which may have waited for the database. */
    now = time(NULL);
    v = jwt_check_time(&t, (long long)now, leeway_s);
    if (v != JWT_OK) {
        *why = jwt_verdict_str(v);
        goto out;
    }
    out->key_id = ids[at];
    memcpy(out->publisher, publishers[at], sizeof out->publisher);
    if (hashed)
        keys__jwt_remember(a, hash, gen, &t, out);
    verdict = AUTH_OK;
out:
    for (int i = 0; i < nkeys; i++)
        EVP_PKEY_free(keys[i]);
    jwt_clear(&t);
    return verdict;
}

auth_verdict_t auth_jwt_unnamed(auth_t *a, const char *token, size_t n, int leeway_s, const char **why)
{
    jwt_t t;
    jwt_verdict_t v = jwt_parse(token, n, &t);
    if (v != JWT_OK) {
        *why = jwt_verdict_str(v);
        return v == JWT_INTERNAL ? AUTH_UNAVAILABLE : AUTH_DENIED;
    }
    v = jwt_check_time(&t, (long long)time(NULL), leeway_s);
    bool named = t.has_kid;
    jwt_clear(&t);
    if (v != JWT_OK) {
        *why = jwt_verdict_str(v);
        return AUTH_DENIED;
    }
    if (!named)
        return AUTH_OK;
    auth_jwt_t who;
    return auth_jwt(a, token, n, NULL, leeway_s, &who, why);
}
