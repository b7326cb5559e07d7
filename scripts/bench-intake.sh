#!/usr/bin/env bash
# Intake benchmark: located reports over HTTP with durable commits, beside pgbench's
# single-row insert on the same database, alternating in one run. Runs on a scratch copy of
# the full demo (loaded into a temporary folder, a few minutes), or of the demo in
# WANGGE_DATA_DIR; the copy is dropped at the end. See server/examples/bench_intake.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
bench_example=bench_intake
bench_scale=${BENCH_SCALE:-full}
source scripts/bench-common.sh
scratch="wangge_bench_intake_$$"
psql -q "$url" -c "CREATE DATABASE $scratch TEMPLATE wangge"
trap_cleanup_scratch() { psql -q "$url" -c "DROP DATABASE IF EXISTS $scratch" >/dev/null 2>&1 || true; }
trap 'trap_cleanup_scratch; bench_cleanup' EXIT
scratch_url=${url/\/wangge\?/\/$scratch?}
DATABASE_URL=$scratch_url WANGGE_BENCH_PASSWORD=$password target/release/examples/bench_intake
