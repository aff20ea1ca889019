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
