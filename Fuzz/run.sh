#!/bin/sh
# Runs each libFuzzer target for SECONDS on a copy of its committed corpus; prints the
# executions per target. A crash stops the run with its input saved under .build-fuzz/findings/.
# Usage: Fuzz/run.sh BIN_DIR SECONDS [TARGET...]
set -eu
BIN="$1"
SECONDS_EACH="$2"
shift 2
TARGETS="${*:-FuzzRanges FuzzRequest FuzzMP4 FuzzJournal}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$ROOT/.build-fuzz/work"
FINDINGS="$ROOT/.build-fuzz/findings"
mkdir -p "$FINDINGS"
status=0
for t in $TARGETS; do
  rm -rf "$WORK/$t"
  mkdir -p "$WORK/$t"
  cp "$ROOT/Fuzz/corpus/$t"/* "$WORK/$t/"
  log="$WORK/$t.log"
  # ASan: leaks are checked by the sanitized test run; a fuzz input may leave caches behind.
  if SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 "$BIN/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$FINDINGS/$t-" -print_final_stats=1 "$WORK/$t" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    corpus=$(ls "$WORK/$t" | wc -l)
    echo "$t: ${runs:-?} executions in ${SECONDS_EACH} s, corpus $corpus inputs, no crash"
  else
    echo "$t: CRASH (input in $FINDINGS/$t-*); last lines of $log:"
    tail -30 "$log"
    status=1
  fi
done
exit $status
