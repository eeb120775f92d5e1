#!/usr/bin/env bash
# A checkpointed SQL job killed with SIGKILL and restored has exact output:
# `sluice sql` over 300 k generated CSV lines (HOP windows per key with
# event time, exactly-once part files, a checkpoint every 20 ms) is killed
# by fault injection in the middle of a checkpoint write (SLUICE_FAULT=
# ckpt-file:K) up to five times and restarted with --restore latest, at
# parallelism 1, 2 or 3 in turn; when it finally runs to the end, the
# committed part files equal a crash-free run's (no missing line, no
# duplicate).  Then an updating query (GROUP BY without a window) into a
# PostgreSQL table with a primary key (pg_server.sh), killed the same way
# at parallelism 1, 2, 3: the table at the end equals an awk reference (the
# groups' state restored exactly, the sink's prepared transactions
# committed or rolled back).  Then an upsert-kafka topic (`sluice
# kafka-mock`, kcat) read and aggregated into PostgreSQL, killed the same
# way.  Needs -DSLUICE_FAULT_INJECTION=ON
# (scripts/test.sh).
. "$(dirname "$0")/lib_cli.sh"
. "$(dirname "$0")/pg_server.sh"
NOREST="-D rest.enabled=false"
N=300000
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++)
  printf "%d,k%d,%d\n", i * 3 + (i * 7919) % 6, (i * 31) % 50, (i * 17) % 2001 - 1000 }' >"$TMP/ev.csv"
sqljob() { # sqljob OUTDIR: the statements
  cat <<SQL
CREATE TABLE ev (ts BIGINT, k VARCHAR, v BIGINT)
  WITH (connector = 'filesystem', path = '$TMP/ev.csv', watermark = 'ts - 10');
CREATE TABLE res (ws BIGINT, we BIGINT, k VARCHAR, c BIGINT, s BIGINT, mx BIGINT)
  WITH (connector = 'filesystem', path = '$1/');
INSERT INTO res SELECT window_start, window_end, k, COUNT(*), SUM(v), MAX(v)
  FROM HOP(ev, ts, 1000, 4000) GROUP BY window_start, window_end, k;
SQL
}
sqljob "$TMP/ref" >"$TMP/ref.sql"
"$SLUICE" sql "$TMP/ref.sql" -p 2 -D rest.enabled=false 2>"$TMP/ref.err" || { cat "$TMP/ref.err" >&2; exit 1; }
LC_ALL=C sort "$TMP"/ref/part-* >"$TMP/ref.sorted"
# windows start every second from -3 s to the last record's second (line
# 299999: ts = 899997 + 2375692081 % 6 = 899998, so 899 s): 903 starts, 50
# keys in each (31 is prime to 50: any 50 consecutive lines hold every key,
# and a second holds 333)
check "the crash-free run: 903 windows x 50 keys" test "$(wc -l <"$TMP/ref.sorted")" -eq 45150

sqljob "$TMP/out" >"$TMP/job.sql"
# the K-th checkpoint file this process writes kills it: K = 25, 50, 75, ...
# (a checkpoint writes a file per operator and subtask, so some complete
# before each kill and every run gets further); the sixth run has no fault
kills=0 runs=0 rc=137
while [ $rc -ne 0 ] && [ $runs -lt 6 ]; do
  p=$((runs % 3 + 1))
  fault=ckpt-file:$((25 * (runs + 1)))
  [ $runs -eq 5 ] && fault=
  SLUICE_FAULT=$fault "$SLUICE" sql "$TMP/job.sql" -p $p -D rest.enabled=false \
    --checkpoint-dir "$TMP/ck" --checkpoint-interval 20ms --restore latest >"$TMP/run.out" 2>"$TMP/run.err"
  rc=$?
  runs=$((runs + 1))
  if [ $rc -eq 137 ]; then kills=$((kills + 1)); elif [ $rc -ne 0 ]; then cat "$TMP/run.err" >&2; break; fi
  [ $rc -eq 137 ] && ls "$TMP/ck" | grep -q '^chk-' || [ $rc -ne 137 ] ||
    echo "  run $runs was killed before its first checkpoint completed" >&2
done
echo "$runs runs, $kills killed in a checkpoint write"
check "the job ran to the end (last exit $rc)" test $rc -eq 0
check "it was killed at least once" test $kills -ge 1
LC_ALL=C sort "$TMP"/out/part-* >"$TMP/out.sorted"
check "the committed output equals the crash-free run's" cmp -s "$TMP/out.sorted" "$TMP/ref.sorted"
check "no file left in progress" bash -c "! ls -a '$TMP/out' | grep -q -e inprogress -e pending"
# ---- an updating query into PostgreSQL, killed and restored ------------------
# kill_restore NAME SQL CKDIR: runs the job, killed at its (20 x run)-th
# checkpoint file and restored at P = 1, 2, 3, ... until it runs to the end
# (the sixth run has no fault); checks that it ran to the end, killed
kill_restore() {
  local name=$1
  shift
  kills=0 runs=0 rc=137
  while [ $rc -ne 0 ] && [ $runs -lt 6 ]; do
    fault=ckpt-file:$((20 * (runs + 1)))
    [ $runs -eq 5 ] && fault=
    SLUICE_FAULT=$fault "$SLUICE" sql "$1" -p $((runs % 3 + 1)) $NOREST \
      --checkpoint-dir "$2" --checkpoint-interval 20ms --restore latest >"$TMP/run.out" 2>"$TMP/run.err"
    rc=$?
    runs=$((runs + 1))
    if [ $rc -eq 137 ]; then kills=$((kills + 1)); elif [ $rc -ne 0 ]; then cat "$TMP/run.err" >&2; break; fi
  done
  echo "$name: $runs runs, $kills killed in a checkpoint write"
  check "$name: ran to the end (last exit $rc)" test $rc -eq 0
  check "$name: killed at least once" test $kills -ge 1
}
pg_start
awk 'BEGIN { for (i = 0; i < 60000; i++) printf "k%d,%d\n", (i * 7) % 40, (i * 13) % 1001 - 500 }' >"$TMP/grp.csv"
awk -F, '{ n[$1]++; s[$1] += $2; if (!($1 in m) || $2 > m[$1]) m[$1] = $2 }
  END { for (k in n) printf "%s|%d|%d|%d\n", k, n[k], s[k], m[k] }' "$TMP/grp.csv" | LC_ALL=C sort >"$TMP/grp.want"
cat >"$TMP/grpk.sql" <<SQL
CREATE TABLE t (k VARCHAR, v BIGINT) WITH (connector = 'filesystem', path = '$TMP/grp.csv');
CREATE TABLE grpk (k VARCHAR, n BIGINT, s BIGINT, mx BIGINT, PRIMARY KEY (k) NOT ENFORCED)
  WITH (connector = 'postgres', url = '$PG_URI', 'table-name' = 'grpk');
INSERT INTO grpk SELECT k, COUNT(*), SUM(v), MAX(v) FROM t GROUP BY k;
SQL
kill_restore "GROUP BY -> postgres, killed and restored" "$TMP/grpk.sql" "$TMP/grpck"
check "GROUP BY -> postgres, killed and restored: the table equals awk's" \
  cmp -s <(PSQL -F '|' -c "SELECT k, n, s, mx FROM grpk" | LC_ALL=C sort) "$TMP/grp.want"
check "GROUP BY -> postgres, killed and restored: no transaction left prepared" \
  test "$(PSQL -c "SELECT count(*) FROM pg_prepared_xacts")" = 0

# ---- an upsert-kafka topic read, aggregated, killed and restored -------------
# 40 k messages on 2000 keys in 3 partitions (a key in one), every 11th a
# tombstone (the five groups' upserts are one statement each: a few
# seconds a pass, slower under load): the GROUP BY over the row now per key (changelog normalize's
# state) ends as awk's groups over each key's last message, none if that
# is a tombstone -- a normalize state lost or doubled in a restore would
# count a key twice or retract one it never added
command -v kcat >/dev/null || { echo "FAIL: kcat is not installed (scripts/deps.sh)"; exit 1; }
"$SLUICE" kafka-mock --brokers 1 --topic ups:3 >"$TMP/mock.out" 2>"$TMP/mock.err" &
mock=$!
trap 'kill -9 $mock 2>/dev/null; pg_stop' EXIT
for _ in $(seq 100); do [ -s "$TMP/mock.out" ] && break; sleep 0.05; done
B=$(head -1 "$TMP/mock.out")
awk 'BEGIN { for (i = 0; i < 40000; i++) { k = "k" (i * 7) % 2000
  if (i % 11 == 10) print k ":"; else printf "%s:%s,g%d,%d\n", k, k, (i * 7) % 2000 % 5, (i * 13) % 1001 - 500 } }' \
  >"$TMP/ups.txt"
kcat -P -b "$B" -t ups -K: -Z -l "$TMP/ups.txt"
awk -F'[:,]' '{ if ($2 == "") delete last[$1]; else last[$1] = $3 "," $4 }
  END { for (k in last) { split(last[k], a, ","); n[a[1]]++; s[a[1]] += a[2] }
        for (g in n) printf "%s|%d|%d\n", g, n[g], s[g] }' "$TMP/ups.txt" | LC_ALL=C sort >"$TMP/ups.want"
cat >"$TMP/ups.sql" <<SQL
CREATE TABLE u (k VARCHAR, g VARCHAR, v BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH (connector = 'upsert-kafka',
  topic = 'ups', 'properties.bootstrap.servers' = '$B', 'key.format' = 'csv', 'value.format' = 'csv',
  'scan.bounded.mode' = 'latest-offset');
CREATE TABLE upg (g VARCHAR, n BIGINT, s BIGINT, PRIMARY KEY (g) NOT ENFORCED)
  WITH (connector = 'postgres', url = '$PG_URI', 'table-name' = 'upg');
INSERT INTO upg SELECT g, COUNT(*), SUM(v) FROM u GROUP BY g;
SQL
kill_restore "upsert-kafka read, killed and restored" "$TMP/ups.sql" "$TMP/upsck"
check "upsert-kafka read, killed and restored: the groups equal awk's over each key's last message" \
  cmp -s <(PSQL -F '|' -c "SELECT g, n, s FROM upg" | LC_ALL=C sort) "$TMP/ups.want"
[ $fails -eq 0 ] || diff <(PSQL -F '|' -c "SELECT g, n, s FROM upg" | LC_ALL=C sort) "$TMP/ups.want" >&2
finish
