#include <stdio.h>
#include <stdlib.h>

#include "../core/log.h"
#include "db_int.h"
#include "migrations.h"

/* Any constant works; it only has to be the same for every process that
 * migrates this database. */
#define MIGRATE_LOCK_KEY "7370424711"

static int migrate__run(PGconn *pg, const char *sql, int n, const char *const *vals)
{
    PGresult *r = n ? PQexecParams(pg, sql, n, NULL, vals, NULL, NULL, 0) : PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        log_error("migration: %s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? ENT_OK : ENT_EDB;
}

static int migrate__applied(PGconn *pg, int version, int *applied)
{
    char v[16];
    const char *vals[1] = {v};
    snprintf(v, sizeof v, "%d", version);
    PGresult *r = PQexecParams(pg, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, NULL,
                               vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_error("migration: %s", PQresultErrorMessage(r));
        PQclear(r);
        return ENT_EDB;
    }
    *applied = PQntuples(r) > 0;
    PQclear(r);
    return ENT_OK;
}

int db_migrate(const char *conninfo, int connect_timeout_s)
{
    db_conn_t c = {0};
    char timeout[16];
    int rc;

    snprintf(timeout, sizeof timeout, "%d", connect_timeout_s);
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {conninfo, timeout, "entitlementd-migrate", NULL};
    c.pg = PQconnectdbParams(keys, vals, 1);
    if (c.pg == NULL)
        return ENT_ENOMEM;
    if (PQstatus(c.pg) != CONNECTION_OK) {
        log_error("database connection failed: %s", PQerrorMessage(c.pg));
        PQfinish(c.pg);
        return ENT_EDBDOWN;
    }

    /* Each step is one transaction that first takes a transaction-level
     * advisory lock: concurrent starters serialise, and the lock ends with
     * its transaction whatever server connection a pooler in transaction
     * mode (PgBouncer) gave it, where a session lock could be left held. */
    rc = migrate__run(c.pg,
                      "BEGIN; SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY "); "
                      "SET LOCAL client_min_messages = warning; "
                      "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      "version integer PRIMARY KEY, name text NOT NULL, "
                      "applied_at timestamptz NOT NULL DEFAULT now()); COMMIT",
                      0, NULL);
    for (int i = 0; rc == ENT_OK && i < db_migrations_count; i++) {
        const db_migration_t *m = &db_migrations[i];
        int applied = 0;
        char v[16];
        const char *params[2] = {v, m->name};

        snprintf(v, sizeof v, "%d", m->version);
        if ((rc = migrate__run(c.pg, "BEGIN", 0, NULL)) != ENT_OK)
            break;
        /* Under the lock: another starter may have applied it meanwhile. */
        rc = migrate__run(c.pg, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")", 0, NULL);
        if (rc == ENT_OK)
            rc = migrate__applied(c.pg, m->version, &applied);
        if (rc == ENT_OK && !applied) {
            rc = migrate__run(c.pg, m->sql, 0, NULL);
            if (rc == ENT_OK)
                rc = migrate__run(c.pg, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2, params);
        }
        if (rc == ENT_OK)
            rc = migrate__run(c.pg, "COMMIT", 0, NULL);
        if (rc != ENT_OK) {
            PQclear(PQexec(c.pg, "ROLLBACK"));
            log_error("migration %s failed; nothing of it was applied", m->name);
            break;
        }
        if (!applied)
            log_info("applied migration %s", m->name);
    }
    PQfinish(c.pg);
    return rc;
}

int db_ready(db_pool_t *pool, char *why, size_t len)
{
    db_conn_t *c = NULL;
    PGresult *r = NULL;
    int rc = db_pool_acquire(pool, &c);
    if (rc != ENT_OK) {
        snprintf(why, len, "the database cannot be reached");
        return ENT_EDBDOWN;
    }
    int last = db_migrations_count ? db_migrations[db_migrations_count - 1].version : 0;
    char v[16];
    const char *vals[1] = {v};
    snprintf(v, sizeof v, "%d", last);
    rc = db__exec_sql(c, "SELECT count(*) FROM schema_migrations WHERE version <= $1::int", 1, vals, &r);
    if (rc == ENT_EDBDOWN && db_conn_reset(c) == ENT_OK) /* a read: safe to repeat */
        rc = db__exec_sql(c, "SELECT count(*) FROM schema_migrations WHERE version <= $1::int", 1, vals, &r);
    if (rc != ENT_OK) {
        snprintf(why, len, "the database cannot be read");
        rc = ENT_EDBDOWN;
    } else if (atoi(PQgetvalue(r, 0, 0)) < db_migrations_count) {
        snprintf(why, len, "%s of %d migrations applied", PQgetvalue(r, 0, 0), db_migrations_count);
        rc = ENT_EINVAL;
    }
    PQclear(r);
    if (rc == ENT_EDBDOWN)
        db_conn_discard(c);
    db_pool_release(pool, c);
    return rc;
}
