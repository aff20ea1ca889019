/*
 * run.h - subscription runs in the job workers: each run's message is
 * built from the change feed on its first attempt and posted to the
 * subscription's webhook (webhook.h); a failed post is retried by the
 * queue with backoff and jitter, the same message with the same
 * webhook-id. The scheduler queues the runs whose schedule is due.
 */
#ifndef ENT_SUBS_RUN_H
#define ENT_SUBS_RUN_H

#include <stddef.h>

#include "../jobs/jobs.h"
#include "webhook.h"

#define SUBS_JOB_RUN "subscription.run"

/* Most changes one message carries; the next run takes the rest. */
#define SUBS_RUN_MAX_CHANGES 1000

/* How the runs post (timeouts of one attempt, where to). */
typedef struct subs_run_options {
    webhook_options_t post;
} subs_run_options_t;

/* The job kind's handler and give-up (arg: a subs_run_options_t). */
int subs_run_jobs(void *arg, db_conn_t *c, const db_job_t *jobs, size_t n, job_outcome_t *outcomes);
int subs_run_giveup(void *arg, db_conn_t *c, const db_job_t *job);

/* The runner's tick: queues the runs whose schedule is due. */
int subs_run_schedule(void *arg, db_conn_t *c);

#endif
