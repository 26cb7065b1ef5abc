#!/usr/bin/env bash
# Stop the PostgreSQL that scripts/start-postgres.sh started (by process id) and remove it.
set -u
pid="${QUARRY_TEST_PG_PID:-}"
dir="${QUARRY_TEST_PG_DIR:-}"
if [ -n "$pid" ]; then
    kill -INT "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fi
case "$dir" in /tmp/quarry-pg.*) rm -rf "$dir" ;; esac
exit 0
