#!/usr/bin/env bash
# PostgreSQL change data capture (scan.mode=cdc) through the CLI, against a
# real private server (pg_server.sh; no server installed is a failure):
#   - errors, each message asserted: decoding.plugin.name other than
#     pgoutput, a bad slot.name, a table without a primary key, a user
#     without REPLICATION, a slot in use, wal_level not logical (with the
#     fix), a position of a snapshot read restored into a CDC read, a
#     damaged checkpoint file (named);
#   - type coverage: the snapshot row and inserted / updated rows of every
#     common type print as PostgreSQL's text output (as the snapshot read);
#   - exactly-once: rows inserted, updated and deleted in transactions while
#     the job runs into part files with checkpoints; a SIGKILL in the middle,
#     more changes while it is down, `--restore latest` at another
#     parallelism (and number of snapshot splits), more changes: the committed lines are exactly the
#     snapshot plus one line per insert and per update (a reference built
#     from the statements the test ran), the deletes counted in the log;
#   - a SIGKILL while the snapshot is read (test builds: a fault point
#     slows the FETCHes and kills at one): the checkpoints meanwhile are
#     declined, none completes, and the restore (`--restore latest` finding
#     none) starts afresh: every row and change exactly once;
#   - the slot's confirmed_flush_lsn: stays put without checkpoints (also
#     after the 10 s status updates), covers the last transaction once a
#     checkpoint completed;
#   - slot.drop-on-stop drops the slot when the job is stopped, not when it
#     fails;
#   - the C API's typed rows and change kinds (pg_cdc_api_test.c).
. "$(dirname "$0")/lib_cli.sh"
. "$(dirname "$0")/pg_server.sh"
pg_start
U="$PG_URI"
slot_lsn() { PSQL -c "SELECT coalesce(confirmed_flush_lsn::text, '') FROM pg_replication_slots WHERE slot_name = '$1'"; }
slot_active() { PSQL -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$1' AND active"; }
lsn_ge() { PSQL -c "SELECT ('$1'::pg_lsn >= '$2'::pg_lsn)::text"; } # lsn_ge A B: "true" when A >= B
wait_for() { # wait_for SECONDS COMMAND...: until the command succeeds
  local i
  for i in $(seq $(($1 * 10))); do "${@:2}" && return 0; sleep 0.1; done
  return 1
}
lines_ge() { [ "$(cat "$1"/part-* 2>/dev/null | wc -l)" -ge "$2" ]; } # committed part files
flines_ge() { [ "$(cat "$1" "$1".inprogress 2>/dev/null | wc -l)" -ge "$2" ]; } # a file being written
is_active() { [ "$(slot_active "$1")" = 1 ]; }
covers() { [ "$(lsn_ge "$(slot_lsn "$1")" "$2")" = true ]; }
rc_ne0() { [ "$(cat "$TMP/err.rc")" != 0 ]; }

# ---- errors ---------------------------------------------------------------
err() { "$SLUICE" "$@" >"$TMP/err.out" 2>"$TMP/err.txt"; echo $? >"$TMP/err.rc"; cat "$TMP/err.txt" >>"$TMP/all_errors.txt"; }
PSQL -c "CREATE TABLE nopk (a int)" -c "CREATE TABLE pk (a int PRIMARY KEY, b text)"
err run upper --input "$U?table-name=pk&scan.mode=cdc&decoding.plugin.name=wal2json"
check "plugin other than pgoutput" contains "$TMP/err.txt" \
  "option 'decoding.plugin.name': only pgoutput (PostgreSQL's built-in logical decoding plugin) is supported, got 'wal2json'"
err run upper --input "$U?table-name=pk&scan.mode=cdc&slot.name=Bad-Name"
check "bad slot name" contains "$TMP/err.txt" \
  "option 'slot.name': a replication slot's name is 1 to 63 of a-z, 0-9 and _, got 'Bad-Name'"
err run upper --input "$U?table-name=nopk&scan.mode=cdc"
check "no primary key" contains "$TMP/err.txt" \
  "PostgreSQL table 'nopk' has no primary key: the server cannot publish its updates and deletes for change data capture: add a primary key, or ALTER TABLE nopk REPLICA IDENTITY FULL;"
PSQL -c "CREATE ROLE norep LOGIN" -c "GRANT SELECT ON pk TO norep"
err run upper --input "postgresql://norep@127.0.0.1:$PGPORT/postgres?table-name=pk&scan.mode=cdc"
check "no REPLICATION privilege" contains "$TMP/err.txt" \
  "PostgreSQL (host 127.0.0.1 port $PGPORT database postgres user norep): the user lacks the REPLICATION privilege that change data capture needs: ALTER ROLE <user> REPLICATION; (or use a superuser)"
check "no slot left by the refused runs" test "$(PSQL -c "SELECT count(*) FROM pg_replication_slots")" = 0

# ---- type coverage (and a slot in use) -------------------------------------
PSQL <<'SQL'
CREATE TABLE types (id bigint PRIMARY KEY, i integer, n numeric(10,3), d double precision,
  t text, v varchar(20), b boolean, ts timestamp, tz timestamptz, dt date, by bytea);
INSERT INTO types VALUES
  (1, -42, 3.140, 2.5, 'plain', 'a,b', true, '2024-02-29 12:34:56.5', '2024-01-01 00:00:00+00',
   '2024-12-31', '\x00ff41');
SQL
TU="$U?table-name=types&scan.mode=cdc&options=-c%20TimeZone%3DUTC"
"$SLUICE" run upper --input "$TU" >"$TMP/types.txt" 2>"$TMP/types.err" &
job=$!
check "types: the slot streams" wait_for 30 is_active sluice_types
err run upper --input "$TU"
check "slot in use" contains "$TMP/err.txt" \
  "replication slot 'sluice_types' is in use (by server process"
check "slot in use: what to do" contains "$TMP/err.txt" "stop that job or give this one another slot.name"
PSQL <<'SQL'
INSERT INTO types VALUES (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (3, 0, -0.001, -1e-5, 'say "hi"', '', false, '1999-12-31 23:59:59', '2000-06-15 12:00:00+00',
   '2000-01-01', '\x');
UPDATE types SET t = 'changed', v = NULL WHERE id = 1;
DELETE FROM types WHERE id = 3;
SQL
# by hand: PostgreSQL's text output, upper-cased by the job, in commit order
cat >"$TMP/types.want" <<'EOF'
1,-42,3.140,2.5,PLAIN,"A,B",T,2024-02-29 12:34:56.5,2024-01-01 00:00:00+00,2024-12-31,\X00FF41
2,,,,,,,,,,
3,0,-0.001,-1E-05,"SAY ""HI""","",F,1999-12-31 23:59:59,2000-06-15 12:00:00+00,2000-01-01,\X
1,-42,3.140,2.5,CHANGED,,T,2024-02-29 12:34:56.5,2024-01-01 00:00:00+00,2024-12-31,\X00FF41
EOF
wait_for 30 flines_ge "$TMP/types.txt" 4 # (stdout: written when idle)
kill -TERM $job
wait $job
check "types: stopped by SIGTERM" test $? -eq 130
check "types: rows as PostgreSQL prints them" cmp "$TMP/types.txt" "$TMP/types.want"
[ $fails -eq 0 ] || { diff "$TMP/types.txt" "$TMP/types.want" >&2; cat "$TMP/types.err" >&2; }
check "types: deletes counted in the log" contains "$TMP/types.err" \
  "change data capture read 2 inserts, 1 updates, 1 deletes in this run (deletes and old images print nothing)"
check "types: the slot stays (slot.drop-on-stop=false)" test "$(slot_active sluice_types)" = 0
check "types: ... and exists" test -n "$(slot_lsn sluice_types)"

# ---- exactly-once across a SIGKILL, restored at another parallelism ---------
PSQL -c "CREATE TABLE ev (id bigint PRIMARY KEY, v text)" \
  -c "INSERT INTO ev SELECT g, 's' || g FROM generate_series(1, 3000) g"
seq 1 3000 | awk '{ print $1 ",S" $1 }' >"$TMP/ev.ref"
# changes A B: transactions k = A..B, each an insert (id 100000+k) and an
# update (of row k % 3000 + 1); every 4th also deletes the row inserted 3
# transactions before; every 50th is one big transaction of 40 inserts
changes() {
  awk -v a="$1" -v b="$2" -v ref="$TMP/ev.ref" 'BEGIN {
    for (k = a; k <= b; k++) {
      print "BEGIN;"
      if (k % 50 == 0) {
        for (j = 0; j < 40; j++) { id = 1000000 + k * 100 + j; print "INSERT INTO ev VALUES (" id ", '\''b" k "'\'');"; print id ",B" k >> ref }
      }
      print "INSERT INTO ev VALUES (" 100000 + k ", '\''i" k "'\'');"; print 100000 + k ",I" k >> ref
      print "UPDATE ev SET v = '\''u" k "'\'' WHERE id = " k % 3000 + 1 ";"; print k % 3000 + 1 ",U" k >> ref
      if (k % 4 == 0 && k - 3 >= 1) print "DELETE FROM ev WHERE id = " 100000 + k - 3 ";"
      print "COMMIT;"
    } }' >"$TMP/changes.sql"
  PSQL -f "$TMP/changes.sql"
}
EVU="$U?table-name=ev&scan.mode=cdc&slot.name=ev_slot&scan.fetch-size=100"
# (part files roll often, so each checkpoint commits what came)
RUN=(run upper --input "$EVU" --output "$TMP/ev_out/" --checkpoint-dir "$TMP/ck"
  --checkpoint-interval 100ms --restore latest -D sink.rolling-policy.inactivity-interval=50ms
  -D sink.rolling-policy.rollover-interval=100ms)
"$SLUICE" "${RUN[@]}" -p 2 >/dev/null 2>"$TMP/ev1.log" &
job=$!
check "ev: the snapshot committed" wait_for 60 lines_ge "$TMP/ev_out" 3000
check "ev: the slot streams" wait_for 30 is_active ev_slot
l0=$(slot_lsn ev_slot)
changes 1 200
wait_for 30 lines_ge "$TMP/ev_out" 3200
changes 201 400 & # killed while changes arrive
chg=$!
sleep 0.$((RANDOM % 5 + 1))
kill -KILL $job
wait $job 2>/dev/null
check "ev: killed" test $? -eq 137
wait $chg
check "ev: the slot advanced with checkpoints" test "$(lsn_ge "$(slot_lsn ev_slot)" "$l0")" = true
check "ev: ... past the snapshot's point" test "$(slot_lsn ev_slot)" != "$l0"
changes 401 600 # while it is down
# (another parallelism and another number of snapshot splits: the snapshot
# was read completely)
RUN2=("${RUN[@]}")
RUN2[3]="$EVU&scan.partition.num=5"
"$SLUICE" "${RUN2[@]}" -p 3 >/dev/null 2>"$TMP/ev2.log" &
job=$!
changes 601 700
pre=$(PSQL -c "SELECT pg_current_wal_lsn()")
changes 701 701
want=$(wc -l <"$TMP/ev.ref")
check "ev: every change committed" wait_for 60 lines_ge "$TMP/ev_out" "$want"
check "ev: restored from a checkpoint" contains "$TMP/ev2.log" "restored checkpoint"
check "ev: several snapshot splits with cdc are warned of" contains "$TMP/ev2.log" \
  "scan.partition.num=5 with scan.mode=cdc: the snapshot is read by several subtasks"
check "ev: one split by default, no warning" test -z "$(grep -F "scan.partition.num" "$TMP/ev1.log")"
check "ev: the slot covers the last transaction" wait_for 30 covers ev_slot "$pre"
sleep 0.5 # (a duplicate would come now)
kill -TERM $job
wait $job
check "ev: stopped" test $? -eq 130
LC_ALL=C sort "$TMP"/ev_out/part-* >"$TMP/ev.got"
LC_ALL=C sort "$TMP/ev.ref" >"$TMP/ev.want"
check "ev: each change exactly once" cmp -s "$TMP/ev.got" "$TMP/ev.want"
[ $fails -eq 0 ] || { diff "$TMP/ev.got" "$TMP/ev.want" | head -20 >&2; grep -v INFO "$TMP"/ev*.log | tail >&2; }
# deletes: k = 4, 8, ... 700 in the two runs (transactions the restore
# skipped are not read again, so the runs' counts add up to 175 or, with a
# transaction emitted before the kill but not checkpointed, a little more)
d1=$(grep -o '[0-9]* deletes in this run' "$TMP/ev2.log" | awk '{ print $1 }')
check "ev: the second run counted its deletes" test "${d1:-0}" -ge 1

# ---- a SIGKILL while the snapshot is read: exactly-once --------------------
# (no checkpoint completes while the snapshot is read: the readers decline
# them; the restore finds none, so it starts afresh -- the leftover slot
# dropped, a new snapshot -- and every row and change is in the committed
# output once.  Test builds only: a fault point slows each FETCH and kills
# the job at a given one.)
if [ "${SL_FAULT_INJECTION:-}" = ON ]; then
PSQL -c "CREATE TABLE ms (id bigint PRIMARY KEY, v text)" \
  -c "INSERT INTO ms SELECT g, 's' || g FROM generate_series(1, 20000) g"
MSU="$U?table-name=ms&scan.mode=cdc&slot.name=ms_slot&scan.fetch-size=50"
RUNM=(run upper --input "$MSU" --output "$TMP/ms_out/" --checkpoint-dir "$TMP/ckm"
  --checkpoint-interval 100ms --restore latest -D sink.rolling-policy.inactivity-interval=20ms
  -D sink.rolling-policy.rollover-interval=50ms)
# 400 FETCHes of 50 rows, each 10 ms slower (the snapshot spans ~20 checkpoint
# triggers); SIGKILL at the 200th
SLUICE_FAULT=pg-fetch:200 SLUICE_FAULT_DELAY=pg-fetch:10 "$SLUICE" "${RUNM[@]}" -p 2 \
  >/dev/null 2>"$TMP/ms1.log"
check "snapshot killed: by the fault point" test $? -eq 137
# (one snapshot split, cdc's default: subtask 1 reads it, then the stream)
check "snapshot killed: checkpoints declined meanwhile" grep -Eq \
  "source '[^']*' \(subtask 1/2\) declined checkpoint [0-9]+: snapshot still being read \(split 1 of 1\)" "$TMP/ms1.log"
check "snapshot killed: none completed" test -z "$(ls "$TMP"/ckm/chk-*/_metadata 2>/dev/null)"
check "snapshot killed: nothing committed" test -z "$(ls "$TMP"/ms_out/part-* 2>/dev/null)"
# changes while it is down (in the new snapshot)
PSQL -c "UPDATE ms SET v = 'u' || id WHERE id <= 50" -c "DELETE FROM ms WHERE id BETWEEN 10001 AND 10010" \
  -c "INSERT INTO ms SELECT g, 'i' || g FROM generate_series(100001, 100010) g"
PSQL -A -t -F, -c "SELECT id, upper(v) FROM ms" >"$TMP/ms.ref"
n_snap=$(wc -l <"$TMP/ms.ref")
"$SLUICE" "${RUNM[@]}" -p 3 >/dev/null 2>"$TMP/ms2.log" &
job=$!
check "snapshot killed: the restore committed the new snapshot" wait_for 60 lines_ge "$TMP/ms_out" "$n_snap"
check "snapshot killed: the slot streams" wait_for 30 is_active ms_slot
# changes after the snapshot (in the stream)
PSQL -c "INSERT INTO ms SELECT g, 'j' || g FROM generate_series(200001, 200010) g" \
  -c "UPDATE ms SET v = 'w' || id WHERE id BETWEEN 51 AND 60" -c "DELETE FROM ms WHERE id = 61"
{ seq 200001 200010 | awk '{ print $1 ",J" $1 }'; seq 51 60 | awk '{ print $1 ",W" $1 }'; } >>"$TMP/ms.ref"
want=$(wc -l <"$TMP/ms.ref")
check "snapshot killed: every change committed" wait_for 60 lines_ge "$TMP/ms_out" "$want"
sleep 0.5 # (a duplicate would come now)
kill -TERM $job
wait $job
check "snapshot killed: stopped" test $? -eq 130
check "snapshot killed: no checkpoint to restore, a fresh start" contains "$TMP/ms2.log" \
  "replication slot 'ms_slot' exists but the job does not restore: dropped and made anew"
LC_ALL=C sort "$TMP"/ms_out/part-* >"$TMP/ms.got"
LC_ALL=C sort "$TMP/ms.ref" >"$TMP/ms.want"
check "snapshot killed: each row and change exactly once" cmp -s "$TMP/ms.got" "$TMP/ms.want"
[ $fails -eq 0 ] || { diff "$TMP/ms.got" "$TMP/ms.want" | head -20 >&2; grep -v INFO "$TMP"/ms*.log | tail >&2; }
fi

# ---- damaged or foreign positions ------------------------------------------
cp -r "$TMP/ck" "$TMP/ck_bad"
f=$(ls "$TMP"/ck_bad/chk-*/*source* 2>/dev/null | head -1)
[ -z "$f" ] && f=$(ls "$TMP"/ck_bad/chk-*/* | grep -v _metadata | head -1)
printf '\xff\xff\xff\xff' | dd of="$f" bs=1 seek=40 conv=notrunc 2>/dev/null
err run upper --input "$EVU" --checkpoint-dir "$TMP/ck_bad" --restore "$(dirname "$f")" --output "$TMP/bad_out/"
check "damaged checkpoint file: refused" rc_ne0
check "damaged checkpoint file: named" contains "$TMP/err.txt" "$(basename "$f")"
"$SLUICE" run upper --input "$U?table-name=pk" --checkpoint-dir "$TMP/ck_snap" \
  --checkpoint-interval 10ms --output "$TMP/snap_out/" 2>/dev/null
err run upper --input "$U?table-name=pk&scan.mode=cdc&slot.name=foreign" \
  --checkpoint-dir "$TMP/ck_snap" --restore latest --output "$TMP/snap_out2/"
check "a snapshot read's position refused" contains "$TMP/err.txt" \
  "checkpoint position 0 was written by a snapshot read, this run is a cdc read (scan.mode)"

# ---- the slot stays put without checkpoints ----------------------------------
PSQL -c "CREATE TABLE quiet (id int PRIMARY KEY)" -c "INSERT INTO quiet VALUES (1)"
"$SLUICE" run upper --input "$U?table-name=quiet&scan.mode=cdc&slot.drop-on-stop=true" \
  >"$TMP/quiet.txt" 2>"$TMP/quiet.log" &
job=$!
check "quiet: the slot streams" wait_for 30 is_active sluice_quiet
q0=$(slot_lsn sluice_quiet)
PSQL -c "INSERT INTO quiet SELECT g FROM generate_series(2, 50) g"
check "quiet: the changes read" wait_for 30 flines_ge "$TMP/quiet.txt" 50
sleep 11 # a status update went out (every 10 s)
check "quiet: no checkpoint, the slot did not move" test "$(slot_lsn sluice_quiet)" = "$q0"
kill -TERM $job
wait $job
check "slot.drop-on-stop: dropped" test -z "$(slot_lsn sluice_quiet)"
check "slot.drop-on-stop: said" contains "$TMP/quiet.log" \
  "replication slot 'sluice_quiet' dropped (slot.drop-on-stop)"

# ---- slot.drop-on-stop keeps the slot when the job fails ----------------------
# (a restore needs it; a TRUNCATE fails the job)
PSQL -c "CREATE TABLE tr (id int PRIMARY KEY)" -c "INSERT INTO tr VALUES (1)"
"$SLUICE" run upper --input "$U?table-name=tr&scan.mode=cdc&slot.drop-on-stop=true" \
  >/dev/null 2>"$TMP/tr.log" &
job=$!
check "failed job: the slot streams" wait_for 30 is_active sluice_tr
PSQL -c "TRUNCATE tr"
wait $job
rc=$?
check "failed job: failed" test $rc -ne 0 -a $rc -ne 130
check "failed job: why" contains "$TMP/tr.log" "PostgreSQL table 'tr' was truncated"
check "failed job: the slot kept (slot.drop-on-stop drops on a stop only)" test -n "$(slot_lsn sluice_tr)"
PSQL -c "SELECT pg_drop_replication_slot('sluice_tr')" >/dev/null

# ---- the C API: typed rows and change kinds ----------------------------------
"${SL_PG_CDC_API_TEST:?}" >"$TMP/api.out" 2>&1
check "C API (pg_cdc_api_test)" test $? -eq 0
[ $fails -eq 0 ] || cat "$TMP/api.out" >&2

# ---- wal_level not logical ----------------------------------------------------
# (a server with logical slots does not start below wal_level=logical)
PSQL -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots" >/dev/null
pg_as "$PG_BIN/pg_ctl" restart -w -D "$PG_DIR/data" -l "$PG_DIR/server.log" -m fast \
  -o "-p $PGPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_DIR -c wal_level=replica" >/dev/null
err run upper --input "$U?table-name=pk&scan.mode=cdc&slot.name=other"
check "wal_level replica: the fix said" contains "$TMP/err.txt" \
  "PostgreSQL (host 127.0.0.1 port $PGPORT database postgres user sluice): wal_level is 'replica', change data capture needs 'logical': run ALTER SYSTEM SET wal_level = logical; and restart the server (table 'pk')"
check "no sanitizer report" bash -c "! cat '$TMP'/*.err '$TMP'/*.log '$TMP/all_errors.txt' '$TMP/api.out' | grep -E 'Sanitizer|runtime error'"
finish
