#!/usr/bin/env bash
# An unbounded job (continuous file source) stopped by SIGINT/SIGTERM: exit
# 130, every line read is counted and the output file is committed; printed
# output appears while the job is still running (idle flush).
. "$(dirname "$0")/lib_cli.sh"
mkdir -p "$TMP/in"
printf 'alpha beta\nbeta gamma\n' >"$TMP/in/a.txt"
"$SLUICE" run wordcount --input "$TMP/in" --output "$TMP/wc.txt" --parallelism 2 \
  -D source.monitor-interval=20ms 2>"$TMP/err" &
pid=$!
sleep 0.4
printf 'gamma delta\n' >>"$TMP/in/a.txt"      # appended to a known file
printf 'alpha alpha\n' >"$TMP/in/b.txt"        # a new file
sleep 0.6
kill -INT "$pid"
wait "$pid"
rc=$?
check "SIGINT exit 130 (got $rc)" test "$rc" -eq 130
check "output committed" test -f "$TMP/wc.txt"
check "no .inprogress left" test ! -e "$TMP/wc.txt.inprogress"
cat "$TMP"/in/*.txt >"$TMP/all.txt"
ref_wordcount "$TMP/all.txt" >"$TMP/ref.txt"
check "totals include appended and new files" cmp -s "$TMP/ref.txt" <(last_per_word "$TMP/wc.txt")

# print sink: output visible before the job ends; SIGTERM stops it too
printf 'one\ntwo\n' >"$TMP/in/c.txt"
rm -f "$TMP/in/a.txt" "$TMP/in/b.txt"
"$SLUICE" run upper --input "$TMP/in" --parallelism 1 -D source.monitor-interval=20ms >"$TMP/printed" 2>/dev/null &
pid=$!
for _ in $(seq 50); do [ -s "$TMP/printed" ] && break; sleep 0.1; done
check "printed while running" cmp -s "$TMP/printed" <(printf 'ONE\nTWO\n')
kill -TERM "$pid"
wait "$pid"
rc=$?
check "SIGTERM exit 130 (got $rc)" test "$rc" -eq 130
finish
