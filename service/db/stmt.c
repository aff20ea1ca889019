#include "stmt.h"

/*
 * Lock order. Every transaction that changes entitlements or line items
 * takes its row locks in one order: first the entitlements involved, in
 * entitlements.id order, then the line items, in line_items.id order. Two
 * transactions that touch the same rows therefore queue behind each other
 * and never wait for each other in a cycle (a deadlock, which PostgreSQL
 * only breaks after deadlock_timeout, failing one of them). A line item
 * never moves to another entitlement, so its entitlement can be looked up
 * and locked before the line item itself; the callers check after locking
 * that every line item they hold belongs to an entitlement they hold.
 * Entitlements are locked FOR SHARE by transactions that change only line
 * items (any number of them at once) and FOR UPDATE by those that change
 * the entitlement or must see all of its line items stand still.
 */

/* The columns every line item lookup returns, in this order (read by
 * store_lock_line_item and store_batch_read). Locks the line item for
 * update; its entitlement is locked by the statement before it. */
#define LI_LOCK_SELECT                                                                  \
    "SELECT li.id, li.unique_id, li.activation_id, li.state, li.number_of_copies, "     \
    "li.product_id, li.is_permanent, li.expiration_date::text, "                        \
    "e.id, e.unique_id, e.entitlement_id, e.state, li.term_duration, li.term_unit "     \
    "FROM line_items li JOIN entitlements e ON e.id = li.entitlement_id "
#define LI_LOCK_TAIL " FOR UPDATE OF li"

/* The entitlement of the line item with activation id $1 or uniqueId $2
 * (the other NULL), locked ahead of the line item. UNION ALL rather than
 * OR: each branch is a unique-index lookup in any generic plan. */
#define LI_ENT_LOCK_SELECT                                                              \
    "SELECT id, unique_id, entitlement_id, state FROM entitlements WHERE id IN "        \
    "(SELECT entitlement_id FROM line_items WHERE activation_id = $1 "                  \
    "UNION ALL SELECT entitlement_id FROM line_items WHERE unique_id = $2) "

/* The idempotency row of a POST's one statement, if guard CTE g has a row:
 * inserted, or taken over when it expired; idem has a row if it went in. */
#define IDEM_INSERT(g, scope, key, hash, status, headers, body)                                          \
    "idem AS (INSERT INTO idempotency_keys (scope, key, request_hash, status, headers, body) "           \
    "SELECT " scope ", " key ", decode(" hash ", 'hex'), " status ", " headers ", " body " "             \
    "WHERE EXISTS (SELECT 1 FROM " g ") "                                                                \
    "ON CONFLICT (scope, key) DO UPDATE SET request_hash = excluded.request_hash, status = excluded.status, " \
    "headers = excluded.headers, body = excluded.body, created_at = now() "                              \
    "WHERE idempotency_keys.created_at <= now() - interval '24 hours' RETURNING 1), "

/* A status log's statement: the key, then (after go, which says whether to
 * write) the status log and its job. */
#define STATUSLOG_KEY "WITH k AS (SELECT 1 FROM publisher_keys WHERE id = $1 AND retired_at IS NULL), "
#define STATUSLOG_WRITE                                                                                  \
    "s AS (INSERT INTO status_logs (polling_id, publisher, request) SELECT $2, $3, $4::jsonb FROM go "    \
    "RETURNING id), "                                                                                    \
    "j AS (INSERT INTO jobs (kind, ref) SELECT 'statusLog', id FROM s RETURNING id) "                    \
    "SELECT EXISTS (SELECT 1 FROM k), (SELECT count(*) FROM j)"

/* A device report's statement: the token, then (after go) the report and
 * the device, ids the parameter of the report's node ids. */
#define DEVICE_TOKEN "WITH t AS (SELECT 1 FROM api_tokens WHERE id = $1 AND revoked_at IS NULL), "
#define DEVICE_WRITE(ids)                                                                                \
    "r AS (INSERT INTO device_reports (tenant, device_id, session_id, source_id, stamp_key, latest_ms, nodes) " \
    "SELECT $2, $3, $4, $5, decode($6, 'hex'), $7::bigint, $8::jsonb FROM go "                           \
    "ON CONFLICT (tenant, device_id, session_id, stamp_key) DO NOTHING RETURNING id), "                  \
    "d AS (INSERT INTO devices AS o (tenant, device_id, latest_ms, latest_report, session_id, source_id, " \
    "latest_ids) SELECT $2, $3, $7::bigint, r.id, $4, $5, " ids "::text[] FROM r "                       \
    "ON CONFLICT (tenant, device_id) DO UPDATE SET "                                                     \
    "latest_ms = greatest(o.latest_ms, excluded.latest_ms), "                                            \
    "latest_report = CASE WHEN o.latest_ms <= excluded.latest_ms THEN excluded.latest_report ELSE o.latest_report END, " \
    "session_id = CASE WHEN o.latest_ms <= excluded.latest_ms THEN excluded.session_id ELSE o.session_id END, " \
    "source_id = CASE WHEN o.latest_ms <= excluded.latest_ms THEN excluded.source_id ELSE o.source_id END, " \
    "latest_ids = CASE WHEN o.latest_ms <= excluded.latest_ms THEN excluded.latest_ids ELSE o.latest_ids END, " \
    "older_nodes = CASE WHEN o.latest_ms <= excluded.latest_ms AND o.latest_ids = excluded.latest_ids "  \
    "THEN o.older_nodes ELSE device_older_nodes(o.older_nodes, o.latest_ids, o.latest_ms, o.latest_report, " \
    "excluded.latest_ids, excluded.latest_ms, excluded.latest_report) END, "                             \
    "updated_at = now() "                                                                                \
    "RETURNING 1) "                                                                                      \
    "SELECT EXISTS (SELECT 1 FROM t), EXISTS (SELECT 1 FROM go), EXISTS (SELECT 1 FROM r), "             \
    "EXISTS (SELECT 1 FROM d)"

/* A claim of the lane whose kinds are (op "=") or are not (op "<>")
 * subscription runs: expired leases, then the CTEs due of due queued jobs
 * whose ids the SELECTs from give, at most $3 in all. */
#define JOBS_CLAIM(op, due, from)                                                                        \
    "WITH e AS (SELECT id FROM jobs WHERE state = 'running' AND locked_until < now() "                    \
    "AND attempts < max_attempts AND kind " op " 'subscription.run' ORDER BY locked_until LIMIT $3 "      \
    "FOR UPDATE SKIP LOCKED), " due                                                                       \
    "c AS (UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = $1, "                  \
    "locked_until = now() + make_interval(secs => $2::int) WHERE id = ANY (ARRAY(SELECT id FROM "         \
    "(SELECT id FROM e UNION ALL " from ") u LIMIT $3)) "                                                 \
    "RETURNING id, kind, coalesce(ref, 0) AS ref, attempts, max_attempts) "                               \
    "SELECT id, kind, ref, attempts, max_attempts FROM c ORDER BY id"

/* Due queued jobs of a lane (op as above) with more conditions (and),
 * oldest first: the predicates of db/016's indexes, word for word. */
#define JOBS_DUE(op, and)                                                                                 \
    "SELECT id FROM jobs WHERE state = 'queued' AND kind " op " 'subscription.run' " and                 \
    "AND run_at <= now() ORDER BY run_at, id LIMIT $3 FOR UPDATE SKIP LOCKED"

const db_stmt_t db_stmts[STMT_COUNT_] = {
    [STMT_LI_LOCK_BY_AID] = {"li_lock_aid", LI_LOCK_SELECT "WHERE li.activation_id = $1" LI_LOCK_TAIL},
    [STMT_LI_LOCK_BY_UID] = {"li_lock_uid", LI_LOCK_SELECT "WHERE li.unique_id = $1" LI_LOCK_TAIL},
    [STMT_LI_ENT_SHARE] = {"li_ent_share", LI_ENT_LOCK_SELECT "FOR SHARE"},
    [STMT_LI_ENT_UPDATE] = {"li_ent_update", LI_ENT_LOCK_SELECT "FOR UPDATE"},
    [STMT_ENT_BY_KEY] = {"ent_key",
        "SELECT id, unique_id, entitlement_id, state FROM entitlements WHERE entitlement_id = $1"},
    [STMT_ENT_BY_UID] = {"ent_uid",
        "SELECT id, unique_id, entitlement_id, state FROM entitlements WHERE unique_id = $1"},
    [STMT_ENT_LOCK_BY_KEY] = {"ent_lock_key",
        "SELECT id, unique_id, entitlement_id, state FROM entitlements "
        "WHERE entitlement_id = $1 FOR UPDATE"},
    /* $1 parent product id, $2 relationship kind, $3 uniqueId, $4 name, $5 version. */
    [STMT_PRODUCT_TARGET] = {"product_target",
        "SELECT p.id, p.name, p.version, EXISTS (SELECT 1 FROM product_relationships r "
        "WHERE r.from_product_id = $1 AND r.to_product_id = p.id AND r.kind = $2) "
        "FROM products p WHERE p.unique_id = $3 OR (p.name = $4 AND p.version = $5)"},
    [STMT_PRODUCT_FIND] = {"product_find",
        "SELECT id, name, version FROM products "
        "WHERE unique_id = $1 OR (name = $2 AND version = $3)"},
    [STMT_LI_INSERT] = {"li_insert",
        "INSERT INTO line_items (activation_id, entitlement_id, product_id, parent_id, "
        "line_item_type, state, number_of_copies, description, part_number, license_model, "
        "order_id, order_line_number, start_date, expiration_date, is_permanent, "
        "term_duration, term_unit, version_date, attributes) VALUES ($1, $2, $3, $4, $5, $6, "
        "$7, $8, $9, $10, $11, $12, $13::date, $14::date, coalesce($15::boolean, false), $16, "
        "$17, $18::date, $19::jsonb) RETURNING unique_id"},
    /* A renewal ($5 'RENEWAL') of parent $4, locked before: the same
     * columns, but the license model and each key of the attributes
     * document that the request does not give are the parent's (the
     * request's keys replace the parent's whole). A license model given
     * (by name, uniqueId or both) leaves the key licenseModelUniqueId in
     * the document (soap/attrs.c), and is then the request's whole. */
    [STMT_LI_INSERT_RENEWAL] = {"li_insert_renewal",
        "INSERT INTO line_items (activation_id, entitlement_id, product_id, parent_id, "
        "line_item_type, state, number_of_copies, description, part_number, license_model, "
        "order_id, order_line_number, start_date, expiration_date, is_permanent, "
        "term_duration, term_unit, version_date, attributes) SELECT $1, $2, $3, $4, $5, $6, "
        "$7, $8, $9, CASE WHEN $19::jsonb ? 'licenseModelUniqueId' THEN $10 ELSE coalesce($10, pa.license_model) END, "
        "$11, $12, $13::date, $14::date, "
        "coalesce($15::boolean, false), $16, $17, $18::date, "
        "nullif(coalesce(pa.attributes, '{}') || coalesce($19::jsonb, '{}'), '{}') "
        "FROM line_items pa WHERE pa.id = $4 RETURNING unique_id"},
    [STMT_LI_UPDATE_PARENT] = {"li_update_parent",
        "UPDATE line_items SET number_of_copies = $2, state = $3, updated_at = now() WHERE id = $1"},
    [STMT_ENT_INSERT] = {"ent_insert",
        "INSERT INTO entitlements (entitlement_id, description, sold_to, ship_to_email, "
        "ship_to_address, email_template_variation, allow_portal_login, state, attributes, "
        "created_by) VALUES ($1, $2, $3, $4, $5, $6, $7::boolean, $8, $9::jsonb, $10) "
        "RETURNING id, unique_id"},
    [STMT_ENT_UPDATE] = {"ent_update",
        "UPDATE entitlements SET description = coalesce($2, description), "
        "sold_to = coalesce($3, sold_to), ship_to_email = coalesce($4, ship_to_email), "
        "ship_to_address = coalesce($5, ship_to_address), "
        "email_template_variation = coalesce($6, email_template_variation), "
        "allow_portal_login = coalesce($7::boolean, allow_portal_login), "
        "attributes = coalesce(attributes || $8::jsonb, $8::jsonb, attributes), updated_at = now() WHERE id = $1"},
    /* An audit row and its change feed rows (db/005): the new line item
     * ($7) and, for upgrade, upsell and renew, its parent ($6); for a row
     * naming only the entitlement, each of its line items. Three branches
     * rather than one OR, so that the generic plan finds each by index. */
    [STMT_AUDIT] = {"audit",
        "WITH a AS (INSERT INTO audit_log (request_id, username, operation, entitlement_id, "
        "entitlement_uid, parent_activation_id, new_activation_id, new_unique_id, detail) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id, at) "
        "INSERT INTO entitlement_changes (at, product_id, operation, entitlement_id, activation_id, audit_id) "
        "SELECT a.at, li.product_id, $3, $4, li.activation_id, a.id FROM a, line_items li "
        "WHERE $7::text IS NOT NULL AND li.activation_id = $7 "
        "UNION ALL SELECT a.at, li.product_id, $3, $4, li.activation_id, a.id FROM a, line_items li "
        "WHERE $7::text IS NOT NULL AND $3 IN ('upgradeLicense', 'upsellLicense', 'renewLicense') "
        "AND li.activation_id = $6 "
        "UNION ALL SELECT a.at, li.product_id, $3, $4, li.activation_id, a.id FROM a, line_items li "
        "WHERE $7::text IS NULL AND $6::text IS NULL "
        "AND li.entitlement_id = (SELECT id FROM entitlements WHERE entitlement_id = $4)"},
    [STMT_USER_GET] = {"user_get",
        "SELECT password_hash, is_admin FROM users WHERE name = $1 "
        "AND translate(domain, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') "
        "= translate($2, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"},
    [STMT_USER_ADD] = {"user_add",
        "INSERT INTO users (name, domain, password_hash, is_admin) VALUES ($1, $2, $3, $4::boolean)"},
    [STMT_PRODUCT_ADD] = {"product_add",
        "INSERT INTO products (name, version) VALUES ($1, $2) "
        "ON CONFLICT (name, version) DO NOTHING RETURNING unique_id"},
    [STMT_RELATE] = {"relate",
        "INSERT INTO product_relationships (from_product_id, to_product_id, kind) "
        "SELECT f.id, t.id, $5 FROM products f, products t WHERE f.name = $1 AND f.version = $2 "
        "AND t.name = $3 AND t.version = $4 ON CONFLICT DO NOTHING RETURNING kind"},
    [STMT_ENT_LOCK_BY_UID] = {"ent_lock_uid",
        "SELECT id, unique_id, entitlement_id, state FROM entitlements WHERE unique_id = $1 FOR UPDATE"},
    [STMT_ENT_SET_STATE] = {"ent_set_state",
        "UPDATE entitlements SET state = $2, updated_at = now() WHERE id = $1"},
    /* $1 entitlement (locked FOR UPDATE before), $2 states that change
     * (text[]), $3 the new state. The line items are locked in id order
     * by the subquery before they are updated. */
    [STMT_LI_CASCADE_STATE] = {"li_cascade_state",
        "UPDATE line_items SET state = $3, updated_at = now() WHERE id IN "
        "(SELECT id FROM line_items WHERE entitlement_id = $1 AND state = ANY ($2::text[]) "
        "ORDER BY id FOR UPDATE)"},
    [STMT_LI_SET_STATE] = {"li_set_state",
        "UPDATE line_items SET state = $2, updated_at = now() WHERE id = $1"},
    /* The line item with activation id $1 or uniqueId $2 (the other NULL)
     * and, when $3, every line item made from it at any depth, locked in
     * id order; its entitlement is locked by the statement before. */
    [STMT_LI_TREE_LOCK] = {"li_tree_lock",
        "WITH RECURSIVE d (id) AS (SELECT id FROM line_items WHERE activation_id = $1 "
        "UNION ALL SELECT id FROM line_items WHERE unique_id = $2 "
        "UNION SELECT li.id FROM line_items li JOIN d ON li.parent_id = d.id WHERE $3::boolean) "
        "SELECT li.id, li.unique_id, li.activation_id, li.state, li.entitlement_id "
        "FROM line_items li JOIN d ON d.id = li.id ORDER BY li.id FOR UPDATE OF li"},
    /* Every line item of entitlement $1 (locked FOR UPDATE before), locked
     * in id order, and whether its state forbids deleting the entitlement. */
    [STMT_ENT_ITEMS_LOCK] = {"ent_items_lock",
        "SELECT activation_id, state, state NOT IN ('DRAFT', 'TEST', 'OBSOLETE') FROM line_items "
        "WHERE entitlement_id = $1 ORDER BY id FOR UPDATE"},
    [STMT_ENT_DELETE] = {"ent_delete", "DELETE FROM entitlements WHERE id = $1"},
    /* $1 base date (NULL: today), $2 count, $3 unit. */
    [STMT_DATE_ADD] = {"date_add",
        "SELECT (coalesce($1::date, current_date) + $2::integer * CASE $3 "
        "WHEN 'DAYS' THEN interval '1 day' WHEN 'WEEKS' THEN interval '1 week' "
        "WHEN 'MONTHS' THEN interval '1 month' ELSE interval '1 year' END)::date::text"},
    /* $1 an entitlementId, or the uniqueId of one deleted since: found in
     * the trail itself, newest first (no index: entitlementctl only). */
    [STMT_AUDIT_TRAIL] = {"audit_trail",
        "SELECT to_char(at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), operation, coalesce(username, '-'), "
        "coalesce(request_id, '-'), coalesce(parent_activation_id, ''), coalesce(new_activation_id, ''), "
        "coalesce(new_unique_id, ''), coalesce(detail, '') FROM audit_log WHERE entitlement_id = coalesce("
        "(SELECT $1 WHERE EXISTS (SELECT 1 FROM audit_log WHERE entitlement_id = $1)), "
        "(SELECT entitlement_id FROM audit_log WHERE entitlement_uid = $1 ORDER BY id DESC LIMIT 1)) ORDER BY id"},

    /* The batch path (store_batch_read/write): every unit of a request in
     * one transaction, read and written with a statement each. The
     * parents' entitlements are locked first, then the parents, each in
     * id order (see the lock order above). */
    [STMT_BATCH_PARENT_ENTS] = {"batch_parent_ents",
        "SELECT id FROM entitlements WHERE id IN (SELECT entitlement_id FROM line_items "
        "WHERE activation_id = ANY ($1::text[]) OR unique_id = ANY ($2::text[])) ORDER BY id FOR SHARE"},
    [STMT_BATCH_PARENTS] = {"batch_parents",
        LI_LOCK_SELECT "WHERE li.activation_id = ANY ($1::text[]) OR li.unique_id = ANY ($2::text[]) "
        "ORDER BY li.id" LI_LOCK_TAIL},
    /* The products asked for, each with the products that have a
     * relationship of kind $4 to it (an array's text): a parent's product
     * is one of those, or the unit fails. Read with the products by the
     * index of db/011, not by the parents' line items a third time. */
    [STMT_BATCH_PRODUCTS] = {"batch_products",
        "SELECT p.id, p.unique_id, p.name, p.version, ARRAY(SELECT r.from_product_id FROM product_relationships r "
        "WHERE r.to_product_id = p.id AND r.kind = $4 ORDER BY 1)::text FROM products p "
        "WHERE p.unique_id = ANY ($1::text[]) OR (p.name, p.version) IN (SELECT * FROM unnest($2::text[], $3::text[]))"},
    [STMT_BATCH_ENTITLEMENTS] = {"batch_entitlements",
        "SELECT id, unique_id, entitlement_id, state FROM entitlements "
        "WHERE entitlement_id = ANY ($1::text[]) OR unique_id = ANY ($2::text[])"},
    /* Which of the activation ids $1 are in use, and by which entitlement
     * (createSimpleEntitlement leaves alone those its entitlement holds). */
    [STMT_BATCH_EXISTING] = {"batch_existing",
        "SELECT activation_id, entitlement_id FROM line_items WHERE activation_id = ANY ($1::text[])"},
    /* New line items, their parents' counts and states, and the audit rows,
     * as one statement; returns the new line items' ids. The attributes
     * documents ($29) come last, a jsonb[] whose elements are JSON texts.
     * Audit rows are numbered in the units' order (a join's output order
     * is the plan's), and each unit's feed rows follow its audit row, the
     * new line item before its parent, as the unit path writes them. */
    [STMT_BATCH_WRITE] = {"batch_write",
        "WITH ins AS (INSERT INTO line_items (activation_id, entitlement_id, product_id, parent_id, "
        "line_item_type, state, number_of_copies, description, part_number, license_model, order_id, "
        "order_line_number, start_date, expiration_date, is_permanent, term_duration, term_unit, version_date, "
        "attributes) "
        "SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], "
        "$7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::date[], $14::date[], "
        "$15::boolean[], $16::bigint[], $17::text[], $18::date[], $29::jsonb[]) "
        "RETURNING id, unique_id, activation_id, product_id), "
        "upd AS (UPDATE line_items li SET number_of_copies = u.n, state = u.s, updated_at = now() "
        "FROM unnest($19::bigint[], $20::bigint[], $21::text[]) AS u (id, n, s) WHERE li.id = u.id "
        "RETURNING li.activation_id, li.product_id), "
        "aud AS (INSERT INTO audit_log (request_id, username, operation, entitlement_id, entitlement_uid, "
        "parent_activation_id, new_activation_id, new_unique_id) SELECT a.rq, a.us, $24, a.ek, a.eu, a.pa, a.na, "
        "ins.unique_id FROM unnest($22::text[], $23::text[], $25::text[], $26::text[], $27::text[], $28::text[]) "
        "WITH ORDINALITY AS a (rq, us, ek, eu, pa, na, ord) "
        "JOIN ins ON ins.activation_id = a.na ORDER BY a.ord "
        "RETURNING id, at, entitlement_id, parent_activation_id, new_activation_id), "
        /* The change feed (db/005): each new line item and its parent. */
        "feed AS (INSERT INTO entitlement_changes (at, product_id, operation, entitlement_id, activation_id, audit_id) "
        "SELECT at, product_id, $24, entitlement_id, activation_id, audit_id FROM ("
        "SELECT aud.at, ins.product_id, aud.entitlement_id, ins.activation_id, aud.id AS audit_id, 0 AS k "
        "FROM aud JOIN ins ON ins.activation_id = aud.new_activation_id "
        "UNION ALL SELECT aud.at, upd.product_id, aud.entitlement_id, upd.activation_id, aud.id, 1 "
        "FROM aud JOIN upd ON upd.activation_id = aud.parent_activation_id) f ORDER BY audit_id, k) "
        "SELECT activation_id, unique_id FROM ins"},

    /* API tokens: $1 the SHA-256 of the token (hex). */
    [STMT_TOKEN_ADD] = {"token_add",
        "INSERT INTO api_tokens (token_hash, tenant, username) VALUES (decode($1, 'hex'), $2, $3) RETURNING id"},
    [STMT_TOKEN_FIND] = {"token_find",
        "SELECT id, tenant, username FROM api_tokens WHERE token_hash = decode($1, 'hex') AND revoked_at IS NULL"},
    [STMT_TOKEN_REVOKE] = {"token_revoke",
        "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id"},
    /* Publisher keys; the key itself travels as hex of its DER bytes. */
    /* A key, unless its publisher has STORE_MAX_KEYS active ones already
     * (counted under STMT_KEY_LOCK, in the same transaction). */
    [STMT_KEY_LOCK] = {"key_lock",
        "SELECT pg_advisory_xact_lock(hashtextextended('publisher_keys:' || $1, 0))"},
    [STMT_KEY_ADD] = {"key_add",
        "INSERT INTO publisher_keys (publisher, kid, alg, public_key, created_by) "
        "SELECT $1, $2, $3, decode($4, 'hex'), $5 WHERE (SELECT count(*) FROM publisher_keys "
        "WHERE publisher = $1 AND retired_at IS NULL) < $6::int RETURNING id"},
    /* At most one per publisher (db/015); the newest first. */
    [STMT_KEY_BY_KID] = {"key_by_kid",
        "SELECT id, publisher, kid, encode(public_key, 'hex') FROM publisher_keys "
        "WHERE kid = $1 AND retired_at IS NULL ORDER BY id DESC LIMIT 16"},
    /* The newest first: a rotation's new key is tried before the old. */
    [STMT_KEY_BY_PUBLISHER] = {"key_by_publisher",
        "SELECT id, publisher, kid, encode(public_key, 'hex') FROM publisher_keys "
        "WHERE publisher = $1 AND retired_at IS NULL ORDER BY id DESC LIMIT 16"},
    /* Whose key signed a token that names neither a key nor a publisher,
     * or that its publisher's keys refuse: the newest active keys of all
     * publishers for its algorithm. */
    [STMT_KEY_BY_ALG] = {"key_by_alg",
        "SELECT id, publisher, kid, encode(public_key, 'hex') FROM publisher_keys "
        "WHERE alg = $1 AND retired_at IS NULL ORDER BY id DESC LIMIT 16"},
    /* The active key $1 of publisher $2 or, with no publisher given, of
     * the one publisher that has such a key: how many there are, and
     * whose was retired (none when there are several). */
    [STMT_KEY_RETIRE] = {"key_retire",
        "WITH m AS (SELECT id, publisher FROM publisher_keys WHERE kid = $1 AND retired_at IS NULL "
        "AND ($2::text IS NULL OR publisher = $2) FOR UPDATE), "
        "u AS (UPDATE publisher_keys SET retired_at = now() WHERE id = (SELECT id FROM m) "
        "AND (SELECT count(*) FROM m) = 1 RETURNING publisher) "
        "SELECT (SELECT count(*) FROM m), (SELECT publisher FROM u)"},
    /* The stored first response of ($1 scope, $2 key), unless expired. */
    /* An Idempotency-Key taken for a request whose work follows in the
     * same transaction (a key of another request waits for that one's
     * end): a row if it is new or its row expired, none if it is held. */
    [STMT_IDEM_CLAIM] = {"idem_claim",
        "INSERT INTO idempotency_keys (scope, key, request_hash, status, headers, body) "
        "VALUES ($1, $2, decode($3, 'hex'), 0, '', '') ON CONFLICT (scope, key) DO UPDATE SET "
        "request_hash = excluded.request_hash, status = 0, headers = '', body = '', created_at = now() "
        "WHERE idempotency_keys.created_at <= now() - interval '24 hours' RETURNING 1"},
    /* The response of a claimed key, before its transaction commits. */
    [STMT_IDEM_KEEP] = {"idem_keep",
        "UPDATE idempotency_keys SET status = $3::int, headers = $4, body = $5 WHERE scope = $1 AND key = $2"},
    [STMT_IDEM_GET] = {"idem_get",
        "SELECT encode(request_hash, 'hex'), status, headers, body FROM idempotency_keys "
        "WHERE scope = $1 AND key = $2 AND created_at > now() - interval '24 hours'"},
    /* A status log and its job, in one statement (one round trip, one
     * implicit transaction), if key $1 is still active: $2 polling id,
     * $3 publisher, $4 the request. Returns whether the key is active and
     * whether the status log was written. Without an Idempotency-Key the
     * statement holds no idempotency insert: a generic plan sets up each
     * of its nodes on every execution, run or not (BENCHMARKS.md, REST
     * step 16). */
    [STMT_STATUSLOG_POST] = {"statuslog_post", STATUSLOG_KEY "go AS (SELECT 1 FROM k), " STATUSLOG_WRITE},
    /* The same with an Idempotency-Key: only if the key ($6) is new (or
     * its row expired); $5..$10 the idempotency row. */
    [STMT_STATUSLOG_POST_IDEM] = {"statuslog_post_idem",
        STATUSLOG_KEY IDEM_INSERT("k", "$5", "$6", "$7", "$8", "$9", "$10")
        "go AS (SELECT 1 FROM k WHERE EXISTS (SELECT 1 FROM idem)), " STATUSLOG_WRITE},
    /* A poll: whether key $1 is still active, and the status log $2 of
     * publisher $3 younger than $4 seconds (NULLs when there is none). */
    [STMT_STATUSLOG_POLL] = {"statuslog_poll",
        "SELECT EXISTS (SELECT 1 FROM publisher_keys WHERE id = $1 AND retired_at IS NULL), s.id, s.done, "
        "s.result_key, s.result_message, s.result_arguments FROM (SELECT 1) one "
        "LEFT JOIN status_logs s ON s.polling_id = $2 AND s.publisher = $3 "
        "AND s.created_at > now() - make_interval(secs => $4::int)"},
    [STMT_STATUSLOG_PUBLISHER] = {"statuslog_publisher",
        "SELECT publisher FROM status_logs WHERE polling_id = $1"},
    /* The requests of status logs $1 not yet done, field by field, locked
     * for their job (in the order of store_statuslog_t). */
    [STMT_STATUSLOG_READ] = {"statuslog_read",
        "SELECT id, publisher, request->>'id', request->>'idType', coalesce(request->>'deviceClass', 'client'), "
        "request->>'platform', request->>'language', request->>'statusCode', request->>'statusReason', "
        "request->>'updateId', request->>'updateName', request->>'packageId', request->>'timeStamp' "
        "FROM status_logs WHERE id = ANY ($1::bigint[]) AND NOT done ORDER BY id FOR UPDATE"},
    /* The result of status log $1: with $2 true, the device ($3 publisher,
     * $4 idType, $5 id, $6 class, $7 platform, $8 language) is recorded and
     * the status ($9 code, $10 reason, $11 updateId, $12 updateName,
     * $13 packageId, $14 timeStamp) appended to its history; the status
     * log gets $15 key, $16 message, $17 arguments either way. */
    [STMT_STATUSLOG_RECORD] = {"statuslog_record",
        "WITH d AS (INSERT INTO update_devices (publisher, id_type, device_id, device_class, platform, language) "
        "SELECT $3, $4, $5, $6, $7, $8::int WHERE $2::boolean "
        "ON CONFLICT (publisher, id_type, device_id) DO UPDATE SET last_seen = now(), "
        "device_class = excluded.device_class, platform = coalesce(excluded.platform, update_devices.platform), "
        "language = coalesce(excluded.language, update_devices.language) RETURNING id), "
        "h AS (INSERT INTO update_history (device, status_log, status_code, status_reason, update_id, update_name, "
        "package_id, reported_at) SELECT d.id, $1, $9::int, $10, $11, $12, $13, $14 FROM d RETURNING 1) "
        "UPDATE status_logs SET done = true, done_at = now(), result_key = $15, result_message = $16, "
        "result_arguments = $17 WHERE id = $1 AND NOT done RETURNING (SELECT count(*) FROM h)"},
    /* A device status report, in one statement, if token $1 is still
     * active: the report once ($2 tenant, $3 device, $4 session, $5 source,
     * $6 the stamps' hash, $7 its newest timestamp, $8 the nodes, $9 their
     * ids); then the device (db/013). A report at least as new as the
     * device's newest becomes it: its nodes are the latest state of the
     * nodes it names, and the nodes of the one before that it leaves out go
     * to older_nodes (unless it names the same nodes: the usual case,
     * nothing moves). An older report arriving late adds to older_nodes the
     * nodes no newer report has named (device_older_nodes, db/013, does
     * both merges). Returns whether the token is active, whether the
     * statement went ahead, whether the report is new and whether the
     * device row was written. */
    [STMT_DEVICE_REPORT] = {"device_report", DEVICE_TOKEN "go AS (SELECT 1 FROM t), " DEVICE_WRITE("$9")},
    /* The same with an Idempotency-Key: only if the key ($10) is new (or
     * its row expired); $9..$14 the idempotency row, $15 the node ids. */
    [STMT_DEVICE_REPORT_IDEM] = {"device_report_idem",
        DEVICE_TOKEN IDEM_INSERT("t", "$9", "$10", "$11", "$12", "$13", "$14")
        "go AS (SELECT 1 FROM t WHERE EXISTS (SELECT 1 FROM idem)), " DEVICE_WRITE("$15")},
    /* A device's latest state: whether token $1 is still active, then the
     * device ($2 tenant, $3 device) and its nodes, by id: those its newest
     * report names from it, each other one from the report older_nodes
     * says (NULLs when unknown): DB_DEVICE_NODES. */
    [STMT_DEVICE_GET] = {"device_get",
        "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE id = $1 AND revoked_at IS NULL), d.session_id, "
        "d.source_id, d.latest_ms, d.updated_at, (WITH "
        DB_DEVICE_NODES("SELECT d.latest_report AS rid, i AS id FROM unnest(d.latest_ids) i "
                        "UNION ALL SELECT (e.value->>1)::bigint, e.key FROM jsonb_each(d.older_nodes) e")
        "SELECT jsonb_agg(h.n ORDER BY h.n->>'id') FROM h JOIN w ON h.rid = w.rid AND h.n->>'id' = w.id)::text "
        "FROM (SELECT 1) one LEFT JOIN devices d ON d.tenant = $2 AND d.device_id = $3"},
    /* Up to $3 jobs of the quick lane (every kind but subscription runs:
     * db/016) for claimer $1 with a lease of $2 seconds: running ones
     * whose lease ran out (their daemon died) with attempts left, then
     * queued ones that are due, oldest first; returned in id order;
     * locked rows are another worker's. Each is read by walking its own
     * index in order (db/010, db/016): a scan that stops at $3 rows
     * instead of reading every entry, dead ones included, for a sort. The
     * rows are then updated by primary key: "= ANY (ARRAY(...))", since a
     * generic plan of "IN (subquery)" joins against a walk of the whole
     * table when it guesses the LIMIT at a tenth of the rows. */
    [STMT_JOBS_CLAIM] = {"jobs_claim", JOBS_CLAIM("<>", "q AS (" JOBS_DUE("<>", "") "), ", "SELECT id FROM q")},
    /* The same for the webhook lane (subscription runs), first tries
     * before retries, each by its own index (db/016): runs whose receivers
     * keep failing do not hold up new ones. */
    [STMT_JOBS_CLAIM_WEBHOOK] = {"jobs_claim_webhook",
        JOBS_CLAIM("=",
                   "f AS (" JOBS_DUE("=", "AND attempts = 0 ") "), "
                   "q AS (" JOBS_DUE("=", "AND attempts > 0 ") "), ",
                   "SELECT id FROM f UNION ALL SELECT id FROM q")},
    /* Jobs $1 done, if claimer $2 still holds them; in the transaction of
     * their work. Only a running job has a claimer (every statement that
     * moves a job out of running clears locked_by), so the rows are found
     * by primary key alone, not with jobs_running_idx's every entry. */
    [STMT_JOBS_COMPLETE] = {"jobs_complete",
        "DELETE FROM jobs WHERE id = ANY ($1::bigint[]) AND locked_by = $2"},
    /* Job $1 failed: again after $3 seconds, or for good when $5 (attempts
     * used up), if claimer $2 still holds it; $4 what went wrong. */
    [STMT_JOBS_RETRY] = {"jobs_retry",
        "UPDATE jobs SET state = CASE WHEN $5::boolean THEN 'failed' ELSE 'queued' END, "
        "run_at = now() + make_interval(secs => $3::double precision), locked_by = NULL, locked_until = NULL, "
        "last_error = $4 WHERE id = $1 AND locked_by = $2"},
    /* Jobs $1 held for $3 seconds more from now, those claimer $2 still holds. */
    [STMT_JOBS_EXTEND] = {"jobs_extend",
        "UPDATE jobs SET locked_until = now() + make_interval(secs => $3::int) "
        "WHERE id = ANY ($1::bigint[]) AND locked_by = $2 AND state = 'running' RETURNING id"},
    /* Job $1 not tried: queued again at once, its claim's attempt not
     * counted, if claimer $2 still holds it. */
    [STMT_JOBS_RELEASE] = {"jobs_release",
        "UPDATE jobs SET state = 'queued', attempts = greatest(attempts - 1, 0), run_at = now(), "
        "locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2 AND state = 'running'"},
    /* Depth of the queue by state, and the age of its oldest waiting job. */
    [STMT_JOBS_STATS] = {"jobs_stats",
        "SELECT count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'running'), "
        "count(*) FILTER (WHERE state = 'failed'), "
        "coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE state <> 'failed')), 0) FROM jobs"},
    /* Serialises the statements about one object (db/group.h). */
    /* The line items of the entitlements $1 a query found. Its parent's
     * columns come from its key ('HID-' || id is the generated unique_id)
     * and a subquery by primary key: a join to line_items could be planned
     * as a walk of the whole table, and the plan of a prepared statement
     * outlives the statistics it was made with (the table may have grown
     * twentyfold before the next ANALYZE). */
    [STMT_QUERY_ITEMS] = {"query_items",
        "SELECT li.entitlement_id, li.unique_id, li.activation_id, li.description, p.name, "
        "p.version, li.part_number, li.license_model, li.order_id, li.order_line_number, "
        "li.start_date::text, li.expiration_date::text, li.version_date::text, li.state, "
        "li.line_item_type, li.term_unit, li.term_duration, li.is_permanent, li.number_of_copies, "
        "'HID-' || li.parent_id, (SELECT pa.activation_id FROM line_items pa WHERE pa.id = li.parent_id), "
        "extract(epoch FROM li.created_at)::bigint::text, extract(epoch FROM li.updated_at)::bigint::text, "
        "li.attributes::text"
        " FROM line_items li LEFT JOIN products p ON p.id = li.product_id "
        "WHERE li.entitlement_id = ANY ($1::bigint[]) ORDER BY li.entitlement_id, li.id"},
    [STMT_ADVISORY_XACT_LOCK] = {"advisory_xact_lock", "SELECT pg_advisory_xact_lock($1::bigint)"},
    /* The transaction's id, assigned now if it has none, when the server
     * started and its incarnation's token (db/017): kept by the connection
     * (db_int.h) so that a COMMIT left unanswered can be looked up
     * (db_commit_fate). */
    [STMT_XACT_ID] = {"xact_id", DB_XACT_ID_SELECT},
};
