#!/usr/bin/env bash
# The OpenAPI document (crates/server/assets/openapi.json) against the real server:
# schemathesis runs every operation with the document's examples, the coverage phase's
# boundary and type-breaking values and seeded random cases, and fails on a 5xx, an
# undocumented status, content type or header, a response that does not match its schema,
# an invalid request that is not rejected, or a custom check of tests/openapi/hooks.py
# (Event and error key order, every NDJSON line, whole CSV/Parquet bodies).
#
#   scripts/schemathesis.sh [QUARRY_BINARY]     (default target/debug/quarry; run from the repo root)
#
# Needs python3 (3.11 or later) with venv; on Debian, as root, python3-venv is installed
# when missing. The tools go to .venv/schemathesis (pinned in tests/openapi/requirements.txt),
# the demo database to a temporary directory, the reports to target/schemathesis/.
# Settings (seed, examples per operation, checks) are in tests/openapi/schemathesis.toml;
# extra arguments for `st run` can be given in SCHEMATHESIS_ARGS (e.g. "-n 200 --seed 7").
set -euo pipefail

QUARRY=${1:-target/debug/quarry}
PYTHON=${PYTHON:-python3}
VENV=.venv/schemathesis
REQUIREMENTS=tests/openapi/requirements.txt
REPORTS=target/schemathesis

if [[ ! -f tests/openapi/schemathesis.toml ]]; then
    echo "run this from the repository root" >&2
    exit 2
fi
if [[ ! -x $QUARRY ]]; then
    echo "no quarry binary at $QUARRY (build it with cargo build -p quarry-server, or pass its path)" >&2
    exit 2
fi
QUARRY=$(cd "$(dirname "$QUARRY")" && pwd)/$(basename "$QUARRY")

# --- the tools ---------------------------------------------------------------------------
if ! "$PYTHON" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        echo "installing python3 and python3-venv" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
    fi
    "$PYTHON" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' || {
        echo "$PYTHON must be Python 3.11 or later with venv (Debian: apt-get install python3-venv)" >&2
        exit 2
    }
fi
stamp=$VENV/.requirements.sha256
wanted=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [[ ! -x $VENV/bin/st || ! -f $stamp || $(cat "$stamp") != "$wanted" ]]; then
    echo "installing schemathesis into $VENV" >&2
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$wanted" >"$stamp"
fi

"$VENV/bin/python" tests/openapi/check_document.py crates/server/assets/openapi.json

# --- the server --------------------------------------------------------------------------
work=$(mktemp -d)
server=
# shellcheck disable=SC2317 # run by the trap
cleanup() {
    if [[ -n $server ]]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The run must not depend on the caller's settings (a config file, another database).
while read -r name; do unset "$name"; done < <(compgen -e | grep '^QUARRY_' || true)

"$QUARRY" --bind 127.0.0.1:0 --rate-limit off demo --db "$work/demo.db" --events 20000 \
    >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do
    grep -q 'client secret:' "$work/server.log" && break
    if ! kill -0 "$server" 2>/dev/null; then
        cat "$work/server.log" >&2
        echo "the demo server exited" >&2
        exit 1
    fi
    sleep 0.1
done
base=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/server.log" | head -n1)
QUARRY_CLIENT_ID=$(awk '/client id:/ {print $3}' "$work/server.log")
QUARRY_CLIENT_SECRET=$(awk '/client secret:/ {print $3}' "$work/server.log")
if [[ -z $base || -z $QUARRY_CLIENT_ID || -z $QUARRY_CLIENT_SECRET ]]; then
    cat "$work/server.log" >&2
    echo "could not read the demo's address and credentials" >&2
    exit 1
fi
export QUARRY_CLIENT_ID QUARRY_CLIENT_SECRET
# Event metadata, so that `includes=meta` has rows to return (the demo seeds none).
"$QUARRY" --database-url "sqlite://$work/demo.db" event-meta set --project demo \
    --name purchase --conversion --color '#16a34a' --icon cart >/dev/null
"$QUARRY" --database-url "sqlite://$work/demo.db" event-meta set --project demo \
    --name sign_up >/dev/null

# --- the run -----------------------------------------------------------------------------
mkdir -p "$REPORTS"
export SCHEMATHESIS_HOOKS=$PWD/tests/openapi/hooks.py
# Hypothesis keeps its own files (constants, examples) out of the tree.
export HYPOTHESIS_STORAGE_DIRECTORY=$work/hypothesis
started=$SECONDS
status=0
# shellcheck disable=SC2086 # SCHEMATHESIS_ARGS is a list of words on purpose
"$VENV/bin/st" --config-file tests/openapi/schemathesis.toml run "$base/openapi.json" \
    --wait-for-schema 30 --no-color \
    --report junit,har --report-dir "$REPORTS" ${SCHEMATHESIS_ARGS:-} || status=$?
echo "schemathesis: exit $status after $((SECONDS - started)) s; reports in $REPORTS/" >&2
if ! kill -0 "$server" 2>/dev/null; then
    echo "the server died during the run:" >&2
    tail -n 50 "$work/server.log" >&2
    status=1
elif grep -qi 'panicked' "$work/server.log"; then
    echo "the server panicked during the run:" >&2
    grep -i -A5 'panicked' "$work/server.log" | head -n 40 >&2
    status=1
fi
exit "$status"
