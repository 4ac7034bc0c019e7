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
# A library is older than cleanup's --min-age (5 minutes): files younger than that may still be
# uploading and are kept, not judged.
find media -exec touch -h -d '2 hours ago' {} +
echo
echo "\$ medialib cleanup            # dry run: nothing is changed"
status=0
"$BIN" cleanup || status=$?
echo "(exit code $status: 1 means invalid records were found)"

# The app's own database: a real endoreg-db 1.6.5 catalog made by Django (Fixtures/django),
# with its media laid out as the manifest says. Read-only: the dry run changes nothing in it.
APP="$DEMO/endoreg"
mkdir -p "$APP/media"
cp "$ROOT/Fixtures/django/endoreg-db-1.6.5.sqlite" "$APP/db.sqlite3"
sed -n '/"media": {/,/}/p' "$ROOT/Fixtures/django/endoreg-db-1.6.5.manifest.json" | grep '": "' |
  sed 's/^ *"\([^"]*\)": "\([^"]*\)".*/\1 \2/' | while read -r path fixture; do
    mkdir -p "$APP/media/$(dirname "$path")"
    cp "$ROOT/Fixtures/$fixture" "$APP/media/$path"
  done
sed -n '/"encrypted_sizes": {/,/}/p' "$ROOT/Fixtures/django/endoreg-db-1.6.5.manifest.json" | grep '": [0-9]' |
  sed 's/^ *"\([^"]*\)": \([0-9]*\).*/\1 \2/' | while read -r path size; do
    mkdir -p "$APP/media/$(dirname "$path")"
    head -c "$size" /dev/urandom > "$APP/media/$path"
  done
find "$APP/media" -exec touch -h -d '2 hours ago' {} +
echo
echo "\$ cd endoreg && medialib cleanup --db db.sqlite3 --media-root media --state state.sqlite"
status=0
(cd "$APP" && "$BIN" cleanup --db db.sqlite3 --media-root media --state state.sqlite) || status=$?
echo "(exit code $status; db.sqlite3 is unchanged: cmp says $(cmp -s "$APP/db.sqlite3" "$ROOT/Fixtures/django/endoreg-db-1.6.5.sqlite" && echo identical || echo DIFFERENT))"
cat <<EOT

Next, in $DEMO with
  export MEDIALIB_DB=$DEMO/medialib.sqlite MEDIALIB_MEDIA_ROOT=$DEMO/media
try:
  $BIN cleanup --format json
  $BIN cleanup --apply --trash $DEMO/trash    # refused: 7 of 13 is more than half
  $BIN cleanup --apply --trash $DEMO/trash --max-delete 7
  $BIN restore <the journal it printed>
  $BIN list
  $BIN verify                  # streamability, for cron (--format json|jsonl)
  $BIN serve --port 0          # then: curl -i -H 'Range: bytes=-100' <url>api/media/videos/4/
and in $APP, on the Django app's database:
  $BIN cleanup --db db.sqlite3 --media-root media --state state.sqlite --apply --cascade --trash trash
EOT
