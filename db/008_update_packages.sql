-- 008: update packages (the REST adapter's section 3): the changes of some
-- of a subscription's products since a date, built by the job workers into
-- one JSON document. At most two of a user's packages are PROCESSING at
-- once, across every daemon: the check and the insert run under a
-- transaction-level advisory lock on the user.
CREATE TABLE update_packages (
    id              bigserial PRIMARY KEY,
    package_id      text NOT NULL UNIQUE,
    owner           text NOT NULL,
    subscription_id bigint NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    since           date NOT NULL,
    product_ids     bigint[] NOT NULL,
    status          text NOT NULL DEFAULT 'PROCESSING' CHECK (status IN ('PROCESSING', 'READY', 'FAILED')),
    item_count      integer,
    content         text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz
);
CREATE INDEX update_packages_processing_idx ON update_packages (owner) WHERE status = 'PROCESSING';
