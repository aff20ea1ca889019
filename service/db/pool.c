#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../core/clock.h"
#include "../core/log.h"
#include "../core/thread.h"
#include "db_int.h"

/* Room for a connection's options: ours and a conninfo's own. */
#define DB_OPTIONS_MAX 1280

static double db__monotonic(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct db_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    char *conninfo;
    int connect_timeout_s;
    int wait_timeout_ms;
    bool async_commit;
    int lock_timeout_ms;
    int statement_timeout_ms;
    int size;
    db_conn_t *conns; /* size entries */
    /* The watchdog (db__watch), when statement_timeout_ms is set: it reads
     * the connections' waits, and shuts a connection's socket, under lock;
     * a connection's PGconn is set and cleared under lock for that. */
    pthread_t watchdog;
    bool watching;
    bool stopping;
    pthread_cond_t stop;
    /* The last connection attempt failed slowly (db__connect): until
     * down_until (db__clock_ms), and while one thread tries again, a
     * request that needs a new connection fails at once instead of waiting
     * for its own attempt (up to the connect timeout against a server that
     * answers nothing). Under lock. */
    bool down;
    bool probing;
    long long down_until;
};

/* A connection attempt that failed after this long marks the database
 * down; the next attempt is made DB_DOWN_RETRY_MS later. */
#define DB_DOWN_SLOW_MS 1000
#define DB_DOWN_RETRY_MS 1000

long long db__clock_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
    /* + 1: 0 says "not waiting". */
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000 + 1;
}

/* How often the watchdog looks: a wait is cut at most this much later
 * than its limit. */
#define DB_WATCH_EVERY_MS 250

/* Shuts the socket of each connection whose answer has been awaited
 * longer than the statement timeout and DB_ANSWER_GRACE_MS: a server that
 * answers nothing (stopped, or behind a proxy or network that holds its
 * bytes) keeps its connection up, and keepalives do nothing on a Unix
 * socket, so libpq would wait in poll() for good, holding the request's
 * thread, then every thread, /healthz and a shutdown with them. shutdown()
 * wakes that poll() with an end of file: the statement fails as on a lost
 * connection (ENT_EDBDOWN; a COMMIT's outcome is then asked as after any
 * lost connection). It shuts a descriptor of its own for the socket
 * (watch_fd, a dup() of libpq's, closed by db__set_pg under the lock):
 * libpq may close its own at any time, and the number be given again.
 * A wait is taken from its owner (compare and swap) before its socket is
 * shut: one that ended meanwhile is left alone. (An answer that comes in
 * the microseconds between the two still leaves the shut socket to the
 * owner's next statement, which fails as on any lost connection.)
 *
 * A pipeline's answers are awaited as one (the server sends them at its
 * Sync), and statement_timeout holds for each statement: a pipeline whose
 * statements together run longer than the limit is cut as well. Its
 * outcome is then asked, or its requests answered as after a lost
 * connection (db/group.h); the statements of ours run for milliseconds. */
static void *db__watch(void *arg)
{
    db_pool_t *p = arg;
    long long limit = (long long)p->statement_timeout_ms + DB_ANSWER_GRACE_MS;

    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        struct timespec until;
        clock_deadline(&until, DB_WATCH_EVERY_MS);
        (void)pthread_cond_timedwait(&p->stop, &p->lock, &until);
        long long now = db__clock_ms(), late = 0;
        int cut = 0;
        for (int i = 0; i < p->size && !p->stopping; i++) {
            db_conn_t *c = &p->conns[i];
            long long since = atomic_load_explicit(&c->waiting_ms, memory_order_relaxed);
            if (since <= 0 || now - since <= limit || c->watch_fd < 0 ||
                !atomic_compare_exchange_strong(&c->waiting_ms, &since, DB_WAIT_CUT))
                continue;
            if (shutdown(c->watch_fd, SHUT_RDWR) == 0) {
                cut++;
                late = now - since > late ? now - since : late;
            }
        }
        if (cut > 0) {
            pthread_mutex_unlock(&p->lock);
            log_warn("database: no answer in time (%lld ms; ENTITLEMENTD_DB_STATEMENT_TIMEOUT_MS and %d ms more): "
                     "%d connection(s) closed", late, DB_ANSWER_GRACE_MS, cut);
            pthread_mutex_lock(&p->lock);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int db_pool_create(const db_pool_options_t *opt, db_pool_t **out)
{
    db_pool_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return ENT_ENOMEM;
    p->conninfo = strdup(opt->conninfo);
    p->conns = calloc((size_t)opt->size, sizeof *p->conns);
    if (p->conninfo == NULL || p->conns == NULL) {
        free(p->conninfo);
        free(p->conns);
        free(p);
        return ENT_ENOMEM;
    }
    p->size = opt->size;
    p->connect_timeout_s = opt->connect_timeout_s;
    p->wait_timeout_ms = opt->wait_timeout_ms;
    p->async_commit = opt->async_commit;
    p->lock_timeout_ms = opt->lock_timeout_ms;
    p->statement_timeout_ms = opt->statement_timeout_ms;
    for (int i = 0; i < p->size; i++) {
        p->conns[i].pool = p;
        p->conns[i].watch_fd = -1;
        atomic_init(&p->conns[i].waiting_ms, 0);
    }
    pthread_mutex_init(&p->lock, NULL);
    clock_cond_init(&p->freed);
    clock_cond_init(&p->stop);
    if (p->statement_timeout_ms > 0) {
        if (pthread_create(&p->watchdog, NULL, db__watch, p) != 0) {
            db_pool_destroy(p);
            return ENT_ENOMEM;
        }
        p->watching = true;
    }
    *out = p;
    return ENT_OK;
}

/* Sets c's connection to pg (NULL: none), with the descriptor the
 * watchdog may shut (db__watch), under its pool's lock. */
static void db__set_pg(db_conn_t *c, PGconn *pg)
{
    if (c->pool == NULL) {
        c->pg = pg;
        return;
    }
    int fd = pg != NULL && c->pool->watching ? fcntl(PQsocket(pg), F_DUPFD_CLOEXEC, 0) : -1;
    if (pg != NULL && c->pool->watching && fd < 0)
        log_warn("database: a connection is not watched (no descriptor for the watchdog: %s)", strerror(errno));
    pthread_mutex_lock(&c->pool->lock);
    int old = c->watch_fd;
    c->pg = pg;
    c->watch_fd = fd;
    pthread_mutex_unlock(&c->pool->lock);
    if (old >= 0)
        close(old);
}

/* Closes c's connection, and forgets the statements prepared on it. */
static void db__close(db_conn_t *c)
{
    if (c->pg != NULL) {
        /* The watchdog's descriptor first: the socket is no longer its. */
        PGconn *pg = c->pg;
        db__set_pg(c, NULL);
        PQfinish(pg);
    }
    for (int i = 0; i < c->ncached; i++)
        free(c->cached[i].sql);
    c->ncached = 0;
}

void db_pool_destroy(db_pool_t *p)
{
    if (p == NULL)
        return;
    if (p->watching) {
        pthread_mutex_lock(&p->lock);
        p->stopping = true;
        pthread_cond_signal(&p->stop);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->watchdog, NULL);
    }
    for (int i = 0; i < p->size; i++)
        db__close(&p->conns[i]);
    pthread_cond_destroy(&p->stop);
    pthread_cond_destroy(&p->freed);
    pthread_mutex_destroy(&p->lock);
    free(p->conns);
    free(p->conninfo);
    free(p);
}

void db__notice(void *arg, const PGresult *res)
{
    db_conn_t *c = arg;
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (c != NULL && severity != NULL && strcmp(severity, "WARNING") == 0)
        c->warned = true;
    log_debug("postgres: %s", PQresultErrorMessage(res));
}

/* The options of a connection into buf (cap bytes): ours, around those
 * of conninfo itself (its "options", which the keywords given beside it
 * would otherwise replace): the lock timeout first, so that an operator's
 * own lock_timeout wins, and the settings the statements rely on last. */
static int db__options(const char *conninfo, bool async, int lock_timeout_ms, int statement_timeout_ms, char *buf,
                       size_t cap)
{
    const char *theirs = "";
    PQconninfoOption *parsed = PQconninfoParse(conninfo, NULL);
    for (PQconninfoOption *o = parsed; o != NULL && o->keyword != NULL; o++)
        if (strcmp(o->keyword, "options") == 0 && o->val != NULL)
            theirs = o->val;
    char stmt[48] = "";
    if (statement_timeout_ms > 0) /* (0 would undo a role's or database's own) */
        snprintf(stmt, sizeof stmt, " -c statement_timeout=%d", statement_timeout_ms);
    int n = snprintf(buf, cap,
                     "-c lock_timeout=%d%s %s -c TimeZone=UTC -c DateStyle=ISO,YMD -c plan_cache_mode=force_generic_plan "
                     "-c max_parallel_workers_per_gather=0 -c jit=off%s",
                     lock_timeout_ms, stmt, theirs, async ? " -c synchronous_commit=off" : "");
    PQconninfoFree(parsed);
    return n >= 0 && (size_t)n < cap ? ENT_OK : ENT_EINVAL;
}

int db__connect(db_conn_t *c, const char *conninfo, int connect_timeout_s)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", connect_timeout_s);
    /* expand_dbname=1: conninfo may be a URI or key=value string; the
     * keywords after it replace its own (its options are kept, within
     * ours: db__options). */
    /* Dates in queries and answers are UTC and written YYYY-MM-DD (as
     * xs:date, and as the rules compare them) whatever the server's default.
     * Every statement is prepared once per connection and run thousands of
     * times with parameters whose values do not change the best plan:
     * planning each execution anew (PostgreSQL's default for the first
     * runs, and for array parameters often for good) costs more than the
     * statement, so the generic plan is used from the start. Nor is any
     * plan parallel or compiled (JIT): a statement of ours reads a few
     * rows, and a generic plan that expected many (an entitlement of
     * thousands of line items in the statistics) started two workers, or
     * compiled its expressions anew, for each page of a query: 100 ms or
     * 10 ms a query on two cores (a benchmark's getEntitlementsQuery fell
     * from 6,500 to 38 a second). */
    /* TCP keepalives and a user timeout: a server that stops answering
     * without closing (a network partition) fails the statement in about
     * 30 s instead of holding a worker for ever. (Ignored on Unix sockets.) */
    const char *keys[] = {"dbname", "connect_timeout", "application_name", "options", "keepalives",
                          "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout", NULL};
    bool async = c->pool != NULL && c->pool->async_commit;
    char options[DB_OPTIONS_MAX];
    if (db__options(conninfo, async, c->pool ? c->pool->lock_timeout_ms : 0,
                    c->pool ? c->pool->statement_timeout_ms : 0, options, sizeof options) != ENT_OK) {
        log_warn("database connection not attempted: the conninfo's options are too long (over %d bytes with "
                 "the service's own)", DB_OPTIONS_MAX);
        return ENT_EINVAL;
    }
    const char *vals[] = {conninfo, timeout, async ? "entitlementd-jobs" : "entitlementd", options,
                          "1", "10", "5", "3", "30000", NULL};

    db__close(c);
    long long began = db__clock_ms();
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (pg == NULL)
        return ENT_ENOMEM;
    bool ok = PQstatus(pg) == CONNECTION_OK;
    long long now = db__clock_ms();
    if (c->pool != NULL) {
        /* Only an attempt that failed slowly (no answer: a server stopped,
         * a network that drops) marks the database down; one refused at
         * once costs the next request nothing to make again. */
        pthread_mutex_lock(&c->pool->lock);
        c->pool->down = !ok && now - began >= DB_DOWN_SLOW_MS;
        c->pool->down_until = c->pool->down ? now + DB_DOWN_RETRY_MS : 0;
        pthread_mutex_unlock(&c->pool->lock);
    }
    if (!ok) {
        log_warn("database connection failed: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return ENT_EDBDOWN;
    }
    PQsetNoticeReceiver(pg, db__notice, c);
    /* Set before the first statement, for the watchdog to see it. */
    db__set_pg(c, pg);
    for (int i = 0; i < STMT_COUNT_; i++) {
        PGresult *r = DB_AWAIT(c, PQprepare(pg, db_stmts[i].name, db_stmts[i].sql, 0, NULL));
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            /* A statement that does not prepare is a bug or a schema that is
             * not migrated; either way this connection is of no use. Unless
             * the connection went meanwhile: the database is unavailable. */
            bool lost = PQstatus(pg) != CONNECTION_OK;
            if (lost)
                log_warn("database connection lost while preparing %s: %s", db_stmts[i].name,
                         PQresultErrorMessage(r));
            else
                log_error("preparing %s failed: %s", db_stmts[i].name, PQresultErrorMessage(r));
            PQclear(r);
            db__close(c);
            return lost ? ENT_EDBDOWN : ENT_EDB;
        }
        PQclear(r);
    }
    /* This life of the server's token (db/017), if it has none: crash
     * recovery empties it. Nothing depends on this statement's outcome
     * but db_commit_fate, which finds no token and answers unknown. */
    PQclear(DB_AWAIT(c, PQexec(pg, "INSERT INTO server_incarnation (token) VALUES (gen_random_uuid()::text) "
                                   "ON CONFLICT DO NOTHING")));
    if (PQstatus(pg) != CONNECTION_OK) {
        db__close(c);
        return ENT_EDBDOWN;
    }
    c->replanned_at = db__monotonic();
    return ENT_OK;
}

int db_pool_acquire(db_pool_t *p, db_conn_t **out)
{
    struct timespec deadline;
    db_conn_t *c = NULL;

    /* From here until the connection comes back (or none is lent), the
     * thread waits for the database: an HTTP worker lets another run. */
    thread_wait_begin();
    clock_deadline(&deadline, p->wait_timeout_ms);

    pthread_mutex_lock(&p->lock);
    for (;;) {
        /* Prefer an open connection over one that must be opened. */
        for (int i = 0; i < p->size && c == NULL; i++)
            if (!p->conns[i].in_use && p->conns[i].pg != NULL)
                c = &p->conns[i];
        for (int i = 0; i < p->size && c == NULL; i++)
            if (!p->conns[i].in_use)
                c = &p->conns[i];
        if (c != NULL && c->pg == NULL && p->down && (p->probing || db__clock_ms() < p->down_until)) {
            /* The database could not be reached a moment ago, and is being
             * tried again, or will be: no wait for an attempt of our own. */
            pthread_mutex_unlock(&p->lock);
            thread_wait_end();
            return ENT_EDBDOWN;
        }
        if (c != NULL)
            break;
        int rc = pthread_cond_timedwait(&p->freed, &p->lock, &deadline);
        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&p->lock);
            thread_wait_end();
            return ENT_ETIMEDOUT;
        }
    }
    c->in_use = true;
    bool probe = c->pg == NULL && p->down;
    p->probing = p->probing || probe;
    pthread_mutex_unlock(&p->lock);

    if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK) {
        int rc = db__connect(c, p->conninfo, p->connect_timeout_s);
        if (probe) {
            pthread_mutex_lock(&p->lock);
            p->probing = false;
            pthread_mutex_unlock(&p->lock);
        }
        if (rc != ENT_OK) {
            db_pool_release(p, c);
            return rc;
        }
    }
    c->sqlstate[0] = c->constraint[0] = c->message[0] = '\0';
    *out = c;
    return ENT_OK;
}

void db_pool_stats(db_pool_t *p, int *in_use, int *open, int *size)
{
    int u = 0, o = 0;
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->size; i++) {
        u += p->conns[i].in_use;
        o += p->conns[i].pg != NULL;
    }
    pthread_mutex_unlock(&p->lock);
    *in_use = u;
    *open = o;
    *size = p->size;
}

void db_conn_discard(db_conn_t *c)
{
    db__close(c);
}

void db_pool_release(db_pool_t *p, db_conn_t *c)
{
    if (c->pg != NULL) {
        if (PQstatus(c->pg) != CONNECTION_OK)
            db_conn_discard(c);
        else if (PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
            db_rollback(c);
            if (c->pg != NULL && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
                db_conn_discard(c);
        }
    }
    pthread_mutex_lock(&p->lock);
    c->in_use = false;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
    thread_wait_end();
}

int db__map_error(db_conn_t *c, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *cons = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg);

    snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state ? state : "");
    snprintf(c->constraint, sizeof c->constraint, "%s", cons ? cons : "");
    snprintf(c->message, sizeof c->message, "%s", msg ? msg : "");
    if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK || state == NULL)
        return ENT_EDBDOWN;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
        return ENT_ERETRY;
    if (strcmp(state, "55P03") == 0) /* lock_not_available: lock_timeout ran out */
        return ENT_ELOCKED;
    if (strcmp(state, "57014") == 0) /* query_canceled: statement_timeout ran out (or an operator's cancel) */
        return ENT_ETIMEDOUT;
    if (strcmp(state, "23505") == 0)
        return ENT_EEXIST;
    if (strncmp(state, "22", 2) == 0)
        return ENT_EINVAL;
    /* Class 08 (connection exception), 57P01..57P03 (shutdown, cannot connect now). */
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
        return ENT_EDBDOWN;
    return ENT_EDB;
}

int db__conflict(db_conn_t *c, const char *what)
{
    /* No SQLSTATE: PostgreSQL saw nothing wrong, the lock order did. */
    c->sqlstate[0] = c->constraint[0] = '\0';
    snprintf(c->message, sizeof c->message, "%s", what);
    return ENT_ERETRY;
}

static int db__check(db_conn_t *c, PGresult *r, PGresult **out)
{
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (out != NULL)
            *out = r;
        else
            PQclear(r);
        return ENT_OK;
    }
    int rc = db__map_error(c, r);
    if (rc == ENT_EDB || rc == ENT_EDBDOWN || rc == ENT_ETIMEDOUT)
        log_warn("database: %s", c->message);
    PQclear(r);
    return rc;
}

int db__exec(db_conn_t *c, db_stmt_id_t id, int n, const char *const *vals, PGresult **out)
{
    if (c->pg == NULL)
        return ENT_EDBDOWN;
    return db__check(c, DB_AWAIT(c, PQexecPrepared(c->pg, db_stmts[id].name, n, vals, NULL, NULL, 0)), out);
}

int db__exec_sql(db_conn_t *c, const char *sql, int n, const char *const *vals, PGresult **out)
{
    if (c->pg == NULL)
        return ENT_EDBDOWN;
    return db__check(c, DB_AWAIT(c, PQexecParams(c->pg, sql, n, NULL, vals, NULL, NULL, 0)), out);
}

/* FNV-1a: a cheap first test before the texts are compared. */
static uint64_t db__hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The name of the statement c prepared for sql (n parameters) in name
 * (16 bytes), preparing it the first time; name[0] is '\0' when the cache
 * is full or a copy cannot be made (run sql unnamed). */
static int db__cached_name(db_conn_t *c, const char *sql, int n, char name[16])
{
    uint64_t h = db__hash(sql);
    int i = 0;

    name[0] = '\0';
    while (i < c->ncached && (c->cached[i].hash != h || strcmp(c->cached[i].sql, sql) != 0))
        i++;
    if (i == c->ncached) {
        if (c->ncached == DB_SQL_CACHE)
            return ENT_OK;
        char *copy = strdup(sql);
        if (copy == NULL)
            return ENT_OK;
        snprintf(name, 16, "sql%d", i);
        int rc = db__check(c, DB_AWAIT(c, PQprepare(c->pg, name, sql, n, NULL)), NULL);
        if (rc != ENT_OK) {
            free(copy);
            return rc;
        }
        c->cached[i] = (db_sql_cached_t){h, copy};
        c->ncached++;
    }
    snprintf(name, 16, "sql%d", i);
    return ENT_OK;
}

int db__exec_cached(db_conn_t *c, const char *sql, int n, const char *const *vals, PGresult **out)
{
    char name[16];
    if (c->pg == NULL)
        return ENT_EDBDOWN;
    int rc = db__cached_name(c, sql, n, name);
    if (rc != ENT_OK)
        return rc;
    if (name[0] == '\0')
        return db__exec_sql(c, sql, n, vals, out);
    return db__check(c, DB_AWAIT(c, PQexecPrepared(c->pg, name, n, vals, NULL, NULL, 0)), out);
}

int db__exec_rows(db_conn_t *c, const char *name, const char *sql, bool cache, int n, const char *const *vals,
                  db_row_fn row, void *ctx)
{
    char cached[16];
    if (c->pg == NULL)
        return ENT_EDBDOWN;
    if (name == NULL && cache) {
        int rc = db__cached_name(c, sql, n, cached);
        if (rc != ENT_OK)
            return rc;
        name = cached[0] ? cached : NULL;
    }
    db__await_begin(c);
    int sent = name ? PQsendQueryPrepared(c->pg, name, n, vals, NULL, NULL, 0)
                    : PQsendQueryParams(c->pg, sql, n, NULL, vals, NULL, NULL, 0);
    db__await_done(c);
    if (!sent)
        return db__map_error(c, NULL);
    (void)PQsetSingleRowMode(c->pg); /* else the rows come in one result, as PQexec's */
    /* Every result is read: the connection is ready for its next statement
     * only then. Once the callback stops, the connection is closed instead,
     * and what is left of the statement is neither run nor sent: its
     * backend ends at the next rows it cannot send. (A cancel would keep
     * the connection, but PQcancel waits on a connection of its own with
     * no time limit, and the rows on their way would still be read.) */
    int rc = ENT_OK;
    PGresult *r;
    while ((r = DB_AWAIT(c, PQgetResult(c->pg))) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) {
            for (int i = 0; rc == ENT_OK && i < PQntuples(r); i++)
                rc = row(ctx, r, i);
            if (rc != ENT_OK) {
                PQclear(r);
                db_conn_discard(c);
                return rc;
            }
        } else if (rc == ENT_OK) {
            rc = db__map_error(c, r);
            if (rc == ENT_EDB || rc == ENT_EDBDOWN || rc == ENT_ETIMEDOUT)
                log_warn("database: %s", c->message);
        }
        PQclear(r);
    }
    if (rc == ENT_OK && PQstatus(c->pg) != CONNECTION_OK)
        rc = db__map_error(c, NULL);
    return rc;
}

static int db__simple(db_conn_t *c, const char *sql)
{
    return db__exec_sql(c, sql, 0, NULL, NULL);
}

int db_conn_reset(db_conn_t *c)
{
    return db__connect(c, c->pool->conninfo, c->pool->connect_timeout_s);
}

int db_conn_replan_every(db_conn_t *c, double seconds)
{
    double now = db__monotonic();
    if (now - c->replanned_at < seconds)
        return ENT_OK;
    c->replanned_at = now;
    return db__simple(c, "DISCARD PLANS");
}

/* Opens a transaction with sql: "BEGIN", or BEGIN and settings of the
 * transaction sent as one simple query (one round trip; the block BEGIN
 * opens outlives the query string). */
static int db__begin_with(db_conn_t *c, const char *sql, PGresult **out)
{
    c->xid[0] = '\0';
    int rc = c->pg == NULL ? ENT_EDBDOWN : db__check(c, DB_AWAIT(c, PQexec(c->pg, sql)), out);
    if (rc == ENT_EDBDOWN && c->pool != NULL) {
        /* Nothing was done yet: reconnecting and starting again is safe. */
        if ((rc = db__connect(c, c->pool->conninfo, c->pool->connect_timeout_s)) != ENT_OK)
            return rc;
        rc = db__check(c, DB_AWAIT(c, PQexec(c->pg, sql)), out);
    }
    return rc;
}

int db_begin(db_conn_t *c)
{
    return db__begin_with(c, "BEGIN", NULL);
}

/* Keeps the transaction id, the server's start and its incarnation token
 * in r (one row of DB_XACT_ID_SELECT's columns); none without a token. */
static void db__keep_xid(db_conn_t *c, const PGresult *r)
{
    bool one = PQntuples(r) == 1 && PQnfields(r) == 3 && !PQgetisnull(r, 0, 2);
    const char *v = one ? PQgetvalue(r, 0, 0) : "", *start = one ? PQgetvalue(r, 0, 1) : "";
    const char *token = one ? PQgetvalue(r, 0, 2) : "";
    size_t n = strlen(v);
    if (n >= sizeof c->xid || strspn(v, "0123456789") != n || strlen(start) >= sizeof c->xid_server ||
        strlen(token) >= sizeof c->xid_token)
        n = 0;
    memcpy(c->xid, v, n);
    c->xid[n] = '\0';
    snprintf(c->xid_server, sizeof c->xid_server, "%s", n > 0 ? start : "");
    snprintf(c->xid_token, sizeof c->xid_token, "%s", n > 0 ? token : "");
}

static int db__begin_tracked(db_conn_t *c, const char *sql)
{
    PGresult *r = NULL;
    /* One round trip, as db_begin's; the result is the SELECT's. */
    int rc = db__begin_with(c, sql, &r);
    if (rc != ENT_OK) {
        db_rollback(c); /* the BEGIN may have run and the SELECT failed */
        return rc;
    }
    db__keep_xid(c, r);
    PQclear(r);
    return ENT_OK;
}

int db_begin_tracked(db_conn_t *c)
{
    return db__begin_tracked(c, "BEGIN; " DB_XACT_ID_SELECT);
}

int db_begin_tracked_nowait(db_conn_t *c)
{
    return db__begin_tracked(c, "BEGIN; SET LOCAL lock_timeout = 1; " DB_XACT_ID_SELECT);
}

db_commit_fate_t db_commit_fate(db_conn_t *c, int wait_ms)
{
    char xid[sizeof c->xid], server[sizeof c->xid_server], token[sizeof c->xid_token];
    memcpy(xid, c->xid, sizeof xid);
    memcpy(server, c->xid_server, sizeof server);
    memcpy(token, c->xid_token, sizeof token);
    c->xid[0] = '\0';
    if (xid[0] == '\0' || c->pool == NULL)
        return DB_FATE_UNKNOWN;
    db_conn_discard(c);
    double until = db__monotonic() + wait_ms / 1000.0;
    struct timespec pause = {0, 20 * 1000000L};
    for (;;) {
        PGresult *r = NULL;
        const char *v[3] = {xid, server, token};
        /* A server refusing connections for a moment, or a new connection
         * lost before it asked (its backend ended too): asked again, every
         * 20 ms, until wait_ms have gone. */
        if ((c->pg == NULL && db_conn_reset(c) != ENT_OK) ||
            db__exec_sql(c,
                         "SELECT pg_xact_status($1::xid8), pg_postmaster_start_time() = $2::timestamptz "
                         "AND (SELECT token FROM server_incarnation) = $3, "
                         "current_setting('synchronous_standby_names') <> ''",
                         3, v, &r) != ENT_OK) {
            db_conn_discard(c);
            if (db__monotonic() >= until)
                return DB_FATE_UNKNOWN;
            nanosleep(&pause, NULL);
            continue;
        }
        /* Another server, the same one restarted, or one that went through
         * crash recovery (db/017 empties the token): ids handed out before
         * a crash or on another primary may have been given again, so the
         * answer would be about another transaction. */
        if (strcmp(PQgetvalue(r, 0, 1), "t") != 0) {
            log_warn("database: a COMMIT's outcome cannot be asked: the server is not the one that ran it");
            PQclear(r);
            return DB_FATE_UNKNOWN;
        }
        const char *st = PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0);
        /* With synchronous standbys, a backend ended while it waited for
         * them has committed here only: not a success a failover keeps. */
        if (strcmp(st, "committed") == 0 && strcmp(PQgetvalue(r, 0, 2), "t") == 0) {
            log_warn("database: a COMMIT's outcome is not known: committed here, maybe not on the synchronous "
                     "standbys");
            PQclear(r);
            return DB_FATE_UNKNOWN;
        }
        db_commit_fate_t fate = strcmp(st, "committed") == 0 ? DB_FATE_COMMITTED
                                : strcmp(st, "aborted") == 0 ? DB_FATE_ABORTED
                                                             : DB_FATE_UNKNOWN;
        bool running = strcmp(st, "in progress") == 0;
        PQclear(r);
        /* "in progress": the old backend has not finished its COMMIT yet
         * (a flush, or a server that has not seen the client go). */
        if (!running || db__monotonic() >= until)
            return fate;
        nanosleep(&pause, NULL);
    }
}

int db_begin_durable(db_conn_t *c)
{
    if (c->pool == NULL || !c->pool->async_commit)
        return db_begin(c);
    int rc = db__begin_with(c, "BEGIN; SET LOCAL synchronous_commit = on", NULL);
    if (rc != ENT_OK)
        db_rollback(c); /* the BEGIN may have run and the SET failed */
    return rc;
}

bool db_in_transaction(const db_conn_t *c)
{
    return c->pg != NULL && PQtransactionStatus(c->pg) == PQTRANS_INTRANS;
}

/* Records a COMMIT that succeeded with a warning as undecided (its
 * outcome is asked: db_commit_fate) and returns ENT_EDBDOWN. */
static int db__commit_warned(db_conn_t *c)
{
    c->sqlstate[0] = c->constraint[0] = '\0';
    snprintf(c->message, sizeof c->message, "the COMMIT succeeded with a warning; what became of it is asked");
    c->commit_undecided = true;
    return ENT_EDBDOWN;
}

int db_commit(db_conn_t *c)
{
    c->warned = false;
    int rc = db__simple(c, "COMMIT");
    if (rc == ENT_OK && c->warned && c->xid[0] != '\0') {
        /* A tracked transaction whose COMMIT succeeded with a warning (a
         * cancelled wait for synchronous standbys): asked after, as in
         * db__pipeline; its id stays for db_commit_fate. */
        rc = db__commit_warned(c);
        log_warn("database: %s", c->message);
        return rc;
    }
    if (rc == ENT_OK)
        c->xid[0] = '\0'; /* kept only for a COMMIT left unanswered */
    return rc;
}

void db_rollback(db_conn_t *c)
{
    if (c->pg == NULL)
        return;
    PGresult *r = DB_AWAIT(c, PQexec(c->pg, "ROLLBACK"));
    PQclear(r);
}

int db_savepoint(db_conn_t *c)
{
    return db__simple(c, "SAVEPOINT unit");
}

int db_rollback_to_savepoint(db_conn_t *c)
{
    return db__simple(c, "ROLLBACK TO SAVEPOINT unit");
}

const char *db_conn_sqlstate(const db_conn_t *c) { return c->sqlstate; }
const char *db_conn_constraint(const db_conn_t *c) { return c->constraint; }
const char *db_conn_message(const db_conn_t *c) { return c->message; }

bool db_conn_commit_undecided(const db_conn_t *c) { return c->commit_undecided; }

int db__pipeline(db_conn_t *c, db_call_t *calls, size_t n, size_t *failed_at)
{
    int rc = ENT_OK;
    size_t i;

    /* The COMMIT's index, if the pipeline has one (n: none). */
    size_t commit_at = n;
    for (size_t k = 0; k < n; k++)
        if (calls[k].id == DB_CALL_COMMIT)
            commit_at = k;
    c->commit_undecided = false;
    *failed_at = n;
    if (c->pg == NULL)
        return ENT_EDBDOWN;
    if (PQenterPipelineMode(c->pg) != 1)
        return db__map_error(c, NULL);
    c->warned = false;
    /* (Sending waits too once the socket's buffer is full.) */
    db__await_begin(c);
    for (i = 0; i < n; i++) {
        calls[i].res = NULL;
        int ok;
        if (calls[i].id == DB_CALL_BEGIN) {
            c->xid[0] = '\0';
            ok = PQsendQueryParams(c->pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
        } else if (calls[i].id == DB_CALL_COMMIT) {
            ok = PQsendQueryParams(c->pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
        } else {
            ok = PQsendQueryPrepared(c->pg, db_stmts[calls[i].id].name, calls[i].n, calls[i].vals, NULL, NULL, 0);
        }
        if (!ok)
            break;
    }
    bool synced = i == n && PQpipelineSync(c->pg) == 1;
    db__await_done(c);
    if (!synced) {
        /* The connection broke while sending: nothing can be trusted. */
        rc = db__map_error(c, NULL);
        db_conn_discard(c);
        *failed_at = 0;
        c->commit_undecided = commit_at < n; /* some of it may have gone */
        return rc == ENT_OK ? ENT_EDBDOWN : rc;
    }
    for (i = 0; i < n; i++) {
        PGresult *r = DB_AWAIT(c, PQgetResult(c->pg));
        if (r == NULL) {
            /* No answer at all from here on (an earlier error decided). */
            if (rc == ENT_OK)
                c->commit_undecided = i <= commit_at && commit_at < n;
            rc = ENT_EDBDOWN;
            break;
        }
        ExecStatusType st = PQresultStatus(r);
        if (i == commit_at && st == PGRES_COMMAND_OK && rc == ENT_OK && c->warned) {
            /* A COMMIT that succeeds with a warning: above all, PostgreSQL's
             * "canceling wait for synchronous replication" when a cancel
             * ends its wait for the standbys (the statement timeout does not
             * cover a COMMIT): committed here, maybe not on them. Its outcome
             * is asked as when its answer is lost (db_commit_fate tells that
             * case apart). warned was cleared when the pipeline began, not
             * here: libpq reads a notice as soon as it arrives, perhaps while
             * an earlier statement's result is taken; a warning of ours
             * before the COMMIT only costs the question. */
            rc = db__commit_warned(c);
            *failed_at = i;
            PQclear(r);
            break;
        }
        if (st == PGRES_TUPLES_OK && rc == ENT_OK && calls[i].id == STMT_XACT_ID) {
            db__keep_xid(c, r);
            PQclear(r);
        } else if (st == PGRES_TUPLES_OK && rc == ENT_OK) {
            calls[i].res = r;
        } else {
            if (rc == ENT_OK && st != PGRES_COMMAND_OK) {
                rc = db__map_error(c, r);
                *failed_at = i;
                /* The server processes a pipeline in order: its own error
                 * before the COMMIT means the COMMIT never ran. An error
                 * libpq made up (no SQLSTATE: the connection broke) says
                 * nothing of what the server got to; nor does one at the
                 * COMMIT itself (a shutdown may end the backend after its
                 * commit record, before the answer). */
                c->commit_undecided = commit_at < n && (i >= commit_at || c->sqlstate[0] == '\0');
            }
            PQclear(r);
        }
        /* Each statement's results end with a NULL. */
        while ((r = DB_AWAIT(c, PQgetResult(c->pg))) != NULL)
            PQclear(r);
    }
    bool lost = false;
    if (rc != ENT_EDBDOWN) {
        /* The PGRES_PIPELINE_SYNC. Without it, with every statement's
         * result in, what they did stands: a COMMIT's "COMMIT" was a commit.
         * A server shutting down (or pg_terminate_backend) ends a backend
         * there: it had the results buffered until the Sync, and sends them
         * with its FATAL error. Reporting such a unit as failed would be
         * untrue; only the connection is gone. */
        PGresult *r = DB_AWAIT(c, PQgetResult(c->pg));
        lost = r == NULL || PQresultStatus(r) != PGRES_PIPELINE_SYNC;
        PQclear(r);
    }
    if (rc == ENT_EDBDOWN || lost || PQexitPipelineMode(c->pg) != 1) {
        if (lost && rc == ENT_OK)
            log_warn("database: the connection was lost after the last result (%s)", PQerrorMessage(c->pg));
        db_conn_discard(c);
        rc = rc == ENT_OK && !lost ? ENT_EDBDOWN : rc;
    }
    if (rc != ENT_OK) {
        for (size_t k = 0; k < n; k++) {
            PQclear(calls[k].res);
            calls[k].res = NULL;
        }
        if (rc == ENT_EDB || rc == ENT_EDBDOWN || rc == ENT_ETIMEDOUT)
            log_warn("database: %s", c->message);
    }
    return rc;
}
