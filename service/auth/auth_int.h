/*
 * auth_int.h - the authenticator's state, shared by the files of
 * service/auth: the cache of verified passwords, of API tokens and of
 * publishers' keys.
 */
#ifndef ENT_AUTH_INT_H
#define ENT_AUTH_INT_H

#include <openssl/types.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "auth.h"
#include "throttle.h"

/* Verified passwords remembered at once: sets of AUTH_CACHE_WAYS slots,
 * the set chosen by the credentials' MAC (keyed: not steerable from
 * outside), so that a lookup compares AUTH_CACHE_WAYS MACs, not every one. */
#define AUTH_CACHE_SLOTS 1024
#define AUTH_CACHE_WAYS 8
/* yescrypt checks at once: the cores there are, on the machines we aim at. */
#define AUTH_MAX_HASHING 2
/* API tokens remembered at once (a hash table; a newer token takes the
 * slot of an older one). */
#define AUTH_TOKEN_SLOTS 256
/* Key lookups remembered at once (by kid or by publisher), and keys per
 * lookup. */
#define AUTH_KEY_SLOTS 32
#define AUTH_KEYS_PER_SLOT STORE_MAX_KEYS /* every active key of a publisher */
/* JWTs that passed, remembered at once (a hash table; a newer token takes
 * the slot of an older one). */
#define AUTH_JWT_SLOTS 256

/* Wrong credentials remembered at once, and for how long (a repeat is
 * answered without hashing and not counted as another guess). */
#define AUTH_REFUSED_SLOTS 256
#define AUTH_REFUSED_S 60

typedef struct auth_refusal {
    unsigned char key[32]; /* of the credentials and the hash they failed against */
    time_t at;             /* 0: free */
} auth_refusal_t;

typedef struct auth_slot {
    unsigned char mac[32];
    time_t verified;  /* when last checked against the store (0: free) */
    time_t used;      /* when last presented: the least recently used goes first */
    bool is_admin;
} auth_slot_t;

typedef struct auth_token_slot {
    unsigned char hash[32];
    time_t expires;
    store_token_t row;
} auth_token_slot_t;

/* One key lookup's result: the active keys of a kid, a publisher or an
 * algorithm. */
typedef struct auth_key_slot {
    store_key_by_t by;
    char name[STORE_MAX_NAME + 1]; /* the kid, the publisher or the algorithm */
    time_t expires;
    int n;
    long long ids[AUTH_KEYS_PER_SLOT];
    char publishers[AUTH_KEYS_PER_SLOT][STORE_MAX_NAME + 1];
    EVP_PKEY *keys[AUTH_KEYS_PER_SLOT]; /* one reference each, held by the slot */
} auth_key_slot_t;

/* A JWT that passed: what its check found, and what is checked again each
 * time it is presented (its exp and nbf, the keys still being the same). */
typedef struct auth_jwt_slot {
    unsigned char hash[32];  /* SHA-256 of the publisher hint and the token */
    time_t expires;          /* 0: free */
    unsigned long key_gen;   /* auth.key_gen when it passed */
    double exp, nbf;
    bool has_nbf;
    auth_jwt_t who;
} auth_jwt_slot_t;

struct auth {
    db_pool_t *pool;
    int cache_s;                                     /* a verified password is not checked again for this long */
    pthread_mutex_t lock;
    pthread_cond_t checked;                          /* a check in progress has ended */
    unsigned char key[32];
    /* SHA-256 states after the HMAC key's inner and outer pads (RFC 2104),
     * made once: HMAC() fetches the digest and builds both for every call,
     * which cost more than the rest of a cached login. */
    EVP_MD_CTX *mac_inner, *mac_outer;
    auth_slot_t slots[AUTH_CACHE_SLOTS];
    /* Checks in progress: AUTH_MAX_HASHING slots for anyone, and one more
     * for credentials remembered lately (a re-check never waits behind
     * strangers'). */
    unsigned char checking[AUTH_MAX_HASHING + 1][32]; /* credentials being checked */
    bool in_use[AUTH_MAX_HASHING + 1];
    unsigned gen[AUTH_MAX_HASHING + 1];              /* checks ended in each slot */
    auth_verdict_t verdict[AUTH_MAX_HASHING + 1];    /* of the last check ended there */
    bool admin[AUTH_MAX_HASHING + 1];                /* and whether the user is an admin */
    int waiting;
    void (*on_turn)(void *arg, int n);               /* auth_on_turn, under lock */
    void *on_turn_arg;
    auth_refusal_t refused[AUTH_REFUSED_SLOTS]; /* under lock */
    unsigned refused_next;                      /* the slot the next refusal takes */
    throttle_t throttle;                             /* failed logins by address and user */

    pthread_mutex_t tokens_lock;
    auth_token_slot_t tokens[AUTH_TOKEN_SLOTS];

    pthread_mutex_t keys_lock;
    auth_key_slot_t key_slots[AUTH_KEY_SLOTS];
    unsigned key_next;                               /* the slot a new lookup takes */
    unsigned long key_gen;                           /* bumped by auth_forget_keys */
    auth_jwt_slot_t jwts[AUTH_JWT_SLOTS];            /* under keys_lock */
};

#endif
