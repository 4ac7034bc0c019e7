#!/bin/sh
# make bench: medialib against the best peer in the same run on this machine.
# Installs nginx, wrk and ffmpeg when missing, generates its media
# under bench/work/, prints one markdown table and writes it to bench/results/.
set -eu
cd "$(dirname "$0")/.."
need=""
for p in nginx-light wrk ffmpeg python3 valgrind; do
  command -v "${p%-light}" >/dev/null 2>&1 || [ -x "/usr/sbin/${p%-light}" ] || need="$need $p"
done
if [ -n "$need" ]; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  echo "Installing:$need"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
# The release binary is built by `make bench` and passed as the first argument.
BIN="$1"
shift
ulimit -n 65536 2>/dev/null || true
exec python3 bench/bench.py "$BIN" "$@"
