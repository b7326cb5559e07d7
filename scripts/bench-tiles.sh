#!/usr/bin/env bash
# Tile benchmark: wangge's tiles (cold and cached) beside PostGIS's ST_AsMVT on the same
# queries, in one run. Uses the demo database in WANGGE_DATA_DIR (default: a small demo in a
# temporary folder, loaded first). Prints a table; see server/examples/bench_tiles.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
bench_example=bench_tiles
source scripts/bench-common.sh
DATABASE_URL=$url WANGGE_BENCH_PASSWORD=$password target/release/examples/bench_tiles
