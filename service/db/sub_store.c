#include "sub_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/hex.h"
#include "db_int.h"

/* The JSON of one subscription, for the GET. */
#define SUB_STORE_JSON                                                                                        \
    "json_build_object('subscriptionRef', s.ref, 'platformType', s.platform, 'name', s.name, "                 \
    "'global', s.is_global, 'owner', s.owner, "                                                               \
    "'products', (SELECT coalesce(json_agg(json_build_object('subscriptionProductId', sp.product_no, "        \
    "'name', p.name, 'version', p.version) ORDER BY sp.product_no), '[]') "                                   \
    "FROM subscription_products sp JOIN products p ON p.id = sp.product_id WHERE sp.subscription_id = s.id), " \
    "'webhook', CASE WHEN s.webhook_url IS NULL THEN NULL "                                                     \
    "ELSE json_build_object('url', CASE WHEN s.owner = $3 THEN s.webhook_url END) END, "                       \
    "'scheduleMinutes', s.schedule_minutes, "                                                                 \
    "'createdAt', to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))::text"

/* (A webhook's URL is its owner's to see: many carry a token in their
 * path. Other users of a global subscription see that it has one.) */

/* Runs sql, whose parameters are ($1 ref, $2 platform, $3 user, $4 token
 * id) and whose row is (token active, the JSON of the subscription if the
 * caller can see it): *json malloc'd; ENT_EAUTH, ENT_ENOTFOUND. */
static int sub_store__visible_json(db_conn_t *c, const char *sql, const char *platform, const char *ref,
                                   const store_sub_caller_t *who, char **json)
{
    char token_id[24];
    snprintf(token_id, sizeof token_id, "%lld", who->token_id);
    const char *v[4] = {ref, platform, who->user, token_id};
    PGresult *r = NULL;
    int rc = db__exec_sql(c, sql, 4, v, &r);
    *json = NULL;
    if (rc == ENT_OK && PQgetvalue(r, 0, 0)[0] != 't')
        rc = ENT_EAUTH;
    else if (rc == ENT_OK && PQgetisnull(r, 0, 1))
        rc = ENT_ENOTFOUND;
    if (rc == ENT_OK && (*json = strdup(PQgetvalue(r, 0, 1))) == NULL)
        rc = ENT_ENOMEM;
    PQclear(r);
    return rc;
}

int store_sub_create(db_conn_t *c, const store_sub_new_t *s, size_t *missing, char **json)
{
    /* The cursor starts before the first change: with no run before it,
     * the first run collects every change of its products so far (1,000
     * a run), not only those after the subscription was made. */
    static const char sql[] =
        "WITH want AS (SELECT w.no, p.id AS product_id FROM unnest($8::text[], $9::text[]) "
        "WITH ORDINALITY AS w (name, version, no) LEFT JOIN products p ON p.name = w.name AND p.version = w.version), "
        "sub AS (INSERT INTO subscriptions (ref, platform, name, owner, is_global, webhook_url, webhook_secret, "
        "schedule_minutes, next_run_at, cursor_xid, cursor_id) SELECT $1, $2, $3, $4, $5::boolean, $6, "
        "decode($7, 'hex'), $10::int, now() + make_interval(mins => $10::int), '0'::xid8, 0 "
        "WHERE NOT EXISTS (SELECT 1 FROM want WHERE product_id IS NULL) "
        "AND EXISTS (SELECT 1 FROM api_tokens WHERE id = $11::bigint AND revoked_at IS NULL) RETURNING id, ref), "
        "ins AS (INSERT INTO subscription_products (subscription_id, product_no, product_id) "
        "SELECT sub.id, want.no, want.product_id FROM sub, want) "
        "SELECT (SELECT min(no) FROM want WHERE product_id IS NULL), "
        "EXISTS (SELECT 1 FROM api_tokens WHERE id = $11::bigint AND revoked_at IS NULL), "
        "(SELECT json_build_object('subscriptionRef', sub.ref, 'subscriptionProducts', "
        "(SELECT json_agg(json_build_object('subscriptionProductId', w.no, 'name', w.name, 'version', w.version) "
        "ORDER BY w.no) FROM unnest($8::text[], $9::text[]) WITH ORDINALITY AS w (name, version, no)))::text "
        "FROM sub)";
    char *names = db__text_array(&db__heap, s->product_names, s->n_products);
    char *versions = db__text_array(&db__heap, s->product_versions, s->n_products);
    char *hex = s->webhook_url ? malloc(2 * s->secret_len + 1) : NULL;
    char minutes[16], token_id[24];
    PGresult *r = NULL;
    int rc = ENT_ENOMEM;

    *missing = 0;
    *json = NULL;
    if (names == NULL || versions == NULL || (s->webhook_url != NULL && hex == NULL))
        goto out;
    if (hex != NULL)
        hex_encode(s->secret, s->secret_len, hex);
    snprintf(minutes, sizeof minutes, "%d", s->schedule_minutes);
    snprintf(token_id, sizeof token_id, "%lld", s->token_id);
    const char *v[11] = {s->ref,   s->platform, s->name, s->owner, s->is_global ? "true" : "false", s->webhook_url,
                         hex,      names,       versions, s->schedule_minutes > 0 ? minutes : NULL, token_id};
    if ((rc = db__exec_sql(c, sql, 11, v, &r)) != ENT_OK)
        goto out;
    if (PQgetvalue(r, 0, 1)[0] != 't')
        rc = ENT_EAUTH;
    else if (!PQgetisnull(r, 0, 0))
        *missing = (size_t)strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    else if ((*json = strdup(PQgetvalue(r, 0, 2))) == NULL)
        rc = ENT_ENOMEM;
out:
    PQclear(r);
    free(names);
    free(versions);
    free(hex);
    return rc;
}

int store_sub_get(db_conn_t *c, const char *platform, const char *ref, const store_sub_caller_t *who, char **json)
{
    static const char sql[] = "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE id = $4::bigint AND revoked_at IS NULL), "
                              "(SELECT " SUB_STORE_JSON " FROM subscriptions s "
                              "WHERE s.ref = $1 AND s.platform = $2 AND (s.owner = $3 OR s.is_global))";
    return sub_store__visible_json(c, sql, platform, ref, who, json);
}

int store_sub_delete(db_conn_t *c, const char *platform, const char *ref, const store_sub_caller_t *who)
{
    /* One statement: whether it is visible, and the delete if it is owned. */
    static const char sql[] =
        "WITH t AS (SELECT 1 FROM api_tokens WHERE id = $4::bigint AND revoked_at IS NULL), "
        "s AS (SELECT id, owner = $3 AS mine FROM subscriptions "
        "WHERE ref = $1 AND platform = $2 AND (owner = $3 OR is_global) AND EXISTS (SELECT 1 FROM t)), "
        "d AS (DELETE FROM subscriptions WHERE id IN (SELECT id FROM s WHERE mine) RETURNING id) "
        "SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM d), EXISTS (SELECT 1 FROM t), "
        "EXISTS (SELECT 1 FROM s WHERE mine)";
    char token_id[24];
    snprintf(token_id, sizeof token_id, "%lld", who->token_id);
    const char *v[4] = {ref, platform, who->user, token_id};
    PGresult *r = NULL;
    int rc = db__exec_sql(c, sql, 4, v, &r);
    if (rc == ENT_OK) {
        if (PQgetvalue(r, 0, 2)[0] != 't')
            rc = ENT_EAUTH;
        else if (strcmp(PQgetvalue(r, 0, 0), "0") == 0)
            rc = ENT_ENOTFOUND;
        else if (strcmp(PQgetvalue(r, 0, 1), "0") == 0)
            /* Another's global one; or the caller's own, which a
             * concurrent DELETE took first (the statement saw it, its
             * delete found it gone): not there any more. */
            rc = PQgetvalue(r, 0, 3)[0] == 't' ? ENT_ENOTFOUND : ENT_EPERM;
    }
    PQclear(r);
    return rc;
}

int store_sub_list(db_conn_t *c, void (*row)(void *ctx, const char *const *cols), void *ctx)
{
    PGresult *r = NULL;
    int rc = db__exec_sql(c,
                          "SELECT s.ref, s.platform, s.name, s.owner, CASE WHEN s.is_global THEN 't' ELSE 'f' END, "
                          "coalesce((SELECT string_agg(p.name || ' ' || p.version, ', ' ORDER BY sp.product_no) "
                          "FROM subscription_products sp JOIN products p ON p.id = sp.product_id "
                          "WHERE sp.subscription_id = s.id), ''), coalesce(s.webhook_url, ''), "
                          "coalesce(s.schedule_minutes::text, ''), "
                          "to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                          "FROM subscriptions s ORDER BY s.id",
                          0, NULL, &r);
    if (rc != ENT_OK)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *cols[9];
        for (int k = 0; k < 9; k++)
            cols[k] = PQgetvalue(r, i, k);
        row(ctx, cols);
    }
    PQclear(r);
    return ENT_OK;
}

/* Runs and webhook deliveries. */

/* Locks the subscription of run id (FOR NO KEY UPDATE) before anything of
 * the run is: a DELETE of the subscription takes the subscription and
 * then, by its cascade, the run, so a transaction that took the run first
 * and then updated the subscription could wait for it in a cycle (a
 * deadlock, and the DELETE answered 503). ENT_ENOTFOUND when the run or
 * its subscription is gone (deleted, perhaps while this waited). */
static int sub_store__hold(db_conn_t *c, long long id)
{
    static const char sql[] = "SELECT 1 FROM subscriptions WHERE id = "
                              "(SELECT subscription_id FROM subscription_runs WHERE id = $1::bigint) FOR NO KEY UPDATE";
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *v[1] = {ids};
    PGresult *r = NULL;
    int rc = db__exec_sql(c, sql, 1, v, &r);
    if (rc == ENT_OK && PQntuples(r) != 1)
        rc = ENT_ENOTFOUND;
    PQclear(r);
    return rc;
}

int store_sub_trigger(db_conn_t *c, const char *platform, const char *ref, const store_sub_caller_t *who,
                      const char *msg_id, long long *run_id, bool *queued)
{
    /* The pending run of another trigger (the unique index) is this one's.
     * The subscription is held (FOR KEY SHARE) until the run is in: a
     * DELETE that commits meanwhile makes it not found (404), not a run
     * whose subscription is gone (a foreign key error, 500). */
    static const char sql[] =
        "WITH t AS (SELECT 1 FROM api_tokens WHERE id = $4::bigint AND revoked_at IS NULL), "
        "s AS (SELECT id FROM subscriptions "
        "WHERE ref = $1 AND platform = $2 AND (owner = $3 OR is_global) AND EXISTS (SELECT 1 FROM t) FOR KEY SHARE), "
        "r AS (INSERT INTO subscription_runs (subscription_id, trigger, msg_id) SELECT id, 'On-Demand', $5 FROM s "
        "ON CONFLICT (subscription_id) WHERE state = 'pending' DO NOTHING RETURNING id), "
        "j AS (INSERT INTO jobs (kind, ref) SELECT 'subscription.run', id FROM r) "
        "SELECT EXISTS (SELECT 1 FROM t), EXISTS (SELECT 1 FROM s), "
        "coalesce((SELECT id FROM r), (SELECT sr.id FROM subscription_runs sr JOIN s ON sr.subscription_id = s.id "
        "WHERE sr.state = 'pending'), 0), EXISTS (SELECT 1 FROM r)";
    char token_id[24];
    snprintf(token_id, sizeof token_id, "%lld", who->token_id);
    const char *v[5] = {ref, platform, who->user, token_id, msg_id};
    int rc = ENT_OK;
    *run_id = 0;
    *queued = false;
    /* A concurrent trigger's run, committed while this statement waited on
     * the unique index, conflicts but is not in the statement's snapshot:
     * no run of its own and none found. The statement again, with a new
     * snapshot, finds it (or, delivered meanwhile, makes one). */
    for (int attempt = 0; attempt < 3 && rc == ENT_OK && *run_id == 0; attempt++) {
        PGresult *r = NULL;
        rc = db__exec_sql(c, sql, 5, v, &r);
        if (rc == ENT_OK) {
            if (PQgetvalue(r, 0, 0)[0] != 't')
                rc = ENT_EAUTH;
            else if (PQgetvalue(r, 0, 1)[0] != 't')
                rc = ENT_ENOTFOUND;
            else {
                *run_id = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
                *queued = PQgetvalue(r, 0, 3)[0] == 't';
            }
        }
        PQclear(r);
    }
    if (rc == ENT_OK && *run_id == 0)
        rc = ENT_ERETRY;
    return rc;
}

int store_sub_schedule(db_conn_t *c, size_t *n)
{
    /* Due subscriptions, each taken by one daemon (SKIP LOCKED); the next
     * time is counted from now, so a daemon that was down does not queue
     * the runs it missed one after the other. */
    static const char sql[] =
        "WITH due AS (SELECT id, schedule_minutes FROM subscriptions WHERE next_run_at <= now() "
        "AND webhook_url IS NOT NULL ORDER BY next_run_at LIMIT 100 FOR UPDATE SKIP LOCKED), "
        "mv AS (UPDATE subscriptions s SET next_run_at = now() + make_interval(mins => due.schedule_minutes) "
        "FROM due WHERE s.id = due.id), "
        "r AS (INSERT INTO subscription_runs (subscription_id, trigger, msg_id) "
        "SELECT id, 'Scheduled', 'msg_' || md5(random()::text || clock_timestamp()::text || id::text) FROM due "
        "ON CONFLICT (subscription_id) WHERE state = 'pending' DO NOTHING RETURNING id), "
        "j AS (INSERT INTO jobs (kind, ref) SELECT 'subscription.run', id FROM r) "
        "SELECT count(*) FROM r";
    PGresult *r = NULL;
    int rc = db__exec_sql(c, sql, 0, NULL, &r);
    *n = rc == ENT_OK ? (size_t)strtoull(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return rc;
}

int store_run_load(db_conn_t *c, long long id, store_run_t *out)
{
    static const char sql[] =
        "SELECT r.state = 'pending', coalesce(s.webhook_url, ''), coalesce(encode(s.webhook_secret, 'hex'), ''), "
        "r.msg_id, r.body FROM subscription_runs r JOIN subscriptions s ON s.id = r.subscription_id "
        "WHERE r.id = $1::bigint FOR UPDATE OF r";
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *v[1] = {ids};
    PGresult *r = NULL;
    memset(out, 0, sizeof *out);
    out->id = id;
    int rc = sub_store__hold(c, id);
    if (rc == ENT_OK)
        rc = db__exec_sql(c, sql, 1, v, &r);
    if (rc == ENT_OK && PQntuples(r) != 1)
        rc = ENT_ENOTFOUND;
    if (rc == ENT_OK) {
        out->pending = PQgetvalue(r, 0, 0)[0] == 't';
        snprintf(out->url, sizeof out->url, "%s", PQgetvalue(r, 0, 1));
        snprintf(out->msg_id, sizeof out->msg_id, "%s", PQgetvalue(r, 0, 3));
        rc = hex_decode(PQgetvalue(r, 0, 2), out->secret, sizeof out->secret, &out->secret_len);
        if (rc == ENT_OK && !PQgetisnull(r, 0, 4) && (out->body = strdup(PQgetvalue(r, 0, 4))) == NULL)
            rc = ENT_ENOMEM;
    }
    PQclear(r);
    return rc;
}

int store_run_build(db_conn_t *c, long long id, int limit, char **body)
{
    /* The changes after the cursor, in (xid, id) order, of transactions
     * below the snapshot's xmin (all ended); one change per audit row and
     * product, with the line items it touched. A run that takes fewer than
     * limit rows took everything below xmin: its end is (xmin, 0). */
    static const char sql[] =
        "WITH snap AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x), "
        "run AS (SELECT r.id, r.trigger, s.id AS sid, s.ref, s.cursor_xid, s.cursor_id FROM subscription_runs r "
        "JOIN subscriptions s ON s.id = r.subscription_id WHERE r.id = $1::bigint), "
        "ch AS (SELECT c.* FROM run, snap, entitlement_changes c "
        "WHERE c.product_id IN (SELECT product_id FROM subscription_products WHERE subscription_id = run.sid) "
        "AND (c.xid, c.id) > (run.cursor_xid, run.cursor_id) AND c.xid < snap.x "
        "ORDER BY c.xid, c.id LIMIT $2::int), "
        "last AS (SELECT xid, id FROM ch ORDER BY xid DESC, id DESC LIMIT 1), "
        "grp AS (SELECT min(ch.xid) AS xid, min(ch.id) AS id, ch.audit_id, ch.product_id, min(ch.operation) AS operation, "
        "min(ch.entitlement_id) AS entitlement_id, min(ch.at) AS at, "
        "json_agg(ch.activation_id ORDER BY ch.id) AS aids FROM ch GROUP BY ch.audit_id, ch.product_id), "
        "msg AS (SELECT json_build_object('type', 'entitlement.changes', 'subscriptionRef', run.ref, "
        "'runId', run.id, 'trigger', run.trigger, 'changes', coalesce((SELECT json_agg(json_build_object("
        "'operation', g.operation, 'entitlementId', g.entitlement_id, 'activationIds', g.aids, "
        "'productName', p.name, 'productVersion', p.version, "
        "'time', to_char(g.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')) ORDER BY g.xid, g.id) "
        "FROM grp g JOIN products p ON p.id = g.product_id), '[]'))::text AS body, "
        "(SELECT count(*) FROM ch) AS n FROM run), "
        "st AS (UPDATE subscriptions s SET last_trigger = run.trigger, last_trigger_ok = true, last_trigger_at = now() "
        "FROM run WHERE s.id = run.sid AND run.trigger = 'On-Demand') "
        "UPDATE subscription_runs r SET body = msg.body, n_changes = msg.n, "
        "to_xid = CASE WHEN msg.n < $2::int THEN snap.x ELSE (SELECT xid FROM last) END, "
        "to_id = CASE WHEN msg.n < $2::int THEN 0 ELSE (SELECT id FROM last) END "
        "FROM msg, snap WHERE r.id = $1::bigint RETURNING r.body";
    char ids[24], lim[16];
    snprintf(ids, sizeof ids, "%lld", id);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *v[2] = {ids, lim};
    PGresult *r = NULL;
    int rc = db__exec_sql(c, sql, 2, v, &r);
    *body = NULL;
    if (rc == ENT_OK && PQntuples(r) != 1)
        rc = ENT_ENOTFOUND;
    if (rc == ENT_OK && (*body = strdup(PQgetvalue(r, 0, 0))) == NULL)
        rc = ENT_ENOMEM;
    PQclear(r);
    return rc;
}

/* The cursor moved to the end of run (forward only) when cond holds (an
 * SQL condition followed by AND, or nothing). */
#define SUB_STORE_CURSOR(cond)                                                                   \
    "cursor_xid = CASE WHEN " cond " (run.to_xid, run.to_id) > (s.cursor_xid, s.cursor_id) "     \
    "THEN run.to_xid ELSE s.cursor_xid END, "                                                    \
    "cursor_id = CASE WHEN " cond " (run.to_xid, run.to_id) > (s.cursor_xid, s.cursor_id) "      \
    "THEN run.to_id ELSE s.cursor_id END "

/* Runs sql ($1 run id) on the run and its subscription, held first:
 * nothing (ENT_OK) when they are gone, deleted with the subscription. */
static int sub_store__run_write(db_conn_t *c, long long id, const char *sql, int n, const char *const *v)
{
    int rc = sub_store__hold(c, id);
    if (rc == ENT_ENOTFOUND)
        return ENT_OK;
    return rc == ENT_OK ? db__exec_sql(c, sql, n, v, NULL) : rc;
}

int store_run_attempt(db_conn_t *c, long long id, bool delivered, int http_status, const char *detail,
                      int duration_ms, long long started_ms)
{
    /* A scheduled run's trigger succeeded or failed as its post did (the
     * vendor: "Scheduled Success: a successful scheduled subscription
     * event posted to a webhook; Scheduled-Failure: a failed webhook
     * post"); an on-demand one's when its message was built.
     * The cursor only moves forward (a run built before another was
     * delivered may end before it). The post ran with no lock on the run:
     * a run deleted meanwhile (with its subscription) records nothing, and
     * only a run still pending changes state (not one given up meanwhile). */
    static const char sql[] =
        "WITH a AS (INSERT INTO webhook_attempts (run_id, http_status, error, duration_ms, at) "
        "SELECT $1::bigint, $2::int, $3, $4::int, to_timestamp($6::double precision / 1000) "
        "WHERE EXISTS (SELECT 1 FROM subscription_runs WHERE id = $1::bigint)), "
        "run AS (UPDATE subscription_runs SET state = CASE WHEN $5::boolean THEN 'delivered' ELSE state END, "
        "finished_at = CASE WHEN $5::boolean THEN now() END WHERE id = $1::bigint AND state = 'pending' "
        "RETURNING subscription_id, trigger, to_xid, to_id) "
        "UPDATE subscriptions s SET webhook_ok = $5::boolean, webhook_detail = $3, "
        "webhook_at = to_timestamp($6::double precision / 1000), "
        "last_trigger = CASE WHEN run.trigger = 'Scheduled' THEN run.trigger ELSE s.last_trigger END, "
        "last_trigger_ok = CASE WHEN run.trigger = 'Scheduled' THEN $5::boolean ELSE s.last_trigger_ok END, "
        "last_trigger_at = CASE WHEN run.trigger = 'Scheduled' THEN now() ELSE s.last_trigger_at END, "
        SUB_STORE_CURSOR("$5::boolean AND") "FROM run WHERE s.id = run.subscription_id";
    char ids[24], status[16], ms[16], at[24];
    snprintf(ids, sizeof ids, "%lld", id);
    snprintf(status, sizeof status, "%d", http_status);
    snprintf(ms, sizeof ms, "%d", duration_ms);
    snprintf(at, sizeof at, "%lld", started_ms);
    const char *v[6] = {ids, http_status > 0 ? status : NULL, delivered ? NULL : detail, ms,
                        delivered ? "true" : "false", at};
    return sub_store__run_write(c, id, sql, 6, v);
}

int store_run_unposted(db_conn_t *c, long long id)
{
    /* Done as if delivered, with no attempt: the subscription has no
     * webhook. Its cursor moves on as after a post: the run took those
     * changes, and its lastTriggered was set when it was built. */
    static const char sql[] =
        "WITH run AS (UPDATE subscription_runs SET state = 'delivered', finished_at = now() "
        "WHERE id = $1::bigint AND state = 'pending' RETURNING subscription_id, to_xid, to_id) "
        "UPDATE subscriptions s SET " SUB_STORE_CURSOR("") "FROM run WHERE s.id = run.subscription_id";
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *v[1] = {ids};
    return sub_store__run_write(c, id, sql, 1, v);
}

int store_run_giveup(db_conn_t *c, long long id)
{
    static const char sql[] =
        "WITH run AS (UPDATE subscription_runs SET state = 'failed', finished_at = now() "
        "WHERE id = $1::bigint AND state = 'pending' RETURNING subscription_id, trigger) "
        "UPDATE subscriptions s SET last_trigger = run.trigger, last_trigger_ok = false, last_trigger_at = now() "
        "FROM run WHERE s.id = run.subscription_id";
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *v[1] = {ids};
    return sub_store__run_write(c, id, sql, 1, v);
}

int store_sub_status(db_conn_t *c, const char *platform, const char *ref, const store_sub_caller_t *who, char **json)
{
#define SUB_STORE_WHEN(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC'"
    static const char sql[] =
        "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE id = $4::bigint AND revoked_at IS NULL), "
        "(SELECT json_build_object('lastTriggered', CASE WHEN s.last_trigger IS NULL THEN 'Never triggered.' "
        "ELSE s.last_trigger || CASE WHEN s.last_trigger_ok THEN ' Success' "
        "WHEN s.last_trigger = 'Scheduled' THEN '-Failure' ELSE ' Failure' END || '. ' || "
        SUB_STORE_WHEN("s.last_trigger_at") " END, "
        "'webHookStatus', CASE WHEN s.webhook_ok IS NULL THEN 'Never posted.' "
        "WHEN s.webhook_ok THEN 'Success. ' || " SUB_STORE_WHEN("s.webhook_at") " "
        "ELSE 'Failure. ' || coalesce(s.webhook_detail, 'unknown') || '. ' || " SUB_STORE_WHEN("s.webhook_at")
        " END)::text FROM subscriptions s "
        "WHERE s.ref = $1 AND s.platform = $2 AND (s.owner = $3 OR s.is_global))";
#undef SUB_STORE_WHEN
    return sub_store__visible_json(c, sql, platform, ref, who, json);
}

int store_sub_deliveries(db_conn_t *c, const char *ref, void (*row)(void *ctx, const char *const *cols), void *ctx)
{
    const char *v[1] = {ref};
    PGresult *r = NULL;
    int rc = db__exec_sql(c,
                          "SELECT r.id::text, r.trigger, "
                          "to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
                          "coalesce(a.http_status::text, ''), coalesce(a.error, ''), a.duration_ms::text, r.state "
                          "FROM subscriptions s JOIN subscription_runs r ON r.subscription_id = s.id "
                          "JOIN webhook_attempts a ON a.run_id = r.id WHERE s.ref = $1 ORDER BY a.id",
                          1, v, &r);
    if (rc != ENT_OK)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *cols[7];
        for (int k = 0; k < 7; k++)
            cols[k] = PQgetvalue(r, i, k);
        row(ctx, cols);
    }
    PQclear(r);
    if (rc == ENT_OK) {
        PGresult *e = NULL;
        rc = db__exec_sql(c, "SELECT 1 FROM subscriptions WHERE ref = $1", 1, v, &e);
        if (rc == ENT_OK && PQntuples(e) == 0)
            rc = ENT_ENOTFOUND;
        PQclear(e);
    }
    return rc;
}

/* Update packages. */

#define SUB_STORE_UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

int store_package_products(db_conn_t *c, const char *ref, const store_sub_caller_t *who, const long long *product_nos,
                           size_t n, bool *visible, long long *bad)
{
    static const char sql[] =
        "WITH sub AS (SELECT id FROM subscriptions WHERE ref = $1 AND (owner = $2 OR is_global)) "
        "SELECT EXISTS (SELECT 1 FROM sub), (SELECT min(w.no) FROM unnest($3::bigint[]) AS w (no) "
        "WHERE NOT EXISTS (SELECT 1 FROM subscription_products sp WHERE sp.subscription_id = (SELECT id FROM sub) "
        "AND sp.product_no = w.no))";
    char *arr = db__ll_array(&db__heap, product_nos, NULL, n);
    PGresult *r = NULL;
    *visible = false;
    *bad = 0;
    if (arr == NULL)
        return ENT_ENOMEM;
    const char *v[3] = {ref, who->user, arr};
    int rc = db__exec_sql(c, sql, 3, v, &r);
    if (rc == ENT_OK) {
        *visible = PQgetvalue(r, 0, 0)[0] == 't';
        if (*visible && !PQgetisnull(r, 0, 1))
            *bad = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    }
    PQclear(r);
    free(arr);
    return rc;
}

int store_package_request(db_conn_t *c, const char *ref, const store_sub_caller_t *who, const char *day,
                          const long long *product_nos, size_t n, const char *package_id, int delay_ms,
                          store_package_verdict_t *verdict, long long *bad_product)
{
    /* Under the lock, the count of the user's PROCESSING packages cannot
     * change before this transaction's insert commits. The subscription is
     * held as a trigger holds it. */
    static const char lock_sql[] =
        "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE id = $1::bigint AND revoked_at IS NULL), "
        "pg_advisory_xact_lock(hashtextextended('update_packages:' || $2, 0))";
    static const char sql[] =
        "WITH sub AS (SELECT id FROM subscriptions WHERE ref = $1 AND (owner = $2 OR is_global) FOR KEY SHARE), "
        "want AS (SELECT w.no, sp.product_id FROM unnest($3::bigint[]) AS w (no) LEFT JOIN subscription_products sp "
        "ON sp.subscription_id = (SELECT id FROM sub) AND sp.product_no = w.no), "
        "changed AS (SELECT EXISTS (SELECT 1 FROM entitlement_changes c WHERE c.product_id IN "
        "(SELECT product_id FROM want) AND c.at >= $4::date::timestamp AT TIME ZONE 'UTC') AS yes), "
        "busy AS (SELECT count(*) AS n FROM update_packages WHERE owner = $2 AND status = 'PROCESSING'), "
        "ins AS (INSERT INTO update_packages (package_id, owner, subscription_id, since, product_ids) "
        "SELECT $5, $2, sub.id, $4::date, (SELECT array_agg(product_id ORDER BY no) FROM want) FROM sub, busy, changed "
        "WHERE NOT EXISTS (SELECT 1 FROM want WHERE product_id IS NULL) AND changed.yes AND busy.n < $6::int "
        "RETURNING id), "
        "job AS (INSERT INTO jobs (kind, ref, run_at) SELECT 'package.build', id, "
        "now() + make_interval(secs => $7::int / 1000.0) FROM ins) "
        "SELECT EXISTS (SELECT 1 FROM sub), (SELECT min(no) FROM want WHERE product_id IS NULL), "
        "(SELECT yes FROM changed), EXISTS (SELECT 1 FROM ins)";
    char token_id[24], limit[8], delay[16], *arr = db__ll_array(&db__heap, product_nos, NULL, n);
    PGresult *r = NULL;
    int rc;

    if (arr == NULL)
        return ENT_ENOMEM;
    snprintf(token_id, sizeof token_id, "%lld", who->token_id);
    snprintf(limit, sizeof limit, "%d", STORE_PACKAGE_LIMIT);
    snprintf(delay, sizeof delay, "%d", delay_ms);
    /* Inside the caller's transaction when one is open (an
     * Idempotency-Key's), else in one of its own. */
    bool own = !db_in_transaction(c);
    if (own && (rc = db_begin(c)) != ENT_OK)
        goto out;
    const char *lv[2] = {token_id, who->user};
    if ((rc = db__exec_sql(c, lock_sql, 2, lv, &r)) != ENT_OK)
        goto fail;
    bool token_ok = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    r = NULL;
    if (!token_ok) {
        rc = ENT_EAUTH;
        goto fail;
    }
    const char *v[7] = {ref, who->user, arr, day, package_id, limit, delay};
    if ((rc = db__exec_sql(c, sql, 7, v, &r)) != ENT_OK)
        goto fail;
    if (PQgetvalue(r, 0, 0)[0] != 't') {
        *verdict = STORE_PACKAGE_NO_SUBSCRIPTION;
    } else if (!PQgetisnull(r, 0, 1)) {
        *verdict = STORE_PACKAGE_BAD_PRODUCT;
        *bad_product = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    } else if (PQgetvalue(r, 0, 2)[0] != 't') {
        *verdict = STORE_PACKAGE_NOUPDATE;
    } else {
        *verdict = PQgetvalue(r, 0, 3)[0] == 't' ? STORE_PACKAGE_PACKAGED : STORE_PACKAGE_LIMIT_REACHED;
    }
    PQclear(r);
    r = NULL;
    rc = own ? db_commit(c) : ENT_OK;
    goto out;
fail:
    PQclear(r);
    if (own)
        db_rollback(c);
out:
    free(arr);
    return rc;
}

int store_package_build(db_conn_t *c, long long id)
{
    /* The changes in feed order, numbered from 0, grouped a page at a time:
     * string_agg with ORDER BY keeps PostgreSQL from hashing the groups,
     * so it holds one page's text at once, never the package's. */
    static const char sql[] =
        "WITH p AS (SELECT id, product_ids, since FROM update_packages WHERE id = $1::bigint "
        "AND status = 'PROCESSING' FOR UPDATE), "
        "items AS MATERIALIZED (SELECT row_number() OVER (ORDER BY ch.at, ch.id) - 1 AS k, json_build_object("
        "'operation', ch.operation, 'entitlementId', ch.entitlement_id, 'activationId', ch.activation_id, "
        "'productName', pr.name, 'productVersion', pr.version, 'time', "
        "to_char(ch.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))::text AS item "
        "FROM p JOIN entitlement_changes ch ON ch.product_id = ANY (p.product_ids) "
        "AND ch.at >= p.since::timestamp AT TIME ZONE 'UTC' "
        "LEFT JOIN products pr ON pr.id = ch.product_id), "
        "pages AS (INSERT INTO update_package_pages (package_id, page, items) "
        "SELECT $1::bigint, k / $2::int, string_agg(item, ', ' ORDER BY k) FROM items GROUP BY k / $2::int "
        "RETURNING 1) "
        "UPDATE update_packages u SET status = 'READY', completed_at = now(), "
        "item_count = (SELECT count(*) FROM items), page_count = (SELECT count(*) FROM pages) "
        "FROM p WHERE u.id = p.id";
    char ids[24], per_page[16];
    snprintf(ids, sizeof ids, "%lld", id);
    snprintf(per_page, sizeof per_page, "%d", STORE_PACKAGE_PAGE_ITEMS);
    const char *v[2] = {ids, per_page};
    return db__exec_sql(c, sql, 2, v, NULL);
}

int store_package_fail(db_conn_t *c, long long id)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *v[1] = {ids};
    return db__exec_sql(c,
                        "UPDATE update_packages SET status = 'FAILED', completed_at = now() "
                        "WHERE id = $1::bigint AND status = 'PROCESSING'",
                        1, v, NULL);
}

/* The caller's package package_id: cols are the columns after the token
 * check (column 0) and the status (column 1), over update_packages p
 * joined with subscriptions s; *r holds the row. */
static int store__package_row(db_conn_t *c, const char *package_id, const store_sub_caller_t *who, const char *cols,
                              PGresult **r)
{
    char sql[1024], token_id[24];
    snprintf(token_id, sizeof token_id, "%lld", who->token_id);
    int n = snprintf(sql, sizeof sql,
                     "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE id = $3::bigint AND revoked_at IS NULL), "
                     "p.status, %s FROM (SELECT 1) one LEFT JOIN update_packages p ON p.package_id = $1 "
                     "AND p.owner = $2 LEFT JOIN subscriptions s ON s.id = p.subscription_id",
                     cols);
    if (n < 0 || (size_t)n >= sizeof sql)
        return ENT_EINVAL;
    const char *v[3] = {package_id, who->user, token_id};
    int rc = db__exec_sql(c, sql, 3, v, r);
    if (rc == ENT_OK && PQgetvalue(*r, 0, 0)[0] != 't')
        rc = ENT_EAUTH;
    else if (rc == ENT_OK && PQgetisnull(*r, 0, 1))
        rc = ENT_ENOTFOUND;
    return rc;
}

int store_package_get(db_conn_t *c, const char *package_id, const store_sub_caller_t *who, char **json)
{
    PGresult *r = NULL;
    int rc = store__package_row(c, package_id, who,
                                "json_build_object('packageId', p.package_id, 'status', p.status, "
                                "'createdAt', " SUB_STORE_UTC("p.created_at") ", 'completedAt', "
                                SUB_STORE_UTC("p.completed_at") ", 'itemCount', p.item_count)::text",
                                &r);
    *json = NULL;
    if (rc == ENT_OK && (*json = strdup(PQgetvalue(r, 0, 2))) == NULL)
        rc = ENT_ENOMEM;
    PQclear(r);
    return rc;
}

int store_package_open(db_conn_t *c, const char *package_id, const store_sub_caller_t *who, long long *id,
                       int *pages, char **head, char status[16])
{
    /* The document's own fields, then its items: the object's text
     * without its closing brace is the start of the whole. */
    PGresult *r = NULL;
    int rc = store__package_row(c, package_id, who,
                                "p.id, p.page_count, left(json_build_object('packageId', p.package_id, "
                                "'subscriptionRef', s.ref, 'changesSinceDate', to_char(p.since, 'YYYY-MM-DD'))::text, "
                                "-1) || ', \"items\" : ['",
                                &r);
    *head = NULL;
    status[0] = '\0';
    if (rc == ENT_OK) {
        snprintf(status, 16, "%s", PQgetvalue(r, 0, 1));
        if (strcmp(status, "READY") != 0 || PQgetisnull(r, 0, 3)) {
            rc = ENT_EINVAL;
        } else {
            *id = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
            *pages = atoi(PQgetvalue(r, 0, 3));
            if ((*head = strdup(PQgetvalue(r, 0, 4))) == NULL)
                rc = ENT_ENOMEM;
        }
    }
    PQclear(r);
    return rc;
}

int store_package_page(db_conn_t *c, long long id, int page, int (*emit)(void *arg, const char *data, size_t n),
                       void *arg)
{
    char ids[24], pages[16];
    snprintf(ids, sizeof ids, "%lld", id);
    snprintf(pages, sizeof pages, "%d", page);
    const char *v[2] = {ids, pages};
    PGresult *r = NULL;
    int rc = db__exec_sql(c, "SELECT items FROM update_package_pages WHERE package_id = $1::bigint AND page = $2::int",
                          2, v, &r);
    if (rc == ENT_OK && PQntuples(r) != 1)
        rc = ENT_ENOTFOUND;
    if (rc == ENT_OK)
        rc = emit(arg, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    PQclear(r);
    return rc;
}
#undef SUB_STORE_UTC
