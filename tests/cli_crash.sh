#!/usr/bin/env bash
# The crash-recovery harness: `sluice run window-agg` over 2 M generated
# records (1 M under sanitizers; event-time windows, checkpoints every
# 100 ms, exactly-once part files) is killed with SIGKILL again and again -- at random moments, and
# by fault injection in the middle of a checkpoint write (SLUICE_FAULT=
# ckpt-file:K) and in the middle of a commit (commit:K) -- or stopped by
# SIGTERM at a random moment (one run in five: a stop without drain), and restarted
# with `--restore latest` each time, at a random parallelism (1-3).  When
# it finally runs to the end, the committed output (the part-* files) must
# equal a crash-free run's: no missing line, no duplicate.  The same on the
# RocksDB backend, and once more with the supervisor restarting the job by
# itself.  At the end the newest checkpoint is damaged and the job restored
# from the one before it (fallback): the output must still be exact.  A job that ends before its kills (a fault run can get far)
# starts over in a fresh directory with shorter kills.  SL_CRASH_KILLS sets
# the number of kills per run (default 20, the long mode uses more);
# SL_CRASH_SEED replays a run's random choices.
. "$(dirname "$0")/lib_cli.sh"
KILLS=${SL_CRASH_KILLS:-20}
SEED=${SL_CRASH_SEED:-$$}
RANDOM=$SEED
echo "seed $SEED (SL_CRASH_SEED=$SEED replays the random choices)"

# N lines `ts,key,value` (2 M; 1 M in the sanitizer builds): ts rises by 3
# with a disorder of 0-5 ms (within the 10 ms bound, so no record is late at
# any parallelism), 100 keys.  RocksDB runs use the first 600 k (its window
# state is slower).
N=2000000
[ -n "${SL_TEST_SMALL:-}" ] && N=1000000
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++)
  printf "%d,k%d,%d\n", i * 3 + (i * 7919) % 6, (i * 31) % 100, (i * 17) % 2001 - 1000 }' >"$TMP/big.csv"
head -n 600000 "$TMP/big.csv" >"$TMP/small.csv"
job() { JOB=(run window-agg --input "$TMP/$1.csv" --window sliding:4000:1000 --out-of-orderness 10); }
ms_now() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
# max_ck DIR: the highest checkpoint id begun in DIR (0: none)
max_ck() { { ls "$1" 2>/dev/null | sed -n 's/^chk-\([0-9]*\)$/\1/p'; echo 0; } | sort -n | tail -1; }

# The reference: a crash-free run without checkpoints.  4 s windows sliding
# by 1 s: those starting at -3 s .. S-1 s (S = 3N/1000 s for N lines) each
# hold all 100 keys (333 records per second): 100 (3N/1000 + 3) results;
# and the last record (i = N-1, ts = 3N - 3 + (N-1)*7919 % 6, which is
# 3N + 2 for 2 M and 3N for 1 M, but 3N - 2 for 600 k) alone opens the
# window starting at S when ts >= 3N: one more.
for input in big:$(((3 * N / 1000 + 3) * 100 + 1)) small:$(((1800 + 3) * 100)); do
  name=${input%:*}
  job "$name"
  t0=$(ms_now)
  "$SLUICE" "${JOB[@]}" --parallelism 2 --output "$TMP/ref-$name/" 2>"$TMP/ref.err" ||
    { cat "$TMP/ref.err" >&2; exit 1; }
  echo "crash-free run, $name input: $(($(ms_now) - t0)) ms"
  LC_ALL=C sort "$TMP/ref-$name"/part-* >"$TMP/ref-$name.sorted"
  want=${input#*:}
  [ "$(wc -l <"$TMP/ref-$name.sorted")" -eq $want ] ||
    { echo "reference: $(wc -l <"$TMP/ref-$name.sorted") lines, want $want" >&2; exit 1; }
done

# same_as_ref DIR NAME: the committed output of DIR equals reference NAME;
# nothing is left in progress
same_as_ref() {
  local ref="$TMP/ref-$2.sorted"
  LC_ALL=C sort "$1"/part-* >"$1.sorted"
  if ! cmp -s "$1.sorted" "$ref"; then
    echo "  $1: committed output differs from the crash-free run (< got, > want):" >&2
    diff "$1.sorted" "$ref" | head -20 >&2
    echo "  lines: got $(wc -l <"$1.sorted"), want $(wc -l <"$ref");" \
      "duplicates: $(uniq -d "$1.sorted" | wc -l)" >&2
    return 1
  fi
  ! ls -A "$1" | grep -q inprogress || { echo "  $1: files left in progress" >&2; return 1; }
}

# kill_loop: the runs of one attempt of crash_loop (its locals: d, run, T,
# scale, kills, runs, rc); 0 after KILLS kills, else 1 with rc 0 when the
# job finished (too soon) or the failing run's exit code
kill_loop() {
  while [ $kills -lt "$KILLS" ]; do
    runs=$((runs + 1))
    local p=$((1 + RANDOM % 3)) fault= ms sig=KILL want=137
    # a run gets at most ~3 % of the job's time; a fault run gets a third
    # (a commit fault a half: under load the first commit comes after a few
    # checkpoints, ~0.3-0.4 of the job)
    ms=$(((T / 200 + RANDOM % (T / 40 + 1)) / scale))
    # a fault run is not killed on a timer: it runs until its fault point
    # fires (or, at the latest, for the whole job's time), so a fast machine
    # cannot finish it first; K is small next to the job's checkpoints (one
    # per 100 ms)
    # (a later attempt, scale > 1, shortens these too: K = 1, and the
    # SIGTERM a shorter time after its checkpoint)
    local kmax=$((T / 300 < 1 || scale > 1 ? 1 : T / 300 > 3 ? 3 : T / 300))
    case $((runs % 5)) in # one run in five dies by fault injection
      2) fault=ckpt-file:$((1 + RANDOM % (2 * kmax))) ms=$((T > 2000 ? T : 2000)) ;;
      4) fault=commit:$((1 + RANDOM % kmax)) ms=$((T > 2000 ? T : 2000)) ;;
      # and one is stopped (no drain) and must resume exactly: SIGTERM a
      # random moment after the run's first checkpoint began (so the job
      # runs: its handler is installed); SIGINT takes the same path, but a
      # script's background job starts with SIGINT ignored
      1) sig=TERM want=130 ms=$((RANDOM % (50 / scale + 1))) ;;
    esac
    {
      local before
      before=$(max_ck "$d/ck")
      SLUICE_FAULT=$fault "$SLUICE" "${run[@]}" --parallelism $p --output "$d/out/" \
        >/dev/null 2>>"$d/log" &
      local pid=$!
      if [ $sig = TERM ]; then # wait for a new checkpoint directory (or the end)
        local i
        for i in $(seq 500); do
          [ "$(max_ck "$d/ck")" -gt "$before" ] && break
          kill -0 $pid 2>/dev/null || break
          sleep 0.01
        done
      fi
      if [ -n "$fault" ]; then # until the fault point kills it
        local i
        for i in $(seq $((ms / 10))); do kill -0 $pid 2>/dev/null || break; sleep 0.01; done
      else
        sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
      fi
      kill -$sig $pid
      wait $pid
    } 2>/dev/null # (no "Killed" notices)
    rc=$?
    # (143: the SIGTERM came before the job's handler, a kill at startup)
    if [ $rc -eq $want ] || { [ $sig = TERM ] && [ $rc -eq 143 ]; }; then
      kills=$((kills + 1))
      if [ $rc -eq 130 ]; then stops=$((stops + 1)); fi
    elif [ $rc -eq 0 ]; then
      return 1
    else
      echo "  $name: run $runs (P=$p, fault '$fault') failed with exit $rc:" >&2
      tail -5 "$d/log" >&2
      return 1
    fi
  done
}

# crash_loop NAME INPUT [-D ...]: kill KILLS times, then run to the end
crash_loop() {
  local name=$1 input=$2; shift 2
  job "$input"
  local d="$TMP/$name" kills=0 runs=0 stops=0 rc t0 T
  mkdir -p "$d"
  local run=("${JOB[@]}" --checkpoint-dir "$d/ck" --checkpoint-interval 100ms --restore latest
    -D sink.rolling-policy.file-size=16kb -D state.checkpoints.num-retained=3 "$@")
  t0=$(ms_now)
  "$SLUICE" "${run[@]}" --parallelism 2 --output "$d/clean/" >/dev/null 2>"$d/log" &&
    same_as_ref "$d/clean" "$input" || { echo "  $name: the crash-free run differs" >&2; return 1; }
  T=$(($(ms_now) - t0))
  echo $T >"$TMP/$name.ms"
  # Kill times are drawn from T.  A fault run may still get far (the first
  # commit comes only after a few checkpoints), so a job can end before its
  # kills: then it starts over in a fresh directory with shorter kills.
  local attempt scale=1
  for attempt in 1 2 3 4; do
    rm -rf "$d/ck" "$d/out"
    : >"$d/log"
    kills=0 runs=0 stops=0
    kill_loop && break
    [ $rc -eq 0 ] || return 1
    echo "  $name: the job finished after $kills kills, before $KILLS; starting over" >&2
    scale=$((scale * 2))
  done
  [ $kills -ge "$KILLS" ] || { echo "  $name: no attempt got $KILLS kills" >&2; return 1; }
  "$SLUICE" "${run[@]}" --parallelism 2 --output "$d/out/" >/dev/null 2>>"$d/log" ||
    { echo "  $name: the last run failed" >&2; tail -5 "$d/log" >&2; return 1; }
  local fw fc restores
  fw=$(grep -c 'killed by fault injection (ckpt-file' "$d/log")
  fc=$(grep -c 'killed by fault injection (commit' "$d/log")
  restores=$(grep -c 'restored checkpoint' "$d/log")
  echo "  $name: job ${T} ms; attempt $attempt: $kills kills in $runs runs ($fw during a checkpoint write," \
    "$fc during a commit, $stops stopped by SIGTERM), $restores restores"
  [ "$fw" -ge 1 ] && [ "$fc" -ge 1 ] || { echo "  $name: a fault point was never hit" >&2; return 1; }
  [ "$stops" -ge 1 ] || { echo "  $name: no run was stopped by SIGTERM" >&2; return 1; }
  [ "$restores" -ge $((KILLS / 4)) ] || { echo "  $name: too few restores" >&2; return 1; }
  same_as_ref "$d/out" "$input" || return 1
  # a finished job restored once more adds nothing
  "$SLUICE" "${run[@]}" --parallelism 3 --output "$d/out/" >/dev/null 2>>"$d/log" &&
    same_as_ref "$d/out" "$input" || return 1
  # fallback: the newest checkpoint damaged, --restore latest takes the one
  # before it, which puts the output back as of that checkpoint and redoes
  # the rest
  local newest
  newest=$(ls -d "$d"/ck/chk-* | sed 's/.*chk-//' | sort -n | tail -1)
  printf 'X' | dd of="$d/ck/chk-$newest/_metadata" bs=1 seek=20 count=1 conv=notrunc 2>/dev/null
  "$SLUICE" "${run[@]}" --parallelism 2 --output "$d/out/" >/dev/null 2>>"$d/log" ||
    { echo "  $name: the fallback run failed" >&2; tail -5 "$d/log" >&2; return 1; }
  grep -q "skipping checkpoint .*chk-$newest" "$d/log" ||
    { echo "  $name: chk-$newest was not skipped" >&2; return 1; }
  same_as_ref "$d/out" "$input"
}

# supervised NAME INPUT: the supervisor restarts the job itself; its child
# is killed KILLS times
supervised() {
  local name=$1 input=$2 kills=0 child ms T
  job "$input"
  local d="$TMP/$name"
  mkdir -p "$d"
  T=$(cat "$TMP/heap.ms")
  "$SLUICE" "${JOB[@]}" --parallelism 2 --output "$d/out/" --checkpoint-dir "$d/ck" \
    --checkpoint-interval 100ms -D sink.rolling-policy.file-size=16kb \
    -D restart-strategy.type=fixed-delay -D restart-strategy.fixed-delay.attempts=1000 \
    -D restart-strategy.fixed-delay.delay=0 >/dev/null 2>"$d/log" &
  local sup=$!
  while [ $kills -lt "$KILLS" ] && kill -0 $sup 2>/dev/null; do
    ms=$((T / 200 + RANDOM % (T / 40 + 1)))
    sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
    child=$(pgrep -P $sup | head -1)
    [ -n "$child" ] && kill -9 "$child" 2>/dev/null && kills=$((kills + 1))
  done
  wait $sup || { echo "  $name: the supervised job failed" >&2; tail -5 "$d/log" >&2; return 1; }
  local restarts
  restarts=$(grep -c 'the job crashed: killed by signal 9' "$d/log")
  echo "  $name: $kills kills of the child, $restarts restarts by the supervisor"
  [ $kills -ge "$KILLS" ] || { echo "  $name: the job finished after $kills kills" >&2; return 1; }
  [ "$restarts" -eq $kills ] || { echo "  $name: $kills kills but $restarts restarts" >&2; return 1; }
  same_as_ref "$d/out" "$input"
}

check "heap backend, 2 M records: SIGKILLs, then the committed output equals a crash-free run" \
  crash_loop heap big
if [ "${SL_WITH_ROCKSDB:-ON}" = ON ]; then
  check "RocksDB backend, 600 k records: the same" crash_loop rocksdb small -D state.backend.type=rocksdb
else
  echo "skip: RocksDB backend (built with -DSLUICE_WITH_ROCKSDB=OFF)"
fi
check "supervisor: kills of the child, restarts by itself, same committed output" \
  supervised supervised big
finish
