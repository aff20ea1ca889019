/*
 * hex.h - lower-case hexadecimal text of bytes, and back.
 *
 * The digests and secrets kept as text (credentials, idempotency keys,
 * device reports, webhook secrets) and the percent-encoding of paths
 * share these, rather than a printf per byte.
 */
#ifndef ENT_HEX_H
#define ENT_HEX_H

#include <stddef.h>

#include "err.h"

/* Writes the 2n lower-case hex digits of the n bytes at in, and a NUL,
 * to out (2n + 1 bytes). */
void hex_encode(const unsigned char *in, size_t n, char *out);

/* The value of hex digit ch (either case), or -1. */
int hex_digit(char ch);

/* Decodes the NUL-terminated lower-case hex text in into out (cap bytes)
 * and stores the number of bytes in *n: ENT_EINVAL for an odd length, a
 * character that is not a lower-case hex digit, or more than cap bytes. */
int hex_decode(const char *in, unsigned char *out, size_t cap, size_t *n) ENT_MUSTCHECK;

#endif
