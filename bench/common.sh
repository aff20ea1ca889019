# bench/common.sh - what the benchmark scripts share (sourced, not run):
# the build, a private PostgreSQL cluster under build/bench-NAME, and the
# processes a script starts, stopped on exit.
#
#   . "$(dirname "$0")/common.sh"; bench_begin NAME
#   -> $bin (the binaries), $out (build/bench-NAME), $home (its cluster),
#      $conn and DATABASE_URL (the cluster's connection string); add the
#      pid of each process started to the array pids. bench_load then loads
#      the schema, bench/setup.sql and the user bench.
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

bench_begin() {
  ent_install_packages
  ent_build "$ENT_ROOT/build"
  bin="$ENT_ROOT/build/bin"
  out="$ENT_ROOT/build/bench-$1"
  home="$out/home"
  mkdir -p "$out"
  ent_pg_stop "$home"
  rm -rf "$home"
  conn=$(ent_pg_start "$home")
  export DATABASE_URL="$conn"
  pids=()
  trap bench_end EXIT
}

# The schema, bench/setup.sql's data and the user bench (password
# bench-password) in the cluster.
bench_load() {
  "$bin/entitlementctl" migrate >/dev/null 2>&1
  psql "$conn" -X -q -v ON_ERROR_STOP=1 -f "$ENT_ROOT/bench/setup.sql" >/dev/null
  printf 'bench-password\n' | "$bin/entitlementctl" user add bench >/dev/null
}

bench_end() {
  local p
  # (A process killed makes wait fail: under set -e that would end the
  # trap there, leaving the rest and the cluster running.)
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  ent_pg_stop "$home"
}

# A free TCP port on the loopback.
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
