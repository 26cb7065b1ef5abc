#!/usr/bin/env bash
# Stop a server started by scripts/start-clickhouse.sh:
#   scripts/stop-clickhouse.sh [PID]     (defaults to $CLICKHOUSE_PID)
# Does nothing when there is no PID (CLICKHOUSE_URL pointed at a real ClickHouse).
# Only a process running scripts/chdb_server.py is signalled. SIGTERM first (the server
# then deletes its temporary data directory), SIGKILL after 10 s.
set -euo pipefail

pid="${1:-${CLICKHOUSE_PID:-}}"
if [[ -z "$pid" ]]; then
    exit 0
fi
if [[ ! "$pid" =~ ^[0-9]+$ ]]; then
    echo "stop-clickhouse: not a PID: $pid" >&2
    exit 2
fi
if ! kill -0 "$pid" 2>/dev/null; then
    exit 0
fi
if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'chdb_server\.py'; then
    echo "stop-clickhouse: PID $pid is not the chdb test server; not stopping it" >&2
    exit 1
fi

kill -TERM "$pid" 2>/dev/null || exit 0
for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || exit 0
    sleep 0.1
done
echo "stop-clickhouse: PID $pid ignored SIGTERM; sending SIGKILL" >&2
kill -KILL "$pid" 2>/dev/null || true
