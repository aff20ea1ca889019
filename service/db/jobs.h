/*
 * jobs.h - the job queue's statements, and a listening connection that
 * wakes the workers (LISTEN entitlementd_jobs; requests NOTIFY it in the
 * transaction that queues a job).
 */
#ifndef ENT_DB_JOBS_H
#define ENT_DB_JOBS_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"
#include "pool.h"

/* The channel requests notify and workers listen on. */
#define DB_JOBS_CHANNEL "entitlementd_jobs"
/* Longest job kind. */
#define DB_JOB_KIND_MAX 32
/* Longest claimer name ("host:pid:worker"). */
#define DB_JOB_CLAIMER_MAX 96

typedef struct db_job {
    long long id;
    char kind[DB_JOB_KIND_MAX + 1];
    long long ref;       /* the row the job is about (a status log, ...) */
    int attempts;        /* this one included */
    int max_attempts;
    const char *claimer; /* who holds it: db_jobs_claim's claimer (the caller's string) */
    int lease_s;         /* for how long each claim or extension holds it */
} db_job_t;

/* Claims up to max jobs for claimer with a lease of lease_s seconds (its
 * own transaction, committed): due queued jobs and running ones whose
 * lease ran out, of the webhook lane (subscription runs, first tries
 * before retries) when webhook, else of every other kind (db/016). *n
 * gets how many. */
int db_jobs_claim(db_conn_t *c, const char *claimer, int lease_s, bool webhook, db_job_t *out, size_t max,
                  size_t *n) ENT_MUSTCHECK;

/* Holds the n jobs (of one claim) for their lease_s again from now, those
 * their claimer still holds; held[i] (NULL: not wanted) says whether job i
 * is (false: a lease ran out and another worker has it, or it was given
 * back). Its own transaction: work that may outlast a lease (webhook
 * posts) calls it before each step. */
int db_jobs_extend(db_conn_t *c, const db_job_t *jobs, size_t n, bool *held) ENT_MUSTCHECK;

/* Deletes the jobs ids (n of them) as done, in the caller's transaction;
 * *deleted gets how many claimer still held (fewer: a lease ran out and
 * another worker has the rest, so the caller rolls back). */
int db_jobs_complete(db_conn_t *c, const char *claimer, const long long *ids, size_t n,
                     size_t *deleted) ENT_MUSTCHECK;

/* Gives job id back to run again after delay_s seconds, or marks it
 * failed for good (give_up); what says why. Its own transaction. */
int db_jobs_retry(db_conn_t *c, const char *claimer, long long id, double delay_s, bool give_up,
                  const char *what) ENT_MUSTCHECK;

/* Gives job id back at once without counting the attempt its claim
 * counted: it was not tried. Its own transaction. */
int db_jobs_release(db_conn_t *c, const char *claimer, long long id) ENT_MUSTCHECK;

/* Marks failed the running jobs whose lease ran out on their last attempt
 * (claims leave them alone) and returns them (*n, at most max). */
int db_jobs_expired(db_conn_t *c, db_job_t *out, size_t max, size_t *n) ENT_MUSTCHECK;

/* Jobs queued, running and failed, and the age in seconds of the oldest
 * not failed. */
int db_jobs_stats(db_conn_t *c, long long *queued, long long *running, long long *failed,
                  double *oldest_s) ENT_MUSTCHECK;

/* A connection that listens on DB_JOBS_CHANNEL. Its LISTEN and NOTIFY
 * are awaited at most connect_timeout_s (then the call fails: close the
 * listener and open another). */
typedef struct db_listener db_listener_t;

int db_listener_open(const char *conninfo, int connect_timeout_s, db_listener_t **out) ENT_MUSTCHECK;
void db_listener_close(db_listener_t *l);

/* Waits at most timeout_ms for a notification or for wake_fd (an eventfd,
 * drained here; -1: none) to become readable: 1 when a notification (or
 * more) arrived, with the lanes they name in *lanes (bit i for lane i; a
 * notification without a lane, from an older daemon, names them all), 2
 * when wake_fd woke it, 0 on timeout, ENT_EDBDOWN when the connection is
 * lost (close and open it again). */
int db_listener_wait(db_listener_t *l, int timeout_ms, int wake_fd, unsigned *lanes) ENT_MUSTCHECK;

/* Notifies DB_JOBS_CHANNEL that jobs of lane (0 to 7) were queued: that
 * lane's workers of every daemon listening wake. */
int db_listener_notify(db_listener_t *l, int lane) ENT_MUSTCHECK;

#endif
