/*
 * waiter.h - a wake-up word of the calling thread's own, for a queue where
 * one thread wakes exactly the waiters that must run (the commit groups of
 * lifecycle/ and db/).
 *
 * It is an event count on a Linux futex: a waiter takes a ticket while it
 * still holds the queue's lock, lets go, and sleeps only if no wake-up came
 * since the ticket; a waker bumps the word and wakes its sleepers, after it
 * has let go of the lock. A woken waiter whose work is done then returns
 * without taking the lock again. With a condition variable it could not:
 * pthread_cond_wait wakes up holding the mutex, so a group's members woke
 * only to queue for the lock one after the other, each a futex call and
 * often another sleep (BENCHMARKS.md, "CPU per request", step 8).
 *
 * The words live as long as the process (a late wake-up only makes the
 * thread's next wait return once for nothing, and every waiter's loop
 * re-checks its state), so a waker may wake a thread whose wait has
 * already ended. Threads beyond WAITER_SLOTS share words: a wake-up wakes
 * every sleeper on the word, and each re-checks.
 */
#ifndef ENT_CORE_WAITER_H
#define ENT_CORE_WAITER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define WAITER_SLOTS 1024

typedef struct waiter {
    atomic_uint seq;
} waiter_t;

/* The calling thread's word. Never NULL. */
waiter_t *waiter_self(void);

/* Wakes the thread(s) waiting on w; needs no lock. */
void waiter_wake(waiter_t *w);

/* A member's sleep in a queue guarded by lock (held on entry): takes a
 * ticket, lets go of lock and waits on w. Returns true when *done was set
 * meanwhile (published with a release store after everything the member
 * reads): lock is then not held, and the member returns without it.
 * Otherwise returns false with lock held again, for the caller's loop to
 * re-check. */
bool waiter_sleep(waiter_t *w, pthread_mutex_t *lock, const atomic_bool *done);

#endif
