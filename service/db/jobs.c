#include "jobs.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/log.h"
#include "db_int.h"

struct db_listener {
    PGconn *pg;
    int answer_ms; /* how long LISTEN and NOTIFY are awaited (listener__exec) */
};

/* Runs sql (a LISTEN or NOTIFY) on l's connection and waits at most
 * l->answer_ms for its answer. The listener's connection is not a pool's,
 * with no watchdog (db__watch): a server that answers nothing would hold
 * the listener thread, and a shutdown that joins it, for good. false on
 * an error or no answer in time (close the listener). */
static bool listener__exec(db_listener_t *l, const char *sql)
{
    if (PQsendQuery(l->pg, sql) != 1)
        return false;
    long long until = db__clock_ms() + l->answer_ms;
    bool ok = true;
    for (;;) {
        /* Every PQgetResult only once libpq holds what it returns: the
         * last one (NULL) waits for ReadyForQuery, which may come later
         * than the result, or not at all. */
        while (PQisBusy(l->pg)) {
            long long left = until - db__clock_ms();
            struct pollfd p = {.fd = PQsocket(l->pg), .events = POLLIN};
            if (left <= 0 || p.fd < 0)
                return false;
            if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
                return false;
            if (PQconsumeInput(l->pg) != 1)
                return false;
        }
        PGresult *r = PQgetResult(l->pg);
        if (r == NULL)
            return ok;
        ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
}

/* The jobs of r (columns id, kind, ref, attempts, max_attempts) into out
 * (at most max; *n). */
static void jobs__rows(const PGresult *r, db_job_t *out, size_t max, size_t *n)
{
    *n = 0;
    for (int i = 0; i < PQntuples(r) && *n < max; i++) {
        db_job_t *j = &out[*n];
        j->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        snprintf(j->kind, sizeof j->kind, "%s", PQgetvalue(r, i, 1));
        j->ref = strtoll(PQgetvalue(r, i, 2), NULL, 10);
        j->attempts = atoi(PQgetvalue(r, i, 3));
        j->max_attempts = atoi(PQgetvalue(r, i, 4));
        j->claimer = NULL; /* a claim's: db_jobs_claim sets them */
        j->lease_s = 0;
        (*n)++;
    }
}

int db_jobs_claim(db_conn_t *c, const char *claimer, int lease_s, bool webhook, db_job_t *out, size_t max,
                  size_t *n)
{
    char lease[16], lim[16];
    PGresult *r = NULL;
    snprintf(lease, sizeof lease, "%d", lease_s);
    snprintf(lim, sizeof lim, "%zu", max);
    const char *v[3] = {claimer, lease, lim};
    int rc = db__exec(c, webhook ? STMT_JOBS_CLAIM_WEBHOOK : STMT_JOBS_CLAIM, 3, v, &r);
    *n = 0;
    if (rc != ENT_OK)
        return rc;
    jobs__rows(r, out, max, n);
    for (size_t i = 0; i < *n; i++) {
        out[i].claimer = claimer;
        out[i].lease_s = lease_s;
    }
    PQclear(r);
    return ENT_OK;
}


/* "{1,2,3}" for n ids into a new string (caller frees), NULL when out of
 * memory. */
static char *jobs__array(const long long *ids, size_t n)
{
    char *s = malloc(n * 21 + 3), *p = s;
    if (s == NULL)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%lld", i ? "," : "", ids[i]);
    *p++ = '}';
    *p = '\0';
    return s;
}

int db_jobs_extend(db_conn_t *c, const db_job_t *jobs, size_t n, bool *held)
{
    long long ids[64];
    char lease[16];
    PGresult *r = NULL;
    if (n == 0)
        return ENT_OK;
    if (n > sizeof ids / sizeof ids[0])
        return ENT_EINVAL;
    for (size_t i = 0; i < n; i++) {
        ids[i] = jobs[i].id;
        if (held != NULL)
            held[i] = false;
    }
    char *arr = jobs__array(ids, n);
    if (arr == NULL)
        return ENT_ENOMEM;
    snprintf(lease, sizeof lease, "%d", jobs[0].lease_s);
    const char *v[3] = {arr, jobs[0].claimer, lease};
    int rc = db__exec(c, STMT_JOBS_EXTEND, 3, v, &r);
    free(arr);
    if (rc != ENT_OK)
        return rc;
    for (int k = 0; k < PQntuples(r) && held != NULL; k++) {
        long long id = strtoll(PQgetvalue(r, k, 0), NULL, 10);
        for (size_t i = 0; i < n; i++)
            if (jobs[i].id == id)
                held[i] = true;
    }
    PQclear(r);
    return ENT_OK;
}

int db_jobs_complete(db_conn_t *c, const char *claimer, const long long *ids, size_t n, size_t *deleted)
{
    PGresult *r = NULL;
    char *arr = jobs__array(ids, n);
    if (arr == NULL)
        return ENT_ENOMEM;
    const char *v[2] = {arr, claimer};
    int rc = db__exec(c, STMT_JOBS_COMPLETE, 2, v, &r);
    if (rc == ENT_OK)
        *deleted = (size_t)strtoull(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    free(arr);
    return rc;
}

int db_jobs_retry(db_conn_t *c, const char *claimer, long long id, double delay_s, bool give_up, const char *what)
{
    char idt[24], delay[32];
    snprintf(idt, sizeof idt, "%lld", id);
    snprintf(delay, sizeof delay, "%.3f", delay_s);
    const char *v[5] = {idt, claimer, delay, what, give_up ? "true" : "false"};
    return db__exec(c, STMT_JOBS_RETRY, 5, v, NULL);
}

int db_jobs_release(db_conn_t *c, const char *claimer, long long id)
{
    char idt[24];
    snprintf(idt, sizeof idt, "%lld", id);
    const char *v[2] = {idt, claimer};
    return db__exec(c, STMT_JOBS_RELEASE, 2, v, NULL);
}

int db_jobs_expired(db_conn_t *c, db_job_t *out, size_t max, size_t *n)
{
    char lim[16];
    PGresult *r = NULL;
    snprintf(lim, sizeof lim, "%zu", max);
    const char *v[1] = {lim};
    int rc = db__exec_sql(c,
                          "UPDATE jobs SET state = 'failed', locked_by = NULL, locked_until = NULL, "
                          "last_error = 'the lease of its last attempt ran out' WHERE id IN (SELECT id FROM jobs "
                          "WHERE state = 'running' AND locked_until < now() AND attempts >= max_attempts "
                          "LIMIT $1::int FOR UPDATE SKIP LOCKED) RETURNING id, kind, coalesce(ref, 0), attempts, "
                          "max_attempts",
                          1, v, &r);
    *n = 0;
    if (rc != ENT_OK)
        return rc;
    jobs__rows(r, out, max, n);
    PQclear(r);
    return ENT_OK;
}

int db_jobs_stats(db_conn_t *c, long long *queued, long long *running, long long *failed, double *oldest_s)
{
    PGresult *r = NULL;
    int rc = db__exec(c, STMT_JOBS_STATS, 0, NULL, &r);
    if (rc != ENT_OK)
        return rc;
    *queued = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    *running = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    *failed = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    *oldest_s = strtod(PQgetvalue(r, 0, 3), NULL);
    PQclear(r);
    return ENT_OK;
}

int db_listener_open(const char *conninfo, int connect_timeout_s, db_listener_t **out)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", connect_timeout_s);
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {conninfo, timeout, "entitlementd-jobs", NULL};
    db_listener_t *l = calloc(1, sizeof *l);
    if (l == NULL)
        return ENT_ENOMEM;
    l->answer_ms = connect_timeout_s * 1000;
    l->pg = PQconnectdbParams(keys, vals, 1);
    if (l->pg == NULL || PQstatus(l->pg) != CONNECTION_OK) {
        log_warn("job listener: cannot connect: %s", l->pg ? PQerrorMessage(l->pg) : "out of memory");
        db_listener_close(l);
        return ENT_EDBDOWN;
    }
    PQsetNoticeReceiver(l->pg, db__notice, NULL);
    if (!listener__exec(l, "LISTEN " DB_JOBS_CHANNEL)) {
        log_warn("job listener: LISTEN failed: %s", PQstatus(l->pg) == CONNECTION_OK && PQisBusy(l->pg)
                                                        ? "no answer in time"
                                                        : PQerrorMessage(l->pg));
        db_listener_close(l);
        return ENT_EDBDOWN;
    }
    *out = l;
    return ENT_OK;
}

void db_listener_close(db_listener_t *l)
{
    if (l == NULL)
        return;
    if (l->pg != NULL)
        PQfinish(l->pg);
    free(l);
}

/* Takes the notifications libpq holds: 1 if there were any, with the lanes
 * they name in *lanes (db_listener_wait). */
static int listener__drain(db_listener_t *l, unsigned *lanes)
{
    int got = 0;
    PGnotify *n;
    while ((n = PQnotifies(l->pg)) != NULL) {
        got = 1;
        const char *x = n->extra;
        *lanes |= x != NULL && x[0] >= '0' && x[0] <= '7' && x[1] == '\0' ? 1u << (x[0] - '0') : 0xFFu;
        PQfreemem(n);
    }
    return got;
}

int db_listener_wait(db_listener_t *l, int timeout_ms, int wake_fd, unsigned *lanes)
{
    *lanes = 0;
    /* Those that came with the answer to our own NOTIFY are read already:
     * the socket would not say so. */
    if (listener__drain(l, lanes))
        return 1;
    struct pollfd p[2] = {{.fd = PQsocket(l->pg), .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
    if (p[0].fd < 0)
        return ENT_EDBDOWN;
    int rc = poll(p, wake_fd >= 0 ? 2 : 1, timeout_ms);
    if (rc <= 0)
        return 0; /* a timeout (or EINTR, taken as one) */
    if (wake_fd >= 0 && (p[1].revents & POLLIN)) {
        uint64_t v;
        if (read(wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
            log_warn("job listener: reading its wake-up: %s", strerror(errno));
        if (!(p[0].revents & POLLIN))
            return 2;
    }
    if (PQconsumeInput(l->pg) != 1 || PQstatus(l->pg) != CONNECTION_OK)
        return ENT_EDBDOWN;
    return listener__drain(l, lanes);
}

int db_listener_notify(db_listener_t *l, int lane)
{
    /* (A payload is a literal of NOTIFY's: lane is a digit.) */
    char sql[64];
    snprintf(sql, sizeof sql, "NOTIFY " DB_JOBS_CHANNEL ", '%d'", lane & 7);
    if (listener__exec(l, sql))
        return ENT_OK;
    log_warn("job listener: NOTIFY failed: %s", PQstatus(l->pg) == CONNECTION_OK && PQisBusy(l->pg)
                                                    ? "no answer in time"
                                                    : PQerrorMessage(l->pg));
    return ENT_EDBDOWN;
}
