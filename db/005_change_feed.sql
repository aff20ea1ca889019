-- 005: the change feed. Every line item a lifecycle operation creates or
-- changes, by product, in the order the changes committed: what
-- subscription runs and update packages read.
--
-- Rows are made from the audit trail by one statement-level trigger (a set
-- of audit rows in, their line items' rows out), in the transaction of the
-- change, so a change and its feed rows commit or vanish together:
--   * a row naming a new line item (createSimpleEntitlement, upgrade,
--     upsell, renew, setLineItemState): that line item, and for upgrade,
--     upsell and renew also the parent whose count or state changed;
--   * a row naming only the entitlement (setEntitlementState,
--     deleteEntitlement): each of its line items (a deletion is audited
--     before the rows go).
--
-- xid is the writing transaction's id. A reader that takes the rows with
-- cursor <= xid < the xmin of its snapshot, then moves its cursor to that
-- xmin, reads every committed change exactly once: every transaction with
-- an id below xmin has ended, so none of its rows can still appear, while
-- ids and commit order need not agree.
CREATE TABLE entitlement_changes (
    id             bigserial PRIMARY KEY,
    xid            xid8 NOT NULL DEFAULT pg_current_xact_id(),
    at             timestamptz NOT NULL,
    product_id     bigint NOT NULL,
    operation      text NOT NULL,
    entitlement_id text NOT NULL,
    activation_id  text NOT NULL,
    audit_id       bigint NOT NULL
);
CREATE INDEX entitlement_changes_product_xid_idx ON entitlement_changes (product_id, xid);
CREATE INDEX entitlement_changes_product_at_idx ON entitlement_changes (product_id, at);

CREATE FUNCTION audit_log_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO entitlement_changes (at, product_id, operation, entitlement_id, activation_id, audit_id)
    SELECT n.at, li.product_id, n.operation, n.entitlement_id, li.activation_id, n.id
    FROM audit_rows n
    JOIN line_items li ON li.activation_id = n.new_activation_id
    UNION ALL
    SELECT n.at, li.product_id, n.operation, n.entitlement_id, li.activation_id, n.id
    FROM audit_rows n
    JOIN line_items li ON li.activation_id = n.parent_activation_id
    WHERE n.new_activation_id IS NOT NULL
      AND n.operation IN ('upgradeLicense', 'upsellLicense', 'renewLicense')
    UNION ALL
    SELECT n.at, li.product_id, n.operation, n.entitlement_id, li.activation_id, n.id
    FROM audit_rows n
    JOIN entitlements e ON e.entitlement_id = n.entitlement_id
    JOIN line_items li ON li.entitlement_id = e.id
    WHERE n.new_activation_id IS NULL AND n.parent_activation_id IS NULL;
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_log_changes AFTER INSERT ON audit_log
    REFERENCING NEW TABLE AS audit_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_log_changes();
