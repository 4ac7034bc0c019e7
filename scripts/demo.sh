#!/bin/sh
# Builds a demo library from Fixtures/ in ./demo and runs the cleanup dry run on it.
set -eu
BIN="$1"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEMO="$ROOT/demo"
rm -rf "$DEMO"
mkdir -p "$DEMO/media/uploads" "$DEMO/media/processed"
cp "$ROOT"/Fixtures/*.mp4 "$ROOT"/Fixtures/*.webm "$DEMO/media/uploads/"
cd "$DEMO"
export MEDIALIB_DB="$DEMO/medialib.sqlite" MEDIALIB_MEDIA_ROOT="$DEMO/media"

echo "\$ medialib import media/uploads"
"$BIN" import media/uploads
# A record with a raw and a processed file, one whose file has vanished, one whose "file" is a folder.
cp "$ROOT/Fixtures/ok-faststart.mp4" media/processed/ok-faststart.mp4
cp "$ROOT/Fixtures/ok-faststart.mp4" media/uploads/deleted-later.mp4
cp "$ROOT/Fixtures/ok-faststart.mp4" media/uploads/became-a-folder.mp4
echo "\$ medialib add media/uploads/deleted-later.mp4 --processed media/processed/ok-faststart.mp4"
"$BIN" add media/uploads/deleted-later.mp4 --processed media/processed/ok-faststart.mp4
rm media/uploads/deleted-later.mp4
# A record with only a processed file is normal.
cp "$ROOT/Fixtures/ok.webm" media/processed/only-processed.webm
echo "\$ medialib add --processed media/processed/only-processed.webm"
"$BIN" add --processed media/processed/only-processed.webm
"$BIN" add media/uploads/became-a-folder.mp4 >/dev/null
rm media/uploads/became-a-folder.mp4 && mkdir media/uploads/became-a-folder.mp4
echo
echo "\$ medialib cleanup            # dry run: nothing is changed"
status=0
"$BIN" cleanup || status=$?
echo "(exit code $status: 1 means invalid records were found)"
cat <<EOT

Next, in $DEMO with
  export MEDIALIB_DB=$DEMO/medialib.sqlite MEDIALIB_MEDIA_ROOT=$DEMO/media
try:
  $BIN cleanup --format json
  $BIN cleanup --apply --trash $DEMO/trash
  $BIN restore <the journal it printed>
  $BIN list
  $BIN verify                  # streamability, for cron (--format json|jsonl)
  $BIN serve --port 0          # then: curl -i -H 'Range: bytes=-100' <url>api/media/videos/4/
EOT
