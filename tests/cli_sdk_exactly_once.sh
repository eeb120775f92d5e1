#!/usr/bin/env bash
# Exactly-once through the public connector SDK: tests/sdk_txn_job.c (a
# split source and a transactional sink written on <sluice_connector.h>
# alone, event-time windows between them) is killed with SIGKILL at random
# moments 5-8 times, restarted each time with restore=latest at a random
# parallelism (1-3), then run to its end: the committed output (the
# txn-* files) must equal the reference below exactly -- no window line
# missing, none twice -- and no pending transaction may be left.  Then a
# restore past a damaged newest checkpoint (fallback) puts the output back
# as of the one before and redoes the rest, still exact, and a finished
# job restored once more adds nothing.  A restore whose positions the
# source's seek() rejects fails with the source's own message.  First, the live mode checks
# that the source's per-split watermarks (and a split marked idle) fire
# every window before the input ends.  SL_SDK_SEED replays the random
# choices.
. "$(dirname "$0")/lib_cli.sh"
JOBBIN=${SL_SDK_JOB:?}
SEED=${SL_SDK_SEED:-$$}
RANDOM=$SEED
echo "seed $SEED (SL_SDK_SEED=$SEED replays the random choices)"

# N records at RATE records/ms: a run of ~3.3 s (~2.5 s in the sanitizer
# builds), so that kills land mid-run.
N=200000 RATE=60
[ -n "${SL_TEST_SMALL:-}" ] && N=50000 RATE=20

# expected N: the windows' lines.  Record i has ts i, key k(i % 97) and
# value i; tumbling windows of 1000 ms: per window [w*1000, w*1000+1000)
# and key, the count and the sum of the indexes.  By hand: window [0,1000)
# key k0 holds 0, 97, ..., 970 (11 records, sum 97*55 = 5335); key k96
# holds 96, 193, ..., 969 (10, sum 10*96 + 97*45 = 5325); window
# [1000,2000) key k0 holds 1067 .. 1940 (97*11 .. 97*20: 10, sum 97*155 =
# 15035).
expected() {
  awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) { k = (int(i / 1000)) "," (i % 97); c[k]++; s[k] += i }
    for (k in c) { split(k, a, ","); printf "%d,%d,k%d,%d,%d\n", a[1] * 1000, a[1] * 1000 + 1000, a[2], c[k], s[k] } }' |
    LC_ALL=C sort
}
expected $N >"$TMP/want"
expected 20000 >"$TMP/want-live"
for l in 0,1000,k0,11,5335 0,1000,k96,10,5325 1000,2000,k0,10,15035; do
  grep -qx "$l" "$TMP/want" || { echo "reference lacks $l" >&2; exit 1; }
done
[ "$(wc -l <"$TMP/want")" -eq $((N / 1000 * 97)) ] || { echo "reference: wrong line count" >&2; exit 1; }

ms_now() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
sleep_ms() { sleep "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))"; }

# same DIR: the committed output of DIR equals the reference; nothing
# pending, nothing else in DIR
same() {
  LC_ALL=C sort "$1"/txn-* 2>/dev/null >"$1.sorted"
  if ! cmp -s "$1.sorted" "$TMP/want"; then
    echo "  $1: committed output differs from the reference (< got, > want):" >&2
    diff "$1.sorted" "$TMP/want" | head -10 >&2
    echo "  lines: got $(wc -l <"$1.sorted"), want $(wc -l <"$TMP/want");" \
      "duplicates: $(uniq -d "$1.sorted" | wc -l)" >&2
    return 1
  fi
  local other
  other=$(ls -A "$1" | grep -v '^txn-' | head -3)
  [ -z "$other" ] || { echo "  $1: left behind: $other" >&2; return 1; }
}

# live: windows fire before the end of input (the job never ends by itself)
live() {
  "$JOBBIN" live 20000 2 "$TMP/live" >"$TMP/live.log" 2>&1 || { cat "$TMP/live.log" >&2; return 1; }
  LC_ALL=C sort "$TMP/live"/live-* | cmp -s - "$TMP/want-live" ||
    { echo "  live: the window lines differ from the reference" >&2; return 1; }
}

# crash-free: a run without kills, which also times the job (T ms)
T=0
crash_free() {
  local t0
  t0=$(ms_now)
  "$JOBBIN" run $N $RATE 2 "$TMP/ref/out" "$TMP/ref/ck" "" 2>"$TMP/ref.log" ||
    { tail -5 "$TMP/ref.log" >&2; return 1; }
  T=$(($(ms_now) - t0))
  echo "  crash-free run: $T ms"
  same "$TMP/ref/out"
}

# kills: KILLS SIGKILLs at random moments, each run restored from the
# latest checkpoint at a random parallelism; then a run to the end.  A job
# that ends before its kills starts over in a fresh directory with shorter
# kills.
crash() {
  local d="$TMP/crash" KILLS=$((5 + RANDOM % 4)) kills runs rc attempt scale=1
  for attempt in 1 2 3; do
    rm -rf "$d" && mkdir -p "$d"
    kills=0 runs=0 rc=137
    while [ $kills -lt $KILLS ]; do
      runs=$((runs + 1))
      local p=$((1 + RANDOM % 3)) ms=$(((T / 25 + RANDOM % (T / 10 + 1)) / scale))
      {
        "$JOBBIN" run $N $RATE $p "$d/out" "$d/ck" latest >/dev/null 2>>"$d/log" &
        local pid=$!
        sleep_ms $ms
        kill -9 $pid
        wait $pid
      } 2>/dev/null
      rc=$?
      echo "run $runs: P=$p, killed after $ms ms: exit $rc" >>"$d/runs"
      [ $rc -eq 137 ] || break
      kills=$((kills + 1))
    done
    [ $kills -ge $KILLS ] && break
    [ $rc -eq 0 ] || { echo "  run $runs failed with exit $rc:" >&2; tail -5 "$d/log" >&2; return 1; }
    echo "  the job ended after $kills of $KILLS kills; starting over with shorter kills" >&2
    scale=$((scale * 2))
  done
  [ $kills -ge $KILLS ] || { echo "  no attempt got $KILLS kills" >&2; return 1; }
  local p=$((1 + RANDOM % 3))
  "$JOBBIN" run $N $RATE $p "$d/out" "$d/ck" latest >/dev/null 2>>"$d/log" ||
    { echo "  the last run (P=$p) failed:" >&2; tail -5 "$d/log" >&2; return 1; }
  local restores aborted
  restores=$(grep -c 'restored checkpoint' "$d/log")
  aborted=$(sed -n 's/.*, \([0-9]*\) pending aborted.*/\1/p' "$d/log" | awk '{s += $1} END {print s + 0}')
  echo "  $kills kills in $runs runs (attempt $attempt), then P=$p to the end: $restores restores," \
    "$aborted pending transactions aborted"
  [ "$restores" -ge 1 ] || { echo "  no run restored a checkpoint" >&2; return 1; }
  same "$d/out"
}

# again: the finished job restored once more adds nothing
again() {
  local d="$TMP/crash"
  "$JOBBIN" run $N $RATE 3 "$d/out" "$d/ck" latest >/dev/null 2>>"$d/log" ||
    { tail -5 "$d/log" >&2; return 1; }
  same "$d/out"
}

# fallback: the newest checkpoint damaged, restore=latest takes the one
# before: the sink withdraws what the newest one committed, the job redoes it
fallback() {
  local d="$TMP/crash" newest
  newest=$(ls -d "$d"/ck/chk-* | sed 's/.*chk-//' | sort -n | tail -1)
  printf 'X' | dd of="$d/ck/chk-$newest/_metadata" bs=1 seek=20 count=1 conv=notrunc 2>/dev/null
  : >"$d/log2"
  "$JOBBIN" run $N $RATE 2 "$d/out" "$d/ck" latest >/dev/null 2>>"$d/log2" ||
    { tail -5 "$d/log2" >&2; return 1; }
  grep -q "skipping checkpoint .*chk-$newest" "$d/log2" || { echo "  chk-$newest was not reported as skipped" >&2; return 1; }
  echo "  fallback past chk-$newest: $(grep -o '[0-9]* later commits withdrawn' "$d/log2")"
  same "$d/out"
}

# foreign: positions the source cannot take (a job of 1000 records restored
# from this one's checkpoint: every split is past its end) fail the restore
# with the source's own reason, the message its seek() gave sl_ctx_error
foreign() {
  local d="$TMP/foreign"
  rm -rf "$d" && cp -r "$TMP/crash" "$d"
  if "$JOBBIN" run 1000 0 2 "$d/out" "$d/ck" latest >/dev/null 2>"$d/err"; then
    echo "  the restore succeeded" >&2
    return 1
  fi
  contains "$d/err" "position not on its split or past its end"
}

check "live: per-split watermarks (and an idle split) fire every window before the input ends" live
check "a crash-free run commits exactly the reference" crash_free
[ "$T" -gt 0 ] || finish
check "SIGKILLs and restores at random parallelism: the committed output is exact" crash
check "fallback past a damaged checkpoint: the sink withdraws later commits, output exact" fallback
check "a finished job restored once more adds nothing" again
check "a restore from positions the source rejects fails with the source's message" foreign
finish
