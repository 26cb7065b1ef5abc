#!/usr/bin/env bash
# Load test: requests per second and latency of every endpoint against the demo data set
# (200 000 seeded events over 90 days) on the embedded SQLite storage, with wrk at 16
# connections. Results go to stdout; docs/performance.md records a run.
#
# Usage: benches/load.sh [seconds per endpoint, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"

if ! command -v wrk >/dev/null; then
    apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
cargo build --release -p quarry-server >/dev/null 2>&1
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/quarry"

work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

export QUARRY_DATABASE_URL="sqlite://$work/load.db" QUARRY_RATE_LIMIT=off RUST_LOG=error
"$bin" projects create demo --organization demo-org >/dev/null
creds="$("$bin" clients create --type read --project demo)"
id="$(sed -E 's/.*"id":"([^"]+)".*/\1/' <<<"$creds")"
secret="$(sed -E 's/.*"secret":"([^"]+)".*/\1/' <<<"$creds")"
start=$(date +%s.%N)
"$bin" seed --project demo --events 200000 --days 90 --seed 42 2>/dev/null
echo "seeded 200000 events in $(echo "$(date +%s.%N) - $start" | bc) s"

port=$(( 20000 + RANDOM % 20000 ))
"$bin" serve --bind "127.0.0.1:$port" 2>/dev/null &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

base="http://127.0.0.1:$port"
enc() { python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1]))' "$1"; }
declare -A urls=(
  [events]="$base/export/events?projectId=demo&limit=50"
  [events_empty]="$base/export/events?projectId=demo&event=no_such_event&limit=1"
  [charts_30d]="$base/export/charts?projectId=demo&range=30d&interval=day&events=$(enc '[{"name":"screen_view"}]')"
  [charts_breakdown]="$base/export/charts?projectId=demo&range=30d&interval=day&events=$(enc '[{"name":"screen_view"},{"name":"session_start","segment":"user"}]')&breakdowns=$(enc '[{"name":"country"}]')&previous=true"
  [funnel]="$base/export/funnel?projectId=demo&range=30d&events=$(enc '[{"name":"session_start"},{"name":"screen_view"},{"name":"sign_up"}]')"
  [healthz]="$base/healthz"
)
for name in healthz events_empty events charts_30d charts_breakdown funnel; do
    url="${urls[$name]}"
    curl -sf -o /dev/null -H "openpanel-client-id: $id" -H "openpanel-client-secret: $secret" "$url"
    out="$(wrk -t2 -c16 -d"${secs}s" --latency -H "openpanel-client-id: $id" \
        -H "openpanel-client-secret: $secret" "$url")"
    rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
    p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
    p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
    errs="$(awk '/Non-2xx/ {print $5}' <<<"$out")"
    printf '%-18s %10s req/s   p50 %9s   p99 %9s   non-2xx %s\n' "$name" "$rps" "$p50" "$p99" "${errs:-0}"
done
