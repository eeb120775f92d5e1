#!/usr/bin/env bash
# `sluice run upper`: output equals `tr a-z A-Z` of the input, at P=1,2,4,
# as a single file and as a directory of part files.
. "$(dirname "$0")/lib_cli.sh"
in=$SL_SRC/data/input.txt
LC_ALL=C tr 'a-z' 'A-Z' <"$in" >"$TMP/expected"
for p in 1 2 4; do
  check "upper P=$p exit 0" "$SLUICE" run upper --input "$in" --output "$TMP/out$p.txt" --parallelism "$p"
  if [ "$p" = 1 ]; then
    check "upper P=1 exact" cmp -s "$TMP/expected" "$TMP/out1.txt"
  else
    check "upper P=$p same lines" cmp -s <(sort "$TMP/expected") <(sort "$TMP/out$p.txt")
  fi
  check "no inprogress left P=$p" test ! -e "$TMP/out$p.txt.inprogress"
done
# directory output: part files per subtask
check "upper dir exit 0" "$SLUICE" run upper --input "$in" --output "$TMP/dir/" --parallelism 2
check "upper dir has part files" test -e "$TMP/dir/part-0-0"
check "upper dir same lines" cmp -s <(sort "$TMP/expected") <(cat "$TMP"/dir/part-* | sort)
# stdout
"$SLUICE" run upper --input "$in" --parallelism 1 >"$TMP/stdout.txt"
check "upper to stdout" cmp -s "$TMP/expected" "$TMP/stdout.txt"
finish
