-- 006: subscription runs and their webhook deliveries.
--
-- A subscription reads the change feed (005) from its cursor: the
-- (xid, id) of the last change it delivered, or the xmin of a snapshot
-- below which it has delivered everything. A run is made on demand (the
-- trigger endpoint) or by its schedule, once at a time per subscription;
-- its body is built on its first attempt and sent unchanged, with the same
-- webhook-id, on every retry. Only a delivered run moves the cursor.
ALTER TABLE subscriptions
    ADD COLUMN cursor_xid   xid8 NOT NULL DEFAULT pg_snapshot_xmin(pg_current_snapshot()),
    ADD COLUMN cursor_id    bigint NOT NULL DEFAULT 0,
    ADD COLUMN next_run_at  timestamptz,
    -- What GET .../status reports: the last run and the last webhook post.
    ADD COLUMN last_trigger     text CHECK (last_trigger IN ('On-Demand', 'Scheduled')),
    ADD COLUMN last_trigger_ok  boolean,
    ADD COLUMN last_trigger_at  timestamptz,
    ADD COLUMN webhook_ok       boolean,
    ADD COLUMN webhook_detail   text,
    ADD COLUMN webhook_at       timestamptz;
CREATE INDEX subscriptions_next_run_idx ON subscriptions (next_run_at) WHERE next_run_at IS NOT NULL;
UPDATE subscriptions SET next_run_at = now() + make_interval(mins => schedule_minutes)
    WHERE schedule_minutes IS NOT NULL;

CREATE TABLE subscription_runs (
    id              bigserial PRIMARY KEY,
    subscription_id bigint NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    trigger         text NOT NULL CHECK (trigger IN ('On-Demand', 'Scheduled')),
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    msg_id          text NOT NULL UNIQUE,          -- webhook-id, the same on every attempt
    body            text,                          -- built on the first attempt
    n_changes       integer,
    to_xid          xid8,                          -- the cursor once delivered
    to_id           bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
-- One pending run per subscription: a trigger while one waits is that run.
CREATE UNIQUE INDEX subscription_runs_pending_idx ON subscription_runs (subscription_id) WHERE state = 'pending';

-- Every attempt to post a run: the ledger of deliveries.
CREATE TABLE webhook_attempts (
    id          bigserial PRIMARY KEY,
    run_id      bigint NOT NULL REFERENCES subscription_runs (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    http_status integer,                          -- NULL: no HTTP answer
    error       text,                             -- the transport error, or why the status failed
    duration_ms integer NOT NULL
);
CREATE INDEX webhook_attempts_run_idx ON webhook_attempts (run_id);
