/*
 * lifecycle.h - the entitlement operations, one atomic unit at a time.
 *
 * Each call runs one unit in its own PostgreSQL transaction: every line
 * item of it is applied and committed, or nothing is. A unit is reported
 * done only after its COMMIT succeeded. Serialization failures and
 * deadlocks run the unit again (up to LC_MAX_RETRIES times).
 */
#ifndef ENT_LIFECYCLE_H
#define ENT_LIFECYCLE_H

#include "../core/alloc.h"
#include "../core/model.h"
#include "../db/pool.h"
#include "group.h"
#include "rules.h"

/* A unit that keeps losing races (deadlocks, serialization failures) fails
 * after this many tries with INTERNAL_ERROR rather than spinning; the
 * database is there, so it is not DATABASE_UNAVAILABLE. Each retry is
 * logged at warn level: with the lock order of db/stmt.c there should be
 * none. */
#define LC_MAX_RETRIES 5

/* How long a COMMIT whose answer was lost may still be finishing in its
 * old backend (pg_xact_status "in progress") before the unit is reported
 * COMMIT_UNKNOWN (db_commit_fate). */
#define LC_FATE_WAIT_MS 2000

typedef struct lc_ctx {
    db_pool_t *pool;
    const char *user;       /* authenticated user, for the audit trail */
    const char *request_id; /* for the audit trail */
    const ent_alloc_t *alloc; /* results and reasons are allocated here */
    lc_group_t *group;      /* commit groups to join (group.h); NULL: every request alone */
    /* Wait for no row lock another transaction holds (fail LOCK_TIMEOUT at
     * once): the units of a group that waited its lock timeout, run again
     * one at a time (batch.c). */
    bool lock_nowait;
} lc_ctx_t;

typedef enum lc_op {
    LC_UPGRADE, /* new line item of an UPGRADE-related product */
    LC_UPSELL,  /* new line item of an UPSELL-related product */
    LC_RENEW    /* new line item of the parent's product, later expiration */
} lc_op_t;

/* The outcome of one unit: REASON_OK and a filled result, or a reason and its
 * text ("CODE: message", allocated from ctx->alloc). */
typedef struct lc_outcome {
    lc_reason_t reason;
    char *text;
} lc_outcome_t;

/* Upgrades or upsells the line items of one entitlementData unit. A unit
 * that cannot be carried out as sent (lc_unit_stop_at) fails at that line
 * item, or at an earlier one that fails first: the reason is the first
 * failing line item's, in request order. */
lc_outcome_t lc_change_unit(const lc_ctx_t *ctx, lc_op_t op, const model_unit_t *unit,
                            model_unit_result_t *result);

/* The line item (index) at which unit u cannot be carried out as sent (its
 * invalid text or its repeated activation id, the earlier), or SIZE_MAX. */
size_t lc_unit_stop_at(const model_unit_t *u);

/* The failure of that line item: INVALID_REQUEST or DUPLICATE_IN_REQUEST. */
lc_outcome_t lc_unit_stop(const lc_ctx_t *ctx, const model_unit_t *u);

/* DUPLICATE_IN_REQUEST for activation_id. */
lc_outcome_t lc_duplicate(const lc_ctx_t *ctx, const char *activation_id);

/* Upgrades or upsells the n units of a request together: one transaction
 * (shared with the requests of its commit group, when ctx->group is set),
 * one pipelined round trip to read and lock everything, the rules in
 * memory, one round trip to write and commit. Each unit still succeeds or
 * fails as a whole, and none is reported done before the COMMIT. Units
 * whose outcome is preset (outcomes[i].reason != REASON_OK on entry, e.g.
 * DUPLICATE_IN_REQUEST) are left alone. In a group, the requests are
 * decided in arrival order, as if run one after the other. When the batch
 * cannot decide (an activation id taken meanwhile, a serialization failure,
 * a unit that builds on another of the same request) the units fall back
 * to lc_change_unit one by one.
 *
 * No thread waits for a commit group: lc_change_batch_begin does what
 * comes before the database. It returns NULL when the outcomes are final
 * already (the request ran alone: it does not fit a group, or there are
 * none), else the request, to be queued with lc_change_batch_submit, from
 * any thread (the caller may first let go of what the answer does not
 * need). done(arg) is called once every outcome is set, from the thread
 * that ran the request's group (perhaps the submitter's, before submit
 * returns; it may lead other groups after). The request and the outcomes
 * live in ctx->alloc, which must outlive done, and which no other thread
 * may use from submit until done. */
typedef struct lc_member lc_pending_t;
lc_pending_t *lc_change_batch_begin(const lc_ctx_t *ctx, lc_op_t op, const model_unit_t *units, size_t n,
                                    model_unit_result_t *results, lc_outcome_t *outcomes, void (*done)(void *arg),
                                    void *arg);
void lc_change_batch_submit(lc_pending_t *p);

/* Runs p at once, alone, in this thread, instead of queueing it; its done
 * is not called. For a caller that cannot let go of the request. */
void lc_change_batch_now(lc_pending_t *p);

/* setEntitlementState for one entitlement (with the cascade of rules.h). */
lc_outcome_t lc_set_entitlement_state(const lc_ctx_t *ctx, const model_ref_t *ref, model_state_t state);

/* setLineItemState for one line item, and with include_children for every
 * line item made from it. */
lc_outcome_t lc_set_line_item_state(const lc_ctx_t *ctx, const model_ref_t *ref, model_state_t state,
                                    bool include_children);

/* deleteEntitlement: only when it and all its line items are DRAFT, TEST or
 * OBSOLETE. The audit trail stays. */
lc_outcome_t lc_delete_entitlement(const lc_ctx_t *ctx, const model_ref_t *ref);

/* Creates one simpleEntitlement with its line items. */
lc_outcome_t lc_create_entitlement(const lc_ctx_t *ctx, model_create_op_t op,
                                   const model_entitlement_t *e, model_created_t *result);

/* getEntitlementsQuery: one page of matches (see db/query.h), of at most
 * max_bytes of text (RESPONSE_TOO_LARGE above). */
lc_outcome_t lc_search(const lc_ctx_t *ctx, const model_query_t *q, size_t max_bytes, model_found_t **found,
                       size_t *n);

/* getEntitlementCount. */
lc_outcome_t lc_count(const lc_ctx_t *ctx, const model_query_t *q, long long *count);

/* Builds a failure outcome; used by transports for reasons found before a
 * unit reaches the database (DUPLICATE_IN_REQUEST, BATCH_TOO_LARGE). */
lc_outcome_t lc_fail(const lc_ctx_t *ctx, lc_reason_t reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
