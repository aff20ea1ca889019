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

int ids_request_id(char *buf, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[8];
    int rc;

    if (len < 17)
        return ENT_EINVAL;
    if ((rc = ids__random(r, sizeof r)) != ENT_OK)
        return rc;
    for (size_t i = 0; i < sizeof r; i++) {
        buf[2 * i] = hex[r[i] >> 4];
        buf[2 * i + 1] = hex[r[i] & 15];
    }
    buf[16] = '\0';
    return ENT_OK;
}
