#!/usr/bin/env bash
# bench/packages.sh - an update package of CHANGES changes (default
# 100,000) built by the job workers and streamed to clients, on a private
# cluster, with the daemon's memory sampled throughout (VmRSS every 10 ms).
# The changes go into the feed by SQL (what is timed is the build and the
# stream, not the SOAP calls); 200,000 changes of another product sit beside
# them. Prints the build time, each stream's bytes, time and rate, the
# daemon's RSS before and at its peak, and PostgreSQL producing the same
# document with COPY as the baseline.
#
#   bench/packages.sh [CHANGES] [READERS]
set -euo pipefail
. "$(dirname "$0")/common.sh"

changes=${1:-100000}
readers=${2:-8}
bench_begin packages
sql() { psql "$conn" -XAtq "$@"; }

"$bin/entitlementctl" migrate >/dev/null 2>&1
"$bin/entitlementctl" product add PackageBench 1.0 >/dev/null
"$bin/entitlementctl" product add PackageNoise 1.0 >/dev/null
token=$("$bin/entitlementctl" token add --user package-bench | tail -n 1)
sql -c "INSERT INTO entitlement_changes (at, product_id, operation, entitlement_id, activation_id, audit_id)
  SELECT now() - (g * interval '1 ms'), (SELECT id FROM products WHERE name = 'PackageBench'), 'upgradeLicense',
    'ENT-' || (g / 10), 'ACT-' || g || '-' || md5(g::text), 0 FROM generate_series(1, $changes) g" \
  -c "INSERT INTO entitlement_changes (at, product_id, operation, entitlement_id, activation_id, audit_id)
  SELECT now() - (g * interval '1 ms'), (SELECT id FROM products WHERE name = 'PackageNoise'), 'renewLicense',
    'ENT-N' || (g / 10), 'ACT-N' || g, 0 FROM generate_series(1, 200000) g" -c "ANALYZE entitlement_changes"

port=$(free_port)
ENTITLEMENTD_PORT=$port ENTITLEMENTD_LOG_LEVEL=warn "$bin/entitlementd" >"$out/daemon.log" 2>&1 &
dpid=$!
pids+=($dpid)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$port"
auth="Authorization: Bearer $token"

# The daemon's RSS, sampled until the stop file appears: prints the peak (KiB).
sample() {
  local peak=0 rss
  while [ ! -e "$out/stop" ]; do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$dpid/status")
    [ "$rss" -gt "$peak" ] && peak=$rss
    sleep 0.01
  done
  echo "$peak"
}
# Samples into $out/peak.$1 until stop_sampling.
start_sampling() { rm -f "$out/stop"; sample >"$out/peak.$1" & sampler=$!; }
stop_sampling() { touch "$out/stop"; wait "$sampler"; }
rss_now() { awk '/^VmRSS/ {print $2}' "/proc/$dpid/status"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }

read -r ref pno < <(curl -sf -X POST -H "$auth" -H 'Content-Type: application/json' "$base/subscriptions/cloud" \
  --data-binary '{"name":"package bench","products":[{"name":"PackageBench","version":"1.0"}]}' |
  /usr/bin/python3 -c 'import json,sys; d = json.load(sys.stdin)
print(d["subscriptionRef"], d["subscriptionProducts"][0]["subscriptionProductId"])')
# Warm the daemon (pool connections, a small request of each kind).
curl -sf -H "$auth" "$base/subscriptions/cloud/$ref" >/dev/null
start_rss=$(rss_now)
echo "daemon RSS at the start: $(mib "$start_rss")"

start_sampling build
t0=$(date +%s.%N)
pid_pkg=$(curl -sf -X POST -d '' -H "$auth" "$base/acquisition_api/v1/subscriptionUpdates/$ref/1900-01-01?productIds=$pno" |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["packageId"])')
while [ "$(sql -c "SELECT status FROM update_packages WHERE package_id = '$pid_pkg'")" = PROCESSING ]; do sleep 0.02; done
t1=$(date +%s.%N)
stop_sampling
echo "built: $(sql -c "SELECT status || ', ' || item_count || ' changes in ' || page_count || ' pages'
  FROM update_packages WHERE package_id = '$pid_pkg'") in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f s", b - a}');" \
  "daemon RSS peak $(mib "$(cat "$out/peak.build")")"

stream() { # $1: label, $2...: extra curl options; one reader
  curl -sf -H "$auth" -o "$out/content.json" -w '%{size_download} %{time_total}\n' "${@:2}" \
    "$base/acquisition_api/v1/packages/$pid_pkg/content"
}
start_sampling one
read -r bytes secs < <(stream one)
stop_sampling
items=$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$out/content.json")
[ "$items" = "$changes" ] || ent_die "the content holds $items changes, not $changes"
awk -v b="$bytes" -v s="$secs" 'BEGIN {printf "one reader: %.1f MiB in %.2f s (%.0f MiB/s)", b / 1048576, s, b / 1048576 / s}'
echo ", $items changes; daemon RSS peak $(mib "$(cat "$out/peak.one")")"

start_sampling slow
read -r bytes secs < <(stream slow --limit-rate 4M)
stop_sampling
awk -v b="$bytes" -v s="$secs" 'BEGIN {printf "a slow reader (4 MiB/s): %.1f MiB in %.2f s", b / 1048576, s}'
echo "; daemon RSS peak $(mib "$(cat "$out/peak.slow")")"

start_sampling many
t0=$(date +%s.%N)
many=()
for i in $(seq "$readers"); do
  curl -sf -H "$auth" -o /dev/null "$base/acquisition_api/v1/packages/$pid_pkg/content" &
  many+=($!)
done
for p in "${many[@]}"; do wait "$p"; done
t1=$(date +%s.%N)
stop_sampling
awk -v n="$readers" -v b="$bytes" -v a="$t0" -v c="$t1" \
  'BEGIN {printf "%d readers at once: %.1f MiB in %.2f s (%.0f MiB/s)", n, n * b / 1048576, c - a, n * b / 1048576 / (c - a)}'
echo "; daemon RSS peak $(mib "$(cat "$out/peak.many")")"
echo "daemon RSS at the end: $(mib "$(rss_now)")"

# Baseline: PostgreSQL writing the same changes as JSON, one row each.
t0=$(date +%s.%N)
sql -c "COPY (SELECT json_build_object('operation', ch.operation, 'entitlementId', ch.entitlement_id,
  'activationId', ch.activation_id, 'productName', pr.name, 'productVersion', pr.version, 'time',
  to_char(ch.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))
  FROM entitlement_changes ch JOIN products pr ON pr.id = ch.product_id WHERE pr.name = 'PackageBench'
  ORDER BY ch.at, ch.id) TO STDOUT" >/dev/null
t1=$(date +%s.%N)
echo "baseline: psql COPY of the same changes as JSON rows: $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f s", b - a}')"
