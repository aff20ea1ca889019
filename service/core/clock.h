/*
 * clock.h - seconds for ages and windows.
 *
 * How long a verified password is trusted, how long a refusal or a failed
 * login is counted, how long a cached token or key is used: durations, not
 * dates. Measured on the wall clock, a step back (NTP, a VM resumed, an
 * operator's date) stretched every one of them by the step: a changed
 * password accepted, a throttled address refused, for as long. These read
 * CLOCK_MONOTONIC, which never steps, as do the deadlines of waits on a
 * condition. Dates (a JWT's exp and nbf, what is stored or sent) stay on
 * time().
 */
#ifndef ENT_CORE_CLOCK_H
#define ENT_CORE_CLOCK_H

#include <pthread.h>
#include <time.h>

/* Far from 0 whatever the uptime: tables mark a free entry with a stamp of
 * 0, and subtract windows from stamps. */
#define CLOCK_SECONDS_BASE ((time_t)1 << 30)

/* Seconds since an arbitrary start, never stepping; comparable within the
 * process only. */
static inline time_t clock_seconds(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) != 0)
        return CLOCK_SECONDS_BASE; /* cannot fail on Linux with a valid clock id */
    return CLOCK_SECONDS_BASE + t.tv_sec;
}

/* Bounded waits: a condition whose timed waits read CLOCK_MONOTONIC, and
 * the deadline ms from now on that clock. */
void clock_cond_init(pthread_cond_t *cond);
void clock_deadline(struct timespec *until, long ms);

#endif
