-- The SQL of one upgradeLicense request with one unit of one line item
-- (service/db/stmt.c, the batch path), statement for statement and in one
-- transaction, for the pgbench baseline of scripts/bench. Client N upgrades
-- parent ba-N, as connection N of the load generator does.
--
-- entitlementd sends BEGIN and the five reads in one pipeline (one round
-- trip) and the write with COMMIT in another. The first two reads lock in
-- the service's lock order: the parents' entitlements, then the parents.
-- pgbench cannot carry a result into a later statement inside a pipeline
-- (\gset is not allowed there), so here the reads go one round trip each;
-- the write and COMMIT are pipelined as in the service.
\set r random(1, 9000000000000000)
BEGIN;
SELECT id FROM entitlements WHERE id IN (SELECT entitlement_id FROM line_items
       WHERE activation_id = ANY (('{"ba-' || :client_id || '"}')::text[]) OR unique_id = ANY ('{}'::text[]))
 ORDER BY id FOR SHARE;
SELECT li.id AS pid, li.unique_id AS puid, li.activation_id AS paid, li.state AS pstate,
       li.number_of_copies AS pcount, li.product_id AS pprod, li.is_permanent, li.expiration_date::text,
       e.id AS eid, e.unique_id AS euid, e.entitlement_id AS ekey, e.state AS estate, li.term_duration, li.term_unit
  FROM line_items li JOIN entitlements e ON e.id = li.entitlement_id
 WHERE li.activation_id = ANY (('{"ba-' || :client_id || '"}')::text[]) OR li.unique_id = ANY ('{}'::text[])
 ORDER BY li.id FOR UPDATE OF li \gset
SELECT p.id AS tid, p.unique_id, p.name, p.version, ARRAY(SELECT r.from_product_id FROM product_relationships r
       WHERE r.to_product_id = p.id AND r.kind = 'UPGRADE' ORDER BY 1)::text FROM products p
 WHERE p.unique_id = ANY ('{}'::text[])
    OR (p.name, p.version) IN (SELECT * FROM unnest('{"BenchBase"}'::text[], '{"2.0"}'::text[])) \gset
SELECT id, unique_id, entitlement_id, state FROM entitlements
 WHERE entitlement_id = ANY ('{}'::text[]) OR unique_id = ANY ('{}'::text[]);
SELECT activation_id, entitlement_id FROM line_items WHERE activation_id = ANY (('{"pg-' || :client_id || '-' || :r || '"}')::text[]);
\startpipeline
WITH ins AS (INSERT INTO line_items (activation_id, entitlement_id, product_id, parent_id,
       line_item_type, state, number_of_copies, description, part_number, license_model, order_id,
       order_line_number, start_date, expiration_date, is_permanent, term_duration, term_unit, version_date,
       attributes)
     SELECT * FROM unnest(('{"pg-' || :client_id || '-' || :r || '"}')::text[], ('{' || :eid || '}')::bigint[],
       ('{' || :tid || '}')::bigint[], ('{' || :pid || '}')::bigint[], '{"UPGRADE"}'::text[], '{"DEPLOYED"}'::text[],
       '{1}'::bigint[], '{NULL}'::text[], '{NULL}'::text[], '{NULL}'::text[], '{NULL}'::text[], '{NULL}'::text[],
       '{NULL}'::date[], '{NULL}'::date[], '{"false"}'::boolean[], '{NULL}'::bigint[], '{NULL}'::text[],
       '{NULL}'::date[], '{NULL}'::jsonb[]) RETURNING id, unique_id, activation_id, product_id),
 upd AS (UPDATE line_items li SET number_of_copies = u.n, state = u.s, updated_at = now()
     FROM unnest(('{' || :pid || '}')::bigint[], ('{' || (:pcount - 1) || '}')::bigint[], '{"DEPLOYED"}'::text[])
     AS u (id, n, s) WHERE li.id = u.id RETURNING li.activation_id, li.product_id),
 aud AS (INSERT INTO audit_log (request_id, username, operation, entitlement_id, entitlement_uid,
       parent_activation_id, new_activation_id, new_unique_id)
     SELECT a.rq, a.us, 'upgradeLicense', a.ek, a.eu, a.pa, a.na, ins.unique_id
     FROM unnest('{"pgbench"}'::text[], '{"bench"}'::text[], ('{"' || :ekey || '"}')::text[],
       ('{"' || :euid || '"}')::text[], ('{"' || :paid || '"}')::text[],
       ('{"pg-' || :client_id || '-' || :r || '"}')::text[]) WITH ORDINALITY AS a (rq, us, ek, eu, pa, na, ord)
     JOIN ins ON ins.activation_id = a.na ORDER BY a.ord
     RETURNING id, at, entitlement_id, parent_activation_id, new_activation_id)
-- feed-begin (the change feed rows; bench/feed_cost.sh also runs this script without them)
, feed AS (INSERT INTO entitlement_changes (at, product_id, operation, entitlement_id, activation_id, audit_id)
     SELECT at, product_id, 'upgradeLicense', entitlement_id, activation_id, audit_id FROM (
     SELECT aud.at, ins.product_id, aud.entitlement_id, ins.activation_id, aud.id AS audit_id, 0 AS k
     FROM aud JOIN ins ON ins.activation_id = aud.new_activation_id
     UNION ALL SELECT aud.at, upd.product_id, aud.entitlement_id, upd.activation_id, aud.id, 1
     FROM aud JOIN upd ON upd.activation_id = aud.parent_activation_id) f ORDER BY audit_id, k)
-- feed-end
SELECT activation_id, unique_id FROM ins;
COMMIT;
\endpipeline
