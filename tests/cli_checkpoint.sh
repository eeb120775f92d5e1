#!/usr/bin/env bash
# Checkpoints from the CLI: a continuous wordcount with --checkpoint-dir and
# --checkpoint-interval writes checkpoints; `sluice checkpoint inspect`
# lists them and verifies their checksums, and reports a damaged file;
# --restore latest resumes from the newest complete one.
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
finish
