/*
 * Commit groups (group.h): a queue per operation, and no thread waiting in
 * it. A request is queued by the thread that served it, once that thread
 * has let go of it; while fewer than max_in_flight groups are being
 * written, that thread leads: it takes the requests queued for one
 * operation (in arrival order, up to max_units line items), writes them as
 * one group, calls each one's after (which answers it), and leads again
 * while requests wait. A request queued while every slot is taken is led
 * by the leader that frees one. Nobody sleeps in the queue and nobody is
 * woken from it: only the leader waits, for PostgreSQL.
 *
 * A queued request's arena (gSOAP's, not thread-safe) is touched by no
 * thread until its group has run: the leader allocates its scratch from
 * the arena of its group's oldest request, and each request's results
 * from its own.
 */
#include <pthread.h>
#include <stdlib.h>

#include "lifecycle_int.h"

/* Requests one group takes at most; the rest wait for the next group. It
 * bounds the leader's stack array, and is above any sensible worker count
 * for one PostgreSQL server. */
#define LC_GROUP_MAX_MEMBERS 64
/* One queue per operation that can be grouped (LC_UPGRADE, LC_UPSELL). */
#define LC_GROUP_OPS 2

struct lc_group {
    pthread_mutex_t lock;
    lc_member_t *head[LC_GROUP_OPS];   /* queued, oldest first */
    lc_member_t *tail[LC_GROUP_OPS];
    int in_flight;                     /* groups being written */
    int max_in_flight;
    size_t max_units;
};

int lc_group_new(int max_in_flight, size_t max_units, lc_group_t **out)
{
    lc_group_t *g = calloc(1, sizeof *g);
    if (g == NULL)
        return ENT_ENOMEM;
    if (pthread_mutex_init(&g->lock, NULL) != 0) {
        free(g);
        return ENT_ENOMEM;
    }
    g->max_in_flight = max_in_flight < 1 ? 1 : max_in_flight;
    g->max_units = max_units;
    *out = g;
    return ENT_OK;
}

void lc_group_free(lc_group_t *g)
{
    if (g == NULL)
        return;
    pthread_mutex_destroy(&g->lock);
    free(g);
}

bool lc__group_fits(const lc_group_t *g, size_t n_changes)
{
    return g != NULL && n_changes <= g->max_units;
}

/* Takes the queued members of op that fit in one group (at least the
 * oldest). Called with the lock held. */
static size_t lc__group_take(lc_group_t *g, int q, lc_member_t **out)
{
    size_t m = 0, units = 0;
    while (g->head[q] != NULL && m < LC_GROUP_MAX_MEMBERS &&
           (m == 0 || units + g->head[q]->n_changes <= g->max_units)) {
        lc_member_t *x = g->head[q];
        g->head[q] = x->next;
        if (g->head[q] == NULL)
            g->tail[q] = NULL;
        x->next = NULL;
        units += x->n_changes;
        out[m++] = x;
    }
    return m;
}

void lc__group_submit(lc_group_t *g, lc_member_t *me, lc_group_run_fn run, void (*after)(lc_member_t *m))
{
    int q = me->op == LC_UPSELL ? 1 : 0;
    me->next = NULL;
    pthread_mutex_lock(&g->lock);
    if (g->tail[q] != NULL)
        g->tail[q]->next = me;
    else
        g->head[q] = me;
    g->tail[q] = me;
    for (int k = q; g->in_flight < g->max_in_flight; k = 1 - k) {
        /* The operations take turns. */
        if (g->head[k] == NULL)
            k = 1 - k;
        if (g->head[k] == NULL)
            break;
        lc_member_t *members[LC_GROUP_MAX_MEMBERS];
        size_t m = lc__group_take(g, k, members);
        g->in_flight++;
        pthread_mutex_unlock(&g->lock);
        run(members[0]->op, members, m, members[0]->ctx->alloc);
        /* The slot is free before the answers are written: a request
         * queued meanwhile leads at once rather than wait for them. */
        pthread_mutex_lock(&g->lock);
        g->in_flight--;
        pthread_mutex_unlock(&g->lock);
        /* (after answers the member, and its arena may go with it: nothing
         * of a member is read once its after has begun.) */
        for (size_t i = 0; i < m; i++)
            after(members[i]);
        pthread_mutex_lock(&g->lock);
    }
    pthread_mutex_unlock(&g->lock);
}
