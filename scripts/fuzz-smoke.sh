#!/usr/bin/env bash
# A short smoke run of every fuzz target in fuzz/ (docs/fuzzing.md): each target replays
# its committed corpus, then fuzzes for FUZZ_SMOKE_SECONDS (default 20). Exits non-zero
# on the first crash, leaving the reproducer in fuzz/artifacts/<target>/.
#
# Installs cargo-fuzz from crates.io when it is missing. The machine's toolchain is stable:
# cargo-fuzz passes nightly-only flags (-Zsanitizer, sanitizer coverage), which stable
# rustc accepts with RUSTC_BOOTSTRAP=1, set here for the fuzz build only.
#
# Environment:
#   FUZZ_SMOKE_SECONDS  fuzzing time per target, corpus replay included (default 20)
#   FUZZ_TARGETS        targets to run (default: "qs request import_line")
#   CARGO_TARGET_DIR    where to build (default: fuzz/target, gitignored)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SMOKE_SECONDS:-20}"
targets="${FUZZ_TARGETS:-qs request import_line}"
cargo_fuzz_version=0.13.2

now() { date +%s; }
t0=$(now)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz $cargo_fuzz_version" >&2
    cargo install cargo-fuzz --locked --version "$cargo_fuzz_version"
fi
t1=$(now)

# The same build as the documented runs: release with debug assertions and overflow checks
# (-a), no sanitizer (-s none; see docs/fuzzing.md for why).
build_flags=(--fuzz-dir fuzz -a -s none)
RUSTC_BOOTSTRAP=1 cargo fuzz build "${build_flags[@]}"
t2=$(now)

# New inputs go to a scratch directory, never into the committed corpus.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

for target in $targets; do
    extra=()
    if [[ -f "fuzz/dict/$target.dict" ]]; then
        extra+=("-dict=fuzz/dict/$target.dict")
    fi
    mkdir -p "$scratch/$target"
    echo "fuzz-smoke: $target for ${seconds}s" >&2
    log="$scratch/$target.log"
    if ! RUSTC_BOOTSTRAP=1 cargo fuzz run "${build_flags[@]}" "$target" \
        "$scratch/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -max_len=8192 \
        -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "${extra[@]}" >"$log" 2>&1; then
        tail -n 80 "$log" >&2
        echo "fuzz-smoke: $target FAILED (reproducer in fuzz/artifacts/$target/)" >&2
        exit 1
    fi
    grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec)' "$log" >&2
done
t3=$(now)

echo "fuzz-smoke: ok (install $((t1 - t0))s, build $((t2 - t1))s, run $((t3 - t2))s)" >&2
