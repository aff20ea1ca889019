/*
 * The batch path of upgradeLicense and upsellLicense (lc_change_batch_begin):
 * the units of one request, or of a commit group of requests (group.h),
 * are read with one pipelined round trip, decided in memory unit by unit in
 * arrival order, and written and committed with a second round trip.
 */
#include <stdint.h>
#include <string.h>

#include "../core/log.h"
#include "lifecycle_int.h"

/* What a unit is decided against, besides the snapshot: its parents by
 * activation id and by uniqueId, and the new activation ids claimed by
 * the units decided so far in the group (units of one request never
 * repeat an id, DUPLICATE_IN_REQUEST is found before, but two requests of
 * one group may, and the later one then finds the id in use, as it would
 * had it run after the other). */
typedef struct lc_lookup {
    lc_index_t by_aid, by_uid, claims;
} lc_lookup_t;

static uint64_t lc__hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

int lc__index_init(lc_index_t *x, size_t n, const ent_alloc_t *a)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    x->mask = cap - 1;
    x->slot = ent_calloc(a, cap, sizeof *x->slot);
    return x->slot ? ENT_OK : ENT_ENOMEM;
}

long lc__index_get(const lc_index_t *x, const char *key)
{
    if (key == NULL)
        return -1;
    for (size_t i = lc__hash(key) & x->mask; x->slot[i].key != NULL; i = (i + 1) & x->mask)
        if (strcmp(x->slot[i].key, key) == 0)
            return x->slot[i].v;
    return -1;
}

void lc__index_put(lc_index_t *x, const char *key, long v)
{
    if (key == NULL)
        return;
    size_t i = lc__hash(key) & x->mask;
    while (x->slot[i].key != NULL) {
        if (strcmp(x->slot[i].key, key) == 0)
            return;
        i = (i + 1) & x->mask;
    }
    x->slot[i] = (lc_index_slot_t){key, v};
}

/* The parent a reference names in the snapshot (index), or -1: by its
 * uniqueId when it has one (the caller checks that a key given too
 * agrees), else by its activationId. */
static long lc__find_parent(const lc_lookup_t *look, const model_ref_t *ref)
{
    return lc_ref_by_unique_id(ref) ? lc__index_get(&look->by_uid, ref->unique_id)
                                    : lc__index_get(&look->by_aid, ref->key);
}

/* As lc__find_parent, for the entitlement. */
static const store_entitlement_t *lc__find_ent(const store_batch_snapshot_t *s, const model_ref_t *ref)
{
    bool by_uid = lc_ref_by_unique_id(ref);
    for (size_t i = 0; i < s->n_ents; i++) {
        const store_entitlement_t *e = &s->ents[i];
        if (by_uid ? strcmp(e->unique_id, ref->unique_id) == 0
                   : ref->key != NULL && strcmp(e->entitlement_id, ref->key) == 0)
            return e;
    }
    return NULL;
}

const store_product_t *lc__product_in(const store_product_t *products, size_t n, const model_product_ref_t *ref)
{
    bool by_uid = ref->unique_id != NULL && ref->unique_id[0] != '\0';
    for (size_t i = 0; i < n; i++) {
        const store_product_t *p = &products[i];
        if (by_uid ? strcmp(p->unique_id, ref->unique_id) != 0
                   : ref->name == NULL || ref->version == NULL || strcmp(p->name, ref->name) != 0 ||
                         strcmp(p->version, ref->version) != 0)
            continue;
        if (by_uid && ref->name != NULL && ref->version != NULL &&
            (strcmp(p->name, ref->name) != 0 || strcmp(p->version, ref->version) != 0))
            return NULL;
        return p;
    }
    return NULL;
}

static bool lc__related(const store_batch_snapshot_t *s, long long from, long long to)
{
    for (size_t i = 0; i < s->n_rels; i++)
        if (s->rel_from[i] == from && s->rel_to[i] == to)
            return true;
    return false;
}

static bool lc__exists(const store_batch_snapshot_t *s, const char *aid)
{
    for (size_t i = 0; i < s->n_existing; i++)
        if (strcmp(s->existing[i], aid) == 0)
            return true;
    return false;
}

/* The keys of every object the units name. */
static int lc__batch_keys(const lc_ctx_t *ctx, lc_op_t op, const model_unit_t *units, size_t n,
                          const lc_outcome_t *outcomes, store_batch_keys_t *k)
{
    size_t total = 0;
    for (size_t u = 0; u < n; u++)
        total += units[u].n_changes;
    memset(k, 0, sizeof *k);
    k->kind = op == LC_UPGRADE ? "UPGRADE" : "UPSELL";
    const char **lists[9];
    for (int i = 0; i < 9; i++)
        if ((lists[i] = ent_calloc(ctx->alloc, total + n + 1, sizeof(char *))) == NULL)
            return ENT_ENOMEM;
    k->parent_aids = lists[0];
    k->parent_uids = lists[1];
    k->product_uids = lists[2];
    k->product_names = lists[3];
    k->product_versions = lists[4];
    k->ent_keys = lists[5];
    k->ent_uids = lists[6];
    k->new_aids = lists[7];
    for (size_t u = 0; u < n; u++) {
        if (outcomes[u].reason != REASON_OK)
            continue;
        const model_unit_t *unit = &units[u];
        if (unit->has_entitlement) {
            if (unit->entitlement.unique_id && unit->entitlement.unique_id[0])
                k->ent_uids[k->n_ent_uids++] = unit->entitlement.unique_id;
            else if (unit->entitlement.key)
                k->ent_keys[k->n_ent_keys++] = unit->entitlement.key;
        }
        for (size_t c = 0; c < unit->n_changes; c++) {
            const model_change_t *ch = &unit->changes[c];
            if (ch->parent.unique_id && ch->parent.unique_id[0])
                k->parent_uids[k->n_parent_uids++] = ch->parent.unique_id;
            else if (ch->parent.key)
                k->parent_aids[k->n_parent_aids++] = ch->parent.key;
            const model_product_ref_t *p = &ch->item.product;
            if (p->unique_id && p->unique_id[0])
                k->product_uids[k->n_product_uids++] = p->unique_id;
            else if (p->name && p->version) {
                k->product_names[k->n_product_names] = p->name;
                k->product_versions[k->n_product_names++] = p->version;
            }
            if (ch->item.activation_id && ch->item.activation_id[0] && !ch->item.auto_generate)
                k->new_aids[k->n_new_aids++] = ch->item.activation_id;
        }
    }
    return ENT_OK;
}

/* Whether a unit names, as a parent, a line item another unit of the same
 * request (or group) creates: only the one-by-one path sees it. */
static bool lc__builds_on_itself(const store_batch_keys_t *k, const ent_alloc_t *a)
{
    lc_index_t fresh;
    if (k->n_parent_aids == 0 || k->n_new_aids == 0)
        return false;
    if (lc__index_init(&fresh, k->n_new_aids, a) != ENT_OK)
        return true; /* out of memory: the callers' careful way */
    for (size_t j = 0; j < k->n_new_aids; j++)
        lc__index_put(&fresh, k->new_aids[j], (long)j);
    for (size_t i = 0; i < k->n_parent_aids; i++)
        if (lc__index_get(&fresh, k->parent_aids[i]) >= 0)
            return true;
    return false;
}

typedef struct lc_undo {
    long idx;
    long long count;
    model_state_t state;
    bool touched;
} lc_undo_t;

/* Applies one unit to the snapshot in memory; on failure restores it.
 * Appends the unit's rows to rows (*n_rows grows only on success). */
static lc_outcome_t lc__batch_unit(const lc_ctx_t *ctx, lc_op_t op, const model_unit_t *unit,
                                   store_batch_snapshot_t *s, const lc_lookup_t *look, bool *touched,
                                   store_batch_row_t *rows, size_t *n_rows, model_unit_result_t *res,
                                   lc_undo_t *undo)
{
    static const model_item_type_t types[] = {ITEM_UPGRADE, ITEM_UPSELL, ITEM_RENEWAL};
    const char *kind = op == LC_UPGRADE ? "UPGRADE" : "UPSELL";
    const store_entitlement_t *ent = NULL;
    size_t n_undo = 0, first_row = *n_rows;
    long first_parent = 0; /* index in s->parents of the first line item's parent */
    lc_outcome_t o = lc__result_init(ctx, unit, res);

    if (o.reason != REASON_OK)
        return o;
    if (unit->has_entitlement &&
        ((ent = lc__find_ent(s, &unit->entitlement)) == NULL || !lc_ref_agrees(&unit->entitlement, ent->entitlement_id)))
        return lc__ref_fail(ctx, REASON_ENTITLEMENT_NOT_FOUND, "entitlement", "entitlementId", &unit->entitlement,
                            ent ? ent->entitlement_id : NULL);
    size_t stop_at = lc_unit_stop_at(unit);
    for (size_t i = 0; i < unit->n_changes && o.reason == REASON_OK; i++) {
        const model_change_t *ch = &unit->changes[i];
        char *aid = NULL;
        long long count;
        /* The line items before it passed, in request order (the units
         * before this one included): its own failure is the unit's. */
        if (i == stop_at) {
            o = lc_unit_stop(ctx, unit);
            break;
        }
        if ((o = lc__activation_id(ctx, &ch->item, &aid)).reason != REASON_OK)
            break;
        long idx = lc__find_parent(look, &ch->parent);
        if (idx < 0 || !lc_ref_agrees(&ch->parent, s->parents[idx].activation_id)) {
            o = lc__ref_fail(ctx, REASON_LINE_ITEM_NOT_FOUND, "line item", "activationId", &ch->parent,
                             idx < 0 ? NULL : s->parents[idx].activation_id);
            break;
        }
        store_line_item_t *parent = &s->parents[idx];
        if (ent != NULL && parent->entitlement_pk != ent->id) {
            o = lc_fail(ctx, REASON_LINE_ITEM_NOT_IN_ENTITLEMENT, "line item '%s' does not belong to entitlement '%s'",
                        parent->activation_id, ent->entitlement_id);
            break;
        }
        /* Without parentEntitlementIdentifier the unit's entitlement is
         * its first parent's: a unit is one entitlement's change, answered
         * under one parentEntitlementIdentifier. */
        if (ent == NULL && i > 0 && parent->entitlement_pk != s->parents[first_parent].entitlement_pk) {
            o = lc_fail(ctx, REASON_LINE_ITEM_NOT_IN_ENTITLEMENT,
                        "line item '%s' belongs to entitlement '%s', not to '%s' as the unit's first parent line "
                        "item does",
                        parent->activation_id, parent->entitlement_id, s->parents[first_parent].entitlement_id);
            break;
        }
        if (i == 0)
            first_parent = idx;
        if (!lc_state_allows_change(parent->state, parent->entitlement_state)) {
            o = lc_fail(ctx, REASON_INVALID_STATE,
                        "line item '%s' is %s in entitlement '%s' (%s); only DEPLOYED or TEST "
                        "line items of an entitlement that is not INACTIVE can be changed",
                        parent->activation_id, model_state_name(parent->state), parent->entitlement_id,
                        model_state_name(parent->entitlement_state));
            break;
        }
        if (!ch->item.has_product) {
            o = lc_fail(ctx, REASON_INVALID_REQUEST, "lineItem %zu has no product", i + 1);
            break;
        }
        const store_product_t *prod = lc__product_in(s->products, s->n_products, &ch->item.product);
        if (prod == NULL) {
            o = lc__product_fail(ctx, &ch->item.product);
            break;
        }
        if (!lc__related(s, parent->product_id, prod->id)) {
            o = lc__unrelated(ctx, kind, parent->activation_id, &ch->item.product);
            break;
        }
        if (!lc_new_count(ch->is_full == OPT_TRUE, ch->item.has_count, ch->item.count_text != NULL,
                          ch->item.number_of_copies, parent->count, &count)) {
            o = lc__count_fail(ctx, ch->is_full == OPT_TRUE, &ch->item, parent->count, parent->activation_id);
            break;
        }
        if (lc__exists(s, aid) || lc__index_get(&look->claims, aid) >= 0) {
            o = lc_fail(ctx, REASON_ACTIVATION_ID_EXISTS, "activationId '%s' is already in use", aid);
            break;
        }
        undo[n_undo++] = (lc_undo_t){idx, parent->count, parent->state, touched[idx]};
        store_batch_row_t *row = &rows[(*n_rows)++];
        row->item = (store_new_item_t){
            .entitlement_pk = parent->entitlement_pk,
            .product_id = prod->id,
            .parent_id = parent->id,
            .type = types[op],
            .state = ch->auto_deploy == OPT_TRUE ? STATE_DEPLOYED : STATE_DRAFT,
            .count = count,
            .activation_id = aid,
            .src = &ch->item,
        };
        row->request_id = ctx->request_id;
        row->user = ctx->user;
        row->ent_key = parent->entitlement_id;
        row->ent_uid = parent->entitlement_uid;
        row->parent_aid = parent->activation_id;
        parent->count -= count;
        if (ch->allow_on_parent != OPT_TRUE)
            parent->state = STATE_OBSOLETE;
        touched[idx] = true;
        model_change_result_t *out = &res->changes[i];
        out->parent_unique_id = parent->unique_id;
        out->parent_activation_id = parent->activation_id;
        out->new_activation_id = aid;
        if (i == 0) {
            res->entitlement_unique_id = parent->entitlement_uid;
            res->entitlement_id = parent->entitlement_id;
        }
    }
    if (o.reason != REASON_OK) {
        while (n_undo > 0) {
            lc_undo_t *u = &undo[--n_undo];
            s->parents[u->idx].count = u->count;
            s->parents[u->idx].state = u->state;
            touched[u->idx] = u->touched;
        }
        *n_rows = first_row;
    }
    return o;
}

/* The keys of a whole group: the members' lists one after the other. */
static int lc__merge_keys(lc_member_t **members, size_t m, const ent_alloc_t *a, store_batch_keys_t *k)
{
    size_t n[8] = {0};
    memset(k, 0, sizeof *k);
    k->kind = members[0]->keys.kind;
    for (size_t i = 0; i < m; i++) {
        const store_batch_keys_t *mk = &members[i]->keys;
        n[0] += mk->n_parent_aids;
        n[1] += mk->n_parent_uids;
        n[2] += mk->n_product_uids;
        n[3] += mk->n_product_names;
        n[4] += mk->n_ent_keys;
        n[5] += mk->n_ent_uids;
        n[6] += mk->n_new_aids;
    }
    if (!(k->parent_aids = ent_calloc(a, n[0] + 1, sizeof(char *))) ||
        !(k->parent_uids = ent_calloc(a, n[1] + 1, sizeof(char *))) ||
        !(k->product_uids = ent_calloc(a, n[2] + 1, sizeof(char *))) ||
        !(k->product_names = ent_calloc(a, n[3] + 1, sizeof(char *))) ||
        !(k->product_versions = ent_calloc(a, n[3] + 1, sizeof(char *))) ||
        !(k->ent_keys = ent_calloc(a, n[4] + 1, sizeof(char *))) ||
        !(k->ent_uids = ent_calloc(a, n[5] + 1, sizeof(char *))) ||
        !(k->new_aids = ent_calloc(a, n[6] + 1, sizeof(char *))))
        return ENT_ENOMEM;
#define LC_APPEND(list, count)                                                   \
    do {                                                                         \
        memcpy(k->list + k->count, mk->list, mk->count * sizeof *k->list);       \
    } while (0)
    for (size_t i = 0; i < m; i++) {
        const store_batch_keys_t *mk = &members[i]->keys;
        LC_APPEND(parent_aids, n_parent_aids);
        k->n_parent_aids += mk->n_parent_aids;
        LC_APPEND(parent_uids, n_parent_uids);
        k->n_parent_uids += mk->n_parent_uids;
        LC_APPEND(product_uids, n_product_uids);
        k->n_product_uids += mk->n_product_uids;
        LC_APPEND(product_names, n_product_names);
        LC_APPEND(product_versions, n_product_names);
        k->n_product_names += mk->n_product_names;
        LC_APPEND(ent_keys, n_ent_keys);
        k->n_ent_keys += mk->n_ent_keys;
        LC_APPEND(ent_uids, n_ent_uids);
        k->n_ent_uids += mk->n_ent_uids;
        LC_APPEND(new_aids, n_new_aids);
        k->n_new_aids += mk->n_new_aids;
    }
#undef LC_APPEND
    return ENT_OK;
}

/* Copies what a member's results borrow from the group's snapshot (and the
 * new uniqueIds, from row *r on) into the member's own allocator: the
 * leader's scratch is gone once the leader's request has answered, which
 * may be before the member answers. */
static void lc__own_results(lc_member_t *mb, char **uids, size_t *r)
{
    /* Out of memory after the COMMIT: the unit is applied but cannot be
     * described, so it is reported as failed with this (static) reason,
     * and logged; it is never run again. */
    static char lost[] = "INTERNAL_ERROR: applied, but the answer could not be built (out of memory)";
    const ent_alloc_t *a = mb->ctx->alloc;
    for (size_t u = 0; u < mb->n; u++) {
        if (mb->preset[u] || mb->outcomes[u].reason != REASON_OK)
            continue;
        model_unit_result_t *res = &mb->results[u];
        bool ok = (res->entitlement_unique_id = ent_strdup(a, res->entitlement_unique_id)) != NULL &&
                  (res->entitlement_id = ent_strdup(a, res->entitlement_id)) != NULL;
        for (size_t ch = 0; ch < res->n_changes; ch++, (*r)++) {
            model_change_result_t *cr = &res->changes[ch];
            ok = ok && (cr->parent_unique_id = ent_strdup(a, cr->parent_unique_id)) != NULL &&
                 (cr->parent_activation_id = ent_strdup(a, cr->parent_activation_id)) != NULL &&
                 (cr->new_unique_id = ent_strdup(a, uids[*r])) != NULL;
        }
        if (!ok) {
            log_error("unit %zu of request %s committed, answer lost: out of memory", u + 1, mb->ctx->request_id);
            mb->outcomes[u] = (lc_outcome_t){REASON_INTERNAL_ERROR, lost};
        }
    }
}

/* One try of a whole group on connection c; returns ENT_OK when every
 * outcome is final (and committed). */
static int lc__batch_try(lc_op_t op, lc_member_t **members, size_t m, const store_batch_keys_t *keys,
                         const ent_alloc_t *a, db_conn_t *c, bool *commit_unknown)
{
    store_batch_snapshot_t snap;
    lc_lookup_t look;
    size_t total = 0, n_rows = 0;
    int rc;

    for (size_t i = 0; i < m; i++)
        total += members[i]->n_changes;
    if ((rc = store_batch_read(c, keys, a, &snap)) != ENT_OK)
        return rc;
    bool *touched = ent_calloc(a, snap.n_parents + 1, sizeof *touched);
    store_batch_row_t *rows = ent_calloc(a, total + 1, sizeof *rows);
    lc_undo_t *undo = ent_calloc(a, total + 1, sizeof *undo);
    if (!touched || !rows || !undo || lc__index_init(&look.claims, total, a) != ENT_OK ||
        lc__index_init(&look.by_aid, snap.n_parents, a) != ENT_OK ||
        lc__index_init(&look.by_uid, snap.n_parents, a) != ENT_OK) {
        db_rollback(c);
        return ENT_ENOMEM;
    }
    for (size_t i = 0; i < snap.n_parents; i++) {
        lc__index_put(&look.by_aid, snap.parents[i].activation_id, (long)i);
        lc__index_put(&look.by_uid, snap.parents[i].unique_id, (long)i);
    }
    for (size_t i = 0; i < m; i++) {
        lc_member_t *mb = members[i];
        for (size_t u = 0; u < mb->n; u++) {
            if (mb->preset[u])
                continue;
            size_t before = n_rows;
            mb->outcomes[u] = lc__batch_unit(mb->ctx, op, &mb->units[u], &snap, &look, touched, rows, &n_rows,
                                             &mb->results[u], undo);
            for (size_t r = before; r < n_rows; r++)
                lc__index_put(&look.claims, rows[r].item.activation_id, 0);
        }
    }
    store_batch_update_t *ups = ent_calloc(a, snap.n_parents + 1, sizeof *ups);
    char **uids = ent_calloc(a, n_rows + 1, sizeof *uids);
    if (!ups || !uids) {
        db_rollback(c);
        return ENT_ENOMEM;
    }
    size_t n_ups = 0;
    for (size_t i = 0; i < snap.n_parents; i++)
        if (touched[i])
            ups[n_ups++] = (store_batch_update_t){snap.parents[i].id, snap.parents[i].count, snap.parents[i].state};
    rc = store_batch_write(c, rows, n_rows, ups, n_ups, op == LC_UPGRADE ? "upgradeLicense" : "upsellLicense", a,
                           uids);
    /* The write and the COMMIT go in one pipeline: a connection lost then
     * may have committed, and must not be tried again; unless the server's
     * own error before the COMMIT says it never ran. */
    *commit_unknown = rc == ENT_EDBDOWN && n_rows > 0 && db_conn_commit_undecided(c);
    if (*commit_unknown) {
        /* The server knows how it ended (the read kept the transaction's
         * id): committed, the new uniqueIds are read back; not, nothing
         * of it stays, and it runs again as a group whose connection was
         * lost before its COMMIT. */
        db_commit_fate_t fate = db_commit_fate(c, LC_FATE_WAIT_MS);
        if (fate == DB_FATE_COMMITTED && store_batch_uids(c, rows, n_rows, a, uids) == ENT_OK) {
            log_warn("connection lost while committing a group of %zu requests; it had committed", m);
            *commit_unknown = false;
            rc = ENT_OK;
        } else if (fate == DB_FATE_ABORTED) {
            log_warn("connection lost while committing a group of %zu requests; it had not committed", m);
            *commit_unknown = false;
        }
    }
    if (rc != ENT_OK)
        return rc;
    /* Committed: hand out the new uniqueIds in row order (members, units
     * and line items were decided in that order). */
    size_t r = 0;
    for (size_t i = 0; i < m; i++)
        lc__own_results(members[i], uids, &r);
    return ENT_OK;
}

static void lc__batch_after(lc_member_t *me, int rc);

/* Writes the members as one transaction (lc_group_run_fn), and makes
 * their outcomes final: a batch that could not be decided runs their
 * units one at a time here, while the group's slot is still taken, so
 * that no later request is decided before them. */
static void lc__batch_run(lc_op_t op, lc_member_t **members, size_t m, const ent_alloc_t *scratch)
{
    store_batch_keys_t keys;
    db_conn_t *c = NULL;
    int rc;

    bool commit_unknown = false;
    for (size_t i = 0; i < m; i++)
        members[i]->commit_unknown = false;
    if ((rc = lc__merge_keys(members, m, scratch, &keys)) != ENT_OK)
        goto out;
    if (m > 1 && lc__builds_on_itself(&keys, scratch)) {
        /* One request names a line item another one creates: each alone,
         * in arrival order, so the later one sees the earlier one's. */
        for (size_t i = 0; i < m; i++)
            lc__batch_run(op, &members[i], 1, scratch);
        return;
    }
    if ((rc = db_pool_acquire(members[0]->ctx->pool, &c)) != ENT_OK)
        goto out;
    for (int attempt = 0; attempt < LC_MAX_RETRIES; attempt++) {
        rc = lc__batch_try(op, members, m, &keys, scratch, c, &commit_unknown);
        if (commit_unknown) {
            log_warn("connection lost while committing a group of %zu requests: outcome unknown", m);
            break;
        }
        if (rc != ENT_ERETRY && !(rc == ENT_EDBDOWN && attempt == 0))
            break;
        /* With the lock order of db/stmt.c a retry should not happen:
         * operators see each one. After the last, the units fall back to
         * the unit path (lc__batch_after). */
        if (rc == ENT_ERETRY && attempt + 1 < LC_MAX_RETRIES)
            log_warn("batch of %zu requests run again (try %d of %d): %s", m, attempt + 2, LC_MAX_RETRIES,
                     lc__retry_cause(c));
        else if (rc == ENT_ERETRY)
            log_warn("batch of %zu requests failed %d tries (%s); its units run one at a time", m,
                     LC_MAX_RETRIES, lc__retry_cause(c));
        /* A server restart since the last request: one more try on a
         * fresh connection (nothing was committed). */
        if (rc == ENT_EDBDOWN && db_conn_reset(c) != ENT_OK)
            break;
    }
    db_pool_release(members[0]->ctx->pool, c);
    if (rc == ENT_OK && m > 1)
        log_debug("commit group of %zu requests", m);
out:
    if (rc != ENT_OK)
        for (size_t i = 0; i < m; i++) {
            members[i]->commit_unknown = commit_unknown;
            lc__batch_after(members[i], rc);
        }
}

/* Makes a member's outcomes final once its batch ran (rc), or could not
 * run: a lost database fails the units the rules accepted; an undecided
 * batch runs them one at a time, each in its own transaction. */
static void lc__batch_after(lc_member_t *me, int rc)
{
    const lc_ctx_t *ctx = me->ctx;
    if (rc == ENT_OK)
        return;
    if (rc == ENT_EDBDOWN || rc == ENT_ETIMEDOUT) {
        for (size_t u = 0; u < me->n; u++) {
            if (me->preset == NULL || me->preset[u])
                continue;
            /* With the COMMIT's fate unknown, a unit the rules refused was
             * not in the write: its reason stands. */
            if (!me->commit_unknown)
                me->outcomes[u] = lc__db_fail(ctx, rc, "running the request");
            else if (me->outcomes[u].reason == REASON_OK)
                me->outcomes[u] = lc__commit_unknown(ctx);
        }
        return;
    }
    /* A group that waited its lock timeout: the units that need the row
     * still locked fail at once, the others are done; the wait is not
     * paid once more per unit. */
    lc_ctx_t nowait = *ctx;
    nowait.lock_nowait = rc == ENT_ELOCKED;
    for (size_t u = 0; u < me->n; u++)
        if (me->preset == NULL || !me->preset[u])
            me->outcomes[u] = lc_change_unit(&nowait, me->op, &me->units[u], &me->results[u]);
}

/* A member whose group has run (its outcomes final: lc__batch_run). */
static void lc__batch_done(lc_member_t *me)
{
    me->done(me->done_arg);
}

lc_pending_t *lc_change_batch_begin(const lc_ctx_t *ctx, lc_op_t op, const model_unit_t *units, size_t n,
                                    model_unit_result_t *results, lc_outcome_t *outcomes, void (*done)(void *arg),
                                    void *arg)
{
    lc_member_t *me = ent_calloc(ctx->alloc, 1, sizeof *me);
    bool *preset = ent_calloc(ctx->alloc, n + 1, sizeof *preset);
    int rc = ENT_ENOMEM;

    if (me == NULL) {
        lc_member_t none = {.ctx = ctx, .op = op, .units = units, .n = n, .results = results, .outcomes = outcomes};
        lc__batch_after(&none, rc);
        return NULL;
    }
    *me = (lc_member_t){.ctx = ctx, .op = op, .units = units, .n = n, .results = results, .outcomes = outcomes,
                        .done = done, .done_arg = arg};
    if (preset != NULL) {
        for (size_t u = 0; u < n; u++) {
            preset[u] = outcomes[u].reason != REASON_OK;
            me->n_changes += units[u].n_changes;
        }
        me->preset = preset;
        rc = lc__batch_keys(ctx, op, units, n, outcomes, &me->keys);
    }
    if (rc == ENT_OK && lc__builds_on_itself(&me->keys, ctx->alloc)) {
        rc = ENT_ERETRY; /* undecided: unit by unit, in order */
    } else if (rc == ENT_OK) {
        if (lc__group_fits(ctx->group, me->n_changes))
            return me;
        lc_change_batch_now(me);
        return NULL;
    }
    lc__batch_after(me, rc);
    return NULL;
}

void lc_change_batch_submit(lc_pending_t *me)
{
    lc__group_submit(me->ctx->group, me, lc__batch_run, lc__batch_done);
}

void lc_change_batch_now(lc_pending_t *me)
{
    lc_member_t *one = me;
    lc__batch_run(me->op, &one, 1, me->ctx->alloc); /* its outcomes final */
}
