/*
 * package.h - building update packages in the job workers: each package's
 * document is made from the change feed in one statement (db/sub_store.h).
 */
#ifndef ENT_SUBS_PACKAGE_H
#define ENT_SUBS_PACKAGE_H

#include <stddef.h>

#include "../jobs/jobs.h"

#define SUBS_JOB_PACKAGE "package.build"

/* The job kind's handler and give-up (arg unused). */
int subs_package_jobs(void *arg, db_conn_t *c, const db_job_t *jobs, size_t n, job_outcome_t *outcomes);
int subs_package_giveup(void *arg, db_conn_t *c, const db_job_t *job);

#endif
