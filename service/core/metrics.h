/*
 * metrics.h - counters and latency histograms for /metrics (Prometheus
 * text exposition format 0.0.4).
 *
 * Series are keyed by static label values (a route pattern, never a raw
 * path; an operation name; an outcome), so their number stays small and
 * bounded: at most METRICS_MAX_SERIES of each family, later new ones are
 * counted under the label value "other". Recording takes a mutex only the
 * first time a series is seen; after that it is a few atomic additions.
 */
#ifndef ENT_METRICS_H
#define ENT_METRICS_H

#include <stddef.h>

#include "err.h"

#define METRICS_MAX_SERIES 256

/* Counts one HTTP request of route and method (static strings: they are
 * kept) that was answered with status after seconds. */
void metrics_http(const char *route, const char *method, int status, double seconds);

/* Counts one SOAP operation (static name) with its outcome: SUCCESS,
 * PARTIAL_FAILURE, FAILURE or FAULT. */
void metrics_soap(const char *operation, const char *outcome);

/* Counts one job of kind that ended (outcome: done, retry, failed). */
void metrics_job(const char *kind, const char *outcome);

/* Counts one password login that was not answered from the cache of
 * verified credentials: how it was decided (check: "hashed", "shared" with
 * a concurrent check of the same credentials, "repeat" of credentials
 * refused lately, "throttled", "busy", "unavailable") and its outcome
 * ("ok", "refused", or "deferred": busy, put back to wait for a turn).
 * Static strings. */
void metrics_login(const char *check, const char *outcome);

/* A growable text buffer for the exposition; owned by the caller, freed
 * with free(buf->data). */
typedef struct metrics_buf {
    char *data;
    size_t len, cap;
    int oom; /* set when an append failed: the text is incomplete */
} metrics_buf_t;

/* Appends formatted text to b. */
void metrics_printf(metrics_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A collector appends gauges it reads when /metrics is asked (open
 * connections, pool use, queue depth); arg is its own. */
typedef void (*metrics_collector_fn)(metrics_buf_t *b, void *arg);

/* Registers a collector, at start-up, before any metrics_write (at most
 * METRICS_MAX_COLLECTORS). */
#define METRICS_MAX_COLLECTORS 8
int metrics_add_collector(metrics_collector_fn fn, void *arg) ENT_MUSTCHECK;

/* Forgets every collector (at shutdown, before what they read is freed). */
void metrics_clear_collectors(void);

/* Appends every counter and histogram family, with HELP and TYPE lines,
 * then what each collector adds. */
void metrics_write(metrics_buf_t *b);

#endif
