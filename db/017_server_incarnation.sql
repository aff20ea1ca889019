-- 017: which life of the server a transaction ran in. A COMMIT whose
-- answer was lost is looked up by its transaction id (pg_xact_status,
-- service/db/pool.c db_commit_fate), but after a crash the server may hand
-- the same ids out again (the lost transaction's WAL never reached the
-- disk), without a new postmaster start time when only a backend crashed.
-- An unlogged table is emptied by crash recovery and is empty on a standby
-- that has been promoted: each connection of the daemon puts a random
-- token in it when it has none, every write transaction reads the token
-- with its id, and the lookup trusts the id only while the token is the
-- same.
CREATE UNLOGGED TABLE server_incarnation (
    one   boolean PRIMARY KEY DEFAULT true CHECK (one),
    token text NOT NULL
);
