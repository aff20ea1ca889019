#include "log.h"

#include "quote.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

log_level_t log_threshold = LOG_LEVEL_INFO;

static _Thread_local char log__request_id[129]; /* HTTP_REQUEST_ID_MAX */

/* Repeats: the messages written lately, one per slot by hash of level and
 * text (a message in a taken slot starts the slot anew: distinct messages
 * never suppress each other, they only share a slot's count now and
 * then). */
#define LOG_REPEAT_SLOTS 64
#define LOG_REPEAT_TEXT 160
typedef struct log_repeat {
    uint64_t hash;              /* 0: free */
    time_t since;               /* when the message was last written (monotonic s) */
    unsigned long suppressed;   /* identical ones since, not written */
    log_level_t level;
    char text[LOG_REPEAT_TEXT]; /* the message, for the count's line */
} log_repeat_t;

static pthread_mutex_t log__repeat_lock = PTHREAD_MUTEX_INITIALIZER;
static log_repeat_t log__repeats[LOG_REPEAT_SLOTS];
static int log__repeat_s = 10;
static bool log__json;

void log_set_json(bool json)
{
    log__json = json;
}

static const char *const log__names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

int log_level_parse(const char *name)
{
    static const char *const lower[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, lower[i]) == 0)
            return i;
    return -1;
}

void log_set_request_id(const char *id)
{
    if (id == NULL) {
        log__request_id[0] = '\0';
        return;
    }
    /* Once per request: no formatting. */
    size_t n = strnlen(id, sizeof log__request_id - 1);
    memcpy(log__request_id, id, n);
    log__request_id[n] = '\0';
}

const char *log_request_id(void)
{
    return log__request_id[0] ? log__request_id : "-";
}

void log_set_repeat_interval(int seconds)
{
    pthread_mutex_lock(&log__repeat_lock);
    log__repeat_s = seconds < 0 ? 0 : seconds;
    pthread_mutex_unlock(&log__repeat_lock);
}

static time_t log__now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec;
}

/* Writes one line of level, request id and message (already one line of
 * valid UTF-8, quote.c): as text, or as a JSON object, where only quotes,
 * backslashes and controls need escapes. One fputs per line keeps lines of
 * concurrent workers whole. */
static void log__emit(log_level_t level, const char *request_id, const char *msg)
{
    static const char *const lower[] = {"error", "warn", "info", "debug"};
    char time_s[40], line[4096];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t t = strftime(time_s, sizeof time_s, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(time_s + t, sizeof time_s - t, ".%03ldZ", (long)(tv.tv_usec / 1000));
    if (!log__json) {
        snprintf(line, sizeof line, "%s %s [%s] %s\n", time_s, log__names[level], request_id, msg);
        fputs(line, stderr);
        return;
    }
    int k = snprintf(line, sizeof line, "{\"time\":\"%s\",\"level\":\"%s\",\"request_id\":\"%s\",\"message\":\"",
                     time_s, lower[level], request_id);
    size_t n = k < 0 ? 0 : (size_t)k;
    for (const unsigned char *m = (const unsigned char *)msg; *m && n + 10 < sizeof line; m++) {
        if (*m == '"' || *m == '\\') {
            line[n++] = '\\';
            line[n++] = (char)*m;
        } else if (*m < 0x20) {
            n += (size_t)snprintf(line + n, sizeof line - n, "\\u%04x", *m);
        } else {
            line[n++] = (char)*m;
        }
    }
    memcpy(line + n, "\"}\n", 4);
    fputs(line, stderr);
}

/* Writes how many repeats of r were not written, and clears the count.
 * Caller holds log__repeat_lock. */
static void log__repeat_count(log_repeat_t *r, time_t now)
{
    char msg[LOG_REPEAT_TEXT + 96];
    snprintf(msg, sizeof msg, "repeated %lu times in the last %lld s, not written: %s", r->suppressed,
             (long long)(now - r->since), r->text);
    log__emit(r->level, "-", msg);
    r->suppressed = 0;
}

/* Whether the message text (of level) is a repeat to count rather than
 * write; if not, the counts it ends are written first. */
static bool log__repeated(log_level_t level, const char *text)
{
    if (level == LOG_LEVEL_DEBUG)
        return false;
    uint64_t h = 1469598103934665603ull ^ (uint64_t)level; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    h |= 1; /* never 0, which marks a free slot */
    time_t now = log__now();
    bool repeat = false;
    pthread_mutex_lock(&log__repeat_lock);
    log_repeat_t *r = &log__repeats[h % LOG_REPEAT_SLOTS];
    if (log__repeat_s > 0) {
        if (r->hash == h && now - r->since < log__repeat_s) {
            r->suppressed++;
            repeat = true;
        } else {
            if (r->suppressed > 0)
                log__repeat_count(r, now);
            r->hash = h;
            r->since = now;
            r->level = level;
            quote_format(r->text, sizeof r->text, "%s", text); /* cut between characters */
        }
    }
    pthread_mutex_unlock(&log__repeat_lock);
    return repeat;
}

void log_flush_repeats(void)
{
    time_t now = log__now();
    pthread_mutex_lock(&log__repeat_lock);
    for (int i = 0; i < LOG_REPEAT_SLOTS; i++) {
        log_repeat_t *r = &log__repeats[i];
        if (r->suppressed > 0 && now - r->since >= log__repeat_s) {
            log__repeat_count(r, now);
            /* A flood that goes on is counted again over the next interval. */
            r->since = now;
        }
    }
    pthread_mutex_unlock(&log__repeat_lock);
}

void log_write(log_level_t level, const char *fmt, ...)
{
    char msg[2000];
    va_list ap;

    /* Made text on one line: a client's value quoted in a message can
     * neither break the line nor forge another. */
    va_start(ap, fmt);
    quote_vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log__repeated(level, msg))
        return;
    log__emit(level, log_request_id(), msg);
}
