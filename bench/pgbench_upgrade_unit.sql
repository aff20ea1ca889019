-- The SQL one upgradeLicense unit of one line item runs (service/db/stmt.c),
-- statement for statement and in one transaction, for the pgbench baseline
-- of scripts/bench. Client N upgrades parent ba-N, as connection N of the
-- load generator does.
\set r random(1, 9000000000000000)
BEGIN;
SELECT li.id AS pid, li.unique_id AS puid, li.activation_id AS paid, li.state AS pstate,
       li.number_of_copies AS pcount, li.product_id AS pprod, li.is_permanent, li.expiration_date::text,
       e.id AS eid, e.unique_id AS euid, e.entitlement_id AS ekey, e.state AS estate, li.term_duration, li.term_unit
  FROM line_items li JOIN entitlements e ON e.id = li.entitlement_id
 WHERE li.activation_id = 'ba-' || :client_id FOR UPDATE OF li FOR SHARE OF e \gset
SELECT p.id AS tid, p.name, p.version, EXISTS (SELECT 1 FROM product_relationships r
       WHERE r.from_product_id = :pprod AND r.to_product_id = p.id AND r.kind = 'UPGRADE') AS rel
  FROM products p WHERE p.unique_id = NULL OR (p.name = 'BenchBase' AND p.version = '2.0') \gset
INSERT INTO line_items (activation_id, entitlement_id, product_id, parent_id, line_item_type, state,
       number_of_copies, description, part_number, license_model, order_id, order_line_number, start_date,
       expiration_date, is_permanent, term_duration, term_unit, version_date, attributes)
  VALUES ('pg-' || :client_id || '-' || :r, :eid, :tid, :pid, 'UPGRADE', 'DEPLOYED', 1, NULL, NULL, NULL,
          NULL, NULL, NULL::date, NULL::date, coalesce(NULL::boolean, false), NULL, NULL, NULL::date, NULL::jsonb)
  RETURNING unique_id AS nuid \gset
UPDATE line_items SET number_of_copies = :pcount - 1, state = 'DEPLOYED', updated_at = now() WHERE id = :pid;
INSERT INTO audit_log (request_id, username, operation, entitlement_id, entitlement_uid, parent_activation_id,
       new_activation_id, new_unique_id, detail)
  VALUES ('pgbench', 'bench', 'upgradeLicense', :ekey, :euid, :paid, 'pg-' || :client_id || '-' || :r,
          :nuid, NULL);
COMMIT;
