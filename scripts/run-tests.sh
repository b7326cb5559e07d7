#!/usr/bin/env bash
# Runs every Rust test binary of the workspace, several at once (the server's integration
# tests module by module), then the doctests.
#
# `cargo test` runs its test binaries one after another; most of their time is spent waiting
# on PostgreSQL, so running a few side by side cuts the wall time without starving either
# core. Each binary runs from its package's folder, as cargo runs it, with its output kept and
# shown whole when it ends (failures in full, passes as their summary line). The slowest
# binaries start first, so the run ends when the longest one does.
#
# Usage: scripts/run-tests.sh [JOBS]   (default 3; the tests need WANGGE_TEST_DATABASE_URL)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-3}

# Test binaries as cargo builds them: "package folder<TAB>executable" per line.
list=$(cargo test --workspace --no-run --message-format=json 2>/dev/null | node -e '
    const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean);
    for (const line of lines) {
        const m = JSON.parse(line);
        if (m.reason === "compiler-artifact" && m.profile && m.profile.test && m.executable) {
            console.log(require("path").dirname(m.manifest_path) + "\t" + m.executable);
        }
    }')
[[ -n "$list" ]] || { echo "no test binaries were built"; exit 1; }

# The server's integration tests are one binary (tests/integration.rs) whose modules run side
# by side, each as its own job: "folder<TAB>executable<TAB>module::".
integration=$(grep -E "/deps/integration-[0-9a-f]+$" <<<"$list" || true)
[[ -n "$integration" ]] || { echo "the integration test binary was not built"; exit 1; }
listed=$("${integration#*$'\t'}" --list 2>/dev/null | grep -E ': test$' || true)
modules=$(sed -nE 's/^([a-z0-9_]+)::.*: test$/\1/p' <<<"$listed" | sort -u)
[[ -n "$modules" ]] || { echo "the integration test binary lists no tests"; exit 1; }
# A test outside every module would be run by no job.
if grep -vE '^[a-z0-9_]+::' <<<"$listed"; then echo "integration tests outside a module (above)"; exit 1; fi
jobs_list=$( { grep -vE "/deps/integration-[0-9a-f]+$" <<<"$list" || true
               for m in $modules; do printf '%s\t%s::\n' "$integration" "$m"; done; } )

# Slowest first (seen on a 2-core machine): a thousand grid plan edits, whole-demo
# generation, sign-in throttling, intake, the live feed, imports.
slow="plans demo auth intake live import crash"
tab=$'\t'
ordered=$( { for name in $slow; do grep -E "${tab}${name}::$" <<<"$jobs_list" || true; done
             grep -vE "${tab}($(tr ' ' '|' <<<"$slow"))::$" <<<"$jobs_list"; } )

logs=$(mktemp -d /tmp/wangge-tests.XXXXXX)
trap 'rm -rf "$logs"' EXIT
export logs
run_one() {
    local dir exe filter
    IFS=$'\t' read -r dir exe filter <<<"$1"
    local name
    name=$(basename "$exe" | sed 's/-[0-9a-f]*$//')${filter:+ $filter}
    local log="$logs/${name// /_}.log" started=$SECONDS
    if (cd "$dir" && "$exe" --quiet ${filter:+"$filter"}) >"$log" 2>&1; then
        printf 'ok   %-28s %4ss  %s\n' "$name" \
            "$((SECONDS - started))" "$(grep -E '^test result' "$log" | tail -n 1)"
    else
        printf 'FAIL %s %s (%s)\n' "$exe" "$filter" "$dir"
        cat "$log"
        return 1
    fi
}
export -f run_one

failed=0
tr '\n' '\0' <<<"$ordered" | xargs -0 -P "$jobs" -I{} bash -c 'run_one "$1"' _ {} || failed=1
cargo test --workspace --doc --quiet || failed=1
exit "$failed"
