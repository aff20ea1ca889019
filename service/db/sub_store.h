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



/* Runs and webhook deliveries (db/006). */

/* Longest webhook-id: "msg_" and 32 hex digits. */
#define STORE_RUN_MSG_ID_LEN 36
#define STORE_SUB_URL_MAX 2048
#define STORE_SUB_SECRET_MAX 64

/* Triggers a run of subscription ref of platform (on demand) for the
 * caller: a new run (webhook-id msg_id) and its job, unless one is pending
 * already, which is then the run. ENT_OK with *run_id (0 in the moment a
 * concurrent trigger's run is not yet visible) and *queued (a new job was
 * written); ENT_ENOTFOUND when the caller cannot see it; ENT_EAUTH when
 * the token was revoked. A subscription without a webhook runs too (its
 * run is built and then done with nothing to post: store_run_unposted). */
int store_sub_trigger(db_conn_t *c, const char *platform, const char *ref, const store_sub_caller_t *who,
                      const char *msg_id, long long *run_id, bool *queued) ENT_MUSTCHECK;

/* Queues a Scheduled run for each subscription whose schedule is due (and
 * that has no pending run), and moves its next time on; *n runs queued. */
int store_sub_schedule(db_conn_t *c, size_t *n) ENT_MUSTCHECK;

/* A run and its subscription's webhook, locked for the worker. */
typedef struct store_run {
    long long id;
    bool pending;
    char url[STORE_SUB_URL_MAX + 1];
    unsigned char secret[STORE_SUB_SECRET_MAX];
    size_t secret_len;
    char msg_id[STORE_RUN_MSG_ID_LEN + 1];
    char *body;      /* malloc'd (the caller frees); NULL until it is built */
} store_run_t;

/* Run id, FOR UPDATE, after its subscription (FOR NO KEY UPDATE: the
 * order a DELETE of the subscription takes them in, as do the attempt
 * and the giving up below): ENT_ENOTFOUND when it is gone (its
 * subscription was deleted). */
int store_run_load(db_conn_t *c, long long id, store_run_t *out) ENT_MUSTCHECK;

/* Builds run id's message from the change feed after its subscription's
 * cursor (at most limit changes, whole transactions below the snapshot's
 * xmin only), keeps it on the run and sets lastTriggered to a success;
 * *body is the message, malloc'd. */
int store_run_build(db_conn_t *c, long long id, int limit, char **body) ENT_MUSTCHECK;

/* Records an attempt to post run id, begun at started_ms (milliseconds
 * since the epoch): http_status (0: none), detail (why it failed; NULL
 * when delivered), duration. Delivered: the run is done, its
 * subscription's cursor moves to the run's end, webHookStatus is a
 * success; else webHookStatus is a failure with detail. */
int store_run_attempt(db_conn_t *c, long long id, bool delivered, int http_status, const char *detail,
                      int duration_ms, long long started_ms) ENT_MUSTCHECK;

/* Run id of a subscription without a webhook is done: nothing to post
 * (no attempt is recorded; the cursor moves to the run's end). */
int store_run_unposted(db_conn_t *c, long long id) ENT_MUSTCHECK;

/* Run id was given up: it failed, and so did its trigger (lastTriggered). */
int store_run_giveup(db_conn_t *c, long long id) ENT_MUSTCHECK;

/* The status of subscription ref ({lastTriggered, webHookStatus}, in the
 * spellings of the vendor's page), if the caller can see it: *json
 * malloc'd; ENT_ENOTFOUND; ENT_EAUTH (token revoked). */
int store_sub_status(db_conn_t *c, const char *platform, const char *ref, const store_sub_caller_t *who,
                     char **json) ENT_MUSTCHECK;

/* Calls row for each attempt to post subscription ref's runs, oldest
 * first: run id, trigger, attempt time, HTTP status ("" for none), error,
 * duration in ms, the run's state. ENT_ENOTFOUND for an unknown ref. */
int store_sub_deliveries(db_conn_t *c, const char *ref, void (*row)(void *ctx, const char *const *cols),
                         void *ctx) ENT_MUSTCHECK;
/* Update packages (db/008, db/009). */

#define STORE_PACKAGE_ID_LEN 36
/* Changes per page of a package's content: what one piece of a streamed
 * content holds (a few hundred KiB). */
#define STORE_PACKAGE_PAGE_ITEMS 1000
#define STORE_PACKAGE_MAX_PRODUCTS 100
#define STORE_PACKAGE_LIMIT 2

typedef enum store_package_verdict {
    STORE_PACKAGE_PACKAGED,      /* written, with its job */
    STORE_PACKAGE_NOUPDATE,      /* no change of those products since the date */
    STORE_PACKAGE_LIMIT_REACHED, /* the user has STORE_PACKAGE_LIMIT packages PROCESSING */
    STORE_PACKAGE_NO_SUBSCRIPTION, /* not one the caller can see */
    STORE_PACKAGE_BAD_PRODUCT    /* *bad_product is not a product of the subscription */
} store_package_verdict_t;

/* The first of product_nos[0..n) that is not a product of subscription
 * ref into *bad (0: none), when the caller can see it (*visible). For a
 * request refused for another field, so that every wrong field is named. */
int store_package_products(db_conn_t *c, const char *ref, const store_sub_caller_t *who, const long long *product_nos,
                           size_t n, bool *visible, long long *bad) ENT_MUSTCHECK;

/* Asks for a package of subscription ref (any platform) for the caller:
 * the changes since day (YYYY-MM-DD) of the subscription's products
 * numbered product_nos[0..n). One transaction, under an advisory lock on
 * the user: NOUPDATE, LIMIT_REACHED or a new package (package_id) and its
 * job, due in delay_ms. ENT_EAUTH when the token was revoked. */
int store_package_request(db_conn_t *c, const char *ref, const store_sub_caller_t *who, const char *day,
                          const long long *product_nos, size_t n, const char *package_id, int delay_ms,
                          store_package_verdict_t *verdict, long long *bad_product) ENT_MUSTCHECK;

/* Builds package id (job ref): its pages of changes, oldest first, and
 * its counts, READY; one statement, which PostgreSQL runs a page of
 * changes at a time. Nothing when it is not PROCESSING. */
int store_package_build(db_conn_t *c, long long id) ENT_MUSTCHECK;

/* Package id could not be built: FAILED. */
int store_package_fail(db_conn_t *c, long long id) ENT_MUSTCHECK;

/* Package package_id of the caller: its description (*json, malloc'd).
 * ENT_ENOTFOUND for another user's or none; ENT_EAUTH when the token was
 * revoked. */
int store_package_get(db_conn_t *c, const char *package_id, const store_sub_caller_t *who, char **json) ENT_MUSTCHECK;

/* Package package_id of the caller, to read its content: its row id, its
 * number of pages, and the start of its document (*head, malloc'd: the
 * JSON object up to the items array's '['). ENT_EINVAL when it is not
 * READY (*status then says what it is); else as store_package_get. */
int store_package_open(db_conn_t *c, const char *package_id, const store_sub_caller_t *who, long long *id,
                       int *pages, char **head, char status[16]) ENT_MUSTCHECK;

/* Hands page (from 0) of package id's changes to emit: the JSON objects of
 * its changes, joined by ", ". ENT_ENOTFOUND when the package has gone. */
int store_package_page(db_conn_t *c, long long id, int page, int (*emit)(void *arg, const char *data, size_t n),
                       void *arg) ENT_MUSTCHECK;

#endif
