#include "run.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/log.h"
#include "../db/sub_store.h"
#include "webhook.h"

int subs_run_jobs(void *arg, db_conn_t *c, const db_job_t *jobs, size_t n, job_outcome_t *outcomes)
{
    const subs_run_options_t *o = arg;
    time_t start = time(NULL);

    for (size_t i = 0; i < n; i++) {
        store_run_t run;
        webhook_result_t res;
        /* A batch must end well within its lease: the posts of the rest
         * wait for another batch. */
        if (i > 0 && time(NULL) - start >= o->timeout_s) {
            outcomes[i] = JOB_RETRY;
            continue;
        }
        int rc = store_run_load(c, jobs[i].ref, &run);
        if (rc == ENT_ENOTFOUND || (rc == ENT_OK && !run.pending)) {
            outcomes[i] = JOB_DONE; /* deleted with its subscription, or done already */
            free(run.body);
            continue;
        }
        if (rc != ENT_OK)
            return rc;
        if (run.body == NULL && (rc = store_run_build(c, run.id, SUBS_RUN_MAX_CHANGES, &run.body)) != ENT_OK)
            return rc;
        /* No transaction stays open while a receiver takes its time (up to
         * the post's timeout): it would hold a connection and keep vacuum
         * from the rows changed since it began. What is built is kept; the
         * attempt and the job's end commit together after the post. */
        if ((rc = db_commit(c)) != ENT_OK) {
            free(run.body);
            return rc;
        }
        rc = webhook_post(run.url, run.secret, run.secret_len, run.msg_id, run.body, strlen(run.body),
                          o->connect_timeout_s, o->timeout_s, &res);
        free(run.body);
        if (rc == ENT_OK)
            rc = db_begin_durable(c);
        if (rc != ENT_OK)
            return rc;
        if ((rc = store_run_attempt(c, run.id, res.delivered, res.http_status, res.detail, res.duration_ms)) != ENT_OK)
            return rc;
        if (res.delivered) {
            log_info("subscription run %lld delivered (HTTP %d, %d ms)", run.id, res.http_status, res.duration_ms);
            outcomes[i] = JOB_DONE;
        } else {
            log_warn("subscription run %lld: webhook post failed: %s (attempt %d)", run.id, res.detail,
                     jobs[i].attempts);
            outcomes[i] = JOB_RETRY;
        }
    }
    return ENT_OK;
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
