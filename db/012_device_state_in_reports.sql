-- 012: a device's latest state is read from its newest report
-- (devices.latest_report), which holds the same nodes, instead of being
-- written a second time, node by node, into device_nodes: a report of 5
-- nodes wrote 5 row locks and 5 row versions more, and the scan that
-- deleted the nodes no longer reported. The table held nothing the
-- reports do not.
DROP TABLE device_nodes;

-- A report's nodes (about 2 KiB for 5 nodes) are compressed when stored:
-- lz4 costs a fraction of pglz's CPU, on every report written and read.
-- A server built without lz4 keeps pglz.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE device_reports ALTER COLUMN nodes SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported OR syntax_error THEN
    RAISE NOTICE 'device_reports.nodes stays compressed with pglz: %', SQLERRM;
END
$$;
