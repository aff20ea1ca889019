/* libFuzzer target: JWT parsing and verification (auth/jwt.c) on arbitrary
 * tokens, against an RSA and an EC key: nothing crashes, and nothing the
 * fuzzer makes verifies. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>

#include "auth/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *fuzz_rsa, *fuzz_ec;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    jwt_t t;
    if (fuzz_rsa == NULL) {
        fuzz_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        fuzz_ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        if (fuzz_rsa == NULL || fuzz_ec == NULL)
            abort();
    }
    if (jwt_parse((const char *)data, size, &t) != JWT_OK)
        return 0;
    if (jwt_verify_signature(&t, fuzz_rsa) == JWT_OK || jwt_verify_signature(&t, fuzz_ec) == JWT_OK)
        abort(); /* a forgery */
    (void)jwt_check_time(&t, 1700000000, 30);
    jwt_clear(&t);
    return 0;
}
