#!/usr/bin/env bash
# Hotspot benchmark: Getis-Ord Gi* in wangge's analysis crate beside PySAL esda, on the same
# data in the same run. Cases: (a) the analytic statistic on ~1,000,000 H3 cells, (b) 999
# conditional permutations on ~100,000 cells; ring-1 weights, counts with planted clusters
# (analysis/examples/bench_gistar.rs). Prints both times, their ratio and the largest z-score
# difference; fails if z differs by more than 1e-9. esda, libpysal and numba go into a
# virtual environment under target/bench-venv (made on first run; Debian's python3-venv is
# installed if venv is missing, which needs root). About a minute once installed.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
venv=$target/bench-venv
out=$target/bench-hotspots

if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import esda, libpysal, numba, joblib' 2>/dev/null; then
    echo "==> installing esda into $venv"
    rm -rf "$venv"
    if ! python3 -m venv "$venv" 2>/dev/null; then
        rm -rf "$venv"
        if [[ $(id -u) -ne 0 ]]; then
            echo "python3 -m venv does not work here: install Debian's python3-venv (as root)" >&2
            exit 1
        fi
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet esda libpysal numba joblib
fi
"$venv/bin/python" -c 'import esda, libpysal, numba; print(f"==> esda {esda.__version__}, libpysal {libpysal.__version__}, numba {numba.__version__}")'

echo "==> building and running the Rust side"
cargo build --release --quiet -p wangge-analysis --example bench_gistar
mkdir -p "$out"
"$target/release/examples/bench_gistar" "$out"

echo "==> running esda on the same data"
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, where this workplace sets them, slow a current numpy;
# unset for this command alone so esda is measured at its best.
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$venv/bin/python" scripts/bench_hotspots_esda.py "$out"
