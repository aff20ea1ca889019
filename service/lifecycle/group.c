/*
 * Commit groups (group.h): a leader/follower queue. A request queues
 * itself; while fewer than max_in_flight groups are being written, the
 * thread whose request is the oldest queued becomes a leader, takes the
 * requests queued for the same operation (in arrival order, its own first,
 * up to max_units line items) and writes them as one group; the others
 * sleep until their group has run.
 *
 * Each waiting thread sleeps on a word of its own (core/waiter.h): a
 * group that ends wakes its members and the next leader, never every
 * waiting thread (each needless wake-up is a context switch, and on two
 * cores the switches of a broadcast to every worker cost more CPU than
 * gSOAP's parse of the request); it wakes them once it has let go of the
 * lock, and a member woken with its group done returns without taking the
 * lock again.
 *
 * Only the oldest request's thread may lead, so that a leader's request is
 * always in the group it writes: the leader allocates its scratch from its
 * own request's arena, and a request not in the leader's group could be
 * taken by another leader meanwhile, whose thread would then allocate from
 * that same arena at the same time (gSOAP's arenas are not thread-safe).
 */
#include <pthread.h>
#include <stdlib.h>

#include "../core/waiter.h"
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

/* Wakes the n threads in wake (their words) and empties the list. */
static void lc__group_wake(waiter_t **wake, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        waiter_wake(wake[i]);
    *n = 0;
}

void lc__group_join(lc_group_t *g, lc_op_t op, lc_member_t *me, lc_group_run_fn run)
{
    int q = op == LC_UPSELL ? 1 : 0;
    /* Threads to wake once the lock is let go: a group's members and the
     * oldest queued request of each operation. */
    waiter_t *wake[LC_GROUP_MAX_MEMBERS + LC_GROUP_OPS];
    size_t nwake = 0;

    me->next = NULL;
    me->queued = true;
    atomic_init(&me->done, false);
    me->wake = waiter_self();
    pthread_mutex_lock(&g->lock);
    if (g->tail[q] != NULL)
        g->tail[q]->next = me;
    else
        g->head[q] = me;
    g->tail[q] = me;
    /* A slot may be free while the oldest request's thread sleeps: wake it. */
    if (g->head[q] != me && g->in_flight < g->max_in_flight)
        wake[nwake++] = g->head[q]->wake;
    while (!atomic_load_explicit(&me->done, memory_order_relaxed)) {
        if (me->queued && g->head[q] == me && g->in_flight < g->max_in_flight) {
            lc_member_t *members[LC_GROUP_MAX_MEMBERS];
            size_t m = lc__group_take(g, q, members);
            g->in_flight++;
            pthread_mutex_unlock(&g->lock);
            lc__group_wake(wake, &nwake);
            /* The leader is inside its own request, so its allocator
             * outlives the run; the members' results go to their own. */
            run(op, members, m, me->ctx->alloc);
            pthread_mutex_lock(&g->lock);
            g->in_flight--;
            for (size_t i = 0; i < m; i++) {
                /* A member may return as soon as it sees done (it lives
                 * on its thread's stack): nothing of it is read after. */
                if (members[i] != me)
                    wake[nwake++] = members[i]->wake;
                atomic_store_explicit(&members[i]->done, true, memory_order_release);
            }
            /* The oldest request still queued (of either operation) may
             * lead next. */
            for (int k = 0; k < LC_GROUP_OPS; k++)
                if (g->head[k] != NULL)
                    wake[nwake++] = g->head[k]->wake;
        } else if (nwake > 0) {
            /* Never sleep on wake-ups owed to others. */
            pthread_mutex_unlock(&g->lock);
            lc__group_wake(wake, &nwake);
            pthread_mutex_lock(&g->lock);
        } else if (waiter_sleep(me->wake, &g->lock, &me->done)) {
            return; /* nwake is 0 here: a member owes no wake-ups */
        }
    }
    pthread_mutex_unlock(&g->lock);
    lc__group_wake(wake, &nwake);
}
