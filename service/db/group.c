/* Statement groups (group.h): a leader/follower queue over the pool. */
#include "group.h"

#include <pthread.h>
#include <stdlib.h>

#include "../core/log.h"
#include "db_int.h"

/* Each waiting call sleeps on a condition of its own, signalled when its
 * group has run or when it is the oldest queued and a slot is free: a
 * group that ends wakes its members and the next leader, not every
 * waiting thread (on virtual machines each needless wake-up costs a
 * context switch of tens of microseconds). */
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

/* Runs one statement alone (autocommit) on c. */
static void group__alone(db_conn_t *c, db_group_call_t *m)
{
    PGresult *r = NULL;
    m->rc = db__exec(c, m->stmt, m->n, m->vals, &r);
    m->res = (db_result_t *)r;
}

/* Writes the members (n) as one transaction, or each alone. */
static void group__run(db_group_t *g, db_group_call_t **members, size_t n)
{
    db_call_t calls[DB_GROUP_MAX + 2];
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
    calls[0] = (db_call_t){DB_CALL_BEGIN, 0, NULL, NULL};
    for (size_t i = 0; i < n; i++)
        calls[i + 1] = (db_call_t){(int)members[i]->stmt, members[i]->n, members[i]->vals, NULL};
    calls[n + 1] = (db_call_t){DB_CALL_COMMIT, 0, NULL, NULL};
    rc = db__pipeline(c, calls, n + 2, &failed_at);
    if (rc == ENT_OK) {
        for (size_t i = 0; i < n; i++) {
            members[i]->res = (db_result_t *)calls[i + 1].res;
            members[i]->rc = ENT_OK;
        }
        goto out;
    }
    if (rc == ENT_EDBDOWN) {
        /* The COMMIT may have happened: nothing is run again. */
        for (size_t i = 0; i < n; i++)
            members[i]->rc = ENT_EDBDOWN;
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

int db_group_exec(db_group_t *g, db_group_call_t *me)
{
    me->res = NULL;
    me->rc = ENT_OK;
    if (g->max_in_flight <= 0) {
        db_group_call_t *one[1] = {me};
        group__run(g, one, 1);
        return me->rc;
    }
    me->next = NULL;
    me->queued = true;
    me->done = false;
    pthread_cond_init(&me->wake, NULL);
    pthread_mutex_lock(&g->lock);
    if (g->tail != NULL)
        g->tail->next = me;
    else
        g->head = me;
    g->tail = me;
    while (!me->done) {
        if (me->queued && g->head == me && g->in_flight < g->max_in_flight) {
            db_group_call_t *members[DB_GROUP_MAX];
            size_t m = 0;
            while (g->head != NULL && m < DB_GROUP_MAX) {
                db_group_call_t *x = g->head;
                g->head = x->next;
                x->next = NULL;
                x->queued = false;
                members[m++] = x;
            }
            if (g->head == NULL)
                g->tail = NULL;
            g->in_flight++;
            pthread_mutex_unlock(&g->lock);
            group__run(g, members, m);
            pthread_mutex_lock(&g->lock);
            g->in_flight--;
            for (size_t i = 0; i < m; i++) {
                members[i]->done = true;
                if (members[i] != me)
                    pthread_cond_signal(&members[i]->wake);
            }
            /* The oldest still queued may lead now. */
            if (g->head != NULL)
                pthread_cond_signal(&g->head->wake);
        } else {
            pthread_cond_wait(&me->wake, &g->lock);
        }
    }
    pthread_mutex_unlock(&g->lock);
    pthread_cond_destroy(&me->wake);
    return me->rc;
}
