/*
 * throttle.h - failed logins counted by client address and by user name,
 * so that a flood of wrong passwords is answered 429 (Retry-After) at no
 * cost, instead of hashing each guess and leaving real users to wait.
 *
 * Fixed windows of THROTTLE_WINDOW_S seconds: a key that has failed its
 * limit of times in the current window is refused until the window ends.
 * Two tables of fixed size, direct-mapped by a keyed hash: no allocation,
 * and a key that collides with a refused one is not tracked (never
 * refused for another's failures) rather than evicting it.
 */
#ifndef ENT_AUTH_THROTTLE_H
#define ENT_AUTH_THROTTLE_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define THROTTLE_WINDOW_S 60
#define THROTTLE_SLOTS 4096

typedef struct throttle_entry {
    uint64_t key;      /* 0: free */
    time_t window;     /* start of the window counted */
    int failures;
} throttle_entry_t;

typedef struct throttle {
    pthread_mutex_t lock;
    uint64_t seed;     /* random: the hash is not known from outside */
    /* Failed logins in a window: from one client address, and for one
     * user name from anywhere. */
    int addr_limit, user_limit;
    throttle_entry_t addrs[THROTTLE_SLOTS];
    throttle_entry_t users[THROTTLE_SLOTS];
} throttle_t;

/* addr: 16 bytes (NULL: no address, as from the command line). */
int throttle_init(throttle_t *t, int addr_limit, int user_limit);
void throttle_destroy(throttle_t *t);

/* Seconds until addr and user may try again (0: now). */
int throttle_wait(throttle_t *t, const unsigned char *addr, const char *user, time_t now);

/* Counts a failed login of user from addr. */
void throttle_failed(throttle_t *t, const unsigned char *addr, const char *user, time_t now);

#endif
