#!/usr/bin/env bash
# Installs what wangge needs and is missing on a Debian machine: PostgreSQL 15 with PostGIS 3,
# the map client's npm packages, and (with --with-browser) Chromium and a CJK font for the
# browser tests. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

with_browser=false
[[ "${1:-}" == "--with-browser" ]] && with_browser=true

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

apt_packages=()
have_postgis() {
    compgen -G "/usr/share/postgresql/*/extension/postgis.control" >/dev/null &&
        compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}
have_postgis || apt_packages+=(postgresql-15 postgresql-15-postgis-3)
command -v node >/dev/null && command -v npm >/dev/null || apt_packages+=(nodejs npm)
if $with_browser; then
    [[ -x /usr/bin/chromium ]] || apt_packages+=(chromium)
    fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || apt_packages+=(fonts-noto-cjk)
fi

if ((${#apt_packages[@]})); then
    say "installing Debian packages: ${apt_packages[*]}"
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
    echo "wangge needs a Rust toolchain (cargo, rustc 1.94 or newer): install it with rustup." >&2
    exit 1
fi

# npm packages, reinstalled when the lock file changed since the last install.
npm_install() {
    local dir=$1
    if [[ ! -d "$dir/node_modules" || "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
        say "installing npm packages in $dir"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
}
npm_install map-client
$with_browser && npm_install tests/browser
exit 0
