/*
 * group.h - commit groups for upgradeLicense and upsellLicense.
 *
 * Requests of the same operation that arrive while others are being
 * written join one group: one transaction, two round trips and one COMMIT
 * (one WAL flush) for all of their units, instead of one each. Every unit
 * is still atomic on its own and is reported done only after the group's
 * COMMIT returned; a group that cannot decide hands each request back to
 * run alone. A new request never waits for a group to fill: when fewer than
 * max_in_flight groups are being written it starts one at once, so groups
 * grow only while the database is busy (the way PostgreSQL's own group
 * commit batches WAL flushes).
 */
#ifndef ENT_LC_GROUP_H
#define ENT_LC_GROUP_H

#include <stddef.h>

#include "../core/err.h"

typedef struct lc_group lc_group_t;

/* Creates the shared state of the groups. max_in_flight (>= 1) groups are
 * written at once; a group carries at most max_units line items (a request
 * with more runs alone). Returns ENT_OK or ENT_ENOMEM. */
int lc_group_new(int max_in_flight, size_t max_units, lc_group_t **out) ENT_MUSTCHECK;

/* Frees it; no request may be using it. NULL is ignored. */
void lc_group_free(lc_group_t *g);

#endif
