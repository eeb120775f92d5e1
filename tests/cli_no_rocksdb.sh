#!/usr/bin/env bash
# A build without the RocksDB backend (-DSLUICE_WITH_ROCKSDB=OFF): asking
# for it is a configuration error that says why (exit 2, the usage code),
# from `sluice run` and from the benchmarks; neither the library, the CLI
# nor the pkg-config file refer to librocksdb.  Only registered in such
# builds (tests/CMakeLists.txt); scripts/test.sh configures one
# (build-norocks).
. "$(dirname "$0")/lib_cli.sh"
MSG="configuration key 'state.backend.type': 'rocksdb': this build has no RocksDB backend (built with -DSLUICE_WITH_ROCKSDB=OFF)"
printf 'a b\nb\n' >"$TMP/in.txt"
"$SLUICE" run wordcount --input "$TMP/in.txt" --output "$TMP/out.txt" \
  -D state.backend.type=rocksdb >/dev/null 2>"$TMP/run.err"
check "run -D state.backend.type=rocksdb: exit 2" test $? -eq 2
check "run: says this build has no RocksDB" contains "$TMP/run.err" "sluice run wordcount: $MSG"
check "run: no output written" test ! -e "$TMP/out.txt"
"$SLUICE" bench state --backend rocksdb --keys 10 --records 100 >"$TMP/bs.out" 2>"$TMP/bs.err"
check "bench state --backend rocksdb: exit 2" test $? -eq 2
check "bench state: says it is not built" contains "$TMP/bs.err" "sluice bench state: $MSG"
check "bench state: no result line" test ! -s "$TMP/bs.out"
"$SLUICE" bench checkpoint --backend rocksdb --state-mb 1 >"$TMP/bc.out" 2>"$TMP/bc.err"
check "bench checkpoint --backend rocksdb: exit 2" test $? -eq 2
check "bench checkpoint: says it is not built" contains "$TMP/bc.err" "sluice bench checkpoint: $MSG"
# the heap backend, named explicitly, still runs
check "run -D state.backend.type=hashmap works" "$SLUICE" run wordcount --input "$TMP/in.txt" \
  --output "$TMP/out.txt" -D state.backend.type=hashmap
check "hashmap output" test "$(LC_ALL=C sort "$TMP/out.txt" | tail -1)" = "$(printf 'b\t2')"
# nothing links librocksdb or refers to its symbols
check "the CLI does not link librocksdb" bash -c "! readelf -d '$SLUICE' | grep -qi rocksdb"
check "the CLI has no RocksDB symbols" bash -c "! nm '$SLUICE' 2>/dev/null | grep -q ' rocksdb_'"
so=$(ls "$SL_BUILD"/libsluice.so 2>/dev/null | head -1)
check "libsluice.so built" test -n "$so"
check "libsluice.so does not need librocksdb" bash -c "! readelf -d '$so' | grep -qi rocksdb"
check "sluice.pc does not mention rocksdb" bash -c "! grep -qi rocksdb '$SL_BUILD/sluice.pc'"
finish
