/* Per-thread condition variables that outlive their waits (waiter.h). */
#include "waiter.h"

#include <stdatomic.h>

/* Static storage: nothing to free, and nothing a leak checker could
 * count when a thread exits. */
static pthread_cond_t waiter__conds[WAITER_SLOTS];
static pthread_once_t waiter__once = PTHREAD_ONCE_INIT;
static atomic_uint waiter__next;
static _Thread_local pthread_cond_t *waiter__mine;

static void waiter__init(void)
{
    for (int i = 0; i < WAITER_SLOTS; i++)
        pthread_cond_init(&waiter__conds[i], NULL);
}

pthread_cond_t *waiter_cond(void)
{
    if (waiter__mine == NULL) {
        pthread_once(&waiter__once, waiter__init);
        waiter__mine = &waiter__conds[atomic_fetch_add_explicit(&waiter__next, 1, memory_order_relaxed) % WAITER_SLOTS];
    }
    return waiter__mine;
}

void waiter_wake(pthread_cond_t *c)
{
    pthread_cond_broadcast(c);
}
