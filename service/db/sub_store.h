/*
 * sub_store.h - subscriptions: an API user's standing interest in the
 * entitlement changes of some products (or a global one every user sees).
 *
 * Visibility is decided in the statements: a user reads a subscription it
 * owns or a global one, and deletes only its own. Each statement checks
 * that the caller's API token (token_id) is still active: a revoked one
 * gives ENT_EAUTH and does nothing. The answers' JSON is built by
 * PostgreSQL, in the shapes of the REST adapter.
 */
#ifndef ENT_DB_SUB_STORE_H
#define ENT_DB_SUB_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"
#include "pool.h"

/* Longest subscriptionRef: "sub-" and 32 hex digits. */
#define STORE_SUB_REF_LEN 36

typedef struct store_sub_new {
    const char *ref;              /* made by the caller (STORE_SUB_REF_LEN) */
    const char *platform;         /* "cloud" or "containers" */
    const char *name;
    const char *owner;            /* the API user */
    long long token_id;           /* its token */
    bool is_global;
    const char *webhook_url;      /* NULL: no webhook */
    const unsigned char *secret;  /* the HMAC key; with webhook_url */
    size_t secret_len;
    int schedule_minutes;         /* 0: on demand only */
    const char *const *product_names;
    const char *const *product_versions;
    size_t n_products;
} store_sub_new_t;

/* Creates s with its products numbered 1..n in order. When a product is
 * not in the catalog nothing is written and *missing is its 1-based index
 * (else 0); ENT_EAUTH when the token was revoked. On success *json is the creation's answer
 * {subscriptionRef, subscriptionProducts: [...]}, malloc'd. */
int store_sub_create(db_conn_t *c, const store_sub_new_t *s, size_t *missing, char **json) ENT_MUSTCHECK;

/* Who asks: the API user and the id of its token. */
typedef struct store_sub_caller {
    const char *user;
    long long token_id;
} store_sub_caller_t;

/* Subscription ref of platform, if the caller owns it or it is global:
 * *json is its description, malloc'd. ENT_ENOTFOUND otherwise. */
int store_sub_get(db_conn_t *c, const char *platform, const char *ref, const store_sub_caller_t *who,
                  char **json) ENT_MUSTCHECK;

/* Deletes subscription ref of platform if the caller owns it: ENT_OK;
 * ENT_EPERM when it is global and another user's; ENT_ENOTFOUND when the
 * caller cannot see it. */
int store_sub_delete(db_conn_t *c, const char *platform, const char *ref, const store_sub_caller_t *who) ENT_MUSTCHECK;

/* Calls row for each subscription, oldest first: ref, platform, name,
 * owner, global ("t"/"f"), products ("name version, ..."), webhook URL
 * ("" for none), schedule minutes ("" for none), created. */
int store_sub_list(db_conn_t *c, void (*row)(void *ctx, const char *const *cols), void *ctx) ENT_MUSTCHECK;

#endif
