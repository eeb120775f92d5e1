#!/usr/bin/env bash
# Checkpoints from the CLI: a continuous wordcount with --checkpoint-dir and
# --checkpoint-interval writes checkpoints; `sluice checkpoint inspect`
# lists them and verifies their checksums, and reports a damaged file;
# --restore latest resumes from the newest complete one.  Savepoints:
# `sluice savepoint DIR` asks a running job for one; after a SIGKILL the job
# resumes from it (at another parallelism) with exactly the output of a
# crash-free run, and the savepoint outlives the job.
. "$(dirname "$0")/lib_cli.sh"
mkdir -p "$TMP/in"
for i in $(seq 200); do echo "alpha beta gamma $i"; done >"$TMP/in/a.txt"
"$SLUICE" run wordcount --input "$TMP/in" --output "$TMP/wc.txt" --parallelism 2 \
  -D source.monitor-interval=20ms --checkpoint-dir "$TMP/ck" --checkpoint-interval 50ms \
  2>"$TMP/err1" &
pid=$!
for _ in $(seq 100); do ls "$TMP"/ck/chk-*/_metadata >/dev/null 2>&1 && break; sleep 0.05; done
sleep 0.3
kill -INT "$pid"
wait "$pid"
check "first run stopped by SIGINT (130)" test $? -eq 130
check "a complete checkpoint exists" bash -c "ls '$TMP'/ck/chk-*/_metadata >/dev/null"
"$SLUICE" checkpoint inspect "$TMP/ck" >"$TMP/inspect" 2>&1
check "inspect exit 0" test $? -eq 0
check "inspect verifies checksums" contains "$TMP/inspect" "checksums: ok"
check "inspect lists the count operator" contains "$TMP/inspect" "'count' (reduce)"
check "inspect shows keyed state" contains "$TMP/inspect" "keyed"
chk=$(ls -d "$TMP"/ck/chk-* | sort -t- -k2 -n | tail -1)
"$SLUICE" checkpoint inspect "$chk" >/dev/null 2>&1
check "inspect of a chk-<n> path" test $? -eq 0
# a bounded run cannot resume a continuous source: a clear error
"$SLUICE" run wordcount --input "$TMP/in" --output "$TMP/wc3.txt" --parallelism 1 \
  --checkpoint-dir "$TMP/ck" --restore latest 2>"$TMP/err3"
check "mode mismatch: exit 1" test $? -eq 1
check "mode mismatch: explained" contains "$TMP/err3" "cannot resume the source"
# a resumed run (same mode: continuous) says where it resumed from
"$SLUICE" run wordcount --input "$TMP/in" --output "$TMP/wc2.txt" --parallelism 1 \
  -D source.monitor-interval=20ms --checkpoint-dir "$TMP/ck" --restore latest 2>"$TMP/err2" &
pid=$!
for _ in $(seq 100); do grep -q "restored checkpoint" "$TMP/err2" 2>/dev/null && break; sleep 0.05; done
sleep 0.2
kill -INT "$pid"
wait "$pid"
check "resumed run stopped by SIGINT (130)" test $? -eq 130
check "resumed from a checkpoint (parallelism 2 -> 1)" contains "$TMP/err2" "restored checkpoint"
check "rescaled" contains "$TMP/err2" "(parallelism 2 -> 1)"
# damage: a flipped byte in the newest checkpoint
chk=$(ls -d "$TMP"/ck/chk-* | sort -t- -k2 -n | tail -1)
f=$(ls "$chk"/op-*.keyed | head -1)
printf '\xff' | dd of="$f" bs=1 seek=20 count=1 conv=notrunc 2>/dev/null
"$SLUICE" checkpoint inspect "$chk" >"$TMP/inspect2" 2>&1
check "damaged checkpoint: exit 1" test $? -eq 1
check "damaged checkpoint: the file is named" contains "$TMP/inspect2" "$(basename "$f")"
check "damaged checkpoint: says damaged" contains "$TMP/inspect2" "damaged"

# ---- savepoints -------------------------------------------------------------
# window-agg over 3 M lines (`ts,key,value`, 10 keys) in a monitored directory:
# a continuous job never ends by itself, so it is surely running when the
# savepoint is asked for, wherever in the file it then is.  The checkpoint
# interval is an hour, so only the savepoint covers anything: files the job
# committed are exactly what the savepoint pre-committed, and whatever it
# wrote afterwards is dropped when it resumes from there.  The file is one
# split: the subtasks without one would hold the watermark back forever (as
# in Flink), so the job marks an input idle after 1 s without records
# (--idle-timeout, Flink's withIdleness).
mkdir -p "$TMP/sp-in"
awk 'BEGIN { for (i = 0; i < 3000000; i++) printf "%d,k%d,%d\n", i, i % 10, i % 7 }' >"$TMP/sp-in/sp.csv"
SP=(run window-agg --input "$TMP/sp-in" --window tumbling:1000 -D sink.rolling-policy.file-size=4kb)
"$SLUICE" "${SP[@]}" --parallelism 2 --output "$TMP/sp-ref/" 2>/dev/null
# 3000 windows of 1000 ms x 10 keys
check "savepoint reference: 30000 window results" test "$(cat "$TMP"/sp-ref/part-* | wc -l)" -eq 30000
SPC=("${SP[@]}" -D source.monitor-interval=20ms --idle-timeout 1s --output "$TMP/sp-out/")
"$SLUICE" "${SPC[@]}" --parallelism 2 --checkpoint-dir "$TMP/spck" --checkpoint-interval 1h \
  2>"$TMP/sp-err" &
pid=$!
sleep 0.3
"$SLUICE" savepoint "$TMP/spck" --timeout 20s >"$TMP/sp-path" 2>"$TMP/sp-err2"
check "savepoint: exit 0" test $? -eq 0
sp=$(cat "$TMP/sp-path")
check "savepoint: a path under DIR/savepoints" contains "$TMP/sp-path" "$TMP/spck/savepoints/savepoint-"
check "savepoint: the job logged it" contains "$TMP/sp-err" "savepoint 1 written to"
kill -9 "$pid" 2>/dev/null
{ wait "$pid"; } 2>/dev/null
check "the continuous job was still running: killed (exit $?)" test $? -eq 137
"$SLUICE" checkpoint inspect "$sp" >"$TMP/sp-inspect" 2>&1
check "savepoint: inspect verifies it" test $? -eq 0
# resumed at parallelism 3, checkpointing every 100 ms, a part file rolling
# after 100 ms without writes.  A watermark is not part of the state (as in
# Flink), so a second file, read only by the resumed job, moves it on: one
# line at 3000000 ms makes it 2999999 and fires the last window of the
# first file, [2999000, 3000000), but not its own.  Once the committed
# output holds all 30000 windows, a stop (SIGTERM) ends the job.
echo "3000000,k0,0" >"$TMP/sp-in/sp2.csv"
"$SLUICE" "${SPC[@]}" --parallelism 3 --restore "$sp" --checkpoint-dir "$TMP/spck" \
  --checkpoint-interval 100ms -D sink.rolling-policy.inactivity-interval=100ms 2>"$TMP/sp-err3" &
pid=$!
for _ in $(seq 600); do
  [ "$(cat "$TMP"/sp-out/part-* 2>/dev/null | wc -l)" -ge 30000 ] && break
  sleep 0.1
done
kill -TERM "$pid"
wait "$pid"
check "resumed from the savepoint: stopped by SIGTERM (exit $?)" test $? -eq 130
check "resumed from the savepoint at parallelism 3" contains "$TMP/sp-err3" "(parallelism 2 -> 3)"
check "resumed from the savepoint: output equals the crash-free run" \
  cmp -s <(LC_ALL=C sort "$TMP"/sp-out/part-*) <(LC_ALL=C sort "$TMP"/sp-ref/part-*)
check "the savepoint outlives the job" test -f "$sp/_metadata"
"$SLUICE" savepoint "$TMP/spck" --timeout 300ms 2>"$TMP/sp-err4"
check "savepoint without a running job: exit 1" test $? -eq 1
check "savepoint without a running job: explained" contains "$TMP/sp-err4" "no job answered within 300 ms"
finish
