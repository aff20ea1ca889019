#include "sub_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

/* A text[] literal of n strings, each quoted and escaped; malloc'd. */
static char *sub_store__array(const char *const *s, size_t n)
{
    size_t cap = 3;
    for (size_t i = 0; i < n; i++)
        cap += 2 * strlen(s[i]) + 3;
    char *out = malloc(cap), *p = out;
    if (out == NULL)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        *p++ = '"';
        for (const char *q = s[i]; *q; q++) {
            if (*q == '"' || *q == '\\')
                *p++ = '\\';
            *p++ = *q;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

/* The JSON of one subscription, for the GET. */
#define SUB_STORE_JSON                                                                                        \
    "json_build_object('subscriptionRef', s.ref, 'platformType', s.platform, 'name', s.name, "                 \
    "'global', s.is_global, 'owner', s.owner, "                                                               \
    "'products', (SELECT coalesce(json_agg(json_build_object('subscriptionProductId', sp.product_no, "        \
    "'name', p.name, 'version', p.version) ORDER BY sp.product_no), '[]') "                                   \
    "FROM subscription_products sp JOIN products p ON p.id = sp.product_id WHERE sp.subscription_id = s.id), " \
    "'webhook', CASE WHEN s.webhook_url IS NULL THEN NULL ELSE json_build_object('url', s.webhook_url) END, "  \
    "'scheduleMinutes', s.schedule_minutes, "                                                                 \
    "'createdAt', to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))::text"

int store_sub_create(db_conn_t *c, const store_sub_new_t *s, size_t *missing, char **json)
{
    static const char sql[] =
        "WITH want AS (SELECT w.no, p.id AS product_id FROM unnest($8::text[], $9::text[]) "
        "WITH ORDINALITY AS w (name, version, no) LEFT JOIN products p ON p.name = w.name AND p.version = w.version), "
        "sub AS (INSERT INTO subscriptions (ref, platform, name, owner, is_global, webhook_url, webhook_secret, "
        "schedule_minutes) SELECT $1, $2, $3, $4, $5::boolean, $6, decode($7, 'hex'), $10::int "
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
    char *names = sub_store__array(s->product_names, s->n_products);
    char *versions = sub_store__array(s->product_versions, s->n_products);
    char *hex = s->webhook_url ? malloc(2 * s->secret_len + 1) : NULL;
    char minutes[16], token_id[24];
    PGresult *r = NULL;
    int rc = ENT_ENOMEM;

    *missing = 0;
    *json = NULL;
    if (names == NULL || versions == NULL || (s->webhook_url != NULL && hex == NULL))
        goto out;
    for (size_t i = 0; hex != NULL && i < s->secret_len; i++)
        sprintf(hex + 2 * i, "%02x", s->secret[i]);
    if (hex != NULL)
        hex[2 * s->secret_len] = '\0';
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

int store_sub_delete(db_conn_t *c, const char *platform, const char *ref, const store_sub_caller_t *who)
{
    /* One statement: whether it is visible, and the delete if it is owned. */
    static const char sql[] =
        "WITH t AS (SELECT 1 FROM api_tokens WHERE id = $4::bigint AND revoked_at IS NULL), "
        "s AS (SELECT id, owner = $3 AS mine FROM subscriptions "
        "WHERE ref = $1 AND platform = $2 AND (owner = $3 OR is_global) AND EXISTS (SELECT 1 FROM t)), "
        "d AS (DELETE FROM subscriptions WHERE id IN (SELECT id FROM s WHERE mine) RETURNING id) "
        "SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM d), EXISTS (SELECT 1 FROM t)";
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
            rc = ENT_EPERM;
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
