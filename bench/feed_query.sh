#!/usr/bin/env bash
# bench/feed_query.sh - the change feed's two reads at scale: a run's
# "changes of these products after the cursor" and a package's "changes of
# these products since a date", over ROWS feed rows (default 2,000,000)
# spread over 1,000 products and a year, on a private cluster. Prints each
# plan's execution time (EXPLAIN ANALYZE) and the index it used.
#
#   bench/feed_query.sh [ROWS]
set -euo pipefail
. "$(dirname "$0")/common.sh"

rows=${1:-2000000}
bench_begin feed-query
DATABASE_URL=$conn "$ENT_ROOT/build/bin/entitlementctl" migrate >/dev/null 2>&1
q() { psql "$conn" -X -q -v ON_ERROR_STOP=1 "$@"; }

# Rows in the order of a year of commits: xid and time grow together.
q -v rows="$rows" <<'SQL'
INSERT INTO entitlement_changes (xid, at, product_id, operation, entitlement_id, activation_id, audit_id)
SELECT (1000 + g)::text::xid8, now() - interval '365 days' + (g::double precision / :rows) * interval '365 days',
       1 + (g::bigint * 7919) % 1000, 'upgradeLicense', 'E-' || (g / 10), 'A-' || g, g
FROM generate_series(1, :rows) g;
ANALYZE entitlement_changes;
SQL
explain() {  # explain LABEL SQL
  local out
  out=$(q -At -c "EXPLAIN (ANALYZE, BUFFERS) $2")
  printf '%-40s %s; %s\n' "$1" "$(grep -o 'Execution Time: .*' <<<"$out")" \
    "$(grep -o 'Index[A-Za-z ]* Scan[^(]*' <<<"$out" | head -n 1 | sed 's/ *$//')"
}
cur=$(q -At -c "SELECT (1000 + $rows * 99 / 100)::text")
explain "run: 3 products, last 1% (limit 1000)" \
  "SELECT * FROM entitlement_changes WHERE product_id IN (1, 500, 999) AND (xid, id) > ('$cur'::xid8, 0)
   AND xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY xid, id LIMIT 1000"
explain "run: 3 products, from the start (limit 1000)" \
  "SELECT * FROM entitlement_changes WHERE product_id IN (1, 500, 999) AND (xid, id) > ('0'::xid8, 0)
   AND xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY xid, id LIMIT 1000"
explain "package: 3 products since 7 days ago" \
  "SELECT * FROM entitlement_changes WHERE product_id IN (1, 500, 999) AND at >= now() - interval '7 days' ORDER BY at, id"
explain "package: 3 products, all (1900-01-01)" \
  "SELECT count(*) FROM entitlement_changes WHERE product_id IN (1, 500, 999) AND at >= '1900-01-01'"
echo "rows: $rows, size: $(q -At -c "SELECT pg_size_pretty(pg_total_relation_size('entitlement_changes'))")"
