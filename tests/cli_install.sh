#!/usr/bin/env bash
# Install into a prefix, then build examples/upper.c and
# examples/counter_source.c (a source on the connector SDK) the way a user
# would: `cc upper.c $(pkg-config --cflags --libs sluice)`, and run them.
. "$(dirname "$0")/lib_cli.sh"
# a sanitizer build's library needs the same -fsanitize at link time
san=${SL_SANITIZE:+-fsanitize=$SL_SANITIZE}
check "cmake --install" cmake --install "$SL_BUILD" --prefix "$TMP/prefix" >/dev/null
export PKG_CONFIG_PATH="$TMP/prefix/lib/pkgconfig:$TMP/prefix/lib/x86_64-linux-gnu/pkgconfig"
check "pkg-config finds sluice" pkg-config --exists sluice
check "compile example against the installed library" \
  cc $san -o "$TMP/upper" "$SL_SRC/examples/upper.c" $(pkg-config --cflags --libs sluice) -Wl,-rpath,"$TMP/prefix/lib"
printf 'hello\nworld\n' >"$TMP/input.txt"
check "example runs" bash -c "cd '$TMP' && ./upper"
check "example output" cmp -s "$TMP/output.txt" <(printf 'HELLO\nWORLD\n')
# a connector written on the installed connector SDK alone
check "compile the counter source against the installed library" \
  cc $san -Wall -Wextra -Werror -o "$TMP/counter" "$SL_SRC/examples/counter_source.c" \
  $(pkg-config --cflags --libs sluice) -Wl,-rpath,"$TMP/prefix/lib"
check "counter source runs" bash -c "cd '$TMP' && ./counter"
check "counter output: 0..999 once each" cmp -s <(sort -n "$TMP/counter.txt") <(seq 0 999)
# (its direct dependencies, shared: the .pc file's Requires.private)
check "static link works" cc $san -o "$TMP/upper_static" "$SL_SRC/examples/upper.c" \
  -I"$TMP/prefix/include" "$(ls "$TMP"/prefix/lib*/libsluice.a "$TMP"/prefix/lib/*/libsluice.a \
  2>/dev/null | head -1)" -lxxhash -lmicrohttpd -lcjson -lrdkafka -lpq \
  $([ "${SL_WITH_ROCKSDB:-ON}" = OFF ] || echo -lrocksdb) -lpthread -lm
# the RocksDB backend is a build-time choice: the installed .pc file asks for
# librocksdb exactly when the library was built with it
if [ "${SL_WITH_ROCKSDB:-ON}" = OFF ]; then
  check "pkg-config: no rocksdb in a build without it" \
    bash -c '! pkg-config --print-requires-private sluice | grep -q rocksdb'
else
  check "pkg-config: rocksdb required (privately)" \
    bash -c 'pkg-config --print-requires-private sluice | grep -q "^rocksdb"'
fi
finish
