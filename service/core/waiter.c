/* Per-thread wake-up words on futexes (waiter.h). */
#include "waiter.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

/* The kernel's futex word is a 32-bit int. */
_Static_assert(sizeof(atomic_uint) == 4, "a futex word is 32 bits");

/* Static storage: nothing to free, and nothing a leak checker could count
 * when a thread exits. */
static waiter_t waiter__slots[WAITER_SLOTS];
static atomic_uint waiter__next;
static _Thread_local waiter_t *waiter__mine;

waiter_t *waiter_self(void)
{
    if (waiter__mine == NULL)
        waiter__mine =
            &waiter__slots[atomic_fetch_add_explicit(&waiter__next, 1, memory_order_relaxed) % WAITER_SLOTS];
    return waiter__mine;
}

/* A ticket for waiter__wait, taken before the lock that guards what the
 * wait is for is let go. */
static unsigned waiter__ticket(waiter_t *w)
{
    return atomic_load_explicit(&w->seq, memory_order_acquire);
}

/* Sleeps until w is woken after the ticket was taken (at once if it
 * already was). */
static void waiter__wait(waiter_t *w, unsigned ticket)
{
    /* The kernel compares the word with the ticket atomically with going
     * to sleep: a wake-up in between makes it return at once (EAGAIN).
     * EINTR and spurious returns are the caller's loop's to re-check. */
    while (atomic_load_explicit(&w->seq, memory_order_acquire) == ticket) {
        long rc = syscall(SYS_futex, &w->seq, FUTEX_WAIT_PRIVATE, ticket, NULL, NULL, 0);
        if (rc != 0 && errno != EINTR && errno != EAGAIN) {
            /* EFAULT, ENOSYS: the caller would spin on its lock for ever. */
            log_error("futex wait failed: %s", strerror(errno));
            abort();
        }
    }
}

bool waiter_sleep(waiter_t *w, pthread_mutex_t *lock, const atomic_bool *done)
{
    unsigned ticket = waiter__ticket(w);
    pthread_mutex_unlock(lock);
    waiter__wait(w, ticket);
    if (atomic_load_explicit(done, memory_order_acquire))
        return true;
    pthread_mutex_lock(lock);
    return false;
}

void waiter_wake(waiter_t *w)
{
    atomic_fetch_add_explicit(&w->seq, 1, memory_order_release);
    syscall(SYS_futex, &w->seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}
