-- 004: subscriptions (the REST adapter's section 2): an API user's standing
-- interest in the entitlement changes of a set of products, or a global
-- one every user sees.

CREATE TABLE subscriptions (
    id               bigserial PRIMARY KEY,
    ref              text NOT NULL UNIQUE,        -- subscriptionRef, what clients name it by
    platform         text NOT NULL CHECK (platform IN ('cloud', 'containers')),
    name             text NOT NULL,
    owner            text NOT NULL,               -- the API user whose token made it
    is_global        boolean NOT NULL DEFAULT false,
    webhook_url      text,
    webhook_secret   bytea,                       -- the HMAC key: the decoded bytes of whsec_...
    schedule_minutes integer CHECK (schedule_minutes BETWEEN 1 AND 10080),
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((webhook_url IS NULL) = (webhook_secret IS NULL))
);
CREATE INDEX subscriptions_owner_idx ON subscriptions (owner);

-- The products of a subscription, numbered 1, 2, ... within it: the number
-- is the subscriptionProductId that update packages name products by.
CREATE TABLE subscription_products (
    subscription_id bigint NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    product_no      integer NOT NULL,
    product_id      bigint NOT NULL REFERENCES products (id),
    PRIMARY KEY (subscription_id, product_no),
    UNIQUE (subscription_id, product_id)
);
CREATE INDEX subscription_products_product_idx ON subscription_products (product_id);
