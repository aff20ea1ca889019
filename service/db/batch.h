/*
 * batch.h - the batch path of upgradeLicense / upsellLicense: every unit of
 * a request (or of a commit group of requests) is read with one pipelined round trip (the transaction's BEGIN
 * and a locking statement per kind of object) and written with another (one
 * statement for all new line items, parent updates and audit rows, and the
 * COMMIT). The rules run in between, in lifecycle/batch.c.
 */
#ifndef ENT_DB_BATCH_H
#define ENT_DB_BATCH_H

#include "store.h"

/* What to read; every list may be empty. Strings are borrowed. */
typedef struct store_batch_keys {
    const char *kind;                 /* "UPGRADE" or "UPSELL" */
    const char **parent_aids;
    size_t n_parent_aids;
    const char **parent_uids;
    size_t n_parent_uids;
    const char **product_uids;
    size_t n_product_uids;
    const char **product_names, **product_versions;
    size_t n_product_names;
    const char **ent_keys;
    size_t n_ent_keys;
    const char **ent_uids;
    size_t n_ent_uids;
    const char **new_aids;            /* explicit new activation ids, to see which exist */
    size_t n_new_aids;
} store_batch_keys_t;

typedef struct store_product {
    long long id;
    char *unique_id, *name, *version;
} store_product_t;

typedef struct store_batch_snapshot {
    store_line_item_t *parents;       /* locked, in id order */
    size_t n_parents;
    long long *rel_from, *rel_to;     /* relationships of the kind asked into the products */
    size_t n_rels;
    store_product_t *products;
    size_t n_products;
    store_entitlement_t *ents;
    size_t n_ents;
    char **existing;                  /* new activation ids already in use */
    size_t n_existing;
} store_batch_snapshot_t;

/* Starts a transaction and reads (and locks) what the keys name: the
 * parents' entitlements FOR SHARE, then the parents FOR UPDATE, each in id
 * order. On error the transaction is rolled back; ENT_ERETRY when a parent
 * appeared between the two locking statements. */
int store_batch_read(db_conn_t *c, const store_batch_keys_t *keys, const ent_alloc_t *a,
                     store_batch_snapshot_t *out) ENT_MUSTCHECK;

/* Locks, inside the caller's transaction, the entitlements of the parents
 * that keys names and then the parents, each in id order: the first two
 * statements of store_batch_read, for the unit path, which then looks its
 * parents up one by one in request order. Only the parent keys are used.
 * ENT_ERETRY when a parent appeared between the two statements. */
int store_batch_lock_parents(db_conn_t *c, const store_batch_keys_t *keys, const ent_alloc_t *a) ENT_MUSTCHECK;

/* One new line item and its audit row. */
typedef struct store_batch_row {
    store_new_item_t item;            /* activation_id final; src for the order fields */
    const char *ent_key, *ent_uid, *parent_aid;
    const char *request_id, *user;    /* of the request the row belongs to, for the audit row */
} store_batch_row_t;

typedef struct store_batch_update {
    long long id;
    long long count;
    model_state_t state;
} store_batch_update_t;

/* Writes the rows and updates and COMMITs (ROLLBACK when there is nothing
 * to write). new_uids[i] gets row i's uniqueId. ENT_OK only when the COMMIT
 * succeeded; ENT_EEXIST when an activation id was taken meanwhile. */
int store_batch_write(db_conn_t *c, const store_batch_row_t *rows, size_t n, const store_batch_update_t *ups,
                      size_t n_ups, const char *operation, const ent_alloc_t *a, char **new_uids) ENT_MUSTCHECK;

/* After a store_batch_write whose COMMIT went unanswered and did commit
 * (db_commit_fate): new_uids[i] gets row i's uniqueId, read back by its
 * activation id. ENT_EDB when a row is not there. */
int store_batch_uids(db_conn_t *c, const store_batch_row_t *rows, size_t n, const ent_alloc_t *a,
                     char **new_uids) ENT_MUSTCHECK;

/* As store_batch_write without the COMMIT (and without updates): the new
 * line items and their audit rows in the caller's transaction. */
int store_batch_insert(db_conn_t *c, const store_batch_row_t *rows, size_t n, const char *operation,
                       const ent_alloc_t *a, char **new_uids) ENT_MUSTCHECK;

/* What createSimpleEntitlement checks its line items against. */
typedef struct store_create_snapshot {
    store_product_t *products;        /* the products named */
    size_t n_products;
    char **taken;                     /* activation ids already in use ... */
    long long *taken_by;              /* ... and the entitlement (primary key) of each */
    size_t n_taken;
} store_create_snapshot_t;

/* Reads, in the caller's transaction and one round trip, the products that
 * keys names (product_uids, product_names/versions) and which of its
 * new_aids are in use, by which entitlement. */
int store_create_read(db_conn_t *c, const store_batch_keys_t *keys, const ent_alloc_t *a,
                      store_create_snapshot_t *out) ENT_MUSTCHECK;

#endif
