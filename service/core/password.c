#include "password.h"

#include <crypt.h>
#include <errno.h>
#include <string.h>

int password_hash(const char *password, char *hash, size_t hashlen)
{
    struct crypt_data data;
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];

    /* NULL random bytes: libxcrypt reads them from the kernel. "$y$" is
     * yescrypt, Debian's default for system passwords. */
    if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof salt) == NULL)
        return ENT_EIO;
    memset(&data, 0, sizeof data);
    const char *h = crypt_rn(password, salt, &data, sizeof data);
    if (h == NULL || h[0] == '*' || strlen(h) >= hashlen)
        return ENT_EIO;
    memcpy(hash, h, strlen(h) + 1);
    explicit_bzero(&data, sizeof data);
    return ENT_OK;
}

int password_check(const char *password, const char *hash)
{
    struct crypt_data data;
    memset(&data, 0, sizeof data);
    errno = 0;
    const char *h = crypt_rn(password, hash, &data, sizeof data);
    int failed = h == NULL ? errno : 0;
    bool ok = false;
    if (h != NULL && h[0] != '*') {
        size_t n = strlen(hash);
        if (strlen(h) == n) {
            unsigned char diff = 0;
            for (size_t i = 0; i < n; i++)
                diff |= (unsigned char)(h[i] ^ hash[i]);
            ok = diff == 0;
        }
    }
    explicit_bzero(&data, sizeof data);
    return ok ? ENT_OK : failed == ENOMEM ? ENT_ENOMEM : ENT_EAUTH;
}
