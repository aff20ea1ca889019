-- 013: a device's latest state is kept per node: each node's state is the
-- one of the newest report (by its newest timestamp) that names the node.
-- A report that leaves a node out no longer drops it, and an older report
-- that arrives late still adds a node no newer report has named.
--
-- The nodes stay stored once, in the reports (db/012). The device's row
-- keeps the ids its newest report names (latest_ids) and, for any other
-- node, which report holds its latest state (older_nodes: node id ->
-- [that report's newest timestamp, its id]). A newer report that names
-- the same nodes as the one before (the usual case) leaves older_nodes as
-- it is: one comparison of two arrays, nothing built per node.
ALTER TABLE devices ADD COLUMN latest_ids text[] NOT NULL DEFAULT '{}';
ALTER TABLE devices ADD COLUMN older_nodes jsonb NOT NULL DEFAULT '{}';

UPDATE devices d SET latest_ids = coalesce((
    SELECT array_agg(n->>'id' ORDER BY k)
    FROM device_reports r, jsonb_array_elements(r.nodes) WITH ORDINALITY AS e (n, k)
    WHERE r.id = d.latest_report), '{}');

-- The nodes a report moves into older_nodes: called by the report's
-- statement only when it does not name the same nodes as the device's
-- newest report (or is older than it). A function, not subqueries in the
-- statement: the executor would set up their plans on every report, the
-- usual case included.
--   a report at least as new as the newest: the newest's nodes join
--   older_nodes, and the nodes the report names leave it;
--   an older report: the nodes it names that no newer report named join
--   older_nodes.
CREATE FUNCTION device_older_nodes(older jsonb, ids text[], ms bigint, report bigint,
                                   new_ids text[], new_ms bigint, new_report bigint) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF ms <= new_ms THEN
        RETURN (SELECT coalesce(jsonb_object_agg(x.k, x.v), '{}')
                FROM (SELECT e.key AS k, e.value AS v FROM jsonb_each(older) e
                      UNION ALL SELECT i, jsonb_build_array(ms, report) FROM unnest(ids) i) x
                WHERE x.k <> ALL (new_ids));
    END IF;
    RETURN older || coalesce((SELECT jsonb_object_agg(i, jsonb_build_array(new_ms, new_report))
                              FROM unnest(new_ids) i
                              WHERE i <> ALL (ids) AND coalesce((older->i->>0)::bigint, -1) <= new_ms), '{}');
END
$$;
