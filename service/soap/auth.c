/*
 * Authentication of SOAP requests: HTTP Basic (user or user##domain) or the
 * FlexNet header elements UserId and UserPassword (base64), checked against
 * the salted hashes in the users table.
 *
 * yescrypt costs milliseconds by design, which is too much for every
 * request of a busy client; a successful check is remembered for
 * AUTH_CACHE_TTL seconds as an HMAC of the credentials under a key made
 * at start-up, so nothing reversible is kept.
 *
 * A yescrypt check also takes 16 MiB for its moment. When a remembered
 * credential expires, every worker busy with that client would hash it at
 * once (8 × 16 MiB, and the cores for nothing); so requests with the same
 * credentials wait for the one check in progress, and at most
 * AUTH_MAX_HASHING checks run at a time.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../core/log.h"
#include "../core/password.h"
#include "../db/store.h"
#include "soap_int.h"

#define AUTH_CACHE_SLOTS 64
#define AUTH_CACHE_TTL 60
/* yescrypt checks at once: the cores there are, on the machines we aim at. */
#define AUTH_MAX_HASHING 2
/* Requests that may wait for a check at once; more are answered 503 at
 * once, so that a flood of new or wrong credentials cannot take every
 * worker from clients whose credentials are remembered. */
#define AUTH_MAX_WAITING 4
#define AUTH_DEFAULT_DOMAIN "FLEXnet"
/* Longest user name or password we look at; longer ones simply fail. */
#define AUTH_MAX_FIELD 255
/* Longest decoded HTTP Basic credentials ("login:password") we look at. */
#define AUTH_MAX_BASIC (2 * AUTH_MAX_FIELD + 1)

typedef struct auth_slot {
    unsigned char mac[32];
    time_t expires;
} auth_slot_t;

struct auth_cache {
    pthread_mutex_t lock;
    pthread_cond_t checked;                          /* a check in progress has ended */
    unsigned char key[32];
    auth_slot_t slots[AUTH_CACHE_SLOTS];
    unsigned char checking[AUTH_MAX_HASHING][32];    /* credentials being checked */
    bool in_use[AUTH_MAX_HASHING];
    unsigned gen[AUTH_MAX_HASHING];                  /* checks ended in each slot */
    bool verdict[AUTH_MAX_HASHING];                  /* of the last check ended there */
    int waiting;
};

struct auth_cache *auth_cache_new(void)
{
    struct auth_cache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    if (RAND_bytes(c->key, sizeof c->key) != 1) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->checked, NULL);
    return c;
}

void auth_cache_free(struct auth_cache *c)
{
    if (c == NULL)
        return;
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->checked);
    OPENSSL_cleanse(c, sizeof *c);
    free(c);
}

static void auth__mac(const struct auth_cache *c, const char *user, const char *domain,
                      const char *password, unsigned char out[32])
{
    unsigned int len = 32;
    /* Fields separated by NUL bytes so that no two triples collide. */
    size_t lu = strlen(user), ld = strlen(domain), lp = strlen(password);
    unsigned char buf[3 * (AUTH_MAX_FIELD + 1)];
    memcpy(buf, user, lu + 1);
    memcpy(buf + lu + 1, domain, ld + 1);
    memcpy(buf + lu + ld + 2, password, lp + 1);
    HMAC(EVP_sha256(), c->key, sizeof c->key, buf, lu + ld + lp + 3, out, &len);
    OPENSSL_cleanse(buf, sizeof buf);
}

/* Whether mac is remembered; caller holds c->lock. */
static bool auth__cached_locked(const struct auth_cache *c, const unsigned char mac[32])
{
    time_t now = time(NULL);
    for (int i = 0; i < AUTH_CACHE_SLOTS; i++)
        if (c->slots[i].expires > now && CRYPTO_memcmp(c->slots[i].mac, mac, 32) == 0)
            return true;
    return false;
}

static bool auth__cached(struct auth_cache *c, const unsigned char mac[32])
{
    pthread_mutex_lock(&c->lock);
    bool hit = auth__cached_locked(c, mac);
    pthread_mutex_unlock(&c->lock);
    return hit;
}

typedef enum auth_turn {
    AUTH_KNOWN,   /* remembered (checked meanwhile by another request) */
    AUTH_REFUSED, /* checked meanwhile by another request, and wrong */
    AUTH_CHECK,   /* this request checks them: it holds a slot */
    AUTH_BUSY     /* too many requests wait for checks already */
} auth_turn_t;

/* Waits for the turn to check the credentials mac, unless another request
 * checks the same ones: then takes its verdict. */
static auth_turn_t auth__begin(struct auth_cache *c, const unsigned char mac[32], int *slot)
{
    int same = -1;
    unsigned same_gen = 0;
    bool counted = false;
    auth_turn_t turn;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        if (auth__cached_locked(c, mac)) {
            turn = AUTH_KNOWN;
            break;
        }
        /* The check waited for has ended: its verdict is ours (if the slot
         * has served another check since, we look again). */
        if (same >= 0 && c->gen[same] == same_gen + 1) {
            turn = c->verdict[same] ? AUTH_KNOWN : AUTH_REFUSED;
            break;
        }
        int free_slot = -1;
        same = -1;
        for (int i = 0; i < AUTH_MAX_HASHING; i++) {
            if (!c->in_use[i])
                free_slot = free_slot < 0 ? i : free_slot;
            else if (CRYPTO_memcmp(c->checking[i], mac, 32) == 0) {
                same = i;
                same_gen = c->gen[i];
            }
        }
        if (same < 0 && free_slot >= 0) {
            memcpy(c->checking[free_slot], mac, 32);
            c->in_use[free_slot] = true;
            *slot = free_slot;
            turn = AUTH_CHECK;
            break;
        }
        /* Waiting for the same credentials costs one check for all; waiting
         * for a free slot is what a flood of new credentials would do, so
         * only that is capped. */
        if (same < 0 && !counted) {
            if (c->waiting >= AUTH_MAX_WAITING) {
                turn = AUTH_BUSY;
                break;
            }
            c->waiting++;
            counted = true;
        }
        pthread_cond_wait(&c->checked, &c->lock);
    }
    if (counted)
        c->waiting--;
    pthread_mutex_unlock(&c->lock);
    return turn;
}

/* Ends the check of slot; remembers the credentials when they were right,
 * and gives the verdict to the requests waiting for it. */
static void auth__end(struct auth_cache *c, int slot, bool ok)
{
    time_t now = time(NULL);
    pthread_mutex_lock(&c->lock);
    if (ok) {
        int victim = 0;
        for (int i = 0; i < AUTH_CACHE_SLOTS; i++)
            if (c->slots[i].expires < c->slots[victim].expires)
                victim = i;
        memcpy(c->slots[victim].mac, c->checking[slot], 32);
        c->slots[victim].expires = now + AUTH_CACHE_TTL;
    }
    c->verdict[slot] = ok;
    c->gen[slot]++;
    c->in_use[slot] = false;
    pthread_cond_broadcast(&c->checked);
    pthread_mutex_unlock(&c->lock);
}

static int auth__fail(struct soap *soap, const char *why)
{
    log_info("authentication failed: %s", why);
    soap->authrealm = "entitlementd";
    soap_sender_fault(soap, "authentication failed: user name or password missing or wrong", NULL);
    return 401;
}

void auth_http_authorization(struct soap *soap, const char *value)
{
    char decoded[AUTH_MAX_BASIC + 1];
    int n = 0, error = soap->error;
    const char *b64 = value;

    if (b64 == NULL || strncasecmp(b64, "Basic", 5) != 0 || (b64[5] != ' ' && b64[5] != '\t'))
        return;
    for (b64 += 5; *b64 == ' ' || *b64 == '\t'; b64++)
        ;
    /* Longer credentials fail anyway; drop them here, before anything of
     * them is used. */
    if (strlen(b64) > 4 * ((AUTH_MAX_BASIC + 2) / 3)) {
        log_info("HTTP Basic credentials longer than %d bytes: ignored", AUTH_MAX_BASIC);
        soap->userid = NULL;
        soap->passwd = NULL;
        return;
    }
    if (soap_base642s(soap, b64, decoded, sizeof decoded, &n) != NULL && n >= 0 &&
        (size_t)n <= sizeof decoded && memchr(decoded, '\0', (size_t)n) != NULL) {
        log_info("HTTP Basic credentials contain a NUL byte: ignored");
        soap->userid = NULL;
        soap->passwd = NULL;
    }
    OPENSSL_cleanse(decoded, sizeof decoded);
    soap->error = error; /* bad base64 is gSOAP's to judge, as before */
}

/* Looks the user up and checks the password against its hash. Returns
 * SOAP_OK, 1 (unknown user), 2 (wrong password) or 503 (no database). */
static int auth__check(soap_worker_t *w, const char *user, const char *domain, const char *password)
{
    char hash[PASSWORD_HASH_MAX];
    bool is_admin = false;
    db_conn_t *c = NULL;
    int rc;

    if ((rc = db_pool_acquire(w->pool, &c)) != ENT_OK)
        return 503;
    rc = store_user_hash(c, user, domain, hash, sizeof hash, &is_admin);
    if (rc == ENT_EDBDOWN && db_conn_reset(c) == ENT_OK) /* a read: safe to repeat */
        rc = store_user_hash(c, user, domain, hash, sizeof hash, &is_admin);
    if (rc == ENT_EDBDOWN)
        db_conn_discard(c);
    db_pool_release(w->pool, c);
    if (rc == ENT_EDBDOWN)
        return 503;
    if (rc != ENT_OK) {
        /* Verify against a dummy hash anyway: the answer takes as long for
         * an unknown user as for a wrong password. */
        (void)password_verify(password, "$y$j9T$abcdefghijklmnopqrstu.$AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ABCDEFG");
        return 1;
    }
    return password_verify(password, hash) ? SOAP_OK : 2;
}

int auth_require(struct soap *soap)
{
    soap_worker_t *w = soap_worker(soap);
    const char *login = soap->userid, *password = soap->passwd;
    char user[AUTH_MAX_FIELD + 1], domain[AUTH_MAX_FIELD + 1], decoded[AUTH_MAX_FIELD + 1];
    unsigned char mac[32];
    int rc;

    if ((login == NULL || password == NULL) && soap->header != NULL &&
        soap->header->flex__UserId != NULL && soap->header->flex__UserPassword != NULL) {
        int n = 0;
        const char *pw = soap->header->flex__UserPassword;
        if (strlen(pw) > 4 * (AUTH_MAX_FIELD / 3 + 1))
            return auth__fail(soap, "header password too long");
        if (soap_base642s(soap, pw, decoded, sizeof decoded - 1, &n) == NULL || n < 0 ||
            (size_t)n >= sizeof decoded)
            return auth__fail(soap, "UserPassword is not base64");
        decoded[n] = '\0';
        if (strlen(decoded) != (size_t)n)
            return auth__fail(soap, "UserPassword contains a NUL byte");
        login = soap->header->flex__UserId;
        password = decoded;
    }
    if (login == NULL || password == NULL || login[0] == '\0')
        return auth__fail(soap, "no credentials");
    if (strlen(login) > AUTH_MAX_FIELD || strlen(password) > AUTH_MAX_FIELD)
        return auth__fail(soap, "credentials too long");

    const char *sep = strstr(login, "##");
    if (sep != NULL) {
        snprintf(user, sizeof user, "%.*s", (int)(sep - login), login);
        snprintf(domain, sizeof domain, "%s", sep + 2);
    } else {
        snprintf(user, sizeof user, "%s", login);
        snprintf(domain, sizeof domain, "%s", AUTH_DEFAULT_DOMAIN);
    }
    snprintf(w->user, sizeof w->user, "%s", login);

    auth__mac(w->auth, user, domain, password, mac);
    if (auth__cached(w->auth, mac))
        return SOAP_OK;
    int slot = -1;
    switch (auth__begin(w->auth, mac, &slot)) {
    case AUTH_KNOWN:
        return SOAP_OK;
    case AUTH_REFUSED:
        return auth__fail(soap, "wrong credentials (checked by a concurrent request)");
    case AUTH_BUSY:
        log_warn("authentication deferred: too many credential checks waiting");
        return soap_unavailable_fault(soap, "too many logins are being checked at once; try again");
    case AUTH_CHECK:
        break;
    }
    rc = auth__check(w, user, domain, password);
    auth__end(w->auth, slot, rc == SOAP_OK);
    if (rc == 503)
        return soap_unavailable_fault(soap, "DATABASE_UNAVAILABLE: the user store cannot be reached");
    if (rc != SOAP_OK)
        return auth__fail(soap, rc == 1 ? "unknown user" : "wrong password");
    return SOAP_OK;
}
