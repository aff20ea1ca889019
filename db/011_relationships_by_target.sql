-- 011: an upgrade or upsell reads the relationships into the products it
-- asks for with those products (service/db/stmt.c, batch_products), by
-- this index, instead of finding the parents' products through their line
-- items once more. It also serves the cascade when a product is deleted.
CREATE INDEX product_relationships_to_idx ON product_relationships (to_product_id, kind);
