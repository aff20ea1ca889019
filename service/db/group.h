/*
 * group.h - statement groups: single-statement writes of concurrent
 * requests (a status log, a device report) share one transaction and one
 * COMMIT, the way commit groups do for upgrades (lifecycle/group.h).
 *
 * A request queues its statement and goes on (its thread is not held):
 * while fewer than max_in_flight groups are being written, the thread that
 * queued leads: it takes every statement queued (up to DB_GROUP_MAX),
 * sends BEGIN, them and COMMIT in one pipeline on one pooled connection,
 * and once the COMMIT returned calls each one's done with its result; then
 * it leads again while statements wait and a slot is free. A statement
 * queued while every slot is taken is led by the leader that frees one.
 * A request never waits for a group to fill: with a free slot it leads at
 * once, so groups form only while the database is busy. When a statement
 * of a group fails, the group is rolled back and each statement runs alone
 * (so one request's error is its own); when the connection is lost, every
 * statement of the group fails with ENT_EDBDOWN and none is run again (its
 * COMMIT may have happened), and when a statement ran past the statement
 * timeout, every one fails with ENT_ETIMEDOUT (each alone could wait as
 * long again).
 *
 * A statement run in a group must not depend on being alone in its
 * transaction: each sees the rows the statements before it wrote.
 */
#ifndef ENT_DB_GROUP_H
#define ENT_DB_GROUP_H

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
    int rc;                   /* out: ENT_OK once committed, or the error */
    /* Called once, when the statement committed or failed, from the thread
     * that ran its group (perhaps the submitter's, before db_group_submit
     * returns); with no lock held. It may free the call. */
    void (*done)(struct db_group_call *call);
    struct db_group_call *next; /* the group's own */
} db_group_call_t;

/* Queues the statement of call (which, with what its vals point at, must
 * live until its done has been called), grouped with those of concurrent
 * calls; the calling thread may run groups, its own and others', before it
 * returns. */
void db_group_submit(db_group_t *g, db_group_call_t *call);

/* The rows of a statement run in a group: read with db_result_value, freed
 * with db_result_free. */
typedef struct db_result db_result_t;
const char *db_result_value(const db_result_t *r, int row, int col);
int db_result_rows(const db_result_t *r);
void db_result_free(db_result_t *r);

#endif
