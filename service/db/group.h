/*
 * group.h - statement groups: single-statement writes of concurrent
 * requests (a status log, a device report) share one transaction and one
 * COMMIT, the way commit groups do for upgrades (lifecycle/group.h).
 *
 * A request queues its statement; while fewer than max_in_flight groups
 * are being written, the thread of the oldest queued statement leads: it
 * takes every statement queued (up to DB_GROUP_MAX), sends BEGIN, them and
 * COMMIT in one pipeline on one pooled connection, and hands each its
 * result once the COMMIT returned. A request never waits for a group to
 * fill: with a free slot it leads at once, so groups form only while the
 * database is busy. When a statement of a group fails, the group is rolled
 * back and each statement runs alone (so one request's error is its own);
 * when the connection is lost, every statement of the group fails with
 * ENT_EDBDOWN and none is run again (its COMMIT may have happened).
 *
 * A statement run in a group must not depend on being alone in its
 * transaction: each sees the rows the statements before it wrote.
 */
#ifndef ENT_DB_GROUP_H
#define ENT_DB_GROUP_H

#include <stdatomic.h>
#include <stdbool.h>

#include "../core/err.h"
#include "pool.h"
#include "stmt.h"

/* Statements one group takes at most. */
#define DB_GROUP_MAX 64

/* A lock key for a name (64-bit FNV-1a of its n bytes): names that share a
 * key only serialise. */
long long db_group_lock_key(const char *name, size_t n);

typedef struct db_group db_group_t;

/* Makes the groups' shared state over pool (borrowed). max_in_flight 0
 * runs every statement alone. */
int db_group_new(db_pool_t *pool, int max_in_flight, db_group_t **out) ENT_MUSTCHECK;
void db_group_free(db_group_t *g);

/* One statement to run. With has_lock, it runs after taking the
 * transaction-level advisory lock lock_key: statements about one object
 * (a device) then see each other's writes instead of running on one
 * snapshot side by side. A group takes its locks in key order, so groups
 * never wait for each other in a cycle. */
typedef struct db_group_call {
    db_stmt_id_t stmt;
    int n;
    const char *const *vals;
    bool has_lock;
    long long lock_key;
    struct db_result *res;    /* out: the statement's rows (db_result_free) */
    /* the group's own */
    struct db_group_call *next;
    bool queued;
    atomic_bool done;         /* set (after rc and res) once its group has run; read without the lock */
    int rc;
    struct waiter *wake;      /* its thread's (core/waiter.h): woken when done, or when it may lead */
} db_group_call_t;

/* Runs the statement of call, grouped with those of concurrent calls, and
 * returns once it committed (ENT_OK, call->res set) or failed. */
int db_group_exec(db_group_t *g, db_group_call_t *call) ENT_MUSTCHECK;

/* The rows of a statement run in a group: read with db_result_value, freed
 * with db_result_free. */
typedef struct db_result db_result_t;
const char *db_result_value(const db_result_t *r, int row, int col);
int db_result_rows(const db_result_t *r);
void db_result_free(db_result_t *r);

#endif
