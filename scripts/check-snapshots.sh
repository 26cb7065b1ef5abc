#!/usr/bin/env bash
# CI gate for the compiler's snapshots (crates/core/tests/snapshots.rs).
#
# Fails when:
#   - a pending snapshot (*.snap.new, *.pending-snap) exists anywhere under crates/;
#   - a snapshot does not match what the compiler produces now, or is missing
#     (the test runs with INSTA_UPDATE=no, so it never writes files);
#   - a snapshot in crates/core/tests/snapshots/ is unreferenced: its name is not
#     <fixture>@<dialect>.snap for a fixture in crates/core/tests/fixtures/*.txt and a
#     dialect in {clickhouse, postgres, sqlite}.
#
# Needs only cargo and coreutils (no cargo-insta).
# Usage: scripts/check-snapshots.sh [--files-only]   (--files-only skips the cargo test)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tests="$root/crates/core/tests"
dialects=(clickhouse postgres sqlite)
status=0

check_pending() {
    local pending
    pending="$(find "$root/crates" -path '*/target' -prune -o \
        \( -name '*.snap.new' -o -name '*.pending-snap' \) -print | sort)"
    if [[ -n "$pending" ]]; then
        echo "error: pending snapshots (review them with cargo insta review, or delete them):" >&2
        sed 's/^/  /' <<<"$pending" >&2
        status=1
    fi
}

check_pending

if [[ "${1:-}" != "--files-only" ]]; then
    if ! (cd "$root" && INSTA_UPDATE=no INSTA_FORCE_PASS=0 CI=true \
        cargo test --quiet -p quarry-core --test snapshots); then
        echo "error: snapshots differ from the compiler's output (see above);" \
            "regenerate with INSTA_UPDATE=always cargo test -p quarry-core --test snapshots" \
            "and review the diff" >&2
        status=1
    fi
fi

expected="$(
    for f in "$tests"/fixtures/*.txt; do
        [[ -e "$f" ]] || continue
        name="$(basename "$f" .txt)"
        for d in "${dialects[@]}"; do
            echo "$name@$d.snap"
        done
    done | sort
)"
actual="$(find "$tests/snapshots" -maxdepth 1 -type f -name '*.snap' -printf '%f\n' 2>/dev/null | sort)"

unreferenced="$(comm -13 <(echo "$expected") <(echo "$actual") | sed '/^$/d')"
if [[ -n "$unreferenced" ]]; then
    echo "error: unreferenced snapshots (no such fixture or dialect; delete them):" >&2
    sed 's/^/  crates\/core\/tests\/snapshots\//' <<<"$unreferenced" >&2
    status=1
fi
missing="$(comm -23 <(echo "$expected") <(echo "$actual") | sed '/^$/d')"
if [[ -n "$missing" ]]; then
    echo "error: missing snapshots (run the snapshot test to create them, then review):" >&2
    sed 's/^/  crates\/core\/tests\/snapshots\//' <<<"$missing" >&2
    status=1
fi

if [[ $status -eq 0 ]]; then
    echo "snapshots: $(wc -l <<<"$actual") files, all referenced, none pending"
fi
exit $status
