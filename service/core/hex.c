/* Hexadecimal text (hex.h). */
#include "hex.h"

#include <string.h>

void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int hex_digit(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : (ch | 0x20) >= 'a' && (ch | 0x20) <= 'f' ? (ch | 0x20) - 'a' + 10 : -1;
}

int hex_decode(const char *in, unsigned char *out, size_t cap, size_t *n)
{
    size_t len = strlen(in);
    if (len % 2 != 0 || len / 2 > cap)
        return ENT_EINVAL;
    for (size_t i = 0; i < len; i += 2) {
        /* Lower case only: what hex_encode and PostgreSQL's encode() write. */
        int hi = in[i] >= 'A' && in[i] <= 'F' ? -1 : hex_digit(in[i]);
        int lo = in[i + 1] >= 'A' && in[i + 1] <= 'F' ? -1 : hex_digit(in[i + 1]);
        if (hi < 0 || lo < 0)
            return ENT_EINVAL;
        out[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    *n = len / 2;
    return ENT_OK;
}
