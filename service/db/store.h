/*
 * store.h - the entitlement store: typed reads and writes on one pooled
 * connection inside a transaction that the caller (lifecycle) controls.
 *
 * Strings that come back are allocated from the caller's ent_alloc_t.
 * Errors: ENT_ENOTFOUND for a missing object, ENT_EEXIST for a duplicate
 * key, ENT_EINVAL for a value the database refused (a bad date), ENT_ERETRY
 * for a serialization failure, ENT_EDBDOWN / ENT_EDB otherwise.
 */
#ifndef ENT_DB_STORE_H
#define ENT_DB_STORE_H

#include <stdbool.h>

#include "../core/alloc.h"
#include "../core/err.h"
#include "../core/model.h"
#include "pool.h"

/* A line item locked for change, with its entitlement. */
typedef struct store_line_item {
    long long id;
    char *unique_id;
    char *activation_id;
    model_state_t state;
    long long count;
    long long product_id; /* 0: none */
    bool is_permanent;
    char *expiration_date; /* NULL when none */
    long long entitlement_pk;
    char *entitlement_uid;
    char *entitlement_id;
    model_state_t entitlement_state;
    bool has_term;
    long long term_duration;
    char *term_unit;
} store_line_item_t;

typedef struct store_entitlement {
    long long id;
    char *unique_id;
    char *entitlement_id;
    model_state_t state;
} store_entitlement_t;

/* Finds a line item by uniqueId or activationId (when both are given they
 * must name the same one, else ENT_ENOTFOUND) and locks it: its
 * entitlement FOR SHARE first, then the line item FOR UPDATE (the lock
 * order of stmt.c). ENT_ERETRY when the line item appeared in between. */
int store_lock_line_item(db_conn_t *c, const model_ref_t *ref, const ent_alloc_t *a,
                         store_line_item_t *out) ENT_MUSTCHECK;

/* A line item locked for a state change, with its entitlement and, when
 * asked, the line items made from it. Strings and arrays are allocated from
 * the caller's ent_alloc_t. */
typedef struct store_li_tree {
    store_entitlement_t ent;
    long long id;
    char *unique_id;
    char *activation_id;
    model_state_t state;
    size_t n;              /* line items made from it (children, grandchildren, ...), in id order */
    long long *ids;
    char **aids;
    model_state_t *states;
} store_li_tree_t;

/* Finds a line item as store_lock_line_item does and locks its entitlement
 * (FOR UPDATE with_children, else FOR SHARE), then the line item and, with
 * with_children, every line item made from it at any depth, all in id
 * order. ENT_ERETRY when a line item appeared in between. */
int store_lock_line_item_tree(db_conn_t *c, const model_ref_t *ref, bool with_children, const ent_alloc_t *a,
                              store_li_tree_t *out) ENT_MUSTCHECK;

/* Finds an entitlement by uniqueId or entitlementId; lock: FOR UPDATE. */
int store_find_entitlement(db_conn_t *c, const model_ref_t *ref, bool lock, const ent_alloc_t *a,
                           store_entitlement_t *out) ENT_MUSTCHECK;

/* Finds a product; *related tells whether a relationship of kind ("UPGRADE",
 * "UPSELL") leads from from_product to it. related may be NULL. */
int store_find_product(db_conn_t *c, const model_product_ref_t *ref, long long from_product,
                       const char *kind, long long *id, bool *related) ENT_MUSTCHECK;

typedef struct store_new_item {
    long long entitlement_pk;
    long long product_id;  /* 0: none */
    long long parent_id;   /* 0: none */
    model_item_type_t type;
    model_state_t state;
    long long count;
    const char *activation_id; /* final, validated id */
    const model_line_item_t *src; /* the other fields */
    /* Renewals: the license model and the keys of the attributes document
     * that src does not give are taken from the parent (parent_id), in the
     * same statement. Not supported by store_batch_write. */
    bool inherit;
} store_new_item_t;

/* Inserts a line item; *unique_id gets its uniqueId. ENT_ENOTFOUND when
 * inherit is set and the parent does not exist. */
int store_insert_line_item(db_conn_t *c, const store_new_item_t *item, const ent_alloc_t *a,
                           char **unique_id) ENT_MUSTCHECK;

/* Sets a parent's count and state after a change. */
int store_update_parent(db_conn_t *c, long long id, long long count, model_state_t state) ENT_MUSTCHECK;

/* Inserts an entitlement (entitlement_id final and validated). */
int store_insert_entitlement(db_conn_t *c, const model_entitlement_t *e, const char *entitlement_id,
                             model_state_t state, const char *user, const ent_alloc_t *a,
                             long long *id, char **unique_id) ENT_MUSTCHECK;

/* Applies the given scalar fields of e to entitlement id (CREATE_OR_UPDATE). */
int store_update_entitlement(db_conn_t *c, long long id, const model_entitlement_t *e) ENT_MUSTCHECK;

typedef struct store_audit {
    const char *request_id;
    const char *user;
    const char *operation;
    const char *entitlement_id;
    const char *entitlement_uid;
    const char *parent_activation_id;
    const char *new_activation_id;
    const char *new_unique_id;
    const char *detail;
} store_audit_t;

int store_audit(db_conn_t *c, const store_audit_t *row) ENT_MUSTCHECK;

/* Sets an entitlement's state, which the caller holds FOR UPDATE (unless
 * it has it already: was); its line items in one of the n_from from
 * states move to cascade_to as well (from may be NULL), locked in id
 * order. *changed (may be NULL) gets whether anything changed. */
int store_set_entitlement_state(db_conn_t *c, long long id, model_state_t was, model_state_t state,
                                const model_state_t *from, size_t n_from, model_state_t cascade_to,
                                bool *changed) ENT_MUSTCHECK;

int store_set_line_item_state(db_conn_t *c, long long id, model_state_t state) ENT_MUSTCHECK;

/* Locks every line item of entitlement id (which the caller holds FOR
 * UPDATE) in id order, and gives the first one that forbids deleting it
 * (state other than DRAFT, TEST, OBSOLETE): ENT_OK with *aid set,
 * ENT_ENOTFOUND when there is none. */
int store_undeletable_item(db_conn_t *c, long long id, const ent_alloc_t *a, char **aid,
                           model_state_t *state) ENT_MUSTCHECK;

int store_delete_entitlement(db_conn_t *c, long long id) ENT_MUSTCHECK;

/* base (NULL: today) plus n units, as YYYY-MM-DD in *out. */
int store_date_add(db_conn_t *c, const char *base, long long n, const char *unit, const ent_alloc_t *a,
                   char **out) ENT_MUSTCHECK;

/* Calls row(ctx, cols) for each audit row of entitlementId eid, oldest
 * first: time, operation, user, request id, parent activation id, new
 * activation id, new uniqueId, detail (empty strings when absent). */
int store_audit_trail(db_conn_t *c, const char *eid, void (*row)(void *ctx, const char *const *cols),
                      void *ctx) ENT_MUSTCHECK;

/* Users and catalog (authentication and the CLI). User names are matched
 * exactly, domains ignoring the case of ASCII letters (one user per name
 * and domain so compared: db/014). */
int store_user_hash(db_conn_t *c, const char *name, const char *domain, char *hash, size_t hashlen,
                    bool *is_admin) ENT_MUSTCHECK;
int store_user_add(db_conn_t *c, const char *name, const char *domain, const char *hash,
                   bool is_admin) ENT_MUSTCHECK;
/* ENT_EEXIST when the product is there already. */
int store_product_add(db_conn_t *c, const char *name, const char *version) ENT_MUSTCHECK;
/* ENT_ENOTFOUND when a product is missing; ENT_EEXIST when related already. */
int store_product_relate(db_conn_t *c, const char *from_name, const char *from_version,
                         const char *to_name, const char *to_version, const char *kind) ENT_MUSTCHECK;

#endif
