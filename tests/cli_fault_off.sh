#!/usr/bin/env bash
# A build without -DSLUICE_FAULT_INJECTION=ON (a release build) ignores
# SLUICE_FAULT: a checkpointed job with a file sink, which a fault-injection
# build kills at its first checkpoint file write (ckpt-file:1) or its first
# commit rename (commit:1), runs to the end with the full output.  Only
# registered in builds without the option (tests/CMakeLists.txt).
. "$(dirname "$0")/lib_cli.sh"
# 3000 lines, ts 0..2999 ms, 3 keys: tumbling 1 s windows [0,1000),
# [1000,2000), [2000,3000) each hold all 3 keys: 9 result lines.
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "%d,k%d,1\n", i, i % 3 }' >"$TMP/in.csv"
for fault in ckpt-file:1 commit:1; do
  d="$TMP/${fault%:*}"
  SLUICE_FAULT=$fault "$SLUICE" run window-agg --input "$TMP/in.csv" --window tumbling:1s \
    --parallelism 1 --output "$d/out/" --checkpoint-dir "$d/ck" --checkpoint-interval 10ms \
    >/dev/null 2>"$d.err"
  check "SLUICE_FAULT=$fault ignored: exit 0" test $? -eq 0
  check "SLUICE_FAULT=$fault: no fault message" bash -c "! grep -q 'fault injection' '$d.err'"
  check "SLUICE_FAULT=$fault: 9 committed lines" test "$(cat "$d"/out/part-* | wc -l)" -eq 9
  check "SLUICE_FAULT=$fault: a checkpoint was written" bash -c "ls -d '$d'/ck/chk-* >/dev/null"
done
check "the binary does not read SLUICE_FAULT" bash -c "! grep -qa SLUICE_FAULT '$SLUICE'"
finish
