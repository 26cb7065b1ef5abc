#!/usr/bin/env bash
# Start a throwaway PostgreSQL for the tests and print `export` lines for the caller:
#   eval "$(scripts/start-postgres.sh)"
# Does nothing but echo DATABASE_URL back when it is already set (a real server).
# Installs PostgreSQL from Debian when missing. Stop it with scripts/stop-postgres.sh.
set -euo pipefail

if [ -n "${DATABASE_URL:-}" ]; then
    echo "export DATABASE_URL='$DATABASE_URL'"
    exit 0
fi

find_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
bindir="$(find_bindir)"
if [ -z "$bindir" ]; then
    echo "installing PostgreSQL from Debian…" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >/dev/null
    apt-get install -y --no-install-recommends postgresql >/dev/null
    bindir="$(find_bindir)"
fi

dir="$(mktemp -d /tmp/quarry-pg.XXXXXX)"
as_owner=()
if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root.
    chown postgres "$dir"
    as_owner=(runuser -u postgres --)
fi
"${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# The settings go into the server's own configuration, so that a plain
# `pg_ctl -D "$dir/data" -l "$dir/log" start` (the outage test) restarts it on the same port.
cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
unix_socket_directories = '$dir'
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF
"${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start >/dev/null
pid="$(head -n 1 "$dir/data/postmaster.pid")"
echo "export DATABASE_URL='postgres://postgres@127.0.0.1:$port/postgres'"
echo "export QUARRY_TEST_PG_DIR='$dir'"
echo "export QUARRY_TEST_PG_BIN='$bindir'"
echo "export QUARRY_TEST_PG_PID='$pid'"
