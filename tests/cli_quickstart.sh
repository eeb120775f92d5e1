#!/usr/bin/env bash
# The README's first steps on a fresh copy of the source tree: run
# ./scripts/quickstart.sh as it is, then `cmake --install build --prefix P`
# must find everything it installs (the quickstart builds the library, not
# only the CLI).  The copy leaves out build directories, out/ and .git.
# Registered only in the default configuration (no sanitizer, RocksDB on):
# the quickstart makes its own RelWithDebInfo build.
. "$(dirname "$0")/lib_cli.sh"
mkdir -p "$TMP/clone"
for f in "$SL_SRC"/* "$SL_SRC"/.gitignore; do
  case "$(basename "$f")" in build* | out) continue ;; esac
  [ -e "$f" ] && cp -R "$f" "$TMP/clone/"
done
cd "$TMP/clone"
check "quickstart runs" bash -c './scripts/quickstart.sh >quickstart.log 2>&1'
tail -n 20 quickstart.log
check "quickstart shows the build's progress" grep -q '^\[ *[0-9]*%\] Built target sluice$' quickstart.log
check "quickstart ran the window-agg job" contains quickstart.log "1000,2000,sensor-a,2,41.75,20.50,21.25"
check "quickstart ran the seed's Python example" contains quickstart.log "== python3 examples/python/seed_example.py"
check "the Python example's output is every line upper-cased" \
  bash -c 'tr "[:lower:]" "[:upper:]" < data/input.txt | cmp - out/python/output.txt'
check "cmake --install after the quickstart" cmake --install build --prefix "$TMP/prefix"
check "shared library installed" test -f "$TMP/prefix/lib/libsluice.so.0.1.0"
check "soname link installed" test -L "$TMP/prefix/lib/libsluice.so.0"
check "static library installed" test -f "$TMP/prefix/lib/libsluice.a"
check "CLI installed" test -x "$TMP/prefix/bin/sluice"
check "header installed" test -f "$TMP/prefix/include/sluice.h"
check "pkg-config file installed" test -f "$TMP/prefix/lib/pkgconfig/sluice.pc"
finish
