#!/usr/bin/env bash
# One project of N events (default one million) on each backend — SQLite (embedded),
# PostgreSQL, and ClickHouse events with a PostgreSQL catalog:
#
#  1. `quarry import FILE --project bench` of N/4, N/2 and N events (each into an empty
#     store): wall time and peak RSS (`/usr/bin/time -v`), to show memory stays flat;
#  2. latency (p50/p95 of REPS sequential requests after 2 warm-ups, curl's time_total)
#     through `quarry serve` of a 30-day daily `screen_view` chart, the same with a
#     `country` breakdown, and a 3-step funnel (screen_view → sign_up → purchase);
#  3. on ClickHouse, the same three questions as plain hand-written SQL sent to the same
#     ClickHouse HTTP endpoint, interleaved with Quarry's requests, for a ratio;
#  4. whether the three backends return byte-identical bodies, and whether Quarry's
#     ClickHouse answers equal the hand-written SQL's.
#
# The data comes from benches/backends_gen.py (deterministic for a given "now"); a second
# project of N/20 events shares every store so that the project filter has work to do.
# PostgreSQL and ClickHouse (the chdb-based test server) are started by scripts/ and
# stopped by pid on exit. Markdown tables go to stdout (docs/performance.md records a run).
#
# Usage: benches/backends.sh [EVENTS, default 1000000]
# Environment: REPS (timed requests per cell, default 20), BENCH_OUT (a directory to keep
# the results, response bodies and generated SQL in; default: a temporary one, removed).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
n="${1:-1000000}"
reps="${REPS:-20}"
[[ "$n" =~ ^[0-9]+$ && "$n" -ge 1000 ]] || { echo "usage: $0 [EVENTS >= 1000]" >&2; exit 2; }
sizes=($((n / 4)) $((n / 2)) "$n")
other=$((n / 20))
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

log "building quarry (release)"
cargo build --release -p quarry-server >/dev/null 2>&1 || cargo build --release -p quarry-server
bin="${CARGO_TARGET_DIR:-$root/target}/release/quarry"
# What was built: the commit, and whether the sources differed from it.
rev="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]; then
    rev="$rev + uncommitted changes in crates/"
fi

work="$(mktemp -d /tmp/quarry-bench.XXXXXX)"
res="${BENCH_OUT:-$work/out}"
mkdir -p "$res/samples" "$res/bodies" "$res/sql" "$res/logs"
: >"$res/results.tsv"
record() { local IFS=$'\t'; echo "$*" >>"$res/results.tsv"; }

servers=()
pg_started="" ch_started=""
cleanup() {
    local p
    for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${servers[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ -n "$ch_started" ]; then
        # The server deletes its temporary directory on SIGTERM, but stop-clickhouse.sh
        # sends SIGKILL after 10 s, which can leave it behind: remove what is left.
        local chdir
        chdir="$(tr '\0' '\n' <"/proc/$CLICKHOUSE_PID/cmdline" 2>/dev/null \
            | sed -n '/^--remove-on-exit$/{n;p;q}')" || true
        scripts/stop-clickhouse.sh "$CLICKHOUSE_PID" || true
        case "$chdir" in /tmp/quarry-chdb.*) rm -rf "$chdir" ;; esac
    fi
    if [ -n "$pg_started" ]; then scripts/stop-postgres.sh || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- data -------------------------------------------------------------------------------
now_ms=$(( $(date +%s) * 1000 ))
record info events "$n"
record info other_events "$other"
record info reps "$reps"
record info rev "$rev"
record info now_ms "$now_ms"
gen() { python3 benches/backends_gen.py --now-ms "$now_ms" --days 45 "$@"; }
t0=$EPOCHREALTIME
for s in "${sizes[@]}"; do gen --events "$s" --seed 42 --project bench --out "$work/bench_$s.ndjson"; done
gen --events "$other" --seed 7 --project other --out "$work/other.ndjson"
log "generated ${sizes[*]} (+$other) events in $(python3 -c "print(round($EPOCHREALTIME-$t0,1))") s;" \
    "$(du -h "$work/bench_$n.ndjson" | cut -f1) for $n"

# --- databases --------------------------------------------------------------------------
log "starting PostgreSQL and ClickHouse (chdb)"
eval "$(env -u DATABASE_URL scripts/start-postgres.sh)"
pg_started=1
eval "$(env -u CLICKHOUSE_URL scripts/start-clickhouse.sh)"
ch_started=1
pg_base="${DATABASE_URL%/*}"
psql() { "$QUARRY_TEST_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
chq() { curl -sS --fail-with-body "$CLICKHOUSE_URL/" --data-binary "$1"; }
psql "$DATABASE_URL" -c 'CREATE DATABASE catalog' -c 'CREATE DATABASE bench'

# The environment of one backend's store; the big store is "main", the others are throwaway.
use_backend() { # BACKEND STORE
    unset QUARRY_CLICKHOUSE_URL QUARRY_CLICKHOUSE_DATABASE
    case "$1" in
        sqlite) export QUARRY_DATABASE_URL="sqlite://$work/$2.db" ;;
        pg) export QUARRY_DATABASE_URL="$pg_base/$2" ;;
        ch) export QUARRY_DATABASE_URL="$pg_base/catalog" QUARRY_CLICKHOUSE_URL="$CLICKHOUSE_URL" \
                   QUARRY_CLICKHOUSE_DATABASE="$2" ;;
    esac
}
drop_store() { # BACKEND STORE
    case "$1" in
        sqlite) rm -f "$work/$2.db" "$work/$2.db-wal" "$work/$2.db-shm" ;;
        pg) psql "$DATABASE_URL" -c "DROP DATABASE $2" ;;
        ch) chq "DROP DATABASE $2" ;;
    esac
}
export RUST_LOG=error QUARRY_RATE_LIMIT=off

# --- 1. import --------------------------------------------------------------------------
for b in sqlite pg ch; do
    for s in "${sizes[@]}"; do
        if [ "$s" = "$n" ]; then store=main; else store="imp_$s"; fi
        [ "$b" = pg ] && [ "$store" = main ] && store=bench
        [ "$b" = ch ] && [ "$store" = main ] && store=openpanel
        [ "$b" = pg ] && [ "$store" != bench ] && psql "$DATABASE_URL" -c "CREATE DATABASE $store"
        use_backend "$b" "$store"
        "$bin" migrate >"$res/logs/migrate.$b.$s" 2>&1
        t0=$EPOCHREALTIME
        rc=0
        /usr/bin/time -v -o "$work/time.$b.$s" "$bin" import "$work/bench_$s.ndjson" --project bench \
            >"$res/logs/import.$b.$s" 2>&1 || rc=$?
        secs=$(python3 -c "print(round($EPOCHREALTIME-$t0,2))")
        kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.$b.$s")
        record import "$b" "$s" "$secs" "$kb" "$rc"
        log "import $b $s events: $secs s, max RSS $kb kB, exit $rc: $(tail -n 1 "$res/logs/import.$b.$s")"
        if [ "$store" != main ] && [ "$store" != bench ] && [ "$store" != openpanel ]; then
            drop_store "$b" "$store"
        fi
    done
    # The main store: a second, smaller project, the catalog rows and a read client.
    "$bin" import "$work/other.ndjson" --project other >"$res/logs/import.$b.other" 2>&1 \
        || log "import of the second project on $b failed: $(tail -n 1 "$res/logs/import.$b.other")"
    "$bin" projects create bench --organization bench-org >/dev/null
    "$bin" projects create other --organization bench-org >/dev/null
    "$bin" clients create --type read --project bench >"$work/creds.$b"
done
# Table statistics as after autovacuum's analyze, but at a known moment.
psql "$pg_base/bench" -c 'ANALYZE events'
record size sqlite "$(stat -c %s "$work/main.db")"
record size pg "$(psql "$pg_base/bench" -Atc "SELECT pg_total_relation_size('events')")"
record size ch "$(chq "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'openpanel' AND table = 'events' AND active")"

# --- 2. servers -------------------------------------------------------------------------
declare -A port
for b in sqlite pg ch; do
    case "$b" in sqlite) store=main ;; pg) store=bench ;; ch) store=openpanel ;; esac
    use_backend "$b" "$store"
    port[$b]=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$bin" serve --bind "127.0.0.1:${port[$b]}" >"$res/logs/serve.$b" 2>&1 &
    servers+=($!)
    declare "pid_$b=$!"
done
for b in sqlite pg ch; do
    for _ in $(seq 200); do curl -sf "http://127.0.0.1:${port[$b]}/healthz" >/dev/null && break; sleep 0.1; done
done

enc() { python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
chart_ev=$(enc '[{"name":"screen_view"}]')
country=$(enc '[{"name":"country"}]')
funnel_ev=$(enc '[{"name":"screen_view"},{"name":"sign_up"},{"name":"purchase"}]')
declare -A path=(
    [chart]="/export/charts?projectId=bench&range=30d&interval=day&events=$chart_ev"
    [breakdown]="/export/charts?projectId=bench&range=30d&interval=day&events=$chart_ev&breakdowns=$country"
    [funnel]="/export/funnel?projectId=bench&range=30d&events=$funnel_ev"
    [floor]="/healthz"
)
get() { # BACKEND PATH OUT -> "code seconds"
    local creds id secret
    creds="$(cat "$work/creds.$1")"
    id="$(sed -E 's/.*"id":"([^"]+)".*/\1/' <<<"$creds")"
    secret="$(sed -E 's/.*"secret":"([^"]+)".*/\1/' <<<"$creds")"
    curl -s -o "$3" -w '%{http_code} %{time_total}\n' -H "openpanel-client-id: $id" \
        -H "openpanel-client-secret: $secret" "http://127.0.0.1:${port[$1]}$2"
}

# The SQL Quarry generates, for the record.
for q in chart breakdown; do
    "$bin" compile --dialect clickhouse --endpoint charts --project bench "${path[$q]#*\?}" \
        >"$res/sql/$q.quarry.sql" 2>&1 || true
done
"$bin" compile --dialect clickhouse --endpoint funnel --project bench "${path[funnel]#*\?}" \
    >"$res/sql/funnel.quarry.sql" 2>&1 || true

# Hand-written ClickHouse SQL of the same meaning: the window is Quarry's `30d` (from the
# start of the UTC day 30 days ago to now), computed once here.
now_q=$(( $(date +%s%3N) ))
start_q=$(( now_q / 86400000 * 86400000 - 30 * 86400000 ))
where="project_id = 'bench' AND created_at >= fromUnixTimestamp64Milli($start_q) AND created_at <= fromUnixTimestamp64Milli($now_q)"
cat >"$res/sql/chart.raw.sql" <<SQL
SELECT toStartOfDay(created_at, 'UTC') AS d, count() AS c
FROM events
WHERE $where AND name = 'screen_view'
GROUP BY d ORDER BY d
FORMAT JSONCompact
SQL
cat >"$res/sql/breakdown.raw.sql" <<SQL
SELECT toStartOfDay(created_at, 'UTC') AS d, country, count() AS c
FROM events
WHERE $where AND name = 'screen_view'
  AND country IN (SELECT country FROM events WHERE $where AND name = 'screen_view'
                  GROUP BY country ORDER BY count() DESC LIMIT 300)
GROUP BY d, country ORDER BY d, country
FORMAT JSONCompact
SQL
cat >"$res/sql/funnel.raw.sql" <<SQL
SELECT level, count() AS sessions
FROM (
  SELECT session_id,
         windowFunnel(86400000, 'strict_increase')(toUInt64(toUnixTimestamp64Milli(created_at)),
           name = 'screen_view', name = 'sign_up', name = 'purchase') AS level
  FROM events
  WHERE $where AND session_id != '' AND name IN ('screen_view', 'sign_up', 'purchase')
  GROUP BY session_id
)
WHERE level > 0
GROUP BY level ORDER BY level
FORMAT JSONCompact
SQL
echo "SELECT 1 FORMAT JSONCompact" >"$res/sql/floor.raw.sql"
raw() { # QUERY OUT -> "code seconds"
    curl -s -o "$2" -w '%{http_code} %{time_total}\n' "$CLICKHOUSE_URL/?database=openpanel" \
        --data-binary @"$res/sql/$1.raw.sql"
}
engine() { # OUT -> the engine's own elapsed seconds, from the JSONCompact statistics
    sed -n 's/.*"elapsed": *\([0-9.e+-]*\).*/\1/p' "$1"
}

# --- 3. latency: every round asks each target once, so noise hits them alike -------------
for q in floor chart breakdown funnel; do
    log "latency: $q"
    for _ in 1 2; do
        for b in sqlite pg ch; do get "$b" "${path[$q]}" "$res/bodies/$q.$b.json" >/dev/null; done
        raw "$q" "$res/bodies/$q.raw.json" >/dev/null
    done
    for t in sqlite pg ch raw engine; do : >"$res/samples/$q.$t"; done
    for _ in $(seq "$reps"); do
        for b in sqlite pg ch; do get "$b" "${path[$q]}" "$work/body" >>"$res/samples/$q.$b"; done
        raw "$q" "$work/body" >>"$res/samples/$q.raw"
        echo "200 $(engine "$work/body")" >>"$res/samples/$q.engine"
    done
done
for b in sqlite pg ch; do
    p="pid_$b"
    record serve_rss "$b" "$(awk '/VmHWM/ {print $2}' "/proc/${!p}/status")"
done
record serve_rss chdb "$(awk '/VmHWM/ {print $2}' "/proc/$CLICKHOUSE_PID/status")"

# --- 4. answers -------------------------------------------------------------------------
# `range=30d` responses carry "now" in meta.endDate, which differs between requests: the
# byte comparison also runs on a fixed window of whole days (30 days ago to yesterday).
day=86400
today=$(( $(date -u +%s) / day * day ))
from=$(date -u -d "@$(( today - 30 * day ))" +%F)
to=$(date -u -d "@$(( today - day ))" +%F)
declare -A fixed=(
    [chart_fixed]="/export/charts?projectId=bench&startDate=$from&endDate=$to&interval=day&events=$chart_ev"
    [breakdown_fixed]="/export/charts?projectId=bench&startDate=$from&endDate=$to&interval=day&events=$chart_ev&breakdowns=$country"
    [funnel_fixed]="/export/funnel?projectId=bench&startDate=$from&endDate=$to&events=$funnel_ev"
    [events_page]="/export/events?projectId=bench&limit=50&start=$from&end=$to&includes=properties,sessionId,latitude,longitude"
)
for q in chart_fixed breakdown_fixed funnel_fixed events_page; do
    for b in sqlite pg ch; do
        code=$(get "$b" "${fixed[$q]}" "$res/bodies/$q.$b.json" | cut -d' ' -f1)
        [ "$code" = 200 ] || log "$q on $b: HTTP $code: $(head -c 300 "$res/bodies/$q.$b.json")"
    done
    window="startDate=$from&endDate=$to"
    [ "$q" = events_page ] && window="start=$from&end=$to, limit=50"
    record identity "$q ($window)" "$(python3 benches/backends_report.py compare \
        "$work/cmp" "$res/bodies/$q".{sqlite,pg,ch}.json)"
done
for q in chart breakdown funnel; do
    for b in sqlite pg ch; do
        sed -E 's/"endDate":"[^"]*"/"endDate":"…"/' "$res/bodies/$q.$b.json" >"$work/$q.$b.masked"
    done
    record identity "$q (range=30d, meta.endDate masked)" "$(python3 benches/backends_report.py compare \
        "$work/cmp" "$work/$q".{sqlite,pg,ch}.masked)"
    record check "$q" "$(python3 benches/backends_report.py check "$q" "$res/bodies/$q.ch.json" \
        "$res/bodies/$q.raw.json" 2>&1 || true)"
done

python3 benches/backends_report.py table "$res"
echo
echo "reproduce: benches/backends.sh $n   (REPS=$reps; built from $rev; $(nproc) cores; $(date -u +%F))"
