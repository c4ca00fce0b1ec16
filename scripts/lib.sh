# shellcheck shell=bash
# Shared helpers for the setup scripts: logging, timing, root/apt handling.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR="${SERTANTAI_STATE_DIR:-$REPO_ROOT/.state}"
export REPO_ROOT STATE_DIR

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# apt-get update at most once per script run, and only when something must be installed.
__apt_updated=0
apt_install() {
    [ "$(id -u)" -eq 0 ] || die "installing $* needs root (or install it yourself: apt-get install $*)"
    command -v apt-get >/dev/null || die "installing $* needs a Debian/Ubuntu machine (apt-get not found)"
    if [ "$__apt_updated" -eq 0 ]; then
        apt-get update -qq >/dev/null
        __apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
