/*
 * Status log processing. The POST stored the request and its job in one
 * transaction; here, in the job's transaction, the status is checked and
 * either recorded (device and history) or refused, and the result that the
 * poll returns is set. The result is a key (stable, for machines), a
 * message (for people) and the arguments the message names, as a JSON
 * array of strings.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../db/rest_store.h"
#include "updates.h"

const char *updates_status_name(long long code)
{
    switch (code) {
    case 0: return "download started";
    case 1: return "download completed";
    case 2: return "download failed";
    case 3: return "install started";
    case 4: return "install completed";
    case 8: return "message delivered";
    default: return NULL;
    }
}

/* The arguments as a JSON array text (malloc'd), NULL when out of memory. */
static char *statuslog__arguments(const char *const *args, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++)
        if (json_array_append_new(a, json_string(args[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return text;
}

/* Decides the result of status log s into *res: its message and its
 * arguments, both malloc'd and the caller's to free (NULL when out of
 * memory: ENT_ENOMEM). */
static int statuslog__decide(const store_statuslog_t *s, store_statuslog_result_t *res)
{
    /* A message is at most a few hundred bytes: the fields it names are
     * each at most STORE_FIELD_MAX. */
    char message[4096];
    size_t cap = sizeof message;
    char *end = NULL;
    long long code = strtoll(s->status_code, &end, 10);
    const char *name = s->status_code[0] && end && *end == '\0' ? updates_status_name(code) : NULL;

    res->record = name != NULL;
    if (name != NULL) {
        const char *args[4] = {s->status_code, name, s->update_id, s->device_id};
        res->key = "statusLog.recorded";
        snprintf(message, cap, "Status %s (%s) of update %s recorded for device %s.", s->status_code, name,
                 s->update_id, s->device_id);
        res->arguments = statuslog__arguments(args, 4);
    } else {
        const char *args[1] = {s->status_code};
        res->key = "statusLog.invalidStatusCode";
        snprintf(message, cap,
                 "Status code %s is not one of 0 (download started), 1 (download completed), 2 (download failed), "
                 "3 (install started), 4 (install completed), 8 (message delivered); nothing was recorded.",
                 s->status_code);
        res->arguments = statuslog__arguments(args, 1);
    }
    res->message = strdup(message);
    return res->arguments != NULL && res->message != NULL ? ENT_OK : ENT_ENOMEM;
}

/* Orders status logs by their device: concurrent batches (of this daemon's
 * workers or another's) then lock device rows in one order, and never wait
 * for each other in a cycle. */
static int statuslog__by_device(const void *a, const void *b)
{
    const store_statuslog_t *x = a, *y = b;
    int d = strcmp(x->publisher, y->publisher);
    if (d == 0)
        d = strcmp(x->id_type, y->id_type);
    if (d == 0)
        d = strcmp(x->device_id, y->device_id);
    return d != 0 ? d : x->id < y->id ? -1 : x->id > y->id;
}

int updates_statuslog_giveup(void *arg, db_conn_t *c, const db_job_t *job)
{
    (void)arg;
    return store_statuslog_fail(c, job->ref, "statusLog.failed",
                                "The status could not be recorded (the attempts were used up); post it again.",
                                "[]");
}

int updates_statuslog_run(void *arg, db_conn_t *c, const db_job_t *jobs, size_t n, job_outcome_t *outcomes)
{
    long long *refs = calloc(n, sizeof *refs);
    store_statuslog_t *logs = malloc(n * sizeof *logs);
    store_statuslog_result_t *res = calloc(n, sizeof *res);
    store_rows_t *rows = NULL;
    size_t nlogs = 0;
    int rc = ENT_ENOMEM;

    (void)arg;
    if (refs == NULL || logs == NULL || res == NULL)
        goto out;
    for (size_t i = 0; i < n; i++)
        refs[i] = jobs[i].ref;
    if ((rc = store_statuslog_read(c, refs, n, logs, &nlogs, &rows)) != ENT_OK)
        goto out;
    qsort(logs, nlogs, sizeof *logs, statuslog__by_device);
    for (size_t i = 0; i < nlogs; i++)
        if ((rc = statuslog__decide(&logs[i], &res[i])) != ENT_OK) {
            log_warn("status log %lld: its result could not be made: %s", logs[i].id, ent_strerror(rc));
            goto out;
        }
    /* The results in one round trip, in the devices' order. */
    for (size_t i = 0; i < nlogs; i += STORE_STATUSLOG_BATCH) {
        size_t k = nlogs - i < STORE_STATUSLOG_BATCH ? nlogs - i : STORE_STATUSLOG_BATCH;
        if ((rc = store_statuslog_record(c, logs + i, res + i, k)) != ENT_OK) {
            log_warn("status logs: the results of %zu could not be written: %s", k, ent_strerror(rc));
            goto out;
        }
    }
    /* A job whose status log is not read (done already, or purged) has
     * nothing left to do. */
    for (size_t i = 0; i < n; i++)
        outcomes[i] = JOB_DONE;
out:
    for (size_t i = 0; res != NULL && i < n; i++) {
        free((char *)res[i].arguments);
        free((char *)res[i].message);
    }
    store_rows_free(rows);
    free(refs);
    free(logs);
    free(res);
    return rc;
}
