#include "batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

/* The text of a column (NULL for SQL NULL); sets *oom when a copy fails,
 * so that the caller answers ENT_ENOMEM rather than reading a NULL as a
 * value that is not there. */
static char *batch__str(const ent_alloc_t *a, const PGresult *r, int row, int col, bool *oom)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    char *v = ent_strdup(a, PQgetvalue(r, row, col));
    if (v == NULL)
        *oom = true;
    return v;
}

static long long batch__ll(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static model_state_t batch__state(const PGresult *r, int row, int col)
{
    int s = model_state_parse(PQgetvalue(r, row, col));
    return s < 0 ? STATE_DRAFT : (model_state_t)s;
}

/* The number of ids in an array's text ("{}", "{7}", "{7,9}"). */
static size_t batch__ids_count(const char *arr)
{
    size_t n = 0;
    for (const char *p = arr; *p != '\0'; p++)
        if (*p >= '0' && *p <= '9' && (p == arr || p[-1] < '0' || p[-1] > '9'))
            n++;
    return n;
}

/* Reads the ids of arr (at most max) as relationships from each of them
 * to product to; returns how many. */
static size_t batch__ids_read(const char *arr, long long to, long long *from_out, long long *to_out, size_t max)
{
    size_t n = 0;
    for (const char *p = arr; *p != '\0' && n < max;) {
        if (*p < '0' || *p > '9') {
            p++;
            continue;
        }
        char *end;
        from_out[n] = strtoll(p, &end, 10);
        to_out[n++] = to;
        p = end;
    }
    return n;
}

/* The products keys names, as the three array parameters of
 * batch_products (v[0..2]); false when out of memory. */
static bool batch__product_params(const store_batch_keys_t *k, const ent_alloc_t *a, const char *v[3])
{
    v[0] = db__text_array(a, k->product_uids, k->n_product_uids);
    v[1] = db__text_array(a, k->product_names, k->n_product_names);
    v[2] = db__text_array(a, k->product_versions, k->n_product_names);
    return v[0] && v[1] && v[2];
}

/* Row row of a batch_products result as a product. */
static void batch__product(const PGresult *r, int row, const ent_alloc_t *a, store_product_t *p, bool *oom)
{
    p->id = batch__ll(r, row, 0);
    p->unique_id = batch__str(a, r, row, 1, oom);
    p->name = batch__str(a, r, row, 2, oom);
    p->version = batch__str(a, r, row, 3, oom);
}

/* Whether every locked parent (rows of STMT_BATCH_PARENTS) belongs to an
 * entitlement locked before it (rows of STMT_BATCH_PARENT_ENTS, in id
 * order). A parent created between the two statements may not; it is then
 * held without its entitlement, against the lock order. */
static bool batch__parents_covered(const PGresult *ents, const PGresult *parents)
{
    int n = PQntuples(ents);
    for (int i = 0; i < PQntuples(parents); i++) {
        long long want = batch__ll(parents, i, 8);
        int lo = 0, hi = n;
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            if (batch__ll(ents, mid, 0) < want)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == n || batch__ll(ents, lo, 0) != want)
            return false;
    }
    return true;
}

int store_batch_lock_parents(db_conn_t *c, const store_batch_keys_t *k, const ent_alloc_t *a)
{
    char *paids = db__text_array(a, k->parent_aids, k->n_parent_aids);
    char *puids = db__text_array(a, k->parent_uids, k->n_parent_uids);
    size_t failed_at;
    int rc;

    if (!paids || !puids)
        return ENT_ENOMEM;
    const char *v[2] = {paids, puids};
    db_call_t calls[] = {
        {STMT_BATCH_PARENT_ENTS, 2, v, NULL},
        {STMT_BATCH_PARENTS, 2, v, NULL},
    };
    if ((rc = db__pipeline(c, calls, 2, &failed_at)) != ENT_OK)
        return rc;
    if (!batch__parents_covered(calls[0].res, calls[1].res))
        rc = db__conflict(c, "a parent line item appeared while the entitlements were being locked");
    PQclear(calls[0].res);
    PQclear(calls[1].res);
    return rc;
}

int store_batch_read(db_conn_t *c, const store_batch_keys_t *k, const ent_alloc_t *a, store_batch_snapshot_t *out)
{
    char *paids = db__text_array(a, k->parent_aids, k->n_parent_aids);
    char *puids = db__text_array(a, k->parent_uids, k->n_parent_uids);
    char *ekeys = db__text_array(a, k->ent_keys, k->n_ent_keys);
    char *euids = db__text_array(a, k->ent_uids, k->n_ent_uids);
    char *naids = db__text_array(a, k->new_aids, k->n_new_aids);
    const char *v_products[4] = {NULL, NULL, NULL, k->kind};
    size_t failed_at;
    bool oom = false;
    int rc;

    if (!batch__product_params(k, a, v_products) || !paids || !puids || !ekeys || !euids || !naids)
        return ENT_ENOMEM;
    const char *v_parents[2] = {paids, puids};
    const char *v_ents[2] = {ekeys, euids};
    const char *v_existing[1] = {naids};
    /* The parents' entitlements are locked before the parents: the lock
     * order of stmt.c. */
    db_call_t calls[] = {
        {DB_CALL_BEGIN, 0, NULL, NULL},
        {STMT_BATCH_PARENT_ENTS, 2, v_parents, NULL},
        {STMT_BATCH_PARENTS, 2, v_parents, NULL},
        {STMT_BATCH_PRODUCTS, 4, v_products, NULL},
        {STMT_BATCH_ENTITLEMENTS, 2, v_ents, NULL},
        {STMT_BATCH_EXISTING, 1, v_existing, NULL},
        /* Kept by the connection, for a COMMIT left unanswered. */
        {STMT_XACT_ID, 0, NULL, NULL},
    };
    memset(out, 0, sizeof *out);
    if ((rc = db__pipeline(c, calls, sizeof calls / sizeof calls[0], &failed_at)) != ENT_OK) {
        db_rollback(c);
        return rc;
    }

    if (!batch__parents_covered(calls[1].res, calls[2].res)) {
        for (size_t i = 1; i < sizeof calls / sizeof calls[0]; i++)
            PQclear(calls[i].res);
        db_rollback(c);
        return db__conflict(c, "a parent line item appeared while the entitlements were being locked");
    }
    PGresult *r = calls[2].res;
    out->n_parents = (size_t)PQntuples(r);
    out->parents = ent_calloc(a, out->n_parents + 1, sizeof *out->parents);
    for (size_t i = 0; out->parents && i < out->n_parents; i++) {
        store_line_item_t *p = &out->parents[i];
        int row = (int)i;
        p->id = batch__ll(r, row, 0);
        p->unique_id = batch__str(a, r, row, 1, &oom);
        p->activation_id = batch__str(a, r, row, 2, &oom);
        p->state = batch__state(r, row, 3);
        p->count = batch__ll(r, row, 4);
        p->product_id = batch__ll(r, row, 5);
        p->is_permanent = PQgetvalue(r, row, 6)[0] == 't';
        p->expiration_date = batch__str(a, r, row, 7, &oom);
        p->entitlement_pk = batch__ll(r, row, 8);
        p->entitlement_uid = batch__str(a, r, row, 9, &oom);
        p->entitlement_id = batch__str(a, r, row, 10, &oom);
        p->entitlement_state = batch__state(r, row, 11);
    }
    r = calls[3].res;
    out->n_products = (size_t)PQntuples(r);
    out->products = ent_calloc(a, out->n_products + 1, sizeof *out->products);
    size_t n_rels = 0;
    for (size_t i = 0; out->products && i < out->n_products; i++) {
        batch__product(r, (int)i, a, &out->products[i], &oom);
        n_rels += batch__ids_count(PQgetvalue(r, (int)i, 4));
    }
    out->rel_from = ent_calloc(a, n_rels + 1, sizeof *out->rel_from);
    out->rel_to = ent_calloc(a, n_rels + 1, sizeof *out->rel_to);
    for (size_t i = 0; out->products && out->rel_from && out->rel_to && i < out->n_products; i++)
        out->n_rels += batch__ids_read(PQgetvalue(r, (int)i, 4), out->products[i].id, out->rel_from + out->n_rels,
                                       out->rel_to + out->n_rels, n_rels - out->n_rels);
    r = calls[4].res;
    out->n_ents = (size_t)PQntuples(r);
    out->ents = ent_calloc(a, out->n_ents + 1, sizeof *out->ents);
    for (size_t i = 0; out->ents && i < out->n_ents; i++) {
        out->ents[i].id = batch__ll(r, (int)i, 0);
        out->ents[i].unique_id = batch__str(a, r, (int)i, 1, &oom);
        out->ents[i].entitlement_id = batch__str(a, r, (int)i, 2, &oom);
        out->ents[i].state = batch__state(r, (int)i, 3);
    }
    r = calls[5].res;
    out->n_existing = (size_t)PQntuples(r);
    out->existing = ent_calloc(a, out->n_existing + 1, sizeof *out->existing);
    for (size_t i = 0; out->existing && i < out->n_existing; i++)
        out->existing[i] = batch__str(a, r, (int)i, 0, &oom);
    for (size_t i = 1; i < sizeof calls / sizeof calls[0]; i++)
        PQclear(calls[i].res);
    if (oom || !out->parents || !out->rel_from || !out->rel_to || !out->products || !out->ents || !out->existing) {
        db_rollback(c);
        return ENT_ENOMEM;
    }
    return ENT_OK;
}

/* new_uids[i] from the (activation id, uniqueId) rows of r, row i matched
 * by its activation id. */
static void batch__own_uids(const PGresult *r, const store_batch_row_t *rows, size_t n, const ent_alloc_t *a,
                            char **new_uids)
{
    for (int row = 0; row < PQntuples(r); row++) {
        const char *aid = PQgetvalue(r, row, 0);
        for (size_t i = 0; i < n; i++)
            if (new_uids[i] == NULL && strcmp(rows[i].item.activation_id, aid) == 0) {
                new_uids[i] = ent_strdup(a, PQgetvalue(r, row, 1));
                break;
            }
    }
}

/* store_batch_write, or with commit false store_batch_insert: the write
 * alone, in the caller's transaction. */
static int batch__write(db_conn_t *c, const store_batch_row_t *rows, size_t n, const store_batch_update_t *ups,
                        size_t n_ups, const char *operation, const ent_alloc_t *a, char **new_uids, bool commit)
{
    size_t failed_at;
    int rc;

    if (n == 0) {
        if (commit)
            db_rollback(c);
        return ENT_OK;
    }
    /* Column arrays, row by row. */
    const char **s[19];
    for (int k = 0; k < 19; k++)
        if ((s[k] = ent_calloc(a, n + 1, sizeof(char *))) == NULL)
            return ENT_ENOMEM;
    long long *ll[5];
    bool *has[3];
    for (int k = 0; k < 5; k++)
        if ((ll[k] = ent_calloc(a, n + n_ups + 1, sizeof(long long))) == NULL)
            return ENT_ENOMEM;
    for (int k = 0; k < 3; k++)
        if ((has[k] = ent_calloc(a, n + 1, sizeof(bool))) == NULL)
            return ENT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const store_new_item_t *it = &rows[i].item;
        const model_line_item_t *src = it->src;
        s[0][i] = it->activation_id;
        ll[0][i] = it->entitlement_pk;
        ll[1][i] = it->product_id;
        has[0][i] = it->product_id != 0;
        ll[2][i] = it->parent_id;
        has[1][i] = it->parent_id != 0;
        s[1][i] = model_item_type_name(it->type);
        s[2][i] = model_state_name(it->state);
        ll[3][i] = it->count;
        s[3][i] = src->description;
        s[4][i] = src->part_number;
        s[5][i] = src->license_model;
        s[6][i] = src->order_id;
        s[7][i] = src->order_line_number;
        s[8][i] = src->start_date;
        s[9][i] = src->expiration_date;
        s[10][i] = src->is_permanent == OPT_TRUE ? "true" : "false";
        ll[4][i] = src->term_duration;
        has[2][i] = src->has_term;
        s[11][i] = src->has_term ? src->term_unit : NULL;
        s[12][i] = src->version_date;
        s[13][i] = rows[i].ent_key;
        s[14][i] = rows[i].ent_uid;
        s[15][i] = rows[i].parent_aid;
        s[16][i] = rows[i].request_id;
        s[17][i] = rows[i].user;
        s[18][i] = src->attributes_json;
    }
    long long *up_id = ent_calloc(a, n_ups + 1, sizeof(long long));
    long long *up_n = ent_calloc(a, n_ups + 1, sizeof(long long));
    const char **up_s = ent_calloc(a, n_ups + 1, sizeof(char *));
    if (!up_id || !up_n || !up_s)
        return ENT_ENOMEM;
    for (size_t i = 0; i < n_ups; i++) {
        up_id[i] = ups[i].id;
        up_n[i] = ups[i].count;
        up_s[i] = model_state_name(ups[i].state);
    }
    const char *v[29] = {
        db__text_array(a, s[0], n), db__ll_array(a, ll[0], NULL, n), db__ll_array(a, ll[1], has[0], n),
        db__ll_array(a, ll[2], has[1], n), db__text_array(a, s[1], n), db__text_array(a, s[2], n),
        db__ll_array(a, ll[3], NULL, n), db__text_array(a, s[3], n), db__text_array(a, s[4], n),
        db__text_array(a, s[5], n), db__text_array(a, s[6], n), db__text_array(a, s[7], n), db__text_array(a, s[8], n),
        db__text_array(a, s[9], n), db__text_array(a, s[10], n), db__ll_array(a, ll[4], has[2], n),
        db__text_array(a, s[11], n), db__text_array(a, s[12], n), db__ll_array(a, up_id, NULL, n_ups),
        db__ll_array(a, up_n, NULL, n_ups), db__text_array(a, up_s, n_ups), db__text_array(a, s[16], n), db__text_array(a, s[17], n), operation,
        db__text_array(a, s[13], n), db__text_array(a, s[14], n), db__text_array(a, s[15], n), db__text_array(a, s[0], n),
        db__text_array(a, s[18], n),
    };
    for (int k = 0; k < 29; k++)
        if (v[k] == NULL)
            return ENT_ENOMEM;
    db_call_t calls[] = {
        {STMT_BATCH_WRITE, 29, v, NULL},
        {DB_CALL_COMMIT, 0, NULL, NULL},
    };
    if (!commit) {
        if ((rc = db__exec(c, STMT_BATCH_WRITE, 29, v, &calls[0].res)) != ENT_OK)
            return rc;
    } else if ((rc = db__pipeline(c, calls, 2, &failed_at)) != ENT_OK) {
        db_rollback(c);
        return rc;
    }
    batch__own_uids(calls[0].res, rows, n, a, new_uids);
    PQclear(calls[0].res);
    return ENT_OK;
}

int store_batch_uids(db_conn_t *c, const store_batch_row_t *rows, size_t n, const ent_alloc_t *a, char **new_uids)
{
    const char **aids = ent_calloc(a, n + 1, sizeof *aids);
    PGresult *r = NULL;
    if (aids == NULL)
        return ENT_ENOMEM;
    for (size_t i = 0; i < n; i++)
        aids[i] = rows[i].item.activation_id;
    const char *v[1] = {db__text_array(a, aids, n)};
    if (v[0] == NULL)
        return ENT_ENOMEM;
    int rc = db__exec_sql(c, "SELECT activation_id, unique_id FROM line_items WHERE activation_id = ANY ($1::text[])",
                          1, v, &r);
    if (rc != ENT_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        new_uids[i] = NULL;
    batch__own_uids(r, rows, n, a, new_uids);
    PQclear(r);
    for (size_t i = 0; i < n; i++)
        if (new_uids[i] == NULL)
            return ENT_EDB;
    return ENT_OK;
}

int store_batch_write(db_conn_t *c, const store_batch_row_t *rows, size_t n, const store_batch_update_t *ups,
                      size_t n_ups, const char *operation, const ent_alloc_t *a, char **new_uids)
{
    return batch__write(c, rows, n, ups, n_ups, operation, a, new_uids, true);
}

int store_batch_insert(db_conn_t *c, const store_batch_row_t *rows, size_t n, const char *operation,
                       const ent_alloc_t *a, char **new_uids)
{
    return batch__write(c, rows, n, NULL, 0, operation, a, new_uids, false);
}

int store_create_read(db_conn_t *c, const store_batch_keys_t *k, const ent_alloc_t *a, store_create_snapshot_t *out)
{
    char *aids = db__text_array(a, k->new_aids, k->n_new_aids);
    /* The products' relationships are not wanted: any kind does. */
    const char *v_products[4] = {NULL, NULL, NULL, "UPGRADE"};
    size_t failed_at;
    bool oom = false;
    int rc;

    if (!batch__product_params(k, a, v_products) || !aids)
        return ENT_ENOMEM;
    const char *v_owners[1] = {aids};
    db_call_t calls[] = {
        {STMT_BATCH_PRODUCTS, 4, v_products, NULL},
        {STMT_BATCH_EXISTING, 1, v_owners, NULL},
    };
    memset(out, 0, sizeof *out);
    if ((rc = db__pipeline(c, calls, 2, &failed_at)) != ENT_OK)
        return rc;
    PGresult *r = calls[0].res;
    out->n_products = (size_t)PQntuples(r);
    out->products = ent_calloc(a, out->n_products + 1, sizeof *out->products);
    for (size_t i = 0; out->products && i < out->n_products; i++)
        batch__product(r, (int)i, a, &out->products[i], &oom);
    r = calls[1].res;
    out->n_taken = (size_t)PQntuples(r);
    out->taken = ent_calloc(a, out->n_taken + 1, sizeof *out->taken);
    out->taken_by = ent_calloc(a, out->n_taken + 1, sizeof *out->taken_by);
    for (size_t i = 0; out->taken && out->taken_by && i < out->n_taken; i++) {
        out->taken[i] = batch__str(a, r, (int)i, 0, &oom);
        out->taken_by[i] = batch__ll(r, (int)i, 1);
    }
    PQclear(calls[0].res);
    PQclear(calls[1].res);
    if (oom || !out->products || !out->taken || !out->taken_by)
        return ENT_ENOMEM;
    return ENT_OK;
}
