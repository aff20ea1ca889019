/*
 * validate.h - optional run-time XSD validation (ENTITLEMENTD_VALIDATE_XML)
 * of request and response payloads with libxml2, against the schema
 * compiled into the daemon (one copy per namespace version v1..v4).
 */
#ifndef ENT_SOAP_VALIDATE_H
#define ENT_SOAP_VALIDATE_H

#include <stddef.h>

#include "../core/err.h"

typedef struct validator validator_t;

/* Loads the schemas; *out is freed with validator_free. */
int validator_new(validator_t **out) ENT_MUSTCHECK;
void validator_free(validator_t *v);

/* Validates the first child of the SOAP Body in envelope (len bytes) against
 * the schema of version (1..4). Returns ENT_OK; ENT_EINVAL when it does
 * not match the schema, with the first problem in err (errlen bytes;
 * element names without their namespace); or, when it could not be
 * judged, ENT_EIO (not well-formed), ENT_ENOTFOUND (no payload, or no such
 * version) or ENT_ENOMEM, err saying which. Thread-safe. */
int validator_check(validator_t *v, const char *envelope, size_t len, int version, char *err,
                    size_t errlen) ENT_MUSTCHECK;

#endif
