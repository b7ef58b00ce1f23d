#!/usr/bin/env bash
# Fuzzing of haproxide (libFuzzer through cargo-fuzz, `-s none` so that the stable toolchain
# builds it). Called by the Makefile:
#
#   make fuzz-smoke   ->  scripts/fuzz.sh smoke
#       Replays every committed corpus (fuzz/corpus/<target>) through the library functions
#       the targets call, as the test suite does (no fuzz build needed). Seconds.
#   make fuzz         ->  scripts/fuzz.sh run
#       Builds the targets and runs each for FUZZ_SECONDS (default 60) on a working copy of
#       its corpus, then prints executions per target and any crash found. Bounded:
#       about FUZZ_SECONDS x number of targets, plus the build.
#   scripts/fuzz.sh merge
#       Adds to fuzz/corpus/<target> the inputs of the last run that reach new coverage
#       (libFuzzer -merge=1 with a set cover and without hit counters, which keeps the
#       added set small), to be reviewed and committed.
#
# Environment: FUZZ_SECONDS (per target), FUZZ_TARGETS (space-separated subset),
# FUZZ_WORK (working corpora and logs, default fuzz/work, not committed),
# FUZZ_RSS_MB (libFuzzer memory limit per target, default 2048).
# A crash leaves its input in fuzz/artifacts/<target>/; make it a named corpus file plus a
# unit test (see fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_TARGETS="config_parse http1_request http1_response chunked rules cookie acl_header"
TARGETS=${FUZZ_TARGETS:-$ALL_TARGETS}
SECONDS_PER=${FUZZ_SECONDS:-60}
WORK=${FUZZ_WORK:-fuzz/work}
RSS_MB=${FUZZ_RSS_MB:-2048}
mode=${1:-smoke}

case "$mode" in
smoke)
  # The replay tests: every corpus file through its target function, no panic allowed.
  cargo test --quiet --test fuzz_corpus_http1 --test fuzz_corpus
  cargo test --quiet -p haproxide-parser --test fuzz_corpus
  echo "fuzz-smoke: corpora replayed:"
  for t in $ALL_TARGETS; do
    printf '  %-16s %4d files\n' "$t" "$(find "fuzz/corpus/$t" -type f | wc -l)"
  done
  ;;
run)
  if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz: cargo-fuzz missing; install it with: cargo install cargo-fuzz" >&2
    exit 1
  fi
  mkdir -p "$WORK"
  (cd fuzz && cargo fuzz build -s none)
  status=0
  summary="$WORK/summary.txt"
  : > "$summary"
  for t in $TARGETS; do
    mkdir -p "$WORK/$t" "fuzz/artifacts/$t"
    log="$WORK/$t.log"
    echo "fuzz: $t for ${SECONDS_PER}s (log $log)"
    # New inputs go to the working corpus (first directory); the committed one is read only.
    set +e
    (cd fuzz && cargo fuzz run -s none "$t" "../$WORK/$t" "corpus/$t" -- \
      -max_total_time="$SECONDS_PER" -rss_limit_mb="$RSS_MB" -timeout=20 \
      -print_final_stats=1) > "$log" 2>&1
    rc=$?
    set -e
    runs=$(grep -oE 'Done [0-9]+ runs' "$log" | tail -1 | grep -oE '[0-9]+' || true)
    [ -n "$runs" ] || runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1 || true)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || true)
    if [ "$rc" -eq 0 ]; then
      verdict="ok"
    else
      verdict="FAILED (exit $rc): $(grep -m1 -E 'panicked|ERROR: libFuzzer' "$log" || echo see log)"
      status=1
    fi
    printf '%-16s %12s execs  cov %6s  %s\n' "$t" "${runs:-?}" "${cov:-?}" "$verdict" | tee -a "$summary"
  done
  echo "fuzz: summary in $summary; crashes (if any) in fuzz/artifacts/<target>/"
  exit $status
  ;;
merge)
  (cd fuzz && cargo fuzz build -s none)
  for t in $TARGETS; do
    [ -d "$WORK/$t" ] || continue
    (cd fuzz && cargo fuzz run -s none "$t" "corpus/$t" "../$WORK/$t" -- \
      -merge=1 -set_cover_merge=1 -use_counters=0) \
      > "$WORK/$t.merge.log" 2>&1
    echo "merge: $t now $(find "fuzz/corpus/$t" -type f | wc -l) files"
  done
  ;;
*)
  echo "usage: $0 smoke|run|merge" >&2
  exit 2
  ;;
esac
