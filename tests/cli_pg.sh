#!/usr/bin/env bash
# The PostgreSQL connector through the CLI, against a real private server
# (pg_server.sh; no server installed is a failure):
#   - errors: a bad URI option, an unknown connector option, a missing
#     table-name or table, a wrong port, a bad scan.mode -- each message
#     asserted, and a password in the URI never printed;
#   - type coverage: a row of every common type read as PostgreSQL's text
#     output prints it (NULL empty; CSV quotes around ',', '"' and '');
#   - the snapshot source: a table read at P=1/2/3 (split by integer
#     primary key, by block ranges without one, by scan.partition.column)
#     gives the same windows as the same rows read from a file;
#   - the sink: window-agg into a table created by the sink equals the CSV
#     output, with and without checkpoints; wordcount upserts the totals;
#     upper fills a one-column table; nothing is left prepared;
#   - the C API (pg_api_test.c): keys, option lists, NULL vs '';
#   - checkpoints against a server without prepared transactions: the
#     message says what to set.
. "$(dirname "$0")/lib_cli.sh"
. "$(dirname "$0")/pg_server.sh"
pg_start
U="$PG_URI"

# ---- errors ---------------------------------------------------------------
PSQL -c "CREATE TABLE t1 (a int)"
err() { "$SLUICE" "$@" >"$TMP/err.out" 2>"$TMP/err.txt"; echo $? >"$TMP/err.rc"; cat "$TMP/err.txt" >>"$TMP/all_errors.txt"; }
rc_is() { [ "$(cat "$TMP/err.rc")" = "$1" ] || { echo "  exit $(cat "$TMP/err.rc"), want $1" >&2; cat "$TMP/err.txt" >&2; return 1; }; }
err run upper --input "$U?table-name=t1&bogus=1"
check "unknown libpq parameter" contains "$TMP/err.txt" 'invalid URI query parameter: "bogus"'
check "unknown libpq parameter: exit 2 (usage)" rc_is 2
err run upper --input "$U?table-name=t1&scan.fetch-size=0"
check "bad fetch size" contains "$TMP/err.txt" "option 'scan.fetch-size': expected an integer >= 1, got '0'"
err run upper --input "$U"
check "no table-name" contains "$TMP/err.txt" "option 'table-name' is required"
err run upper --input "$U?table-name=nosuch"
check "missing table (source)" contains "$TMP/err.txt" \
  "PostgreSQL table 'nosuch' does not exist (host 127.0.0.1 port $PGPORT database postgres user sluice)"
echo hi >"$TMP/hi.txt"
PSQL -c "CREATE TABLE two (a int, b int)"
err run upper --input "$TMP/hi.txt" --output "$U?table-name=two"
check "record with too few fields" contains "$TMP/err.txt" \
  "PostgreSQL table 'two': fewer fields for the table's 2 columns"
printf '1,2\n3,x\n' >"$TMP/bad.txt"
err run upper --input "$TMP/bad.txt" --output "$U?table-name=two"
check "type mismatch named" contains "$TMP/err.txt" \
  "PostgreSQL table 'two': COPY failed: invalid input syntax for type integer: \"X\"; COPY two, line 2, column b: \"X\" (SQLSTATE 22P02)"
err run upper --input "$U?table-name=t1&scan.partition.column=nope"
check "missing partition column" contains "$TMP/err.txt" \
  "PostgreSQL table 't1' has no column 'nope' (scan.partition.column)"
PSQL -c "CREATE TABLE t2 (a int, b text)"
err run upper --input "$U?table-name=t2&scan.partition.column=b"
check "text partition column" contains "$TMP/err.txt" \
  "PostgreSQL table 't2': scan.partition.column 'b' is not an integer column"
PSQL -c "CREATE TABLE badrow (ts text, key text, value text)" -c "INSERT INTO badrow VALUES ('x1', 'k', '1')"
err run window-agg --input "$U?table-name=badrow" --window tumbling:1000
cp "$TMP/err.txt" "$TMP/badrow.txt"
check "a bad row: no line number" contains "$TMP/err.txt" "bad record at input row: timestamp"
check "a bad row: the row" contains "$TMP/err.txt" "x1,k,1"
err run upper --input "$U?table-name=t1&scan.mode=cdc2"
check "bad scan.mode" contains "$TMP/err.txt" "option 'scan.mode': expected snapshot or cdc, got 'cdc2'"
bad=$(pg_free_port)
err run upper --input "postgresql://sluice:S3cretPw99@127.0.0.1:$bad/postgres?table-name=t1&sink.max-retries=0&connect_timeout=2"
check "wrong port named" contains "$TMP/err.txt" \
  "cannot connect to PostgreSQL (host 127.0.0.1 port $bad database postgres user sluice)"
check "wrong port: no password" bash -c "! grep -q S3cretPw99 '$TMP/err.txt'"
err run upper --input "postgresql://sluice:S3cretPw99@127.0.0.1:$bad/postgres?table-name=t1&foo=1"
check "bad option: no password" bash -c "! grep -q S3cretPw99 '$TMP/err.txt'"
check "bad option named" contains "$TMP/err.txt" '"foo"'
err run upper --input "mysql://h/db" --output "$TMP/x"
check "other schemes refused" contains "$TMP/err.txt" "unknown scheme 'mysql://'"

# ---- type coverage --------------------------------------------------------
PSQL <<'SQL'
CREATE TABLE types (id bigint PRIMARY KEY, i integer, n numeric(10,3), d double precision,
  t text, v varchar(20), b boolean, ts timestamp, tz timestamptz, dt date, by bytea);
SET timezone = 'UTC';
INSERT INTO types VALUES
  (1, -42, 3.140, 2.5, 'plain', 'a,b', true, '2024-02-29 12:34:56.5', '2024-01-01 00:00:00+00',
   '2024-12-31', '\x00ff41'),
  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (3, 0, -0.001, -1e-5, 'say "hi"', '', false, '1999-12-31 23:59:59', '2000-06-15 12:00:00+00',
   '2000-01-01', '\x');
SQL
PGTZ=UTC "$SLUICE" run upper --input "$U?table-name=types&options=-c%20TimeZone%3DUTC" \
  --output "$TMP/types.txt" 2>"$TMP/types.err"
check "types read" test $? -eq 0
# by hand: PostgreSQL's text output, upper-cased by the job
cat >"$TMP/types.want" <<'EOF'
1,-42,3.140,2.5,PLAIN,"A,B",T,2024-02-29 12:34:56.5,2024-01-01 00:00:00+00,2024-12-31,\X00FF41
2,,,,,,,,,,
3,0,-0.001,-1E-05,"SAY ""HI""","",F,1999-12-31 23:59:59,2000-06-15 12:00:00+00,2000-01-01,\X
EOF
sort "$TMP/types.txt" >"$TMP/types.got"
check "types as PostgreSQL prints them" cmp "$TMP/types.got" "$TMP/types.want"
[ $fails -eq 0 ] || { diff "$TMP/types.got" "$TMP/types.want" >&2; cat "$TMP/types.err" >&2; }

# ---- snapshot source = file ------------------------------------------------
# 30000 rows `ts,key,value` in rising ts (disorder within 10 ms), 7 keys
awk 'BEGIN { for (i = 0; i < 30000; i++)
  printf "%d,k%d,%d.%d\n", i * 3 + (i * 7919) % 6, (i * 31) % 7, (i * 17) % 2001 - 1000, i % 10 }' >"$TMP/ev.csv"
PSQL -c "CREATE TABLE evp (ts bigint PRIMARY KEY, key text, value numeric)" \
  -c "CREATE TABLE evn (ts bigint, key text, value numeric)" \
  -c "\\copy evp FROM '$TMP/ev.csv' CSV" -c "\\copy evn FROM '$TMP/ev.csv' CSV"
check "blocks for ctid splits" test "$(PSQL -c "SELECT pg_relation_size('evn') / 8192")" -ge 8
"$SLUICE" run window-agg --input "$TMP/ev.csv" --window tumbling:1000 --out-of-orderness 10 \
  --output "$TMP/ev.ref" 2>/dev/null
LC_ALL=C sort "$TMP/ev.ref" >"$TMP/ev.ref.sorted"
check "reference windows" test "$(wc -l <"$TMP/ev.ref.sorted")" -eq $((90 * 7))
for p in 1 2 3; do
  for q in "evp" "evn" "evn&scan.partition.column=ts&scan.partition.num=5"; do
    rm -f "$TMP/ev.out"
    "$SLUICE" run window-agg --input "$U?table-name=$q" --window tumbling:1000 \
      --out-of-orderness 10 -p $p --output "$TMP/ev.out" 2>"$TMP/ev.err"
    LC_ALL=C sort "$TMP/ev.out" >"$TMP/ev.sorted"
    check "table $q at P=$p = file" cmp -s "$TMP/ev.sorted" "$TMP/ev.ref.sorted"
  done
done

# ---- sink -------------------------------------------------------------------
COLS="window_start, window_end, key, count, sum, min, max"
table_csv() { PSQL -F, -c "SELECT $COLS FROM $1" | LC_ALL=C sort; }
"$SLUICE" run window-agg --input "$TMP/ev.csv" --window tumbling:1000 --out-of-orderness 10 \
  -p 2 --output "$U?table-name=wa_plain" 2>"$TMP/wa.err"
check "window-agg into a new table (at-least-once)" test $? -eq 0
table_csv wa_plain >"$TMP/wa_plain.csv"
check "table = CSV output" cmp "$TMP/wa_plain.csv" "$TMP/ev.ref.sorted"
check "column types" test "$(PSQL -c "SELECT string_agg(format_type(atttypid, atttypmod), ' ' ORDER BY attnum)
  FROM pg_attribute WHERE attrelid = 'wa_plain'::regclass AND attnum > 0")" = \
  "bigint bigint text bigint numeric numeric numeric"
"$SLUICE" run window-agg --input "$TMP/ev.csv" --window tumbling:1000 --out-of-orderness 10 \
  -p 3 --checkpoint-dir "$TMP/ck1" --checkpoint-interval 50ms \
  --output "$U?table-name=wa_eo&sink.buffer-flush.max-rows=7" 2>"$TMP/wa_eo.err"
check "window-agg exactly-once run" test $? -eq 0
table_csv wa_eo >"$TMP/wa_eo.csv"
check "exactly-once table = CSV output" cmp "$TMP/wa_eo.csv" "$TMP/ev.ref.sorted"
check "nothing left prepared" test "$(PSQL -c "SELECT count(*) FROM pg_prepared_xacts")" = 0

# a fresh exactly-once start rolls back what a crashed run left prepared
PSQL -c "CREATE TABLE wa_left (LIKE wa_eo)" -c "BEGIN" \
  -c "INSERT INTO wa_left VALUES (1, 2, 'stale', 1, 1, 1, 1)" -c "PREPARE TRANSACTION 'sluice-wa_left-s1-c7'"
PSQL -c "BEGIN" -c "INSERT INTO wa_left VALUES (1, 2, 'other', 1, 1, 1, 1)" \
  -c "PREPARE TRANSACTION 'sluice-wa_left2-s1-c7'"
"$SLUICE" run window-agg --input "$TMP/ev.csv" --window tumbling:1000 --out-of-orderness 10 \
  -p 2 --checkpoint-dir "$TMP/ck3" --checkpoint-interval 50ms \
  --output "$U?table-name=wa_left" 2>"$TMP/wa_left.err"
table_csv wa_left >"$TMP/wa_left.csv"
check "fresh start: stale prepared rows rolled back" cmp "$TMP/wa_left.csv" "$TMP/ev.ref.sorted"
check "fresh start: another sink's prepared transaction kept" test \
  "$(PSQL -c "SELECT string_agg(gid, ' ') FROM pg_prepared_xacts")" = sluice-wa_left2-s1-c7
PSQL -c "ROLLBACK PREPARED 'sluice-wa_left2-s1-c7'"

# wordcount: upserted totals
printf 'the cat, the hat\nThe end of the Cat\n' >"$TMP/words.txt"
for i in $(seq 200); do echo "w$((i % 13)) the x$((i % 5))"; done >>"$TMP/words.txt"
ref_wordcount "$TMP/words.txt" >"$TMP/wc.want"
for mode in plain ckpt; do
  extra=()
  [ $mode = ckpt ] && extra=(--checkpoint-dir "$TMP/ckw" --checkpoint-interval 20ms)
  "$SLUICE" run wordcount --input "$TMP/words.txt" -p 2 "${extra[@]}" \
    --output "$U?table-name=wc_$mode&sink.buffer-flush.max-rows=3" 2>"$TMP/wc.err"
  check "wordcount ($mode) ran" test $? -eq 0
  PSQL -F$'\t' -c "SELECT word, count FROM wc_$mode" | LC_ALL=C sort >"$TMP/wc.got"
  check "wordcount ($mode) totals" cmp "$TMP/wc.got" "$TMP/wc.want"
done
check "wordcount key" test "$(PSQL -c "SELECT a.attname FROM pg_index i JOIN pg_attribute a
  ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'wc_plain'::regclass
  AND i.indisprimary")" = word

# an unbounded job without checkpoints: buffered rows go out after
# sink.buffer-flush.interval, while the input stays open
port=$(pg_free_port)
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port)); s.listen(1); open('$TMP/srv.ready', 'w').close()
c, _ = s.accept()
c.sendall(b'alpha beta alpha\n'); time.sleep(60)" &
srv=$!
for _ in $(seq 300); do [ -e "$TMP/srv.ready" ] && break; sleep 0.05; done # listening
"$SLUICE" run wordcount --socket 127.0.0.1:$port -D source.socket.max-retry=20 \
  --output "$U?table-name=wc_live&sink.buffer-flush.interval=200ms" 2>"$TMP/live.err" &
job=$!
got=
for i in $(seq 300); do # up to 30 s: the flush comes after ~200 ms
  got=$(PSQL -c "SELECT count FROM wc_live WHERE word = 'alpha'" 2>/dev/null)
  [ "$got" = 2 ] && break
  sleep 0.1
done
check "interval flush while the input is open" test "$got" = 2
kill $job $srv 2>/dev/null
wait $job $srv 2>/dev/null

# upper: one text column, whole lines (commas, quotes and backslashes as they are)
printf 'a,b\nsay "x" \\n\n\n' >"$TMP/up.txt"
"$SLUICE" run upper --input "$TMP/up.txt" --output "$U?table-name=up" 2>"$TMP/up.err"
check "upper into a table" test $? -eq 0
printf '\nA,B\nSAY "X" \\N\n' >"$TMP/up.want"
PSQL -c "SELECT line FROM up ORDER BY line" >"$TMP/up.got"
check "upper's lines" cmp "$TMP/up.got" "$TMP/up.want"
# the C API
"${SL_PG_API_TEST:?}" >"$TMP/api.out" 2>&1
check "C API (pg_api_test)" test $? -eq 0
[ $fails -eq 0 ] || cat "$TMP/api.out" >&2

# exactly-once needs max_prepared_transactions > 0: restart without
pg_as "$PG_BIN/pg_ctl" restart -w -D "$PG_DIR/data" -l "$PG_DIR/server.log" -m fast \
  -o "-p $PGPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_DIR -c max_prepared_transactions=0" >/dev/null
err run upper --input "$TMP/hi.txt" --checkpoint-dir "$TMP/ck9" --checkpoint-interval 1s \
  --output "$U?table-name=up"
check "no prepared transactions: said" contains "$TMP/err.txt" \
  "two-phase commit, but max_prepared_transactions is 0 on host 127.0.0.1 port $PGPORT database postgres user sluice: set it in postgresql.conf"
# (the sanitizer builds: no report from any run, failed ones included)
check "no sanitizer report" bash -c "! cat '$TMP'/*.err '$TMP/all_errors.txt' '$TMP/api.out' | grep -E 'Sanitizer|runtime error'"
finish
