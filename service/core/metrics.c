#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds (seconds) of the latency buckets: from a cached SOAP query
 * (under a millisecond) to a large batch (seconds). */
static const double metrics__bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define METRICS_BUCKETS (sizeof metrics__bounds / sizeof metrics__bounds[0])

/* One series: up to three label values and its counts. */
typedef struct metrics_series {
    const char *labels[3];
    int status;                               /* HTTP series only */
    atomic_ullong count;
    atomic_ullong buckets[METRICS_BUCKETS];   /* HTTP series only; not cumulative */
    atomic_ullong sum_us;                     /* HTTP series only */
} metrics_series_t;

typedef struct metrics_family {
    pthread_mutex_t lock;       /* taken to add a series */
    atomic_int n;               /* series published (read without the lock) */
    metrics_series_t series[METRICS_MAX_SERIES];
} metrics_family_t;

static metrics_family_t metrics__http = {.lock = PTHREAD_MUTEX_INITIALIZER};
static metrics_family_t metrics__soap = {.lock = PTHREAD_MUTEX_INITIALIZER};
static metrics_family_t metrics__jobs = {.lock = PTHREAD_MUTEX_INITIALIZER};
static metrics_family_t metrics__logins = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Registered at start-up and cleared at shutdown, while no request runs. */
static struct {
    metrics_collector_fn fn;
    void *arg;
} metrics__collectors[METRICS_MAX_COLLECTORS];
/* Published after the entry is written: a worker already serving
 * /metrics sees whole entries only. */
static atomic_int metrics__ncollectors;

int metrics_add_collector(metrics_collector_fn fn, void *arg)
{
    int n = atomic_load(&metrics__ncollectors);
    if (n >= METRICS_MAX_COLLECTORS)
        return ENT_EINVAL;
    metrics__collectors[n].fn = fn;
    metrics__collectors[n].arg = arg;
    atomic_store_explicit(&metrics__ncollectors, n + 1, memory_order_release);
    return ENT_OK;
}

void metrics_clear_collectors(void)
{
    atomic_store(&metrics__ncollectors, 0);
}

static bool metrics__same(const metrics_series_t *s, const char *const *labels, int status)
{
    for (int i = 0; i < 3; i++) {
        const char *a = s->labels[i], *b = labels[i];
        if (a != b && (a == NULL || b == NULL || strcmp(a, b) != 0))
            return false;
    }
    return s->status == status;
}

/* The series of labels in f, added when new (the last slot collects every
 * series beyond the cap, labelled "other"). */
static metrics_series_t *metrics__find(metrics_family_t *f, const char *const *labels, int status)
{
    int n = atomic_load_explicit(&f->n, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (metrics__same(&f->series[i], labels, status))
            return &f->series[i];
    pthread_mutex_lock(&f->lock);
    n = atomic_load_explicit(&f->n, memory_order_relaxed);
    metrics_series_t *s = NULL;
    for (int i = 0; i < n && s == NULL; i++)
        if (metrics__same(&f->series[i], labels, status))
            s = &f->series[i];
    if (s == NULL && n < METRICS_MAX_SERIES - 1) {
        s = &f->series[n];
        memcpy(s->labels, labels, sizeof s->labels);
        s->status = status;
        atomic_store_explicit(&f->n, n + 1, memory_order_release);
    } else if (s == NULL) {
        s = &f->series[METRICS_MAX_SERIES - 1];
        if (n < METRICS_MAX_SERIES) {
            for (int i = 0; i < 3; i++)
                s->labels[i] = "other";
            s->status = 0;
            atomic_store_explicit(&f->n, METRICS_MAX_SERIES, memory_order_release);
        }
    }
    pthread_mutex_unlock(&f->lock);
    return s;
}

void metrics_http(const char *route, const char *method, int status, double seconds)
{
    const char *labels[3] = {route ? route : "unmatched", method, NULL};
    metrics_series_t *s = metrics__find(&metrics__http, labels, status);
    size_t b = 0;
    while (b < METRICS_BUCKETS && seconds > metrics__bounds[b])
        b++;
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
    if (b < METRICS_BUCKETS)
        atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_us, (unsigned long long)(seconds * 1e6), memory_order_relaxed);
}

void metrics_soap(const char *operation, const char *outcome)
{
    const char *labels[3] = {operation, outcome, NULL};
    atomic_fetch_add_explicit(&metrics__find(&metrics__soap, labels, 0)->count, 1, memory_order_relaxed);
}

void metrics_job(const char *kind, const char *outcome)
{
    const char *labels[3] = {kind, outcome, NULL};
    atomic_fetch_add_explicit(&metrics__find(&metrics__jobs, labels, 0)->count, 1, memory_order_relaxed);
}

void metrics_login(const char *check, const char *outcome)
{
    const char *labels[3] = {check, outcome, NULL};
    atomic_fetch_add_explicit(&metrics__find(&metrics__logins, labels, 0)->count, 1, memory_order_relaxed);
}

void metrics_printf(metrics_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    for (int tries = 0; tries < 2 && !b->oom; tries++) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        int n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t want = b->cap ? b->cap : 4096;
        while (want < b->len + (size_t)n + 1)
            want *= 2;
        char *p = realloc(b->data, want);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->data = p;
        b->cap = want;
    }
}

static void metrics__write_http(metrics_buf_t *b)
{
    metrics_family_t *f = &metrics__http;
    int n = atomic_load_explicit(&f->n, memory_order_acquire);
    metrics_printf(b, "# HELP entitlementd_http_requests_total HTTP requests answered, by route, method and status.\n"
                      "# TYPE entitlementd_http_requests_total counter\n");
    for (int i = 0; i < n; i++) {
        const metrics_series_t *s = &f->series[i];
        metrics_printf(b, "entitlementd_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %llu\n",
                       s->labels[0], s->labels[1] ? s->labels[1] : "", s->status,
                       (unsigned long long)atomic_load_explicit(&s->count, memory_order_relaxed));
    }
    metrics_printf(b, "# HELP entitlementd_http_request_duration_seconds Time from a whole request to its "
                      "response written, by route and status.\n"
                      "# TYPE entitlementd_http_request_duration_seconds histogram\n");
    for (int i = 0; i < n; i++) {
        const metrics_series_t *s = &f->series[i];
        const char *route = s->labels[0], *method = s->labels[1] ? s->labels[1] : "";
        unsigned long long cum = 0;
        for (size_t k = 0; k < METRICS_BUCKETS; k++) {
            cum += atomic_load_explicit(&s->buckets[k], memory_order_relaxed);
            metrics_printf(b,
                           "entitlementd_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\","
                           "status=\"%d\",le=\"%g\"} %llu\n",
                           route, method, s->status, metrics__bounds[k], cum);
        }
        unsigned long long count = atomic_load_explicit(&s->count, memory_order_relaxed);
        metrics_printf(b,
                       "entitlementd_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",status=\"%d\","
                       "le=\"+Inf\"} %llu\n"
                       "entitlementd_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\",status=\"%d\"} %.6f\n"
                       "entitlementd_http_request_duration_seconds_count{route=\"%s\",method=\"%s\",status=\"%d\"} "
                       "%llu\n",
                       route, method, s->status, count, route, method, s->status,
                       (double)atomic_load_explicit(&s->sum_us, memory_order_relaxed) / 1e6, route, method,
                       s->status, count);
    }
}

static void metrics__write_pairs(metrics_buf_t *b, metrics_family_t *f, const char *name, const char *help,
                                 const char *l0, const char *l1)
{
    int n = atomic_load_explicit(&f->n, memory_order_acquire);
    metrics_printf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (int i = 0; i < n; i++) {
        const metrics_series_t *s = &f->series[i];
        metrics_printf(b, "%s{%s=\"%s\",%s=\"%s\"} %llu\n", name, l0, s->labels[0], l1, s->labels[1],
                       (unsigned long long)atomic_load_explicit(&s->count, memory_order_relaxed));
    }
}

void metrics_write(metrics_buf_t *b)
{
    metrics__write_http(b);
    metrics__write_pairs(b, &metrics__soap, "entitlementd_soap_operations_total",
                         "SOAP operations answered, by operation and outcome (statusInfo status, or FAULT).",
                         "operation", "outcome");
    metrics__write_pairs(b, &metrics__jobs, "entitlementd_jobs_total",
                         "Jobs the workers of this daemon ran, by kind and outcome.", "kind", "outcome");
    metrics__write_pairs(b, &metrics__logins, "entitlementd_password_logins_total",
                         "Password logins not answered from the cache of verified credentials, by how they "
                         "were decided (hashed, shared, repeat, throttled, busy, unavailable) and outcome.",
                         "check", "outcome");
    int n = atomic_load_explicit(&metrics__ncollectors, memory_order_acquire);
    for (int i = 0; i < n; i++)
        metrics__collectors[i].fn(b, metrics__collectors[i].arg);
}
