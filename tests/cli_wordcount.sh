#!/usr/bin/env bash
# `sluice run wordcount`: the last line per word equals a coreutils reference
# count, at P=1 and P=4, on the sample text and on a larger generated text
# split into many file splits; P=4 totals equal P=1 totals.
. "$(dirname "$0")/lib_cli.sh"
in=$SL_SRC/data/input.txt
ref_wordcount "$in" >"$TMP/ref.txt"
for p in 1 4; do
  check "wordcount P=$p exit 0" "$SLUICE" run wordcount --input "$in" --output "$TMP/wc$p.txt" --parallelism "$p"
  check "wordcount P=$p totals = reference" cmp -s "$TMP/ref.txt" <(last_per_word "$TMP/wc$p.txt")
done
# one line per update: as many lines as words in the text
check "one line per update" test "$(wc -l <"$TMP/wc4.txt")" -eq "$(awk -F'\t' '{s+=$2} END {print s}' "$TMP/ref.txt")"
# bigger input: 20000 lines, read in ~100 splits, many files via a directory
mkdir -p "$TMP/big"
awk 'BEGIN { srand(7); for (f = 0; f < 3; f++) { out = sprintf("'"$TMP"'/big/f%d.txt", f);
  for (i = 0; i < 20000; i++) { line = ""; n = int(rand() * 12);
    for (j = 0; j < n; j++) line = line sprintf("W%d%s", int(rand() * 500), (rand() < 0.3 ? ", " : " "));
    print line > out } } }'
cat "$TMP"/big/f*.txt >"$TMP/big.txt"
ref_wordcount "$TMP/big.txt" >"$TMP/ref_big.txt"
for p in 1 4; do
  check "big wordcount P=$p" "$SLUICE" run wordcount --input "$TMP/big" --output "$TMP/wcbig$p.txt" \
    --parallelism "$p" -D source.file.split-size=20kb
  check "big wordcount P=$p totals = reference" cmp -s "$TMP/ref_big.txt" <(last_per_word "$TMP/wcbig$p.txt")
done
# the same totals on the RocksDB backend, at P=1 and P=4 (when built with it)
rocksdb_ps="1 4"
[ "${SL_WITH_ROCKSDB:-ON}" = ON ] || { rocksdb_ps=""; echo "skip: RocksDB backend (built with -DSLUICE_WITH_ROCKSDB=OFF)"; }
for p in $rocksdb_ps; do
  check "rocksdb wordcount P=$p" "$SLUICE" run wordcount --input "$TMP/big" --output "$TMP/wcrdb$p.txt" \
    --parallelism "$p" -D state.backend.type=rocksdb -D "state.backend.rocksdb.dir=$TMP/rocksdb"
  check "rocksdb P=$p totals = reference" cmp -s "$TMP/ref_big.txt" <(last_per_word "$TMP/wcrdb$p.txt")
  check "rocksdb P=$p totals = hashmap totals" cmp -s <(last_per_word "$TMP/wcbig$p.txt") <(last_per_word "$TMP/wcrdb$p.txt")
done
check "rocksdb working dirs removed" test -z "$(ls -A "$TMP/rocksdb" 2>/dev/null)"
check "glob input" "$SLUICE" run wordcount --input "$TMP/big/f*.txt" --output "$TMP/wcglob.txt" --parallelism 2
check "glob totals = reference" cmp -s "$TMP/ref_big.txt" <(last_per_word "$TMP/wcglob.txt")
finish
