#!/usr/bin/env bash
# Incident tile sizes over the whole city at zooms 6 to 13, and a check that every case is
# shown once at each zoom (counted per hexagon below 13, as a point from 13 up). On the full
# demo (BENCH_SCALE=small for the small one) in a temporary folder, or the demo in
# WANGGE_DATA_DIR. See server/examples/tile_sizes.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
bench_example=tile_sizes
bench_scale=${BENCH_SCALE:-full}
source scripts/bench-common.sh
DATABASE_URL=$url target/release/examples/tile_sizes
