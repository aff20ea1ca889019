/*
 * entitlementd - the entitlement lifecycle daemon: the SOAP
 * EntitlementOrderService and the REST adapter on one HTTP listener.
 *
 * Reads its settings from the environment (see --help), applies pending
 * migrations, and serves until SIGTERM or SIGINT, on which it stops
 * accepting, finishes the requests in flight and exits 0.
 *
 * The wiring is here, from the top: the HTTP transport knows no front;
 * each front is registered with its path prefix.
 */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "core/config.h"
#include "core/jarena.h"
#include "core/log.h"
#include "core/metrics.h"
#include "db/pool.h"
#include "http/http.h"
#include "jobs/jobs.h"
#include "rest/rest.h"
#include "soap/front.h"
#include "subs/package.h"
#include "subs/run.h"
#include "subs/webhook.h"
#include "updates/updates.h"

/* A webhook post: connecting, and the whole attempt (seconds). */
#define MAIN_WEBHOOK_CONNECT_TIMEOUT_S 5
#define MAIN_WEBHOOK_TIMEOUT_S 10
/* How often due subscription schedules are looked for (seconds). */
#define MAIN_SCHEDULE_EVERY_S 15

static void usage(FILE *out)
{
    fputs("usage: entitlementd [--help] [--config-markdown]\n\n"
          "Serves, on one port:\n"
          "  the FlexNet-compatible EntitlementOrderService over SOAP at\n"
          "    http://BIND:PORT/flexnet/services/v4/EntitlementOrderService (and v1..v3);\n"
          "  the REST adapter (update status log, device status, health and metrics)\n"
          "    described by http://BIND:PORT/openapi.json.\n\n",
          out);
    config_print_help(out);
}

/* /metrics gauges of the transport and the pool. */
static void main__collect_http(metrics_buf_t *b, void *arg)
{
    int open = 0, max = 0, taking = 0, waiting = 0, standing = 0, active_max = 0;
    http_server_connections(arg, &open, &max);
    http_server_workers(arg, &taking, &waiting, &standing, &active_max);
    metrics_printf(b,
                   "# HELP entitlementd_http_connections Client connections open.\n"
                   "# TYPE entitlementd_http_connections gauge\nentitlementd_http_connections %d\n"
                   "# HELP entitlementd_http_connections_max Client connections allowed.\n"
                   "# TYPE entitlementd_http_connections_max gauge\nentitlementd_http_connections_max %d\n"
                   "# HELP entitlementd_http_workers HTTP worker threads by state.\n"
                   "# TYPE entitlementd_http_workers gauge\n"
                   "entitlementd_http_workers{state=\"taking_requests\"} %d\n"
                   "entitlementd_http_workers{state=\"waiting\"} %d\n"
                   "entitlementd_http_workers{state=\"standing_by\"} %d\n"
                   "# HELP entitlementd_http_workers_active_max HTTP workers that may take requests at once "
                   "(ENTITLEMENTD_ACTIVE_WORKERS).\n"
                   "# TYPE entitlementd_http_workers_active_max gauge\nentitlementd_http_workers_active_max %d\n"
                   "# HELP entitlementd_http_requests_parked Requests put back to wait for a credential check's "
                   "turn, holding no thread.\n"
                   "# TYPE entitlementd_http_requests_parked gauge\nentitlementd_http_requests_parked %d\n",
                   open, max, taking, waiting, standing, active_max, http_server_parked(arg));
}

/* A credential check ended: requests put back waiting for one go again. */
static void main__auth_turn(void *server, int n)
{
    http_server_retry_parked(server, n);
}

static void main__collect_pool(metrics_buf_t *b, void *arg)
{
    int in_use = 0, open = 0, size = 0;
    db_pool_stats(arg, &in_use, &open, &size);
    metrics_printf(b,
                   "# HELP entitlementd_db_pool_connections PostgreSQL connections of the request pool, by state.\n"
                   "# TYPE entitlementd_db_pool_connections gauge\n"
                   "entitlementd_db_pool_connections{state=\"in_use\"} %d\n"
                   "entitlementd_db_pool_connections{state=\"idle\"} %d\n"
                   "# HELP entitlementd_db_pool_size PostgreSQL connections the request pool may open.\n"
                   "# TYPE entitlementd_db_pool_size gauge\nentitlementd_db_pool_size %d\n",
                   in_use, open - in_use, size);
}

typedef enum main_start {
    MAIN_MIGRATED,  /* the database is reachable and migrated */
    MAIN_SIGNALLED, /* SIGTERM or SIGINT while waiting */
    MAIN_GAVE_UP    /* ENTITLEMENTD_START_TIMEOUT ran out, or the migration itself failed */
} main_start_t;

/* SIGHUP: debug lines on, or back to the configured level. */
static void main__toggle_debug(const ent_config_t *cfg)
{
    log_level_t configured = (log_level_t)log_level_parse(cfg->log_level);
    log_level_t now = log_threshold == LOG_LEVEL_DEBUG && configured != LOG_LEVEL_DEBUG ? configured : LOG_LEVEL_DEBUG;
    log_threshold = now;
    log_write(LOG_LEVEL_WARN, "SIGHUP: log level now %s", now == LOG_LEVEL_DEBUG ? "debug" : cfg->log_level);
}

/* Migrates the database, waiting for it with backoff (0.5 s doubling to
 * 10 s) while it cannot be reached: replicas started before their
 * database wait rather than exit, and several starting at once migrate
 * once (db_migrate holds an advisory lock). The signals are taken while
 * waiting. */
static main_start_t main__migrate(const ent_config_t *cfg, const char *conninfo, const sigset_t *sigs)
{
    struct timespec begun, now;
    double backoff = 0.5;
    clock_gettime(CLOCK_MONOTONIC, &begun);
    for (int attempt = 1;; attempt++) {
        int rc = db_migrate(conninfo, cfg->db_connect_timeout_s);
        if (rc == ENT_OK)
            return MAIN_MIGRATED;
        if (rc != ENT_EDBDOWN) {
            log_error("cannot migrate the database: %s", ent_strerror(rc));
            return MAIN_GAVE_UP;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        double waited = (double)(now.tv_sec - begun.tv_sec) + (double)(now.tv_nsec - begun.tv_nsec) / 1e9;
        /* The last pause ends at the deadline, and one more attempt is made there. */
        double pause_s = backoff, left = (double)cfg->start_timeout_s - waited;
        if (cfg->start_timeout_s > 0 && left <= 0) {
            log_error("the database cannot be reached after %.0f s (ENTITLEMENTD_START_TIMEOUT): giving up", waited);
            return MAIN_GAVE_UP;
        }
        if (cfg->start_timeout_s > 0 && pause_s > left)
            pause_s = left;
        log_warn("the database cannot be reached (attempt %d); trying again in %.1f s", attempt, pause_s);
        struct timespec pause = {(time_t)pause_s, (long)((pause_s - (double)(time_t)pause_s) * 1e9)};
        int sig;
        while ((sig = sigtimedwait(sigs, NULL, &pause)) == SIGHUP)
            ;
        if (sig == SIGTERM || sig == SIGINT) {
            log_info("received %s while waiting for the database", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            return MAIN_SIGNALLED;
        }
        backoff = backoff * 2 > 10 ? 10 : backoff * 2;
    }
}

int main(int argc, char **argv)
{
    ent_config_t cfg;
    char err[512], conninfo[2048];
    db_pool_t *pool = NULL;
    auth_t *auth = NULL;
    soap_front_t *soap = NULL;
    rest_front_t *rest = NULL;
    job_runner_t *jobs = NULL;
    http_server_t *server = NULL;
    sigset_t sigs;
    int sig = 0, rc, status = 1;

    /* Blocks of 1 MiB and more (request and response buffers, a large
     * field's text) are mapped on their own and unmapped when freed. A set
     * threshold also stops glibc from raising it after each large free,
     * which kept a burst of 7 MB requests in the heap for good: 20 of them
     * left the idle daemon at 169 MiB, now 20 MiB (RELIABILITY.md). */
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
    /* Before any thread uses jansson (core/jarena.h). */
    jarena_install();

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--config-markdown") == 0) {
            config_print_markdown(stdout);
            return 0;
        }
        fprintf(stderr, "entitlementd: unknown argument '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }
    if (config_load(&cfg, err, sizeof err) != ENT_OK) {
        fprintf(stderr, "entitlementd: %s\n", err);
        return 2;
    }
    log_threshold = (log_level_t)log_level_parse(cfg.log_level);
    log_set_repeat_interval(cfg.log_repeat_s);
    if (config_conninfo(&cfg, conninfo, sizeof conninfo) != ENT_OK) {
        fprintf(stderr, "entitlementd: DATABASE_URL or ENTITLEMENTD_HOME too long\n");
        return 2;
    }

    log_set_json(strcmp(cfg.log_format, "json") == 0);

    /* Workers inherit this mask; only this thread takes the signals. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* libcurl's global state, before any thread. */
    if (webhook_global_init() != ENT_OK) {
        log_error("cannot initialise libcurl");
        return 1;
    }
    /* The pool and the fronts need no database yet (connections open on
     * first use): the server answers /healthz at once, and 503 to the rest
     * until the database is migrated. */
    db_pool_options_t popt = {conninfo, cfg.db_pool_size, cfg.db_connect_timeout_s, cfg.db_wait_timeout_ms,
                              false, cfg.db_lock_timeout_ms, cfg.db_statement_timeout_ms};
    if ((rc = db_pool_create(&popt, &pool)) != ENT_OK) {
        log_error("cannot create the database pool: %s", ent_strerror(rc));
        return 1;
    }
    auth_options_t aopt = {cfg.auth_cache_s, cfg.login_failures_per_address, cfg.login_failures_per_user};
    if ((rc = auth_new(pool, &aopt, &auth)) != ENT_OK || (rc = soap_front_new(&cfg, pool, auth, &soap)) != ENT_OK ||
        (rc = rest_front_new(&cfg, pool, auth, &rest)) != ENT_OK) {
        log_error("cannot start: %s", ent_strerror(rc));
        goto out;
    }
    http_front_t fronts[2] = {soap_front_http(soap), rest_front_http(rest)};
    if ((rc = http_server_start(&cfg, fronts, 2, &server)) != ENT_OK) {
        log_error("cannot start the HTTP server: %s", ent_strerror(rc));
        goto out;
    }
    auth_on_turn(auth, main__auth_turn, server);
    if ((rc = metrics_add_collector(main__collect_http, server)) != ENT_OK ||
        (rc = metrics_add_collector(main__collect_pool, pool)) != ENT_OK) {
        log_error("cannot register the metrics collectors: %s", ent_strerror(rc));
        goto out;
    }
    int taking = 0, waiting = 0, standing = 0, active_max = 0;
    http_server_workers(server, &taking, &waiting, &standing, &active_max);
    log_info("entitlementd listening on %s:%d (%d workers, %d of them taking requests at once; %d database "
             "connections, %d job workers, %d webhook workers); waiting for the database",
             cfg.bind, http_server_port(server), cfg.workers, active_max, cfg.db_pool_size, cfg.job_workers,
             cfg.webhook_workers);
    switch (main__migrate(&cfg, conninfo, &sigs)) {
    case MAIN_MIGRATED:
        break;
    case MAIN_SIGNALLED:
        status = 0;
        goto out;
    case MAIN_GAVE_UP:
        goto out;
    }
    /* Webhook posts: a run's attempt takes at most this long. */
    static subs_run_options_t run_opts = {{MAIN_WEBHOOK_CONNECT_TIMEOUT_S, MAIN_WEBHOOK_TIMEOUT_S, WEBHOOK_REACH_PRIVATE}};
    run_opts.post.reach = (webhook_reach_t)webhook_reach_parse(cfg.webhook_addresses); /* checked by config */
    /* A post ends within half a job lease, so that the lease its run
     * extends before each post holds the job through it (subs/run.c). */
    if (run_opts.post.timeout_s > cfg.job_lease_s / 2)
        run_opts.post.timeout_s = cfg.job_lease_s / 2 > 0 ? cfg.job_lease_s / 2 : 1;
    if (run_opts.post.connect_timeout_s > run_opts.post.timeout_s)
        run_opts.post.connect_timeout_s = run_opts.post.timeout_s;
    /* (Subscription runs, webhook posts, are claimed by the webhook
     * workers, the others by the job workers: jobs.h.) */
    static const job_kind_t kinds[] = {{UPDATES_JOB_STATUSLOG, updates_statuslog_run, updates_statuslog_giveup, NULL},
                                       {SUBS_JOB_RUN, subs_run_jobs, subs_run_giveup, &run_opts},
                                       {SUBS_JOB_PACKAGE, subs_package_jobs, subs_package_giveup, NULL}};
    job_options_t jopt = {conninfo, cfg.db_connect_timeout_s, cfg.db_lock_timeout_ms, cfg.db_statement_timeout_ms,
                          {cfg.job_workers, cfg.webhook_workers},
                          cfg.job_lease_s, cfg.job_poll_ms,
                          cfg.statuslog_retention_h * 3600, kinds, (int)(sizeof kinds / sizeof kinds[0]),
                          subs_run_schedule, NULL, MAIN_SCHEDULE_EVERY_S, cfg.sched_batch != 0};
    if ((rc = job_runner_start(&jopt, &jobs)) != ENT_OK) {
        log_error("cannot start the job workers: %s", ent_strerror(rc));
        goto out;
    }
    if ((rc = metrics_add_collector(job_runner_collect, jobs)) != ENT_OK) {
        log_error("cannot register the metrics collectors: %s", ent_strerror(rc));
        goto out;
    }
    rest_front_set_jobs(rest, jobs);
    http_server_set_phase(server, HTTP_READY);
    log_info("entitlementd ready");

    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            break;
        main__toggle_debug(&cfg);
    }
    log_info("received %s: finishing requests in flight", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    status = 0;
    /* Not ready first, so that a load balancer stops sending; still
     * serving meanwhile. A second signal cuts the wait short. */
    http_server_set_phase(server, HTTP_STOPPING);
    if (cfg.shutdown_delay_s > 0) {
        struct timespec delay = {cfg.shutdown_delay_s, 0};
        log_info("not ready: closing the listener in %d s", cfg.shutdown_delay_s);
        while (sigtimedwait(&sigs, NULL, &delay) == SIGHUP)
            ;
    }
out:
    if (server != NULL) {
        auth_on_turn(auth, NULL, NULL);
        http_server_stop(server);
    }
    metrics_clear_collectors();
    job_runner_stop(jobs);
    rest_front_free(rest);
    soap_front_free(soap);
    auth_free(auth);
    db_pool_destroy(pool);
    webhook_global_cleanup();
    log_info("stopped");
    return status;
}
