/*
 * thread.h - what the daemon's own threads ask of the scheduler.
 *
 * The HTTP and job workers run as SCHED_BATCH (ENTITLEMENTD_SCHED_BATCH,
 * on by default): a worker woken by a socket or a condition then waits for
 * the running thread's slice to end instead of preempting it at once. On
 * two cores shared with PostgreSQL that preemption mostly stopped a
 * backend in the middle of the statement the worker would next wait for;
 * BENCHMARKS.md, "CPU per request", step 9, has the figures. The policy
 * needs no privilege and keeps the threads' nice value. A policy the
 * operator chose for the process (chrt, systemd's CPUSchedulingPolicy=)
 * is left as it is.
 */
#ifndef ENT_CORE_THREAD_H
#define ENT_CORE_THREAD_H

/* Puts the calling thread under SCHED_BATCH if it runs under the default
 * SCHED_OTHER. A hint: where it is refused (a seccomp profile may return
 * an error for the call) the thread runs on under its policy, and the
 * first refusal is logged as a warning. */
void thread_batch_self(void);

/* Long waits, announced. A thread that runs other work while it is not
 * waiting (an HTTP worker) registers what to do when it starts and stops
 * waiting. db/pool.c announces a wait from lending a connection until its
 * return; auth/password.c a credential check (a lookup and milliseconds
 * of hashing) and the wait for another request's check of the same
 * credentials. Calls nest, and only the outermost pair runs the hooks. A
 * thread with nothing registered (a job worker, entitlementctl) pays a
 * thread-local load. The hooks are the calling thread's: waits must begin
 * and end on one thread. */
typedef struct thread_waits {
    void (*begin)(void *arg);
    void (*end)(void *arg);
    void *arg;
} thread_waits_t;

/* Registers w (not copied; it must outlive the thread's use) for the
 * calling thread; NULL unregisters. */
void thread_set_waits(const thread_waits_t *w);
void thread_wait_begin(void);
void thread_wait_end(void);

#endif
