#!/usr/bin/env bash
# A real package from the Debian archive (sl, 13 kB), kept as a .deb for the package module's
# tests: they install it through apt from a local file source, so they need no network.
# Called by system-deps.sh; does nothing without root or apt, or when the .deb is there.
set -euo pipefail
dir=/var/cache/orch/test-debs
ls "$dir"/sl_*.deb >/dev/null 2>&1 && exit 0
[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || exit 0
mkdir -p "$dir"
cd "$dir"
if ! apt-get download -q sl >/dev/null 2>&1; then
  apt-get update -qq && apt-get download -q sl >/dev/null 2>&1 \
    || echo "orch: could not download the test package sl into $dir" >&2
fi
