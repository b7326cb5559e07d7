#!/usr/bin/env bash
# The second command: every check and test, against a real PostgreSQL + PostGIS and a real
# headless Chromium, all started here and stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --with-browser

step() { printf '\n\033[1m==> %s\033[0m  (%dm%02ds so far)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "map client: type check and build"
(cd map-client && npm run --silent typecheck && npm run --silent build >/dev/null)

step "building wangge and its tests"
# Not the examples (the benchmarks' programs): clippy above has checked them with
# --all-targets, and linking each against the whole server took over a minute here.
cargo build --workspace --bins --tests --quiet

work=$(mktemp -d /tmp/wangge-test.XXXXXX)
chmod 755 "$work"
demo_pid=""
cleanup() {
    [[ -n "$demo_pid" ]] && kill "$demo_pid" 2>/dev/null && wait "$demo_pid" 2>/dev/null || true
    target/debug/wangge --data-dir "$work/pg" db stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

step "starting a private PostgreSQL + PostGIS for the tests"
WANGGE_TEST_DATABASE_URL=$(target/debug/wangge --data-dir "$work/pg" db start | tail -n 1)
export WANGGE_TEST_DATABASE_URL

# The browser tests' demo generates and loads while the Rust tests run (those mostly wait on
# PostgreSQL): a minute or two less in all.
step "starting the small demo for the browser tests, in the background"
# Passed to the demo and the browser tests only: the Rust tests run the binary too and must
# not inherit them. A short hot spot scan, so the alert test sees its alert within seconds
# (the tests read the same variable).
port=18090
browser_env=(WANGGE_DEMO_PASSWORD="browser-test-$RANDOM$RANDOM" WANGGE_HOTSPOT_SCAN_SECS=10)
env "${browser_env[@]}" target/debug/wangge --data-dir "$work/demo" demo --scale small \
    --listen "127.0.0.1:$port" >"$work/demo.log" 2>&1 &
demo_pid=$!

step "Rust unit and integration tests (three test binaries at once)"
scripts/run-tests.sh 3

step "browser tests (headless Chromium) against the small demo"
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    kill -0 "$demo_pid" 2>/dev/null || { cat "$work/demo.log"; exit 1; }
    sleep 1
done
# The planners' tests publish a new grid: they run last, after every test that reads the
# demo's own.
mapfile -t browser_tests < <(ls tests/browser/*.test.mjs | grep -v '/plans\.test\.mjs$')
env "${browser_env[@]}" WANGGE_URL="http://127.0.0.1:$port" node --test "${browser_tests[@]}"
env "${browser_env[@]}" WANGGE_URL="http://127.0.0.1:$port" node --test tests/browser/plans.test.mjs
kill "$demo_pid" && wait "$demo_pid" || true
demo_pid=""
grep -q "wangge stopped" "$work/demo.log" || { echo "wangge did not stop cleanly:"; cat "$work/demo.log"; exit 1; }

step "all checks and tests passed"
