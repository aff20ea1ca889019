#include "auth_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/hex.h"
#include "db_int.h"

static void auth_store__copy(char *dst, size_t cap, const PGresult *r, int row, int col)
{
    snprintf(dst, cap, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

int store_token_add(db_conn_t *c, const unsigned char hash[32], const char *tenant, const char *username,
                    long long *id)
{
    char hex[65];
    PGresult *r = NULL;
    hex_encode(hash, 32, hex);
    const char *v[3] = {hex, tenant, username};
    int rc = db__exec(c, STMT_TOKEN_ADD, 3, v, &r);
    if (rc == ENT_OK)
        *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rc;
}

int store_token_find(db_conn_t *c, const unsigned char hash[32], store_token_t *out)
{
    char hex[65];
    PGresult *r = NULL;
    hex_encode(hash, 32, hex);
    const char *v[1] = {hex};
    int rc = db__exec(c, STMT_TOKEN_FIND, 1, v, &r);
    if (rc == ENT_OK && PQntuples(r) != 1)
        rc = ENT_ENOTFOUND;
    if (rc == ENT_OK) {
        out->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        auth_store__copy(out->tenant, sizeof out->tenant, r, 0, 1);
        auth_store__copy(out->username, sizeof out->username, r, 0, 2);
    }
    PQclear(r);
    return rc;
}

int store_token_revoke(db_conn_t *c, long long id)
{
    char idt[24];
    PGresult *r = NULL;
    snprintf(idt, sizeof idt, "%lld", id);
    const char *v[1] = {idt};
    int rc = db__exec(c, STMT_TOKEN_REVOKE, 1, v, &r);
    if (rc == ENT_OK && PQntuples(r) != 1)
        rc = ENT_ENOTFOUND;
    PQclear(r);
    return rc;
}

int store_token_list(db_conn_t *c, void (*row)(void *ctx, const char *const *cols), void *ctx)
{
    PGresult *r = NULL;
    int rc = db__exec_sql(c,
                          "SELECT id::text, coalesce(tenant, ''), coalesce(username, ''), "
                          "to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
                          "coalesce(to_char(revoked_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') "
                          "FROM api_tokens ORDER BY api_tokens.id",
                          0, NULL, &r);
    if (rc != ENT_OK)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *cols[5];
        for (int k = 0; k < 5; k++)
            cols[k] = PQgetvalue(r, i, k);
        row(ctx, cols);
    }
    PQclear(r);
    return ENT_OK;
}

int store_key_add(db_conn_t *c, const char *publisher, const char *kid, const char *alg, const unsigned char *der,
                  size_t der_len, const char *created_by, long long *id)
{
    char *hex = malloc(2 * der_len + 1);
    PGresult *r = NULL;
    if (hex == NULL)
        return ENT_ENOMEM;
    hex_encode(der, der_len, hex);
    char max[16];
    snprintf(max, sizeof max, "%d", STORE_MAX_KEYS);
    const char *v[6] = {publisher, kid, alg, hex, created_by, max};
    /* The count and the insert under the publisher's lock, the insert in a
     * statement of its own: it sees every key committed before the lock
     * was had. */
    int rc = db_begin(c);
    if (rc == ENT_OK && (rc = db__exec(c, STMT_KEY_LOCK, 1, v, NULL)) == ENT_OK &&
        (rc = db__exec(c, STMT_KEY_ADD, 6, v, &r)) == ENT_OK) {
        if (PQntuples(r) == 1)
            *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        else
            rc = ENT_EPERM;
    }
    PQclear(r);
    if (rc == ENT_OK)
        rc = db_commit(c);
    else
        db_rollback(c);
    free(hex);
    return rc;
}

int store_key_find(db_conn_t *c, store_key_by_t by, const char *name, store_key_t *out, size_t max, size_t *n)
{
    PGresult *r = NULL;
    const char *v[1] = {name};
    int rc = db__exec(c, by == STORE_KEY_BY_KID         ? STMT_KEY_BY_KID
                         : by == STORE_KEY_BY_PUBLISHER ? STMT_KEY_BY_PUBLISHER
                                                        : STMT_KEY_BY_ALG,
                      1, v, &r);
    *n = 0;
    if (rc != ENT_OK)
        return rc;
    for (int i = 0; i < PQntuples(r) && *n < max; i++) {
        store_key_t *k = &out[*n];
        k->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        auth_store__copy(k->publisher, sizeof k->publisher, r, i, 1);
        auth_store__copy(k->kid, sizeof k->kid, r, i, 2);
        if (hex_decode(PQgetvalue(r, i, 3), k->der, sizeof k->der, &k->der_len) != ENT_OK)
            continue; /* cannot have been stored by us: skip it */
        (*n)++;
    }
    PQclear(r);
    return ENT_OK;
}

int store_key_retire(db_conn_t *c, const char *kid, const char *publisher, char *publisher_out)
{
    PGresult *r = NULL;
    const char *v[2] = {kid, publisher};
    int rc = db__exec(c, STMT_KEY_RETIRE, 2, v, &r);
    if (rc == ENT_OK && strcmp(PQgetvalue(r, 0, 0), "0") == 0)
        rc = ENT_ENOTFOUND;
    else if (rc == ENT_OK && PQgetisnull(r, 0, 1))
        rc = ENT_EEXIST; /* several publishers' */
    if (rc == ENT_OK)
        auth_store__copy(publisher_out, STORE_MAX_NAME + 1, r, 0, 1);
    PQclear(r);
    return rc;
}
