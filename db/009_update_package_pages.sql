-- 009: an update package's content is kept in pages of at most 1,000
-- changes (each page the JSON texts of its changes joined by commas), so
-- that building it and streaming it never holds the whole document: the
-- daemon sends it a page at a time as the client reads.
CREATE TABLE update_package_pages (
    package_id bigint NOT NULL REFERENCES update_packages (id) ON DELETE CASCADE,
    page       integer NOT NULL,
    items      text NOT NULL,
    PRIMARY KEY (package_id, page)
);
ALTER TABLE update_packages ADD COLUMN page_count integer;

-- Packages built before this migration: their documents' items become pages.
INSERT INTO update_package_pages (package_id, page, items)
SELECT p.id, (e.n - 1) / 1000, string_agg(e.item::text, ', ' ORDER BY e.n)
FROM update_packages p, json_array_elements(p.content::json -> 'items') WITH ORDINALITY AS e (item, n)
WHERE p.content IS NOT NULL
GROUP BY p.id, (e.n - 1) / 1000;
UPDATE update_packages p SET page_count = (SELECT count(*) FROM update_package_pages g WHERE g.package_id = p.id)
WHERE p.status = 'READY';
ALTER TABLE update_packages DROP COLUMN content;
