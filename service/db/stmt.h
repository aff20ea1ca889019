/*
 * stmt.h - every fixed SQL statement of the service, prepared once per
 * connection. All take bound parameters; none is built from input.
 */
#ifndef ENT_DB_STMT_H
#define ENT_DB_STMT_H

typedef enum db_stmt_id {
    STMT_LI_LOCK_BY_AID,
    STMT_LI_LOCK_BY_UID,
    STMT_LI_ENT_SHARE,
    STMT_LI_ENT_UPDATE,
    STMT_ENT_BY_KEY,
    STMT_ENT_BY_UID,
    STMT_ENT_LOCK_BY_KEY,
    STMT_PRODUCT_TARGET,
    STMT_PRODUCT_FIND,
    STMT_LI_INSERT,
    STMT_LI_INSERT_RENEWAL,
    STMT_LI_UPDATE_PARENT,
    STMT_LI_OWNER,
    STMT_ENT_INSERT,
    STMT_ENT_UPDATE,
    STMT_AUDIT,
    STMT_USER_GET,
    STMT_USER_ADD,
    STMT_PRODUCT_ADD,
    STMT_RELATE,
    STMT_ENT_LOCK_BY_UID,
    STMT_ENT_SET_STATE,
    STMT_LI_CASCADE_STATE,
    STMT_LI_SET_STATE,
    STMT_LI_TREE_LOCK,
    STMT_ENT_ITEMS_LOCK,
    STMT_ENT_DELETE,
    STMT_DATE_ADD,
    STMT_AUDIT_TRAIL,
    STMT_BATCH_PARENT_ENTS,
    STMT_BATCH_PARENTS,
    STMT_BATCH_RELATIONSHIPS,
    STMT_BATCH_PRODUCTS,
    STMT_BATCH_ENTITLEMENTS,
    STMT_BATCH_EXISTING,
    STMT_BATCH_WRITE,
    STMT_COUNT_
} db_stmt_id_t;

typedef struct db_stmt {
    const char *name;
    const char *sql;
} db_stmt_t;

extern const db_stmt_t db_stmts[STMT_COUNT_];

#endif
