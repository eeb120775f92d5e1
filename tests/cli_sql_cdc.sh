#!/usr/bin/env bash
# `sluice sql` over PostgreSQL change data capture: a table with
# 'scan.mode' = 'cdc' is a changelog source (+I/-U/+U/-D), against a real
# private server (pg_server.sh; wal_level=logical):
#   - REPLICA IDENTITY FULL: 500 rows before the job (its snapshot), then,
#     while it runs (P=2, checkpoints), inserts, updates of values, of the
#     group column and of the primary key, NULLs, deletes (one emptying a
#     group, one of a row inserted in the same transaction).  One job
#     writes SELECT k, COUNT(*), SUM(v) ... GROUP BY k into a table with a
#     PRIMARY KEY, replicates the table (INSERT INTO cp SELECT *) into
#     another and joins it with a CSV table of labels, aggregated per label,
#     into a third: they equal psql's own aggregate of the source, the
#     source itself and psql's aggregate of the join (the independent
#     references), after the snapshot and after the changes, and still
#     after the job is stopped;
#   - REPLICA IDENTITY DEFAULT: the first update fails the job, naming the
#     table and the ALTER TABLE to run, and no row with made-up values was
#     emitted;
#   - the same job SIGKILLed while changes arrive, more changes while it is
#     down, restored at another parallelism: both tables again equal psql's
#     (the slot's position, the groups' state and the sinks' transactions
#     restored exactly).
# (EXPLAIN, windows over a CDC table, append-only sinks: test_sql.c's
# cdc_changelog.)
. "$(dirname "$0")/lib_cli.sh"
. "$(dirname "$0")/pg_server.sh"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; }
trap 'cleanup; pg_stop' EXIT
pg_start
NOREST="-D rest.enabled=false"
wait_for() { # wait_for SECONDS COMMAND...: until the command succeeds
  local i
  for i in $(seq $(($1 * 10))); do "${@:2}" && return 0; sleep 0.1; done
  return 1
}
is_active() { [ "$(PSQL -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$1' AND active")" = 1 ]; }
# the references: psql's aggregate of the source, and the source's rows
agg_ref() { PSQL -F '|' -c "SELECT k, count(*), coalesce(sum(v)::text, '<null>') FROM src GROUP BY k" | LC_ALL=C sort; }
agg_got() { PSQL -F '|' -c "SELECT k, n, coalesce(s::text, '<null>') FROM agg" 2>/dev/null | LC_ALL=C sort; }
cp_ref() { PSQL -F '|' -c "SELECT id, k, coalesce(v::text, '<null>') FROM src" | LC_ALL=C sort; }
cp_got() { PSQL -F '|' -c "SELECT id, k, coalesce(v::text, '<null>') FROM cp" 2>/dev/null | LC_ALL=C sort; }
agg_same() { cmp -s <(agg_got) <(agg_ref); }
cp_same() { cmp -s <(cp_got) <(cp_ref); }
drop_slots() { PSQL -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active" >/dev/null; }
show_diff() { diff <("$1_got") <("$1_ref") | head -20 >&2; }

# ---- REPLICA IDENTITY FULL: a GROUP BY and a replica, one job -----------------
PSQL -c "CREATE TABLE src (id int PRIMARY KEY, k text, v bigint)" -c "ALTER TABLE src REPLICA IDENTITY FULL" \
  -c "INSERT INTO src SELECT g, 'k' || (g % 7), (g * 37) % 101 - 20 FROM generate_series(1, 500) g"
cat >"$TMP/job.sql" <<SQL
CREATE TABLE src (id INT, k VARCHAR, v BIGINT) WITH (connector = 'postgres', url = '$PG_URI',
  'table-name' = 'src', 'scan.mode' = 'cdc', 'slot.name' = 'agg_slot');
-- a second read of the table: a slot of its own
CREATE TABLE src2 (id INT, k VARCHAR, v BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH (connector = 'postgres', url = '$PG_URI',
  'table-name' = 'src', 'scan.mode' = 'cdc', 'slot.name' = 'cp_slot');
CREATE TABLE agg (k VARCHAR, n BIGINT, s BIGINT, PRIMARY KEY (k) NOT ENFORCED)
  WITH (connector = 'postgres', url = '$PG_URI', 'table-name' = 'agg');
CREATE TABLE cp (id INT, k VARCHAR, v BIGINT, PRIMARY KEY (id) NOT ENFORCED)
  WITH (connector = 'postgres', url = '$PG_URI', 'table-name' = 'cp');
INSERT INTO agg SELECT k, COUNT(*), SUM(v) FROM src GROUP BY k;
INSERT INTO cp SELECT * FROM src2;
-- the join (first job only): src's rows with their group's label, aggregated per label
CREATE TABLE src3 (id INT, k VARCHAR, v BIGINT) WITH (connector = 'postgres', url = '$PG_URI',
  'table-name' = 'src', 'scan.mode' = 'cdc', 'slot.name' = 'jn_slot');
CREATE TABLE dim (k VARCHAR, label VARCHAR) WITH (connector = 'filesystem', path = '$TMP/dim.csv');
CREATE TABLE jn (label VARCHAR, n BIGINT, s BIGINT, PRIMARY KEY (label) NOT ENFORCED)
  WITH (connector = 'postgres', url = '$PG_URI', 'table-name' = 'jn');
INSERT INTO jn SELECT d.label, COUNT(*), SUM(s.v) FROM src3 s JOIN dim d ON s.k = d.k GROUP BY d.label;
SQL
for i in 0 1 2 3 4 5 6 7 8 9; do echo "k$i,L$i"; done >"$TMP/dim.csv"
PSQL -c "CREATE TABLE dim (k text, label text)" -c "\copy dim FROM '$TMP/dim.csv' CSV"
jn_ref() { PSQL -F '|' -c "SELECT d.label, count(*), coalesce(sum(s.v)::text, '<null>') FROM src s JOIN dim d ON s.k = d.k GROUP BY d.label" | LC_ALL=C sort; }
jn_got() { PSQL -F '|' -c "SELECT label, n, coalesce(s::text, '<null>') FROM jn" 2>/dev/null | LC_ALL=C sort; }
jn_same() { cmp -s <(jn_got) <(jn_ref); }
"$SLUICE" sql "$TMP/job.sql" -p 2 $NOREST --checkpoint-dir "$TMP/ck" --checkpoint-interval 200ms \
  </dev/null >"$TMP/job.out" 2>"$TMP/job.err" &
job=$!
pids+=($job)
both_active() { is_active agg_slot && is_active cp_slot && is_active jn_slot; }
check "full: both slots stream" wait_for 60 both_active
check "full: the snapshot's aggregate equals psql's" wait_for 60 agg_same
[ $fails -eq 0 ] || show_diff agg
check "full: the snapshot's replica equals the table" wait_for 60 cp_same
[ $fails -eq 0 ] || show_diff cp
check "full: the snapshot's join equals psql's" wait_for 60 jn_same
[ $fails -eq 0 ] || show_diff jn
PSQL <<'SQL'
INSERT INTO src SELECT g, 'k' || (g % 7), g % 50 FROM generate_series(501, 600) g;
UPDATE src SET v = v + 1000 WHERE id % 10 = 3;
UPDATE src SET k = 'k9' WHERE id % 25 = 1;
UPDATE src SET id = id + 10000 WHERE id % 40 = 7;
UPDATE src SET v = NULL WHERE id IN (2, 20, 200);
DELETE FROM src WHERE id % 9 = 4;
DELETE FROM src WHERE k = 'k3';
BEGIN;
INSERT INTO src VALUES (700, 'k3', 5), (701, 'k10', NULL);
UPDATE src SET v = v * 2 WHERE id = 700;
DELETE FROM src WHERE id = 700;
COMMIT;
SQL
# (by construction: group k3 gone, k9 and k10 new, k10's sum NULL)
check "full: the changes made group k3 go" test -z "$(PSQL -c "SELECT 1 FROM src WHERE k = 'k3'")"
check "full: after the changes the aggregate equals psql's" wait_for 60 agg_same
[ $fails -eq 0 ] || show_diff agg
check "full: ... group k3 deleted from it" test -z "$(PSQL -c "SELECT 1 FROM agg WHERE k = 'k3'")"
check "full: after the changes the replica equals the table" wait_for 60 cp_same
[ $fails -eq 0 ] || show_diff cp
check "full: after the changes the join equals psql's" wait_for 60 jn_same
[ $fails -eq 0 ] || show_diff jn
check "full: ... the rows whose key changed moved" test "$(PSQL -c "SELECT count(*) FROM cp WHERE id > 10000")" = \
  "$(PSQL -c "SELECT count(*) FROM src WHERE id > 10000")"
sleep 0.5 # (a late or duplicate change would come now)
kill -TERM $job
wait $job
check "full: stopped by SIGTERM" test $? -eq 130
check "full: the aggregate still equals psql's" agg_same
check "full: the replica still equals the table" cp_same
check "full: the join still equals psql's" jn_same
drop_slots # (the server has a few)
[ $fails -eq 0 ] || grep -v INFO "$TMP/job.err" | tail -20 >&2

# ---- REPLICA IDENTITY DEFAULT: the first update fails the job -------------------
PSQL -c "CREATE TABLE dflt (id int PRIMARY KEY, k text, v bigint)" -c "INSERT INTO dflt VALUES (1, 'a', 10)"
timeout 120 "$SLUICE" sql -p 1 $NOREST -e "
  CREATE TABLE d (id INT, k VARCHAR, v BIGINT) WITH (connector = 'postgres', url = '$PG_URI',
    'table-name' = 'dflt', 'scan.mode' = 'cdc');
  CREATE TABLE o (k VARCHAR, s BIGINT) WITH (connector = 'print');
  INSERT INTO o SELECT k, SUM(v) FROM d GROUP BY k" </dev/null >"$TMP/d.out" 2>"$TMP/d.err" &
job=$!
pids+=($job)
check "default: the slot streams" wait_for 60 is_active sluice_dflt
PSQL -c "INSERT INTO dflt VALUES (2, 'b', 20)" -c "UPDATE dflt SET v = 11 WHERE id = 1"
wait $job
rc=$?
check "default: the job failed (not timed out: $rc)" test $rc -ne 0 -a $rc -ne 124
check "default: the message names the table and the fix" contains "$TMP/d.err" \
  "table 'd' (PostgreSQL table 'dflt', change data capture): an update's old image (-U) has no value for column 'k': the server sends only the key's columns of old images under REPLICA IDENTITY DEFAULT (and no unchanged TOASTed value), and an updating query cannot retract values it does not know: run ALTER TABLE dflt REPLICA IDENTITY FULL; and start the job afresh (without --restore: the changes already logged lack them)"
drop_slots
check "default: the rows before it" same_sorted "$TMP/d.out" $'+I[a, 10]\n+I[b, 20]\n'

# ---- SIGKILLed and restored: exactly the source's aggregate and rows ----------
# (checkpoints every 100 ms; the sinks' transactions are committed with
# them.  The kill comes after a checkpoint past the snapshot completed --
# earlier ones are declined, and a run restoring none starts afresh -- and
# while changes arrive; more changes while it is down; the restore runs at
# another parallelism; more changes: both tables equal psql's.)
PSQL -c "CREATE TABLE ev (id int PRIMARY KEY, k text, v bigint)" -c "ALTER TABLE ev REPLICA IDENTITY FULL" \
  -c "INSERT INTO ev SELECT g, 'g' || (g % 13), g % 997 FROM generate_series(1, 3000) g"
changes() { # changes A B: transactions A..B of inserts, updates (of v, k, id) and deletes
  awk -v a="$1" -v b="$2" 'BEGIN {
    for (x = a; x <= b; x++) {
      print "BEGIN;"
      print "INSERT INTO ev VALUES (" 100000 + x ", '\''g" x % 17 "'\'', " x % 89 ");"
      print "UPDATE ev SET v = v + " x % 7 + 1 " WHERE id = " (x * 7) % 3000 + 1 ";"
      if (x % 3 == 0) print "UPDATE ev SET k = '\''h" x % 5 "'\'' WHERE id = " (x * 11) % 3000 + 1 ";"
      if (x % 4 == 0) print "DELETE FROM ev WHERE id = " (x * 13) % 3000 + 1 ";"
      if (x % 5 == 0) print "DELETE FROM ev WHERE id = " 100000 + x - 2 ";"
      if (x % 6 == 0) print "UPDATE ev SET id = id + 500000 WHERE id = " (x * 17) % 3000 + 1 ";"
      print "COMMIT;"
    } }' >"$TMP/changes.sql"
  PSQL -f "$TMP/changes.sql"
}
sed -e '/^-- the join/,$d' -e 's/\bsrc2\b/ev2/g; s/\bsrc\b/ev/g; s/agg_slot/evagg_slot/; s/cp_slot/evcp_slot/' \
  -e "s/'table-name' = 'agg'/'table-name' = 'evagg'/; s/'table-name' = 'cp'/'table-name' = 'evcp'/" \
  "$TMP/job.sql" >"$TMP/ev.sql"
agg_ref() { PSQL -F '|' -c "SELECT k, count(*), coalesce(sum(v)::text, '<null>') FROM ev GROUP BY k" | LC_ALL=C sort; }
agg_got() { PSQL -F '|' -c "SELECT k, n, coalesce(s::text, '<null>') FROM evagg" 2>/dev/null | LC_ALL=C sort; }
cp_ref() { PSQL -F '|' -c "SELECT id, k, coalesce(v::text, '<null>') FROM ev" | LC_ALL=C sort; }
cp_got() { PSQL -F '|' -c "SELECT id, k, coalesce(v::text, '<null>') FROM evcp" 2>/dev/null | LC_ALL=C sort; }
EVRUN=(sql "$TMP/ev.sql" $NOREST --checkpoint-dir "$TMP/evck" --checkpoint-interval 100ms --restore latest)
completed() { ls "$TMP"/evck/chk-*/_metadata >/dev/null 2>&1; }
"$SLUICE" "${EVRUN[@]}" -p 2 </dev/null >/dev/null 2>"$TMP/ev1.err" &
job=$!
pids+=($job)
check "kill: the snapshot's aggregate" wait_for 60 agg_same
check "kill: a checkpoint past the snapshot" wait_for 60 completed
changes 1 150
changes 151 300 &
chg=$!
sleep 0.$((RANDOM % 5 + 1))
kill -KILL $job
wait $job 2>/dev/null
check "kill: killed" test $? -eq 137
wait $chg
changes 301 450 # while it is down
"$SLUICE" "${EVRUN[@]}" -p 3 </dev/null >/dev/null 2>"$TMP/ev2.err" &
job=$!
pids+=($job)
check "kill: restored" wait_for 30 grep -q "restored checkpoint" "$TMP/ev2.err"
changes 451 600
check "kill: the aggregate equals psql's" wait_for 60 agg_same
[ $fails -eq 0 ] || show_diff agg
check "kill: the replica equals the table" wait_for 60 cp_same
[ $fails -eq 0 ] || show_diff cp
sleep 0.5 # (a late or duplicate change would come now)
kill -TERM $job
wait $job
check "kill: stopped by SIGTERM" test $? -eq 130
check "kill: the aggregate still equals psql's" agg_same
check "kill: the replica still equals the table" cp_same
[ $fails -eq 0 ] || grep -v INFO "$TMP"/ev*.err | tail -20 >&2
finish
