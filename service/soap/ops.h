/*
 * ops.h - what the operation handlers share: the request context and the
 * summary of a batch of units.
 */
#ifndef ENT_SOAP_OPS_H
#define ENT_SOAP_OPS_H

#include "../lifecycle/lifecycle.h"
#include "soap_int.h"

/* The first thing every handler does, before it reads req: refuses a
 * missing request (req NULL) with a Client fault, authenticates, checks the
 * namespace against the path, and fills ctx for the request on soap.
 * Returns SOAP_OK or the status to hand back to gSOAP (401, 503). */
int ops_begin(struct soap *soap, const void *req, lc_ctx_t *ctx, ent_alloc_t *alloc);

/* "2 of 3 entitlements failed" (NULL when none failed), on soap. */
char *ops_summary(struct soap *soap, size_t failed, size_t total, const char *what);

#endif
