/*
 * auth.h - who is calling, for every front: passwords (HTTP Basic and the
 * FlexNet SOAP headers), API tokens (Bearer, for integrations and device
 * reporters) and the publishers' JWT keys (jwt.h verifies the tokens).
 *
 * Each check returns a verdict; the front turns it into its own answer (a
 * SOAP fault, an HTTP status). Nothing here logs a password, a token or
 * key material.
 */
#ifndef ENT_AUTH_H
#define ENT_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"
#include "../db/auth_store.h"
#include "../db/pool.h"

/* Longest user name or password we look at; longer ones simply fail. */
#define AUTH_MAX_FIELD 255
/* A login as given: "name" or "name##domain". */
#define AUTH_MAX_LOGIN (2 * AUTH_MAX_FIELD + 2)

typedef enum auth_verdict {
    AUTH_OK,          /* the caller is who it says */
    AUTH_DENIED,      /* credentials missing, malformed, unknown or wrong: 401 */
    AUTH_BUSY,        /* too many checks already waiting: put the request back to wait for a turn
                       * (auth_on_turn; AUTH_PARK_MAX_S at most), else 503 */
    AUTH_THROTTLED,   /* too many failed logins from this address or for this user: 429 */
    AUTH_UNAVAILABLE  /* the store cannot be reached: 503 */
} auth_verdict_t;

typedef struct auth auth_t;

typedef struct auth_options {
    int cache_s;              /* a verified credential is trusted this long */
    int failures_per_address; /* failed logins a minute from one address (throttle.h) */
    int failures_per_user;    /* and at one user name */
} auth_options_t;

/* A request refused AUTH_BUSY waits for a turn this long at most (put back
 * by its transport, holding no thread); then it is answered 503. */
#define AUTH_PARK_MAX_S 10

/* Makes the authenticator over pool (borrowed; must outlive it): a cache
 * of verified credentials under a key made now. */
int auth_new(db_pool_t *pool, const auth_options_t *opt, auth_t **out) ENT_MUSTCHECK;
void auth_free(auth_t *a);

/* Calls fn(arg, n) each time a credential check ends: n requests put back
 * after AUTH_BUSY may now find a turn. Any thread; fn must not call back
 * into the authenticator. */
void auth_on_turn(auth_t *a, void (*fn)(void *arg, int n), void *arg);

typedef struct auth_user {
    char login[AUTH_MAX_LOGIN + 1]; /* as given, for the audit trail */
    bool is_admin;
} auth_user_t;

/* Checks login ("name" or "name##domain", default domain FLEXnet) and
 * password against the users table, for a client at peer (16 bytes, see
 * http.h; NULL for none). Fills *out on AUTH_OK; *why gets a static text
 * for the log on anything else, and *retry_after_s the seconds to wait
 * with AUTH_THROTTLED.
 *
 * A verified credential is trusted for cache_s seconds; after
 * that it is checked again on its next use, ahead of strangers' checks
 * (a hashing slot of its own, no waiting cap) as long as it was used in
 * the last hour. Failed logins are counted by address and by user name
 * (throttle.h): over the limit, a credential not remembered is refused
 * with AUTH_THROTTLED before any hashing. Credentials refused within the
 * last minute against the same stored hash are refused again without
 * hashing and are not counted again. */
auth_verdict_t auth_password(auth_t *a, const char *login, const char *password, const unsigned char *peer,
                             auth_user_t *out, const char **why, int *retry_after_s);

/* Whether auth_password would answer AUTH_THROTTLED for these credentials
 * from peer (then *retry_after_s says when to try again), decided without
 * hashing or the database: for a transport to refuse a flood of guesses
 * before it parses their bodies. */
bool auth_throttled(auth_t *a, const char *login, const char *password, const unsigned char *peer,
                    int *retry_after_s);

/* Whether auth_password would now answer AUTH_BUSY for these credentials
 * (not remembered, no turn free, enough requests waiting for one): for a
 * transport to put a request back again before it parses its body. */
bool auth_would_wait(auth_t *a, const char *login, const char *password);

/* Parses an Authorization header value "Basic <base64 of login:password>"
 * (n bytes) into login and password (NUL-terminated; AUTH_MAX_FIELD bytes
 * of each at most). False when it is not Basic, not base64, too long or
 * holds a NUL byte: the request then has no Basic credentials. */
bool auth_basic_parse(const char *value, size_t n, char login[AUTH_MAX_LOGIN + 1],
                      char password[AUTH_MAX_FIELD + 1]);

/* Decodes the FlexNet UserPassword header element (base64) into password.
 * XML white space anywhere in it is skipped: MIME encoders (Perl's
 * encode_base64, Python's encodebytes, Java's old BASE64Encoder) end the
 * text with a line break and break it every 76 characters. False when it
 * is not base64, too long or holds a NUL byte. */
bool auth_flexnet_password(const char *b64, char password[AUTH_MAX_FIELD + 1]);

/* API tokens: "etd_" and 43 base64url characters (256 random bits). */
#define AUTH_TOKEN_PREFIX "etd_"
#define AUTH_TOKEN_LEN 47

/* Makes a new API token into token (NUL-terminated) and its SHA-256 (what
 * is stored) into hash. */
int auth_token_make(char token[AUTH_TOKEN_LEN + 1], unsigned char hash[32]) ENT_MUSTCHECK;

/* Checks an API token (n bytes): AUTH_OK with *out (who it speaks for),
 * AUTH_DENIED (unknown, revoked, malformed) or AUTH_UNAVAILABLE. A token
 * seen lately is remembered for a few seconds; statements that act for it
 * check again that it is not revoked. */
auth_verdict_t auth_token(auth_t *a, const char *token, size_t n, store_token_t *out, const char **why);

/* A JWT checked against a publisher's key: which key, whose. */
typedef struct auth_jwt {
    long long key_id;
    char publisher[STORE_MAX_NAME + 1];
} auth_jwt_t;

/* Verifies a JWT (n bytes) of an update client: RS256 or ES256 only, the
 * key named by the header's kid, or else each active key of publisher (the
 * body's publisherName, the polled log's; may be NULL), then of the
 * publisher the token's iss names, then the newest active keys of all
 * publishers for its algorithm (*out says whose key verified it: not
 * always publisher's), exp required, nbf honoured,
 * leeway_s seconds either way. AUTH_OK with *out; AUTH_DENIED (*why says
 * which rule failed); AUTH_UNAVAILABLE. A key is looked up before any
 * verification: without one nothing is verified. */
auth_verdict_t auth_jwt(auth_t *a, const char *token, size_t n, const char *publisher, int leeway_s,
                        auth_jwt_t *out, const char **why);

/* What can be judged of a JWT without a publisher's name (its request's
 * body did not give one): AUTH_DENIED (*why) when it is malformed, of an
 * algorithm not allowed, without exp, expired or not yet valid, or when
 * its kid names a key it does not verify with; AUTH_UNAVAILABLE; AUTH_OK
 * when it passes, or when it names no key (without the publisher, its key
 * is not known: the caller's 400 comes first). */
auth_verdict_t auth_jwt_unnamed(auth_t *a, const char *token, size_t n, int leeway_s, const char **why);

/* Forgets what is remembered of the key kid or the keys of publisher (a
 * statement found the key retired, or it was just changed). */
void auth_forget_keys(auth_t *a);

/* The token of an "Authorization: Bearer <token>" value (n bytes): sets
 * *token and *len. False when the scheme is not Bearer or the token is
 * empty or holds characters no token has. */
bool auth_bearer(const char *value, size_t n, const char **token, size_t *len);

#endif
