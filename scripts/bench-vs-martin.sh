#!/usr/bin/env bash
# Vector tiles over HTTP, wangge beside Martin 1.14 (the tile server one would otherwise put
# on PostGIS), serving the same tables of the same demo database, measured in one run with
# the same load generator (wrk, 2 threads, 16 connections), the two servers alternating:
#
# - cold: every tile asked for once (z10-16 over the demo's area, shuffled; both servers
#   restarted before each round, so neither has a tile cached);
# - warm: 2,000 tiles asked for again and again (Martin's cache 512 MB).
#
# Layers: grid cells (wangge `grid-cells`, Martin table `grid_cell`), households (z14-16)
# and incidents (z13-16). Martin serves only columns without personal data (no addresses,
# no reporters); wangge's tiles are its own, scoped to a city-wide operator (bearer token).
# Prints req/s, p50 and p99 per server, and wangge's ratio to Martin (req/s: higher is
# better for wangge). Each figure is the median of $BENCH_ROUNDS rounds (3) of
# $BENCH_COLD_SECONDS seconds cold (4) and $BENCH_SECONDS seconds warm (8).
#
#   scripts/bench-vs-martin.sh                    # the full demo, loaded into a temporary folder
#   WANGGE_DATA_DIR=/tmp/fdemo scripts/bench-vs-martin.sh   # a demo already loaded there
#
# Installs what it needs: wrk from Debian, Martin with cargo into .wangge/tools (about
# 5 minutes on 2 cores; its default features download a native library and fail offline).
set -euo pipefail
cd "$(dirname "$0")/.."

martin_version=1.14.0
tools="$PWD/.wangge/tools"
seconds=${BENCH_SECONDS:-8}
# Cold runs are shorter: at 17,000 tiles a second the faster server would run out of unique
# tiles (about 130,000 a layer) in 8 s and finish warm.
cold_seconds=${BENCH_COLD_SECONDS:-4}
rounds=${BENCH_ROUNDS:-3}
wangge_port=${BENCH_WANGGE_PORT:-18180}
martin_port=${BENCH_MARTIN_PORT:-18181}

if ! command -v wrk >/dev/null; then
    echo "==> installing wrk (Debian)"
    if [[ $(id -u) -eq 0 ]]; then apt-get install -y -qq wrk >/dev/null; else sudo apt-get install -y -qq wrk >/dev/null; fi
fi
if [[ ! -x "$tools/bin/martin" ]] || ! "$tools/bin/martin" --version | grep -q "$martin_version"; then
    echo "==> building Martin $martin_version into $tools (about 5 minutes)"
    cargo install "martin@$martin_version" --locked --no-default-features --features postgres \
        --root "$tools" --quiet
fi

bench_scale=${bench_scale:-full}
source scripts/bench-common.sh

work=$(mktemp -d /tmp/wangge-vs-martin.XXXXXX)
server_pids=()
stop_servers() {
    for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    server_pids=()
}
cleanup() {
    stop_servers
    rm -rf "$work"
    bench_cleanup
}
trap cleanup EXIT

# Martin: the same tables, only columns without personal data.
cat > "$work/martin.yaml" <<EOF
listen_addresses: 127.0.0.1:$martin_port
cache_size_mb: 512
postgres:
  connection_string: '$url'
  auto_publish: false
  tables:
    grid_cell:
      schema: public
      table: grid_cell
      srid: 4326
      geometry_column: geom
      geometry_type: MULTIPOLYGON
      id_column: id
      properties: { code: text, name: text }
    household:
      schema: public
      table: household
      srid: 4326
      geometry_column: geom
      geometry_type: POINT
      id_column: id
      properties: { size: int2 }
    incident:
      schema: public
      table: incident
      srid: 4326
      geometry_column: geom
      geometry_type: POINT
      id_column: id
      properties: { category: text, severity: incident_severity, status: incident_status, tier: incident_tier }
EOF

wait_for() {
    for _ in $(seq 1 240); do
        curl -fs -o /dev/null "$1" && return 0
        sleep 0.5
    done
    echo "$1 did not answer" >&2
    return 1
}

start_martin() {
    "$tools/bin/martin" --config "$work/martin.yaml" >"$work/martin.log" 2>&1 &
    server_pids+=($!)
    wait_for "http://127.0.0.1:$martin_port/health"
}

start_wangge() {
    target/release/wangge --data-dir "$data_dir" serve --listen "127.0.0.1:$wangge_port" \
        >"$work/wangge.log" 2>&1 &
    server_pids+=($!)
    wait_for "http://127.0.0.1:$wangge_port/readyz"
}

# The demo's area (its grid cells' extent), for the tile lists.
extent=$(psql "$url" -Atc "SELECT concat_ws(' ', ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e))
    FROM (SELECT ST_Extent(geom) AS e FROM grid_cell) x")
tiles() { # zmin zmax: every tile over the extent, shuffled (seeded: the same list each run)
    python3 - "$1" "$2" $extent <<'PY'
import math, random, sys
zmin, zmax = int(sys.argv[1]), int(sys.argv[2])
w, s, e, n = map(float, sys.argv[3:7])
def tile(lon, lat, z):
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    return x, y
out = []
for z in range(zmin, zmax + 1):
    x0, y0 = tile(w, n, z)
    x1, y1 = tile(e, s, z)
    out += [f"{z}/{x}/{y}" for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
random.Random(7).shuffle(out)
print("\n".join(out))
PY
}

token=""
# one wrk run: server (wangge|martin), layer path prefix, tile list; prints "rps p50 p99 …"
run() {
    local server=$1 prefix=$2 list=$3 duration=$4 auth="" port
    if [[ $server == wangge ]]; then port=$wangge_port; auth="Bearer $token"; else port=$martin_port; fi
    sed "s#^#$prefix/#" "$list" > "$work/paths"
    TILE_LIST="$work/paths" TILE_AUTH="$auth" WRK_THREADS=2 \
        wrk -t2 -c16 -d"${duration}s" --timeout 10s -s scripts/bench-vs-martin.lua \
        "http://127.0.0.1:$port" | sed -n 's/^RESULT //p'
}

declare -A results
record() { results["$1"]+="$2"$'\n'; }

layers=(
    "grid cells|/tiles/grid-cells|/grid_cell|10|16"
    "households|/tiles/households|/household|14|16"
    "incidents|/tiles/incidents|/incident|13|16"
)
for layer in "${layers[@]}"; do
    IFS='|' read -r name _ _ zmin zmax <<<"$layer"
    tiles "$zmin" "$zmax" > "$work/cold-$zmin-$zmax"
    head -n 2000 "$work/cold-$zmin-$zmax" > "$work/warm-$zmin-$zmax"
    echo "==> $name: $(wc -l < "$work/cold-$zmin-$zmax") tiles z$zmin-$zmax over the demo"
done

for round in $(seq 1 "$rounds"); do
    echo "==> round $round of $rounds"
    # both restarted: nothing cached, in either
    stop_servers
    start_martin
    start_wangge
    token=$(curl -fs -H 'Content-Type: application/json' \
        -d "{\"username\":\"bench-tiles\",\"password\":\"$password\",\"label\":\"bench\"}" \
        "http://127.0.0.1:$wangge_port/api/v1/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
    # who goes first alternates from round to round
    if (( round % 2 )); then order=(martin wangge); else order=(wangge martin); fi
    for layer in "${layers[@]}"; do
        IFS='|' read -r name wprefix mprefix zmin zmax <<<"$layer"
        for server in "${order[@]}"; do
            prefix=$wprefix; [[ $server == martin ]] && prefix=$mprefix
            record "$name|cold|$server" "$(run "$server" "$prefix" "$work/cold-$zmin-$zmax" "$cold_seconds")"
        done
    done
    for layer in "${layers[@]}"; do
        IFS='|' read -r name wprefix mprefix zmin zmax <<<"$layer"
        for server in "${order[@]}"; do
            prefix=$wprefix; [[ $server == martin ]] && prefix=$mprefix
            # once to fill the cache, then measured
            run "$server" "$prefix" "$work/warm-$zmin-$zmax" "$seconds" >/dev/null
            record "$name|warm|$server" "$(run "$server" "$prefix" "$work/warm-$zmin-$zmax" "$seconds")"
        done
    done
done

echo
printf '%-11s %-5s | %-34s | %-34s | %s\n' layer run "Martin $martin_version (req/s, p50, p99)" "wangge (req/s, p50, p99)" "wangge/Martin"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { grep -o "$1=[0-9.]*" | cut -d= -f2; }
for layer in "${layers[@]}"; do
    IFS='|' read -r name _ _ _ _ <<<"$layer"
    for kind in cold warm; do
        line="$(printf '%-11s %-5s' "$name" "$kind")"
        declare -A rps=()
        for server in martin wangge; do
            runs=${results["$name|$kind|$server"]}
            rps[$server]=$(field rps <<<"$runs" | median)
            p50=$(field p50 <<<"$runs" | median)
            p99=$(field p99 <<<"$runs" | median)
            errors=$(field errors <<<"$runs" | awk '{s+=$1} END {print s+0}')
            non2xx=$(field non2xx <<<"$runs" | awk '{s+=$1} END {print s+0}')
            wrapped=$(field wrapped <<<"$runs" | awk '{s+=$1} END {print s+0}')
            note=""
            (( errors + non2xx > 0 )) && note+=" ${errors} errors ${non2xx} non-2xx"
            [[ $kind == cold ]] && (( wrapped > 0 )) && note+=" (list ran out: partly warm)"
            line+="$(printf ' | %8.0f req/s %6.1f ms %7.1f ms%s' "${rps[$server]}" "$p50" "$p99" "$note")"
        done
        line+="$(awk -v w="${rps[wangge]}" -v m="${rps[martin]}" 'BEGIN {printf " | %.2f×", w / m}')"
        echo "$line"
    done
done
