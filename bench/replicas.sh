#!/usr/bin/env bash
# bench/replicas.sh - one daemon against two on one PostgreSQL, the same
# load: one-unit upgradeLicense (scenario (a)) and 100-unit requests
# (scenario (b)) at CONNS connections in all (default 8; split evenly over
# the daemons with two), each daemon with 4 workers and 4 database
# connections, on a private cluster. Prints units per second, p99, and the
# CPU (user + system) each process group took per unit: the daemons and
# PostgreSQL, from /proc.
#
#   bench/replicas.sh [SECONDS] [CONNS]
set -euo pipefail
. "$(dirname "$0")/common.sh"

secs=${1:-10}
conns=${2:-8}
bench_begin replicas
bench_load

start_daemon() {  # start_daemon PORT
  ENTITLEMENTD_PORT=$1 ENTITLEMENTD_WORKERS=4 ENTITLEMENTD_DB_POOL_SIZE=4 ENTITLEMENTD_LOG_LEVEL=warn \
    "$bin/entitlementd" >>"$out/daemon.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return; sleep 0.1; done
  ent_die "the daemon on port $1 did not turn ready"
}
# CPU ticks (user + system) of the given pids, and of every postgres backend.
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
pg_ticks() { ent_pg_cluster_ticks "$(head -n 1 "$home/pg/data/postmaster.pid")"; }
hz=$(getconf CLK_TCK)

run() {  # run LABEL TEMPLATE UNITS PORT...: CONNS split over the ports
  local label=$1 t=$2 u=$3; shift 3
  local ports=("$@") n=${#@} each=$((conns / ${#@})) i d0 p0 d1 p1 lines
  d0=$(ticks "${daemons[@]}"); p0=$(pg_ticks)
  lines=$(for port in "${ports[@]}"; do
    "$bin/loadgen" -p "$port" -a bench:bench-password -c "$each" -d "$secs" -w 1 -u "$u" \
      -f "$ENT_ROOT/bench/templates/$t" -r "r$port-$(date +%s%N)" 2>>"$out/loadgen.err" &
  done; wait)
  d1=$(ticks "${daemons[@]}"); p1=$(pg_ticks)
  echo "$lines" | awk -v label="$label" -v n="$n" -v dd="$((d1 - d0))" -v pd="$((p1 - p0))" -v hz="$hz" -v secs="$secs" '
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2]; if (kv[1] == "p99_ms" && kv[2] > p99) p99 = kv[2];
                                   if (kv[1] == "errors") err += kv[2] } }
    END { units = v["units_per_s"]; total = units * (secs + 1)
          printf "%s, %d daemon(s): %.0f units/s, p99 %.2f ms (worst daemon), errors %d; CPU per unit: daemons %.0f us, PostgreSQL %.0f us\n",
                 label, n, units, p99, err, dd / hz / total * 1e6, pd / hz / total * 1e6 }'
}

p1=$(free_port); start_daemon "$p1"; daemons=("${pids[@]}")
"$bin/loadgen" -p "$p1" -a bench:bench-password -c 8 -d 2 -f "$ENT_ROOT/bench/templates/upgrade_one.xml" \
  -r "warm-$(date +%s)" >/dev/null 2>&1 || true
run "(a) upgrade, 1 unit" upgrade_one.xml 1 "$p1"
run "(b) upgrade, 100 units" upgrade_hundred.xml 100 "$p1"
p2=$(free_port); start_daemon "$p2"; daemons=("${pids[@]}")
"$bin/loadgen" -p "$p2" -a bench:bench-password -c 8 -d 2 -f "$ENT_ROOT/bench/templates/upgrade_one.xml" \
  -r "warm2-$(date +%s)" >/dev/null 2>&1 || true
run "(a) upgrade, 1 unit" upgrade_one.xml 1 "$p1" "$p2"
run "(b) upgrade, 100 units" upgrade_hundred.xml 100 "$p1" "$p2"
