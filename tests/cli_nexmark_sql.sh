#!/usr/bin/env bash
# `sluice bench nexmark --sql --query qN`: every Nexmark query written in
# SQL (bench/nexmark/sql/qN.sql) has the C query's results -- the same
# count and the same order-independent checksum of the result values (the
# SQL rows laid out as the C query's results, bench/nexmark_sql.c) -- at
# P=1 and P=2 on a small stream (1000 events/s of event time: windows of
# 10 s hold 10 000 events); q0 passes the 46 bids of every 50 events.
# A query without an SQL version, and --sql with a warm-up, are refused.
. "$(dirname "$0")/lib_cli.sh"
EVENTS=${SL_TEST_SMALL:+6000}
EVENTS=${EVENTS:-30000}
summary() { # summary QUERY P [--sql]: "results=K checksum=X", exit status kept in $TMP/rc
  "$SLUICE" bench nexmark --query "$1" -p "$2" --events "$EVENTS" --rate 1000 -D rest.enabled=false ${3:-} \
    >"$TMP/line" 2>"$TMP/err"
  echo $? >"$TMP/rc"
  grep -o 'results=[0-9]* checksum=[0-9a-f]*' "$TMP/line"
}
n=0
for f in "$SL_SRC"/bench/nexmark/sql/q*.sql; do
  q=$(basename "$f" .sql)
  [ "$q" = q12 ] && continue # processing time: checked below
  n=$((n + 1))
  for p in 1 2; do
    c=$(summary "$q" "$p")
    s=$(summary "$q" "$p" --sql)
    check "$q P=$p: SQL exits 0 ($(cat "$TMP/err"))" test "$(cat "$TMP/rc")" = 0
    check "$q P=$p: SQL has the C results ($s vs $c)" test -n "$s" -a "$s" = "$c"
    check "$q P=$p: the run has results" test "${s#results=0 }" = "$s"
  done
done
check "SQL versions found" test "$n" -ge 8
# q12's windows are processing time: its results depend on the clock
s=$(summary q12 2 --sql)
check "q12 P=2: SQL exits 0 ($(cat "$TMP/err"))" test "$(cat "$TMP/rc")" = 0
check "q12 P=2: the run has results" test -n "$s" -a "${s#results=0 }" = "$s"

"$SLUICE" bench nexmark --sql --query q0 -p 1 --events 5000 -D rest.enabled=false >"$TMP/line" 2>"$TMP/err"
check "q0: 46 bids of every 50 events, 5000 events counted once" \
  grep -q 'query=q0 sql=1 parallelism=1 events=5000 .* results=4600 ' "$TMP/line"

"$SLUICE" bench nexmark --sql --query q6 --events 1000 >"$TMP/out" 2>"$TMP/err"
check "q6 without SQL: exit 2" test $? -eq 2
check "q6 without SQL: says so" contains "$TMP/err" "q6 has no SQL version yet (SQL: q0"
"$SLUICE" bench nexmark --sql --query q0 --events 1000 --warmup-events 10 >"$TMP/out" 2>"$TMP/err"
check "--sql with a warm-up: exit 2" test $? -eq 2
check "--sql with a warm-up: says so" contains "$TMP/err" "--sql runs measure the whole run"
finish
