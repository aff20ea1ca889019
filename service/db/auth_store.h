/*
 * auth_store.h - the credentials auth/ reads and the CLI writes: API
 * tokens (kept as SHA-256 hashes) and publishers' public keys.
 */
#ifndef ENT_DB_AUTH_STORE_H
#define ENT_DB_AUTH_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"
#include "pool.h"

/* Longest tenant, user or publisher name kept, in bytes: 255 characters
 * of up to 4 bytes (longer ones are refused where they come in). */
#define STORE_MAX_NAME (255 * 4)
/* Longest kid. */
#define STORE_MAX_KID 128
/* Largest public key (DER) kept: an RSA key of 16384 bits fits. */
#define STORE_MAX_KEY_DER 4096

/* An API token's row: who it speaks for (a tenant or a user, the other
 * empty). */
typedef struct store_token {
    long long id;
    char tenant[STORE_MAX_NAME + 1];
    char username[STORE_MAX_NAME + 1];
} store_token_t;

/* Stores the token whose SHA-256 is hash (32 bytes) for tenant or
 * username (one of them NULL); *id gets its id. */
int store_token_add(db_conn_t *c, const unsigned char hash[32], const char *tenant, const char *username,
                    long long *id) ENT_MUSTCHECK;

/* The active token whose SHA-256 is hash: ENT_OK with *out, or
 * ENT_ENOTFOUND (unknown or revoked). */
int store_token_find(db_conn_t *c, const unsigned char hash[32], store_token_t *out) ENT_MUSTCHECK;

/* Revokes token id: ENT_ENOTFOUND when there is no active one. */
int store_token_revoke(db_conn_t *c, long long id) ENT_MUSTCHECK;

/* Calls row(ctx, cols) for each token, oldest first: id, tenant, user,
 * created, revoked (empty strings when absent). */
int store_token_list(db_conn_t *c, void (*row)(void *ctx, const char *const *cols), void *ctx) ENT_MUSTCHECK;

/* A publisher's key as stored. */
typedef struct store_key {
    long long id;
    char publisher[STORE_MAX_NAME + 1];
    char kid[STORE_MAX_KID + 1];
    unsigned char der[STORE_MAX_KEY_DER];
    size_t der_len;
} store_key_t;

/* Active keys one publisher may have: a JWT without a kid is tried with
 * each of them. */
#define STORE_MAX_KEYS 16

/* Stores a key; ENT_EEXIST when an active key of its publisher has this
 * kid already, ENT_EPERM when its publisher has STORE_MAX_KEYS active keys. */
int store_key_add(db_conn_t *c, const char *publisher, const char *kid, const char *alg, const unsigned char *der,
                  size_t der_len, const char *created_by, long long *id) ENT_MUSTCHECK;

/* Which active keys store_key_find looks up, by what name. */
typedef enum store_key_by {
    STORE_KEY_BY_KID,       /* those named kid (at most one per publisher) */
    STORE_KEY_BY_PUBLISHER, /* those of a publisher */
    STORE_KEY_BY_ALG        /* the STORE_MAX_KEYS newest of every publisher's for an algorithm ("RS256") */
} store_key_by_t;

/* The active keys by name, as by says, newest first (*n at most max). */
int store_key_find(db_conn_t *c, store_key_by_t by, const char *name, store_key_t *out, size_t max,
                   size_t *n) ENT_MUSTCHECK;

/* Retires the active key kid (of publisher, when not NULL): ENT_ENOTFOUND
 * when there is none, ENT_EEXIST (nothing retired) when publisher is NULL
 * and several publishers have one; *publisher_out (STORE_MAX_NAME + 1
 * bytes) gets its publisher. */
int store_key_retire(db_conn_t *c, const char *kid, const char *publisher, char *publisher_out) ENT_MUSTCHECK;

#endif
