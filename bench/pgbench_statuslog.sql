-- The SQL of one update status log POST (service/db/stmt.c, statuslog_post,
-- the statement of a POST without an Idempotency-Key): the status log and
-- its job in one statement, with the values the load generator's requests
-- carry, for the pgbench baseline of scripts/bench. The daemon's job workers
-- process these jobs too, as they process the service's own. Generated from
-- stmt.c; keep the two alike.
\set r random(1, 9000000000000000)
WITH k AS (SELECT 1 FROM publisher_keys WHERE id = :keyid AND retired_at IS NULL), go AS (SELECT 1 FROM k), s AS (INSERT INTO status_logs (polling_id, publisher, request) SELECT ('pg-' || :client_id || '-' || :r), 'BenchPub', ('{"id":"pg-' || :client_id || '-' || :r || '","idType":"MAC","packageId":"PKG-1","platform":"linux-x64","timeStamp":"2026-12-01T10:00:00Z","updateName":"Bench update","publisherName":"BenchPub","updateId":"UPD-' || :client_id || '","statusReason":"installed","statusCode":4,"language":0,"deviceClass":"client"}')::jsonb FROM go RETURNING id), j AS (INSERT INTO jobs (kind, ref) SELECT 'statusLog', id FROM s RETURNING id) SELECT EXISTS (SELECT 1 FROM k), (SELECT count(*) FROM j);
