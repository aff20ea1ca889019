-- 015: a kid names one of its publisher's active keys, not one of every
-- publisher's: two publishers may each name a key "k1" (the contract keeps
-- keys per publisher). A JWT's kid then finds at most one key of each
-- publisher, each tried; the one that verifies says whose token it is.
DROP INDEX publisher_keys_active_kid;
CREATE UNIQUE INDEX publisher_keys_active_publisher_kid ON publisher_keys (publisher, kid) WHERE retired_at IS NULL;
CREATE INDEX publisher_keys_active_kid ON publisher_keys (kid) WHERE retired_at IS NULL;
