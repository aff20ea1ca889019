/*
 * db_int.h - internals shared by the files of service/db; nothing outside
 * service/db includes this or libpq-fe.h.
 */
#ifndef ENT_DB_INT_H
#define ENT_DB_INT_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/alloc.h"
#include "pool.h"
#include "stmt.h"

/* Statements of the query builder a connection prepares (db__exec_cached):
 * a search is built from the criteria a request names, so the same few
 * texts come again and again, and planning one (about 100 µs) cost five
 * times its execution. A connection keeps the first DB_SQL_CACHE texts;
 * any others are planned on every call, as before. */
#define DB_SQL_CACHE 32

typedef struct db_sql_cached {
    uint64_t hash;
    char *sql; /* owned */
} db_sql_cached_t;

struct db_conn {
    PGconn *pg;           /* NULL when closed */
    db_pool_t *pool;
    bool in_use;
    double replanned_at;  /* CLOCK_MONOTONIC seconds of the last DISCARD PLANS (or connect) */
    char sqlstate[6];
    char constraint[64];
    char message[256];
    bool commit_undecided; /* the last pipeline's COMMIT may have run, unanswered (db_conn_commit_undecided) */
    char xid[24];          /* the open transaction's id when kept (STMT_XACT_ID, db_begin_tracked), else "" */
    char xid_server[48];   /* and when its server started, */
    char xid_token[48];    /* and the server's incarnation (db/017): an id names that transaction only there */
    db_sql_cached_t cached[DB_SQL_CACHE]; /* prepared on pg as "sql<i>"; forgotten with it */
    int ncached;
    /* Since when (db__clock_ms) the owner has waited for the server on pg,
     * 0 when it is not waiting (DB_AWAIT), DB_WAIT_CUT once the pool's
     * watchdog took the wait and shut the socket. */
    _Atomic long long waiting_ms;
    bool warned; /* the server sent a WARNING since this was last cleared (db__notice) */
    int watch_fd;     /* a pooled pg's socket, dup()ed for the watchdog; -1 without (under the pool's lock) */
};

/* CLOCK_MONOTONIC_COARSE in milliseconds (a few ms of resolution, a few
 * nanoseconds a call): when a wait began. Never 0. */
long long db__clock_ms(void);

/* Evaluates call, a libpq call that waits for the server's answer (PQexec,
 * PQgetResult...), as the connection's wait: the watchdog of c's pool
 * closes a connection whose wait outlasts the pool's statement timeout
 * (db_pool_options_t), and call then returns libpq's error for a
 * connection the server closed. Evaluates to call's result. */
#define DB_AWAIT(c, call) (db__await_begin(c), db__await_end((c), (call)))
#define DB_WAIT_CUT (-1LL)

static inline void db__await_begin(db_conn_t *c)
{
    atomic_store_explicit(&c->waiting_ms, db__clock_ms(), memory_order_relaxed);
}

/* Ends a wait begun with db__await_begin (for calls that may block while
 * sending: a pipeline's, whose buffer a server that reads nothing fills). */
static inline void db__await_done(db_conn_t *c)
{
    atomic_store_explicit(&c->waiting_ms, 0, memory_order_relaxed);
}

static inline PGresult *db__await_end(db_conn_t *c, PGresult *r)
{
    db__await_done(c);
    return r;
}

/* Runs prepared statement id with n text parameters (NULL is SQL NULL).
 * On success *out holds the result (caller PQclears it; out may be NULL to
 * drop it). Errors: ENT_ERETRY (40001, 40P01), ENT_EEXIST (23505),
 * ENT_EDBDOWN (connection lost), ENT_EINVAL (22xxx: data the server
 * refused, such as a bad date), ENT_EDB otherwise. */
int db__exec(db_conn_t *c, db_stmt_id_t id, int n, const char *const *vals, PGresult **out) ENT_MUSTCHECK;

/* Runs ad-hoc SQL with parameters. */
int db__exec_sql(db_conn_t *c, const char *sql, int n, const char *const *vals, PGresult **out) ENT_MUSTCHECK;

/* As db__exec_sql, for SQL whose text comes again (the query builder's):
 * the first time a connection sees a text it prepares it, and runs the
 * prepared statement from then on (a generic plan, as for every prepared
 * statement of ours), so it is parsed and planned once per connection.
 * Past DB_SQL_CACHE texts it runs as db__exec_sql. */
int db__exec_cached(db_conn_t *c, const char *sql, int n, const char *const *vals, PGresult **out) ENT_MUSTCHECK;

/* Called with each row of a result (row i of r, which the callee must not
 * keep): ENT_OK to go on, else the error db__exec_rows returns (the
 * connection is then closed, which ends the statement: c->pg is NULL). */
typedef int (*db_row_fn)(void *ctx, const PGresult *r, int i);

/* Runs the prepared statement name, or else sql (as db__exec_cached does
 * when cache, else as db__exec_sql), and hands its rows to row one at a
 * time as they arrive (libpq's single-row mode): what a large result holds
 * in memory at once is one row, not all of them. */
int db__exec_rows(db_conn_t *c, const char *name, const char *sql, bool cache, int n, const char *const *vals,
                  db_row_fn row, void *ctx) ENT_MUSTCHECK;

/* PostgreSQL array literals (arrays.c), each passed as one bound
 * parameter: strings (NULL elements are SQL NULL) with every element quoted,
 * so that no value can change the array's shape; integers (present NULL:
 * all of them; else a false present[i] is SQL NULL). Allocated from a;
 * db__heap allocates with malloc (the caller frees). */
extern const ent_alloc_t db__heap;
char *db__text_array(const ent_alloc_t *a, const char *const *v, size_t n);
char *db__ll_array(const ent_alloc_t *a, const long long *v, const bool *present, size_t n);

/* One statement of a pipeline: a prepared statement, or BEGIN / COMMIT. */
#define DB_CALL_BEGIN ((int)STMT_COUNT_ + 1)
#define DB_CALL_COMMIT ((int)STMT_COUNT_ + 2)

typedef struct db_call {
    int id;                   /* a db_stmt_id_t, DB_CALL_BEGIN or DB_CALL_COMMIT */
    int n;
    const char *const *vals;
    PGresult *res;            /* out: the result of a statement that returns rows (caller PQclears) */
} db_call_t;

/* Sends the calls in one libpq pipeline (one round trip) and collects
 * their results. Returns ENT_OK, or the mapped error of the first call that
 * failed (the later ones were not run); *failed_at then names it. On
 * failure no res is left for the caller to free. */
int db__pipeline(db_conn_t *c, db_call_t *calls, size_t n, size_t *failed_at) ENT_MUSTCHECK;

/* Records that rows changed between two statements of one transaction in
 * a way that breaks the lock order (what says how) and returns ENT_ERETRY:
 * the caller rolls back and runs the unit again. */
int db__conflict(db_conn_t *c, const char *what);

/* Opens c->pg and prepares all statements. */
int db__connect(db_conn_t *c, const char *conninfo, int connect_timeout_s) ENT_MUSTCHECK;

/* libpq's notice receiver for our connections (arg: the db_conn_t, or
 * NULL): PostgreSQL's notices (and the FATAL it sends an idle connection
 * when it shuts down) go into our log as debug lines, not raw onto
 * stderr; a WARNING sets the connection's warned. */
void db__notice(void *arg, const PGresult *res);

/* The one place that maps a failed result to an ent_err_t. */
int db__map_error(db_conn_t *c, const PGresult *res);

#endif
