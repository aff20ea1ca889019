-- 002: cheaper writes of line items.
--
-- Upgrades update their parent line item. An index on updated_at made every
-- such update a non-HOT update that inserts into all seven indexes of the
-- table; queries find an entitlement's latest change through its line items
-- (line_items_entitlement_idx) instead. Free space in each page (fillfactor)
-- lets PostgreSQL keep the new row version on the same page.
DROP INDEX IF EXISTS line_items_updated_idx;
ALTER TABLE line_items SET (fillfactor = 80);
ALTER TABLE entitlements SET (fillfactor = 90);
