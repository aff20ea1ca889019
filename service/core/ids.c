#include "ids.h"

#include <errno.h>
#include <sys/random.h>

static int ids__random(unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return ENT_EIO;
        }
        got += (size_t)n;
    }
    return ENT_OK;
}

int ids_activation_id(char *buf, size_t len)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char r[32];
    int rc;

    if (len < IDS_ACTIVATION_ID_LEN + 1)
        return ENT_EINVAL;
    if ((rc = ids__random(r, sizeof r)) != ENT_OK)
        return rc;
    size_t o = 0;
    for (size_t i = 0; i < sizeof r; i++) {
        if (i > 0 && i % 4 == 0)
            buf[o++] = '-';
        /* 256 % 36 != 0: the bias (at most 1/256 per character) does not
         * matter for ids whose uniqueness the database enforces anyway. */
        buf[o++] = alphabet[r[i] % 36];
    }
    buf[o] = '\0';
    return ENT_OK;
}

/* Request ids need to be unique in practice, not unguessable: a
 * per-thread generator (splitmix64) seeded once from the kernel saves a
 * system call per request. */
static _Thread_local unsigned long long ids__state;
static _Thread_local int ids__seeded;

static unsigned long long ids__next(void)
{
    unsigned long long z = (ids__state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

int ids_request_id(char *buf, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    int rc;

    if (len < 17)
        return ENT_EINVAL;
    if (!ids__seeded) {
        if ((rc = ids__random((unsigned char *)&ids__state, sizeof ids__state)) != ENT_OK)
            return rc;
        ids__seeded = 1;
    }
    unsigned long long v = ids__next();
    for (int i = 15; i >= 0; i--) {
        buf[i] = hex[v & 15];
        v >>= 4;
    }
    buf[16] = '\0';
    return ENT_OK;
}
