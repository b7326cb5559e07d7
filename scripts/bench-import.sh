#!/usr/bin/env bash
# Import benchmark: a 100,000-cell grid file (BENCH_CELLS) imported with every check, beside
# PostgreSQL's COPY of the same geometries with no checks, alternating, in an empty private
# database made for the run and removed after it. See server/examples/bench_import.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin wangge --example bench_import
scratch_dir=$(mktemp -d /tmp/wangge-bench.XXXXXX)
chmod 755 "$scratch_dir"
cleanup() {
    target/release/wangge --data-dir "$scratch_dir/pg" db stop >/dev/null 2>&1 || true
    rm -rf "$scratch_dir"
}
trap cleanup EXIT
url=$(target/release/wangge --data-dir "$scratch_dir/pg" db start | tail -n 1)
RUST_LOG=${RUST_LOG:-info} DATABASE_URL=$url target/release/examples/bench_import
