/*
 * waiter.h - a condition variable of the calling thread's own, for a
 * queue where one thread wakes exactly the waiters that must run (the
 * commit groups of lifecycle/ and db/).
 *
 * The waker signals after it has let go of the queue's lock, so that the
 * woken thread does not at once sleep again on that lock. A waiter's own
 * condition could then be gone by the time the signal comes (the waiter
 * saw its result, returned, and its stack went on); these conditions live
 * as long as the process instead, and a late signal only makes the
 * thread's next wait wake once for nothing, which every waiter's loop
 * re-checks anyway. Threads beyond WAITER_SLOTS share slots, which is why
 * the wake is a broadcast: it costs a signal's price with one waiter.
 */
#ifndef ENT_CORE_WAITER_H
#define ENT_CORE_WAITER_H

#include <pthread.h>

#define WAITER_SLOTS 1024

/* The calling thread's condition: wait on it with any mutex (one wait at a
 * time per thread), wake it with waiter_wake. Never NULL. */
pthread_cond_t *waiter_cond(void);

/* Wakes the thread(s) waiting on c; needs no lock. */
void waiter_wake(pthread_cond_t *c);

#endif
