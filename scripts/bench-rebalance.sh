#!/usr/bin/env bash
# Grid rebalancing benchmark: wangge's analysis::rebalance on the full demo city, generated in
# memory (server/examples/bench_rebalance.rs), beside PySAL spopt's regionalisers
# (Region-K-means, SKATER, AZP, max-p) on the same township's units and contiguity
# (scripts/bench_rebalance_spopt.py). Prints (a) a township of ~20,000 households into 15
# cells, (b) every township to its current cell count, (c) households moved by a 5% load
# change, (d) spopt's times, deviations and contiguity with the ratio of ours to each.
# spopt (with geopandas, libpysal and scikit-learn) goes into the virtual environment the
# hotspot benchmark uses, under target/bench-venv; a slow spopt solver is given coarser units
# and the output says so. Several minutes, mostly spopt.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
venv=$target/bench-venv
out=$target/bench-rebalance

if [[ ! -x $venv/bin/python ]]; then
    echo "==> making $venv"
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
fi
# Added to the environment the hotspot benchmark may share, never rebuilt from scratch here.
if ! "$venv/bin/python" -c 'import spopt, geopandas, libpysal, sklearn' 2>/dev/null; then
    echo "==> installing spopt into $venv"
    "$venv/bin/pip" install --quiet spopt
fi
"$venv/bin/python" -c 'import spopt, libpysal, sklearn; print(f"==> spopt {spopt.__version__}, libpysal {libpysal.__version__}, scikit-learn {sklearn.__version__}")'

echo "==> building and running the Rust side"
cargo build --release --quiet -p wangge --example bench_rebalance
mkdir -p "$out"
"$target/release/examples/bench_rebalance" "$out"

echo
echo "==> (d) spopt on the same township"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$venv/bin/python" scripts/bench_rebalance_spopt.py "$out"
