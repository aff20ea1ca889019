/*
 * rest_store.h - what the REST adapter keeps: status logs and their
 * results, device status reports and devices' latest state, idempotency
 * keys, and the purge of what has outlived its retention.
 *
 * Statements that act for a key or a token check in the same statement
 * that it is still active (the caller's cache may be a few seconds old).
 */
#ifndef ENT_DB_REST_STORE_H
#define ENT_DB_REST_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"
#include "group.h"
#include "pool.h"

/* An Idempotency-Key's row: who, the key, the SHA-256 of the request, and
 * the response to replay. All NULL/0 when the request has no key. */
typedef struct store_idem {
    const char *scope;
    const char *key;
    const char *hash_hex;       /* 64 hex digits */
    int status;
    const char *headers;        /* extra header lines of the response */
    const char *body;
} store_idem_t;

/* The stored response of an Idempotency-Key. */
typedef struct store_idem_hit {
    char hash_hex[65];
    int status;
    char *headers;              /* malloc'd; the caller frees */
    char *body;                 /* malloc'd; the caller frees */
} store_idem_hit_t;

/* The stored response of (scope, key) younger than 24 hours: ENT_OK with
 * *hit, ENT_ENOTFOUND. */
int store_idem_get(db_conn_t *c, const char *scope, const char *key, store_idem_hit_t *hit) ENT_MUSTCHECK;

/* For a request whose work is a transaction of the caller's on c: takes
 * the key of idem (scope, key, hash) in it, waiting for a request that
 * holds it to end. ENT_OK: taken; ENT_EEXIST: another request's response
 * is kept under it (read it with store_idem_get once this transaction is
 * rolled back). */
int store_idem_claim(db_conn_t *c, const store_idem_t *idem) ENT_MUSTCHECK;

/* Keeps the response of idem (status, headers, body) under its taken key,
 * in the same transaction. */
int store_idem_keep(db_conn_t *c, const store_idem_t *idem) ENT_MUSTCHECK;

/* A write for a statement group (db/group.h): made with every value it
 * will send copied (so that the caller's memory may go), queued with
 * store_write_submit, or freed unqueued with store_write_free. Its done
 * is called once, from the thread that ran its group (perhaps the one
 * that queued it, before store_write_submit returns): rc, and with ENT_OK
 * the write's flags (below, per write); the write is freed by then. */
#define STORE_WRITE_FLAGS 3
typedef struct store_write store_write_t;
typedef void (*store_done_fn)(void *arg, int rc, const bool flags[STORE_WRITE_FLAGS]);
void store_write_submit(db_group_t *g, store_write_t *w);
void store_write_free(store_write_t *w);

/* A status log and its job, written if key key_id is still active
 * (flags[0]) and, with an idempotency row, its key is new (flags[1]
 * false: it is not: read the stored response). NULL when out of memory. */
store_write_t *store_statuslog_post(long long key_id, const char *polling_id, const char *publisher,
                                    const char *request_json, const store_idem_t *idem, store_done_fn done,
                                    void *arg);

/* A poll of status log polling_id of publisher younger than retention_s:
 * *key_ok, *found, and when found *done with the result (key, message,
 * arguments; written into the given buffers of cap bytes each). */
int store_statuslog_poll(db_conn_t *c, long long key_id, const char *polling_id, const char *publisher,
                         int retention_s, bool *key_ok, bool *found, bool *done, char *key, char *message,
                         char *arguments, size_t cap) ENT_MUSTCHECK;

/* The publisher of status log polling_id (cap bytes): ENT_ENOTFOUND. */
int store_statuslog_publisher(db_conn_t *c, const char *polling_id, char *publisher, size_t cap) ENT_MUSTCHECK;

/* A status log to process, as posted. Strings are "" when absent; each
 * holds 255 characters of up to 4 bytes (what the POST accepts). */
#define STORE_FIELD_MAX (255 * 4)
typedef struct store_statuslog {
    long long id;
    /* Each "" when not given; they point into the rows they were read
     * with (store_rows_t). */
    const char *publisher, *device_id, *id_type, *device_class, *platform, *language, *status_code,
        *status_reason, *update_id, *update_name, *package_id, *timestamp;
} store_statuslog_t;

/* Rows read from the database that texts point into: freed with
 * store_rows_free after their last use (NULL is nothing). */
typedef struct store_rows store_rows_t;
void store_rows_free(store_rows_t *rows);

/* Reads and locks the status logs ids (n) not yet done, in the caller's
 * transaction; out holds n rows; *nout gets how many were read, and *rows
 * what their texts point into (the caller's, even on failure: NULL then).
 * Nothing is copied: a batch of a few dozen status logs of a dozen
 * fields each no longer fills (and faults in) fresh pages of memory. */
int store_statuslog_read(db_conn_t *c, const long long *ids, size_t n, store_statuslog_t *out, size_t *nout,
                         store_rows_t **rows) ENT_MUSTCHECK;

/* The result decided for one status log: with record, its device is
 * recorded and the status appended to its history; key, message and
 * arguments (a JSON array of strings) are what its poll returns. */
typedef struct store_statuslog_result {
    bool record;
    const char *key;
    const char *message;
    const char *arguments;
} store_statuslog_result_t;

/* Sets the results res of the status logs logs (n, at most
 * STORE_STATUSLOG_BATCH), in that order, in the caller's transaction and
 * in one round trip. On an error nothing more is run and the caller's
 * transaction is to be rolled back. */
#define STORE_STATUSLOG_BATCH 64
int store_statuslog_record(db_conn_t *c, const store_statuslog_t *logs, const store_statuslog_result_t *res,
                           size_t n) ENT_MUSTCHECK;

/* Sets the result of status log id that was not done (its job gave up);
 * its own statement, autocommitted by the caller's choice. */
int store_statuslog_fail(db_conn_t *c, long long id, const char *key, const char *message,
                         const char *arguments) ENT_MUSTCHECK;

/* A device status report (see STMT_DEVICE_REPORT). */
typedef struct store_report {
    long long token_id;
    const char *tenant, *device_id, *session_id, *source_id;
    const char *stamp_hex;      /* SHA-256 of the report's timestamps */
    long long latest_ms;        /* its newest timestamp */
    const char *nodes_json;     /* the nodes, as a JSON array */
    const char *node_ids;       /* their ids, as a PostgreSQL text[] literal */
} store_report_t;

/* A report, written like store_statuslog_post's: flags[0] the token is
 * active, flags[1] the write went ahead (else the idempotency key was
 * taken), flags[2] the report is new (not a repeat). */
store_write_t *store_device_report(const store_report_t *r, const store_idem_t *idem, store_done_fn done,
                                   void *arg);

/* A device's latest state: *token_ok, *found, and the nodes as a JSON
 * array text (malloc'd into *nodes_json; the caller frees), its session,
 * source and newest timestamp. */
int store_device_get(db_conn_t *c, long long token_id, const char *tenant, const char *device_id, bool *token_ok,
                     bool *found, char **nodes_json, char *session, char *source, size_t cap,
                     long long *latest_ms) ENT_MUSTCHECK;

/* The summary of a tenant as a JSON object text (malloc'd; the caller
 * frees): devices per release category and version, and per package
 * status code. *token_ok as above. */
int store_device_summary(db_conn_t *c, long long token_id, const char *tenant, bool *token_ok,
                         char **json) ENT_MUSTCHECK;

/* Deletes status logs older than retention_s and idempotency keys older
 * than a day, at most limit rows of each; *deleted counts them. */
int store_purge(db_conn_t *c, int retention_s, int limit, long long *deleted) ENT_MUSTCHECK;

#endif
