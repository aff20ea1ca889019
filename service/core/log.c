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

static _Thread_local char log__request_id[64];

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

/* Writes the time, level and request id of a line into line (cap bytes);
 * returns their length. */
static size_t log__prefix(char *line, size_t cap, log_level_t level, const char *request_id)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(line, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    int k = snprintf(line + n, cap - n, ".%03ldZ %s [%s] ", (long)(tv.tv_usec / 1000), log__names[level], request_id);
    return k < 0 || n + (size_t)k >= cap ? cap - 1 : n + (size_t)k;
}

/* Rewrites the text line (prefix of plen bytes, then the message) as a
 * JSON object into out (cap bytes). The message is already one line of
 * valid UTF-8 (quote.c): only quotes, backslashes and controls need
 * escapes. */
static void log__json_line(const char *line, size_t plen, char *out, size_t cap)
{
    char time_s[32] = "", level[8] = "", rid[64] = "";
    /* The prefix is ours: "TIME LEVEL [RID] ". */
    (void)sscanf(line, "%31s %7s [%63[^]]", time_s, level, rid);
    for (char *p = level; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    int k = snprintf(out, cap, "{\"time\":\"%s\",\"level\":\"%s\",\"request_id\":\"%s\",\"message\":\"", time_s,
                     level, rid);
    size_t n = k < 0 ? 0 : (size_t)k;
    for (const unsigned char *m = (const unsigned char *)line + plen; *m && n + 8 < cap; m++) {
        if (*m == '"' || *m == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*m;
        } else if (*m < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *m);
        } else {
            out[n++] = (char)*m;
        }
    }
    if (n + 3 > cap)
        n = cap - 3;
    memcpy(out + n, "\"}", 3);
}

/* Ends line with a newline and writes it: one fputs per line keeps lines
 * of concurrent workers whole. */
static void log__put(char *line, size_t cap)
{
    if (log__json) {
        char json[4096];
        size_t plen = 0;
        /* The message starts after the third space (time, level, [id]). */
        for (int spaces = 0; line[plen] && spaces < 3; plen++)
            spaces += line[plen] == ' ';
        log__json_line(line, plen, json, sizeof json);
        size_t n = strlen(json);
        json[n] = '\n';
        json[n + 1] = '\0';
        fputs(json, stderr);
        return;
    }
    size_t n = strlen(line);
    if (n + 1 < cap) {
        line[n] = '\n';
        line[n + 1] = '\0';
    } else {
        line[cap - 2] = '\n';
    }
    fputs(line, stderr);
}

/* Writes how many repeats of r were not written, and clears the count.
 * Caller holds log__repeat_lock. */
static void log__repeat_count(log_repeat_t *r, time_t now)
{
    char line[LOG_REPEAT_TEXT + 256];
    size_t n = log__prefix(line, sizeof line, r->level, "-");
    snprintf(line + n, sizeof line - n, "repeated %lu times in the last %lld s, not written: %s", r->suppressed,
             (long long)(now - r->since), r->text);
    log__put(line, sizeof line);
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
            snprintf(r->text, sizeof r->text, "%s", text);
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
    char line[2048];
    va_list ap;

    size_t n = log__prefix(line, sizeof line, level, log_request_id());
    /* Made text on one line: a client's value quoted in a message can
     * neither break the line nor forge another. */
    va_start(ap, fmt);
    if (n + 1 < sizeof line)
        quote_vformat(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    if (log__repeated(level, line + n))
        return;
    log__put(line, sizeof line);
}
