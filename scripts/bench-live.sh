#!/usr/bin/env bash
# Live feed benchmark: commit-to-screen time for many WebSocket clients at once (5,000 unless
# WANGGE_BENCH_CLIENTS says otherwise) beside a client polling once a second, in one run, with
# the demo simulator running. Uses a small demo in a temporary folder, or the demo in
# WANGGE_DATA_DIR. See server/examples/bench_live.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
bench_example=bench_live
source scripts/bench-common.sh
# Two sockets per client (both ends are in the benchmark's process), and some to spare.
ulimit -n "$(ulimit -Hn)"
DATABASE_URL=$url WANGGE_BENCH_PASSWORD=$password target/release/examples/bench_live
