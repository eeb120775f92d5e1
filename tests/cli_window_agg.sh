#!/usr/bin/env bash
# `sluice run window-agg`: small inputs whose expected output was worked out
# by hand (each case explains it), for tumbling, sliding and session windows
# (with a merge that bridges two sessions), exact decimals, disorder within
# the bound, a late record within the allowed lateness that re-fires its
# window, a later one going to --late-output (or counted with a warning),
# malformed lines going to --dead-letter as "line N" (or failing the job),
# stdin input, usage errors; and P=4 output = P=1 output on a larger
# generated input without late records.  Output order across keys is not
# defined, so outputs are compared sorted.
. "$(dirname "$0")/lib_cli.sh"
wa() { run run window-agg --parallelism 1 --watermark-interval 0 "$@"; }

# ---- tumbling -------------------------------------------------------------
# tumbling:10, bound 0.  Watermark after each record = max ts - 1.
#   1,a,5   -> [0,10) a {5}                       wm 0
#   3,b,2   -> [0,10) b {2}                       wm 2
#   7,a,-1  -> [0,10) a {5,-1}                    wm 6
#   12,a,4  -> [10,20) a {4}                      wm 11: fires [0,10) a and b
#   15,b,10 -> [10,20) b {10}                     wm 14
#   21,a,1  -> [20,30) a {1}                      wm 20: fires [10,20) a and b
#   end: fires [20,30) a
printf '1,a,5\n3,b,2\n7,a,-1\n12,a,4\n15,b,10\n21,a,1\n' >"$TMP/t.csv"
want_t='0,10,a,2,4,-1,5
0,10,b,1,2,2,2
10,20,a,1,4,4,4
10,20,b,1,10,10,10
20,30,a,1,1,1,1
'
wa --input "$TMP/t.csv" --output "$TMP/t.out" --window tumbling:10
check "tumbling exit 0" rc_is 0
check "tumbling output" same_sorted "$TMP/t.out" "$want_t"
# in order, so the default (periodic) watermark interval gives the same
run run window-agg --input "$TMP/t.csv" --output "$TMP/t2.out" --window tumbling:10ms --parallelism 2
check "tumbling periodic watermarks, P=2 exit 0" rc_is 0
check "tumbling periodic watermarks, P=2 output" same_sorted "$TMP/t2.out" "$want_t"

# CRLF lines: the '\r' is not part of the value
printf '1,a,5\r\n12,a,1.5\r\n' >"$TMP/crlf.csv"
wa --input "$TMP/crlf.csv" --output "$TMP/crlf.out" --window tumbling:10
check "CRLF exit 0" rc_is 0
check "CRLF output" same_sorted "$TMP/crlf.out" '0,10,a,1,5,5,5
10,20,a,1,1.5,1.5,1.5
'

# ---- sliding --------------------------------------------------------------
# sliding:10:5 on the same lines: a record at t is in [s, s+10) for the
# multiples of 5 with t-10 < s <= t, so
#   1 -> [-5,5) [0,10)    3 -> [-5,5) [0,10)    7 -> [0,10) [5,15)
#   12 -> [5,15) [10,20)  15 -> [10,20) [15,25) 21 -> [15,25) [20,30)
# a = {1:5, 7:-1, 12:4, 21:1}, b = {3:2, 15:10}; in order, so every
# window fires once with all its records.
want_s='-5,5,a,1,5,5,5
0,10,a,2,4,-1,5
5,15,a,2,3,-1,4
10,20,a,1,4,4,4
15,25,a,1,1,1,1
20,30,a,1,1,1,1
-5,5,b,1,2,2,2
0,10,b,1,2,2,2
10,20,b,1,10,10,10
15,25,b,1,10,10,10
'
wa --input "$TMP/t.csv" --output "$TMP/s.out" --window sliding:10:5
check "sliding exit 0" rc_is 0
check "sliding output" same_sorted "$TMP/s.out" "$want_s"

# ---- session, with a bridging merge ----------------------------------------
# session:6, bound 30 (watermark = max - 31):
#   0,a,1   -> [0,6)                               wm -31
#   20,a,2  -> [20,26)                             wm -11
#   10,a,3  -> [10,16)  (no overlap with [0,6) or [20,26))
#   5,a,4   -> [5,11) overlaps [0,6) and [10,16): one session [0,16) {1,3,4}
#   100,b,7 -> [100,106)                           wm 69: fires [0,16), [20,26)
#   end: fires [100,106)
printf '0,a,1\n20,a,2\n10,a,3\n5,a,4\n100,b,7\n' >"$TMP/se.csv"
wa --input "$TMP/se.csv" --output "$TMP/se.out" --window session:6 --out-of-orderness 30
check "session exit 0" rc_is 0
check "session output (bridged)" same_sorted "$TMP/se.out" '0,16,a,3,8,1,4
20,26,a,1,2,2,2
100,106,b,1,7,7,7
'

# ---- exact decimals ----------------------------------------------------------
# tumbling:10: [0,10) x = 1.5 - 2.25 + 3 = 2.25, printed with 2 digits
# (most seen); y = 0.001 - 0.002 = -0.001 (3 digits); z = 3.141592653 +
# 2 * 9223372036854775807 = 18446744073709551617.141592653 (beyond int64;
# 9 digits); w = -0.5.  [10,20) x = 100 (integers only: no point).
printf '%s\n' 1,x,1.5 2,x,-2.25 3,x,3 4,y,0.001 5,y,-0.002 6,z,3.141592653 \
  7,z,9223372036854775807 8,z,9223372036854775807 9,w,-0.5 11,x,100 >"$TMP/d.csv"
wa --input "$TMP/d.csv" --output "$TMP/d.out" --window tumbling:10
check "decimals exit 0" rc_is 0
check "decimals output" same_sorted "$TMP/d.out" '0,10,x,3,2.25,-2.25,3.00
0,10,y,2,-0.001,-0.002,0.001
0,10,z,3,18446744073709551617.141592653,3.141592653,9223372036854775807.000000000
0,10,w,1,-0.5,-0.5,-0.5
10,20,x,1,100,100,100
'

# ---- disorder within the bound; and beyond it without --late-output -----------
# tumbling:10, bound 5 (wm = max - 6):
#   1 -> [0,10) wm -5;  12 -> [10,20) wm 6;  8 -> [0,10) (9 > 6: open) wm 6
#   14 wm 8;  16 wm 10: fires [0,10) {1,3};  end: [10,20) {2,4,5}
printf '1,a,1\n12,a,2\n8,a,3\n14,a,4\n16,a,5\n' >"$TMP/o.csv"
wa --input "$TMP/o.csv" --output "$TMP/o.out" --window tumbling:10 --out-of-orderness 5
check "out-of-order exit 0" rc_is 0
check "out-of-order within bound: nothing late" same_sorted "$TMP/o.out" '0,10,a,2,4,1,3
10,20,a,3,11,2,5
'
check "no late warning" bash -c "! grep -q 'late records dropped (' '$TMP/err'"
# bound 0: after 12 the watermark is 11, so 8 is late for [0,10) (9 <= 11);
# without --late-output it is counted and reported, not lost silently.
wa --input "$TMP/o.csv" --output "$TMP/o0.out" --window tumbling:10
check "late, no --late-output: exit 0" rc_is 0
check "late, no --late-output: output" same_sorted "$TMP/o0.out" '0,10,a,1,1,1,1
10,20,a,3,11,2,5
'
check "late, no --late-output: warning" contains "$TMP/err" \
  "window-agg: 1 late records dropped (use --late-output PATH)"

# ---- allowed lateness: re-fire, then late output ---------------------------------
# tumbling:10, bound 0, lateness 5 ([0,10) is kept until wm >= 9 + 5 = 14):
#   1,a,1  -> [0,10)                          wm 0
#   12,a,2 -> [10,20)                         wm 11: fires [0,10) {1}
#   8,a,3  -> [0,10) not late (14 > 11): re-fires at once with {1,3}
#   16,a,4 -> [10,20)                         wm 15: [0,10) is dropped
#   7,a,5  -> [0,10) late (14 <= 15): to the late output, as read
#   25,a,6 -> [20,30)                         wm 24: fires [10,20) {2,4}
#   end: fires [20,30) {6}
printf '1,a,1\n12,a,2\n8,a,3\n16,a,4\n7,a,5\n25,a,6\n' >"$TMP/l.csv"
wa --input "$TMP/l.csv" --output "$TMP/l.out" --window tumbling:10 --allowed-lateness 5 \
  --late-output "$TMP/l.late"
check "lateness exit 0" rc_is 0
check "lateness output (re-fired window)" same_sorted "$TMP/l.out" '0,10,a,1,1,1,1
0,10,a,2,4,1,3
10,20,a,2,6,2,4
20,30,a,1,6,6,6
'
check "late output has the original line" cmp -s "$TMP/l.late" <(printf '7,a,5\n')
check "no warning with --late-output" bash -c "! grep -q 'late records dropped (' '$TMP/err'"

# ---- malformed lines ---------------------------------------------------------------
# tumbling:10; good lines 1, 7, 11 -> [0,10) {1,2}, [10,20) {1}; line 12 is
# longer than pipeline.max-line-length (dead-lettered by the source, by
# byte offset) and still counts as a line, so the
# bad value on line 13 is "line 13".
{ printf '%s\n' 1,a,1 oops 2,,5 x3,a,1 4,a,1.2345678901 5,a,1e5 6,a,2 -1,a,3 '7,a,' 8,a,b,c 11,a,1
  printf 'x%.0s' $(seq 80); printf '\n13,a, 4\n'; } >"$TMP/m.csv"
wa --input "$TMP/m.csv" --output "$TMP/m.out" --window tumbling:10 \
  --dead-letter "$TMP/m.dead" -D pipeline.max-line-length=64
check "malformed with --dead-letter: exit 0" rc_is 0
check "malformed: good lines aggregated" same_sorted "$TMP/m.out" '0,10,a,2,3,1,2
10,20,a,1,1,1,1
'
check "dead letters: 10" test "$(wc -l <"$TMP/m.dead")" -eq 10
T=$'\t'
check "line 2: field count" contains "$TMP/m.dead" "line 2${T}expected 3 fields timestamp,key,value separated by ',', found 1"
check "line 3: empty key" contains "$TMP/m.dead" "line 3${T}key: empty"
check "line 4: timestamp" contains "$TMP/m.dead" "line 4${T}timestamp: not a non-negative integer"
check "line 5: fractional digits" contains "$TMP/m.dead" "line 5${T}value: more than 9 fractional digits"
check "line 6: exponent" contains "$TMP/m.dead" "line 6${T}value: not a decimal number"
check "line 8: negative timestamp" contains "$TMP/m.dead" "line 8${T}timestamp: not a non-negative integer"
check "line 9: empty value" contains "$TMP/m.dead" "line 9${T}value: empty"
check "line 10: four fields" contains "$TMP/m.dead" "line 10${T}expected 3 fields timestamp,key,value separated by ',', found 4"
check "line 12: overlong, by offset" contains "$TMP/m.dead" "offset=$(head -n 11 "$TMP/m.csv" | wc -c)${T}line longer than"
check "line 13: space in value" contains "$TMP/m.dead" "line 13${T}value: not a decimal number"
check "dead letter keeps the record" contains "$TMP/m.dead" "4,a,1.2345678901"
# without --dead-letter the first bad line fails the job, naming it
wa --input "$TMP/m.csv" --output "$TMP/m2.out" --window tumbling:10
check "malformed without --dead-letter: exit 1" rc_is 1
check "failure names line and reason" contains "$TMP/err" "line 2: expected 3 fields"
check "failed job leaves no output" test ! -e "$TMP/m2.out"
printf '1,a,1\n2,a,99999999999999999999\n' >"$TMP/big.csv"
wa --input "$TMP/big.csv" --output "$TMP/m3.out" --window tumbling:10
check "int64 overflow: exit 1" rc_is 1
check "int64 overflow: reason" contains "$TMP/err" "line 2: value: integer part outside the 64-bit range"

# ---- timestamps at the end of the int64 range ----------------------------------------
# INT64_MAX = 9223372036854775807.  tumbling:1s: the last window that fits is
# [9223372036854774000, 9223372036854775000); the window of 9223372036854775000
# and later would end after INT64_MAX: a bad record of the window (dead
# letter, or the job fails naming it), never a window with a wrapped end.
#   5 -> [0,1000) {2};  9223372036854774999 -> [...774000, ...775000) {3}
#   (wm ...774998 fires [0,1000));  9223372036854775000 and INT64_MAX: dead
printf '5,k,2\n9223372036854774999,k,3\n9223372036854775000,k,4\n9223372036854775807,k,1\n' >"$TMP/x.csv"
wa --input "$TMP/x.csv" --output "$TMP/x.out" --window tumbling:1s --dead-letter "$TMP/x.dead"
check "int64 end, tumbling: exit 0" rc_is 0
check "int64 end, tumbling: output" same_sorted "$TMP/x.out" '0,1000,k,1,2,2,2
9223372036854774000,9223372036854775000,k,1,3,3,3
'
check "int64 end, tumbling: 2 dead letters" test "$(wc -l <"$TMP/x.dead")" -eq 2
check "int64 end, tumbling: reason" contains "$TMP/x.dead" \
  "window${T}0${T}timestamp 9223372036854775807${T}its tumbling window (size 1000 ms) would reach beyond the int64 range"
check "int64 end, tumbling: the line" contains "$TMP/x.dead" "9223372036854775000,k,4"
# sliding:10s:5s: 5 -> [-5000,5000) and [0,10000); 9223372036854764999 ->
# [...755000, ...765000) and [...760000, ...770000); 9223372036854770000 ->
# [...770000, ...780000) would end after INT64_MAX; INT64_MAX too
printf '5,k,2\n9223372036854764999,k,3\n9223372036854770000,k,4\n9223372036854775807,k,1\n' >"$TMP/xs.csv"
wa --input "$TMP/xs.csv" --output "$TMP/xs.out" --window sliding:10s:5s --dead-letter "$TMP/xs.dead"
check "int64 end, sliding: exit 0" rc_is 0
check "int64 end, sliding: output" same_sorted "$TMP/xs.out" '-5000,5000,k,1,2,2,2
0,10000,k,1,2,2,2
9223372036854755000,9223372036854765000,k,1,3,3,3
9223372036854760000,9223372036854770000,k,1,3,3,3
'
check "int64 end, sliding: 2 dead letters" test "$(wc -l <"$TMP/xs.dead")" -eq 2
check "int64 end, sliding: reason" contains "$TMP/xs.dead" \
  "timestamp 9223372036854770000${T}one of its sliding windows (size 10000 ms, slide 5000 ms)"
# session gap INT64_MAX ms: a session's end is cut at INT64_MAX.
#   5, 100 -> [5, MAX) {2, 3};  j@9223372036854775000 -> [...775000, MAX) {7};
#   INT64_MAX: no session [t, end > t) exists: dead letter
printf '5,k,2\n100,k,3\n9223372036854775000,j,7\n9223372036854775807,k,1\n' >"$TMP/xg.csv"
wa --input "$TMP/xg.csv" --output "$TMP/xg.out" --window session:9223372036854775807 \
  --dead-letter "$TMP/xg.dead"
check "int64 end, session: exit 0" rc_is 0
check "int64 end, session: output" same_sorted "$TMP/xg.out" '5,9223372036854775807,k,2,5,2,3
9223372036854775000,9223372036854775807,j,1,7,7,7
'
check "int64 end, session: 1 dead letter" test "$(wc -l <"$TMP/xg.dead")" -eq 1
check "int64 end, session: the line" contains "$TMP/xg.dead" "timestamp 9223372036854775807"
# without --dead-letter the job fails naming the record
wa --input "$TMP/x.csv" --output "$TMP/x2.out" --window tumbling:1s
check "int64 end without --dead-letter: exit 1" rc_is 1
check "int64 end without --dead-letter: message" contains "$TMP/err" \
  "operator 'window' (subtask 1/1): bad record at timestamp 9223372036854775000: its tumbling window"

# ---- stdin, print sink; line numbers of stdin ----------------------------------------
printf '1,a,1\n2,a,2\nbad\n12,a,3\n' | "$SLUICE" run window-agg --window tumbling:10 \
  --parallelism 1 --dead-letter "$TMP/in.dead" >"$TMP/in.out" 2>"$TMP/err"
echo $? >"$TMP/rc"
check "stdin exit 0" rc_is 0
check "stdin output on stdout" same_sorted "$TMP/in.out" '0,10,a,2,3,1,2
10,20,a,1,3,3,3
'
check "stdin line numbers" contains "$TMP/in.dead" "line 3${T}expected 3 fields"

# ---- processing time ---------------------------------------------------------------------
# windows follow the clock: only the total count is known (each record is in
# exactly one tumbling window)
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "%d,k%d,%d\n", i, i % 7, i }' >"$TMP/p.csv"
run run window-agg --input "$TMP/p.csv" --output "$TMP/p.out" --window tumbling:5ms --time processing
check "processing time exit 0" rc_is 0
check "processing time: every record counted once" \
  test "$(awk -F, '{ n += $4 } END { print n }' "$TMP/p.out")" -eq 3000

# ---- usage errors ---------------------------------------------------------------------------
for bad in "" "--window tumbling" "--window tumbling:0" "--window sliding:10" \
  "--window session:5:5" "--window hopping:5" "--window tumbling:5 --time wall" \
  "--window tumbling:5 --out-of-orderness -5" "--window tumbling:5 --allowed-lateness 1x" \
  "--window tumbling:5 --watermark-interval soon" \
  "--window tumbling:5 --input $TMP/t.csv --socket localhost:9"; do
  # shellcheck disable=SC2086
  run run window-agg $bad
  check "usage error exit 2: '$bad'" rc_is 2
done

# ---- P=4 = P=1 on a larger input without late records ------------------------------------
# 20000 lines, 50 keys, decimal values; timestamps at most 20 ms out of
# order and a bound of 50 ms, so no record is ever late and no session that
# fired is touched again: the result cannot depend on how watermarks
# interleave with records, only on the input.
awk 'BEGIN { srand(11); t = 0; for (i = 0; i < 20000; i++) { t += int(rand() * 3);
  ts = t - int(rand() * 21); if (ts < 0) ts = 0;
  printf "%d,key%d,%s%d.%02d\n", ts, int(rand() * 50), (rand() < 0.3 ? "-" : ""), int(rand() * 1000), int(rand() * 100) } }' \
  >"$TMP/g.csv"
for w in tumbling:100 sliding:100:30 session:7; do
  wa --input "$TMP/g.csv" --output "$TMP/g1.out" --window "$w" --out-of-orderness 50 \
    --late-output "$TMP/g1.late"
  check "$w P=1 exit 0" rc_is 0
  check "$w P=1: no late records" test ! -s "$TMP/g1.late"
  for wi in 0 200ms; do
    run run window-agg --input "$TMP/g.csv" --output "$TMP/g4.out" --window "$w" \
      --out-of-orderness 50 --parallelism 4 --watermark-interval "$wi"
    check "$w P=4 interval $wi exit 0" rc_is 0
    check "$w P=4 interval $wi = P=1" cmp -s <(LC_ALL=C sort "$TMP/g1.out") <(LC_ALL=C sort "$TMP/g4.out")
  done
  if [ "$w" = tumbling:100 ]; then
    check "tumbling: every record counted once" \
      test "$(awk -F, '{ n += $4 } END { print n }' "$TMP/g1.out")" -eq 20000
  fi
done
finish
