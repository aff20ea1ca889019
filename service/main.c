/*
 * entitlementd - the SOAP EntitlementOrderService daemon.
 *
 * Reads its settings from the environment (see --help), applies pending
 * migrations, and serves until SIGTERM or SIGINT, on which it stops
 * accepting, finishes the requests in flight and exits 0.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "db/pool.h"
#include "soap/server.h"

static void usage(FILE *out)
{
    fputs("usage: entitlementd [--help] [--config-markdown]\n\n"
          "Serves the FlexNet-compatible EntitlementOrderService over SOAP at\n"
          "  http://BIND:PORT/flexnet/services/v4/EntitlementOrderService (and v1..v3).\n\n",
          out);
    config_print_help(out);
}

int main(int argc, char **argv)
{
    ent_config_t cfg;
    char err[512], conninfo[2048];
    db_pool_t *pool = NULL;
    soap_server_t *server = NULL;
    sigset_t sigs;
    int sig = 0, rc;

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
    if (config_conninfo(&cfg, conninfo, sizeof conninfo) != ENT_OK) {
        fprintf(stderr, "entitlementd: DATABASE_URL or ENTITLEMENTD_HOME too long\n");
        return 2;
    }

    /* Workers inherit this mask; only this thread takes the signals. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((rc = db_migrate(conninfo, cfg.db_connect_timeout_s)) != ENT_OK) {
        log_error("cannot migrate the database: %s", ent_strerror(rc));
        return 1;
    }
    db_pool_options_t popt = {conninfo, cfg.db_pool_size, cfg.db_connect_timeout_s, cfg.db_wait_timeout_ms};
    if ((rc = db_pool_create(&popt, &pool)) != ENT_OK) {
        log_error("cannot create the database pool: %s", ent_strerror(rc));
        return 1;
    }
    if ((rc = soap_server_start(&cfg, pool, &server)) != ENT_OK) {
        log_error("cannot start the SOAP server: %s", ent_strerror(rc));
        db_pool_destroy(pool);
        return 1;
    }
    log_info("entitlementd listening on %s:%d (%d workers, %d database connections)", cfg.bind,
             soap_server_port(server), cfg.workers, cfg.db_pool_size);

    while (sigwait(&sigs, &sig) != 0)
        ;
    log_info("received %s: finishing requests in flight", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    soap_server_stop(server);
    db_pool_destroy(pool);
    log_info("stopped");
    return 0;
}
