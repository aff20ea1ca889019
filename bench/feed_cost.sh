#!/usr/bin/env bash
# bench/feed_cost.sh - what the change feed (db/005: the entitlement_changes
# rows the write statement of an upgrade adds) costs PostgreSQL on the hot
# path: pgbench running the SQL of a one-unit upgrade
# (bench/pgbench_upgrade_unit.sql) at 8 clients, alternately without the
# feed's rows (the script with its feed-begin..feed-end lines cut) and with
# them, on a private cluster. Prints tps per run.
#
#   bench/feed_cost.sh [ROUNDS] [SECONDS]     (default 3 rounds of 10 s)
set -euo pipefail
. "$(dirname "$0")/common.sh"

rounds=${1:-3}
secs=${2:-10}
bench_begin feed
DATABASE_URL=$conn "$ENT_ROOT/build/bin/entitlementctl" migrate >/dev/null 2>&1
psql "$conn" -X -q -v ON_ERROR_STOP=1 -f "$ENT_ROOT/bench/setup.sql" >/dev/null

nofeed="$ENT_ROOT/build/bench-feed/pgbench_upgrade_unit_nofeed.sql"
sed '/^-- feed-begin/,/^-- feed-end/d' "$ENT_ROOT/bench/pgbench_upgrade_unit.sql" >"$nofeed"
run() {  # run LABEL SCRIPT
  local tps
  tps=$(PGOPTIONS="-c plan_cache_mode=force_generic_plan -c max_parallel_workers_per_gather=0 -c jit=off" pgbench "$conn" -n -M prepared -c 8 -j 2 -T "$secs" \
    -f "$2" 2>&1 | awk '/^tps/ {printf "%.1f", $3}')
  printf '%-10s tps=%s\n' "$1" "$tps"
}
for r in $(seq "$rounds"); do
  run "no feed" "$nofeed"
  run "feed" "$ENT_ROOT/bench/pgbench_upgrade_unit.sql"
done
echo "feed rows: $(psql "$conn" -X -qAt -c 'SELECT count(*) FROM entitlement_changes')"
