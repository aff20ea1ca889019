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

/* One log line for a request's n units (what: "units", "line items", ...):
 * how many were applied and, when any failed, the first that did (1-based
 * index first, its reason). One line, not one per failed unit: a request
 * of many refused units (up to the element repetition limit when the batch
 * is too large) would otherwise write megabytes, each line different from
 * the last and so past the log's repeat suppression. */
void ops_log_outcome(const char *op, const char *what, size_t n, size_t applied, size_t first, const char *reason);

#endif
