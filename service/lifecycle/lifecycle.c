#include "lifecycle.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../core/ids.h"
#include "../core/log.h"
#include "../db/query.h"
#include "../core/quote.h"
#include "../db/store.h"
#include "lifecycle_int.h"

/* Longest message we put after a reason code: a longer one is cut, on a
 * character boundary and marked (quote_vformat). */
#define LC_MAX_REASON 2048

lc_outcome_t lc_fail(const lc_ctx_t *ctx, lc_reason_t reason, const char *fmt, ...)
{
    char msg[LC_MAX_REASON];
    va_list ap;
    va_start(ap, fmt);
    quote_vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lc_outcome_t o = {reason, ent_sprintf(ctx->alloc, "%s: %s", lc_reason_code(reason), msg)};
    return o;
}

lc_outcome_t lc__ok(void)
{
    lc_outcome_t o = {REASON_OK, NULL};
    return o;
}

const char *lc__quote(const char *s, char buf[LC_QUOTE_SIZE])
{
    return quote_value(buf, LC_QUOTE_SIZE, s ? s : "", s ? strlen(s) : 0, MODEL_MAX_ID_CHARS);
}

lc_outcome_t lc__ref_fail(const lc_ctx_t *ctx, lc_reason_t reason, const char *what, const char *key_name,
                          const model_ref_t *ref, const char *found_key)
{
    char uid[LC_QUOTE_SIZE], key[LC_QUOTE_SIZE], found[LC_QUOTE_SIZE];
    bool by_uid = lc_ref_by_unique_id(ref);
    if (found_key != NULL)
        return lc_fail(ctx, reason, "uniqueId '%s' and %s '%s' do not name the same %s (uniqueId '%s' is %s '%s')",
                       lc__quote(ref->unique_id, uid), key_name, lc__quote(ref->key, key), what, uid, key_name,
                       lc__quote(found_key, found));
    /* Named by an empty uniqueId only, or by nothing. */
    if (!by_uid && ref->key == NULL && ref->unique_id != NULL)
        return lc_fail(ctx, reason, "no %s with uniqueId '' (an empty uniqueId names no %s)", what, what);
    if (!by_uid && ref->key == NULL)
        return lc_fail(ctx, reason, "no %s named: the identifier has no uniqueId and no %s", what, key_name);
    return lc_fail(ctx, reason, "no %s with %s '%s'", what, by_uid ? "uniqueId" : key_name,
                   by_uid ? lc__quote(ref->unique_id, uid) : lc__quote(ref->key, key));
}

/* What to look an object up by: its uniqueId when ref has one, else its
 * key. The key given with a uniqueId is checked afterwards (lc__agree), so
 * that the reason can tell an identifier that names nothing from two that
 * name different objects. */
static model_ref_t lc__lookup_ref(const model_ref_t *ref)
{
    model_ref_t by = {ref->unique_id, lc_ref_by_unique_id(ref) ? NULL : ref->key};
    return by;
}

/* The result rc of looking ref up, found_key the key of what was found:
 * ENT_ENOTFOUND with *fail set when nothing was found or it is not what the
 * key names; else rc. */
static int lc__agree(const lc_ctx_t *ctx, const model_ref_t *ref, int rc, const char *found_key, bool entitlement,
                     lc_outcome_t *fail)
{
    if (rc == ENT_ENOTFOUND || (rc == ENT_OK && !lc_ref_agrees(ref, found_key))) {
        *fail = entitlement ? lc__ref_fail(ctx, REASON_ENTITLEMENT_NOT_FOUND, "entitlement", "entitlementId", ref,
                                           rc == ENT_OK ? found_key : NULL)
                            : lc__ref_fail(ctx, REASON_LINE_ITEM_NOT_FOUND, "line item", "activationId", ref,
                                           rc == ENT_OK ? found_key : NULL);
        return ENT_ENOTFOUND;
    }
    return rc;
}

/* Finds and locks the line item ref names (see lc__lookup_ref). */
static int lc__lock_line_item(const lc_ctx_t *ctx, db_conn_t *c, const model_ref_t *ref, store_line_item_t *out,
                              lc_outcome_t *fail)
{
    model_ref_t by = lc__lookup_ref(ref);
    int rc = store_lock_line_item(c, &by, ctx->alloc, out);
    return lc__agree(ctx, ref, rc, rc == ENT_OK ? out->activation_id : NULL, false, fail);
}

/* The same for a line item locked for a state change (with the line items
 * made from it when with_children). */
static int lc__lock_line_item_tree(const lc_ctx_t *ctx, db_conn_t *c, const model_ref_t *ref, bool with_children,
                                   store_li_tree_t *out, lc_outcome_t *fail)
{
    model_ref_t by = lc__lookup_ref(ref);
    int rc = store_lock_line_item_tree(c, &by, with_children, ctx->alloc, out);
    return lc__agree(ctx, ref, rc, rc == ENT_OK ? out->activation_id : NULL, false, fail);
}

static int lc__find_entitlement(const lc_ctx_t *ctx, db_conn_t *c, const model_ref_t *ref, bool lock,
                                store_entitlement_t *out, lc_outcome_t *fail)
{
    model_ref_t by = lc__lookup_ref(ref);
    int rc = store_find_entitlement(c, &by, lock, ctx->alloc, out);
    return lc__agree(ctx, ref, rc, rc == ENT_OK ? out->entitlement_id : NULL, true, fail);
}

lc_outcome_t lc__unrelated(const lc_ctx_t *ctx, const char *kind, const char *parent_aid,
                           const model_product_ref_t *p)
{
    char name[LC_QUOTE_SIZE], version[LC_QUOTE_SIZE];
    if (p->name != NULL)
        return lc_fail(ctx, REASON_NO_PRODUCT_RELATIONSHIP,
                       "no %s relationship from the product of line item '%s' to product '%s' version '%s'", kind,
                       parent_aid, lc__quote(p->name, name), lc__quote(p->version, version));
    return lc_fail(ctx, REASON_NO_PRODUCT_RELATIONSHIP,
                   "no %s relationship from the product of line item '%s' to the product with uniqueId '%s'", kind,
                   parent_aid, lc__quote(p->unique_id, name));
}

lc_outcome_t lc__count_fail(const lc_ctx_t *ctx, bool is_full, const model_line_item_t *item,
                            long long parent_count, const char *parent_aid)
{
    char buf[LC_QUOTE_SIZE];
    const char *asked = buf;
    /* An integer beyond 64 bits is named as it was written. */
    if (!is_full && item->count_text != NULL)
        asked = lc__quote(item->count_text, buf);
    else
        snprintf(buf, sizeof buf, "%lld", is_full ? parent_count : item->number_of_copies);
    return lc_fail(ctx, REASON_INVALID_COUNT, "numberOfCopies %s is not between 1 and the %lld copies of line item '%s'",
                   asked, parent_count, parent_aid);
}

lc_outcome_t lc__product_fail(const lc_ctx_t *ctx, const model_product_ref_t *p)
{
    char name[LC_QUOTE_SIZE], version[LC_QUOTE_SIZE], uid[LC_QUOTE_SIZE];
    if (p->name != NULL && p->unique_id != NULL && p->unique_id[0] != '\0')
        return lc_fail(ctx, REASON_PRODUCT_NOT_FOUND,
                       "no product with uniqueId '%s' that is product '%s' version '%s' (both identifiers must name "
                       "the same product)", lc__quote(p->unique_id, uid), lc__quote(p->name, name),
                       lc__quote(p->version, version));
    if (p->name != NULL)
        return lc_fail(ctx, REASON_PRODUCT_NOT_FOUND, "no product '%s' version '%s'", lc__quote(p->name, name),
                       lc__quote(p->version, version));
    return lc_fail(ctx, REASON_PRODUCT_NOT_FOUND, "no product with uniqueId '%s'", lc__quote(p->unique_id, name));
}

const char *lc__name(const model_ref_t *ref, char buf[LC_QUOTE_SIZE])
{
    return lc__quote(ref->key && ref->key[0] ? ref->key : ref->unique_id, buf);
}

/* The connection went while the COMMIT was on its way: the unit may or may
 * not be applied, and running it again could apply it twice. */
lc_outcome_t lc__commit_unknown(const lc_ctx_t *ctx)
{
    return lc_fail(ctx, REASON_COMMIT_UNKNOWN, "the connection to the database was lost while committing; whether "
                                               "this was applied is unknown (look it up before sending it again)");
}

/* Maps a store error that has no more specific reason. */
lc_outcome_t lc__db_fail(const lc_ctx_t *ctx, int rc, const char *what)
{
    if (rc == ENT_EDBDOWN || rc == ENT_ETIMEDOUT)
        return lc_fail(ctx, REASON_DATABASE_UNAVAILABLE, "the database is not available (%s)", what);
    /* A deadlock or serialization failure: the database is there, the unit
     * lost a race. lc__run runs it again and logs; only when that keeps
     * failing does this outcome reach the client, and then it is
     * unexpected (the lock order of db/stmt.c should prevent it). */
    if (rc == ENT_ERETRY)
        return lc_fail(ctx, REASON_INTERNAL_ERROR,
                       "the change kept conflicting with concurrent changes (%s); try again", what);
    if (rc == ENT_EINVAL)
        return lc_fail(ctx, REASON_INVALID_REQUEST, "a value was refused while %s (check dates and numbers)", what);
    if (rc == ENT_ELOCKED)
        return lc_fail(ctx, REASON_LOCK_TIMEOUT,
                       "a row needed while %s is locked by another transaction, longer than the service waits "
                       "(ENTITLEMENTD_DB_LOCK_TIMEOUT_MS); nothing was applied; try again", what);
    log_error("%s: %s", what, ent_strerror(rc));
    return lc_fail(ctx, REASON_INTERNAL_ERROR, "unexpected error while %s", what);
}

/* Resolves the activation id of a new line item: the client's (checked) or
 * a generated one. */
lc_outcome_t lc__activation_id(const lc_ctx_t *ctx, const model_line_item_t *item, char **out)
{
    const char *why;
    /* An id that is given, even empty, is the client's: only autoGenerate
     * or no id at all make one. */
    if (item->activation_id != NULL && !item->auto_generate) {
        if (!lc_id_valid(item->activation_id, &why)) {
            model_ref_t r = {NULL, item->activation_id};
            char name[LC_QUOTE_SIZE];
            return lc_fail(ctx, REASON_INVALID_ACTIVATION_ID, "activationId '%s' %s",
                           lc__name(&r, name), why);
        }
        *out = (char *)item->activation_id;
        return lc__ok();
    }
    char buf[IDS_ACTIVATION_ID_LEN + 1];
    if (ids_activation_id(buf, sizeof buf) != ENT_OK)
        return lc_fail(ctx, REASON_INTERNAL_ERROR, "could not generate an activation id");
    *out = ent_strdup(ctx->alloc, buf);
    return *out ? lc__ok() : lc_fail(ctx, REASON_INTERNAL_ERROR, "out of memory");
}

/* Locks the parents that the changes of unit name (see lc__change_try). */
static int lc__lock_parents(const lc_ctx_t *ctx, db_conn_t *c, const model_unit_t *unit)
{
    store_batch_keys_t k = {0};
    k.parent_aids = ent_calloc(ctx->alloc, unit->n_changes, sizeof *k.parent_aids);
    k.parent_uids = ent_calloc(ctx->alloc, unit->n_changes, sizeof *k.parent_uids);
    if (k.parent_aids == NULL || k.parent_uids == NULL)
        return ENT_ENOMEM;
    for (size_t i = 0; i < unit->n_changes; i++) {
        const model_ref_t *p = &unit->changes[i].parent;
        if (p->unique_id && p->unique_id[0])
            k.parent_uids[k.n_parent_uids++] = p->unique_id;
        else if (p->key)
            k.parent_aids[k.n_parent_aids++] = p->key;
    }
    return store_batch_lock_parents(c, &k, ctx->alloc);
}

/* Where a unit or an entitlement to create cannot be carried out as sent
 * (its invalid text at invalid_at, its repeated id at repeated_at: the
 * earlier), and the failure there. */
static size_t lc__stop_at(const char *invalid, size_t invalid_at, const char *repeated, size_t repeated_at)
{
    size_t a = invalid != NULL ? invalid_at : SIZE_MAX, b = repeated != NULL ? repeated_at : SIZE_MAX;
    return a <= b ? a : b;
}

static lc_outcome_t lc__stop(const lc_ctx_t *ctx, const char *invalid, size_t invalid_at, const char *repeated,
                             size_t repeated_at)
{
    if (invalid != NULL && (repeated == NULL || invalid_at <= repeated_at))
        return lc_fail(ctx, REASON_INVALID_REQUEST, "%s", invalid);
    return lc_duplicate(ctx, repeated ? repeated : "");
}

size_t lc_unit_stop_at(const model_unit_t *u)
{
    return lc__stop_at(u->invalid, u->invalid_at, u->repeated, u->repeated_at);
}

lc_outcome_t lc_duplicate(const lc_ctx_t *ctx, const char *activation_id)
{
    char q[QUOTE_SIZE(MODEL_MAX_ID_CHARS)];
    return lc_fail(ctx, REASON_DUPLICATE_IN_REQUEST, "activationId '%s' appears more than once in the request",
                   quote_value(q, sizeof q, activation_id, strlen(activation_id), MODEL_MAX_ID_CHARS));
}

lc_outcome_t lc_unit_stop(const lc_ctx_t *ctx, const model_unit_t *u)
{
    return lc__stop(ctx, u->invalid, u->invalid_at, u->repeated, u->repeated_at);
}

/* One try of a lifecycle unit inside an open transaction. */
static lc_outcome_t lc__change_try(const lc_ctx_t *ctx, db_conn_t *c, lc_op_t op,
                                   const model_unit_t *unit, model_unit_result_t *res, int *rc)
{
    static const char *const kinds[] = {"UPGRADE", "UPSELL", "RENEWAL"};
    static const char *const opnames[] = {"upgradeLicense", "upsellLicense", "renewLicense"};
    static const model_item_type_t types[] = {ITEM_UPGRADE, ITEM_UPSELL, ITEM_RENEWAL};
    const char *kind = kinds[op];
    const char *opname = opnames[op];
    store_entitlement_t ent = {0};
    lc_outcome_t fail;
    long long first_ent_pk = 0;
    char first_ent_id[MODEL_MAX_ID_CHARS * 4 + 1] = "";

    *rc = ENT_OK;
    if (unit->n_changes > 1) {
        /* The parents are looked up one by one in request order below;
         * lock them all first, in the lock order of db/stmt.c (their
         * entitlements, then the parents, each in id order), so that two
         * units naming the same parents in another order cannot deadlock. */
        if ((*rc = lc__lock_parents(ctx, c, unit)) != ENT_OK)
            return lc__db_fail(ctx, *rc, "locking the parent line items");
    }
    if (unit->has_entitlement) {
        *rc = lc__find_entitlement(ctx, c, &unit->entitlement, false, &ent, &fail);
        if (*rc == ENT_ENOTFOUND) {
            *rc = ENT_OK;
            return fail;
        }
        if (*rc != ENT_OK)
            return lc__db_fail(ctx, *rc, "looking up the entitlement");
    }

    size_t stop_at = lc_unit_stop_at(unit);
    for (size_t i = 0; i < unit->n_changes; i++) {
        const model_change_t *ch = &unit->changes[i];
        model_change_result_t *out = &res->changes[i];
        store_line_item_t parent = {0};
        char *aid = NULL;
        long long product_id = 0, count = 0;
        bool related = false;
        lc_outcome_t o;

        /* The line items before it passed: its own failure is the unit's. */
        if (i == stop_at)
            return lc_unit_stop(ctx, unit);

        o = lc__activation_id(ctx, &ch->item, &aid);
        if (o.reason != REASON_OK)
            return o;

        *rc = lc__lock_line_item(ctx, c, &ch->parent, &parent, &fail);
        if (*rc == ENT_ENOTFOUND) {
            *rc = ENT_OK;
            return fail;
        }
        if (*rc != ENT_OK)
            return lc__db_fail(ctx, *rc, "looking up the parent line item");
        if (unit->has_entitlement && parent.entitlement_pk != ent.id)
            return lc_fail(ctx, REASON_LINE_ITEM_NOT_IN_ENTITLEMENT,
                           "line item '%s' does not belong to entitlement '%s'",
                           parent.activation_id, ent.entitlement_id);
        /* Without parentEntitlementIdentifier the unit's entitlement is
         * its first parent's (as in batch.c). */
        if (!unit->has_entitlement && i > 0 && parent.entitlement_pk != first_ent_pk)
            return lc_fail(ctx, REASON_LINE_ITEM_NOT_IN_ENTITLEMENT,
                           "line item '%s' belongs to entitlement '%s', not to '%s' as the unit's first parent "
                           "line item does",
                           parent.activation_id, parent.entitlement_id, first_ent_id);
        if (i == 0) {
            first_ent_pk = parent.entitlement_pk;
            snprintf(first_ent_id, sizeof first_ent_id, "%s", parent.entitlement_id ? parent.entitlement_id : "");
        }
        if (!lc_state_allows_change(parent.state, parent.entitlement_state))
            return lc_fail(ctx, REASON_INVALID_STATE,
                           "line item '%s' is %s in entitlement '%s' (%s); only DEPLOYED or TEST "
                           "line items of an entitlement that is not INACTIVE can be changed",
                           parent.activation_id, model_state_name(parent.state),
                           parent.entitlement_id, model_state_name(parent.entitlement_state));

        model_line_item_t item = ch->item;
        if (op == LC_RENEW) {
            /* A renewal keeps the product and extends the term. */
            if (parent.is_permanent)
                return lc_fail(ctx, REASON_NOT_RENEWABLE, "line item '%s' is permanent and cannot be renewed",
                               parent.activation_id);
            product_id = parent.product_id;
            /* A renewal extends: no term that shortens, no earlier date. */
            if (item.has_renew_term && !lc_renew_term_ok(item.renew_term_duration))
                return lc_fail(ctx, REASON_INVALID_REQUEST,
                               "expirationTerms/term/numDuration %lld must be at least 1: a renewal extends the term",
                               item.renew_term_duration);
            if (item.is_permanent != OPT_TRUE && item.expiration_date != NULL && item.expiration_date[0] != '\0' &&
                !lc_renew_date_ok(item.expiration_date, parent.expiration_date))
                return lc_fail(ctx, REASON_INVALID_REQUEST,
                               "expirationTerms/expirationDate '%.10s' is not after the expiration of line item "
                               "'%s' (%s): a renewal extends the term",
                               item.expiration_date, parent.activation_id, parent.expiration_date);
            if (item.is_permanent != OPT_TRUE && (item.expiration_date == NULL || item.expiration_date[0] == '\0')) {
                const char *term_unit = item.has_renew_term ? item.renew_term_unit : parent.term_unit;
                long long n = item.has_renew_term ? item.renew_term_duration : parent.term_duration;
                if (!item.has_renew_term && parent.has_term && term_unit != NULL && !lc_renew_term_ok(n))
                    return lc_fail(ctx, REASON_INVALID_REQUEST,
                                   "the term of line item '%s' (%lld %s) does not extend it; give "
                                   "expirationTerms", parent.activation_id, n, term_unit);
                if ((item.has_renew_term || parent.has_term) && term_unit != NULL) {
                    char *expires = NULL;
                    *rc = store_date_add(c, parent.expiration_date, n, term_unit, ctx->alloc, &expires);
                    /* Dates are YYYY-MM-DD, to 9999-12-31, in what we are sent
                     * and what we answer: a term that goes further (or
                     * beyond PostgreSQL's dates) is refused. */
                    if (*rc == ENT_EINVAL || (*rc == ENT_OK && strlen(expires) != LC_DATE_LEN)) {
                        *rc = ENT_OK;
                        return lc_fail(ctx, REASON_INVALID_REQUEST,
                                       "renewing line item '%s' (expiring %s) by %lld %s would end after 9999-12-31",
                                       parent.activation_id, parent.expiration_date ? parent.expiration_date : "today",
                                       n, term_unit);
                    }
                    if (*rc != ENT_OK)
                        return lc__db_fail(ctx, *rc, "computing the new expiration date");
                    item.expiration_date = expires;
                } else {
                    item.expiration_date = parent.expiration_date;
                }
                if (!item.has_term && parent.has_term) {
                    item.has_term = true;
                    item.term_duration = parent.term_duration;
                    item.term_unit = parent.term_unit;
                }
            }
            if (!item.has_count && ch->is_full != OPT_FALSE) {
                item.has_count = true;
                item.number_of_copies = parent.count;
            }
        } else {
            if (!item.has_product)
                return lc_fail(ctx, REASON_INVALID_REQUEST, "lineItem %zu has no product", i + 1);
            *rc = store_find_product(c, &item.product, parent.product_id, kind, &product_id, &related);
            if (*rc == ENT_ENOTFOUND) {
                *rc = ENT_OK;
                const model_product_ref_t *p = &item.product;
                return lc__product_fail(ctx, p);
            }
            if (*rc != ENT_OK)
                return lc__db_fail(ctx, *rc, "looking up the product");
            if (!related)
                return lc__unrelated(ctx, kind, parent.activation_id, &item.product);
        }

        if (!lc_new_count(ch->is_full == OPT_TRUE, item.has_count, item.count_text != NULL, item.number_of_copies,
                          parent.count, &count))
            return lc__count_fail(ctx, ch->is_full == OPT_TRUE, &item, parent.count, parent.activation_id);

        store_new_item_t ni = {
            .entitlement_pk = parent.entitlement_pk,
            .product_id = product_id,
            .parent_id = parent.id,
            .type = types[op],
            .state = ch->auto_deploy == OPT_TRUE ? STATE_DEPLOYED : STATE_DRAFT,
            .count = count,
            .activation_id = aid,
            .src = &item,
            /* A renewal continues its parent: what it does not say anew
             * (license model, attributes) it keeps. */
            .inherit = op == LC_RENEW,
        };
        *rc = store_insert_line_item(c, &ni, ctx->alloc, &out->new_unique_id);
        if (*rc == ENT_EEXIST) {
            *rc = ENT_OK;
            return lc_fail(ctx, REASON_ACTIVATION_ID_EXISTS, "activationId '%s' is already in use", aid);
        }
        if (*rc != ENT_OK)
            return lc__db_fail(ctx, *rc, "creating the line item");

        /* The copies move to the new line item; without activations on the
         * parent it is retired. Renewals allow them unless told not to. */
        bool allow = op == LC_RENEW ? ch->allow_on_parent != OPT_FALSE : ch->allow_on_parent == OPT_TRUE;
        model_state_t pstate = allow ? parent.state : STATE_OBSOLETE;
        if ((*rc = store_update_parent(c, parent.id, parent.count - count, pstate)) != ENT_OK)
            return lc__db_fail(ctx, *rc, "updating the parent line item");

        store_audit_t audit = {ctx->request_id, ctx->user, opname, parent.entitlement_id,
                               parent.entitlement_uid, parent.activation_id, aid,
                               out->new_unique_id, NULL};
        if ((*rc = store_audit(c, &audit)) != ENT_OK)
            return lc__db_fail(ctx, *rc, "writing the audit trail");

        out->parent_unique_id = parent.unique_id;
        out->parent_activation_id = parent.activation_id;
        out->new_activation_id = aid;
        if (i == 0) {
            res->entitlement_unique_id = parent.entitlement_uid;
            res->entitlement_id = parent.entitlement_id;
        }
    }
    return lc__ok();
}

const char *lc__retry_cause(const db_conn_t *c)
{
    const char *state = db_conn_sqlstate(c);
    if (strcmp(state, "40P01") == 0)
        return "deadlock detected";
    if (strcmp(state, "40001") == 0)
        return "serialization failure";
    return db_conn_message(c); /* a conflict found by db/ itself */
}

/* Runs try_fn in a transaction, again on deadlocks and serialization
 * failures; commits when it succeeds. */
typedef lc_outcome_t (*lc_try_fn)(const lc_ctx_t *ctx, db_conn_t *c, const void *arg, int *rc);

static lc_outcome_t lc__run(const lc_ctx_t *ctx, lc_try_fn fn, const void *arg)
{
    db_conn_t *c = NULL;
    lc_outcome_t o;
    int rc = db_pool_acquire(ctx->pool, &c);

    if (rc != ENT_OK)
        return lc__db_fail(ctx, rc, "acquiring a connection");
    for (int attempt = 0;; attempt++) {
        if ((rc = ctx->lock_nowait ? db_begin_tracked_nowait(c) : db_begin_tracked(c)) != ENT_OK) {
            o = lc__db_fail(ctx, rc, "starting a transaction");
            break;
        }
        o = fn(ctx, c, arg, &rc);
        bool committing = o.reason == REASON_OK;
        if (committing) {
            rc = db_commit(c);
            if (rc == ENT_OK)
                break;
            if (rc != ENT_EDBDOWN) {
                o = lc__db_fail(ctx, rc, "committing");
            } else {
                /* Its answer lost: the server knows how it ended. */
                db_commit_fate_t fate = db_commit_fate(c, LC_FATE_WAIT_MS);
                if (fate == DB_FATE_COMMITTED) {
                    log_warn("connection lost while committing; the unit had committed");
                    rc = ENT_OK;
                    break;
                }
                if (fate == DB_FATE_ABORTED && attempt == 0) {
                    log_warn("connection lost while committing; the unit had not committed: run again");
                    continue;
                }
                if (fate == DB_FATE_ABORTED) {
                    log_warn("connection lost while committing; the unit had not committed");
                    o = lc__db_fail(ctx, rc, "committing");
                } else {
                    log_warn("connection lost while committing: outcome unknown");
                    o = lc__commit_unknown(ctx);
                }
            }
        } else {
            db_rollback(c);
        }
        /* The connection lost before any COMMIT was sent (a server that
         * restarted, a backend ended): nothing of the unit was written, so
         * it runs once more on a fresh connection, as a commit group does
         * (lifecycle/batch.c). */
        if (rc == ENT_EDBDOWN && !committing && attempt == 0 && !db_conn_commit_undecided(c)) {
            if (db_conn_reset(c) != ENT_OK)
                break;
            log_warn("database connection lost during a unit; run again on a new connection");
            continue;
        }
        if (rc != ENT_ERETRY)
            break;
        /* With the lock order of db/stmt.c a retry should not happen:
         * operators see each one. */
        if (attempt + 1 >= LC_MAX_RETRIES) {
            log_error("unit failed after %d tries: %s", LC_MAX_RETRIES, lc__retry_cause(c));
            break;
        }
        log_warn("unit run again (try %d of %d): %s", attempt + 2, LC_MAX_RETRIES, lc__retry_cause(c));
    }
    db_pool_release(ctx->pool, c);
    return o;
}

typedef struct lc_change_arg {
    lc_op_t op;
    const model_unit_t *unit;
    model_unit_result_t *res;
} lc_change_arg_t;

static lc_outcome_t lc__change_fn(const lc_ctx_t *ctx, db_conn_t *c, const void *arg, int *rc)
{
    const lc_change_arg_t *a = arg;
    /* A retry starts from a clean result. */
    memset(a->res->changes, 0, a->unit->n_changes * sizeof *a->res->changes);
    return lc__change_try(ctx, c, a->op, a->unit, a->res, rc);
}

lc_outcome_t lc__result_init(const lc_ctx_t *ctx, const model_unit_t *unit, model_unit_result_t *result)
{
    if (unit->n_changes == 0)
        return lc_fail(ctx, REASON_INVALID_REQUEST, "entitlementData has no lineItemData");
    memset(result, 0, sizeof *result);
    result->n_changes = unit->n_changes;
    result->changes = ent_calloc(ctx->alloc, unit->n_changes, sizeof *result->changes);
    if (result->changes == NULL)
        return lc_fail(ctx, REASON_INTERNAL_ERROR, "out of memory");
    return lc__ok();
}

lc_outcome_t lc_change_unit(const lc_ctx_t *ctx, lc_op_t op, const model_unit_t *unit,
                            model_unit_result_t *result)
{
    lc_outcome_t o = lc__result_init(ctx, unit, result);
    if (o.reason != REASON_OK)
        return o;
    lc_change_arg_t arg = {op, unit, result};
    return lc__run(ctx, lc__change_fn, &arg);
}

/* createSimpleEntitlement */

typedef struct lc_create_arg {
    model_create_op_t op;
    const model_entitlement_t *e;
    model_created_t *res;
} lc_create_arg_t;

/* The line items of a createSimpleEntitlement, on entitlement ent_pk (in
 * state; existing: it was there before). One round trip reads the
 * products they name and which of their activation ids are in use; the
 * checks then run item by item in request order, each in the order of
 * the checks of one item (its id, its product, its count, its state, its
 * id in use), so the first failure is the one a line item at a time would
 * meet; one statement writes them all with their audit rows. With an
 * existing entitlement an item whose id it already holds is left as it is
 * (CREATE_OR_UPDATE adds only the new ones). */
static lc_outcome_t lc__create_items(const lc_ctx_t *ctx, db_conn_t *c, const model_entitlement_t *e, long long ent_pk,
                                     bool existing, model_state_t state, model_created_t *res, int *rc)
{
    size_t n = e->n_items;
    if (n == 0)
        return lc__ok();
    char **aids = ent_calloc(ctx->alloc, n, sizeof *aids);
    lc_outcome_t *bad_aid = ent_calloc(ctx->alloc, n, sizeof *bad_aid);
    const char **puids = ent_calloc(ctx->alloc, n, sizeof *puids);
    const char **pnames = ent_calloc(ctx->alloc, n, sizeof *pnames);
    const char **pversions = ent_calloc(ctx->alloc, n, sizeof *pversions);
    const char **given = ent_calloc(ctx->alloc, n, sizeof *given);
    store_batch_row_t *rows = ent_calloc(ctx->alloc, n, sizeof *rows);
    char **uids = ent_calloc(ctx->alloc, n, sizeof *uids);
    if (!aids || !bad_aid || !puids || !pnames || !pversions || !given || !rows || !uids)
        return lc_fail(ctx, REASON_INTERNAL_ERROR, "out of memory");

    store_batch_keys_t k = {.product_uids = puids, .product_names = pnames, .product_versions = pversions,
                            .new_aids = given};
    for (size_t i = 0; i < n; i++) {
        const model_line_item_t *it = &e->items[i];
        bad_aid[i] = lc__activation_id(ctx, it, &aids[i]);
        if (bad_aid[i].reason == REASON_OK)
            given[k.n_new_aids++] = aids[i];
        else
            aids[i] = NULL;
        if (!it->has_product)
            continue;
        if (it->product.unique_id != NULL && it->product.unique_id[0] != '\0') {
            puids[k.n_product_uids++] = it->product.unique_id;
        } else if (it->product.name != NULL && it->product.version != NULL) {
            pnames[k.n_product_names] = it->product.name;
            pversions[k.n_product_names++] = it->product.version;
        }
    }
    store_create_snapshot_t s;
    if ((*rc = store_create_read(c, &k, ctx->alloc, &s)) != ENT_OK)
        return lc__db_fail(ctx, *rc, "looking up the products and activation ids");

    /* The ids in use, and those of the items before the one checked: by
     * hash, since a request may carry ENTITLEMENTD_MAX_OCCURS items. */
    lc_index_t taken, seen;
    if (lc__index_init(&taken, s.n_taken, ctx->alloc) != ENT_OK || lc__index_init(&seen, n, ctx->alloc) != ENT_OK)
        return lc_fail(ctx, REASON_INTERNAL_ERROR, "out of memory");
    for (size_t i = 0; i < s.n_taken; i++)
        lc__index_put(&taken, s.taken[i], (long)i);
    size_t nrows = 0;
    /* A line item that cannot be created as sent (a text over its limit,
     * an id the request names twice): the unit fails there, once the line
     * items before it passed. */
    size_t stop_at = lc__stop_at(e->invalid, e->invalid_at, e->repeated, e->repeated_at);
    for (size_t i = 0; i < n; i++) {
        const model_line_item_t *it = &e->items[i];
        const char *aid = aids[i];
        if (i == stop_at)
            return lc__stop(ctx, e->invalid, e->invalid_at, e->repeated, e->repeated_at);
        if (aid == NULL)
            return bad_aid[i];
        long at = lc__index_get(&taken, aid);
        long long owner = at < 0 ? 0 : s.taken_by[at];
        bool earlier = lc__index_get(&seen, aid) >= 0;
        lc__index_put(&seen, aid, (long)i);
        if (existing && (owner == ent_pk || earlier))
            continue; /* the entitlement holds it already */
        if (!it->has_product)
            return lc_fail(ctx, REASON_INVALID_REQUEST, "lineItems %zu has no product", i + 1);
        const store_product_t *prod = lc__product_in(s.products, s.n_products, &it->product);
        if (prod == NULL)
            return lc__product_fail(ctx, &it->product);
        if (!it->has_count || it->number_of_copies < 1 || it->count_text != NULL) {
            const char *why = it->count_text != NULL ? "must be between 1 and 9223372036854775807" : "must be at least 1";
            /* A generated id was never shown: the line item's place names it. */
            if (it->activation_id == NULL || it->auto_generate)
                return lc_fail(ctx, REASON_INVALID_COUNT, "numberOfCopies of lineItems %zu %s", i + 1, why);
            return lc_fail(ctx, REASON_INVALID_COUNT, "numberOfCopies of line item '%s' %s", aid, why);
        }
        model_state_t item_state = state == STATE_DEPLOYED || e->auto_deploy == OPT_TRUE ? STATE_DEPLOYED
                                                                                          : STATE_DRAFT;
        if (!lc_line_item_state_ok(item_state, state))
            return lc_fail(ctx, REASON_INVALID_STATE,
                           "line item '%s' cannot be added DEPLOYED (autoDeploy) to entitlement '%s', which is "
                           "%s; add it without autoDeploy, or deploy the entitlement", aid, res->entitlement_id,
                           model_state_name(state));
        if (owner != 0 || earlier)
            return lc_fail(ctx, REASON_ACTIVATION_ID_EXISTS, "activationId '%s' is already in use", aid);
        rows[nrows++] = (store_batch_row_t){
            .item = {.entitlement_pk = ent_pk, .product_id = prod->id, .type = ITEM_STANDARD, .state = item_state,
                     .count = it->number_of_copies, .activation_id = aid, .src = it},
            .ent_key = res->entitlement_id,
            .ent_uid = res->unique_id,
            .request_id = ctx->request_id,
            .user = ctx->user,
        };
    }
    *rc = store_batch_insert(c, rows, nrows, "createSimpleEntitlement", ctx->alloc, uids);
    if (*rc == ENT_EEXIST) {
        /* An id was taken after it was read: the unit runs again, and
         * finds which. */
        *rc = ENT_ERETRY;
        return lc_fail(ctx, REASON_ACTIVATION_ID_EXISTS, "an activationId of the request is already in use");
    }
    if (*rc != ENT_OK)
        return lc__db_fail(ctx, *rc, "creating the line items");
    for (size_t i = 0; i < nrows; i++) {
        if (uids[i] == NULL)
            return lc_fail(ctx, REASON_INTERNAL_ERROR, "line item '%s' was not created", rows[i].item.activation_id);
        res->item_unique_ids[res->n_items] = uids[i];
        res->item_activation_ids[res->n_items] = (char *)rows[i].item.activation_id;
        res->n_items++;
    }
    return lc__ok();
}

/* Whether the entitlement itself cannot be created or updated as sent
 * (*o its failure): maintenance line items, which this service does not
 * keep (refused rather than lost), or a field of its own refused. Its line
 * items' problems stop it at that line item (lc__create_items). */
static bool lc__entitlement_refused(const lc_ctx_t *ctx, const model_entitlement_t *e, lc_outcome_t *o)
{
    if (e->has_maintenance)
        *o = lc_fail(ctx, REASON_INVALID_REQUEST, "maintenanceLineItems are not supported");
    else if (e->invalid != NULL && e->invalid_at == SIZE_MAX)
        *o = lc_fail(ctx, REASON_INVALID_REQUEST, "%s", e->invalid);
    else
        return false;
    return true;
}

static lc_outcome_t lc__create_fn(const lc_ctx_t *ctx, db_conn_t *c, const void *arg, int *rc)
{
    const lc_create_arg_t *a = arg;
    const model_entitlement_t *e = a->e;
    model_created_t *res = a->res;
    char generated[IDS_ACTIVATION_ID_LEN + 1];
    const char *eid = e->entitlement_id;
    const char *why;
    long long ent_pk = 0;
    bool existing = false;
    lc_outcome_t refused;
    model_state_t state = e->auto_deploy == OPT_TRUE ? STATE_DEPLOYED : STATE_DRAFT;

    *rc = ENT_OK;
    res->n_items = 0;
    if (eid == NULL || e->auto_generate) {
        if (ids_activation_id(generated, sizeof generated) != ENT_OK)
            return lc_fail(ctx, REASON_INTERNAL_ERROR, "could not generate an entitlement id");
        eid = generated;
    } else if (!lc_id_valid(eid, &why)) {
        model_ref_t r = {NULL, eid};
        char name[LC_QUOTE_SIZE];
        return lc_fail(ctx, REASON_INVALID_ENTITLEMENT_ID, "entitlementId '%s' %s",
                       lc__name(&r, name), why);
    } else if (e->repeated_id) {
        model_ref_t r = {NULL, eid};
        char name[LC_QUOTE_SIZE];
        return lc_fail(ctx, REASON_DUPLICATE_IN_REQUEST, "entitlementId '%s' appears more than once in the request",
                       lc__name(&r, name));
    }

    if (a->op != CREATE_ONLY) {
        store_entitlement_t found = {0};
        model_ref_t ref = {NULL, eid};
        *rc = store_find_entitlement(c, &ref, true, ctx->alloc, &found);
        if (*rc == ENT_OK) {
            existing = true;
            ent_pk = found.id;
            res->unique_id = found.unique_id;
            res->entitlement_id = found.entitlement_id;
            /* Skipped as success, whatever the rest of it says (the
             * contract's words); nothing of it is looked at, so nothing of
             * it fails. */
            if (a->op == CREATE_OR_IGNORE)
                return lc__ok();
            if (lc__entitlement_refused(ctx, e, &refused))
                return refused;
            if (!lc_entitlement_updatable(found.state))
                return lc_fail(ctx, REASON_INVALID_STATE,
                               "entitlement '%s' is %s and cannot be updated (OBSOLETE is final)",
                               found.entitlement_id, model_state_name(found.state));
            /* Its own fields, when any is given: updated and audited as
             * every applied change is (line items added are audited with
             * their rows). */
            if (e->description || e->sold_to || e->ship_to_email || e->ship_to_address ||
                e->email_template_variation || e->allow_portal_login != OPT_UNSET || e->attributes_json) {
                if ((*rc = store_update_entitlement(c, ent_pk, e)) != ENT_OK)
                    return lc__db_fail(ctx, *rc, "updating the entitlement");
                store_audit_t audit = {ctx->request_id, ctx->user, "createSimpleEntitlement", found.entitlement_id,
                                       found.unique_id, NULL, NULL, NULL, "fields updated (CREATE_OR_UPDATE)"};
                if ((*rc = store_audit(c, &audit)) != ENT_OK)
                    return lc__db_fail(ctx, *rc, "writing the audit trail");
            }
            state = found.state;
            if (e->auto_deploy == OPT_TRUE && state == STATE_DRAFT) {
                /* autoDeploy makes the entitlement and its line items
                 * DEPLOYED (the contract): a draft one is deployed as
                 * setEntitlementState would, its draft line items with it. */
                model_state_t from[STATE_COUNT_], cascade_to;
                size_t nf = lc_entitlement_cascade(state, STATE_DEPLOYED, from, &cascade_to);
                if ((*rc = store_set_entitlement_state(c, ent_pk, state, STATE_DEPLOYED, from, nf, cascade_to,
                                                       NULL)) != ENT_OK)
                    return lc__db_fail(ctx, *rc, "deploying the entitlement");
                store_audit_t audit = {ctx->request_id, ctx->user, "createSimpleEntitlement", found.entitlement_id,
                                       found.unique_id, NULL, NULL, NULL, "DRAFT -> DEPLOYED (autoDeploy)"};
                if ((*rc = store_audit(c, &audit)) != ENT_OK)
                    return lc__db_fail(ctx, *rc, "writing the audit trail");
                state = STATE_DEPLOYED;
            }
        } else if (*rc != ENT_ENOTFOUND) {
            return lc__db_fail(ctx, *rc, "looking up the entitlement");
        }
        *rc = ENT_OK;
    }

    if (!existing) {
        if (lc__entitlement_refused(ctx, e, &refused))
            return refused;
        *rc = store_insert_entitlement(c, e, eid, state, ctx->user, ctx->alloc, &ent_pk, &res->unique_id);
        if (*rc == ENT_EEXIST) {
            /* With an opType, a concurrent request made it after our look:
             * the unit again (lc__run) finds it and ignores or updates it,
             * as it would have one request later. */
            *rc = a->op != CREATE_ONLY && !e->auto_generate && e->entitlement_id != NULL ? ENT_ERETRY : ENT_OK;
            return lc_fail(ctx, REASON_ENTITLEMENT_EXISTS, "entitlementId '%s' is already in use", eid);
        }
        if (*rc != ENT_OK)
            return lc__db_fail(ctx, *rc, "creating the entitlement");
        res->entitlement_id = ent_strdup(ctx->alloc, eid);
    }

    if (e->n_items == 0 && !existing) {
        store_audit_t audit = {ctx->request_id, ctx->user, "createSimpleEntitlement",
                               res->entitlement_id, res->unique_id, NULL, NULL, NULL, NULL};
        if ((*rc = store_audit(c, &audit)) != ENT_OK)
            return lc__db_fail(ctx, *rc, "writing the audit trail");
    }
    return lc__create_items(ctx, c, e, ent_pk, existing, state, res, rc);
}

lc_outcome_t lc_create_entitlement(const lc_ctx_t *ctx, model_create_op_t op,
                                   const model_entitlement_t *e, model_created_t *result)
{
    memset(result, 0, sizeof *result);
    result->item_unique_ids = ent_calloc(ctx->alloc, e->n_items + 1, sizeof(char *));
    result->item_activation_ids = ent_calloc(ctx->alloc, e->n_items + 1, sizeof(char *));
    if (result->item_unique_ids == NULL || result->item_activation_ids == NULL)
        return lc_fail(ctx, REASON_INTERNAL_ERROR, "out of memory");
    lc_create_arg_t arg = {op, e, result};
    return lc__run(ctx, lc__create_fn, &arg);
}

/* Queries: one read-only statement each, no transaction of their own. */

lc_outcome_t lc_search(const lc_ctx_t *ctx, const model_query_t *q, size_t max_bytes, model_found_t **found,
                       size_t *n)
{
    db_conn_t *c = NULL;
    int rc = db_pool_acquire(ctx->pool, &c);
    if (rc != ENT_OK)
        return lc__db_fail(ctx, rc, "acquiring a connection");
    rc = query_search(c, q, ctx->alloc, max_bytes, found, n);
    if (rc == ENT_EDBDOWN && db_conn_reset(c) == ENT_OK) /* a read: safe to repeat */
        rc = query_search(c, q, ctx->alloc, max_bytes, found, n);
    db_pool_release(ctx->pool, c);
    if (rc == ENT_ETOOBIG)
        return lc_fail(ctx, REASON_RESPONSE_TOO_LARGE,
                       "the entitlements of this page take more than %zu MiB; ask for a smaller batchSize",
                       max_bytes >> 20);
    return rc == ENT_OK ? lc__ok() : lc__db_fail(ctx, rc, "searching");
}

lc_outcome_t lc_count(const lc_ctx_t *ctx, const model_query_t *q, long long *count)
{
    db_conn_t *c = NULL;
    int rc = db_pool_acquire(ctx->pool, &c);
    if (rc != ENT_OK)
        return lc__db_fail(ctx, rc, "acquiring a connection");
    rc = query_count(c, q, ctx->alloc, count);
    if (rc == ENT_EDBDOWN && db_conn_reset(c) == ENT_OK) /* a read: safe to repeat */
        rc = query_count(c, q, ctx->alloc, count);
    db_pool_release(ctx->pool, c);
    return rc == ENT_OK ? lc__ok() : lc__db_fail(ctx, rc, "counting");
}

/* setEntitlementState, setLineItemState, deleteEntitlement */

typedef struct lc_state_arg {
    const model_ref_t *ref;
    model_state_t state;
    bool include_children;
} lc_state_arg_t;

static lc_outcome_t lc__ent_state_fn(const lc_ctx_t *ctx, db_conn_t *c, const void *arg, int *rc)
{
    const lc_state_arg_t *a = arg;
    store_entitlement_t e = {0};
    model_state_t from[STATE_COUNT_], cascade_to;
    lc_outcome_t fail;

    *rc = lc__find_entitlement(ctx, c, a->ref, true, &e, &fail);
    if (*rc == ENT_ENOTFOUND) {
        *rc = ENT_OK;
        return fail;
    }
    if (*rc != ENT_OK)
        return lc__db_fail(ctx, *rc, "looking up the entitlement");
    if (!lc_state_transition_ok(e.state, a->state))
        return lc_fail(ctx, REASON_INVALID_STATE, "entitlement '%s' is %s and cannot become %s",
                       e.entitlement_id, model_state_name(e.state), model_state_name(a->state));
    size_t n = lc_entitlement_cascade(e.state, a->state, from, &cascade_to);
    bool changed = false;
    if ((*rc = store_set_entitlement_state(c, e.id, e.state, a->state, from, n, cascade_to, &changed)) != ENT_OK)
        return lc__db_fail(ctx, *rc, "setting the state");
    if (!changed)
        return lc__ok(); /* the state it has already, and its line items' too: no change to record */
    char detail[64];
    snprintf(detail, sizeof detail, "%s -> %s", model_state_name(e.state), model_state_name(a->state));
    store_audit_t audit = {ctx->request_id, ctx->user, "setEntitlementState", e.entitlement_id,
                           e.unique_id, NULL, NULL, NULL, detail};
    if ((*rc = store_audit(c, &audit)) != ENT_OK)
        return lc__db_fail(ctx, *rc, "writing the audit trail");
    return lc__ok();
}

/* The reason for a stateToSet that is never a target (ACTIVE, ON_HOLD). */
static lc_outcome_t lc__not_settable(const lc_ctx_t *ctx, model_state_t state)
{
    return lc_fail(ctx, REASON_INVALID_STATE,
                   "stateToSet %s cannot be set: ACTIVE and ON_HOLD are accepted in queries only; "
                   "set DEPLOYED, INACTIVE, OBSOLETE or TEST", model_state_name(state));
}

lc_outcome_t lc_set_entitlement_state(const lc_ctx_t *ctx, const model_ref_t *ref, model_state_t state)
{
    if (!lc_state_settable(state))
        return lc__not_settable(ctx, state);
    lc_state_arg_t arg = {ref, state, false};
    return lc__run(ctx, lc__ent_state_fn, &arg);
}

static lc_outcome_t lc__li_state_fn(const lc_ctx_t *ctx, db_conn_t *c, const void *arg, int *rc)
{
    const lc_state_arg_t *a = arg;
    store_li_tree_t t = {0};
    char detail[64];
    lc_outcome_t fail;

    *rc = lc__lock_line_item_tree(ctx, c, a->ref, a->include_children, &t, &fail);
    if (*rc == ENT_ENOTFOUND) {
        *rc = ENT_OK;
        return fail;
    }
    if (*rc != ENT_OK)
        return lc__db_fail(ctx, *rc, "looking up the line item");
    if (!lc_state_transition_ok(t.state, a->state))
        return lc_fail(ctx, REASON_INVALID_STATE, "line item '%s' is %s and cannot become %s",
                       t.activation_id, model_state_name(t.state), model_state_name(a->state));
    if (!lc_line_item_state_ok(a->state, t.ent.state))
        return lc_fail(ctx, REASON_INVALID_STATE,
                       "line item '%s' cannot become %s: its entitlement '%s' is %s, and the line items of an "
                       "INACTIVE or OBSOLETE entitlement cannot be deployed (set the entitlement DEPLOYED instead)",
                       t.activation_id, model_state_name(a->state), t.ent.entitlement_id,
                       model_state_name(t.ent.state));
    /* All or nothing: a child that cannot take the state fails the item.
     * An OBSOLETE child is left as it is, as an entitlement's state leaves
     * its OBSOLETE line items: it is final, and the usual state of a line
     * item that was upgraded or renewed without activations on it, so
     * failing for it would fail most trees of more than one generation. */
    for (size_t k = 0; k < t.n; k++)
        if (t.states[k] != STATE_OBSOLETE && !lc_state_transition_ok(t.states[k], a->state))
            return lc_fail(ctx, REASON_INVALID_STATE, "child line item '%s' of '%s' is %s and cannot become %s",
                           t.aids[k], t.activation_id, model_state_name(t.states[k]), model_state_name(a->state));
    /* Only what changes is written and audited: a line item (or child)
     * in the state asked already is left as it is. */
    if (t.state != a->state) {
        if ((*rc = store_set_line_item_state(c, t.id, a->state)) != ENT_OK)
            return lc__db_fail(ctx, *rc, "setting the state");
        snprintf(detail, sizeof detail, "%s -> %s", model_state_name(t.state), model_state_name(a->state));
        store_audit_t audit = {ctx->request_id, ctx->user, "setLineItemState", t.ent.entitlement_id,
                               t.ent.unique_id, NULL, t.activation_id, t.unique_id, detail};
        if ((*rc = store_audit(c, &audit)) != ENT_OK)
            return lc__db_fail(ctx, *rc, "writing the audit trail");
    }
    for (size_t k = 0; k < t.n; k++) {
        if (t.states[k] == a->state || t.states[k] == STATE_OBSOLETE)
            continue;
        if ((*rc = store_set_line_item_state(c, t.ids[k], a->state)) != ENT_OK)
            return lc__db_fail(ctx, *rc, "setting the state of a child line item");
        snprintf(detail, sizeof detail, "%s -> %s (child)", model_state_name(t.states[k]), model_state_name(a->state));
        store_audit_t ca = {ctx->request_id, ctx->user, "setLineItemState", t.ent.entitlement_id,
                            t.ent.unique_id, t.activation_id, t.aids[k], NULL, detail};
        if ((*rc = store_audit(c, &ca)) != ENT_OK)
            return lc__db_fail(ctx, *rc, "writing the audit trail");
    }
    return lc__ok();
}

lc_outcome_t lc_set_line_item_state(const lc_ctx_t *ctx, const model_ref_t *ref, model_state_t state,
                                    bool include_children)
{
    if (!lc_state_settable(state))
        return lc__not_settable(ctx, state);
    lc_state_arg_t arg = {ref, state, include_children};
    return lc__run(ctx, lc__li_state_fn, &arg);
}

static lc_outcome_t lc__delete_fn(const lc_ctx_t *ctx, db_conn_t *c, const void *arg, int *rc)
{
    const model_ref_t *ref = arg;
    store_entitlement_t e = {0};
    char *aid = NULL;
    model_state_t st;
    lc_outcome_t fail;

    *rc = lc__find_entitlement(ctx, c, ref, true, &e, &fail);
    if (*rc == ENT_ENOTFOUND) {
        *rc = ENT_OK;
        return fail;
    }
    if (*rc != ENT_OK)
        return lc__db_fail(ctx, *rc, "looking up the entitlement");
    if (e.state != STATE_DRAFT && e.state != STATE_TEST && e.state != STATE_OBSOLETE)
        return lc_fail(ctx, REASON_INVALID_STATE,
                       "entitlement '%s' is %s; only DRAFT, TEST or OBSOLETE entitlements can be deleted",
                       e.entitlement_id, model_state_name(e.state));
    *rc = store_undeletable_item(c, e.id, ctx->alloc, &aid, &st);
    if (*rc == ENT_OK)
        return lc_fail(ctx, REASON_INVALID_STATE,
                       "line item '%s' of entitlement '%s' is %s; all must be DRAFT, TEST or OBSOLETE",
                       aid, e.entitlement_id, model_state_name(st));
    if (*rc != ENT_ENOTFOUND)
        return lc__db_fail(ctx, *rc, "checking the line items");
    /* Audited first: the change feed (db/005) reads the line items the
     * deletion takes away. */
    store_audit_t audit = {ctx->request_id, ctx->user, "deleteEntitlement", e.entitlement_id, e.unique_id,
                           NULL, NULL, NULL, model_state_name(e.state)};
    if ((*rc = store_audit(c, &audit)) != ENT_OK)
        return lc__db_fail(ctx, *rc, "writing the audit trail");
    if ((*rc = store_delete_entitlement(c, e.id)) != ENT_OK)
        return lc__db_fail(ctx, *rc, "deleting the entitlement");
    return lc__ok();
}

lc_outcome_t lc_delete_entitlement(const lc_ctx_t *ctx, const model_ref_t *ref)
{
    return lc__run(ctx, lc__delete_fn, ref);
}

