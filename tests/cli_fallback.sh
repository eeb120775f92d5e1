#!/usr/bin/env bash
# Restoring from an older checkpoint into the same output directory leaves
# exactly the output of that checkpoint, so a run resumed from it ends with
# the output of a clean run (issue 10, item 2: the part files later
# checkpoints had committed used to stay, and their lines came again):
#   - a damaged newest checkpoint (_metadata, then an op-*.meta): --restore
#     latest falls back to the one before it;
#   - --restore PATH of the first checkpoint, at another parallelism;
#   - --restore PATH of a savepoint taken early in a run that then ended.
# Lines are compared sorted (the order across part files differs).
. "$(dirname "$0")/lib_cli.sh"
# 2 M lines `ts,key,value` (1 M in the sanitizer builds), 10 keys
N=2000000
[ -n "${SL_TEST_SMALL:-}" ] && N=1000000
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++) printf "%d,k%d,%d\n", i, i % 10, i % 7 }' >"$TMP/ev.csv"
J=(run window-agg --input "$TMP/ev.csv" --window tumbling:100 -D sink.rolling-policy.file-size=64kb)
CK=(--checkpoint-dir "$TMP/ck" --checkpoint-interval 10ms -D state.checkpoints.num-retained=1000)
"$SLUICE" "${J[@]}" --parallelism 2 --output "$TMP/ref/" 2>/dev/null
LC_ALL=C sort "$TMP"/ref/part-* >"$TMP/ref.sorted"
# N / 100 windows of 100 ms x 10 keys
check "reference: $((N / 10)) window results" test "$(wc -l <"$TMP/ref.sorted")" -eq $((N / 10))
same_as_ref() { # same_as_ref DIR: sorted lines of DIR's part files equal the reference
  ! ls "$1"/.part-* >/dev/null 2>&1 && cmp -s <(LC_ALL=C sort "$1"/part-*) "$TMP/ref.sorted"
}
ids() { # ids of the complete checkpoints (with _metadata), ascending
  for d in "$TMP"/ck/chk-*/_metadata; do d=${d%/_metadata}; echo "${d##*/chk-}"; done | sort -n
}
newest() { echo "$TMP/ck/chk-$(ids | tail -1)"; }
flip() { # flip FILE OFFSET: flips the lowest bit of the byte at OFFSET
  local b
  b=$(od -A n -t u1 -j "$2" -N 1 "$1" | tr -d ' ')
  printf "\\$(printf %03o $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc 2>/dev/null
}

"$SLUICE" "${J[@]}" "${CK[@]}" --parallelism 2 --output "$TMP/out/" 2>/dev/null
check "checkpointed run: exit 0" test $? -eq 0
check "checkpointed run: output of the clean run" same_as_ref "$TMP/out"
n=$(ids | wc -l)
check "checkpointed run: several checkpoints ($n)" test "$n" -ge 3
first="$TMP/ck/chk-$(ids | head -1)"

# newest damaged (_metadata): falls back to the previous one
flip "$(newest)/_metadata" 30
"$SLUICE" "${J[@]}" "${CK[@]}" --parallelism 2 --output "$TMP/out/" --restore latest 2>"$TMP/err1"
check "fallback (_metadata): exit 0" test $? -eq 0
check "fallback (_metadata): skipped the damaged one" contains "$TMP/err1" "skipping checkpoint"
check "fallback (_metadata): restored an older one" contains "$TMP/err1" "restored checkpoint"
check "fallback (_metadata): output of the clean run" same_as_ref "$TMP/out"

# newest damaged (a sink's op-*.meta): falls back again, at parallelism 3
f=$(ls "$(newest)"/op-*.meta | tail -1)
flip "$f" 14
"$SLUICE" "${J[@]}" "${CK[@]}" --parallelism 3 --output "$TMP/out/" --restore latest 2>"$TMP/err2"
check "fallback (op meta): exit 0" test $? -eq 0
check "fallback (op meta): the damaged file is named" contains "$TMP/err2" "$(basename "$f")"
check "fallback (op meta): output of the clean run" same_as_ref "$TMP/out"

# an explicit older checkpoint, at parallelism 1
"$SLUICE" "${J[@]}" "${CK[@]}" --parallelism 1 --output "$TMP/out/" --restore "$first" 2>"$TMP/err3"
check "older PATH: exit 0" test $? -eq 0
check "older PATH: restored it" contains "$TMP/err3" "from '$first' (parallelism 2 -> 1)"
check "older PATH: output of the clean run" same_as_ref "$TMP/out"

# a savepoint: requested before the job starts, so the job takes it at its
# first look (within 100 ms), long before it ends; the job runs to the end
mkdir -p "$TMP/spck"
"$SLUICE" savepoint "$TMP/spck" --timeout 120s >"$TMP/sp-path" 2>"$TMP/sp-err" &
sp_pid=$!
for _ in $(seq 200); do [ -e "$TMP/spck/_savepoint-request" ] && break; sleep 0.05; done
"$SLUICE" "${J[@]}" --checkpoint-dir "$TMP/spck" --checkpoint-interval 1h --parallelism 2 \
  --output "$TMP/sp-out/" 2>/dev/null
check "savepoint run: exit 0" test $? -eq 0
wait "$sp_pid"
check "savepoint taken" test $? -eq 0
sp=$(cat "$TMP/sp-path")
check "savepoint run: output of the clean run" same_as_ref "$TMP/sp-out"
"$SLUICE" "${J[@]}" --checkpoint-dir "$TMP/spck" --checkpoint-interval 1h --parallelism 3 \
  --output "$TMP/sp-out/" --restore "$sp" 2>"$TMP/err4"
check "savepoint restore: exit 0" test $? -eq 0
check "savepoint restore: restored it" contains "$TMP/err4" "restored checkpoint"
check "savepoint restore: output of the clean run" same_as_ref "$TMP/sp-out"
finish
