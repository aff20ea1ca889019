#include "rest_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

static bool rest_store__bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

static void rest_store__copy(char *dst, size_t cap, const PGresult *r, int row, int col)
{
    snprintf(dst, cap, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

int store_idem_claim(db_conn_t *c, const store_idem_t *idem)
{
    PGresult *r = NULL;
    const char *v[3] = {idem->scope, idem->key, idem->hash_hex};
    int rc = db__exec(c, STMT_IDEM_CLAIM, 3, v, &r);
    if (rc == ENT_OK && PQntuples(r) != 1)
        rc = ENT_EEXIST;
    PQclear(r);
    return rc;
}

int store_idem_keep(db_conn_t *c, const store_idem_t *idem)
{
    char status[16];
    snprintf(status, sizeof status, "%d", idem->status);
    const char *v[5] = {idem->scope, idem->key, status, idem->headers, idem->body};
    return db__exec(c, STMT_IDEM_KEEP, 5, v, NULL);
}

int store_idem_get(db_conn_t *c, const char *scope, const char *key, store_idem_hit_t *hit)
{
    PGresult *r = NULL;
    const char *v[2] = {scope, key};
    int rc = db__exec(c, STMT_IDEM_GET, 2, v, &r);
    if (rc == ENT_OK && PQntuples(r) != 1)
        rc = ENT_ENOTFOUND;
    if (rc == ENT_OK) {
        rest_store__copy(hit->hash_hex, sizeof hit->hash_hex, r, 0, 0);
        hit->status = atoi(PQgetvalue(r, 0, 1));
        hit->headers = strdup(PQgetvalue(r, 0, 2));
        hit->body = strdup(PQgetvalue(r, 0, 3));
        if (hit->headers == NULL || hit->body == NULL) {
            free(hit->headers);
            free(hit->body);
            rc = ENT_ENOMEM;
        }
    }
    PQclear(r);
    return rc;
}

/* Whether a group's result holds a true value at (0, col). */
static bool rest_store__group_bool(const db_group_call_t *call, int col)
{
    const char *v = call->res && db_result_rows(call->res) > 0 ? db_result_value(call->res, 0, col) : NULL;
    return v != NULL && (v[0] == 't' || (v[0] >= '1' && v[0] <= '9'));
}

/* A write for a statement group: the call (first, so that its done finds
 * the rest), the caller's callback, and the statement's values, copied
 * into the same block. */
struct store_write {
    db_group_call_t call;
    store_done_fn done;
    void *arg;
    int nflags;
    const char *v[16];
};

static void rest_store__written(db_group_call_t *call)
{
    store_write_t *w = (store_write_t *)call;
    bool flags[STORE_WRITE_FLAGS] = {false};
    for (int i = 0; call->rc == ENT_OK && i < w->nflags; i++)
        flags[i] = rest_store__group_bool(call, i);
    db_result_free(call->res);
    store_done_fn done = w->done;
    void *arg = w->arg;
    int rc = call->rc;
    free(w);
    done(arg, rc, flags);
}

/* Statement stmt with n values (copied; NULLs stay NULL), whose row's
 * first nflags columns are the outcome. */
static store_write_t *rest_store__write(db_stmt_id_t stmt, const char *const *vals, int n, int nflags,
                                        bool has_lock, long long lock_key, store_done_fn done, void *arg)
{
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += vals[i] ? strlen(vals[i]) + 1 : 0;
    store_write_t *w = malloc(sizeof *w + len);
    if (w == NULL)
        return NULL;
    char *p = (char *)(w + 1);
    for (int i = 0; i < n; i++) {
        w->v[i] = NULL;
        if (vals[i] != NULL) {
            size_t k = strlen(vals[i]) + 1;
            memcpy(p, vals[i], k);
            w->v[i] = p;
            p += k;
        }
    }
    memset(&w->call, 0, sizeof w->call);
    w->call.stmt = stmt;
    w->call.n = n;
    w->call.vals = w->v;
    w->call.has_lock = has_lock;
    w->call.lock_key = lock_key;
    w->call.done = rest_store__written;
    w->done = done;
    w->arg = arg;
    w->nflags = nflags;
    return w;
}

void store_write_submit(db_group_t *g, store_write_t *w)
{
    db_group_submit(g, &w->call);
}

void store_write_free(store_write_t *w)
{
    free(w);
}

store_write_t *store_statuslog_post(long long key_id, const char *polling_id, const char *publisher,
                                    const char *request_json, const store_idem_t *idem, store_done_fn done, void *arg)
{
    char kid[24], status[16];
    snprintf(kid, sizeof kid, "%lld", key_id);
    snprintf(status, sizeof status, "%d", idem->status);
    const char *v[10] = {kid, polling_id, publisher, request_json, idem->scope, idem->key, idem->hash_hex,
                         status, idem->headers, idem->body};
    if (idem->key == NULL)
        return rest_store__write(STMT_STATUSLOG_POST, v, 4, 2, false, 0, done, arg);
    return rest_store__write(STMT_STATUSLOG_POST_IDEM, v, 10, 2, false, 0, done, arg);
}

int store_statuslog_poll(db_conn_t *c, long long key_id, const char *polling_id, const char *publisher,
                         int retention_s, bool *key_ok, bool *found, bool *done, char *key, char *message,
                         char *arguments, size_t cap)
{
    char kid[24], ret[16];
    PGresult *r = NULL;
    snprintf(kid, sizeof kid, "%lld", key_id);
    snprintf(ret, sizeof ret, "%d", retention_s);
    const char *v[4] = {kid, polling_id, publisher, ret};
    int rc = db__exec(c, STMT_STATUSLOG_POLL, 4, v, &r);
    if (rc == ENT_OK) {
        *key_ok = rest_store__bool(r, 0, 0);
        *found = !PQgetisnull(r, 0, 1);
        *done = rest_store__bool(r, 0, 2);
        rest_store__copy(key, cap, r, 0, 3);
        rest_store__copy(message, cap, r, 0, 4);
        rest_store__copy(arguments, cap, r, 0, 5);
    }
    PQclear(r);
    return rc;
}

int store_statuslog_publisher(db_conn_t *c, const char *polling_id, char *publisher, size_t cap)
{
    PGresult *r = NULL;
    const char *v[1] = {polling_id};
    int rc = db__exec(c, STMT_STATUSLOG_PUBLISHER, 1, v, &r);
    if (rc == ENT_OK && PQntuples(r) != 1)
        rc = ENT_ENOTFOUND;
    if (rc == ENT_OK)
        rest_store__copy(publisher, cap, r, 0, 0);
    PQclear(r);
    return rc;
}

struct store_rows {
    PGresult *res;
};

void store_rows_free(store_rows_t *rows)
{
    if (rows != NULL) {
        PQclear(rows->res);
        free(rows);
    }
}

int store_statuslog_read(db_conn_t *c, const long long *ids, size_t n, store_statuslog_t *out, size_t *nout,
                         store_rows_t **rows)
{
    PGresult *r = NULL;
    char *arr = db__ll_array(&db__heap, ids, NULL, n);
    *nout = 0;
    *rows = NULL;
    if (arr == NULL)
        return ENT_ENOMEM;
    const char *v[1] = {arr};
    int rc = db__exec(c, STMT_STATUSLOG_READ, 1, v, &r);
    free(arr);
    if (rc != ENT_OK)
        return rc;
    if ((*rows = malloc(sizeof **rows)) == NULL) {
        PQclear(r);
        return ENT_ENOMEM;
    }
    (*rows)->res = r;
    /* (libpq gives "" for a NULL.) */
    for (int i = 0; i < PQntuples(r) && *nout < n; i++) {
        store_statuslog_t *s = &out[(*nout)++];
        /* Columns 1.. of STMT_STATUSLOG_READ, in this order. */
        const char **text[] = {&s->publisher, &s->device_id, &s->id_type, &s->device_class,
                               &s->platform, &s->language, &s->status_code, &s->status_reason,
                               &s->update_id, &s->update_name, &s->package_id, &s->timestamp};
        s->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        for (int k = 0; k < (int)(sizeof text / sizeof *text); k++)
            *text[k] = PQgetvalue(r, i, k + 1);
    }
    return ENT_OK;
}

static const char *rest_store__opt(const char *s)
{
    return s[0] ? s : NULL;
}

int store_statuslog_record(db_conn_t *c, const store_statuslog_t *logs, const store_statuslog_result_t *res,
                           size_t n)
{
    enum { NV = 17 };
    char ids[STORE_STATUSLOG_BATCH][24];
    const char *v[STORE_STATUSLOG_BATCH][NV];
    db_call_t calls[STORE_STATUSLOG_BATCH];
    size_t failed_at;

    if (n > STORE_STATUSLOG_BATCH)
        return ENT_EINVAL;
    if (n == 0)
        return ENT_OK;
    for (size_t i = 0; i < n; i++) {
        const store_statuslog_t *s = &logs[i];
        snprintf(ids[i], sizeof ids[i], "%lld", s->id);
        const char *row[NV] = {ids[i], res[i].record ? "true" : "false", s->publisher, s->id_type, s->device_id,
                               s->device_class, rest_store__opt(s->platform), rest_store__opt(s->language),
                               s->status_code, rest_store__opt(s->status_reason), rest_store__opt(s->update_id),
                               rest_store__opt(s->update_name), rest_store__opt(s->package_id),
                               rest_store__opt(s->timestamp), res[i].key, res[i].message, res[i].arguments};
        memcpy(v[i], row, sizeof row);
        calls[i] = (db_call_t){STMT_STATUSLOG_RECORD, NV, v[i], NULL};
    }
    int rc = db__pipeline(c, calls, n, &failed_at);
    for (size_t i = 0; rc == ENT_OK && i < n; i++)
        PQclear(calls[i].res);
    return rc;
}

int store_statuslog_fail(db_conn_t *c, long long id, const char *key, const char *message, const char *arguments)
{
    char idt[24];
    snprintf(idt, sizeof idt, "%lld", id);
    const char *v[4] = {idt, key, message, arguments};
    return db__exec_sql(c,
                        "UPDATE status_logs SET done = true, done_at = now(), result_key = $2, result_message = $3, "
                        "result_arguments = $4 WHERE id = $1 AND NOT done",
                        4, v, NULL);
}

store_write_t *store_device_report(const store_report_t *rp, const store_idem_t *idem, store_done_fn done, void *arg)
{
    char tid[24], latest[24], status[16];
    snprintf(tid, sizeof tid, "%lld", rp->token_id);
    snprintf(latest, sizeof latest, "%lld", rp->latest_ms);
    snprintf(status, sizeof status, "%d", idem->status);
    const char *v[15] = {tid, rp->tenant, rp->device_id, rp->session_id, rp->source_id, rp->stamp_hex, latest,
                         rp->nodes_json, idem->scope, idem->key, idem->hash_hex,
                         status, idem->headers, idem->body, rp->node_ids};
    bool keyed = idem->key != NULL;
    if (!keyed)
        v[8] = rp->node_ids; /* the plain statement's $9 */
    /* Reports of one device run one after the other, and a group takes
     * its devices' locks in key order: two groups never wait for each
     * other's device rows in a cycle. */
    char key[2 * 1024 + 2];
    int kl = snprintf(key, sizeof key, "%s/%s", rp->tenant, rp->device_id);
    long long lock = db_group_lock_key(key, kl < 0 ? 0 : (size_t)kl < sizeof key ? (size_t)kl : sizeof key - 1);
    return rest_store__write(keyed ? STMT_DEVICE_REPORT_IDEM : STMT_DEVICE_REPORT, v, keyed ? 15 : 9, 3, true, lock,
                             done, arg);
}

int store_device_get(db_conn_t *c, long long token_id, const char *tenant, const char *device_id, bool *token_ok,
                     bool *found, char **nodes_json, char *session, char *source, size_t cap, long long *latest_ms)
{
    char tid[24];
    PGresult *r = NULL;
    snprintf(tid, sizeof tid, "%lld", token_id);
    const char *v[3] = {tid, tenant, device_id};
    *nodes_json = NULL;
    int rc = db__exec(c, STMT_DEVICE_GET, 3, v, &r);
    if (rc != ENT_OK)
        return rc;
    *token_ok = rest_store__bool(r, 0, 0);
    *found = !PQgetisnull(r, 0, 1);
    if (*found) {
        rest_store__copy(session, cap, r, 0, 1);
        rest_store__copy(source, cap, r, 0, 2);
        *latest_ms = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
        *nodes_json = strdup(PQgetisnull(r, 0, 5) ? "[]" : PQgetvalue(r, 0, 5));
        if (*nodes_json == NULL)
            rc = ENT_ENOMEM;
    }
    PQclear(r);
    return rc;
}

int store_device_summary(db_conn_t *c, long long token_id, const char *tenant, bool *token_ok, char **json)
{
    static const char sql[] =
        /* The releases of each device's nodes, each node as the newest
         * report that named it holds it (DB_DEVICE_NODES), read once for
         * both counts. */
        "WITH " DB_DEVICE_NODES("SELECT d.latest_report AS rid, i AS id, d.device_id FROM devices d, "
                                "unnest(d.latest_ids) i WHERE d.tenant = $2 UNION ALL SELECT "
                                "(e.value->>1)::bigint, e.key, d.device_id FROM devices d, "
                                "jsonb_each(d.older_nodes) e WHERE d.tenant = $2")
        ", rel AS MATERIALIZED (SELECT w.device_id, r FROM h JOIN w ON h.rid = w.rid AND h.n->>'id' = w.id, "
        "jsonb_array_elements(coalesce(h.n->'releases', '[]')) r) "
        "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE id = $1 AND revoked_at IS NULL), json_build_object("
        "'tenantId', $2::text, "
        "'devices', (SELECT count(*) FROM devices WHERE tenant = $2), "
        "'releases', coalesce((SELECT json_agg(json_build_object('category', x.cat, 'version', x.ver, "
        "'devices', x.cnt) ORDER BY x.cat, x.ver) FROM (SELECT r->>'category' AS cat, r->>'version' AS ver, "
        "count(DISTINCT device_id) AS cnt FROM rel GROUP BY 1, 2) x), '[]'::json), "
        "'packageStatus', coalesce((SELECT json_agg(json_build_object('code', y.code, 'devices', y.cnt) "
        "ORDER BY y.code NULLS LAST) FROM (SELECT p->'status'->>'code' AS code, count(DISTINCT device_id) AS cnt "
        "FROM rel, jsonb_array_elements(coalesce(r->'packages', '[]')) p GROUP BY 1) y), '[]'::json)"
        ")::text";
    char tid[24];
    PGresult *r = NULL;
    snprintf(tid, sizeof tid, "%lld", token_id);
    const char *v[2] = {tid, tenant};
    *json = NULL;
    int rc = db__exec_sql(c, sql, 2, v, &r);
    if (rc != ENT_OK)
        return rc;
    *token_ok = rest_store__bool(r, 0, 0);
    if ((*json = strdup(PQgetvalue(r, 0, 1))) == NULL)
        rc = ENT_ENOMEM;
    PQclear(r);
    return rc;
}

int store_purge(db_conn_t *c, int retention_s, int limit, long long *deleted)
{
    char ret[16], lim[16];
    PGresult *r = NULL;
    snprintf(ret, sizeof ret, "%d", retention_s);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *v[2] = {ret, lim};
    /* A status log's history row stays: it is the device's history, and
     * names the status log only by number. */
    int rc = db__exec_sql(c,
                          "WITH s AS (DELETE FROM status_logs WHERE id IN (SELECT id FROM status_logs "
                          "WHERE created_at < now() - make_interval(secs => $1::int) ORDER BY created_at LIMIT $2) "
                          "RETURNING 1), i AS (DELETE FROM idempotency_keys WHERE (scope, key) IN (SELECT scope, key "
                          "FROM idempotency_keys WHERE created_at < now() - interval '24 hours' LIMIT $2) RETURNING 1) "
                          "SELECT (SELECT count(*) FROM s) + (SELECT count(*) FROM i)",
                          2, v, &r);
    if (rc == ENT_OK)
        *deleted = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rc;
}
