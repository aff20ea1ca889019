#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

typedef enum { CFG_INT, CFG_STR } cfg_type_t;

typedef struct cfg_setting {
    const char *env;     /* environment variable */
    const char *old_env; /* its former name, read when env is not set; NULL when none */
    cfg_type_t type;
    size_t offset;       /* into ent_config_t */
    size_t size;         /* of the string buffer, for CFG_STR */
    long min, max;       /* bounds, for CFG_INT */
    const char *def;     /* default, as text */
    const char *help;
    bool from_file;      /* env_FILE may name a file that holds the value (a secret) */
} cfg_setting_t;

#define INT_SETTING(env, field, min, max, def, help) \
    {env, NULL, CFG_INT, offsetof(ent_config_t, field), 0, min, max, def, help, false}
#define INT_SETTING_OLD(env, old, field, min, max, def, help) \
    {env, old, CFG_INT, offsetof(ent_config_t, field), 0, min, max, def, help, false}
#define STR_SETTING(env, field, def, help) \
    {env, NULL, CFG_STR, offsetof(ent_config_t, field), sizeof(((ent_config_t *)0)->field), 0, 0, def, help, false}
/* A string setting that may also be read from the file named by env_FILE. */
#define SECRET_SETTING(env, field, def, help) \
    {env, NULL, CFG_STR, offsetof(ent_config_t, field), sizeof(((ent_config_t *)0)->field), 0, 0, def, help, true}

/* Longest content of a file named by a _FILE variable: more than any
 * setting holds, so that a longer one is reported as too long. */
#define CFG_FILE_MAX 4096
/* Longest name of a setting's variable, _FILE included. */
#define CFG_NAME_MAX 64

static const cfg_setting_t cfg__table[] = {
    INT_SETTING_OLD("ENTITLEMENTD_PORT", "ENTITLEMENTD_SOAP_PORT", port, 0, 65535, "8080",
                    "TCP port of the one listener: SOAP under /flexnet/services, the REST adapter beside it. "
                    "0 picks a free port. The former name ENTITLEMENTD_SOAP_PORT is read when this is not set."),
    STR_SETTING("ENTITLEMENTD_BIND", bind, "127.0.0.1",
                "Address the listeners bind (0.0.0.0 for all IPv4 interfaces)."),
    STR_SETTING("ENTITLEMENTD_PUBLIC_URL", public_url, "",
                "The service's address as its clients reach it (http:// or https://, a host and maybe a "
                "port, no path), for the absolute URLs it answers with (a status log's poll URL). "
                "Empty: the request's Host header, else the address the request came in on, with http."),
    STR_SETTING("ENTITLEMENTD_WEBHOOK_ADDRESSES", webhook_addresses, "private",
                "Where subscription webhooks may be posted, checked on each address a webhook's host "
                "resolves to: public (public addresses only), private (those, loopback and private "
                "networks) or any. Under public and private, link-local addresses (169.254.0.0/16, "
                "where clouds serve instance credentials, and fe80::/10), unspecified, multicast and "
                "reserved ones are refused (an IPv4 address inside an IPv6 one as itself), and no proxy "
                "from the environment is used; a refused address is a failed attempt."),
    SECRET_SETTING("DATABASE_URL", database_url, "",
                   "libpq connection string or URI. Unset or empty: the embedded cluster "
                   "whose socket is under ENTITLEMENTD_HOME/pg/run."),
    STR_SETTING("ENTITLEMENTD_HOME", home, "var",
                "Runtime directory: the embedded PostgreSQL cluster, its socket and logs. "
                "Relative paths are relative to the working directory."),
    INT_SETTING("ENTITLEMENTD_WORKERS", workers, 1, 256, "8",
                "HTTP worker threads (SOAP and REST); each serves one request at a time."),
    INT_SETTING("ENTITLEMENTD_ACTIVE_WORKERS", active_workers, 0, 256, "0",
                "Of the HTTP workers, how many take requests at once; the others stand by, and one "
                "is called back when all of those wait (for the database or a credential check). "
                "0: twice the cores, at most ENTITLEMENTD_WORKERS."),
    INT_SETTING("ENTITLEMENTD_DB_POOL_SIZE", db_pool_size, 1, 256, "8",
                "PostgreSQL connections in the pool."),
    INT_SETTING("ENTITLEMENTD_DB_WAIT_TIMEOUT_MS", db_wait_timeout_ms, 1, 600000, "5000",
                "How long a request waits for a free database connection before it fails "
                "with DATABASE_UNAVAILABLE."),
    INT_SETTING("ENTITLEMENTD_DB_LOCK_TIMEOUT_MS", db_lock_timeout_ms, 0, 3600000, "10000",
                "How long a statement of the service waits for a row another transaction holds locked "
                "(PostgreSQL's lock_timeout) before its unit fails with LOCK_TIMEOUT (a REST request: 503), "
                "nothing of it applied. The service's own transactions hold locks for milliseconds; this bounds "
                "the wait behind one held outside it (an open psql session), which would otherwise hold up "
                "every upgrade and upsell queued behind it. 0: no lock timeout (ENTITLEMENTD_DB_STATEMENT_TIMEOUT_MS "
                "still ends the wait). A lock_timeout in the options of DATABASE_URL takes precedence."),
    INT_SETTING("ENTITLEMENTD_DB_STATEMENT_TIMEOUT_MS", db_statement_timeout_ms, 0, 3600000, "30000",
                "How long one statement of the service may run (PostgreSQL's statement_timeout) before it is "
                "cancelled and its request fails with DATABASE_UNAVAILABLE (a REST request: 503), nothing of "
                "it applied. A connection whose answer is still awaited 2 s after that (a server stopped, or "
                "a network or proxy holding its bytes without closing) is closed, and its request fails the "
                "same way (a COMMIT's: COMMIT_UNKNOWN when its outcome cannot be asked; PostgreSQL's timeout "
                "does not cover a COMMIT, so this also ends a COMMIT's wait for a synchronous standby). 0: no "
                "limit, and no watch. A statement_timeout in the options of DATABASE_URL takes precedence on "
                "the server; the watch keeps this value."),
    INT_SETTING("ENTITLEMENTD_DB_CONNECT_TIMEOUT", db_connect_timeout_s, 1, 600, "5",
                "Seconds allowed for one connection attempt to PostgreSQL."),
    STR_SETTING("ENTITLEMENTD_LOG_LEVEL", log_level, "info",
                "One of error, warn, info, debug. SIGHUP switches the running daemon to debug and, "
                "the next time, back to this level."),
    STR_SETTING("ENTITLEMENTD_LOG_FORMAT", log_format, "text",
                "text: a line of time, level, request id and message; json: one JSON object a line "
                "(time, level, request_id, message)."),
    INT_SETTING("ENTITLEMENTD_START_TIMEOUT", start_timeout_s, 0, 86400, "0",
                "Seconds to wait at start for the database to be reachable and migrated (retrying "
                "with backoff; /healthz answers, /readyz says 503 meanwhile) before exiting with "
                "status 1. 0: wait as long as it takes."),
    INT_SETTING("ENTITLEMENTD_SHUTDOWN_DELAY", shutdown_delay_s, 0, 600, "0",
                "Seconds between SIGTERM and closing the listener, during which /readyz says 503 "
                "and requests are still served: let a load balancer's health checks notice first."),
    INT_SETTING("ENTITLEMENTD_LOG_REPEAT_SECONDS", log_repeat_s, 0, 3600, "10",
                "A message identical to one written in the last this many seconds is counted, not "
                "written; the count follows once the interval is over. 0 writes every message. "
                "Debug messages are always written."),
    INT_SETTING("ENTITLEMENTD_MAX_BODY_BYTES", max_body_bytes, 1024, 1073741824, "8388608",
                "Largest SOAP request body accepted; larger ones get HTTP 413."),
    INT_SETTING("ENTITLEMENTD_MAX_JSON_BYTES", max_json_bytes, 1024, 67108864, "1048576",
                "Largest JSON request body of the REST adapter accepted; larger ones get HTTP 413."),
    INT_SETTING("ENTITLEMENTD_MAX_DEPTH", max_depth, 8, 10000, "64",
                "Deepest XML element nesting accepted (Client fault above)."),
    INT_SETTING("ENTITLEMENTD_MAX_OCCURS", max_occurs, 1, 10000000, "100000",
                "Most elements of one name in a row under one parent, anywhere in a SOAP request, the Header too (Client fault above)."),
    INT_SETTING("ENTITLEMENTD_MAX_UNITS", max_units, 1, 100000, "1000",
                "Most units (entitlementData, simpleEntitlement) in one write request; "
                "more gives FAILURE with BATCH_TOO_LARGE and applies nothing."),
    INT_SETTING("ENTITLEMENTD_MAX_BATCH_SIZE", max_batch_size, 1, 100000, "2000",
                "Largest batchSize accepted by getEntitlementsQuery."),
    INT_SETTING("ENTITLEMENTD_MAX_PAGE_MB", max_page_mb, 1, 4096, "32",
                "MiB one getEntitlementsQuery page may take as it is read (the text of its entitlements and "
                "line items, and a fixed cost per row and column); a larger page fails with "
                "RESPONSE_TOO_LARGE, its statement ended (its connection is closed)."),
    INT_SETTING("ENTITLEMENTD_RECV_TIMEOUT", recv_timeout_s, 1, 3600, "10",
                "Seconds a request may take to arrive, counted from its first byte; a request "
                "still incomplete then is answered 408 and its connection closed."),
    INT_SETTING("ENTITLEMENTD_SEND_TIMEOUT", send_timeout_s, 1, 3600, "10",
                "Seconds a response may wait for its client to take more of it; a client that takes "
                "nothing for this long has its connection closed."),
    INT_SETTING("ENTITLEMENTD_KEEPALIVE_TIMEOUT", keepalive_timeout_s, 1, 86400, "60",
                "Idle keep-alive connections are closed after this many seconds."),
    INT_SETTING("ENTITLEMENTD_MAX_CONNECTIONS", max_connections, 16, 65536, "1024",
                "Open client connections at most. When all are taken, a new connection takes the place "
                "of the oldest one that has sent nothing yet (or else of the oldest idle keep-alive "
                "one); with none such it gets a 503 with Retry-After and is closed. Once three "
                "quarters are taken, a connection that sends nothing within 2 s is closed."),
    INT_SETTING("ENTITLEMENTD_AUTH_CACHE_SECONDS", auth_cache_s, 1, 3600, "60",
                "A verified password is trusted this long at most (remembered as an HMAC; each for "
                "up to a quarter less, so that passwords checked together are not checked again "
                "together); its next use after that checks it again, ahead of other logins. A "
                "changed or removed user's old password stops working within this time."),
    INT_SETTING("ENTITLEMENTD_LOGIN_FAILURES_PER_ADDRESS", login_failures_per_address, 1, 1000000, "100",
                "Failed logins in a minute from one client address; over it, a login not checked lately "
                "gets 429 with Retry-After (no hashing) until the minute ends. The same wrong password "
                "presented again counts once."),
    INT_SETTING("ENTITLEMENTD_LOGIN_FAILURES_PER_USER", login_failures_per_user, 1, 1000000, "30",
                "Failed logins in a minute at one user name, from anywhere; over it, as above for that "
                "user."),
    INT_SETTING("ENTITLEMENTD_MAX_CONNECTIONS_PER_CLIENT", max_connections_per_client, 0, 65536, "512",
                "Open connections of one client address at most; more get a 503 with Retry-After and "
                "are closed. 0: no limit (behind a proxy that connects from one address, or raise it)."),
    INT_SETTING("ENTITLEMENTD_COMMIT_GROUPS", commit_groups, 0, 256, "2",
                "upgradeLicense and upsellLicense requests that arrive while earlier ones are "
                "being written share one transaction and one commit (each unit still atomic), and so do "
                "the writes of status log and device status POSTs; this many such groups are written at "
                "once. 0: every request has a transaction of its own."),
    INT_SETTING("ENTITLEMENTD_MAX_BUFFERED_MB", max_buffered_mb, 1, 65536, "256",
                "MiB of requests still arriving (and responses still leaving) that all connections "
                "together may hold; a request that would go over is answered 503."),
    INT_SETTING("ENTITLEMENTD_JWT_LEEWAY", jwt_leeway_s, 0, 60, "30",
                "Seconds of clock skew allowed when checking a JWT's exp and nbf (at most 60)."),
    INT_SETTING("ENTITLEMENTD_STATUSLOG_RETENTION_HOURS", statuslog_retention_h, 1, 8760, "24",
                "Hours a status log can be polled; older ones answer 404 and are purged."),
    INT_SETTING("ENTITLEMENTD_JOB_WORKERS", job_workers, 0, 64, "1",
                "Job worker threads of this daemon (each with its own database connection) for status logs "
                "and update packages; 0 leaves them to other daemons on the same database. One keeps up with "
                "thousands of status logs a second, a batch after the other; more take batches side by side, "
                "which helps only where PostgreSQL has cores to spare (on two cores, two made the status log "
                "POSTs' slowest hundredth about 1 ms slower: BENCHMARKS.md, REST step 18)."),
    INT_SETTING("ENTITLEMENTD_WEBHOOK_WORKERS", webhook_workers, 0, 64, "4",
                "Job worker threads of this daemon (each with its own database connection) that post "
                "subscription runs to their webhooks, one run at a time each, apart from the job workers: a slow "
                "receiver holds up one of them, never a status log or a package. 0 leaves the posts to other "
                "daemons on the same database."),
    INT_SETTING("ENTITLEMENTD_JOB_LEASE", job_lease_s, 2, 3600, "30",
                "Seconds a claimed job is held, from its claim and again before each webhook post; a job whose "
                "daemon died is taken again after this. A webhook post ends within half of it (10 s at most)."),
    INT_SETTING("ENTITLEMENTD_JOB_POLL_MS", job_poll_ms, 10, 60000, "1000",
                "Milliseconds between looks at the queue when no notification arrives (the fallback of "
                "LISTEN/NOTIFY)."),
    INT_SETTING("ENTITLEMENTD_PACKAGE_DELAY_MS", package_delay_ms, 0, 60000, "1000",
                "Milliseconds an update package waits before its build starts. Its request's answer is "
                "at once (PACKAGED); the wait lets a burst of requests meet the two packages a user may "
                "have PROCESSING (a small package builds in milliseconds, and without it a burst could "
                "have more than two accepted one after the other). The build starts within this plus "
                "ENTITLEMENTD_JOB_POLL_MS."),
    INT_SETTING("ENTITLEMENTD_VALIDATE_XML", validate_xml, 0, 1, "0",
                "1: also validate every request and response against the XSD with libxml2 "
                "(slower; the test suite validates responses on the client side anyway)."),
    INT_SETTING("ENTITLEMENTD_SCHED_BATCH", sched_batch, 0, 1, "1",
                "1: the HTTP, job and webhook worker threads run under Linux's SCHED_BATCH policy: a woken worker "
                "does not preempt the running thread (often a PostgreSQL backend on a small machine); "
                "0: the default policy."),
};

#define CFG_COUNT (sizeof cfg__table / sizeof cfg__table[0])

/* Sets s from value. name is what a message in err calls the value's
 * source: the variable, or the _FILE variable and its file. */
static int cfg__apply(ent_config_t *cfg, const cfg_setting_t *s, const char *name, const char *value, char *err,
                      size_t errlen)
{
    char *field = (char *)cfg + s->offset;

    if (s->type == CFG_STR) {
        /* The value itself is never quoted: it may be a secret. */
        if (strlen(value) >= s->size) {
            snprintf(err, errlen, "%s: value longer than %zu bytes", name, s->size - 1);
            return ENT_EINVAL;
        }
        memcpy(field, value, strlen(value) + 1);
        return ENT_OK;
    }

    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v < s->min || v > s->max) {
        snprintf(err, errlen, "%s: '%s' is not an integer between %ld and %ld", name, value, s->min, s->max);
        return ENT_EINVAL;
    }
    *(int *)(void *)field = (int)v;
    return ENT_OK;
}

/* Reads the file at path, named by the variable name, into buf (len
 * bytes) as a NUL-terminated value with one trailing newline removed. A
 * file that cannot be read, holds len bytes or more, or holds a NUL byte
 * gives ENT_EINVAL with a message naming the variable and the file. */
static int cfg__read_file(const char *name, const char *path, char *buf, size_t len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot read '%s': %s", name, path, strerror(errno));
        return ENT_EINVAL;
    }
    size_t n = fread(buf, 1, len, f);
    int failed = ferror(f), saved = errno;
    fclose(f);
    if (failed) {
        snprintf(err, errlen, "%s: cannot read '%s': %s", name, path, strerror(saved));
        return ENT_EINVAL;
    }
    if (n == len) {
        snprintf(err, errlen, "%s: '%s' holds more than %zu bytes", name, path, len - 1);
        return ENT_EINVAL;
    }
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (memchr(buf, '\0', n) != NULL) {
        snprintf(err, errlen, "%s: '%s' holds a NUL byte", name, path);
        return ENT_EINVAL;
    }
    return ENT_OK;
}

/* Sets s from the file named by its _FILE variable, when that is set and
 * not empty; *used tells whether it was. env is the setting's own value
 * (NULL when unset): set and not empty as well, it is an error. */
static int cfg__apply_file(ent_config_t *cfg, const cfg_setting_t *s, const char *env, bool *used, char *err,
                           size_t errlen)
{
    char name[CFG_NAME_MAX], source[CFG_NAME_MAX + 512], content[CFG_FILE_MAX];

    *used = false;
    snprintf(name, sizeof name, "%s_FILE", s->env);
    const char *path = getenv(name);
    if (path == NULL || path[0] == '\0')
        return ENT_OK;
    if (env != NULL && env[0] != '\0') {
        snprintf(err, errlen, "%s and %s are both set: set only one of them", s->env, name);
        return ENT_EINVAL;
    }
    int rc = cfg__read_file(name, path, content, sizeof content, err, errlen);
    if (rc == ENT_OK) {
        snprintf(source, sizeof source, "%s '%s'", name, path);
        rc = cfg__apply(cfg, s, source, content, err, errlen);
    }
    explicit_bzero(content, sizeof content);
    *used = rc == ENT_OK;
    return rc;
}

/* scheme://authority of a public URL: http or https, then a host (and a
 * port) of the characters a host may have; one trailing '/' is dropped. */
static bool cfg__public_url_ok(char *u)
{
    size_t n = strlen(u);
    if (n > 0 && u[n - 1] == '/')
        u[--n] = '\0';
    const char *h = strncmp(u, "https://", 8) == 0 ? u + 8 : strncmp(u, "http://", 7) == 0 ? u + 7 : NULL;
    if (h == NULL || *h == '\0' || *h == ':')
        return false;
    for (; *h; h++)
        if (!isalnum((unsigned char)*h) && strchr(".-:[]_", *h) == NULL)
            return false;
    return true;
}

int config_load(ent_config_t *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < CFG_COUNT; i++) {
        const cfg_setting_t *s = &cfg__table[i];
        const char *env = getenv(s->env);
        bool from_file = false;
        if (env == NULL && s->old_env != NULL)
            env = getenv(s->old_env);
        int rc = cfg__apply(cfg, s, s->env, s->def, err, errlen);
        if (rc != ENT_OK)
            return rc;
        if (s->from_file && (rc = cfg__apply_file(cfg, s, env, &from_file, err, errlen)) != ENT_OK)
            return rc;
        if (!from_file && env != NULL && (rc = cfg__apply(cfg, s, s->env, env, err, errlen)) != ENT_OK)
            return rc;
    }
    if (log_level_parse(cfg->log_level) < 0) {
        snprintf(err, errlen, "ENTITLEMENTD_LOG_LEVEL: '%s' is not one of error, warn, info, debug",
                 cfg->log_level);
        return ENT_EINVAL;
    }
    if (strcmp(cfg->log_format, "text") != 0 && strcmp(cfg->log_format, "json") != 0) {
        snprintf(err, errlen, "ENTITLEMENTD_LOG_FORMAT: '%s' is not text or json", cfg->log_format);
        return ENT_EINVAL;
    }
    if (strcmp(cfg->webhook_addresses, "public") != 0 && strcmp(cfg->webhook_addresses, "private") != 0 &&
        strcmp(cfg->webhook_addresses, "any") != 0) {
        snprintf(err, errlen, "ENTITLEMENTD_WEBHOOK_ADDRESSES: '%s' is not public, private or any",
                 cfg->webhook_addresses);
        return ENT_EINVAL;
    }
    if (cfg->public_url[0] != '\0' && !cfg__public_url_ok(cfg->public_url)) {
        snprintf(err, errlen, "ENTITLEMENTD_PUBLIC_URL: must be http:// or https://, a host and maybe a port, "
                              "with no path, query or space");
        return ENT_EINVAL;
    }
    return ENT_OK;
}

static void cfg__bounds(const cfg_setting_t *s, char *buf, size_t len)
{
    if (s->type == CFG_INT)
        snprintf(buf, len, "%ld..%ld", s->min, s->max);
    else
        snprintf(buf, len, "text");
}

/* The help of a setting's _FILE variable. */
static void cfg__file_help(const cfg_setting_t *s, char *buf, size_t len)
{
    snprintf(buf, len,
             "A file whose content, one trailing newline removed, is the value of %s: a secret "
             "mounted as a file (Docker or Kubernetes secrets) instead of an environment variable. "
             "Unset or empty: not used. Setting it together with a %s that is not empty is an error.",
             s->env, s->env);
}

void config_print_help(FILE *out)
{
    char bounds[64], help[512];

    fputs("Settings (environment variables):\n", out);
    for (size_t i = 0; i < CFG_COUNT; i++) {
        const cfg_setting_t *s = &cfg__table[i];
        cfg__bounds(s, bounds, sizeof bounds);
        fprintf(out, "  %s (%s, default \"%s\")\n      %s\n", s->env, bounds, s->def, s->help);
        if (s->from_file) {
            cfg__file_help(s, help, sizeof help);
            fprintf(out, "  %s_FILE (path, default \"\")\n      %s\n", s->env, help);
        }
    }
}

void config_print_markdown(FILE *out)
{
    char bounds[64], help[512];

    fputs("# Configuration reference\n\n"
          "Generated by `entitlementd --config-markdown` from the settings table in\n"
          "`service/core/config.c`; do not edit by hand.\n\n"
          "| Variable | Values | Default | Meaning |\n|---|---|---|---|\n",
          out);
    for (size_t i = 0; i < CFG_COUNT; i++) {
        const cfg_setting_t *s = &cfg__table[i];
        cfg__bounds(s, bounds, sizeof bounds);
        fprintf(out, "| `%s` | %s | `%s` | %s |\n", s->env, bounds, s->def, s->help);
        if (s->from_file) {
            cfg__file_help(s, help, sizeof help);
            fprintf(out, "| `%s_FILE` | path | `` | %s |\n", s->env, help);
        }
    }
}

int config_conninfo(const ent_config_t *cfg, char *buf, size_t len)
{
    int n;

    if (cfg->database_url[0] != '\0')
        n = snprintf(buf, len, "%s", cfg->database_url);
    else {
        char abs[PATH_MAX];
        /* libpq needs an absolute socket directory. */
        if (realpath(cfg->home, abs) == NULL)
            snprintf(abs, sizeof abs, "%s", cfg->home);
        n = snprintf(buf, len, "host='%s/pg/run' dbname=entitlementd user=entitlementd", abs);
    }
    if (n < 0 || (size_t)n >= len)
        return ENT_EINVAL;
    return ENT_OK;
}
