/*
 * jobs.h - the job workers: threads of this daemon that take jobs from the
 * queue in PostgreSQL (db/jobs.h), so that any number of daemons on one
 * database share the work and each job completes once.
 *
 * A worker claims a batch of jobs under a lease, runs each kind's handler
 * in one transaction and deletes the jobs done in that same transaction,
 * only while it still holds their lease: a job is done exactly when its
 * work committed. Failures are retried with exponential backoff and
 * jitter; a job whose daemon died is claimed again when its lease runs
 * out. Workers sleep until a notification (LISTEN), a wake-up from this
 * process, or the fallback poll interval.
 *
 * Jobs go in two lanes, each with workers of its own that claim only its
 * jobs: webhook posts (subscription runs), which wait on their receivers
 * (seconds, up to the post's timeout), and every other kind (status logs,
 * packages), which wait on nothing but the database and are never held up
 * by a receiver. Which kinds are whose is the claim's (db/jobs.h, db/016).
 * The webhook lane's workers claim one job at a time, so that a slow
 * receiver holds up one worker and nothing claimed with it.
 *
 * A daemon that queued a job tells everyone: its own workers at once, the
 * others with a NOTIFY sent by its listener at most every
 * RUNNER_NOTIFY_EVERY_MS, outside the request's transaction (a NOTIFY in
 * it would serialise the commits of concurrent requests on the
 * notification queue's lock). A daemon with no workers still notifies and
 * purges.
 */
#ifndef ENT_JOBS_H
#define ENT_JOBS_H

#include <stddef.h>

#include "../core/err.h"
#include "../core/metrics.h"
#include "../db/jobs.h"
#include "../db/pool.h"

/* What a handler made of each job of its batch. */
typedef enum job_outcome {
    JOB_DONE,   /* its work is written in the worker's transaction */
    JOB_RETRY,  /* a passing failure: again later */
    JOB_FAILED, /* can never succeed: give up */
    JOB_LATER   /* not tried (its batch ran out of time): queued again at once, the attempt not counted */
} job_outcome_t;

/* Runs jobs (n, all of the handler's kind) inside the transaction the
 * worker began on c, and sets outcomes[i]. Returns ENT_OK, or an error
 * after which the transaction is rolled back and every job of the batch
 * is retried. A handler may commit that transaction and begin another
 * (db_begin_durable) around work that must not hold one open, such as an
 * HTTP post; what it wrote before stays committed whatever becomes of its
 * jobs, so it must be work that bears being found done when a job runs
 * again (a job run again does all its work again: a webhook is posted
 * again, with the same message). */
typedef int (*job_handler_fn)(void *arg, db_conn_t *c, const db_job_t *jobs, size_t n, job_outcome_t *outcomes);

/* Called (in its own transaction on c) when a job is given up for good,
 * so that whoever waits for it learns that it failed. */
typedef int (*job_giveup_fn)(void *arg, db_conn_t *c, const db_job_t *job);

/* The lanes: JOB_LANE_QUICK's workers claim batches, JOB_LANE_WEBHOOK's
 * one job each. */
typedef enum job_lane { JOB_LANE_QUICK, JOB_LANE_WEBHOOK, JOB_LANES } job_lane_t;

typedef struct job_kind {
    const char *kind;     /* as in jobs.kind */
    job_handler_fn run;
    job_giveup_fn give_up; /* may be NULL */
    void *arg;
} job_kind_t;

typedef struct job_options {
    const char *conninfo;   /* copied */
    int connect_timeout_s;
    int lock_timeout_ms;    /* the workers' connections' (db_pool_options_t) */
    int statement_timeout_ms; /* the same */
    int workers[JOB_LANES]; /* threads of each lane (each with its own connection); may be 0 */
    int lease_s;            /* how long a claim holds a job */
    int poll_ms;            /* fallback when no notification comes */
    int retention_s;        /* status logs older than this are purged */
    const job_kind_t *kinds; /* copied */
    int nkinds;
    /* Called by the listener every tick_s seconds (0: never) on a pooled
     * connection, to queue jobs that time makes due (scheduled runs);
     * returns how many it queued, or a negative ent_err_t. */
    int (*tick)(void *arg, db_conn_t *c);
    void *tick_arg;
    int tick_s;
    bool sched_batch;       /* workers run as SCHED_BATCH (core/thread.h) */
} job_options_t;

typedef struct job_runner job_runner_t;

/* Starts the workers and the listener; *out is stopped with
 * job_runner_stop. */
int job_runner_start(const job_options_t *opt, job_runner_t **out) ENT_MUSTCHECK;

/* Wakes the workers of lane of this daemon. */
void job_runner_wake(job_runner_t *r, job_lane_t lane);

/* A job of lane was queued (its transaction committed): wakes this
 * daemon's workers of the lane and, soon, every other daemon's. */
void job_runner_queued(job_runner_t *r, job_lane_t lane);

/* Finishes the batches in progress, stops the threads and frees r. */
void job_runner_stop(job_runner_t *r);

/* A /metrics collector (arg: the runner): queue depth by state and the
 * age of the oldest waiting job. */
void job_runner_collect(metrics_buf_t *b, void *arg);

#endif
