/*
 * Passwords: HTTP Basic (user or user##domain) or the FlexNet header
 * elements UserId and UserPassword (base64), checked against the salted
 * hashes in the users table.
 *
 * yescrypt costs milliseconds by design, which is too much for every
 * request of a busy client; a successful check is remembered for
 * ENTITLEMENTD_AUTH_CACHE_SECONDS (60) as an HMAC of the credentials under a key made
 * at start-up, so nothing reversible is kept.
 *
 * A yescrypt check also takes 16 MiB for its moment. When a remembered
 * credential expires, every worker busy with that client would hash it at
 * once (8 × 16 MiB, and the cores for nothing); so requests with the same
 * credentials wait for the one check in progress, and at most
 * AUTH_MAX_HASHING checks run at a time.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../core/base64.h"
#include "../core/clock.h"
#include "../core/metrics.h"
#include "../core/password.h"
#include "../core/thread.h"
#include "../core/utf8.h"
#include "../db/store.h"
#include "auth_int.h"

/* A credential presented within this long is "known": its re-check goes
 * ahead of strangers' checks. */
#define AUTH_KNOWN_S 3600
/* Longest wait for a check another request is making. */
#define AUTH_MAX_WAIT_S 10
/* Requests that may wait for a check at once; more are answered 503 at
 * once, so that a flood of new or wrong credentials cannot take every
 * worker from clients whose credentials are remembered. */
#define AUTH_MAX_WAITING 4
#define AUTH_DEFAULT_DOMAIN "FLEXnet"
/* Longest decoded HTTP Basic credentials ("login:password") we look at. */
#define AUTH_MAX_BASIC (AUTH_MAX_LOGIN + 1 + AUTH_MAX_FIELD)

/* Requests put back after AUTH_BUSY that are served again each time a
 * check ends: the check's own slot is free, and a request waiting for one
 * takes it; as many as can then wait in its place. */
#define AUTH_RETRY_PER_TURN 2

/* The SHA-256 state after one block of key XOR pad: the start of every
 * HMAC under that key. NULL when OpenSSL fails. */
static EVP_MD_CTX *auth__mac_state(const unsigned char *key, size_t n, unsigned char pad)
{
    unsigned char block[64];
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    memset(block, pad, sizeof block);
    for (size_t i = 0; i < n; i++)
        block[i] ^= key[i];
    if (x != NULL && (EVP_DigestInit_ex2(x, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(x, block, sizeof block) != 1)) {
        EVP_MD_CTX_free(x);
        x = NULL;
    }
    OPENSSL_cleanse(block, sizeof block);
    return x;
}

int auth_new(db_pool_t *pool, const auth_options_t *opt, auth_t **out)
{
    struct auth *c = calloc(1, sizeof *c);
    if (c == NULL)
        return ENT_ENOMEM;
    _Static_assert(sizeof c->key <= 64, "an HMAC-SHA-256 key longer than a block is hashed first");
    if (RAND_bytes(c->key, sizeof c->key) != 1 || (c->mac_inner = auth__mac_state(c->key, sizeof c->key, 0x36)) == NULL ||
        (c->mac_outer = auth__mac_state(c->key, sizeof c->key, 0x5c)) == NULL) {
        EVP_MD_CTX_free(c->mac_inner);
        OPENSSL_cleanse(c, sizeof *c);
        free(c);
        return ENT_EIO;
    }
    c->pool = pool;
    c->cache_s = opt->cache_s;
    if (throttle_init(&c->throttle, opt->failures_per_address, opt->failures_per_user) != ENT_OK) {
        EVP_MD_CTX_free(c->mac_inner);
        EVP_MD_CTX_free(c->mac_outer);
        free(c);
        return ENT_EIO;
    }
    pthread_mutex_init(&c->lock, NULL);
    clock_cond_init(&c->checked);
    pthread_mutex_init(&c->tokens_lock, NULL);
    pthread_mutex_init(&c->keys_lock, NULL);
    *out = c;
    return ENT_OK;
}

void auth_on_turn(auth_t *a, void (*fn)(void *arg, int n), void *arg)
{
    pthread_mutex_lock(&a->lock);
    a->on_turn = fn;
    a->on_turn_arg = arg;
    pthread_mutex_unlock(&a->lock);
}

void auth_free(auth_t *c)
{
    if (c == NULL)
        return;
    auth_forget_keys(c);
    throttle_destroy(&c->throttle);
    pthread_mutex_destroy(&c->keys_lock);
    pthread_mutex_destroy(&c->tokens_lock);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->checked);
    EVP_MD_CTX_free(c->mac_inner);
    EVP_MD_CTX_free(c->mac_outer);
    OPENSSL_cleanse(c, sizeof *c);
    free(c);
}

/* HMAC-SHA-256 of the credentials under the start-up key, from the pad
 * states made once. Returns false when OpenSSL fails (then nothing may be
 * looked up by out). */
static bool auth__mac(const struct auth *c, const char *user, const char *domain, const char *password,
                      unsigned char out[32])
{
    unsigned int len = 0;
    unsigned char inner[32];
    /* Fields separated by NUL bytes so that no two triples collide. */
    size_t lu = strlen(user), ld = strlen(domain), lp = strlen(password);
    unsigned char buf[3 * (AUTH_MAX_FIELD + 1)];
    memcpy(buf, user, lu + 1);
    memcpy(buf + lu + 1, domain, ld + 1);
    memcpy(buf + lu + ld + 2, password, lp + 1);
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    bool ok = x != NULL && EVP_MD_CTX_copy_ex(x, c->mac_inner) == 1 &&
              EVP_DigestUpdate(x, buf, lu + ld + lp + 3) == 1 && EVP_DigestFinal_ex(x, inner, &len) == 1 &&
              EVP_MD_CTX_copy_ex(x, c->mac_outer) == 1 && EVP_DigestUpdate(x, inner, sizeof inner) == 1 &&
              EVP_DigestFinal_ex(x, out, &len) == 1 && len == 32;
    EVP_MD_CTX_free(x);
    OPENSSL_cleanse(buf, sizeof buf);
    OPENSSL_cleanse(inner, sizeof inner);
    return ok;
}

/* The first slot of mac's set. */
static int auth__set_of(const unsigned char mac[32])
{
    _Static_assert(AUTH_CACHE_SLOTS % AUTH_CACHE_WAYS == 0, "whole sets");
    unsigned v = (unsigned)mac[0] | (unsigned)mac[1] << 8 | (unsigned)mac[2] << 16;
    return (int)(v % (AUTH_CACHE_SLOTS / AUTH_CACHE_WAYS)) * AUTH_CACHE_WAYS;
}

/* The cache slot of mac, or -1. Caller holds c->lock. */
static int auth__slot_of(const struct auth *c, const unsigned char mac[32])
{
    int first = auth__set_of(mac);
    for (int i = first; i < first + AUTH_CACHE_WAYS; i++)
        if (c->slots[i].verified != 0 && CRYPTO_memcmp(c->slots[i].mac, mac, 32) == 0)
            return i;
    return -1;
}

/* Whether mac was verified within the cache's time (then *is_admin says
 * whether its user is an admin); *known whether it was presented within
 * AUTH_KNOWN_S. Marks it used. Caller holds c->lock. */
static bool auth__cached_locked(struct auth *c, const unsigned char mac[32], bool *is_admin, bool *known)
{
    time_t now = clock_seconds();
    int i = auth__slot_of(c, mac);
    *known = i >= 0 && now - c->slots[i].used < AUTH_KNOWN_S;
    if (i < 0)
        return false;
    c->slots[i].used = now;
    if (now - c->slots[i].verified >= c->cache_s)
        return false;
    *is_admin = c->slots[i].is_admin;
    return true;
}

static bool auth__cached(struct auth *c, const unsigned char mac[32], bool *is_admin, bool *known)
{
    pthread_mutex_lock(&c->lock);
    bool hit = auth__cached_locked(c, mac, is_admin, known);
    pthread_mutex_unlock(&c->lock);
    return hit;
}

/* The check slots as credentials mac find them (the first nslots are open
 * to them): the first free one (*free_slot) and the one checking the same
 * credentials (*same); -1 for none. Caller holds c->lock.
 * A free slot still holds the credentials of the check that ended there:
 * only a slot in use is a check to share (one waiting on a free slot
 * would take the verdict of whatever check used it next). */
static void auth__turns(const struct auth *c, const unsigned char mac[32], int nslots, int *free_slot, int *same)
{
    *free_slot = *same = -1;
    for (int i = 0; i < AUTH_MAX_HASHING + 1; i++) {
        if (!c->in_use[i]) {
            if (i < nslots && *free_slot < 0)
                *free_slot = i;
        } else if (CRYPTO_memcmp(c->checking[i], mac, 32) == 0) {
            *same = i;
        }
    }
}

typedef enum auth_turn {
    TURN_KNOWN,   /* remembered (checked meanwhile by another request) */
    TURN_REFUSED, /* checked meanwhile by another request, and wrong */
    TURN_UNAVAILABLE, /* checked meanwhile by another request, which could not reach the store */
    TURN_CHECK,   /* this request checks them: it holds a slot */
    TURN_BUSY     /* too many requests wait for checks already */
} auth_turn_t;

/* Waits for the turn to check the credentials mac, unless another request
 * checks the same ones: then takes its verdict. Known credentials may
 * take the slot kept for them and are not counted among the waiting. */
static auth_turn_t auth__begin(struct auth *c, const unsigned char mac[32], bool known, int *slot, bool *is_admin)
{
    int same = -1;
    unsigned same_gen = 0;
    bool counted = false, ignored;
    auth_turn_t turn;
    int nslots = known ? AUTH_MAX_HASHING + 1 : AUTH_MAX_HASHING;
    /* Bounded: a check that hangs (a database that stopped answering)
     * must not hold its waiters for ever. One deadline for the whole wait:
     * every check that ends anywhere wakes every waiter. */
    struct timespec until;
    clock_deadline(&until, AUTH_MAX_WAIT_S * 1000L);

    pthread_mutex_lock(&c->lock);
    for (;;) {
        if (auth__cached_locked(c, mac, is_admin, &ignored)) {
            turn = TURN_KNOWN;
            break;
        }
        /* The check waited for has ended: its verdict is ours (if the slot
         * has served another check since, we look again). */
        if (same >= 0 && c->gen[same] == same_gen + 1) {
            turn = c->verdict[same] == AUTH_OK        ? TURN_KNOWN
                   : c->verdict[same] == AUTH_DENIED ? TURN_REFUSED
                                                     : TURN_UNAVAILABLE;
            *is_admin = c->admin[same];
            break;
        }
        int free_slot;
        auth__turns(c, mac, nslots, &free_slot, &same);
        if (same >= 0)
            same_gen = c->gen[same];
        if (same < 0 && free_slot >= 0) {
            memcpy(c->checking[free_slot], mac, 32);
            c->in_use[free_slot] = true;
            *slot = free_slot;
            turn = TURN_CHECK;
            break;
        }
        /* Waiting for the same credentials costs one check for all; waiting
         * for a free slot is what a flood of new credentials would do, so
         * only that is capped. */
        if (same < 0 && !counted && !known) {
            if (c->waiting >= AUTH_MAX_WAITING) {
                turn = TURN_BUSY;
                break;
            }
            c->waiting++;
            counted = true;
        }
        thread_wait_begin();
        int waited = pthread_cond_timedwait(&c->checked, &c->lock, &until);
        thread_wait_end();
        if (waited == ETIMEDOUT) {
            turn = TURN_UNAVAILABLE;
            break;
        }
    }
    if (counted)
        c->waiting--;
    pthread_mutex_unlock(&c->lock);
    return turn;
}

/* Ends the check of slot; remembers the credentials when they were right,
 * and gives the verdict to the requests waiting for it. */
static void auth__end(struct auth *c, int slot, auth_verdict_t v, bool is_admin)
{
    time_t now = clock_seconds();
    pthread_mutex_lock(&c->lock);
    int had = auth__slot_of(c, c->checking[slot]);
    if (v == AUTH_OK) {
        /* Its own slot, or the least recently used one of its set (a
         * free one has used 0). */
        int victim = had;
        if (victim < 0) {
            int first = auth__set_of(c->checking[slot]);
            victim = first;
            for (int i = first + 1; i < first + AUTH_CACHE_WAYS; i++)
                if (c->slots[i].used < c->slots[victim].used)
                    victim = i;
        }
        memcpy(c->slots[victim].mac, c->checking[slot], 32);
        /* Trusted for cache_s less up to a quarter, by the MAC (random to
         * anyone without the key): users whose passwords were checked
         * together, at start or after an outage, are not all checked
         * again together, each holding a worker for the length of a hash. */
        unsigned spread = (unsigned)c->checking[slot][3] | (unsigned)c->checking[slot][4] << 8;
        c->slots[victim].verified = now - (time_t)(spread % (unsigned)(c->cache_s / 4 + 1));
        c->slots[victim].used = now;
        c->slots[victim].is_admin = is_admin;
    } else if (v == AUTH_DENIED && had >= 0) {
        /* Changed or removed since: forget it at once. */
        memset(&c->slots[had], 0, sizeof c->slots[had]);
    }
    c->verdict[slot] = v;
    c->admin[slot] = is_admin;
    c->gen[slot]++;
    c->in_use[slot] = false;
    pthread_cond_broadcast(&c->checked);
    void (*on_turn)(void *, int) = c->on_turn;
    void *arg = c->on_turn_arg;
    pthread_mutex_unlock(&c->lock);
    if (on_turn != NULL)
        on_turn(arg, AUTH_RETRY_PER_TURN);
}

bool auth_basic_parse(const char *value, size_t n, char login[AUTH_MAX_LOGIN + 1],
                      char password[AUTH_MAX_FIELD + 1])
{
    unsigned char decoded[AUTH_MAX_BASIC + 3];
    size_t len = 0;
    bool ok = false;

    if (n < 6 || strncasecmp(value, "Basic", 5) != 0 || (value[5] != ' ' && value[5] != '\t'))
        return false;
    size_t i = 5;
    while (i < n && (value[i] == ' ' || value[i] == '\t'))
        i++;
    /* Longer credentials fail anyway; drop them before anything of them is
     * used. */
    if (n - i > B64_ENCODED_LEN(AUTH_MAX_BASIC))
        return false;
    if (b64_decode(value + i, n - i, decoded, sizeof decoded, &len) != ENT_OK || len > AUTH_MAX_BASIC)
        goto out;
    /* "admin:pw\0x" would be admin with "pw" to a C string: none. */
    if (memchr(decoded, '\0', len) != NULL)
        goto out;
    const unsigned char *colon = memchr(decoded, ':', len);
    if (colon == NULL)
        goto out;
    size_t ll = (size_t)(colon - decoded), pl = len - ll - 1;
    if (ll > AUTH_MAX_LOGIN || pl > AUTH_MAX_FIELD)
        goto out;
    memcpy(login, decoded, ll);
    login[ll] = '\0';
    memcpy(password, colon + 1, pl);
    password[pl] = '\0';
    ok = true;
out:
    OPENSSL_cleanse(decoded, sizeof decoded);
    return ok;
}

bool auth_flexnet_password(const char *b64, char password[AUTH_MAX_FIELD + 1])
{
    unsigned char decoded[AUTH_MAX_FIELD + 3];
    char text[B64_ENCODED_LEN(AUTH_MAX_FIELD)];
    size_t n = 0, len = 0;
    bool ok = false;

    for (const char *p = b64; *p != '\0'; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            continue;
        if (n == sizeof text)
            goto out;
        text[n++] = *p;
    }
    if (b64_decode(text, n, decoded, sizeof decoded, &len) == ENT_OK && len <= AUTH_MAX_FIELD &&
        memchr(decoded, '\0', len) == NULL) {
        memcpy(password, decoded, len);
        password[len] = '\0';
        ok = true;
    }
out:
    OPENSSL_cleanse(text, sizeof text);
    OPENSSL_cleanse(decoded, sizeof decoded);
    return ok;
}

bool auth_bearer(const char *value, size_t n, const char **token, size_t *len)
{
    if (n < 7 || strncasecmp(value, "Bearer", 6) != 0 || (value[6] != ' ' && value[6] != '\t'))
        return false;
    size_t i = 6;
    while (i < n && (value[i] == ' ' || value[i] == '\t'))
        i++;
    if (i == n)
        return false;
    /* RFC 6750's b64token: what JWTs and our API tokens are made of. */
    for (size_t k = i; k < n; k++) {
        char c = value[k];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("-._~+/=", c) != NULL) || c == '\0')
            return false;
    }
    *token = value + i;
    *len = n - i;
    return true;
}

/* The key a refusal is remembered by: the credentials' MAC and the hash
 * they failed against ("" for a user that does not exist), so that once
 * the user is added or given that password, it is checked again. */
static bool auth__refusal_key(const unsigned char mac[32], const char *hash, unsigned char out[32])
{
    unsigned int len = 0;
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    bool ok = x != NULL && EVP_DigestInit_ex2(x, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(x, mac, 32) == 1 &&
              EVP_DigestUpdate(x, hash, strlen(hash)) == 1 && EVP_DigestFinal_ex(x, out, &len) == 1 && len == 32;
    EVP_MD_CTX_free(x);
    return ok;
}

/* Whether key was refused within AUTH_REFUSED_S; with remember, a key not
 * seen takes the oldest slot. */
static bool auth__refused(struct auth *a, const unsigned char key[32], bool remember)
{
    time_t now = clock_seconds();
    bool seen = false;
    pthread_mutex_lock(&a->lock);
    for (int i = 0; i < AUTH_REFUSED_SLOTS && !seen; i++)
        seen = a->refused[i].at != 0 && now - a->refused[i].at < AUTH_REFUSED_S &&
               CRYPTO_memcmp(a->refused[i].key, key, 32) == 0;
    if (remember && !seen) {
        auth_refusal_t *r = &a->refused[a->refused_next++ % AUTH_REFUSED_SLOTS];
        memcpy(r->key, key, 32);
        r->at = now;
    }
    pthread_mutex_unlock(&a->lock);
    return seen;
}

/* Looks the user up and checks the password (whose MAC is mac) against its
 * hash. Credentials refused lately against the same hash are refused again
 * without hashing, with *repeat set: a client retrying a wrong password is
 * not guessing, and is not counted as if it were. */
static auth_verdict_t auth__check(struct auth *a, const unsigned char mac[32], const char *user, const char *domain,
                                  const char *password, bool *is_admin, bool *repeat, const char **why)
{
    char hash[PASSWORD_HASH_MAX];
    unsigned char key[32];
    db_conn_t *c = NULL;
    int rc;

    *repeat = false;
    /* A name that is not UTF-8 names no user; the database would refuse
     * its bytes, and that refusal would read as a bad stored hash. */
    bool text = utf8_valid(user, strlen(user)) && utf8_valid(domain, strlen(domain));
    if (!text) {
        rc = ENT_ENOTFOUND;
    } else if (db_pool_acquire(a->pool, &c) != ENT_OK) {
        *why = "the user store cannot be reached";
        return AUTH_UNAVAILABLE;
    } else {
        rc = store_user_hash(c, user, domain, hash, sizeof hash, is_admin);
        if (rc == ENT_EDBDOWN && db_conn_reset(c) == ENT_OK) /* a read: safe to repeat */
            rc = store_user_hash(c, user, domain, hash, sizeof hash, is_admin);
        if (rc == ENT_EDBDOWN)
            db_conn_discard(c);
        db_pool_release(a->pool, c);
    }
    if (rc != ENT_OK && rc != ENT_ENOTFOUND && rc != ENT_EINVAL) {
        /* Down, or a statement cancelled or timed out: not checked, so
         * neither a refusal to remember nor a failure to count (and the
         * user's trusted credentials are not forgotten). */
        *why = "the user store cannot be reached";
        return AUTH_UNAVAILABLE;
    }
    bool keyed = auth__refusal_key(mac, rc == ENT_OK ? hash : "", key);
    if (keyed && auth__refused(a, key, false)) {
        *repeat = true;
        *why = rc == ENT_OK ? "wrong password (as in a failed login of the last minute)"
                            : "unknown user (as in a failed login of the last minute)";
        return AUTH_DENIED;
    }
    if (rc != ENT_OK) {
        /* Verify against a dummy hash anyway: the answer takes as long for
         * an unknown user as for a wrong password. */
        (void)password_check(password, "$y$j9T$abcdefghijklmnopqrstu.$AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ABCDEFG");
        *why = rc == ENT_EINVAL ? "the user's stored password hash is not valid"
               : text           ? "unknown user"
                                : "unknown user (the name is not UTF-8)";
    } else if ((rc = password_check(password, hash)) == ENT_OK) {
        return AUTH_OK;
    } else if (rc == ENT_ENOMEM) {
        /* Not checked: neither remembered as wrong nor counted. */
        *why = "the password could not be checked (out of memory)";
        return AUTH_UNAVAILABLE;
    } else {
        *why = "wrong password";
    }
    if (keyed)
        (void)auth__refused(a, key, true);
    return AUTH_DENIED;
}

/* Splits login ("user" or "user##domain") into user and domain; false
 * (with why) when the credentials are missing or too long. */
static bool auth__split(const char *login, const char *password, char user[AUTH_MAX_FIELD + 1],
                        char domain[AUTH_MAX_FIELD + 1], const char **why)
{
    if (login == NULL || password == NULL || login[0] == '\0') {
        *why = "no credentials";
        return false;
    }
    if (strlen(login) > AUTH_MAX_LOGIN || strlen(password) > AUTH_MAX_FIELD) {
        *why = "credentials too long";
        return false;
    }
    const char *sep = strstr(login, "##");
    size_t ul = sep ? (size_t)(sep - login) : strlen(login);
    if (ul > AUTH_MAX_FIELD || (sep && strlen(sep + 2) > AUTH_MAX_FIELD)) {
        *why = "credentials too long";
        return false;
    }
    memcpy(user, login, ul);
    user[ul] = '\0';
    /* Domains ignore the case of ASCII letters (as the users table's
     * unique index does): one spelling for the MAC and for the throttle,
     * or each of a domain's 2^letters spellings would get its own count of
     * failed logins. */
    snprintf(domain, AUTH_MAX_FIELD + 1, "%s", sep ? sep + 2 : AUTH_DEFAULT_DOMAIN);
    for (char *d = domain; *d != '\0'; d++)
        if (*d >= 'A' && *d <= 'Z')
            *d = (char)(*d - 'A' + 'a');
    return true;
}

bool auth_throttled(auth_t *a, const char *login, const char *password, const unsigned char *peer,
                    int *retry_after_s)
{
    char user[AUTH_MAX_FIELD + 1], domain[AUTH_MAX_FIELD + 1], who[2 * AUTH_MAX_FIELD + 3];
    unsigned char mac[32];
    const char *why;
    bool is_admin, known = false;

    *retry_after_s = 0;
    if (!auth__split(login, password, user, domain, &why))
        return false; /* auth_password gives the answer */
    /* The throttle first: nearly every request is not throttled, and then
     * the credentials need no MAC here (auth_password makes it). */
    snprintf(who, sizeof who, "%s##%s", user, domain);
    int wait_s = throttle_wait(&a->throttle, peer, who, clock_seconds());
    if (wait_s == 0 || !auth__mac(a, user, domain, password, mac))
        return false;
    pthread_mutex_lock(&a->lock);
    (void)auth__cached_locked(a, mac, &is_admin, &known);
    pthread_mutex_unlock(&a->lock);
    OPENSSL_cleanse(mac, sizeof mac);
    if (known)
        return false;
    metrics_login("throttled", "refused");
    *retry_after_s = wait_s;
    return true;
}

bool auth_would_wait(auth_t *a, const char *login, const char *password)
{
    char user[AUTH_MAX_FIELD + 1], domain[AUTH_MAX_FIELD + 1];
    unsigned char mac[32];
    const char *why;
    bool is_admin, known = false, wait = false;

    if (!auth__split(login, password, user, domain, &why) || !auth__mac(a, user, domain, password, mac))
        return false;
    pthread_mutex_lock(&a->lock);
    if (!auth__cached_locked(a, mac, &is_admin, &known) && !known && a->waiting >= AUTH_MAX_WAITING) {
        /* As auth__begin would find: no free turn, and no check of the
         * same credentials to share. */
        int free_slot, same;
        auth__turns(a, mac, AUTH_MAX_HASHING, &free_slot, &same);
        wait = free_slot < 0 && same < 0;
    }
    pthread_mutex_unlock(&a->lock);
    OPENSSL_cleanse(mac, sizeof mac);
    return wait;
}

auth_verdict_t auth_password(auth_t *a, const char *login, const char *password, const unsigned char *peer,
                             auth_user_t *out, const char **why, int *retry_after_s)
{
    char user[AUTH_MAX_FIELD + 1], domain[AUTH_MAX_FIELD + 1];
    unsigned char mac[32];
    bool is_admin = false, known = false;

    *why = "";
    *retry_after_s = 0;
    if (!auth__split(login, password, user, domain, why))
        return AUTH_DENIED;
    snprintf(out->login, sizeof out->login, "%s", login);
    out->is_admin = false;

    if (!auth__mac(a, user, domain, password, mac)) {
        *why = "out of memory";
        return AUTH_UNAVAILABLE;
    }
    if (auth__cached(a, mac, &is_admin, &known)) {
        out->is_admin = is_admin;
        return AUTH_OK;
    }
    /* Guesses from an address or at a user over the limit cost nothing
     * more; a credential known to be right is still checked. */
    char who[2 * AUTH_MAX_FIELD + 3]; /* the user name the throttle counts: user##domain */
    snprintf(who, sizeof who, "%s##%s", user, domain);
    if (!known && (*retry_after_s = throttle_wait(&a->throttle, peer, who, clock_seconds())) > 0) {
        *why = "too many failed logins from this address or for this user";
        metrics_login("throttled", "refused");
        return AUTH_THROTTLED;
    }
    int slot = -1;
    switch (auth__begin(a, mac, known, &slot, &is_admin)) {
    case TURN_KNOWN:
        out->is_admin = is_admin;
        metrics_login("shared", "ok");
        return AUTH_OK;
    case TURN_REFUSED:
        /* The check it waited for counted the guess (or found it a repeat). */
        *why = "wrong credentials (checked by a concurrent request)";
        metrics_login("shared", "refused");
        return AUTH_DENIED;
    case TURN_UNAVAILABLE:
        *why = "the user store cannot be reached";
        metrics_login("unavailable", "refused");
        return AUTH_UNAVAILABLE;
    case TURN_BUSY:
        *why = "too many credential checks waiting";
        metrics_login("busy", "deferred");
        return AUTH_BUSY;
    case TURN_CHECK:
        break;
    }
    /* The lookup and milliseconds of hashing: a wait as the thread's other
     * work is concerned (core/thread.h). */
    bool repeat = false;
    thread_wait_begin();
    auth_verdict_t v = auth__check(a, mac, user, domain, password, &is_admin, &repeat, why);
    thread_wait_end();
    auth__end(a, slot, v, is_admin);
    if (v == AUTH_DENIED && !repeat)
        throttle_failed(&a->throttle, peer, who, clock_seconds());
    metrics_login(v == AUTH_UNAVAILABLE ? "unavailable" : repeat ? "repeat" : "hashed",
                  v == AUTH_OK ? "ok" : "refused");
    out->is_admin = is_admin && v == AUTH_OK;
    return v;
}
