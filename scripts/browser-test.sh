#!/usr/bin/env bash
# The explorer page's browser test (tests/browser/explorer.test.mjs), from a fresh Debian 12
# machine: Debian's Chromium is installed when missing, playwright-core (pinned) from
# tests/browser/package-lock.json, and a demo server is started on a throwaway database and
# stopped, by process id, on exit.
#
#   scripts/browser-test.sh [path/to/quarry]          (default target/debug/quarry)
#   UPDATE_SCREENSHOT=1 scripts/browser-test.sh ...   also rewrites docs/explorer.png
#
# Screenshots of every step go to target/browser-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

quarry="${1:-target/debug/quarry}"
if [[ ! -x "$quarry" ]]; then
    echo "browser-test: no quarry binary at $quarry (build it, or pass its path)" >&2
    exit 2
fi
quarry="$(cd "$(dirname "$quarry")" && pwd)/$(basename "$quarry")"

# Debian's own Chromium (Playwright must never download a browser of its own), and curl,
# which runs the command the page shows.
missing=()
if [[ ! -x /usr/bin/chromium ]]; then missing+=(chromium); fi
if ! command -v curl >/dev/null; then missing+=(curl); fi
if ((${#missing[@]})); then
    sudo=""
    if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

# playwright-core only, exactly as locked. `npm ci` is skipped when the installed copy
# already matches the lock file (npm records what it installed in .package-lock.json).
if ! cmp -s <(node -p "require('./tests/browser/package-lock.json').packages['node_modules/playwright-core'].version") \
            <(node -p "require('./tests/browser/node_modules/playwright-core/package.json').version" 2>/dev/null); then
    npm ci --prefix tests/browser --include=dev --no-audit --no-fund --loglevel=error
fi

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# A small seeded demo on a free port. The rate limit stays at its default: the test keeps
# well under it, and a page that mishandled 429s should not be hidden.
"$quarry" --bind 127.0.0.1:0 demo --db "$tmp/demo.db" --events 20000 \
    >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!

# The demo prints its address, then the client id, secret and project, once seeded.
for _ in $(seq 1 600); do
    if grep -q '^ *project:' "$tmp/server.out" 2>/dev/null; then break; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "browser-test: the demo server exited" >&2
        cat "$tmp/server.err" >&2
        exit 1
    fi
    sleep 0.1
done
field() { sed -n "s/^ *$1: *//p" "$tmp/server.out" | head -n 1; }
QUARRY_URL="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$tmp/server.out" | head -n 1)"
QUARRY_CLIENT_ID="$(field 'client id')"
QUARRY_CLIENT_SECRET="$(field 'client secret')"
QUARRY_PROJECT="$(field project)"
if [[ -z "$QUARRY_URL" || -z "$QUARRY_CLIENT_ID" || -z "$QUARRY_CLIENT_SECRET" ]]; then
    echo "browser-test: the demo server did not print its address and client" >&2
    cat "$tmp/server.out" "$tmp/server.err" >&2
    exit 1
fi
export QUARRY_URL QUARRY_CLIENT_ID QUARRY_CLIENT_SECRET QUARRY_PROJECT
export CHROMIUM_PATH=/usr/bin/chromium

mkdir -p target/browser-artifacts
node --test --test-reporter=spec tests/browser/explorer.test.mjs
