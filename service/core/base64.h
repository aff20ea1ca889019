/*
 * base64.h - strict base64 (RFC 4648 section 4) and base64url (section 5).
 *
 * The decoders accept canonical input only: no whitespace, no line breaks,
 * no character outside the alphabet, and no set bits below the last full
 * byte. Two different strings therefore never decode to the same bytes,
 * which matters where the encoded text is itself signed (JWT) or compared.
 * base64 requires its '=' padding; base64url (as JWS uses it) refuses it.
 * OpenSSL's EVP_DecodeBlock is not used: it skips whitespace and reports
 * the length of padded input wrongly.
 */
#ifndef ENT_BASE64_H
#define ENT_BASE64_H

#include <stddef.h>

#include "err.h"

/* Most bytes n characters of either alphabet can decode to, padded or not:
 * the size of an output buffer that is always large enough. */
#define B64_DECODED_MAX(n) (((n) / 4) * 3 + 2)

/* Characters of the padded base64 encoding of n bytes, without the NUL. */
#define B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/* Characters of the unpadded base64url encoding of n bytes, without the NUL. */
#define B64URL_ENCODED_LEN(n) (((n) / 3) * 4 + (((n) % 3) * 4 + 2) / 3)

/* Decodes the n characters at in (standard alphabet, '=' padding required,
 * n a multiple of 4) into out, which holds cap bytes, and stores the number
 * of bytes written in *out_len. in need not be NUL-terminated. Returns
 * ENT_EINVAL if the input is not canonical base64 or if cap is too small
 * (B64_DECODED_MAX(n) always suffices); out's contents are then undefined
 * and *out_len is left alone. */
int b64_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *out_len)
    ENT_MUSTCHECK;

/* Like b64_decode for the URL-safe alphabet ('-' and '_') without padding:
 * '=' is refused, as are n % 4 == 1 and non-zero bits after the last byte. */
int b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *out_len)
    ENT_MUSTCHECK;

/* Writes the padded base64 encoding of the n bytes at in and a NUL into out
 * (cap bytes; B64_ENCODED_LEN(n) + 1 suffice). Returns the number of
 * characters written without the NUL, or 0 if cap is too small (an empty
 * input also gives 0, and an empty string). */
size_t b64_encode(const unsigned char *in, size_t n, char *out, size_t cap);

/* Like b64_encode with the URL-safe alphabet and no padding
 * (B64URL_ENCODED_LEN(n) + 1 bytes suffice). */
size_t b64url_encode(const unsigned char *in, size_t n, char *out, size_t cap);

#endif
