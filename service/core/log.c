#include "log.h"

#include "quote.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

log_level_t log_threshold = LOG_LEVEL_INFO;

static _Thread_local char log__request_id[64];

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

void log_write(log_level_t level, const char *fmt, ...)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    size_t n;
    va_list ap;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ %s [%s] ", (long)(tv.tv_usec / 1000),
                          log__names[level], log_request_id());
    /* Made text on one line: a client's value quoted in a message can
     * neither break the line nor forge another. */
    va_start(ap, fmt);
    if (n + 1 < sizeof line)
        quote_vformat(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    /* One fputs per line keeps lines of concurrent workers whole. */
    n = strlen(line);
    if (n + 1 < sizeof line) {
        line[n] = '\n';
        line[n + 1] = '\0';
    } else {
        line[sizeof line - 2] = '\n';
    }
    fputs(line, stderr);
}
