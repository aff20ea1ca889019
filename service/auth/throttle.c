#include "throttle.h"

#include <openssl/rand.h>
#include <stdbool.h>
#include <string.h>

#include "../core/err.h"

int throttle_init(throttle_t *t, int addr_limit, int user_limit)
{
    memset(t, 0, sizeof *t);
    t->addr_limit = addr_limit;
    t->user_limit = user_limit;
    if (RAND_bytes((unsigned char *)&t->seed, sizeof t->seed) != 1)
        return ENT_EIO;
    pthread_mutex_init(&t->lock, NULL);
    return ENT_OK;
}

void throttle_destroy(throttle_t *t)
{
    pthread_mutex_destroy(&t->lock);
}

static uint64_t throttle__hash(const throttle_t *t, char kind, const unsigned char *p, size_t n)
{
    uint64_t h = (1469598103934665603ull ^ t->seed) * 1099511628211ull; /* FNV-1a, seeded */
    h = (h ^ (unsigned char)kind) * 1099511628211ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h | 1; /* never 0, which marks a free slot */
}

/* The entry of key in table, started anew when it belongs to another key
 * or its window has ended; NULL when another key's entry is refusing. */
static throttle_entry_t *throttle__entry(throttle_entry_t *table, uint64_t key, int limit, time_t now)
{
    throttle_entry_t *e = &table[key % THROTTLE_SLOTS];
    bool ended = now - e->window >= THROTTLE_WINDOW_S;
    if (e->key != key && e->key != 0 && !ended && e->failures >= limit)
        return NULL;
    if (e->key != key || ended) {
        e->key = key;
        e->window = now;
        e->failures = 0;
    }
    return e;
}

/* Seconds the entry of key still refuses. */
static int throttle__left(throttle_entry_t *table, uint64_t key, int limit, time_t now)
{
    const throttle_entry_t *e = &table[key % THROTTLE_SLOTS];
    if (e->key != key || e->failures < limit || now - e->window >= THROTTLE_WINDOW_S)
        return 0;
    return (int)(e->window + THROTTLE_WINDOW_S - now);
}

int throttle_wait(throttle_t *t, const unsigned char *addr, const char *user, time_t now)
{
    int wait = 0;
    pthread_mutex_lock(&t->lock);
    if (addr != NULL)
        wait = throttle__left(t->addrs, throttle__hash(t, 'a', addr, 16), t->addr_limit, now);
    int uw = throttle__left(t->users, throttle__hash(t, 'u', (const unsigned char *)user, strlen(user)),
                            t->user_limit, now);
    pthread_mutex_unlock(&t->lock);
    return uw > wait ? uw : wait;
}

void throttle_failed(throttle_t *t, const unsigned char *addr, const char *user, time_t now)
{
    pthread_mutex_lock(&t->lock);
    throttle_entry_t *e;
    if (addr != NULL &&
        (e = throttle__entry(t->addrs, throttle__hash(t, 'a', addr, 16), t->addr_limit, now)) != NULL)
        e->failures++;
    e = throttle__entry(t->users, throttle__hash(t, 'u', (const unsigned char *)user, strlen(user)),
                        t->user_limit, now);
    if (e != NULL)
        e->failures++;
    pthread_mutex_unlock(&t->lock);
}
