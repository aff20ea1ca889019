#!/usr/bin/env bash
# bench/compare.sh - two builds of entitlementd, turn about, on one private
# cluster: scenario (a) (one-unit upgradeLicense, the same parent per
# connection), (r) (one unit, a parent drawn from 2,000) and (g) (a device
# status report of 5 nodes) at 8 connections, ROUNDS times each, a fresh
# daemon of each build per round. COMPARE_SCENARIOS picks others: "e" is
# the status log POST with an RS256 JWT (its jobs are done before the next
# run starts), "b" the upgrade of 100 units, "c" getEntitlementsQuery by
# entitlementId, "d" createSimpleEntitlement of 10 line items.
# Prints one line per run: requests per second, p99, the daemon's CPU per
# request and the cluster's per unit (bench/loadgen -C and -G).
#
#   bench/compare.sh OLD_BINARY NEW_BINARY [ROUNDS] [SECONDS]
#
# Make the old binary from a worktree of the commit before the change:
#   git worktree add /tmp/old REV && cmake -S /tmp/old -B /tmp/old/build \
#     -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build /tmp/old/build --target entitlementd
# Turn about because the cluster changes as the runs add rows: a build run
# later would otherwise always meet a bigger database.
set -euo pipefail
. "$(dirname "$0")/common.sh"

[ $# -ge 2 ] || { echo "usage: bench/compare.sh OLD_BINARY NEW_BINARY [ROUNDS] [SECONDS]" >&2; exit 2; }
old=$(realpath "$1") new=$(realpath "$2")
rounds=${3:-2}
secs=${4:-5}
bench_begin compare
bench_load
devtoken=$("$bin/entitlementctl" token add --tenant bench | tail -n 1)
scenarios=${COMPARE_SCENARIOS:-a r g}
jwt=
if [[ " $scenarios " == *" e "* ]]; then
  # A publisher key, uploaded through the first daemon, and a JWT it signs.
  printf 'bench-password\n' | "$bin/entitlementctl" user add bench-admin --admin >/dev/null 2>&1 || true
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/publisher.pem" 2>/dev/null
fi
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
pgpid=$(head -n 1 "$home/pg/data/postmaster.pid")
port=$(free_port)

one() {  # one LABEL BINARY: a fresh daemon, warmed up, then each scenario
  local label=$1 exe=$2 pid s
  ENTITLEMENTD_PORT=$port ENTITLEMENTD_WORKERS=8 ENTITLEMENTD_DB_POOL_SIZE=8 ENTITLEMENTD_LOG_LEVEL=warn \
    ENTITLEMENTD_JOB_POLL_MS=10 "$exe" >>"$out/daemon.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  if [[ " $scenarios " == *" e "* && -z "$jwt" ]]; then
    local run hdr clm sig
    run=$(date +%s)
    curl -sf -u bench-admin:bench-password -X PUT -H 'Content-Type: application/json' \
      --data "{\"publicKey\":\"$(openssl pkey -in "$out/publisher.pem" -pubout -outform DER | openssl base64 -A)\",\"publisherName\":\"BenchPub\",\"kid\":\"cmp-$run\"}" \
      "http://127.0.0.1:$port/flexnet/operations/api/updates/update-authorization-key" >/dev/null
    hdr=$(printf '{"alg":"RS256","typ":"JWT","kid":"cmp-%s"}' "$run" | b64url)
    clm=$(printf '{"iss":"BenchPub","exp":%d}' $(( $(date +%s) + 7200 )) | b64url)
    sig=$(printf '%s.%s' "$hdr" "$clm" | openssl dgst -sha256 -sign "$out/publisher.pem" -binary | b64url)
    jwt="$hdr.$clm.$sig"
  fi
  "$bin/loadgen" -p "$port" -a bench:bench-password -c 8 -d 2 -f "$ENT_ROOT/bench/templates/upgrade_one.xml" \
    -r "warm-$label-$(date +%s%N)" >/dev/null 2>&1 || true
  for s in $scenarios; do
    local t=upgrade_one.xml x=(-a bench:bench-password)
    [ "$s" = r ] && t=upgrade_random.xml x+=(-n 2000)
    [ "$s" = b ] && t=upgrade_hundred.xml
    [ "$s" = c ] && t=query_one.xml
    [ "$s" = d ] && t=create_ten.xml
    [ "$s" = g ] && t=device_five.json x=(-B "$devtoken" -t application/json -P /dmps/status/4.0.0 -e '"Success"')
    [ "$s" = e ] && t=statuslog.json x=(-B "$jwt" -t application/json -P /uai/2.0/updates/statusLog -s 202 -e '"url"')
    printf '%s %s %s\n' "$label" "$s" "$("$bin/loadgen" -p "$port" -c 8 -d "$secs" -w 1 \
      -f "$ENT_ROOT/bench/templates/$t" -r "$label-$s-$(date +%s%N)" -C "$pid" -G "$pgpid" "${x[@]}" \
      2>>"$out/loadgen.err" | sed 's/conns=[0-9]* seconds=[0-9.]* //; s/units_per_s=[0-9.]* //')"
    # The jobs of (e) are done before anything else is measured.
    if [ "$s" = e ]; then
      for _ in $(seq 600); do
        [ "$(psql "$conn" -XAtq -c "SELECT count(*) FROM jobs WHERE state <> 'failed'")" = 0 ] && break
        sleep 0.1
      done
    fi
  done
  kill "$pid" && wait "$pid" 2>/dev/null || true
}

for _ in $(seq "$rounds"); do
  one old "$old"
  one new "$new"
done
