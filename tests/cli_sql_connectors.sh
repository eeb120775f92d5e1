#!/usr/bin/env bash
# `sluice sql` with Kafka and PostgreSQL tables: a Kafka topic of CSV lines
# (`sluice kafka-mock`, kcat as the independent client) aggregated per
# TUMBLE window with the topic's per-partition watermarks into a topic of
# JSON rows, equal to an awk reference; a bad message going to the
# dead-letter file named by topic, partition and offset; a PostgreSQL table
# (pg_server.sh) filtered and projected into another table that the sink
# creates from the SQL columns, read back with psql; an updating GROUP BY
# upserted into a table with a primary key.
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
"$SLUICE" kafka-mock --brokers 1 --topic ev:2 --topic agg:1 --topic bad:1 >"$TMP/mock.out" 2>"$TMP/mock.err" &
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
run sql $NOREST -e "
  CREATE TABLE t (a INT) WITH (connector = 'postgres', url = 'postgresql://u:secret@127.0.0.1:1/db', 'table-name' = 't');
  EXPLAIN SELECT a FROM t"
check "postgres EXPLAIN: exit 0" rc_is 0
check "postgres EXPLAIN hides the password" bash -c "grep -q 'url=postgresql://u:\*\*\*@127.0.0.1:1/db' '$TMP/out' && ! grep -q secret '$TMP/out'"
finish
