# Sourced by the benchmark scripts: builds wangge and the benchmark example named in
# $bench_example (if any), starts a demo database (a demo of $bench_scale — small unless set — in a
# temporary folder, or the demo in WANGGE_DATA_DIR) and a city-wide operator `bench-tiles`
# with a fresh password; sets $url and $password for the benchmark, and `bench_cleanup`,
# which an EXIT trap runs (scripts that set their own trap call it).
if [[ -n ${bench_example:-} ]]; then
    cargo build --release --quiet --bin wangge --example "$bench_example"
else
    cargo build --release --quiet --bin wangge
fi
data_dir=${WANGGE_DATA_DIR:-}
bench_cleanup() { :; }
if [[ -z "$data_dir" ]]; then
    scratch_dir=$(mktemp -d /tmp/wangge-bench.XXXXXX)
    chmod 755 "$scratch_dir"
    bench_cleanup() {
        target/release/wangge --data-dir "$scratch_dir/pg" db stop >/dev/null 2>&1 || true
        rm -rf "$scratch_dir"
    }
    trap bench_cleanup EXIT
    data_dir="$scratch_dir/pg"
    echo "==> loading the ${bench_scale:-small} demo into $data_dir"
    target/release/wangge --data-dir "$data_dir" demo --scale "${bench_scale:-small}" --load-only >/dev/null
fi
url=$(target/release/wangge --data-dir "$data_dir" db start | tail -n 1)
# A demo loaded by an older build gets this build's migrations, so the schema measured is
# the one under test.
DATABASE_URL=$url target/release/wangge migrate >/dev/null
password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
WANGGE_PASSWORD=$password DATABASE_URL=$url target/release/wangge user add bench-tiles \
    --role operator --area 530400 >/dev/null 2>&1 || \
    WANGGE_PASSWORD=$password DATABASE_URL=$url target/release/wangge user reset-password bench-tiles >/dev/null
