/*
 * query.h - entitlement search (getEntitlementsQuery) and count
 * (getEntitlementCount) from one criteria builder. User input only ever
 * reaches SQL as bound parameters; LIKE patterns escape %, _ and \.
 */
#ifndef ENT_DB_QUERY_H
#define ENT_DB_QUERY_H

#include "../core/alloc.h"
#include "../core/err.h"
#include "../core/model.h"
#include "pool.h"

/* Most bound parameters one query can carry: every criterion of
 * model_query_t once (description twice), two for each of the
 * MODEL_MAX_ATTR_CRITERIA entitlementAttributes criteria, and the page. */
#define QUERY_MAX_PARAMS 64

/* Returns one page of matching entitlements with their line items, the
 * entitlement whose line item changed last first. ENT_ETOOBIG when their
 * text is over max_bytes (0: no cap), found before the page is all read. */
int query_search(db_conn_t *c, const model_query_t *q, const ent_alloc_t *a, size_t max_bytes, model_found_t **out,
                 size_t *n_out) ENT_MUSTCHECK;

/* Counts the matching entitlements. */
int query_count(db_conn_t *c, const model_query_t *q, const ent_alloc_t *a, long long *count) ENT_MUSTCHECK;

/* Escapes %, _ and \ of value and adds the wildcards of match; the result
 * is for `LIKE ... ESCAPE '\'`. Exposed for the unit tests. */
char *query_like_pattern(const ent_alloc_t *a, const char *value, model_match_t match);

#endif
