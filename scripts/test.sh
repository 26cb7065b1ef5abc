#!/usr/bin/env bash
# The whole test suite, from a fresh machine: everything the tests need is installed and
# started here, and what is started here is stopped, by process id, on exit.
#
# - SQLite is bundled with the sqlx driver.
# - PostgreSQL: a throwaway server (scripts/start-postgres.sh; installed from Debian when
#   missing) unless DATABASE_URL points at a real one.
# - ClickHouse: the project's chdb-based test server (scripts/start-clickhouse.sh) unless
#   CLICKHOUSE_URL points at a real one.
set -euo pipefail
cd "$(dirname "$0")/.."

# Snapshots must match exactly: never write .snap.new files here.
export INSTA_UPDATE=no
export CI="${CI:-true}"

started_pg=""
started_ch=""
cleanup() {
    if [[ -n "$started_ch" ]]; then scripts/stop-clickhouse.sh "$started_ch" || true; fi
    if [[ -n "$started_pg" ]]; then scripts/stop-postgres.sh || true; fi
}
trap cleanup EXIT

if [[ -z "${DATABASE_URL:-}" ]]; then
    eval "$(scripts/start-postgres.sh)"
    started_pg="$QUARRY_TEST_PG_PID"
fi
if [[ -z "${CLICKHOUSE_URL:-}" ]]; then
    eval "$(scripts/start-clickhouse.sh)"
    started_ch="$CLICKHOUSE_PID"
fi
export DATABASE_URL CLICKHOUSE_URL
# The outage tests (crates/server/tests/outage.rs) start and stop servers of their own:
# they need the chdb virtual environment even when CLICKHOUSE_URL names a real server.
scripts/start-clickhouse.sh --install-only

# Every crate's tests: the conformance suite runs on all three engines here.
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
scripts/check-snapshots.sh

# The explorer page in Debian's Chromium, against the demo server the tests above built
# (installs chromium and playwright-core when missing; screenshots in
# target/browser-artifacts/).
scripts/browser-test.sh target/debug/quarry

# Every operation of the OpenAPI document against the demo server: its examples and
# generated cases, no 5xx, every response valid against the document (schemathesis from
# PyPI, pinned in tests/openapi/requirements.txt, into .venv/schemathesis).
scripts/schemathesis.sh target/debug/quarry

# The server's HTTP integration and abuse tests again on the other two shapes of §1.
QUARRY_TEST_BACKEND=postgres cargo test -p quarry-server --test api --test abuse --test export --locked
QUARRY_TEST_BACKEND=clickhouse cargo test -p quarry-server --test api --test abuse --test export --locked

# The ClickHouse test server's own protocol tests (they start their own instance).
if [[ -x .venv/chdb/bin/python ]]; then
    .venv/chdb/bin/python scripts/test_chdb_server.py
fi

# A short coverage-guided run of every fuzz target over its committed corpus
# (docs/fuzzing.md): about 3 minutes from a cold machine, mostly building.
FUZZ_SMOKE_SECONDS="${FUZZ_SMOKE_SECONDS:-15}" scripts/fuzz-smoke.sh
