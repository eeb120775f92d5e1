#!/usr/bin/env bash
# `sluice sql`: a FILE.sql and -e 'STATEMENTS' with the usual job flags
# (-p, -D, --checkpoint-dir, --dead-letter), CSV in and out (expected rows
# worked out by hand), a directory of CSV files read at P=2 into a
# directory of exactly-once part files, the print connector, SHOW TABLES
# and EXPLAIN, a bad line failing the job with file and line (or going to
# the dead-letter file), and statement errors as FILE:LINE:COLUMN with a
# caret (exit 2).  Output order across subtasks is not defined, so those
# outputs are compared sorted.
. "$(dirname "$0")/lib_cli.sh"
same() { cmp -s "$1" <(printf '%s' "$2") || { echo "  $1 differs (< got, > want):" >&2; diff "$1" <(printf '%s' "$2") >&2; return 1; }; }
export SLUICE_REST_TOKEN= # nothing of the REST API is used here
NOREST="-D rest.enabled=false"

# ---- a file of statements, P=1 --------------------------------------------
# orders: id, customer, amount (DECIMAL(8,2)), placed (TIMESTAMP)
printf '1,ann,12.50,2024-01-15 09:30:00\n2,bob,7.25,2024-02-01 18:00:00\n3,ann,40,2024-02-29 23:59:59.5\n4,cy,0.99,2023-12-31 00:00:00\n' >"$TMP/orders.csv"
cat >"$TMP/q.sql" <<EOF
-- big orders of 2024, amounts doubled with 10 % tax
CREATE TABLE orders (id BIGINT, customer VARCHAR, amount DECIMAL(8, 2), placed TIMESTAMP)
  WITH ('connector' = 'filesystem', 'path' = '$TMP/orders.csv', 'format' = 'csv');
CREATE TABLE big (id BIGINT, who VARCHAR, gross DECIMAL(10, 2), month BIGINT, label VARCHAR)
  WITH ('connector' = 'filesystem', 'path' = '$TMP/big.csv');
INSERT INTO big
SELECT id, UPPER(customer), amount * 1.10, EXTRACT(MONTH FROM placed),
       CASE WHEN amount >= 20 THEN 'large' ELSE 'small' END || '-' || customer
FROM orders
WHERE EXTRACT(YEAR FROM placed) = 2024 AND amount > 5;
EOF
# 12.50 * 1.10 = 13.7500 -> 13.75; 7.25 * 1.10 = 7.975 -> 7.98 (half away
# from zero); 40 * 1.10 = 44.00; order 4 is of 2023
run sql "$TMP/q.sql" -p 1 $NOREST
check "file: exit 0" rc_is 0
check "file: output" same "$TMP/big.csv" '1,ANN,13.75,1,small-ann
2,BOB,7.98,2,small-bob
3,ANN,44.00,2,large-ann
'
check "file: summary line" contains "$TMP/err" "sql: summary: 4 records in, 3 out, 0 dead letters"

# ---- -e, P=2, a directory in, a directory of part files out ---------------
mkdir -p "$TMP/in" "$TMP/parts"
printf 'a,1\nb,2\n' >"$TMP/in/1.csv"
printf 'c,3\n' >"$TMP/in/2.csv"
printf 'd,4\ne,5\nf,6\n' >"$TMP/in/3.csv"
run sql -p 2 $NOREST --checkpoint-dir "$TMP/ckpt" -e "
  CREATE TABLE kv (k TEXT, v INT) WITH (connector = 'filesystem', path = '$TMP/in');
  CREATE TABLE sq (k TEXT, v2 BIGINT) WITH (connector = 'filesystem', path = '$TMP/parts/', format = 'json');
  INSERT INTO sq SELECT k, CAST(v AS BIGINT) * v FROM kv WHERE v % 2 = 0 OR k = 'a'"
check "-e P=2: exit 0" rc_is 0
cat "$TMP"/parts/part-* >"$TMP/parts.all" 2>/dev/null
check "-e P=2: part files hold every row once" same_sorted "$TMP/parts.all" '{"k":"a","v2":1}
{"k":"b","v2":4}
{"k":"d","v2":16}
{"k":"f","v2":36}
'
check "-e P=2: no file left in progress" bash -c "! ls '$TMP/parts' | grep -q inprogress"

# ---- print, SHOW TABLES, EXPLAIN, a bare SELECT (to stdout, as print) ----------
run sql -p 1 $NOREST -e "
  CREATE TABLE g (n INT, s VARCHAR) WITH (connector = 'datagen', 'number-of-rows' = '3',
    'fields.n.kind' = 'sequence', 'fields.n.start' = '1', 'fields.s.kind' = 'sequence');
  CREATE TABLE p (n INT, t VARCHAR) WITH (connector = 'print');
  SHOW TABLES;
  EXPLAIN INSERT INTO p SELECT n * 10, s || '!' FROM g;
  INSERT INTO p SELECT n * 10, s || '!' FROM g"
check "print: exit 0" rc_is 0
check "print: SHOW, EXPLAIN and rows on stdout" same "$TMP/out" 'g
p
sink: p [connector=print]
  encode: p (row -> +I[...] text)
    calc: select (n * 10) AS n INT, (s || '"'"'!'"'"') AS t VARCHAR
      source: g [connector=datagen, number-of-rows=3, fields.n.kind=sequence, fields.n.start=1, fields.s.kind=sequence]
+I[10, 0!]
+I[20, 1!]
+I[30, 2!]
'
run sql -p 1 $NOREST -e "CREATE TABLE g (n INT, s VARCHAR) WITH (connector = 'datagen', 'number-of-rows' = '3',
    'fields.n.kind' = 'sequence', 'fields.s.kind' = 'sequence', 'fields.s.start' = '7');
  SELECT s, n FROM g WHERE n = 2"
check "a bare SELECT prints its rows" same "$TMP/out" '+I[9, 2]
'

# ---- bad lines ------------------------------------------------------------------
printf '1,x\n2,oops\n3,y\n' >"$TMP/bad.csv"
cat >"$TMP/bad.sql" <<EOF
CREATE TABLE b (id INT, s TEXT) WITH (connector = 'filesystem', path = '$TMP/bad.csv');
CREATE TABLE o (id INT, s TEXT) WITH (connector = 'filesystem', path = '$TMP/bad.out');
INSERT INTO o SELECT 6 / (id - 2), s FROM b;
EOF
# 6 / (2 - 2): the row is a bad record of the calc
run sql "$TMP/bad.sql" -p 1 $NOREST
check "bad row: exit 1" rc_is 1
check "bad row: names table, file and line" contains "$TMP/err" "bad record at table 'b' ($TMP/bad.csv) line 2: division by zero"
run sql "$TMP/bad.sql" -p 1 $NOREST --dead-letter "$TMP/dead.txt"
check "dead letter: exit 0" rc_is 0
check "dead letter: the good rows" same "$TMP/bad.out" '-6,x
6,y
'
check "dead letter: the row as CSV with its reason" contains "$TMP/dead.txt" "line 2	division by zero	2,oops"
printf '1,x\n2\n3,y\n' >"$TMP/bad.csv"
run sql "$TMP/bad.sql" -p 1 $NOREST -D pipeline.dead-letter.path="$TMP/dead2.txt"
check "-D dead letter: exit 0" rc_is 0
check "-D dead letter: the line with its reason" contains "$TMP/dead2.txt" "line 2	1 fields, the table has 2 columns	2"

# a file of Debezium change events: a bad one to the dead letters by file
# and line; a delete without its before image fails the job, saying where
printf '%s\n' '{"before":null,"after":{"id":1,"s":"x"},"op":"c"}' '{"before":null,"after":{"id":2},"op":"x"}' \
  '{"before":{"id":1,"s":"x"},"after":null,"op":"d"}' >"$TMP/ev.json"
DBZ="CREATE TABLE d (id INT, s TEXT) WITH (connector = 'filesystem', path = '$TMP/ev.json', format = 'debezium-json');"
run sql -p 1 $NOREST --dead-letter "$TMP/dead3.txt" -e "$DBZ SELECT id, s FROM d"
check "debezium-json file: exit 0" rc_is 0
check "debezium-json file: the changelog" same "$TMP/out" '+I[1, x]
-D[1, x]
'
check "debezium-json file: a bad event by file and line" contains "$TMP/dead3.txt" \
  "table 'd' ($TMP/ev.json) line 2	\"op\" \"x\" is not one of"
printf '%s\n' '{"before":null,"after":null,"op":"d"}' >"$TMP/ev.json"
run sql -p 1 $NOREST -e "$DBZ SELECT id, s FROM d"
check "debezium-json file: a delete without before fails the job" contains "$TMP/err" \
  "table 'd' ($TMP/ev.json) line 1: the \"before\" image of a delete (\"d\") is null"

# ---- windows equal `sluice run window-agg` on the same data ------------------
# 3000 lines `ts,key,value`: ts grows by 0..3 ms per line plus a jitter of
# 0..40 ms, so every record is within the 50 ms bound (none is late and the
# output does not depend on when watermarks go out); integer values, so
# window-agg's sums, minima and maxima print as the BIGINTs of SQL.
awk 'BEGIN { s = 7; t = 1000; for (i = 0; i < 3000; i++) {
  s = (s * 16807) % 2147483647; t += int(s / 3) % 4;
  j = int(s / 7) % 41; k = substr("abcdefg", int(s / 11) % 7 + 1, 1); v = int(s / 13) % 201 - 100;
  print t + j "," k "," v } }' >"$TMP/ev.csv"
for spec in "tumbling:100|TUMBLE(ev, ts, 100)" "sliding:100:20|HOP(ev, ts, 20, 100)" "session:30|SESSION(ev, ts, 30)"; do
  wa=${spec%%|*} tvf=${spec#*|}
  for P in 1 2; do
    run run window-agg -p $P $NOREST --input "$TMP/ev.csv" --output "$TMP/wa.out" --window "$wa" --out-of-orderness 50
    check "window-agg $wa P=$P: exit 0" rc_is 0
    run sql -p $P $NOREST -e "
      CREATE TABLE ev (ts BIGINT, k VARCHAR, v BIGINT)
        WITH (connector = 'filesystem', path = '$TMP/ev.csv', watermark = 'ts - 50');
      CREATE TABLE agg (window_start BIGINT, window_end BIGINT, k VARCHAR, c BIGINT, s BIGINT, mn BIGINT, mx BIGINT)
        WITH (connector = 'filesystem', path = '$TMP/sql.out');
      INSERT INTO agg SELECT window_start, window_end, k, COUNT(*), SUM(v), MIN(v), MAX(v)
        FROM $tvf GROUP BY window_start, window_end, k"
    check "sql $tvf P=$P: exit 0" rc_is 0
    check "sql $tvf P=$P: rows" test "$(wc -l <"$TMP/sql.out")" -gt 100
    check "sql $tvf P=$P = window-agg $wa" same_sorted "$TMP/sql.out" "$(cat "$TMP/wa.out")
"
  done
done

# ---- the C example (examples/sql_revenue.c, on libsluice.so; built unless
# -DSLUICE_BUILD_EXAMPLES=OFF): minutes 12:00 apple 3 x 0.50 + 2 x 0.50,
# pear 1 x 0.75; 12:01 apple 10 x 0.45, pear 4 x 0.70 (a line of quantity
# 0 is left out by WHERE)
if [ -x "$SL_BUILD/sql_revenue" ]; then
  printf '2024-05-01 12:00:03,apple,3,0.50\n2024-05-01 12:00:41,pear,1,0.75\n2024-05-01 12:00:58,apple,2,0.50\n2024-05-01 12:01:02,pear,4,0.70\n2024-05-01 12:01:09,pear,0,9.99\n2024-05-01 12:01:30,apple,10,0.45\n' >"$TMP/orders.csv"
  "$SL_BUILD/sql_revenue" "$TMP/orders.csv" "$TMP/revenue.json" 2>"$TMP/ex.err"
  check "example sql_revenue: exit 0" test $? -eq 0
  check "example sql_revenue: the plan" contains "$TMP/ex.err" "window: TUMBLE size 60000 ms, key [product], aggregates [COUNT(*), SUM(agg\$0)]"
  check "example sql_revenue: output" same_sorted "$TMP/revenue.json" '{"minute":"2024-05-01 12:00:00","product":"apple","orders":2,"total":2.50}
{"minute":"2024-05-01 12:00:00","product":"pear","orders":1,"total":0.75}
{"minute":"2024-05-01 12:01:00","product":"apple","orders":1,"total":4.50}
{"minute":"2024-05-01 12:01:00","product":"pear","orders":1,"total":2.80}
'
fi

# ---- statement errors ----------------------------------------------------------
cat >"$TMP/err.sql" <<'EOF'
CREATE TABLE t (a INT) WITH (connector = 'datagen');
CREATE TABLE o (a INT) WITH (connector = 'blackhole');
INSERT INTO o SELECT a + FROM t;
EOF
run sql "$TMP/err.sql"
check "syntax error: exit 2" rc_is 2
check "syntax error: FILE:LINE:COLUMN and a caret" same "$TMP/err" "sluice sql: $TMP/err.sql:3:26: syntax error at or near \"FROM\"
  INSERT INTO o SELECT a + FROM t;
                           ^
"
# GROUP BY without a window: a changelog, printed as Flink prints it
# (worked out by hand: a new group +I, a changed one -U old, +U new)
printf 'a,1\nb,5\na,3\n' >"$TMP/grp.csv"
run sql -p 1 -e "CREATE TABLE t (k VARCHAR, v INT) WITH (connector = 'filesystem', path = '$TMP/grp.csv');
SELECT k, COUNT(*) AS n, SUM(v) AS s FROM t GROUP BY k"
check "GROUP BY: exit 0" rc_is 0
check "GROUP BY: its changes on stdout" same "$TMP/out" '+I[a, 1, 1]
+I[b, 1, 5]
-U[a, 1, 1]
+U[a, 2, 4]
'
run sql -e "CREATE TABLE t (k VARCHAR, v INT) WITH (connector = 'filesystem', path = '$TMP/grp.csv');
CREATE TABLE f (k VARCHAR, n BIGINT) WITH (connector = 'filesystem', path = '$TMP/f.csv');
INSERT INTO f SELECT k, COUNT(*) FROM t GROUP BY k"
check "GROUP BY into a file: exit 2" rc_is 2
check "GROUP BY into a file: refused, the file takes inserts only" contains "$TMP/err" "sluice sql: -e:3:13: table 'f' (connector filesystem) takes inserts only"
run sql
check "no statements: exit 2" rc_is 2
run sql "$TMP/none.sql"
check "missing file: exit 2" rc_is 2
check "missing file: says so" contains "$TMP/err" "cannot read '$TMP/none.sql'"
# ---- layering: src/sql builds jobs with the public API alone ------------------
# (plus the row format, the allocator hook and its session slot on the env)
grep -ho '#include "[^"]*"' "$SL_SRC"/src/sql/*.[ch] | sort -u | grep -v -e '"sluice.h"' -e '"sluice_sql.h"' \
  -e '"sluice_nexmark.h"' -e '"row/row.h"' -e '"core/core.h"' -e '"api/env_ext.h"' -e '"sql/sql.h"' >"$TMP/includes"
check "src/sql includes no runtime, operator or state header ($(tr '\n' ' ' <"$TMP/includes"))" test ! -s "$TMP/includes"
grep -ho '#include "[^"]*"' "$SL_SRC"/src/row/*.[ch] | sort -u | grep -v -e '"row/row.h"' >"$TMP/includes"
check "src/row includes nothing of the engine" test ! -s "$TMP/includes"

# ---- the README's example: examples/sql/window_agg.sql equals window-agg ------
# (from the top of the tree, as the README runs it; the per-sensor windows
# of data/events.csv at P=1 with a watermark after every record, worked out
# by hand: the two late readings, 2900 and 1100, are dropped)
mkdir -p "$TMP/readme" && cp -R "$SL_SRC/data" "$SL_SRC/examples" "$TMP/readme/"
(cd "$TMP/readme" && "$SLUICE" sql examples/sql/window_agg.sql -p 1 -D pipeline.auto-watermark-interval=0 \
   $NOREST --dead-letter bad.txt </dev/null >"$TMP/out" 2>"$TMP/err"; echo $? >"$TMP/rc")
check "README example: exit 0" rc_is 0
check "README example: the windows" same "$TMP/readme/out/per_second.csv" "1000,2000,sensor-a,2,41.75,20.5,21.25
1000,2000,sensor-b,2,35.5,17.5,18
2000,3000,sensor-a,1,22,22,22
2000,3000,sensor-b,1,19,19,19
3000,4000,sensor-a,1,23.75,23.75,23.75
4000,5000,sensor-b,1,20,20,20
"
check "README example: the bad line went to the dead letters" contains "$TMP/readme/bad.txt" "not-a-number,sensor-c,1"
check "README example: 2 late records dropped" contains "$TMP/err" "2 late records dropped"

run sql --help
check "--help: exit 0" rc_is 0
check "--help: lists -e" contains "$TMP/out" "--execute STATEMENTS"
finish
