#!/usr/bin/env bash
# Start a ClickHouse-HTTP-compatible test server (scripts/chdb_server.py: chdb, i.e. the
# ClickHouse engine in-process, from PyPI) in the background and print, on stdout only:
#
#   export CLICKHOUSE_URL=http://127.0.0.1:<port>
#   export CLICKHOUSE_PID=<pid>
#
# so that a caller can `eval "$(scripts/start-clickhouse.sh)"`; stop it with
# `scripts/stop-clickhouse.sh "$CLICKHOUSE_PID"`. Everything else goes to stderr.
#
# If CLICKHOUSE_URL is already set (a real ClickHouse), nothing is started: the URL is
# echoed back (and CLICKHOUSE_PID is left empty).
#
# The chdb engine is installed once into .venv/chdb (gitignored) with
# `pip install --no-deps chdb-core==$CHDB_CORE_VERSION`: chdb-core declares pandas and
# pyarrow as dependencies but needs neither for plain SQL. The server's data lives in a
# fresh temporary directory that is deleted when the server exits. Extra server flags can
# be passed in CHDB_SERVER_ARGS (e.g. "--verbose" to log every request to the log file).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv/chdb"
chdb_version="${CHDB_CORE_VERSION:-26.9.0}"
lz4_version=4.4.5
cityhash_version=1.0.2.6

install_chdb() {
    if ! "$venv/bin/python" -c 'import chdb' >/dev/null 2>&1; then
        echo "start-clickhouse: installing chdb-core $chdb_version into $venv" >&2
        if ! python3 -m venv "$venv" >&2; then
            # Debian splits ensurepip into python3-venv.
            rm -rf "$venv"
            DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
                python3-venv >&2
            python3 -m venv "$venv" >&2
        fi
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
            "chdb-core==$chdb_version" >&2
        "$venv/bin/python" -c 'import chdb' >&2
    fi
    # The server decodes the client's LZ4-compressed inserts and verifies their CityHash
    # checksums; in pure Python that took most of an import's time (docs/testing.md).
    # Both accelerators are optional to the server, but installed here.
    if ! "$venv/bin/python" -c 'import lz4.block, clickhouse_cityhash.cityhash' >/dev/null 2>&1; then
        echo "start-clickhouse: installing lz4 and clickhouse-cityhash into $venv" >&2
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            "lz4==$lz4_version" "clickhouse-cityhash==$cityhash_version" >&2
    fi
}

# `--install-only`: just make sure the venv exists (the outage test starts its own server).
if [[ "${1:-}" == "--install-only" ]]; then
    install_chdb
    exit 0
fi

if [[ -n "${CLICKHOUSE_URL:-}" ]]; then
    printf 'export CLICKHOUSE_URL=%q\n' "$CLICKHOUSE_URL"
    printf 'export CLICKHOUSE_PID=\n'
    exit 0
fi

install_chdb

tmp="$(mktemp -d "${TMPDIR:-/tmp}/quarry-chdb.XXXXXX")"
nohup "$venv/bin/python" "$root/scripts/chdb_server.py" \
    --host 127.0.0.1 --port 0 \
    --data-dir "$tmp/data" --port-file "$tmp/port" --pid-file "$tmp/pid" \
    --remove-on-exit "$tmp" ${CHDB_SERVER_ARGS:-} \
    </dev/null >"$tmp/server.log" 2>&1 &
launcher=$!

# Wait for the port file, then for /ping (the first start of chdb takes a few seconds).
deadline=$((SECONDS + 90))
port=""
while :; do
    if [[ -z "$port" && -s "$tmp/port" ]]; then
        port="$(cat "$tmp/port")"
    fi
    if [[ -n "$port" ]] && "$venv/bin/python" - "$port" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/ping", timeout=2) as r:
    sys.exit(0 if r.read() == b"Ok.\n" else 1)
EOF
    then
        break
    fi
    if ! kill -0 "$launcher" 2>/dev/null || ((SECONDS > deadline)); then
        echo "start-clickhouse: the chdb test server did not come up; its log:" >&2
        cat "$tmp/server.log" >&2 || true
        kill "$launcher" 2>/dev/null || true
        rm -rf "$tmp"
        exit 1
    fi
    sleep 0.2
done

pid="$(cat "$tmp/pid" 2>/dev/null || echo "$launcher")"
echo "start-clickhouse: chdb test server on port $port (pid $pid, log $tmp/server.log)" >&2
printf 'export CLICKHOUSE_URL=http://127.0.0.1:%s\n' "$port"
printf 'export CLICKHOUSE_PID=%s\n' "$pid"
