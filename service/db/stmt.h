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
    STMT_BATCH_PRODUCTS,
    STMT_BATCH_ENTITLEMENTS,
    STMT_BATCH_EXISTING,
    STMT_BATCH_WRITE,
    STMT_TOKEN_ADD,
    STMT_TOKEN_FIND,
    STMT_TOKEN_REVOKE,
    STMT_KEY_LOCK,
    STMT_KEY_ADD,
    STMT_KEY_BY_KID,
    STMT_KEY_BY_PUBLISHER,
    STMT_KEY_BY_ALG,
    STMT_KEY_RETIRE,
    STMT_IDEM_CLAIM,
    STMT_IDEM_KEEP,
    STMT_IDEM_GET,
    STMT_STATUSLOG_POST,
    STMT_STATUSLOG_POST_IDEM,
    STMT_STATUSLOG_POLL,
    STMT_STATUSLOG_PUBLISHER,
    STMT_STATUSLOG_READ,
    STMT_STATUSLOG_RECORD,
    STMT_DEVICE_REPORT,
    STMT_DEVICE_REPORT_IDEM,
    STMT_DEVICE_GET,
    STMT_JOBS_CLAIM,
    STMT_JOBS_CLAIM_WEBHOOK,
    STMT_JOBS_COMPLETE,
    STMT_JOBS_RETRY,
    STMT_JOBS_EXTEND,
    STMT_JOBS_RELEASE,
    STMT_JOBS_STATS,
    STMT_ADVISORY_XACT_LOCK,
    STMT_QUERY_ITEMS,
    STMT_XACT_ID,
    STMT_COUNT_
} db_stmt_id_t;

typedef struct db_stmt {
    const char *name;
    const char *sql;
} db_stmt_t;

extern const db_stmt_t db_stmts[STMT_COUNT_];

/* A transaction's id, its server's start and incarnation token (db/017),
 * kept for db_commit_fate (STMT_XACT_ID, db_begin_tracked). */
#define DB_XACT_ID_SELECT                                                                                 \
    "SELECT pg_current_xact_id()::text, pg_postmaster_start_time()::text, "                               \
    "(SELECT token FROM server_incarnation)"

/* Two common table expressions for reading devices' latest nodes (db/013):
 * w, the (rid, id, ...) pairs WANTED selects, a report and a node id
 * whose state it holds; h, every node of those reports as (rid, n), each
 * report read once. Joined on rid and n->>'id' they hash: matching with
 * "n->>'id' = ANY (ids)" compared every node with every id, and one
 * report of 40,000 nodes (under the 1 MiB cap) took 17 s of PostgreSQL's
 * CPU to read back. Both are materialized so that the planner cannot
 * expand a report's nodes again for each id it joins. */
#define DB_DEVICE_NODES(wanted)                                                                           \
    "w AS MATERIALIZED (" wanted "), h AS MATERIALIZED (SELECT r.id AS rid, n FROM device_reports r, "    \
    "jsonb_array_elements(r.nodes) n WHERE r.id = ANY (ARRAY(SELECT DISTINCT rid FROM w))) "

#endif
