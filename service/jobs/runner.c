/* The job workers and their listener (jobs.h). */
#include "jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "../core/clock.h"
#include "../core/log.h"
#include "../core/thread.h"
#include "../db/rest_store.h"

/* Jobs a worker claims at once: one transaction and one commit for all. */
#define RUNNER_BATCH 32
/* Kinds of jobs at most. */
#define RUNNER_MAX_KINDS 8
/* Longest wait between retries of a failing job (seconds). */
#define RUNNER_MAX_BACKOFF 300.0
/* How often the listener purges what outlived its retention (seconds),
 * and rows it deletes at once. */
#define RUNNER_PURGE_EVERY 60
#define RUNNER_PURGE_LIMIT 10000
/* A worker's connection plans its statements again at most this often
 * (db_conn_replan_every): the queue's table changes size faster than the
 * statistics a plan is made from, and planning each claim anew costs more
 * than the claim when the queue is empty. */
#define RUNNER_REPLAN_S 1.0
/* NOTIFYs a daemon sends are at least this far apart: one wakes every
 * other daemon for all the jobs queued since the last. */
#define RUNNER_NOTIFY_EVERY_MS 15
/* A woken worker waits this long before it claims, so that the jobs queued
 * meanwhile share its transaction and commit: under load, a batch instead
 * of a transaction per job. Each batch costs six round trips whatever its
 * size; at 2,000 status logs a second, 15 ms rather than 5 took the
 * daemon's CPU per status log from about 170 to 155 µs and PostgreSQL's
 * by 5 to 10 %, for 11 ms more from a POST to its result (BENCHMARKS.md,
 * REST step 11), against a Retry-After of a second. */
#define RUNNER_GATHER_MS 15

struct job_runner {
    job_kind_t kinds[RUNNER_MAX_KINDS];
    int nkinds;
    int lease_s, poll_ms, retention_s, connect_timeout_s;
    char *conninfo;
    db_pool_t *pool;        /* one connection per worker, one for the listener */
    int nworkers;
    pthread_t *threads;
    pthread_t listener;
    bool listener_started;
    int workers[JOB_LANES];
    pthread_mutex_t lock;
    pthread_cond_t wake[JOB_LANES]; /* signalled when jobs of a lane may be waiting, and on stop */
    unsigned long long wakeups[JOB_LANES]; /* counts wake-ups, so that none is lost between a claim and a wait */
    atomic_bool stopping;
    atomic_bool notify_pending[JOB_LANES]; /* jobs of a lane were queued since its last NOTIFY */
    int notify_fd;          /* eventfd: wakes the listener to send one */
    unsigned nonce;         /* random, per start: in every claimer name */
    char host[64];
    int (*tick)(void *arg, db_conn_t *c);
    void *tick_arg;
    int tick_s;
    bool sched_batch;
};

void job_runner_queued(job_runner_t *r, job_lane_t lane)
{
    uint64_t one = 1;
    job_runner_wake(r, lane);
    if (!atomic_exchange(&r->notify_pending[lane], true) && write(r->notify_fd, &one, sizeof one) < 0)
        log_warn("job listener: cannot be woken: %s", strerror(errno));
}

void job_runner_wake(job_runner_t *r, job_lane_t lane)
{
    pthread_mutex_lock(&r->lock);
    r->wakeups[lane]++;
    pthread_cond_broadcast(&r->wake[lane]);
    pthread_mutex_unlock(&r->lock);
}

/* Waits for a wake-up of lane after the one seen, at most ms. */
static void runner__sleep(job_runner_t *r, job_lane_t lane, unsigned long long seen, int ms)
{
    struct timespec until;
    clock_deadline(&until, ms);
    pthread_mutex_lock(&r->lock);
    while (r->wakeups[lane] == seen && !atomic_load(&r->stopping))
        if (pthread_cond_timedwait(&r->wake[lane], &r->lock, &until) != 0)
            break;
    pthread_mutex_unlock(&r->lock);
}

static unsigned long long runner__wakeups(job_runner_t *r, job_lane_t lane)
{
    pthread_mutex_lock(&r->lock);
    unsigned long long w = r->wakeups[lane];
    pthread_mutex_unlock(&r->lock);
    return w;
}

static double runner__ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Seconds before the next try of a job that failed attempts times:
 * doubling from 1 s up to RUNNER_MAX_BACKOFF, times a random factor in
 * [0.5, 1.5) so that jobs that failed together do not retry together. */
static double runner__backoff(int attempts)
{
    double d = 1.0;
    for (int i = 1; i < attempts && d < RUNNER_MAX_BACKOFF; i++)
        d *= 2;
    if (d > RUNNER_MAX_BACKOFF)
        d = RUNNER_MAX_BACKOFF;
    unsigned short r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = 32768;
    return d * (0.5 + (double)r / 65536.0);
}

static const job_kind_t *runner__kind(const job_runner_t *r, const char *kind)
{
    for (int i = 0; i < r->nkinds; i++)
        if (strcmp(r->kinds[i].kind, kind) == 0)
            return &r->kinds[i];
    return NULL;
}

/* Gives a job back (retry) or up (failed) and counts it, under its kind k
 * (NULL: unknown). A job given up tells whoever waits for it (k's give_up,
 * in its own transaction). */
static void runner__retry(db_conn_t *c, const char *claimer, const job_kind_t *k, const db_job_t *j, bool give_up,
                          const char *what)
{
    bool last = give_up || j->attempts >= j->max_attempts;
    if (db_jobs_retry(c, claimer, j->id, last ? 0 : runner__backoff(j->attempts), last, what) != ENT_OK)
        log_warn("job %lld: could not be given back (%s); its lease will run out", j->id, db_conn_message(c));
    if (last) {
        log_error("job %lld (%s) failed for good after %d attempts: %s", j->id, j->kind, j->attempts, what);
        if (k != NULL && k->give_up != NULL && k->give_up(k->arg, c, j) != ENT_OK)
            log_warn("job %lld: its failure could not be recorded (%s)", j->id, db_conn_message(c));
    } else {
        log_warn("job %lld (%s) failed (attempt %d of %d): %s; trying again later", j->id, j->kind, j->attempts,
                 j->max_attempts, what);
    }
    metrics_job(k ? k->kind : "unknown", last ? "failed" : "retry");
}

/* Runs the jobs of one kind (n) in one transaction. When the batch fails
 * as a whole, each of its jobs runs again alone, so that one job's failure
 * is charged to it only. */
static void runner__run_kind(db_conn_t *c, const char *claimer, const job_kind_t *k, const db_job_t *jobs, size_t n,
                             double claimed_ms)
{
    job_outcome_t outcomes[RUNNER_BATCH];
    long long done[RUNNER_BATCH];
    size_t ndone = 0, deleted = 0;
    int rc;

    for (size_t i = 0; i < n; i++)
        outcomes[i] = JOB_RETRY;
    /* The lease from now, once a third of it has gone: the kinds before
     * this one in the batch, or this kind's jobs run one by one after a
     * failed batch, took that. (A job lost meanwhile is done by the worker
     * that has it: the completion below finds it gone.) */
    if (n > 0 && runner__ms() - claimed_ms > jobs[0].lease_s * 1000.0 / 3 &&
        db_jobs_extend(c, jobs, n, NULL) != ENT_OK)
        log_warn("%zu %s jobs: their leases could not be extended (%s)", n, k->kind, db_conn_message(c));
    /* The workers' connections commit without waiting for the disk (a
     * claim lost in a crash is a job claimed again); the work is durable. */
    if (db_begin_durable(c) != ENT_OK) {
        for (size_t i = 0; i < n; i++)
            runner__retry(c, claimer, k, &jobs[i], false, "the database cannot be reached");
        return;
    }
    rc = k->run(k->arg, c, jobs, n, outcomes);
    if (rc == ENT_OK) {
        for (size_t i = 0; i < n; i++)
            if (outcomes[i] == JOB_DONE)
                done[ndone++] = jobs[i].id;
        if (ndone > 0)
            rc = db_jobs_complete(c, claimer, done, ndone, &deleted);
    }
    if (rc == ENT_OK && deleted != ndone) {
        /* A lease ran out and another worker claimed some of these: its
         * run will do them; ours must leave no trace. Those still ours go
         * back to the queue at once. */
        log_warn("%zu of %zu %s jobs were claimed by another worker meanwhile; not committed", ndone - deleted,
                 ndone, k->kind);
        db_rollback(c);
        for (size_t i = 0; i < n; i++)
            if (db_jobs_retry(c, claimer, jobs[i].id, 0, false, "its batch lost a job to another worker") != ENT_OK)
                break;
        return;
    }
    if (rc == ENT_OK)
        rc = db_commit(c);
    if (rc != ENT_OK) {
        db_rollback(c);
        if (n > 1 && rc != ENT_EDBDOWN) {
            for (size_t i = 0; i < n; i++)
                runner__run_kind(c, claimer, k, &jobs[i], 1, claimed_ms);
            return;
        }
        for (size_t i = 0; i < n; i++)
            runner__retry(c, claimer, k, &jobs[i], false,
                          rc == ENT_EDBDOWN ? "the database cannot be reached" : "the work could not be written");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (outcomes[i] == JOB_DONE) {
            metrics_job(k->kind, "done");
        } else if (outcomes[i] == JOB_LATER) {
            if (db_jobs_release(c, claimer, jobs[i].id) != ENT_OK)
                log_warn("job %lld: could not be given back (%s); its lease will run out", jobs[i].id,
                         db_conn_message(c));
        } else {
            runner__retry(c, claimer, k, &jobs[i], outcomes[i] == JOB_FAILED, "the handler could not do it");
        }
    }
}

typedef struct runner_worker {
    job_runner_t *r;
    int index;
    job_lane_t lane;
} runner_worker_t;

static void *runner__work(void *arg)
{
    runner_worker_t *wk = arg;
    job_runner_t *r = wk->r;
    job_lane_t lane = wk->lane;
    char claimer[DB_JOB_CLAIMER_MAX + 1];
    db_job_t jobs[RUNNER_BATCH];
    /* The webhook lane's jobs one at a time: a slow receiver holds up no
     * other run. */
    size_t batch = lane == JOB_LANE_WEBHOOK ? 1 : RUNNER_BATCH;

    /* host:pid:nonce:worker: two daemons in containers may share host name
     * and pid, never the random nonce of their start. */
    snprintf(claimer, sizeof claimer, "%.48s:%ld:%08x:%d", r->host, (long)getpid(), r->nonce, wk->index);
    free(wk);
    if (r->sched_batch)
        thread_batch_self();
    while (!atomic_load(&r->stopping)) {
        unsigned long long seen = runner__wakeups(r, lane);
        db_conn_t *c = NULL;
        size_t n = 0;
        if (db_pool_acquire(r->pool, &c) != ENT_OK) {
            runner__sleep(r, lane, seen, r->poll_ms);
            continue;
        }
        double claimed_ms = runner__ms(); /* the leases start after this */
        if (db_conn_replan_every(c, RUNNER_REPLAN_S) != ENT_OK ||
            db_jobs_claim(c, claimer, r->lease_s, lane == JOB_LANE_WEBHOOK, jobs, batch, &n) != ENT_OK) {
            db_conn_discard(c);
            db_pool_release(r->pool, c);
            runner__sleep(r, lane, seen, r->poll_ms);
            continue;
        }
        /* The batch by kind, in claim order. */
        bool taken[RUNNER_BATCH] = {false};
        for (size_t i = 0; i < n; i++) {
            if (taken[i])
                continue;
            db_job_t group[RUNNER_BATCH];
            size_t ng = 0;
            for (size_t k = i; k < n; k++)
                if (!taken[k] && strcmp(jobs[k].kind, jobs[i].kind) == 0) {
                    group[ng++] = jobs[k];
                    taken[k] = true;
                }
            const job_kind_t *kind = runner__kind(r, jobs[i].kind);
            if (kind == NULL) {
                for (size_t k = 0; k < ng; k++)
                    runner__retry(c, claimer, NULL, &group[k], true, "no handler for this kind of job");
                continue;
            }
            runner__run_kind(c, claimer, kind, group, ng, claimed_ms);
        }
        db_pool_release(r->pool, c);
        /* A full batch: there may be more; else sleep until woken, then
         * gather what comes in the next moment. */
        if (n < batch) {
            runner__sleep(r, lane, seen, r->poll_ms);
            struct timespec gather = {0, RUNNER_GATHER_MS * 1000000L};
            if (!atomic_load(&r->stopping))
                nanosleep(&gather, NULL);
        }
    }
    return NULL;
}

/* Jobs whose last attempt's lease ran out (their daemon died each time,
 * or the job kills its daemon) are not claimed again: they are given up. */
static void runner__give_up_expired(job_runner_t *r, db_conn_t *c)
{
    db_job_t jobs[RUNNER_BATCH];
    size_t n = 0;
    if (db_jobs_expired(c, jobs, RUNNER_BATCH, &n) != ENT_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        const job_kind_t *k = runner__kind(r, jobs[i].kind);
        log_error("job %lld (%s) failed for good: the lease of its last attempt ran out", jobs[i].id, jobs[i].kind);
        if (k != NULL && k->give_up != NULL && k->give_up(k->arg, c, &jobs[i]) != ENT_OK)
            log_warn("job %lld: its failure could not be recorded (%s)", jobs[i].id, db_conn_message(c));
        metrics_job(k ? k->kind : "unknown", "failed");
    }
}

/* Wakes the workers on every notification; sends this daemon's NOTIFY
 * (coalesced) when it queued jobs; reconnects when the connection is lost
 * (the workers poll meanwhile); purges what outlived its retention now and
 * then. */
static void *runner__listen(void *arg)
{
    job_runner_t *r = arg;
    db_listener_t *l = NULL;
    time_t last_purge = 0, last_tick = clock_seconds();
    double last_notify = 0;

    while (!atomic_load(&r->stopping)) {
        if (l == NULL && db_listener_open(r->conninfo, r->connect_timeout_s, &l) != ENT_OK) {
            l = NULL;
            runner__sleep(r, JOB_LANE_QUICK, runner__wakeups(r, JOB_LANE_QUICK), 1000);
            continue;
        }
        int timeout = 250;
        bool pending = false;
        for (int i = 0; i < JOB_LANES; i++)
            pending = pending || atomic_load(&r->notify_pending[i]);
        if (pending) {
            double wait = last_notify + RUNNER_NOTIFY_EVERY_MS - runner__ms();
            timeout = wait > 0 ? (int)wait + 1 : 0;
        }
        unsigned lanes = 0;
        int rc = db_listener_wait(l, timeout, r->notify_fd, &lanes);
        if (rc == ENT_EDBDOWN) {
            log_warn("job listener: connection lost; the workers poll until it is back");
            db_listener_close(l);
            l = NULL;
            continue;
        }
        for (int i = 0; rc == 1 && i < JOB_LANES; i++)
            if (lanes & (1u << i))
                job_runner_wake(r, (job_lane_t)i);
        for (int i = 0; i < JOB_LANES; i++) /* (jobs queued while it waited too) */
            pending = pending || atomic_load(&r->notify_pending[i]);
        if (pending && runner__ms() - last_notify >= RUNNER_NOTIFY_EVERY_MS) {
            last_notify = runner__ms();
            for (int i = 0; i < JOB_LANES && l != NULL; i++) {
                if (!atomic_exchange(&r->notify_pending[i], false))
                    continue;
                if (db_listener_notify(l, i) != ENT_OK) {
                    /* The others find the jobs by polling. */
                    db_listener_close(l);
                    l = NULL;
                }
            }
            if (l == NULL)
                continue;
        }
        time_t now = clock_seconds();
        if (now - last_purge >= RUNNER_PURGE_EVERY) {
            db_conn_t *c = NULL;
            long long deleted = 0;
            last_purge = now;
            if (db_pool_acquire(r->pool, &c) == ENT_OK) {
                if (store_purge(c, r->retention_s, RUNNER_PURGE_LIMIT, &deleted) == ENT_OK && deleted > 0)
                    log_info("purged %lld expired status logs and idempotency keys", deleted);
                runner__give_up_expired(r, c);
                db_pool_release(r->pool, c);
            }
        }
        if (r->tick != NULL && r->tick_s > 0 && now - last_tick >= r->tick_s) {
            db_conn_t *c = NULL;
            last_tick = now;
            if (db_pool_acquire(r->pool, &c) == ENT_OK) {
                int queued = r->tick(r->tick_arg, c);
                db_pool_release(r->pool, c);
                if (queued > 0)
                    job_runner_queued(r, JOB_LANE_WEBHOOK); /* (scheduled runs) */
            }
        }
    }
    db_listener_close(l);
    return NULL;
}

int job_runner_start(const job_options_t *opt, job_runner_t **out)
{
    job_runner_t *r = calloc(1, sizeof *r);
    int rc = ENT_ENOMEM;
    if (r == NULL)
        return ENT_ENOMEM;
    if (opt->nkinds > RUNNER_MAX_KINDS) {
        free(r);
        return ENT_EINVAL;
    }
    memcpy(r->kinds, opt->kinds, (size_t)opt->nkinds * sizeof *opt->kinds);
    r->nkinds = opt->nkinds;
    r->lease_s = opt->lease_s;
    r->poll_ms = opt->poll_ms;
    r->retention_s = opt->retention_s;
    r->tick = opt->tick;
    r->tick_arg = opt->tick_arg;
    r->tick_s = opt->tick_s;
    r->sched_batch = opt->sched_batch;
    r->connect_timeout_s = opt->connect_timeout_s;
    r->nworkers = 0;
    pthread_mutex_init(&r->lock, NULL);
    for (int lane = 0; lane < JOB_LANES; lane++) {
        r->workers[lane] = opt->workers[lane];
        r->nworkers += opt->workers[lane];
        clock_cond_init(&r->wake[lane]);
    }
    r->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->notify_fd < 0) {
        rc = ENT_EIO;
        goto fail;
    }
    if (getrandom(&r->nonce, sizeof r->nonce, 0) != (ssize_t)sizeof r->nonce)
        r->nonce = (unsigned)time(NULL) ^ (unsigned)getpid();
    if (gethostname(r->host, sizeof r->host - 1) != 0)
        snprintf(r->host, sizeof r->host, "localhost");
    r->conninfo = strdup(opt->conninfo);
    r->threads = calloc((size_t)r->nworkers + 1, sizeof *r->threads);
    if (r->conninfo == NULL || r->threads == NULL)
        goto fail;
    /* One connection per worker, one for the listener's purge and one for
     * /metrics, so that neither waits for a worker's batch. */
    db_pool_options_t popt = {opt->conninfo, r->nworkers + 2, opt->connect_timeout_s, 5000, true,
                              opt->lock_timeout_ms, opt->statement_timeout_ms};
    if ((rc = db_pool_create(&popt, &r->pool)) != ENT_OK)
        goto fail;
    for (int i = 0; i < r->nworkers; i++) {
        runner_worker_t *wk = malloc(sizeof *wk);
        if (wk == NULL) {
            rc = ENT_ENOMEM;
            goto fail;
        }
        wk->r = r;
        wk->index = i;
        wk->lane = i < r->workers[JOB_LANE_QUICK] ? JOB_LANE_QUICK : JOB_LANE_WEBHOOK;
        if (pthread_create(&r->threads[i], NULL, runner__work, wk) != 0) {
            free(wk);
            rc = ENT_ENOMEM;
            goto fail; /* threads already started are not joined: we exit */
        }
    }
    if (pthread_create(&r->listener, NULL, runner__listen, r) != 0) {
        rc = ENT_ENOMEM;
        goto fail;
    }
    r->listener_started = true;
    *out = r;
    return ENT_OK;
fail:
    log_error("cannot start the job workers: %s", ent_strerror(rc));
    return rc; /* the daemon exits: what was started is not taken down */
}

void job_runner_stop(job_runner_t *r)
{
    if (r == NULL)
        return;
    atomic_store(&r->stopping, true);
    for (int lane = 0; lane < JOB_LANES; lane++)
        job_runner_wake(r, (job_lane_t)lane);
    for (int i = 0; i < r->nworkers; i++)
        pthread_join(r->threads[i], NULL);
    if (r->listener_started)
        pthread_join(r->listener, NULL);
    db_pool_destroy(r->pool);
    close(r->notify_fd);
    for (int lane = 0; lane < JOB_LANES; lane++)
        pthread_cond_destroy(&r->wake[lane]);
    pthread_mutex_destroy(&r->lock);
    free(r->threads);
    free(r->conninfo);
    free(r);
}

void job_runner_collect(metrics_buf_t *b, void *arg)
{
    job_runner_t *r = arg;
    long long queued = 0, running = 0, failed = 0;
    double oldest = 0;
    db_conn_t *c = NULL;
    bool ok = false;
    if (db_pool_acquire(r->pool, &c) == ENT_OK) {
        ok = db_jobs_stats(c, &queued, &running, &failed, &oldest) == ENT_OK;
        db_pool_release(r->pool, c);
    }
    if (!ok)
        return; /* the gauges are left out rather than reported wrong */
    metrics_printf(b,
                   "# HELP entitlementd_jobs_queue Jobs in the queue (all daemons on the database), by state.\n"
                   "# TYPE entitlementd_jobs_queue gauge\n"
                   "entitlementd_jobs_queue{state=\"queued\"} %lld\n"
                   "entitlementd_jobs_queue{state=\"running\"} %lld\n"
                   "entitlementd_jobs_queue{state=\"failed\"} %lld\n"
                   "# HELP entitlementd_jobs_oldest_age_seconds Age of the oldest job not yet done or failed.\n"
                   "# TYPE entitlementd_jobs_oldest_age_seconds gauge\n"
                   "entitlementd_jobs_oldest_age_seconds %.3f\n",
                   queued, running, failed, oldest);
}
