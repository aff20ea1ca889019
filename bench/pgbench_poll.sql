-- The SQL of one status log poll (service/db/stmt.c, statuslog_poll) of a
-- status log that is done, for the pgbench baseline of scripts/bench.
SELECT EXISTS (SELECT 1 FROM publisher_keys WHERE id = :keyid AND retired_at IS NULL), s.id, s.done, s.result_key, s.result_message, s.result_arguments FROM (SELECT 1) one LEFT JOIN status_logs s ON s.polling_id = :pollid AND s.publisher = 'BenchPub' AND s.created_at > now() - make_interval(secs => 86400::int);
