#!/usr/bin/env bash
# The README's "Build your own job", verbatim: its ```sh blocks are taken
# from README.md and run in order, in a fresh directory whose `build` is this
# build and whose `examples` are the sources', with HOME in the test's
# directory (so "$HOME/.local/sluice" is a fresh prefix).  They install,
# compile examples/csv_window_sum.c with pkg-config and with a CMake project
# that uses find_package(sluice), and run both; each output must be the
# window sums worked out by hand for the README's input.  Then the example
# itself: a malformed line fails the job naming its line, and the build's
# own copy of it (every example builds with the tests) gives the same sums.
. "$(dirname "$0")/lib_cli.sh"
# a sanitizer build's library needs the same -fsanitize where it is linked
san=${SL_SANITIZE:+-fsanitize=$SL_SANITIZE}

# README events.csv: 1000,sensor-a,20 1500,sensor-b,17 1700,sensor-a,21
# 2100,sensor-a,22 1900,sensor-b,18 3500,sensor-b,19 3900,sensor-b,-4
# 1 s windows: [1000,2000) a: 20+21, b: 17+18; [2000,3000) a: 22;
# [3000,4000) b: 19-4
expected='1000,2000,sensor-a,41
1000,2000,sensor-b,35
2000,3000,sensor-a,22
3000,4000,sensor-b,15'

work=$TMP/work
mkdir -p "$work" "$TMP/home"
ln -s "$SL_BUILD" "$work/build"
ln -s "$SL_SRC/examples" "$work/examples"
# the ```sh blocks between "## Build your own job" and the next "## "
awk '/^## /{in_sec = ($0 == "## Build your own job")}
     in_sec && /^```sh$/ {blk = 1; next}
     blk && /^```$/ {blk = 0; next}
     blk' "$SL_SRC/README.md" >"$TMP/steps.sh"
check "README has the section's commands" grep -q 'find_package(sluice' "$TMP/steps.sh"
{
  echo 'set -euo pipefail'
  if [ -n "$san" ]; then
    echo "cc() { command cc $san \"\$@\"; }"
    echo "export CFLAGS='$san' LDFLAGS='$san'"
  fi
  cat "$TMP/steps.sh"
} >"$TMP/run.sh"
check "the README's steps run" env -u PKG_CONFIG_PATH -u CMAKE_PREFIX_PATH HOME="$TMP/home" \
  bash -c "cd '$work' && bash '$TMP/run.sh' >'$TMP/steps.out' 2>'$TMP/steps.err'" ||
  { tail -n 30 "$TMP/steps.err"; }
prefix=$TMP/home/.local/sluice
for f in sluiceConfig.cmake sluiceConfigVersion.cmake sluiceTargets.cmake; do
  check "installed lib/cmake/sluice/$f" test -f "$prefix/lib/cmake/sluice/$f"
done
check "pkg-config build: sums" diff <(printf '%s\n' "$expected") <(sort "$work/sums.csv")
check "  ... as \`sort sums.csv\` shows them" \
  diff <(printf '%s\n' "$expected") <(grep -E '^[0-9]+,[0-9]+,sensor-' "$TMP/steps.out")
check "CMake find_package build: sums" diff <(printf '%s\n' "$expected") <(sort "$work/sums-cmake.csv")
check "pkg-config build runs the installed libsluice.so" \
  bash -c "ldd '$work/csv_window_sum' | grep -qF '$prefix/lib/libsluice.so.0'"
check "CMake build runs the installed libsluice.so" \
  bash -c "ldd '$work/myjob/build/app' | grep -qF '$prefix/lib/libsluice.so.0'"

# the package's version file: 0.1 is compatible with 0.1.x, not with 0.2
mkdir -p "$TMP/v02"
cat >"$TMP/v02/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.16)
project(v02 C)
find_package(sluice 0.2 CONFIG REQUIRED)
EOF
check "find_package(sluice 0.2) refuses 0.1.0" \
  bash -c "! cmake -S '$TMP/v02' -B '$TMP/v02/build' -DCMAKE_PREFIX_PATH='$prefix' >'$TMP/v02.log' 2>&1"
check "  ... naming the version found" contains "$TMP/v02.log" "0.1.0"

# a malformed line fails the job, naming the line and the field
printf '1000,a,1\n2000,b,x\n' >"$work/bad.csv"
check "malformed line: exit 1" bash -c "cd '$work' && ! ./csv_window_sum bad.csv out.csv 2>'$TMP/bad.err'"
check "  ... names the operator, line and field" \
  contains "$TMP/bad.err" "operator 'parse' (subtask"
check "  ... names line 2 and the field" contains "$TMP/bad.err" "line 2: value is not an integer"
check "usage without arguments: exit 2" bash -c "cd '$work'; ./csv_window_sum 2>/dev/null; [ \$? = 2 ]"
# a window size as the third argument: 2 s windows over the README's input
# [0,2000) a: 20+21, b: 17+18; [2000,4000) a: 22, b: 19-4
check "2 s windows" bash -c "cd '$work' && ./csv_window_sum events.csv sums2.csv 2000"
check "  ... sums" diff <(printf '0,2000,sensor-a,41\n0,2000,sensor-b,35\n2000,4000,sensor-a,22\n2000,4000,sensor-b,15\n') \
  <(sort "$work/sums2.csv")
# the build's own example binary (examples build with the tests)
if [ -x "$SL_BUILD/csv_window_sum" ]; then
  check "build's csv_window_sum" bash -c "cd '$work' && '$SL_BUILD/csv_window_sum' events.csv sums-build.csv"
  check "  ... sums" diff <(printf '%s\n' "$expected") <(sort "$work/sums-build.csv")
fi
finish
