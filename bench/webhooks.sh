#!/usr/bin/env bash
# bench/webhooks.sh - webhook deliveries per second: SUBS subscriptions
# (default 200), each triggered ROUNDS times (default 3), posted by the
# daemon's webhook workers (ENTITLEMENTD_WEBHOOK_WORKERS, default 4) to a local
# receiver that answers 204 at once; on a private cluster. Prints the
# deliveries per second of each round and the attempts' durations.
#
#   bench/webhooks.sh [SUBS] [ROUNDS]
set -euo pipefail
. "$(dirname "$0")/common.sh"

subs=${1:-200}
rounds=${2:-3}
bench_begin webhooks

# The receiver: HTTP/1.1 keep-alive, 204 for every POST.
rport=$(free_port)
/usr/bin/python3 - "$rport" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
# A listen backlog for every worker's connection at once (the default 5
# drops SYNs, each retried after a second).
http.server.ThreadingHTTPServer.request_queue_size = 128
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
pids+=($!)

"$bin/entitlementctl" migrate >/dev/null 2>&1
"$bin/entitlementctl" product add WebhookBench 1.0 >/dev/null
token=$("$bin/entitlementctl" token add --user webhook-bench | tail -n 1)
port=$(free_port)
ENTITLEMENTD_PORT=$port ENTITLEMENTD_LOG_LEVEL=warn "$bin/entitlementd" >"$out/daemon.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

secret="whsec_$(openssl rand -base64 32)"
refs=()
for i in $(seq "$subs"); do
  refs+=("$(curl -sf -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    "http://127.0.0.1:$port/subscriptions/cloud" --data-binary \
    "{\"name\":\"bench $i\",\"products\":[{\"name\":\"WebhookBench\",\"version\":\"1.0\"}],
      \"webhook\":{\"url\":\"http://127.0.0.1:$rport/hook\",\"secret\":\"$secret\"}}" |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["subscriptionRef"])')")
done
delivered() { psql "$conn" -XAtc "SELECT count(*) FROM subscription_runs WHERE state = 'delivered'"; }
# One trigger through the API (the real path) ...
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '' -H "Authorization: Bearer $token" \
  "http://127.0.0.1:$port/subscriptions/cloud/${refs[0]}/trigger")
[ "$code" = 202 ] || ent_die "trigger answered $code"
while [ "$(delivered)" -lt 1 ]; do sleep 0.05; done
# ... then each round queues a run of every subscription at once, as the
# trigger statement does, and wakes the workers: what is timed is the
# workers' posting, not the triggering.
for r in $(seq "$rounds"); do
  before=$(delivered)
  start=$(date +%s.%N)
  psql "$conn" -Xq -c "WITH r AS (INSERT INTO subscription_runs (subscription_id, trigger, msg_id)
    SELECT id, 'On-Demand', 'msg_' || md5(random()::text || id::text) FROM subscriptions RETURNING id)
    INSERT INTO jobs (kind, ref) SELECT 'subscription.run', id FROM r" -c "NOTIFY entitlementd_jobs"
  while [ "$(delivered)" -lt $((before + subs)) ]; do sleep 0.05; done
  end=$(date +%s.%N)
  awk -v n="$subs" -v s="$start" -v e="$end" -v r="$r" \
    'BEGIN {printf "round %d: %d deliveries in %.2f s: %.0f/s\n", r, n, e - s, n / (e - s)}'
done
psql "$conn" -XAtc "SELECT 'attempts: ' || count(*) || ', duration p50 ' ||
  percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) || ' ms, p99 ' ||
  percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms) || ' ms, failed ' ||
  count(*) FILTER (WHERE http_status IS DISTINCT FROM 204) FROM webhook_attempts"
