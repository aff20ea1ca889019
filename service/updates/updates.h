/*
 * updates.h - the update status log's processing: the job that validates a
 * status an update client posted, records the device and appends the
 * status to the device's update history, and sets the result its poll
 * returns.
 */
#ifndef ENT_UPDATES_H
#define ENT_UPDATES_H

#include <stdbool.h>
#include <stddef.h>

#include "../db/jobs.h"
#include "../jobs/jobs.h"

/* The job kind of a status log. */
#define UPDATES_JOB_STATUSLOG "statusLog"

/* The job handler of status logs (job_handler_fn; arg unused). */
int updates_statuslog_run(void *arg, db_conn_t *c, const db_job_t *jobs, size_t n, job_outcome_t *outcomes);

/* Gives up on the job of a status log: its poll answers a failure (a
 * job_giveup_fn; arg unused). */
int updates_statuslog_giveup(void *arg, db_conn_t *c, const db_job_t *job);

/* What status code means ("install completed"), or NULL when it is not
 * one of the codes of the status log (0, 1, 2, 3, 4, 8). */
const char *updates_status_name(long long code);

#endif
