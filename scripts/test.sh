#!/usr/bin/env bash
# The whole test suite, from a fresh machine: everything the tests need is installed and
# started here. SQLite is bundled with the sqlx driver, so the embedded backend needs
# nothing beyond Rust.
set -euo pipefail
cd "$(dirname "$0")/.."

# Snapshots must match exactly: never write .snap.new files here.
export INSTA_UPDATE=no
export CI="${CI:-true}"

cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
scripts/check-snapshots.sh
