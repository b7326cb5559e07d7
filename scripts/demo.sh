#!/usr/bin/env bash
# The first command: installs what is missing, builds wangge and its map client, loads the
# Yuxi demo into an embedded database (first run only) and serves it at http://127.0.0.1:8080.
# Extra arguments go to `wangge demo` (e.g. --scale small, --listen 0.0.0.0:8080).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
echo "==> building the map client"
(cd map-client && npm run --silent build >/dev/null)
echo "==> building wangge (release)"
cargo build --release --quiet --bin wangge

# The embedded database runs as the `postgres` user when we are root; it must be able to reach
# its folder, which a project under /root (mode 700) does not allow.
data_dir=${WANGGE_DATA_DIR:-}
if [[ -z "$data_dir" ]]; then
    data_dir="$PWD/.wangge/demo"
    if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -x "$PWD"; then
        data_dir=/var/lib/wangge/demo
    fi
fi
echo "==> data folder: $data_dir"
exec target/release/wangge --data-dir "$data_dir" demo --listen 127.0.0.1:8080 "$@"
