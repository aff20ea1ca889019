/* Statement groups (group.h): a leader/follower queue over the pool. */
#include "group.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/log.h"
#include "db_int.h"

/* No thread waits for its call: a call's done is called by the thread
 * that ran its group (the submitter of the first call of a run of groups),
 * so a request whose statement waits in the queue holds no thread, and
 * nobody is woken but the leader by PostgreSQL's answer. */
struct db_group {
    pthread_mutex_t lock;
    db_group_call_t *head, *tail; /* queued, oldest first */
    int in_flight, max_in_flight;
    db_pool_t *pool;
};

/* A db_result_t is a PGresult: the callers outside db/ see no libpq type. */
const char *db_result_value(const db_result_t *r, int row, int col)
{
    const PGresult *p = (const PGresult *)r;
    return PQgetisnull(p, row, col) ? NULL : PQgetvalue(p, row, col);
}

int db_result_rows(const db_result_t *r)
{
    return PQntuples((const PGresult *)r);
}

void db_result_free(db_result_t *r)
{
    PQclear((PGresult *)r);
}

int db_group_new(db_pool_t *pool, int max_in_flight, db_group_t **out)
{
    db_group_t *g = calloc(1, sizeof *g);
    if (g == NULL)
        return ENT_ENOMEM;
    pthread_mutex_init(&g->lock, NULL);
    g->pool = pool;
    g->max_in_flight = max_in_flight;
    *out = g;
    return ENT_OK;
}

void db_group_free(db_group_t *g)
{
    if (g == NULL)
        return;
    pthread_mutex_destroy(&g->lock);
    free(g);
}

long long db_group_lock_key(const char *name, size_t n)
{
    unsigned long long h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)name[i];
        h *= 1099511628211ULL;
    }
    return (long long)h;
}

/* Lays the pipeline of members (n) out in calls: BEGIN, each member's lock
 * (if any) and statement, COMMIT; at[i] gets the index of member i's
 * statement. keys holds the lock keys' text. Returns the number of calls. */
static size_t group__layout(db_group_call_t **members, size_t n, db_call_t *calls, size_t *at,
                            char (*keys)[24], const char **keyvals)
{
    size_t k = 0;
    calls[k++] = (db_call_t){DB_CALL_BEGIN, 0, NULL, NULL};
    for (size_t i = 0; i < n; i++) {
        if (members[i]->has_lock) {
            snprintf(keys[i], sizeof keys[i], "%lld", members[i]->lock_key);
            keyvals[i] = keys[i];
            calls[k++] = (db_call_t){STMT_ADVISORY_XACT_LOCK, 1, &keyvals[i], NULL};
        }
        at[i] = k;
        calls[k++] = (db_call_t){(int)members[i]->stmt, members[i]->n, members[i]->vals, NULL};
    }
    calls[k++] = (db_call_t){DB_CALL_COMMIT, 0, NULL, NULL};
    return k;
}

/* Orders members by lock key (those without one first, in arrival
 * order): every group takes its locks in one order. */
static bool group__after(const db_group_call_t *a, const db_group_call_t *b)
{
    return a->has_lock && (!b->has_lock || a->lock_key > b->lock_key);
}

static void group__sort(db_group_call_t **members, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        db_group_call_t *x = members[i];
        size_t j = i;
        while (j > 0 && group__after(members[j - 1], x)) {
            members[j] = members[j - 1];
            j--;
        }
        members[j] = x;
    }
}

/* Runs members (n) in one transaction on c; ENT_OK with each member's
 * result set, or the pipeline's error (nothing of them written). */
static int group__transaction(db_conn_t *c, db_group_call_t **members, size_t n, size_t *failed_at)
{
    db_call_t calls[2 * DB_GROUP_MAX + 2];
    size_t at[DB_GROUP_MAX];
    char keys[DB_GROUP_MAX][24];
    const char *keyvals[DB_GROUP_MAX];
    size_t k = group__layout(members, n, calls, at, keys, keyvals);
    int rc = db__pipeline(c, calls, k, failed_at);
    if (rc != ENT_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        members[i]->res = (db_result_t *)calls[at[i]].res;
        calls[at[i]].res = NULL;
        members[i]->rc = ENT_OK;
    }
    for (size_t i = 0; i < k; i++)
        PQclear(calls[i].res); /* the locks' rows */
    return ENT_OK;
}

/* group__transaction, once more on a fresh connection when the server
 * ended the first before its COMMIT ran (its own error before it: a
 * restart, an ended backend): nothing of it was written. */
static int group__transaction_again(db_conn_t *c, db_group_call_t **members, size_t n, size_t *failed_at)
{
    int rc = group__transaction(c, members, n, failed_at);
    if (rc == ENT_EDBDOWN && !db_conn_commit_undecided(c) && db_conn_reset(c) == ENT_OK)
        rc = group__transaction(c, members, n, failed_at);
    return rc;
}

/* Runs one statement alone on c: autocommit, or with its lock in a
 * transaction of its own. */
static void group__alone(db_conn_t *c, db_group_call_t *m)
{
    PGresult *r = NULL;
    size_t failed_at;
    if (m->has_lock) {
        db_group_call_t *one[1] = {m};
        m->rc = group__transaction_again(c, one, 1, &failed_at);
        if (m->rc != ENT_OK && c->pg != NULL)
            db_rollback(c);
        return;
    }
    m->rc = db__exec(c, m->stmt, m->n, m->vals, &r);
    m->res = (db_result_t *)r;
}

/* Writes the members (n) as one transaction, or each alone. */
static void group__run(db_group_t *g, db_group_call_t **members, size_t n)
{
    db_conn_t *c = NULL;
    size_t failed_at = 0;
    int rc = db_pool_acquire(g->pool, &c);

    if (rc != ENT_OK) {
        for (size_t i = 0; i < n; i++)
            members[i]->rc = rc;
        return;
    }
    if (n == 1) {
        group__alone(c, members[0]);
        rc = members[0]->rc;
        goto out;
    }
    group__sort(members, n);
    rc = group__transaction_again(c, members, n, &failed_at);
    if (rc == ENT_OK)
        goto out;
    if (rc == ENT_EDBDOWN || rc == ENT_ETIMEDOUT) {
        /* The COMMIT may have happened (or the database is gone): nothing
         * is run again. Nor after a statement timeout (nothing was
         * written): each statement alone could wait as long again, one
         * after the other, in this request's thread. */
        for (size_t i = 0; i < n; i++)
            members[i]->rc = rc;
        goto out;
    }
    /* One statement failed (or the COMMIT did, a serialization failure):
     * nothing of the group was written; each runs alone, so that an error
     * is only its own request's. */
    log_info("a statement group of %zu failed at %zu (%s); running each alone", n, failed_at, ent_strerror(rc));
    db_rollback(c);
    for (size_t i = 0; i < n; i++) {
        if (c->pg == NULL) {
            members[i]->rc = ENT_EDBDOWN;
            continue;
        }
        group__alone(c, members[i]);
    }
    rc = ENT_OK;
out:
    if (rc == ENT_EDBDOWN)
        db_conn_discard(c);
    db_pool_release(g->pool, c);
}

void db_group_submit(db_group_t *g, db_group_call_t *call)
{
    call->res = NULL;
    call->rc = ENT_OK;
    call->next = NULL;
    if (g->max_in_flight <= 0) {
        db_group_call_t *one[1] = {call};
        group__run(g, one, 1);
        call->done(call);
        return;
    }
    pthread_mutex_lock(&g->lock);
    if (g->tail != NULL)
        g->tail->next = call;
    else
        g->head = call;
    g->tail = call;
    /* Lead while calls wait and a slot is free: those queued while every
     * slot was taken are led by whoever frees one. */
    while (g->head != NULL && g->in_flight < g->max_in_flight) {
        db_group_call_t *members[DB_GROUP_MAX];
        size_t m = 0;
        while (g->head != NULL && m < DB_GROUP_MAX) {
            db_group_call_t *x = g->head;
            g->head = x->next;
            x->next = NULL;
            members[m++] = x;
        }
        if (g->head == NULL)
            g->tail = NULL;
        g->in_flight++;
        pthread_mutex_unlock(&g->lock);
        group__run(g, members, m);
        /* The slot is free before the answers are written: a statement
         * queued meanwhile leads at once rather than wait for them. */
        pthread_mutex_lock(&g->lock);
        g->in_flight--;
        pthread_mutex_unlock(&g->lock);
        /* (Each member's done may free it: nothing of it is read after.) */
        for (size_t i = 0; i < m; i++)
            members[i]->done(members[i]);
        pthread_mutex_lock(&g->lock);
    }
    pthread_mutex_unlock(&g->lock);
}
