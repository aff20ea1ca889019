#include "package.h"

#include "../core/log.h"
#include "../db/sub_store.h"

int subs_package_jobs(void *arg, db_conn_t *c, const db_job_t *jobs, size_t n, job_outcome_t *outcomes)
{
    (void)arg;
    for (size_t i = 0; i < n; i++) {
        int rc = store_package_build(c, jobs[i].ref);
        if (rc != ENT_OK)
            return rc; /* the batch is retried, each job alone */
        outcomes[i] = JOB_DONE;
    }
    return ENT_OK;
}

int subs_package_giveup(void *arg, db_conn_t *c, const db_job_t *job)
{
    (void)arg;
    log_warn("update package %lld given up after %d attempts", job->ref, job->attempts);
    return store_package_fail(c, job->ref);
}
