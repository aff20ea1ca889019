/*
 * pool.h - a bounded pool of PostgreSQL connections.
 *
 * Connections are opened lazily, every statement of stmt.c is prepared on
 * each new connection, and a connection comes back to the pool only when it
 * is healthy and idle (outside a transaction): one left in a transaction is
 * rolled back, a broken one is closed and reopened on next use.
 */
#ifndef ENT_DB_POOL_H
#define ENT_DB_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"

typedef struct db_pool db_pool_t;
typedef struct db_conn db_conn_t;

typedef struct db_pool_options {
    const char *conninfo;   /* libpq conninfo or URI; copied */
    int size;               /* connections at most */
    int connect_timeout_s;  /* per connection attempt */
    int wait_timeout_ms;    /* how long acquire waits for a free connection */
    /* Commits return before their WAL is flushed (synchronous_commit off)
     * unless a transaction is begun with db_begin_durable: for work whose
     * loss in a crash only means doing it again (claiming a job). */
    bool async_commit;
    /* How long a statement waits for a row lock another transaction holds
     * (PostgreSQL's lock_timeout) before it fails with ENT_ELOCKED; 0 for
     * as long as it takes. */
    int lock_timeout_ms;
    /* PostgreSQL's statement_timeout on every connection; 0 for none. An
     * answer awaited DB_ANSWER_GRACE_MS longer than this (a server that
     * stopped answering without closing: frozen, or behind a proxy that
     * stopped forwarding) closes the connection, and its statement fails
     * with ENT_EDBDOWN instead of holding its thread for good. */
    int statement_timeout_ms;
} db_pool_options_t;

/* How much longer than its statement_timeout a connection's answer is
 * awaited before the connection is closed: time for the server's own
 * cancellation to arrive. */
#define DB_ANSWER_GRACE_MS 2000

/* Creates a pool; opens no connection yet. *out is owned by the caller and
 * freed with db_pool_destroy. */
int db_pool_create(const db_pool_options_t *opt, db_pool_t **out) ENT_MUSTCHECK;

/* Closes every connection. No connection may be in use. */
void db_pool_destroy(db_pool_t *pool);

/* Lends a connection, opening it if needed. Returns ENT_ETIMEDOUT when none
 * was free in time, ENT_EDBDOWN when the server cannot be reached. */
int db_pool_acquire(db_pool_t *pool, db_conn_t **out) ENT_MUSTCHECK;

/* Connections lent now, open now, and the most there may be. */
void db_pool_stats(db_pool_t *pool, int *in_use, int *open, int *size);

/* Returns a connection; see the file comment for what is checked. */
void db_pool_release(db_pool_t *pool, db_conn_t *conn);

/* Closes a connection that failed so that the next acquire opens it anew. */
void db_conn_discard(db_conn_t *conn);

/* Reopens a connection that was lost (the server restarted). Only for
 * callers that know their failed statement changed nothing (reads). */
int db_conn_reset(db_conn_t *conn) ENT_MUSTCHECK;

/* Drops the cached plans of the connection's prepared statements
 * (DISCARD PLANS) when seconds have passed since it last did: each is
 * planned again at its next run, against its tables as they are then.
 * Outside a transaction. For the job queue, whose table is empty one
 * moment and thousands of dead rows the next: a plan made once, at start
 * on an empty table, would walk every row of it for as long as the
 * connection lives. */
int db_conn_replan_every(db_conn_t *conn, double seconds) ENT_MUSTCHECK;

/* Transaction control. db_begin reopens a broken connection once: a server
 * restart between two requests costs nothing but the reconnect. */
int db_begin(db_conn_t *conn) ENT_MUSTCHECK;
/* A transaction whose COMMIT returns only once it is durable, on a pool
 * with async_commit too. */
int db_begin_durable(db_conn_t *conn) ENT_MUSTCHECK;
/* As db_begin, and the transaction's id is kept (assigned at once): should
 * its COMMIT go unanswered, db_commit_fate can ask how it ended. */
int db_begin_tracked(db_conn_t *conn) ENT_MUSTCHECK;
/* As db_begin_tracked, and its statements wait for no lock another
 * transaction holds (lock_timeout of 1 ms: ENT_ELOCKED at once). */
int db_begin_tracked_nowait(db_conn_t *conn) ENT_MUSTCHECK;
/* Commits. ENT_EDBDOWN when the answer was lost, and also, for a tracked
 * transaction (db_begin_tracked), when the COMMIT succeeded with a warning
 * (a cancelled wait for synchronous standbys: committed here, maybe not on
 * them): ask db_commit_fate. An untracked one that so succeeds is ENT_OK. */
int db_commit(db_conn_t *conn) ENT_MUSTCHECK;
void db_rollback(db_conn_t *conn);
/* Whether a transaction is open on conn (a store function that runs one
 * of its own then runs inside it instead). */
bool db_in_transaction(const db_conn_t *conn);

/* Savepoints, for work inside a transaction that may fail on its own. */
int db_savepoint(db_conn_t *conn) ENT_MUSTCHECK;
int db_rollback_to_savepoint(db_conn_t *conn) ENT_MUSTCHECK;

/* The SQLSTATE and constraint name of the last failed statement ("" when
 * none), for mapping errors to reasons. */
const char *db_conn_sqlstate(const db_conn_t *conn);
const char *db_conn_constraint(const db_conn_t *conn);
const char *db_conn_message(const db_conn_t *conn);

/* After a pipeline with a COMMIT failed: whether the COMMIT may have run
 * (it was sent, and no answer says it did not). False when the server
 * refused a statement before it (with an SQLSTATE of its own, such as a
 * shutdown's 57P01): it never ran, and nothing of the transaction stays. */
bool db_conn_commit_undecided(const db_conn_t *conn);

/* How a transaction whose COMMIT went unanswered ended. */
typedef enum db_commit_fate {
    DB_FATE_UNKNOWN,   /* its id was never known, or the server cannot say */
    DB_FATE_COMMITTED, /* it committed: its work stands */
    DB_FATE_ABORTED,   /* it did not: nothing of it stays */
} db_commit_fate_t;

/* Asks PostgreSQL on a fresh connection (conn is reconnected) how the
 * last transaction begun on conn with its id kept (db_begin_tracked, or a
 * pipeline with STMT_XACT_ID) ended, by that id (pg_xact_status). While
 * the old backend is still finishing it ("in progress"), or while no new
 * connection can ask, asks again for up to wait_ms (a connection attempt
 * begun before then may take its connect timeout). */
db_commit_fate_t db_commit_fate(db_conn_t *conn, int wait_ms);

/* Whether the database answers and every migration compiled in has been
 * applied: ENT_OK, ENT_EDBDOWN (cannot be reached) or ENT_EINVAL (schema
 * behind; *why says which migration is missing). */
int db_ready(db_pool_t *pool, char *why, size_t len) ENT_MUSTCHECK;

/* Applies the migrations compiled into the binary under an advisory lock;
 * connects with conninfo. Writes what it did to the log. */
int db_migrate(const char *conninfo, int connect_timeout_s) ENT_MUSTCHECK;

#endif
