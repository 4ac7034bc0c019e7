#!/bin/sh
# Manual check that a real browser plays and seeks through `medialib serve`:
# headless Chromium loads VIDEO via serve, seeks to 1.5 s (or SEEK), plays, and the
# page prints what happened; serve's access log shows the range requests it made.
# Usage: scripts/browser-check.sh VIDEO [SEEK]   (needs chromium: apt-get install chromium)
set -eu
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VIDEO="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
SEEK="${2:-1.5}"
BIN="$(cd "$ROOT" && swift build --show-bin-path)/medialib"
WORK="$(mktemp -d)"
trap 'kill $SERVE $PAGES 2>/dev/null || true; rm -rf "$WORK"' EXIT
"$BIN" add "$VIDEO" --db "$WORK/c.sqlite" --media-root "$(dirname "$VIDEO")" >/dev/null
"$BIN" serve --db "$WORK/c.sqlite" --media-root "$(dirname "$VIDEO")" --port 0 >"$WORK/url" 2>"$WORK/log" & SERVE=$!
sed "s/currentTime = 1.5/currentTime = $SEEK/" "$ROOT/scripts/browser/seek.html" > "$WORK/seek.html"
(cd "$WORK" && python3 -m http.server 0 --bind 127.0.0.1 >"$WORK/pages" 2>&1) & PAGES=$!
sleep 1.5
URL="$(head -1 "$WORK/url")"
PORT="$(grep -o 'port [0-9]*' "$WORK/pages" | cut -d' ' -f2)"
chromium --headless --no-sandbox --disable-gpu --autoplay-policy=no-user-gesture-required \
  --virtual-time-budget=15000 --dump-dom "http://127.0.0.1:$PORT/seek.html?src=${URL}api/media/videos/1/" 2>/dev/null \
  | sed -n '/<pre id="out">/,/<\/pre>/p' | sed 's/<[^>]*>//g'
echo "--- serve access log"
grep '"GET' "$WORK/log" || true
