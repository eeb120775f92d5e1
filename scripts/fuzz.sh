#!/usr/bin/env bash
# The fuzz suite (tests/fuzz/): builds the libFuzzer harnesses with clang in
# build-fuzz/, replays every committed corpus input (tests/fuzz/corpus/<name>/,
# seeds and regress-* inputs that once crashed), then fuzzes each harness for
# SLUICE_FUZZ_TIME seconds (default 4).  New interesting inputs go to a
# scratch directory, not into the repository.  Exits non-zero when any
# harness crashes, leaks, trips a sanitizer or a property; the input that did
# it is printed -- copy it into the corpus as regress-<what> with the fix.
#
#   scripts/fuzz.sh [HARNESS...]        (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SLUICE_FUZZ_TIME:-4}
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSLUICE_FUZZ=ON -DSLUICE_BUILD_TESTS=OFF -DSLUICE_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzzers >/dev/null
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=(ckpt_meta state_image opstate_image file_source_seek
  gen_seek file_sink_recover line_reader config window_agg_fields sql_row pg_stream)
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=0
for h in "${harnesses[@]}"; do
  bin=build-fuzz/tests/fuzz/fuzz_$h
  corpus=tests/fuzz/corpus/$h
  mkdir -p "$work/$h"
  opts=(-timeout=10 -malloc_limit_mb=256 -rss_limit_mb=2048 -artifact_prefix="$work/$h-")
  if ! "$bin" "${opts[@]}" "$corpus"/* >"$work/$h.replay" 2>&1; then
    echo "FAIL: $h: a corpus input fails:" >&2
    grep -E "ERROR|property failed|runtime error|Running:" "$work/$h.replay" | tail -5 >&2
    failed=1
    continue
  fi
  if ! "$bin" "${opts[@]}" -max_total_time="$secs" -print_final_stats=0 \
      "$work/$h" "$corpus" >"$work/$h.log" 2>&1; then
    echo "FAIL: $h: fuzzing found a crash:" >&2
    grep -E "ERROR|property failed|runtime error|SUMMARY" "$work/$h.log" | head -5 >&2
    for a in "$work/$h"-*; do
      [ -f "$a" ] || continue
      keep=build-fuzz/fuzz-$h-$(basename "$a" | sed "s/^$h-//")
      cp "$a" "$keep"
      echo "  input kept as $keep" >&2
    done
    failed=1
    continue
  fi
  runs=$(grep -oE '^#[0-9]+' "$work/$h.log" | tail -1 | tr -d '#')
  echo "fuzz $h: $(ls "$corpus" | wc -l) corpus inputs replayed, ${runs:-0} runs in ${secs}s: ok"
done
exit $failed
