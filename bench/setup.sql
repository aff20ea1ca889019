-- Benchmark data: a catalog and one parent line item per connection and
-- unit, each with more copies than any run moves. Idempotent.
INSERT INTO products (name, version) VALUES ('BenchBase', '1.0'), ('BenchBase', '2.0')
    ON CONFLICT DO NOTHING;
INSERT INTO product_relationships (from_product_id, to_product_id, kind)
    SELECT f.id, t.id, 'UPGRADE' FROM products f, products t
    WHERE f.name = 'BenchBase' AND f.version = '1.0' AND t.name = 'BenchBase' AND t.version = '2.0'
    ON CONFLICT DO NOTHING;

-- (a) and the pgbench baseline: parent ba-C for connection C.
INSERT INTO entitlements (entitlement_id, state, sold_to)
    SELECT 'bench-a-' || c, 'DEPLOYED', 'Bench' FROM generate_series(0, 255) c
    ON CONFLICT DO NOTHING;
INSERT INTO line_items (activation_id, entitlement_id, product_id, state, number_of_copies)
    SELECT 'ba-' || c, e.id, (SELECT id FROM products WHERE name = 'BenchBase' AND version = '1.0'),
           'DEPLOYED', 1000000000
    FROM generate_series(0, 255) c JOIN entitlements e ON e.entitlement_id = 'bench-a-' || c
    ON CONFLICT DO NOTHING;

-- (b): parents bb-C-K for connection C and unit K.
INSERT INTO entitlements (entitlement_id, state, sold_to)
    SELECT 'bench-b-' || c, 'DEPLOYED', 'Bench' FROM generate_series(0, 31) c
    ON CONFLICT DO NOTHING;
INSERT INTO line_items (activation_id, entitlement_id, product_id, state, number_of_copies)
    SELECT 'bb-' || c || '-' || k, e.id, (SELECT id FROM products WHERE name = 'BenchBase' AND version = '1.0'),
           'DEPLOYED', 1000000000
    FROM generate_series(0, 31) c CROSS JOIN generate_series(0, 99) k
    JOIN entitlements e ON e.entitlement_id = 'bench-b-' || c
    ON CONFLICT DO NOTHING;

-- (c): entitlements with 5 line items each to look up.
INSERT INTO entitlements (entitlement_id, state, sold_to)
    SELECT 'bench-q-' || c, 'DEPLOYED', 'Bench' FROM generate_series(0, 255) c
    ON CONFLICT DO NOTHING;
INSERT INTO line_items (activation_id, entitlement_id, product_id, state, number_of_copies)
    SELECT 'bq-' || c || '-' || k, e.id, (SELECT id FROM products WHERE name = 'BenchBase' AND version = '1.0'),
           'DEPLOYED', 10
    FROM generate_series(0, 255) c CROSS JOIN generate_series(0, 4) k
    JOIN entitlements e ON e.entitlement_id = 'bench-q-' || c
    ON CONFLICT DO NOTHING;
-- (r): 2,000 parents br-K drawn at random by every connection, spread
-- over 20 entitlements of 100 line items (bench-r-0 holds br-0 .. br-99).
INSERT INTO entitlements (entitlement_id, state, sold_to)
    SELECT 'bench-r-' || e, 'DEPLOYED', 'Bench' FROM generate_series(0, 19) e
    ON CONFLICT DO NOTHING;
INSERT INTO line_items (activation_id, entitlement_id, product_id, state, number_of_copies)
    SELECT 'br-' || k, e.id, (SELECT id FROM products WHERE name = 'BenchBase' AND version = '1.0'),
           'DEPLOYED', 1000000000
    FROM generate_series(0, 1999) k JOIN entitlements e ON e.entitlement_id = 'bench-r-' || (k / 100)
    ON CONFLICT DO NOTHING;
ANALYZE products, product_relationships, entitlements, line_items;
