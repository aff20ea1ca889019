#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

static long long store__ll(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static char *store__str(const ent_alloc_t *a, const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : ent_strdup(a, PQgetvalue(r, row, col));
}

static bool store__bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

static model_state_t store__state(const PGresult *r, int row, int col)
{
    int s = model_state_parse(PQgetvalue(r, row, col));
    return s < 0 ? STATE_DRAFT : (model_state_t)s;
}

static bool store__given(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* The NULL-or-value parameters that name a line item by activation id or
 * (when given, it wins) uniqueId, for the statements that take both. */
static void store__li_key(const model_ref_t *ref, const char *v[2])
{
    bool by_uid = store__given(ref->unique_id);
    v[0] = by_uid ? NULL : ref->key;
    v[1] = by_uid ? ref->unique_id : NULL;
}

int store_lock_line_item(db_conn_t *c, const model_ref_t *ref, const ent_alloc_t *a,
                         store_line_item_t *out)
{
    bool by_uid = store__given(ref->unique_id);
    const char *ev[2];
    const char *lv[1] = {by_uid ? ref->unique_id : ref->key};
    size_t failed_at;
    int rc;

    if (!by_uid && !store__given(ref->key))
        return ENT_ENOTFOUND;
    store__li_key(ref, ev);
    /* The entitlement first, then the line item (the lock order of
     * stmt.c), in one round trip. */
    db_call_t calls[] = {
        {STMT_LI_ENT_SHARE, 2, ev, NULL},
        {by_uid ? STMT_LI_LOCK_BY_UID : STMT_LI_LOCK_BY_AID, 1, lv, NULL},
    };
    if ((rc = db__pipeline(c, calls, 2, &failed_at)) != ENT_OK)
        return rc;
    PGresult *e = calls[0].res, *r = calls[1].res;
    if (PQntuples(r) != 1) {
        rc = ENT_ENOTFOUND;
        goto out;
    }
    /* Created between the two statements: its entitlement is not locked. */
    if (PQntuples(e) != 1 || store__ll(e, 0, 0) != store__ll(r, 0, 8)) {
        rc = db__conflict(c, "a line item appeared while its entitlement was being locked");
        goto out;
    }
    out->id = store__ll(r, 0, 0);
    out->unique_id = store__str(a, r, 0, 1);
    out->activation_id = store__str(a, r, 0, 2);
    out->state = store__state(r, 0, 3);
    out->count = store__ll(r, 0, 4);
    out->product_id = store__ll(r, 0, 5);
    out->is_permanent = store__bool(r, 0, 6);
    out->expiration_date = store__str(a, r, 0, 7);
    out->entitlement_pk = store__ll(r, 0, 8);
    out->entitlement_uid = store__str(a, r, 0, 9);
    out->entitlement_id = store__str(a, r, 0, 10);
    out->entitlement_state = store__state(r, 0, 11);
    out->has_term = !PQgetisnull(r, 0, 12);
    out->term_duration = store__ll(r, 0, 12);
    out->term_unit = store__str(a, r, 0, 13);
    if (out->unique_id == NULL || out->activation_id == NULL || out->entitlement_uid == NULL ||
        out->entitlement_id == NULL) {
        rc = ENT_ENOMEM;
        goto out;
    }
    /* Both identifiers given: they must agree. */
    if (by_uid && store__given(ref->key) && strcmp(ref->key, out->activation_id) != 0)
        rc = ENT_ENOTFOUND;
out:
    PQclear(e);
    PQclear(r);
    return rc;
}

int store_lock_line_item_tree(db_conn_t *c, const model_ref_t *ref, bool with_children, const ent_alloc_t *a,
                              store_li_tree_t *out)
{
    bool by_uid = store__given(ref->unique_id);
    const char *v[3];
    size_t failed_at;
    int rc = ENT_OK;

    if (!by_uid && !store__given(ref->key))
        return ENT_ENOTFOUND;
    store__li_key(ref, v);
    v[2] = with_children ? "true" : "false";
    /* With the children, the entitlement is locked FOR UPDATE: no line item
     * of it can then be created or changed by anyone else, so the tree read
     * right after it is complete and stays so. Without, FOR SHARE is
     * enough, as for upgrades. Either way: entitlement, then line items in
     * id order, in one round trip. */
    db_call_t calls[] = {
        {with_children ? STMT_LI_ENT_UPDATE : STMT_LI_ENT_SHARE, 2, v, NULL},
        {STMT_LI_TREE_LOCK, 3, v, NULL},
    };
    if ((rc = db__pipeline(c, calls, 2, &failed_at)) != ENT_OK)
        return rc;
    PGresult *e = calls[0].res, *r = calls[1].res;
    int rows = PQntuples(r), root = -1;
    for (int i = 0; i < rows && root < 0; i++)
        if (strcmp(PQgetvalue(r, i, by_uid ? 1 : 2), by_uid ? ref->unique_id : ref->key) == 0)
            root = i;
    if (root < 0 || (by_uid && store__given(ref->key) && strcmp(ref->key, PQgetvalue(r, root, 2)) != 0)) {
        rc = ENT_ENOTFOUND;
        goto out;
    }
    /* Every line item locked must belong to the entitlement locked first
     * (one created between the two statements may not). */
    for (int i = 0; i < rows && rc == ENT_OK; i++)
        if (PQntuples(e) != 1 || store__ll(e, 0, 0) != store__ll(r, i, 4))
            rc = db__conflict(c, "a line item appeared while its entitlement was being locked");
    if (rc != ENT_OK)
        goto out;
    out->ent.id = store__ll(e, 0, 0);
    out->ent.unique_id = store__str(a, e, 0, 1);
    out->ent.entitlement_id = store__str(a, e, 0, 2);
    out->ent.state = store__state(e, 0, 3);
    out->id = store__ll(r, root, 0);
    out->unique_id = store__str(a, r, root, 1);
    out->activation_id = store__str(a, r, root, 2);
    out->state = store__state(r, root, 3);
    out->n = 0;
    out->ids = ent_calloc(a, (size_t)rows, sizeof *out->ids);
    out->aids = ent_calloc(a, (size_t)rows, sizeof *out->aids);
    out->states = ent_calloc(a, (size_t)rows, sizeof *out->states);
    if (!out->ent.unique_id || !out->ent.entitlement_id || !out->unique_id || !out->activation_id || !out->ids ||
        !out->aids || !out->states) {
        rc = ENT_ENOMEM;
        goto out;
    }
    for (int i = 0; i < rows; i++) {
        if (i == root)
            continue;
        out->ids[out->n] = store__ll(r, i, 0);
        out->states[out->n] = store__state(r, i, 3);
        if ((out->aids[out->n++] = store__str(a, r, i, 2)) == NULL) {
            rc = ENT_ENOMEM;
            goto out;
        }
    }
out:
    PQclear(e);
    PQclear(r);
    return rc;
}

int store_find_entitlement(db_conn_t *c, const model_ref_t *ref, bool lock, const ent_alloc_t *a,
                           store_entitlement_t *out)
{
    PGresult *r = NULL;
    int rc;
    bool by_uid = store__given(ref->unique_id);
    const char *v[1] = {by_uid ? ref->unique_id : ref->key};
    db_stmt_id_t id = by_uid ? (lock ? STMT_ENT_LOCK_BY_UID : STMT_ENT_BY_UID)
                             : (lock ? STMT_ENT_LOCK_BY_KEY : STMT_ENT_BY_KEY);

    if (!by_uid && !store__given(ref->key))
        return ENT_ENOTFOUND;
    if ((rc = db__exec(c, id, 1, v, &r)) != ENT_OK)
        return rc;
    if (PQntuples(r) != 1) {
        rc = ENT_ENOTFOUND;
        goto out;
    }
    out->id = store__ll(r, 0, 0);
    out->unique_id = store__str(a, r, 0, 1);
    out->entitlement_id = store__str(a, r, 0, 2);
    out->state = store__state(r, 0, 3);
    if (out->unique_id == NULL || out->entitlement_id == NULL)
        rc = ENT_ENOMEM;
    else if (by_uid && store__given(ref->key) && strcmp(ref->key, out->entitlement_id) != 0)
        rc = ENT_ENOTFOUND;
out:
    PQclear(r);
    return rc;
}

int store_find_product(db_conn_t *c, const model_product_ref_t *ref, long long from_product,
                       const char *kind, long long *id, bool *related)
{
    PGresult *r = NULL;
    char from[24];
    int rc;
    bool by_uid = store__given(ref->unique_id);
    bool by_name = ref->name != NULL && ref->version != NULL;

    if (!by_uid && !by_name)
        return ENT_ENOTFOUND;
    snprintf(from, sizeof from, "%lld", from_product);
    if (kind != NULL) {
        const char *v[5] = {from, kind, by_uid ? ref->unique_id : NULL,
                            by_uid ? NULL : ref->name, by_uid ? NULL : ref->version};
        rc = db__exec(c, STMT_PRODUCT_TARGET, 5, v, &r);
    } else {
        const char *v[3] = {by_uid ? ref->unique_id : NULL, by_uid ? NULL : ref->name,
                            by_uid ? NULL : ref->version};
        rc = db__exec(c, STMT_PRODUCT_FIND, 3, v, &r);
    }
    if (rc != ENT_OK)
        return rc;
    if (PQntuples(r) != 1) {
        rc = ENT_ENOTFOUND;
        goto out;
    }
    if (by_uid && by_name &&
        (strcmp(ref->name, PQgetvalue(r, 0, 1)) != 0 || strcmp(ref->version, PQgetvalue(r, 0, 2)) != 0)) {
        rc = ENT_ENOTFOUND;
        goto out;
    }
    *id = store__ll(r, 0, 0);
    if (related != NULL)
        *related = kind != NULL && store__bool(r, 0, 3);
out:
    PQclear(r);
    return rc;
}

int store_insert_line_item(db_conn_t *c, const store_new_item_t *it, const ent_alloc_t *a,
                           char **unique_id)
{
    const model_line_item_t *s = it->src;
    char ent[24], product[24], parent[24], count[24], term[24];
    const char *perm = s->is_permanent == OPT_UNSET ? NULL : s->is_permanent == OPT_TRUE ? "true" : "false";
    PGresult *r = NULL;
    int rc;

    snprintf(ent, sizeof ent, "%lld", it->entitlement_pk);
    snprintf(product, sizeof product, "%lld", it->product_id);
    snprintf(parent, sizeof parent, "%lld", it->parent_id);
    snprintf(count, sizeof count, "%lld", it->count);
    snprintf(term, sizeof term, "%lld", s->term_duration);
    const char *v[19] = {
        it->activation_id, ent, it->product_id ? product : NULL, it->parent_id ? parent : NULL,
        model_item_type_name(it->type), model_state_name(it->state), count, s->description,
        s->part_number, s->license_model, s->order_id, s->order_line_number, s->start_date,
        s->expiration_date, perm, s->has_term ? term : NULL, s->has_term ? s->term_unit : NULL,
        s->version_date, s->attributes_json,
    };
    if ((rc = db__exec(c, it->inherit ? STMT_LI_INSERT_RENEWAL : STMT_LI_INSERT, 19, v, &r)) != ENT_OK)
        return rc;
    /* No row: the parent to inherit from is gone (the caller holds it
     * locked, so only a caller's mistake gets here). */
    if (PQntuples(r) != 1)
        rc = ENT_ENOTFOUND;
    else if ((*unique_id = store__str(a, r, 0, 0)) == NULL)
        rc = ENT_ENOMEM;
    PQclear(r);
    return rc;
}

int store_update_parent(db_conn_t *c, long long id, long long count, model_state_t state)
{
    char idb[24], countb[24];
    snprintf(idb, sizeof idb, "%lld", id);
    snprintf(countb, sizeof countb, "%lld", count);
    const char *v[3] = {idb, countb, model_state_name(state)};
    return db__exec(c, STMT_LI_UPDATE_PARENT, 3, v, NULL);
}

static const char *store__opt_bool(opt_bool_t b)
{
    return b == OPT_UNSET ? NULL : b == OPT_TRUE ? "true" : "false";
}

int store_insert_entitlement(db_conn_t *c, const model_entitlement_t *e, const char *entitlement_id,
                             model_state_t state, const char *user, const ent_alloc_t *a,
                             long long *id, char **unique_id)
{
    PGresult *r = NULL;
    const char *v[10] = {entitlement_id, e->description, e->sold_to, e->ship_to_email,
                         e->ship_to_address, e->email_template_variation,
                         store__opt_bool(e->allow_portal_login), model_state_name(state),
                         e->attributes_json, user};
    int rc = db__exec(c, STMT_ENT_INSERT, 10, v, &r);
    if (rc != ENT_OK)
        return rc;
    *id = store__ll(r, 0, 0);
    *unique_id = store__str(a, r, 0, 1);
    PQclear(r);
    return *unique_id ? ENT_OK : ENT_ENOMEM;
}

int store_update_entitlement(db_conn_t *c, long long id, const model_entitlement_t *e)
{
    char idb[24];
    snprintf(idb, sizeof idb, "%lld", id);
    const char *v[8] = {idb, e->description, e->sold_to, e->ship_to_email, e->ship_to_address,
                        e->email_template_variation, store__opt_bool(e->allow_portal_login),
                        e->attributes_json};
    return db__exec(c, STMT_ENT_UPDATE, 8, v, NULL);
}

int store_audit(db_conn_t *c, const store_audit_t *a)
{
    const char *v[9] = {a->request_id, a->user, a->operation, a->entitlement_id, a->entitlement_uid,
                        a->parent_activation_id, a->new_activation_id, a->new_unique_id, a->detail};
    return db__exec(c, STMT_AUDIT, 9, v, NULL);
}

int store_user_hash(db_conn_t *c, const char *name, const char *domain, char *hash, size_t hashlen,
                    bool *is_admin)
{
    PGresult *r = NULL;
    const char *v[2] = {name, domain};
    int rc = db__exec(c, STMT_USER_GET, 2, v, &r);
    if (rc != ENT_OK)
        return rc;
    if (PQntuples(r) != 1)
        rc = ENT_ENOTFOUND;
    else if ((size_t)PQgetlength(r, 0, 0) >= hashlen)
        rc = ENT_EINVAL;
    else {
        memcpy(hash, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0) + 1);
        *is_admin = store__bool(r, 0, 1);
    }
    PQclear(r);
    return rc;
}

int store_user_add(db_conn_t *c, const char *name, const char *domain, const char *hash, bool is_admin)
{
    const char *v[4] = {name, domain, hash, is_admin ? "true" : "false"};
    return db__exec(c, STMT_USER_ADD, 4, v, NULL);
}

int store_product_add(db_conn_t *c, const char *name, const char *version)
{
    PGresult *r = NULL;
    const char *v[2] = {name, version};
    int rc = db__exec(c, STMT_PRODUCT_ADD, 2, v, &r);
    if (rc != ENT_OK)
        return rc;
    rc = PQntuples(r) == 1 ? ENT_OK : ENT_EEXIST;
    PQclear(r);
    return rc;
}

int store_product_relate(db_conn_t *c, const char *from_name, const char *from_version,
                         const char *to_name, const char *to_version, const char *kind)
{
    long long id;
    model_product_ref_t from = {NULL, from_name, from_version}, to = {NULL, to_name, to_version};
    int rc;

    if ((rc = store_find_product(c, &from, 0, NULL, &id, NULL)) != ENT_OK ||
        (rc = store_find_product(c, &to, 0, NULL, &id, NULL)) != ENT_OK)
        return rc;
    PGresult *r = NULL;
    const char *v[5] = {from_name, from_version, to_name, to_version, kind};
    if ((rc = db__exec(c, STMT_RELATE, 5, v, &r)) != ENT_OK)
        return rc;
    rc = PQntuples(r) == 1 ? ENT_OK : ENT_EEXIST;
    PQclear(r);
    return rc;
}

int store_set_entitlement_state(db_conn_t *c, long long id, model_state_t was, model_state_t state,
                                const model_state_t *from, size_t n_from, model_state_t cascade_to,
                                bool *changed)
{
    char idb[24], states[160];
    size_t o = 0;
    int rc = ENT_OK;
    bool own = was != state;

    if (changed != NULL)
        *changed = own;
    snprintf(idb, sizeof idb, "%lld", id);
    const char *v[3] = {idb, model_state_name(state), NULL};
    if ((own && (rc = db__exec(c, STMT_ENT_SET_STATE, 2, v, NULL)) != ENT_OK) || n_from == 0)
        return rc;
    /* A text[] literal of state names (fixed words, no quoting needed). */
    states[o++] = '{';
    for (size_t i = 0; i < n_from; i++)
        o += (size_t)snprintf(states + o, sizeof states - o, "%s%s", i ? "," : "", model_state_name(from[i]));
    snprintf(states + o, sizeof states - o, "}");
    const char *cv[3] = {idb, states, model_state_name(cascade_to)};
    PGresult *r = NULL;
    if ((rc = db__exec(c, STMT_LI_CASCADE_STATE, 3, cv, &r)) == ENT_OK && changed != NULL)
        *changed = *changed || strcmp(PQcmdTuples(r), "0") != 0;
    PQclear(r);
    return rc;
}

int store_set_line_item_state(db_conn_t *c, long long id, model_state_t state)
{
    char idb[24];
    snprintf(idb, sizeof idb, "%lld", id);
    const char *v[2] = {idb, model_state_name(state)};
    return db__exec(c, STMT_LI_SET_STATE, 2, v, NULL);
}

int store_undeletable_item(db_conn_t *c, long long id, const ent_alloc_t *a, char **aid,
                           model_state_t *state)
{
    char idb[24];
    PGresult *r = NULL;
    snprintf(idb, sizeof idb, "%lld", id);
    const char *v[1] = {idb};
    int rc = db__exec(c, STMT_ENT_ITEMS_LOCK, 1, v, &r);
    if (rc != ENT_OK)
        return rc;
    rc = ENT_ENOTFOUND;
    for (int i = 0; i < PQntuples(r) && rc == ENT_ENOTFOUND; i++) {
        if (!store__bool(r, i, 2))
            continue;
        *aid = store__str(a, r, i, 0);
        *state = store__state(r, i, 1);
        rc = *aid ? ENT_OK : ENT_ENOMEM;
    }
    PQclear(r);
    return rc;
}

int store_delete_entitlement(db_conn_t *c, long long id)
{
    char idb[24];
    snprintf(idb, sizeof idb, "%lld", id);
    const char *v[1] = {idb};
    return db__exec(c, STMT_ENT_DELETE, 1, v, NULL);
}

int store_date_add(db_conn_t *c, const char *base, long long n, const char *unit, const ent_alloc_t *a,
                   char **out)
{
    char nb[24];
    PGresult *r = NULL;
    snprintf(nb, sizeof nb, "%lld", n);
    const char *v[3] = {base, nb, unit};
    int rc = db__exec(c, STMT_DATE_ADD, 3, v, &r);
    if (rc != ENT_OK)
        return rc;
    *out = store__str(a, r, 0, 0);
    PQclear(r);
    return *out ? ENT_OK : ENT_ENOMEM;
}

int store_audit_trail(db_conn_t *c, const char *eid, void (*row)(void *ctx, const char *const *cols), void *ctx)
{
    PGresult *r = NULL;
    const char *v[1] = {eid};
    int rc = db__exec(c, STMT_AUDIT_TRAIL, 1, v, &r);
    if (rc != ENT_OK)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *cols[8];
        for (int k = 0; k < 8; k++)
            cols[k] = PQgetvalue(r, i, k);
        row(ctx, cols);
    }
    PQclear(r);
    return ENT_OK;
}
