/*
 * Commit groups (group.h): a leader/follower queue. A request queues
 * itself; while fewer than max_in_flight groups are being written, the
 * thread whose request is the oldest queued becomes a leader, takes the
 * requests queued for the same operation (in arrival order, its own first,
 * up to max_units line items) and writes them as one group; the others
 * sleep until their group has run.
 *
 * Each waiting thread sleeps on a condition of its own: a group that ends
 * wakes its members and the next leader, never every waiting thread (each
 * needless wake-up is a context switch, and on two cores the switches of a
 * broadcast to every worker cost more CPU than gSOAP's parse of the
 * request).
 *
 * Only the oldest request's thread may lead, so that a leader's request is
 * always in the group it writes: the leader allocates its scratch from its
 * own request's arena, and a request not in the leader's group could be
 * taken by another leader meanwhile, whose thread would then allocate from
 * that same arena at the same time (gSOAP's arenas are not thread-safe).
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
        x->queued = false;
        units += x->n_changes;
        out[m++] = x;
    }
    return m;
}

void lc__group_join(lc_group_t *g, lc_op_t op, lc_member_t *me, lc_group_run_fn run)
{
    int q = op == LC_UPSELL ? 1 : 0;

    me->next = NULL;
    me->queued = true;
    me->done = false;
    pthread_cond_init(&me->wake, NULL);
    pthread_mutex_lock(&g->lock);
    if (g->tail[q] != NULL)
        g->tail[q]->next = me;
    else
        g->head[q] = me;
    g->tail[q] = me;
    /* A slot may be free while the oldest request's thread sleeps: wake it. */
    if (g->head[q] != me && g->in_flight < g->max_in_flight)
        pthread_cond_signal(&g->head[q]->wake);
    while (!me->done) {
        if (me->queued && g->head[q] == me && g->in_flight < g->max_in_flight) {
            lc_member_t *members[LC_GROUP_MAX_MEMBERS];
            size_t m = lc__group_take(g, q, members);
            g->in_flight++;
            pthread_mutex_unlock(&g->lock);
            /* The leader is inside its own request, so its allocator
             * outlives the run; the members' results go to their own. */
            run(op, members, m, me->ctx->alloc);
            pthread_mutex_lock(&g->lock);
            g->in_flight--;
            for (size_t i = 0; i < m; i++) {
                members[i]->done = true;
                if (members[i] != me)
                    pthread_cond_signal(&members[i]->wake);
            }
            /* The oldest request still queued (of either operation) may
             * lead next. */
            for (int k = 0; k < LC_GROUP_OPS; k++)
                if (g->head[k] != NULL)
                    pthread_cond_signal(&g->head[k]->wake);
        } else {
            pthread_cond_wait(&me->wake, &g->lock);
        }
    }
    pthread_mutex_unlock(&g->lock);
    pthread_cond_destroy(&me->wake);
}
