#!/usr/bin/env bash
# Exactly-once with PostgreSQL across crashes, against a real private server
# (pg_server.sh):
#   1. sink: `sluice run window-agg` from a CSV file into a table (two-phase
#      commit; checkpoints every 50 ms) is killed with SIGKILL at random
#      moments and by fault injection between PREPARE TRANSACTION and
#      COMMIT PREPARED (SLUICE_FAULT=pg-commit:1: afterwards a prepared
#      transaction must be waiting) and in recover's commits (pg-recover:1),
#      restored with `--restore latest` at a
#      random parallelism (1-3) each time; when it finally runs to the end
#      the table equals a crash-free run's CSV output and no prepared
#      transaction is left; a finished job restored once more adds nothing.
#   2. source: the same job reading the rows from a table (snapshot source)
#      into part files, killed and restored the same way: the committed
#      part files equal the crash-free output (a static table).
# SL_PG_KILLS sets the kills per loop (default 10); SL_CRASH_SEED replays.
. "$(dirname "$0")/lib_cli.sh"
. "$(dirname "$0")/pg_server.sh"
pg_start
KILLS=${SL_PG_KILLS:-10}
SEED=${SL_CRASH_SEED:-$$}
RANDOM=$SEED
echo "seed $SEED (SL_CRASH_SEED=$SEED replays the random choices)"
N=1000000
[ -n "${SL_TEST_SMALL:-}" ] && N=500000
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++)
  printf "%d,k%d,%d.%02d\n", i * 3 + (i * 7919) % 6, (i * 31) % 20, (i * 17) % 2001 - 1000, i % 100 }' >"$TMP/in.csv"
ms_now() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
WIN=(--window tumbling:1000 --out-of-orderness 10)
"$SLUICE" run window-agg --input "$TMP/in.csv" "${WIN[@]}" --output "$TMP/ref.csv" 2>/dev/null ||
  { echo "reference run failed" >&2; exit 1; }
LC_ALL=C sort "$TMP/ref.csv" >"$TMP/ref.sorted"
# 3N/1000 one-second windows of all 20 keys, and the last record (i = N-1:
# ts = 3N - 3 + (N-1)*7919 % 6 = 3N for 1 M, 3N + 2 for 500 k) alone
# opens the window starting at 3N
want=$(((3 * N / 1000) * 20 + 1))
[ "$(wc -l <"$TMP/ref.sorted")" -eq $want ] ||
  { echo "reference: $(wc -l <"$TMP/ref.sorted") lines, want $want" >&2; exit 1; }
prepared() { PSQL -c "SELECT count(*) FROM pg_prepared_xacts"; }
COLS="window_start, window_end, key, count, sum, min, max"

# kill_loop OUT...: runs "$SLUICE" "${RUN[@]}" --parallelism P OUT... KILLS
# times, killing each (SIGKILL after KMIN ms + a random time below T/KDIV, or,
# when FAULTS=1, at fault point pg-commit:1 one run in three and at pg-recover:1
# in the run after it); 0, or 1 when a run
# failed or the job finished too soon (rc 0)
kill_loop() {
  kills=0 runs=0 faults=0 waiting=0 recovers=0
  while [ $kills -lt "$KILLS" ]; do
    runs=$((runs + 1))
    local p=$((1 + RANDOM % 3)) fault= ms=$((KMIN + RANDOM % (T / KDIV + 1)))
    # a commit-fault run lives until its first COMMIT PREPARED however slow
    # the checkpoints (60 s at most: then a plain kill); it leaves a prepared
    # transaction, so the next run's recover commits one and its fault point
    # is reached at start-up, within the crash-free run's time
    if [ "$FAULTS" = 1 ] && [ $((runs % 3)) = 0 ]; then fault=pg-commit:1 ms=60000; fi
    if [ "$FAULTS" = 1 ] && [ $((runs % 3)) = 1 ] && [ $runs -gt 1 ]; then fault=pg-recover:1 ms=$T0; fi
    local from=$(($(wc -c <"$LOG") + 1)) # (this run's lines: tail -c +$from)
    {
      SLUICE_FAULT=$fault "$SLUICE" "${RUN[@]}" --parallelism $p "$@" >/dev/null 2>>"$LOG" &
      local pid=$! i
      for i in $(seq $((ms / 10))); do kill -0 $pid 2>/dev/null || break; sleep 0.01; done
      kill -KILL $pid
      wait $pid
    } 2>/dev/null
    local rc=$?
    if [ $rc -eq 137 ]; then
      kills=$((kills + 1))
      if [ -n "$fault" ] && tail -c +$from "$LOG" | grep -q "killed by fault injection (pg-commit"; then
        faults=$((faults + 1))
        [ "$(prepared)" -gt 0 ] && waiting=$((waiting + 1))
      fi
      if [ -n "$fault" ] && tail -c +$from "$LOG" | grep -q "killed by fault injection (pg-recover"; then
        recovers=$((recovers + 1))
      fi
    elif [ $rc -eq 0 ]; then
      echo "  the job finished after $kills kills" >&2
      return 1
    else
      echo "  run $runs (P=$p, fault '$fault') failed with exit $rc:" >&2
      tail -5 "$LOG" >&2
      return 1
    fi
  done
}

# ---- 1. the sink --------------------------------------------------------------
URI="$PG_URI?table-name=wa&sink.buffer-flush.max-rows=100"
t0=$(ms_now)
"$SLUICE" run window-agg --input "$TMP/in.csv" "${WIN[@]}" -p 2 --checkpoint-dir "$TMP/ck0" \
  --checkpoint-interval 50ms --output "$PG_URI?table-name=wa_clean" 2>"$TMP/clean.log"
check "crash-free run into a table" test $? -eq 0
T=$(($(ms_now) - t0))
[ $T -lt 300 ] && T=300
echo "crash-free run: $T ms"
T0=$T # a fault run lives until its fault point (or 3 x T0), however short T gets
PSQL -F, -c "SELECT $COLS FROM wa_clean" | LC_ALL=C sort >"$TMP/clean.sorted"
check "crash-free table = CSV" cmp -s "$TMP/clean.sorted" "$TMP/ref.sorted"

RUN=(run window-agg --input "$TMP/in.csv" "${WIN[@]}" --checkpoint-dir "$TMP/ck1"
  --checkpoint-interval 50ms --restore latest)
LOG="$TMP/sink.log"
# each batch of 100 rows sent sleeps 5 ms (a slow server): a run's progress
# is bounded by the time it lives, not by how fast this machine is, so the
# runs killed after KMIN + a random time below T/KDIV (T: the crash-free
# run, without the delay) are caught mid-way and the job cannot finish
# before its kills however fast the machine
export SLUICE_FAULT_DELAY=pg-write:5
FAULTS=1 KMIN=60 KDIV=8
ok=0
for attempt in 1 2 3 4 5; do
  # (a prepared transaction holds its table's lock: roll back before the drop)
  PSQL -c "SELECT gid FROM pg_prepared_xacts" | while read -r g; do PSQL -c "ROLLBACK PREPARED '$g'"; done
  PSQL -c "DROP TABLE IF EXISTS wa" 2>/dev/null
  rm -rf "$TMP/ck1"
  : >"$LOG"
  kill_loop --output "$URI" && { ok=1; break; }
  T=$((T / 2 + 1)) KMIN=$((KMIN * 2 / 3 + 20))
done
check "sink: $KILLS kills" test $ok = 1
echo "  sink: $kills kills in $runs runs, $faults between PREPARE and COMMIT PREPARED" \
  "($waiting left a prepared transaction), $recovers in recover's commits," \
  "$(grep -c 'restored checkpoint' "$LOG") restores"
check "sink: a kill between PREPARE and COMMIT PREPARED" test "$faults" -ge 1
check "sink: each left a prepared transaction behind" test "$waiting" -eq "$faults"
check "sink: a kill in recover's commits" test "$recovers" -ge 1
"$SLUICE" "${RUN[@]}" --parallelism 2 --output "$URI" >/dev/null 2>>"$LOG"
check "sink: the last run" test $? -eq 0
[ $fails -eq 0 ] || grep -v INFO "$LOG" | tail -5 >&2
PSQL -F, -c "SELECT $COLS FROM wa" | LC_ALL=C sort >"$TMP/wa.sorted"
check "sink: table = crash-free CSV" cmp -s "$TMP/wa.sorted" "$TMP/ref.sorted"
[ "$fails" -eq 0 ] || { diff "$TMP/wa.sorted" "$TMP/ref.sorted" | head >&2; }
check "sink: no prepared transaction left" test "$(prepared)" = 0
"$SLUICE" "${RUN[@]}" --parallelism 3 --output "$URI" >/dev/null 2>>"$LOG"
PSQL -F, -c "SELECT $COLS FROM wa" | LC_ALL=C sort >"$TMP/wa2.sorted"
check "sink: a finished job restored again adds nothing" cmp -s "$TMP/wa2.sorted" "$TMP/ref.sorted"

unset SLUICE_FAULT_DELAY
# ---- 2. the snapshot source ---------------------------------------------------
PSQL -c "CREATE TABLE src (ts bigint PRIMARY KEY, key text, value numeric)" \
  -c "\\copy src FROM '$TMP/in.csv' CSV"
t0=$(ms_now)
"$SLUICE" run window-agg --input "$PG_URI?table-name=src&scan.fetch-size=50" "${WIN[@]}" -p 2 \
  --output "$TMP/src_clean/" 2>/dev/null
T=$(($(ms_now) - t0))
[ $T -lt 300 ] && T=300
RUN=(run window-agg --input "$PG_URI?table-name=src&scan.fetch-size=50" "${WIN[@]}"
  --checkpoint-dir "$TMP/ck2" --checkpoint-interval 50ms --restore latest)
LOG="$TMP/src.log"
FAULTS=0 KMIN=100 KDIV=10
ok=0
for attempt in 1 2 3 4 5; do
  rm -rf "$TMP/ck2" "$TMP/src_out"
  : >"$LOG"
  kill_loop --output "$TMP/src_out/" && { ok=1; break; }
  T=$((T / 2 + 1)) KMIN=$((KMIN * 2 / 3 + 20))
done
check "source: $KILLS kills" test $ok = 1
restores=$(grep -c 'restored checkpoint' "$LOG")
echo "  source: $kills kills in $runs runs, $restores restores"
check "source: restored from checkpoints" test "$restores" -ge 1
"$SLUICE" "${RUN[@]}" --parallelism 2 --output "$TMP/src_out/" >/dev/null 2>>"$LOG"
check "source: the last run" test $? -eq 0
LC_ALL=C sort "$TMP"/src_out/part-* >"$TMP/src.sorted"
check "source: part files = crash-free output" cmp -s "$TMP/src.sorted" "$TMP/ref.sorted"
check "no sanitizer report" bash -c "! cat '$TMP'/*.log | grep -E 'Sanitizer|runtime error'"
finish
