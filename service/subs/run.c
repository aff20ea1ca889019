#include "run.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/clock.h"
#include "../core/log.h"
#include "../db/sub_store.h"
#include "webhook.h"

/* The batch's runs, in three steps: their messages are loaded (or built
 * on a first attempt) and committed; they are posted with no transaction
 * open, as a receiver may take its time (an open transaction would hold a
 * connection and keep vacuum from every row changed since); and the
 * attempts are written in a new transaction, which the runner ends with
 * the jobs'. What the first step committed is each run's message, kept on
 * the run whatever becomes of the job: a run taken again posts the same. */
int subs_run_jobs(void *arg, db_conn_t *c, const db_job_t *jobs, size_t n, job_outcome_t *outcomes)
{
    const subs_run_options_t *o = arg;
    store_run_t *runs = calloc(n, sizeof *runs);
    webhook_result_t *res = calloc(n, sizeof *res);
    bool *posted = calloc(n, sizeof *posted);
    bool *held = calloc(n, sizeof *held);
    int rc = runs != NULL && res != NULL && posted != NULL && held != NULL ? ENT_OK : ENT_ENOMEM;

    for (size_t i = 0; i < n && rc == ENT_OK; i++) {
        outcomes[i] = JOB_RETRY;
        rc = store_run_load(c, jobs[i].ref, &runs[i]);
        if (rc == ENT_ENOTFOUND || (rc == ENT_OK && !runs[i].pending)) {
            outcomes[i] = JOB_DONE; /* deleted with its subscription, or done already */
            rc = ENT_OK;
        } else if (rc == ENT_OK && runs[i].body == NULL) {
            rc = store_run_build(c, runs[i].id, SUBS_RUN_MAX_CHANGES, &runs[i].body);
        }
    }
    if (rc == ENT_OK)
        rc = db_commit(c);
    if (rc != ENT_OK)
        goto out;
    /* A batch must end well within its lease: the posts of the rest wait
     * for another batch, and since they were not tried (a slow or dead
     * receiver took the time), their attempts are not counted. */
    time_t start = clock_seconds();
    bool stop = false;
    for (size_t i = 0; i < n; i++) {
        if (outcomes[i] == JOB_DONE)
            continue;
        if (runs[i].url[0] == '\0')
            continue; /* no webhook: nothing to post (below) */
        if (stop || (i > 0 && clock_seconds() - start >= o->post.timeout_s)) {
            outcomes[i] = JOB_LATER;
            continue;
        }
        /* The batch held for a lease from now (a post takes at most half
         * of one; main.c): this run is never posted twice at once, by us
         * and by a worker that claimed it after its lease ran out, and the
         * runs done or posted before it are still ours when the batch
         * ends. */
        if (db_jobs_extend(c, jobs, n, held) != ENT_OK || !held[i]) {
            outcomes[i] = JOB_LATER;
            continue;
        }
        int prc = webhook_post(runs[i].url, runs[i].secret, runs[i].secret_len, runs[i].msg_id, runs[i].body,
                               strlen(runs[i].body), &o->post, &res[i]);
        if (prc != ENT_OK) {
            /* Not the receiver's doing (a failed post is a result): this
             * run is tried again later, the rest at once. */
            log_error("subscription run %lld: the post could not be made: %s", runs[i].id, ent_strerror(prc));
            stop = true;
            continue;
        }
        posted[i] = true;
    }
    /* The runner ends the jobs in this transaction, with the attempts: held
     * a lease from now for it (any of them lost meanwhile makes the
     * runner roll it back). */
    if (db_jobs_extend(c, jobs, n, NULL) != ENT_OK)
        log_warn("subscription runs: their leases could not be extended (%s)", db_conn_message(c));
    rc = db_begin_durable(c);
    for (size_t i = 0; i < n && rc == ENT_OK; i++) {
        if (outcomes[i] != JOB_DONE && runs[i].url[0] == '\0') {
            if ((rc = store_run_unposted(c, runs[i].id)) != ENT_OK)
                break;
            outcomes[i] = JOB_DONE;
            continue;
        }
        if (!posted[i])
            continue;
        rc = store_run_attempt(c, runs[i].id, res[i].delivered, res[i].http_status, res[i].detail,
                               res[i].duration_ms, res[i].started_ms);
        if (rc != ENT_OK)
            break;
        if (res[i].delivered) {
            log_info("subscription run %lld delivered (HTTP %d, %d ms)", runs[i].id, res[i].http_status,
                     res[i].duration_ms);
            outcomes[i] = JOB_DONE;
        } else {
            log_warn("subscription run %lld: webhook post failed: %s (attempt %d)", runs[i].id, res[i].detail,
                     jobs[i].attempts);
        }
    }
out:
    for (size_t i = 0; runs != NULL && i < n; i++)
        free(runs[i].body);
    free(runs);
    free(res);
    free(posted);
    free(held);
    return rc;
}

int subs_run_giveup(void *arg, db_conn_t *c, const db_job_t *job)
{
    (void)arg;
    log_warn("subscription run %lld given up after %d attempts", job->ref, job->attempts);
    return store_run_giveup(c, job->ref);
}

int subs_run_schedule(void *arg, db_conn_t *c)
{
    (void)arg;
    size_t n = 0;
    int rc = store_sub_schedule(c, &n);
    if (rc != ENT_OK)
        return rc;
    if (n > 0)
        log_info("queued %zu scheduled subscription runs", n);
    return (int)n;
}
