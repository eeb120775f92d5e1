#!/usr/bin/env bash
# `sluice sql` with Kafka and PostgreSQL tables: a Kafka topic of CSV lines
# (`sluice kafka-mock`, kcat as the independent client) aggregated per
# TUMBLE window with the topic's per-partition watermarks into a topic of
# JSON rows, equal to an awk reference; a bad message going to the
# dead-letter file named by topic, partition and offset; a PostgreSQL table
# (pg_server.sh) filtered and projected into another table that the sink
# creates from the SQL columns, read back with psql; an updating GROUP BY
# upserted into a table with a primary key; upsert-kafka topics of an
# updating GROUP BY and a count of counts (tombstones), read back with kcat
# against changelogs worked out by hand and compacted against the result.
. "$(dirname "$0")/lib_cli.sh"
command -v kcat >/dev/null || { echo "FAIL: kcat is not installed (scripts/deps.sh)"; exit 1; }
. "$(dirname "$0")/pg_server.sh"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; }
trap 'cleanup; pg_stop' EXIT
same_sorted_files() {
  if ! cmp -s <(LC_ALL=C sort "$1") <(LC_ALL=C sort "$2"); then
    echo "  $1 differs from $2 (sorted; < got, > want):" >&2
    diff <(LC_ALL=C sort "$1") <(LC_ALL=C sort "$2") >&2
    return 1
  fi
}
NOREST="-D rest.enabled=false"

# ---- Kafka -------------------------------------------------------------------
"$SLUICE" kafka-mock --brokers 1 --topic ev:2 --topic agg:1 --topic bad:1 --topic up1:1 --topic up2:1 \
  --topic up3:3 --topic up4:3 --topic up5:1 --topic up6:1 --topic dbz1:1 --topic dbz2:1 --topic dbz3:1 >"$TMP/mock.out" 2>"$TMP/mock.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$TMP/mock.out" ] && break; sleep 0.05; done
B=$(head -1 "$TMP/mock.out")
check "kafka-mock is up ($B)" test -n "$B"
# 2000 events `ts,key,value`, ts ascending; each partition in order
awk 'BEGIN { s = 5; t = 0; for (i = 0; i < 2000; i++) { s = (s * 16807) % 2147483647; t += int(s / 5) % 7;
  printf "%d,k%d,%d\n", t, int(s / 3) % 5, int(s / 11) % 100 } }' >"$TMP/ev.csv"
awk -v d="$TMP" 'NR % 3 == 0 { print > (d "/ev.p1"); next } { print > (d "/ev.p0") }' "$TMP/ev.csv"
kcat -P -b "$B" -t ev -p 0 -l "$TMP/ev.p0"
kcat -P -b "$B" -t ev -p 1 -l "$TMP/ev.p1"
# the reference: per 1000 ms window and key, count and sum, as JSON
awk -F, '{ w = int($1 / 1000) * 1000; c[w "," $2]++; s[w "," $2] += $3 }
  END { for (x in c) { split(x, a, ","); printf "{\"ws\":%d,\"k\":\"%s\",\"c\":%d,\"s\":%d}\n", a[1], a[2], c[x], s[x] } }' \
  "$TMP/ev.csv" >"$TMP/agg.ref"
run sql -p 2 $NOREST -e "
  CREATE TABLE ev (ts BIGINT, k VARCHAR, v BIGINT) WITH (connector = 'kafka', topic = 'ev',
    'properties.bootstrap.servers' = '$B', 'scan.startup.mode' = 'earliest-offset',
    'scan.bounded.mode' = 'latest-offset', watermark = 'ts');
  CREATE TABLE agg (ws BIGINT, k VARCHAR, c BIGINT, s BIGINT) WITH (connector = 'kafka', topic = 'agg',
    'properties.bootstrap.servers' = '$B', format = 'json');
  INSERT INTO agg SELECT window_start, k, COUNT(*), SUM(v) FROM TUMBLE(ev, ts, 1000)
    GROUP BY window_start, window_end, k"
check "kafka -> window -> kafka: exit 0" rc_is 0
check "kafka: no late records" bash -c "! grep -q 'late records dropped ([1-9]' '$TMP/err'"
kcat -C -b "$B" -t agg -e -q >"$TMP/agg.got"
check "kafka: the windows' rows equal the reference" same_sorted_files "$TMP/agg.got" "$TMP/agg.ref"

printf '1,a,1\n2,b,oops\n3,c,3\n' | kcat -P -b "$B" -t bad -p 0
run sql -p 1 $NOREST --dead-letter "$TMP/dead.txt" -e "
  CREATE TABLE b (ts BIGINT, k VARCHAR, v BIGINT) WITH (connector = 'kafka', topic = 'bad',
    'properties.bootstrap.servers' = '$B', 'scan.startup.mode' = 'earliest-offset',
    'scan.bounded.mode' = 'latest-offset');
  CREATE TABLE o (k VARCHAR, v BIGINT) WITH (connector = 'filesystem', path = '$TMP/bad.out');
  INSERT INTO o SELECT k, v FROM b"
check "kafka bad message: exit 0" rc_is 0
check "kafka bad message: the others" cmp -s "$TMP/bad.out" <(printf 'a,1\nc,3\n')
check "kafka bad message: named by topic, partition, offset" contains "$TMP/dead.txt" \
  "table 'b' (topic bad partition 0 offset 1)	column 'v' (BIGINT): not a BIGINT: 'oops'"

# ---- upsert-kafka ----------------------------------------------------------------
# An updating GROUP BY into an upsert-kafka topic: each change but -U one
# message keyed by the primary key, -D a tombstone (a NULL value, which
# kcat -Z prints as NULL; an empty value would print as nothing).  The
# changelogs were worked out by hand from the five rows: k's counts go
# a1 b1 a2 b2 a3, so count-of-counts retracts group 1 to nothing (-D) at
# b's second row.
printf 'a,1\nb,2\na,3\nb,4\na,5\n' >"$TMP/up.csv"
upjob() { # upjob TABLE KEYFMT VALFMT PK COLS QUERY [OPTIONS]
  cat <<SQL
CREATE TABLE t (k VARCHAR, v BIGINT) WITH (connector = 'filesystem', path = '$TMP/up${UPIN:-}.csv');
CREATE TABLE $1 ($5, PRIMARY KEY ($4) NOT ENFORCED) WITH (connector = 'upsert-kafka', topic = '$1',
  'properties.bootstrap.servers' = '$B', 'key.format' = '$2', 'value.format' = '$3'${7:-});
INSERT INTO $1 $6;
SQL
}
upjob up1 csv json k "k VARCHAR, n BIGINT, s BIGINT" "SELECT k, COUNT(*), SUM(v) FROM t GROUP BY k" >"$TMP/up1.sql"
run sql "$TMP/up1.sql" -p 1 $NOREST
check "upsert-kafka GROUP BY: exit 0" rc_is 0
kcat -C -b "$B" -t up1 -e -q -Z -f '%k|%s\n' >"$TMP/up1.got"
check "upsert-kafka GROUP BY: +I/+U as upserts keyed by k (csv), values json, -U skipped" \
  cmp -s "$TMP/up1.got" <(printf '%s\n' 'a|{"k":"a","n":1,"s":1}' 'b|{"k":"b","n":1,"s":2}' 'a|{"k":"a","n":2,"s":4}' \
    'b|{"k":"b","n":2,"s":6}' 'a|{"k":"a","n":3,"s":9}')
upjob up2 json csv cnt "cnt BIGINT, m BIGINT" \
  "SELECT cnt, COUNT(*) FROM (SELECT k, COUNT(*) AS cnt FROM t GROUP BY k) x GROUP BY cnt" >"$TMP/up2.sql"
run sql "$TMP/up2.sql" -p 1 $NOREST
check "upsert-kafka count of counts: exit 0" rc_is 0
kcat -C -b "$B" -t up2 -e -q -Z -f '%k|%s\n' >"$TMP/up2.got"
check "upsert-kafka count of counts: the -D of group 1 is a tombstone (NULL value)" \
  cmp -s "$TMP/up2.got" <(printf '%s\n' '{"cnt":1}|1,1' '{"cnt":1}|1,2' '{"cnt":1}|1,1' '{"cnt":2}|2,1' \
    '{"cnt":1}|NULL' '{"cnt":2}|2,2' '{"cnt":2}|2,1' '{"cnt":3}|3,1')
# an append-only result: every row an upsert of its key
upjob up5 csv csv k "k VARCHAR, v BIGINT" "SELECT k, v FROM t" >"$TMP/up5.sql"
run sql "$TMP/up5.sql" -p 1 $NOREST
check "upsert-kafka append-only: exit 0" rc_is 0
kcat -C -b "$B" -t up5 -e -q -Z -f '%k|%s\n' >"$TMP/up5.got"
check "upsert-kafka append-only: each row keyed by k" \
  cmp -s "$TMP/up5.got" <(printf '%s\n' 'a|a,1' 'b|b,2' 'a|a,3' 'b|b,4' 'a|a,5')
# compacted: the last value per key, a tombstone removing the key (per
# partition in offset order; a key lives in one partition)
compact() { awk -F'|' '{ if ($3 == "NULL") delete last[$2]; else last[$2] = $3 } END { for (k in last) print k "|" last[k] }' "$1"; }
kcat -C -b "$B" -t up2 -e -q -Z -f '%p|%k|%s\n' >"$TMP/up2.all"
check "upsert-kafka count of counts: compacted = the query's result (cnt 2: b, cnt 3: a)" \
  same_sorted <(compact "$TMP/up2.all") $'{"cnt":2}|2,1\n{"cnt":3}|3,1\n'
# P=2 into 3 partitions, exactly-once: 40 keys, 3000 rows, k's i-th row
# at its count i.  Every key in one partition (librdkafka's key hash),
# its counts 1..75 in offset order; compacted = awk's per-key result; the
# count of counts ends with the one group 75 -> 40, every other one
# tombstoned.
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "k%d,%d\n", (i * 7) % 40, i % 11 }' >"$TMP/up_big.csv"
awk -F, '{ n[$1]++; s[$1] += $2 } END { for (k in n) printf "%s|{\"k\":\"%s\",\"n\":%d,\"s\":%d}\n", k, k, n[k], s[k] }' \
  "$TMP/up_big.csv" >"$TMP/up3.want"
EO=", 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'upk'"
UPIN=_big upjob up3 csv json k "k VARCHAR, n BIGINT, s BIGINT" "SELECT k, COUNT(*), SUM(v) FROM t GROUP BY k" "$EO" >"$TMP/up3.sql"
run sql "$TMP/up3.sql" -p 2 $NOREST
check "upsert-kafka P=2 exactly-once: exit 0" rc_is 0
kcat -C -b "$B" -t up3 -e -q -Z -X isolation.level=read_committed -f '%p|%k|%s\n' >"$TMP/up3.all"
check "upsert-kafka P=2: 3000 upserts, no tombstones" test "$(wc -l <"$TMP/up3.all")-$(grep -c '|NULL$' "$TMP/up3.all")" = 3000-0
check "upsert-kafka P=2: each key in one partition, its counts 1..75 in order" awk -F'|' '
  { if (($2 in p) && p[$2] != $1) bad = bad " " $2 " in two partitions"; p[$2] = $1
    match($3, /"n":[0-9]+/); n = substr($3, RSTART + 4, RLENGTH - 4) + 0
    if (n != ++c[$2]) bad = bad " " $2 ": count " n " after " (c[$2] - 1) }
  END { for (k in c) if (c[k] != 75) bad = bad " " k ": " c[k] " messages"; if (bad != "") print bad > "/dev/stderr"; exit bad != "" }' "$TMP/up3.all"
check "upsert-kafka P=2: compacted = awk's sums per key" same_sorted_files <(compact "$TMP/up3.all") "$TMP/up3.want"
UPIN=_big upjob up4 csv csv cnt "cnt BIGINT, m BIGINT" \
  "SELECT cnt, COUNT(*) FROM (SELECT k, COUNT(*) AS cnt FROM t GROUP BY k) x GROUP BY cnt" >"$TMP/up4.sql"
run sql "$TMP/up4.sql" -p 2 $NOREST
check "upsert-kafka P=2 count of counts: exit 0" rc_is 0
kcat -C -b "$B" -t up4 -e -q -Z -f '%p|%k|%s\n' >"$TMP/up4.all"
check "upsert-kafka P=2 count of counts: groups 1..74 tombstoned, compacted = 75 -> 40" \
  same_sorted <(compact "$TMP/up4.all") $'75|75,40\n'
check "upsert-kafka P=2 count of counts: a tombstone for each of groups 1..74" \
  cmp -s <(awk -F'|' '$3 == "NULL" { print $2 }' "$TMP/up4.all" | sort -un) <(seq 74)
# reading an upsert-kafka topic: each key's row now, as a changelog (Flink's
# upsert-kafka source and ChangelogNormalize).  A topic written by hand,
# offsets 0-9: a:a,1  b:b,2  a:a,3  b:NULL  c:c,5  a:a,3 (the same row:
# nothing)  d:NULL (no row: nothing)  c:c,oops (bad value)  e,f:NULL (bad
# key: two fields)  c:c,6
printf '%s\n' 'a:a,1' 'b:b,2' 'a:a,3' 'b:' 'c:c,5' 'a:a,3' 'd:' 'c:c,oops' 'e,f:' 'c:c,6' |
  kcat -P -b "$B" -t up6 -p 0 -K: -Z
uksrc() { # uksrc TABLE TOPIC KEYFMT VALFMT COLS
  echo "CREATE TABLE $1 ($5) WITH (connector = 'upsert-kafka', topic = '$2', 'properties.bootstrap.servers' = '$B',
    'key.format' = '$3', 'value.format' = '$4', 'scan.bounded.mode' = 'latest-offset',
    'properties.isolation.level' = 'read_committed');"
}
run sql -p 1 $NOREST --dead-letter "$TMP/ukdead.txt" -e "$(uksrc h up6 csv csv "k VARCHAR PRIMARY KEY NOT ENFORCED, v BIGINT")
  SELECT k, v FROM h"
check "upsert-kafka read: exit 0" rc_is 0
check "upsert-kafka read: the changelog per key (worked out by hand)" \
  cmp -s "$TMP/out" <(printf '%s\n' '+I[a, 1]' '+I[b, 2]' '-U[a, 1]' '+U[a, 3]' '-D[b, 2]' '+I[c, 5]' '-U[c, 5]' '+U[c, 6]')
check "upsert-kafka read: a bad value named by topic, partition, offset" contains "$TMP/ukdead.txt" \
  "table 'h' (topic up6 partition 0 offset 7)	column 'v' (BIGINT): not a BIGINT: 'oops'"
check "upsert-kafka read: a tombstone's bad key too" contains "$TMP/ukdead.txt" \
  "table 'h' (topic up6 partition 0 offset 8)	2 fields, the table has 1 columns (the key of a tombstone, in key.format: 'e,f')"
check "upsert-kafka read: two dead letters" test "$(wc -l <"$TMP/ukdead.txt")" = 2
# what the count-of-counts job wrote (json keys, a tombstone), read back
run sql -p 1 $NOREST -e "$(uksrc r up2 json csv "cnt BIGINT, m BIGINT, PRIMARY KEY (cnt) NOT ENFORCED")
  SELECT cnt, m FROM r"
check "upsert-kafka read back: exit 0" rc_is 0
check "upsert-kafka read back: the changelog of up2's messages (by hand)" \
  cmp -s "$TMP/out" <(printf '%s\n' '+I[1, 1]' '-U[1, 1]' '+U[1, 2]' '-U[1, 2]' '+U[1, 1]' '+I[2, 1]' '-D[1, 1]' \
    '-U[2, 1]' '+U[2, 2]' '-U[2, 2]' '+U[2, 1]' '+I[3, 1]')
run sql $NOREST -e "CREATE TABLE u (k VARCHAR, n BIGINT) WITH (connector = 'upsert-kafka', topic = 'up1',
  'properties.bootstrap.servers' = '$B', 'key.format' = 'csv', 'value.format' = 'csv')"
check "upsert-kafka without a primary key: refused" contains "$TMP/err" \
  "table 'u' (connector upsert-kafka) needs PRIMARY KEY (columns) NOT ENFORCED"
run sql $NOREST -e "CREATE TABLE u (k VARCHAR PRIMARY KEY, n BIGINT) WITH (connector = 'upsert-kafka', topic = 'up1',
  'properties.bootstrap.servers' = '$B', 'key.format' = 'avro', 'value.format' = 'csv')"
check "upsert-kafka key.format avro: refused" contains "$TMP/err" "unknown key.format 'avro' (formats: csv, json)"

# ---- debezium-json ---------------------------------------------------------------
# An updating GROUP BY into a kafka topic of change events: +I and +U as
# create ("c") events, -U and -D as delete ("d") events (Flink's encoding),
# worked out by hand from up.csv's five rows (counts a1 b1 a2 b2 a3)
run sql -p 1 $NOREST -e "
  CREATE TABLE t (k VARCHAR, v BIGINT) WITH (connector = 'filesystem', path = '$TMP/up.csv');
  CREATE TABLE ev1 (k VARCHAR, n BIGINT, s BIGINT) WITH (connector = 'kafka', topic = 'dbz1',
    'properties.bootstrap.servers' = '$B', format = 'debezium-json');
  INSERT INTO ev1 SELECT k, COUNT(*), SUM(v) FROM t GROUP BY k"
check "debezium-json sink: exit 0" rc_is 0
kcat -C -b "$B" -t dbz1 -e -q >"$TMP/dbz1.got"
ev() { printf '{"before":%s,"after":%s,"op":"%s"}\n' "$@"; }
A1='{"k":"a","n":1,"s":1}' B1='{"k":"b","n":1,"s":2}' A2='{"k":"a","n":2,"s":4}' B2='{"k":"b","n":2,"s":6}'
check "debezium-json sink: c and d events (by hand)" cmp -s "$TMP/dbz1.got" \
  <(ev null "$A1" c null "$B1" c "$A1" null d null "$A2" c "$B1" null d null "$B2" c "$A2" null d null '{"k":"a","n":3,"s":9}' c)
# read back as a changelog: the GROUP BY's result again (a: 3 rows, 9)
run sql -p 1 $NOREST -e "
  CREATE TABLE ev1 (k VARCHAR, n BIGINT, s BIGINT) WITH (connector = 'kafka', topic = 'dbz1',
    'properties.bootstrap.servers' = '$B', format = 'debezium-json', 'scan.startup.mode' = 'earliest-offset',
    'scan.bounded.mode' = 'latest-offset');
  SELECT COUNT(*), SUM(n), SUM(s) FROM ev1"
check "debezium-json read back: exit 0" rc_is 0
check "debezium-json read back: ends at the result (2 keys, 5 rows, sum 15)" test "$(tail -1 "$TMP/out")" = "+U[2, 5, 15]"
# events written by hand (key|value; 'k|' a tombstone): an update ("u")
# parts into -U and +U; a bad op and a bad column go to the dead-letter
# file named by topic, partition and offset; a tombstone is no change
printf '%s\n' '1|{"before":null,"after":{"id":1,"v":"x"},"op":"c"}' \
  '1|{"before":{"id":1,"v":"x"},"after":{"id":1,"v":"y"},"op":"u"}' '1|{"op":"t"}' \
  '2|{"before":null,"after":{"id":"zz","v":"q"},"op":"c"}' '1|' '1|{"before":{"id":1,"v":"y"},"after":null,"op":"d"}' |
  kcat -P -b "$B" -t dbz2 -p 0 -K'|' -Z
DBZ="'properties.bootstrap.servers' = '$B', format = 'debezium-json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset'"
run sql -p 1 $NOREST --dead-letter "$TMP/dbzdead.txt" -e "
  CREATE TABLE ev2 (id INT, v VARCHAR) WITH (connector = 'kafka', topic = 'dbz2', $DBZ);
  SELECT id, v FROM ev2"
check "debezium-json read: exit 0" rc_is 0
check "debezium-json read: the changelog (by hand)" cmp -s "$TMP/out" <(printf '%s\n' '+I[1, x]' '-U[1, x]' '+U[1, y]' '-D[1, y]')
check "debezium-json read: a bad op to the dead letters" contains "$TMP/dbzdead.txt" \
  "table 'ev2' (topic dbz2 partition 0 offset 2)	\"op\" \"t\" is not one of \"c\", \"r\", \"u\", \"d\""
check "debezium-json read: a bad column too" contains "$TMP/dbzdead.txt" \
  "table 'ev2' (topic dbz2 partition 0 offset 3)	\"after\": column 'id' (INT): "
check "debezium-json read: two dead letters (the tombstone is none)" test "$(wc -l <"$TMP/dbzdead.txt")" = 2
# an update without its before image cannot be retracted: the job fails
printf '%s\n' '{"before":null,"after":{"id":1,"v":"x"},"op":"u"}' | kcat -P -b "$B" -t dbz3 -p 0
run sql -p 1 $NOREST -e "
  CREATE TABLE ev3 (id INT, v VARCHAR) WITH (connector = 'kafka', topic = 'dbz3', $DBZ);
  SELECT id, v FROM ev3"
check "debezium-json update without before: exit 1" rc_is 1
check "debezium-json update without before: says where and why" contains "$TMP/err" \
  "table 'ev3' (topic dbz3 partition 0 offset 0): the \"before\" image of an update (\"u\") is null, so it cannot be retracted: Debezium's PostgreSQL connector sends it for tables with REPLICA IDENTITY FULL"

# ---- PostgreSQL ----------------------------------------------------------------
pg_start
PSQL -c "CREATE TABLE people (id int PRIMARY KEY, name text, score numeric(6,2), seen timestamp)"
PSQL -c "INSERT INTO people VALUES (1, 'ann', 12.5, '2024-01-01 10:00:00'), (2, 'bob', 3, NULL),
  (3, NULL, 40.25, '2024-02-29 23:59:59.5'), (4, 'Dee, Jr', 11, '2023-06-01 00:00:00')"
run sql -p 2 $NOREST -e "
  CREATE TABLE people (id INT, name TEXT, score DECIMAL(6, 2), seen TIMESTAMP)
    WITH (connector = 'postgres', url = '$PG_URI', 'table-name' = 'people');
  CREATE TABLE best (id INT, who TEXT, doubled DECIMAL(8, 2), yr BIGINT)
    WITH (connector = 'postgres', url = '$PG_URI', 'table-name' = 'best');
  INSERT INTO best SELECT id, UPPER(name), score * 2, EXTRACT(YEAR FROM seen) FROM people WHERE score > 10"
check "postgres -> postgres: exit 0" rc_is 0
check "postgres: the rows (the sink created the table)" cmp -s <(PSQL -F '|' -c "SELECT id, coalesce(who, '<null>'), doubled, yr FROM best ORDER BY id") \
  <(printf '1|ANN|25.00|2024\n3|<null>|80.50|2024\n4|DEE, JR|22.00|2023\n')
# an updating query (GROUP BY without a window) into a table with a
# PRIMARY KEY: each group's row upserted as it changes; the table at the
# end equals an awk reference (cli_sql_crash: also across SIGKILLs)
awk 'BEGIN { for (i = 0; i < 60000; i++) printf "k%d,%d\n", (i * 7) % 40, (i * 13) % 1001 - 500 }' >"$TMP/grp.csv"
awk -F, '{ n[$1]++; s[$1] += $2; if (!($1 in m) || $2 > m[$1]) m[$1] = $2 }
  END { for (k in n) printf "%s|%d|%d|%d\n", k, n[k], s[k], m[k] }' "$TMP/grp.csv" | LC_ALL=C sort >"$TMP/grp.want"
grpjob() { # grpjob TABLE
  cat <<SQL
CREATE TABLE t (k VARCHAR, v BIGINT) WITH (connector = 'filesystem', path = '$TMP/grp.csv');
CREATE TABLE $1 (k VARCHAR, n BIGINT, s BIGINT, mx BIGINT, PRIMARY KEY (k) NOT ENFORCED)
  WITH (connector = 'postgres', url = '$PG_URI', 'table-name' = '$1');
INSERT INTO $1 SELECT k, COUNT(*), SUM(v), MAX(v) FROM t GROUP BY k;
SQL
}
grpjob grp >"$TMP/grp.sql"
run sql "$TMP/grp.sql" -p 2 $NOREST
check "GROUP BY -> postgres: exit 0" rc_is 0
check "GROUP BY -> postgres: the table equals awk's" cmp -s <(PSQL -F '|' -c "SELECT k, n, s, mx FROM grp" | LC_ALL=C sort) "$TMP/grp.want"
check "GROUP BY -> postgres: the sink made the key" test "$(PSQL -c "SELECT count(*) FROM pg_indexes WHERE tablename = 'grp' AND indexdef LIKE '%UNIQUE%(k)%'")" = 1
# a primary key the changes do not come by (the count itself, which every
# update changes): the upsert materializer keeps the rows per key, so the
# table ends as the result -- counts a 3, b 2 -- with no stale row of an
# older count (without it: 1|b and 2|b would stay)
printf 'a,1\nb,5\na,3\nb,\na,-4\n' >"$TMP/cnt.csv"
for p in 1 2; do
  run sql -p $p $NOREST -e "
    CREATE TABLE t (k VARCHAR, v INT) WITH (connector = 'filesystem', path = '$TMP/cnt.csv');
    CREATE TABLE bycount$p (n BIGINT, k VARCHAR, PRIMARY KEY (n) NOT ENFORCED)
      WITH (connector = 'postgres', url = '$PG_URI', 'table-name' = 'bycount$p');
    INSERT INTO bycount$p SELECT COUNT(*), k FROM t GROUP BY k"
  check "GROUP BY -> postgres keyed by the count, P=$p: exit 0" rc_is 0
  check "GROUP BY -> postgres keyed by the count, P=$p: the result, no stale row" \
    cmp -s <(PSQL -F '|' -c "SELECT n, k FROM bycount$p ORDER BY n") <(printf '2|b\n3|a\n')
done
# the P=2 topic of per-key sums (3 partitions), read at P=2 into a table
# keyed the same: the table equals awk's sums per key
run sql -p 2 $NOREST -e "$(uksrc s3 up3 csv json "k VARCHAR, n BIGINT, s BIGINT, PRIMARY KEY (k) NOT ENFORCED")
  CREATE TABLE sums (k VARCHAR, n BIGINT, s BIGINT, PRIMARY KEY (k) NOT ENFORCED)
    WITH (connector = 'postgres', url = '$PG_URI', 'table-name' = 'sums');
  INSERT INTO sums SELECT k, n, s FROM s3"
check "upsert-kafka -> postgres, P=2: exit 0" rc_is 0
check "upsert-kafka -> postgres, P=2: the table equals awk's sums per key" cmp -s \
  <(PSQL -F '|' -c "SELECT k, k, n, s FROM sums" | awk -F'|' '{ printf "%s|{\"k\":\"%s\",\"n\":%d,\"s\":%d}\n", $1, $2, $3, $4 }' | LC_ALL=C sort) \
  <(LC_ALL=C sort "$TMP/up3.want")
run sql $NOREST -e "
  CREATE TABLE t (a INT) WITH (connector = 'postgres', url = 'postgresql://u:secret@127.0.0.1:1/db', 'table-name' = 't');
  EXPLAIN SELECT a FROM t"
check "postgres EXPLAIN: exit 0" rc_is 0
check "postgres EXPLAIN hides the password" bash -c "grep -q 'url=postgresql://u:\*\*\*@127.0.0.1:1/db' '$TMP/out' && ! grep -q secret '$TMP/out'"
finish
