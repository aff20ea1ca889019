-- 003: the REST adapter: API tokens, publisher keys, the job queue, the
-- update status log, device status, idempotency keys.

-- Bearer tokens of integrations (username) and device reporters (tenant).
-- Only a SHA-256 of each token is kept: tokens are 256 random bits, so a
-- fast hash is enough, and a stolen table gives no usable token.
CREATE TABLE api_tokens (
    id          bigserial PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE,
    tenant      text,
    username    text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CHECK ((tenant IS NULL) <> (username IS NULL))
);

-- Publishers' public keys (DER SubjectPublicKeyInfo) that verify the JWTs
-- of their update clients. Several may be active per publisher (rotation);
-- a kid names one among the active keys.
CREATE TABLE publisher_keys (
    id          bigserial PRIMARY KEY,
    publisher   text NOT NULL,
    kid         text NOT NULL,
    alg         text NOT NULL CHECK (alg IN ('RS256', 'ES256')),
    public_key  bytea NOT NULL,
    created_by  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);
CREATE UNIQUE INDEX publisher_keys_active_kid ON publisher_keys (kid) WHERE retired_at IS NULL;
CREATE INDEX publisher_keys_active_publisher ON publisher_keys (publisher) WHERE retired_at IS NULL;

-- The job queue. A job is inserted in the transaction of the request that
-- made it; workers claim jobs with FOR UPDATE SKIP LOCKED and hold them
-- for a lease (locked_by, locked_until): a job whose daemon died is taken
-- again once its lease has run out. A job that completes is deleted in the
-- transaction of its work, and only by the holder of its lease.
CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL,
    ref          bigint,
    state        text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 10,
    run_at       timestamptz NOT NULL DEFAULT now(),
    locked_by    text,
    locked_until timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_queued_idx ON jobs (run_at) WHERE state = 'queued';
CREATE INDEX jobs_running_idx ON jobs (locked_until) WHERE state = 'running';

-- Update status log (UAI): one row per POST, polled by polling_id until
-- its job has set the result.
CREATE TABLE status_logs (
    id            bigserial PRIMARY KEY,
    polling_id    text NOT NULL UNIQUE,
    publisher     text NOT NULL,
    request       jsonb NOT NULL,
    done          boolean NOT NULL DEFAULT false,
    result_key    text,
    result_message text,
    result_arguments text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    done_at       timestamptz
);
CREATE INDEX status_logs_created_idx ON status_logs (created_at);
-- Its job sets the result (no indexed column): free space in each page lets
-- PostgreSQL keep the new row version on the same page (a HOT update).
ALTER TABLE status_logs SET (fillfactor = 70);

-- The devices of publishers' update clients, and each device's update
-- history: one row per status log that was recorded (status_log is unique,
-- so a status log is never recorded twice).
CREATE TABLE update_devices (
    id           bigserial PRIMARY KEY,
    publisher    text NOT NULL,
    id_type      text NOT NULL,
    device_id    text NOT NULL,
    device_class text NOT NULL,
    platform     text,
    language     integer,
    first_seen   timestamptz NOT NULL DEFAULT now(),
    last_seen    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (publisher, id_type, device_id)
);
-- Every status log of a device touches its row (last_seen): HOT updates.
ALTER TABLE update_devices SET (fillfactor = 80);

CREATE TABLE update_history (
    id            bigserial PRIMARY KEY,
    device        bigint NOT NULL REFERENCES update_devices (id) ON DELETE CASCADE,
    status_log    bigint NOT NULL UNIQUE,
    update_id     text,
    update_name   text,
    package_id    text,
    status_code   integer NOT NULL,
    status_reason text,
    reported_at   text,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX update_history_device_idx ON update_history (device);

-- Device status 4.0.0: every report once (a repeat of the same tenant,
-- device, session and timestamps is the same report), and the latest
-- state of each device (the nodes of its newest report).
CREATE TABLE device_reports (
    id          bigserial PRIMARY KEY,
    tenant      text NOT NULL,
    device_id   text NOT NULL,
    session_id  text NOT NULL,
    source_id   text NOT NULL,
    stamp_key   bytea NOT NULL,
    latest_ms   bigint NOT NULL,
    nodes       jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, device_id, session_id, stamp_key)
);

CREATE TABLE devices (
    tenant        text NOT NULL,
    device_id     text NOT NULL,
    latest_ms     bigint NOT NULL,
    latest_report bigint NOT NULL,
    session_id    text NOT NULL,
    source_id     text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, device_id)
);

-- A device's row and nodes change with every newer report.
ALTER TABLE devices SET (fillfactor = 80);

CREATE TABLE device_nodes (
    tenant      text NOT NULL,
    device_id   text NOT NULL,
    node_id     text NOT NULL,
    node        jsonb NOT NULL,
    report      bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, device_id, node_id)
);
ALTER TABLE device_nodes SET (fillfactor = 80);

-- Idempotency-Key: the first response to a POST, replayed for the same
-- key and body within 24 hours; scope is who posted (a publisher, a tenant).
CREATE TABLE idempotency_keys (
    scope        text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    status       integer NOT NULL,
    headers      text NOT NULL,
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
