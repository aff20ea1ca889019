-- 013: a device's latest state is kept per node: each node's state is the
-- one of the newest report (by its newest timestamp) that names the node.
-- A report that leaves a node out no longer drops it, and an older report
-- that arrives late still adds a node no newer report has named.
--
-- node_reports maps each node id to [the report's newest timestamp, the
-- report's id]; the node itself is read from that report, which holds it
-- already (db/012): a report still writes one row of devices, not one per
-- node.
ALTER TABLE devices ADD COLUMN node_reports jsonb NOT NULL DEFAULT '{}';

UPDATE devices d SET node_reports = coalesce((
    SELECT jsonb_object_agg(n->>'id', jsonb_build_array(d.latest_ms, d.latest_report))
    FROM device_reports r, jsonb_array_elements(r.nodes) n WHERE r.id = d.latest_report), '{}');
