/*
 * config.h - the daemon's settings, declared once in a table (config.c).
 *
 * Every setting is read from an environment variable (a secret such as
 * DATABASE_URL also from the file its _FILE variable names); the table also
 * drives `entitlementd --help` and the reference in docs/CONFIG.md.
 */
#ifndef ENT_CONFIG_H
#define ENT_CONFIG_H

#include <stdio.h>

#include "err.h"

typedef struct ent_config {
    char bind[64];              /* address the listener binds */
    char public_url[256];       /* scheme://host[:port] clients reach us at; empty: from each request */
    char webhook_addresses[16]; /* public, private or any (subs/webhook.h, webhook_reach_t) */
    int port;                   /* TCP port of the listener (SOAP and REST) */
    char database_url[1024];    /* libpq conninfo; empty: the embedded cluster */
    char home[512];             /* runtime directory: embedded cluster and socket */
    int workers;                /* HTTP worker threads (SOAP and REST) */
    int active_workers;         /* of those, how many take requests at once; 0: twice the cores */
    int db_pool_size;           /* PostgreSQL connections */
    int db_wait_timeout_ms;     /* how long a worker waits for a free connection */
    int db_lock_timeout_ms;     /* how long a statement waits for a row lock (lock_timeout) */
    int db_statement_timeout_ms; /* statement_timeout; an answer awaited 2 s longer closes the connection */
    int db_connect_timeout_s;   /* libpq connect_timeout */
    char log_level[16];         /* error, warn, info, debug */
    int log_repeat_s;           /* a message repeated within this many seconds is counted, not written; 0: all written */
    int max_body_bytes;         /* largest SOAP request body accepted (HTTP 413 above) */
    int max_json_bytes;         /* largest JSON request body accepted (HTTP 413 above) */
    int max_depth;              /* deepest XML nesting accepted */
    int max_occurs;             /* most repetitions of one element accepted */
    int max_units;              /* most units in one write request (BATCH_TOO_LARGE) */
    int max_batch_size;         /* largest batchSize of a query */
    int max_page_mb;            /* MiB one query page may take as it is read (RESPONSE_TOO_LARGE above) */
    int recv_timeout_s;         /* socket receive timeout while reading a request */
    int send_timeout_s;         /* a response waiting for its client without progress is dropped after this */
    int keepalive_timeout_s;    /* idle keep-alive connections are closed after this */
    int max_connections;        /* open client connections at most */
    int max_connections_per_client; /* of one client address; 0: no limit */
    int start_timeout_s;        /* give up waiting for the database at start after this long; 0: never */
    int shutdown_delay_s;       /* after SIGTERM, /readyz says 503 this long before the listener closes */
    char log_format[8];         /* text or json */
    int auth_cache_s;           /* a verified password is trusted this long before it is checked again */
    int login_failures_per_address; /* failed logins a minute from one client address before 429 */
    int login_failures_per_user; /* failed logins a minute at one user name before 429 */
    int validate_xml;           /* 1: validate requests and responses against the XSD */
    int commit_groups;          /* commit groups written at once; 0: no grouping */
    int max_buffered_mb;        /* MiB of requests and responses waiting in connections, all together */
    int jwt_leeway_s;           /* clock skew allowed on a JWT's exp and nbf */
    int statuslog_retention_h;  /* status logs are polled (then purged) this many hours */
    int job_workers;            /* job worker threads of this daemon; 0: none */
    int webhook_workers;        /* threads for webhook posts (subscription runs), apart from the job workers; 0: none */
    int job_lease_s;            /* how long a claimed job is held before another daemon may take it */
    int job_poll_ms;            /* how often idle workers look for jobs without a notification */
    int package_delay_ms;       /* an update package's build starts this long after its request */
    int sched_batch;            /* 1: HTTP and job workers run as SCHED_BATCH (core/thread.h) */
} ent_config_t;

/* Fills cfg with defaults, then overrides from the environment. A setting
 * marked as a secret in the table (DATABASE_URL) may instead come from the
 * file its _FILE variable names (DATABASE_URL_FILE): the file's content with
 * one trailing newline removed. On a bad value, both variables set, or a
 * file that cannot be read, writes a message naming the variable (and the
 * file) into err (errlen bytes) and returns ENT_EINVAL; the message never
 * quotes a string value. */
int config_load(ent_config_t *cfg, char *err, size_t errlen) ENT_MUSTCHECK;

/* Writes one paragraph per setting: variable, default, bounds and help. */
void config_print_help(FILE *out);

/* Writes the settings reference in markdown (docs/CONFIG.md is this output). */
void config_print_markdown(FILE *out);

/* Returns the libpq conninfo to use: cfg->database_url, or the embedded
 * cluster's socket under cfg->home. Writes into buf (len bytes). */
int config_conninfo(const ent_config_t *cfg, char *buf, size_t len) ENT_MUSTCHECK;

#endif
