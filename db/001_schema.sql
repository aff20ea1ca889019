-- 001: the entitlement store.
--
-- Objects that clients see carry a server-assigned uniqueId ('HID-' and a
-- number from one sequence shared by entitlements and line items, so a
-- uniqueId names exactly one object) besides their business key
-- (entitlementId, activationId).

CREATE SEQUENCE object_id_seq;

CREATE TABLE products (
    id          bigint PRIMARY KEY DEFAULT nextval('object_id_seq'),
    unique_id   text GENERATED ALWAYS AS ('HID-' || id::text) STORED UNIQUE,
    name        text NOT NULL,
    version     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, version)
);

-- An UPGRADE or UPSELL relationship allows line items of from_product to
-- be upgraded (upsold) to to_product.
CREATE TABLE product_relationships (
    from_product_id bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    to_product_id   bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('UPGRADE', 'UPSELL')),
    PRIMARY KEY (from_product_id, to_product_id, kind)
);

CREATE TABLE entitlements (
    id                       bigint PRIMARY KEY DEFAULT nextval('object_id_seq'),
    unique_id                text GENERATED ALWAYS AS ('HID-' || id::text) STORED UNIQUE,
    entitlement_id           text NOT NULL UNIQUE,
    description              text,
    sold_to                  text,
    ship_to_email            text,
    ship_to_address          text,
    email_template_variation text,
    allow_portal_login       boolean,
    state                    text NOT NULL CHECK (state IN
                             ('DRAFT', 'ACTIVE', 'INACTIVE', 'DEPLOYED', 'OBSOLETE', 'TEST', 'ON_HOLD')),
    attributes               jsonb,
    created_by               text,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE line_items (
    id                bigint PRIMARY KEY DEFAULT nextval('object_id_seq'),
    unique_id         text GENERATED ALWAYS AS ('HID-' || id::text) STORED UNIQUE,
    activation_id     text NOT NULL UNIQUE,
    entitlement_id    bigint NOT NULL REFERENCES entitlements (id) ON DELETE CASCADE,
    product_id        bigint REFERENCES products (id),
    parent_id         bigint REFERENCES line_items (id) ON DELETE SET NULL,
    line_item_type    text CHECK (line_item_type IN ('UPGRADE', 'UPSELL', 'RENEWAL')),
    state             text NOT NULL CHECK (state IN
                      ('DRAFT', 'ACTIVE', 'INACTIVE', 'DEPLOYED', 'OBSOLETE', 'TEST', 'ON_HOLD')),
    number_of_copies  bigint NOT NULL CHECK (number_of_copies >= 0),
    description       text,
    part_number       text,
    license_model     text,
    order_id          text,
    order_line_number text,
    start_date        date,
    expiration_date   date,
    is_permanent      boolean NOT NULL DEFAULT false,
    term_duration     bigint,
    term_unit         text CHECK (term_unit IN ('DAYS', 'WEEKS', 'MONTHS', 'YEARS')),
    version_date      date,
    attributes        jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX line_items_entitlement_idx ON line_items (entitlement_id);
CREATE INDEX line_items_parent_idx ON line_items (parent_id);
CREATE INDEX line_items_product_idx ON line_items (product_id);
CREATE INDEX line_items_updated_idx ON line_items (updated_at DESC);

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL,
    domain        text NOT NULL DEFAULT 'FLEXnet',
    password_hash text NOT NULL,
    is_admin      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, domain)
);

-- The audit trail names objects by value, not by foreign key: it outlives
-- deleted entitlements.
CREATE TABLE audit_log (
    id                  bigserial PRIMARY KEY,
    at                  timestamptz NOT NULL DEFAULT now(),
    request_id          text,
    username            text,
    operation           text NOT NULL,
    entitlement_id      text,
    entitlement_uid     text,
    parent_activation_id text,
    new_activation_id   text,
    new_unique_id       text,
    detail              text
);

CREATE INDEX audit_log_entitlement_idx ON audit_log (entitlement_id);
