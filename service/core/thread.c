/* Scheduling of the daemon's threads (thread.h). */
#include "thread.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "log.h"

static atomic_bool thread__warned;

void thread_batch_self(void)
{
    struct sched_param p = {0};
    /* 0 is the calling thread: on Linux the policy is per thread. */
    if (sched_getscheduler(0) != SCHED_OTHER || sched_setscheduler(0, SCHED_BATCH, &p) == 0)
        return;
    int e = errno;
    if (!atomic_exchange(&thread__warned, true))
        log_warn("worker threads keep the default scheduling policy (SCHED_BATCH refused: %s)", strerror(e));
}

static _Thread_local const thread_waits_t *thread__waits;
static _Thread_local int thread__depth;

void thread_set_waits(const thread_waits_t *w)
{
    thread__waits = w;
    thread__depth = 0;
}

void thread_wait_begin(void)
{
    if (thread__waits != NULL && thread__depth++ == 0)
        thread__waits->begin(thread__waits->arg);
}

void thread_wait_end(void)
{
    if (thread__waits != NULL && thread__depth > 0 && --thread__depth == 0)
        thread__waits->end(thread__waits->arg);
}
