/*
 * log.h - leveled logging to stderr with the current request id.
 *
 * Each line: ISO time, level, request id (or "-"), message. The level is
 * checked before anything is formatted. Never pass secrets to these calls.
 *
 * Repeats are throttled: a message (level and text; the request id aside)
 * identical to one written within the repeat interval is counted instead
 * of written, and once the interval is over one line says how many there
 * were. A flood of one warning is then a line per interval, not 17 MB a
 * minute. Debug messages are never throttled.
 */
#ifndef ENT_LOG_H
#define ENT_LOG_H

#include <stdbool.h>

typedef enum log_level {
    LOG_LEVEL_ERROR = 0, /* the operation failed and someone should look */
    LOG_LEVEL_WARN = 1,  /* unexpected, handled */
    LOG_LEVEL_INFO = 2,  /* one line per request and per life-cycle event */
    LOG_LEVEL_DEBUG = 3  /* details for developers */
} log_level_t;

extern log_level_t log_threshold;

/* Parses "error", "warn", "info" or "debug"; returns -1 for anything else. */
int log_level_parse(const char *name);

/* Sets the request id this thread prints; NULL clears it. The string is
 * copied (at most 63 bytes). */
void log_set_request_id(const char *id);
const char *log_request_id(void);

void log_write(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes each line as one JSON object (time, level, request_id, message)
 * instead of text. */
void log_set_json(bool json);

/* Sets the repeat interval in seconds (0: every message is written). */
void log_set_repeat_interval(int seconds);

/* Writes the counts of repeats whose interval is over. Called about once a
 * second (the transport's sweep), so that the count of a flood that
 * stopped is not held back until the message comes again. */
void log_flush_repeats(void);

#define log_error(...) do { if (log_threshold >= LOG_LEVEL_ERROR) log_write(LOG_LEVEL_ERROR, __VA_ARGS__); } while (0)
#define log_warn(...)  do { if (log_threshold >= LOG_LEVEL_WARN)  log_write(LOG_LEVEL_WARN, __VA_ARGS__); } while (0)
#define log_info(...)  do { if (log_threshold >= LOG_LEVEL_INFO)  log_write(LOG_LEVEL_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_threshold >= LOG_LEVEL_DEBUG) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)

#endif
