#include "base64.h"

#include <stdbool.h>
#include <stdint.h>

static const char b64__std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64__url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of c in the alphabet, or -1 for anything else ('=' included, so a
 * pad inside the data is refused like any stray character). */
static int b64__value(unsigned char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

static int b64__decode(const char *in, size_t n, unsigned char *out, size_t cap,
                       size_t *out_len, bool url)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t full, rest, need, o = 0;
    int v[4];

    if (out_len == NULL || (in == NULL && n > 0))
        return ENT_EINVAL;
    if (url) {
        /* One character alone carries 6 bits: never a whole byte. */
        if (n % 4 == 1)
            return ENT_EINVAL;
        full = n / 4;
        rest = n % 4;
    } else {
        if (n % 4 != 0)
            return ENT_EINVAL;
        /* The last quantum says by its padding how many characters carry
         * data; any other '=' is refused below as a stray character. */
        rest = 0;
        if (n > 0 && s[n - 1] == '=')
            rest = s[n - 2] == '=' ? 2 : 3;
        full = n / 4 - (rest > 0 ? 1 : 0);
    }
    need = full * 3 + (rest > 0 ? rest - 1 : 0);
    if (need > cap || (need > 0 && out == NULL))
        return ENT_EINVAL;

    for (size_t i = 0; i < full; i++, s += 4) {
        for (int k = 0; k < 4; k++) {
            if ((v[k] = b64__value(s[k], url)) < 0)
                return ENT_EINVAL;
        }
        out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
        out[o++] = (unsigned char)((v[1] & 0x0f) << 4 | v[2] >> 2);
        out[o++] = (unsigned char)((v[2] & 0x03) << 6 | v[3]);
    }
    if (rest > 0) {
        for (size_t k = 0; k < rest; k++) {
            if ((v[k] = b64__value(s[k], url)) < 0)
                return ENT_EINVAL;
        }
        /* Bits below the last byte must be zero: otherwise several strings
         * would decode to the same bytes. */
        out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
        if (rest == 2) {
            if ((v[1] & 0x0f) != 0)
                return ENT_EINVAL;
        } else {
            out[o++] = (unsigned char)((v[1] & 0x0f) << 4 | v[2] >> 2);
            if ((v[2] & 0x03) != 0)
                return ENT_EINVAL;
        }
    }
    *out_len = o;
    return ENT_OK;
}

int b64_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *out_len)
{
    return b64__decode(in, n, out, cap, out_len, false);
}

int b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *out_len)
{
    return b64__decode(in, n, out, cap, out_len, true);
}

static size_t b64__encode(const unsigned char *in, size_t n, char *out, size_t cap, bool url)
{
    const char *a = url ? b64__url : b64__std;
    size_t len, i, o = 0;

    if (out == NULL || cap == 0)
        return 0;
    out[0] = '\0';
    /* Keeps the length computation below from overflowing. */
    if ((in == NULL && n > 0) || n / 3 + 1 > (SIZE_MAX - 1) / 4)
        return 0;
    len = url ? B64URL_ENCODED_LEN(n) : B64_ENCODED_LEN(n);
    if (cap < len + 1)
        return 0;

    for (i = 0; i + 3 <= n; i += 3) {
        out[o++] = a[in[i] >> 2];
        out[o++] = a[(in[i] & 0x03) << 4 | in[i + 1] >> 4];
        out[o++] = a[(in[i + 1] & 0x0f) << 2 | in[i + 2] >> 6];
        out[o++] = a[in[i + 2] & 0x3f];
    }
    if (n - i == 1) {
        out[o++] = a[in[i] >> 2];
        out[o++] = a[(in[i] & 0x03) << 4];
        if (!url) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (n - i == 2) {
        out[o++] = a[in[i] >> 2];
        out[o++] = a[(in[i] & 0x03) << 4 | in[i + 1] >> 4];
        out[o++] = a[(in[i + 1] & 0x0f) << 2];
        if (!url)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

size_t b64_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
    return b64__encode(in, n, out, cap, false);
}

size_t b64url_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
    return b64__encode(in, n, out, cap, true);
}
