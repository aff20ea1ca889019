/*
 * lifecycle_int.h - internals shared by the files of service/lifecycle:
 * lifecycle.c (the unit path and the other operations), batch.c (the batch
 * path of upgrade and upsell) and group.c (commit groups).
 */
#ifndef ENT_LIFECYCLE_INT_H
#define ENT_LIFECYCLE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "../core/quote.h"
#include "../db/batch.h"
#include "group.h"
#include "lifecycle.h"

lc_outcome_t lc__ok(void);

/* Strings to positions, open addressing, sized once for n keys: a
 * group of 8 requests of 100 units compared every parent named with every
 * one read, and every new id with every parent's (BENCHMARKS.md, "CPU per
 * request", step 10). Keys are borrowed. */
typedef struct lc_index_slot {
    const char *key;
    long v;
} lc_index_slot_t;

typedef struct lc_index {
    lc_index_slot_t *slot;
    size_t mask;
} lc_index_t;

/* Sizes x for n keys (from a). */
int lc__index_init(lc_index_t *x, size_t n, const ent_alloc_t *a) ENT_MUSTCHECK;
/* The position stored for key, or -1. */
long lc__index_get(const lc_index_t *x, const char *key);
/* Stores key at v unless it is there already (the first one stays, as a
 * scan from the front would find it). At most the n keys it was sized
 * for. */
void lc__index_put(lc_index_t *x, const char *key, long v);

/* Room for an identifier quoted in a reason (lc__quote). */
#define LC_QUOTE_SIZE QUOTE_SIZE(MODEL_MAX_ID_CHARS)
/* s (NULL reads as "") as a reason quotes it: at most MODEL_MAX_ID_CHARS
 * characters, made text that XML and JSON carry (quote_value). */
const char *lc__quote(const char *s, char buf[LC_QUOTE_SIZE]);
/* The name of ref in a reason: its key, else its uniqueId, quoted. */
const char *lc__name(const model_ref_t *ref, char buf[LC_QUOTE_SIZE]);
/* The product of products (n) that ref names, by its uniqueId when it has
 * one (NULL when a name and version given too disagree with it), else by
 * name and version; NULL when none. */
const store_product_t *lc__product_in(const store_product_t *products, size_t n, const model_product_ref_t *ref);
/* PRODUCT_NOT_FOUND for the product p names. */
lc_outcome_t lc__product_fail(const lc_ctx_t *ctx, const model_product_ref_t *p);
/* NO_PRODUCT_RELATIONSHIP of kind (UPGRADE, UPSELL) from the product of
 * line item parent_aid to the product p names. */
lc_outcome_t lc__unrelated(const lc_ctx_t *ctx, const char *kind, const char *parent_aid,
                           const model_product_ref_t *p);
/* INVALID_COUNT for the new line item item of a parent of parent_count
 * copies (is_full: the whole count, and it has none). */
lc_outcome_t lc__count_fail(const lc_ctx_t *ctx, bool is_full, const model_line_item_t *item,
                            long long parent_count, const char *parent_aid);

/* The reason for an identifier that names nothing (found_key NULL), or
 * for a uniqueId and a business key that name different objects (the
 * uniqueId's object has key found_key). what is "line item" or
 * "entitlement", key_name "activationId" or "entitlementId". */
lc_outcome_t lc__ref_fail(const lc_ctx_t *ctx, lc_reason_t reason, const char *what, const char *key_name,
                          const model_ref_t *ref, const char *found_key);

/* The outcome of a unit whose COMMIT was sent on a connection that then
 * failed (COMMIT_UNKNOWN). */
lc_outcome_t lc__commit_unknown(const lc_ctx_t *ctx);

/* Checks that a unit has line items and prepares its result (one change
 * result per line item, from ctx->alloc). */
lc_outcome_t lc__result_init(const lc_ctx_t *ctx, const model_unit_t *unit, model_unit_result_t *result);

/* Maps a store error that has no more specific reason. */
lc_outcome_t lc__db_fail(const lc_ctx_t *ctx, int rc, const char *what);

/* Why the last statement on c asked for the unit to run again (a deadlock,
 * a serialization failure, or a conflict db/ found), for the log. */
const char *lc__retry_cause(const db_conn_t *c);

/* The activation id of a new line item: the client's (checked) or a
 * generated one (allocated from ctx->alloc). */
lc_outcome_t lc__activation_id(const lc_ctx_t *ctx, const model_line_item_t *item, char **out);

/* One request's part in a commit group. Everything is owned by the
 * request's thread, which waits while the group's leader works on it; the
 * leader allocates the request's results from member->ctx->alloc. */
typedef struct lc_member {
    const lc_ctx_t *ctx;
    lc_op_t op;
    const model_unit_t *units;
    size_t n;
    model_unit_result_t *results;
    lc_outcome_t *outcomes;
    const bool *preset;        /* outcome decided before the database (left alone) */
    store_batch_keys_t keys;   /* what its units name */
    size_t n_changes;          /* line items in its units */
    bool commit_unknown;       /* set by the run: the COMMIT was sent and the connection failed */
    void (*done)(void *arg);   /* lc_change_batch_begin's */
    void *done_arg;
    struct lc_member *next;
} lc_member_t;

/* Writes the m members as one group (batch.c). Sets each member's rc. The
 * scratch allocator lives at least until the call returns. */
typedef void (*lc_group_run_fn)(lc_op_t op, lc_member_t **members, size_t m, const ent_alloc_t *scratch);

/* Queues me (group.c). While fewer than the groups allowed are being
 * written, the calling thread leads: it runs the requests queued for one
 * operation as a group, calls after for each member, and leads again while
 * requests wait; otherwise it returns at once, and the leader that frees a
 * slot takes me. */
void lc__group_submit(lc_group_t *g, lc_member_t *me, lc_group_run_fn run, void (*after)(lc_member_t *m));

/* Whether a request with n_changes line items may join a group of g. */
bool lc__group_fits(const lc_group_t *g, size_t n_changes);

#endif
