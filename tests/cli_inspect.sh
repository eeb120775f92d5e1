#!/usr/bin/env bash
# `sluice checkpoint inspect DIR` over a checkpoints directory holding three
# retained checkpoints: exit 0 and "checksums: ok" when all are intact; with
# the newest damaged, exit 1 naming the damaged file, and still say that a
# restore would use the previous one; with every one damaged, exit 1 and
# say that no checkpoint can be restored.  An in-flight directory (no
# _metadata yet) is listed as incomplete, not as damaged.
. "$(dirname "$0")/lib_cli.sh"
flip() { # flip FILE OFFSET: complement one byte
  local b
  b=$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')
  printf "\\$(printf %03o $((255 - b)))" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc 2>/dev/null
}
mkdir -p "$TMP/in"
for i in $(seq 200); do echo "alpha beta gamma $i"; done >"$TMP/in/a.txt"
"$SLUICE" run wordcount --input "$TMP/in" --output "$TMP/wc.txt" --parallelism 2 \
  -D source.monitor-interval=20ms -D state.checkpoints.num-retained=3 \
  --checkpoint-dir "$TMP/ck" --checkpoint-interval 50ms 2>"$TMP/err1" &
pid=$!
for _ in $(seq 200); do
  [ "$(ls -d "$TMP"/ck/chk-*/_metadata 2>/dev/null | wc -l)" -ge 3 ] && break
  sleep 0.05
done
kill -INT "$pid"
wait "$pid"
check "job stopped by SIGINT (130)" test $? -eq 130
# keep exactly the three complete checkpoints
for d in "$TMP"/ck/chk-*; do [ -f "$d/_metadata" ] || rm -rf "$d"; done
mapfile -t chks < <(ls -d "$TMP"/ck/chk-* | sort -t- -k2 -n)
check "three complete checkpoints retained" test "${#chks[@]}" -eq 3
newest=${chks[2]} middle=${chks[1]} oldest=${chks[0]}

"$SLUICE" checkpoint inspect "$TMP/ck" >"$TMP/ok.out" 2>&1
check "all intact: exit 0" test $? -eq 0
check "all intact: checksums ok" contains "$TMP/ok.out" "checksums: ok"
check "all intact: reports the newest" contains "$TMP/ok.out" "at $newest"

# an in-flight checkpoint (no _metadata) is not damage
mkdir "$TMP/ck/chk-999999"
"$SLUICE" checkpoint inspect "$TMP/ck" >"$TMP/inflight.out" 2>&1
check "in-flight directory: exit 0" test $? -eq 0
check "in-flight directory: listed as incomplete" contains "$TMP/inflight.out" "chk-999999: incomplete"
rmdir "$TMP/ck/chk-999999"

# damage the newest checkpoint: one byte of one keyed image and of a .meta
f=$(ls "$newest"/op-*.keyed | head -1)
flip "$f" 20
f2=$(ls "$newest"/op-*.meta | tail -1)
flip "$f2" 13
"$SLUICE" checkpoint inspect "$TMP/ck" >"$TMP/bad.out" 2>&1
check "newest damaged: exit 1" test $? -eq 1
check "newest damaged: names the file" contains "$TMP/bad.out" "$f"
check "newest damaged: names the second file" contains "$TMP/bad.out" "$f2"
check "newest damaged: says damaged" contains "$TMP/bad.out" "damaged"
check "newest damaged: a restore would use the previous one" \
  contains "$TMP/bad.out" "a restore would use $middle"

# damage the oldest too (its _metadata): both are named
m="$oldest/_metadata"
flip "$m" 14
"$SLUICE" checkpoint inspect "$TMP/ck" >"$TMP/bad2.out" 2>&1
check "two damaged: exit 1" test $? -eq 1
check "two damaged: names the newest's file" contains "$TMP/bad2.out" "$f"
check "two damaged: names the oldest's _metadata" contains "$TMP/bad2.out" "$m"
check "two damaged: 2 of 3 damaged" contains "$TMP/bad2.out" "2 of 3 retained checkpoints are damaged"
check "two damaged: the middle one is still the restore point" \
  contains "$TMP/bad2.out" "a restore would use $middle"

# and the middle one: nothing to restore
g=$(ls "$middle"/op-*.meta | head -1)
flip "$g" 13
"$SLUICE" checkpoint inspect "$TMP/ck" >"$TMP/bad3.out" 2>&1
check "all damaged: exit 1" test $? -eq 1
check "all damaged: names the middle's file" contains "$TMP/bad3.out" "$g"
check "all damaged: no restore possible" contains "$TMP/bad3.out" "no checkpoint in $TMP/ck can be restored"
finish
