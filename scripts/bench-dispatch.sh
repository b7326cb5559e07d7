#!/usr/bin/env bash
# Dispatch benchmark: recommendation latency (wangge's in-memory index over HTTP beside
# PostGIS's KNN operator) while positions stream in, sustained position ingest beside a plain
# batched UPDATE, and the index against brute force; on a scratch copy of the full demo
# (loaded into a temporary folder, a few minutes), or of the demo in WANGGE_DATA_DIR, topped
# up to 10,000 workers. The copy is dropped at the end. See server/examples/bench_dispatch.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
bench_example=bench_dispatch
bench_scale=${BENCH_SCALE:-full}
source scripts/bench-common.sh
scratch="wangge_bench_dispatch_$$"
psql -q "$url" -c "CREATE DATABASE $scratch TEMPLATE wangge"
trap_cleanup_scratch() { psql -q "$url" -c "DROP DATABASE IF EXISTS $scratch" >/dev/null 2>&1 || true; }
trap 'trap_cleanup_scratch; bench_cleanup' EXIT
scratch_url=${url/\/wangge\?/\/$scratch?}
DATABASE_URL=$scratch_url WANGGE_BENCH_PASSWORD=$password target/release/examples/bench_dispatch
