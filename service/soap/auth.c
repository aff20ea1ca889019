/*
 * Authentication of SOAP requests: HTTP Basic (user or user##domain) or the
 * FlexNet header elements UserId and UserPassword (base64), checked against
 * the salted hashes in the users table.
 *
 * yescrypt costs milliseconds by design, which is too much for every
 * request of a busy client; a successful check is remembered for
 * AUTH_CACHE_TTL seconds as an HMAC of the credentials under a key made
 * at start-up, so nothing reversible is kept.
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
    unsigned char key[32];
    auth_slot_t slots[AUTH_CACHE_SLOTS];
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
    return c;
}

void auth_cache_free(struct auth_cache *c)
{
    if (c == NULL)
        return;
    OPENSSL_cleanse(c, sizeof *c);
    pthread_mutex_destroy(&c->lock);
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

static bool auth__cached(struct auth_cache *c, const unsigned char mac[32])
{
    bool hit = false;
    time_t now = time(NULL);
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < AUTH_CACHE_SLOTS && !hit; i++)
        hit = c->slots[i].expires > now && CRYPTO_memcmp(c->slots[i].mac, mac, 32) == 0;
    pthread_mutex_unlock(&c->lock);
    return hit;
}

static void auth__remember(struct auth_cache *c, const unsigned char mac[32])
{
    time_t now = time(NULL);
    int victim = 0;
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < AUTH_CACHE_SLOTS; i++)
        if (c->slots[i].expires < c->slots[victim].expires)
            victim = i;
    memcpy(c->slots[victim].mac, mac, 32);
    c->slots[victim].expires = now + AUTH_CACHE_TTL;
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
    /* Longer credentials fail anyway ("credentials too long"). */
    if (strlen(b64) > 4 * ((AUTH_MAX_BASIC + 2) / 3))
        return;
    if (soap_base642s(soap, b64, decoded, sizeof decoded, &n) != NULL && n >= 0 &&
        (size_t)n <= sizeof decoded && memchr(decoded, '\0', (size_t)n) != NULL) {
        log_info("HTTP Basic credentials contain a NUL byte: ignored");
        soap->userid = NULL;
        soap->passwd = NULL;
    }
    OPENSSL_cleanse(decoded, sizeof decoded);
    soap->error = error; /* bad base64 is gSOAP's to judge, as before */
}

int auth_require(struct soap *soap)
{
    soap_worker_t *w = soap_worker(soap);
    const char *login = soap->userid, *password = soap->passwd;
    char user[AUTH_MAX_FIELD + 1], domain[AUTH_MAX_FIELD + 1], decoded[AUTH_MAX_FIELD + 1];
    char hash[PASSWORD_HASH_MAX];
    unsigned char mac[32];
    bool is_admin = false;
    db_conn_t *c = NULL;
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

    if ((rc = db_pool_acquire(w->pool, &c)) != ENT_OK)
        return soap_unavailable_fault(soap, "DATABASE_UNAVAILABLE: the user store cannot be reached");
    rc = store_user_hash(c, user, domain, hash, sizeof hash, &is_admin);
    if (rc == ENT_EDBDOWN && db_conn_reset(c) == ENT_OK) /* a read: safe to repeat */
        rc = store_user_hash(c, user, domain, hash, sizeof hash, &is_admin);
    if (rc == ENT_EDBDOWN) {
        db_conn_discard(c);
        db_pool_release(w->pool, c);
        return soap_unavailable_fault(soap, "DATABASE_UNAVAILABLE: the user store cannot be reached");
    }
    db_pool_release(w->pool, c);
    if (rc != ENT_OK) {
        /* Verify against a dummy hash anyway: the answer takes as long for
         * an unknown user as for a wrong password. */
        (void)password_verify(password, "$y$j9T$abcdefghijklmnopqrstu.$AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ABCDEFG");
        return auth__fail(soap, "unknown user");
    }
    if (!password_verify(password, hash))
        return auth__fail(soap, "wrong password");
    auth__remember(w->auth, mac);
    return SOAP_OK;
}
