#!/usr/bin/env bash
# A new user's first hour with the CLI: every command's --help exits 0 and
# names its options; `sluice run` alone says a job name is missing;
# Flink's -p / -s, --opt=value, durations like "10 seconds", a repeated
# flag refused, a mistyped key answered with a suggestion, --conf
# config.yaml; one summary line per job; plain CSV on stdout at P=2.
. "$(dirname "$0")/lib_cli.sh"

for c in "--help" "run --help" "run upper --help" "run wordcount --help" "run window-agg --help" \
  "bench --help" "bench pipeline --help" "bench state --help" "bench window --help" \
  "bench checkpoint --help" "bench nexmark --help" "bench ysb --help" "checkpoint --help" \
  "checkpoint inspect --help" "savepoint --help" "conf --help"; do
  # shellcheck disable=SC2086
  "$SLUICE" $c >"$TMP/help" 2>&1
  check "sluice $c: exit 0 (got $?)" test $? -eq 0
  check "sluice $c: says usage" contains "$TMP/help" "usage"
done
"$SLUICE" run window-agg --help >"$TMP/help" 2>&1
check "window-agg --help lists --window" contains "$TMP/help" "--window SPEC"
check "window-agg --help lists -D" contains "$TMP/help" "-D key=value"

"$SLUICE" run >"$TMP/out" 2>"$TMP/err"
check "sluice run alone: exit 2 (got $?)" test $? -eq 2
check "sluice run alone: missing job name" contains "$TMP/err" "missing job name (jobs: upper, wordcount, window-agg)"

printf '1,a,1\n2,b,2\n1500,a,3\n2500,b,4\n' >"$TMP/in.csv"
# Flink's short flags, --opt=value, a duration with a space and a long unit
"$SLUICE" run window-agg --input="$TMP/in.csv" --window tumbling:1000 -p 2 \
  --out-of-orderness "10 milliseconds" >"$TMP/out" 2>"$TMP/err"
check "short flags: exit 0 (got $?)" test $? -eq 0
check "stdout at P=2 is plain CSV (no subtask prefixes)" cmp -s <(LC_ALL=C sort "$TMP/out") \
  <(printf '0,1000,a,1,1,1,1\n0,1000,b,1,2,2,2\n1000,2000,a,1,3,3,3\n2000,3000,b,1,4,4,4\n')
check "one summary line" test "$(grep -c 'window-agg: summary: 4 records in, 4 out, 0 dead letters, 0 late records dropped, 0 checkpoints, 0 restarts' "$TMP/err")" -eq 1

"$SLUICE" run upper --input "$TMP/in.csv" --input "$TMP/in.csv" >"$TMP/out" 2>"$TMP/err"
check "repeated flag: exit 2 (got $?)" test $? -eq 2
check "repeated flag: said" contains "$TMP/err" "--input given twice"

"$SLUICE" run upper --input "$TMP/in.csv" -D parallelism.defualt=2 >"$TMP/out" 2>"$TMP/err"
check "mistyped key: exit 2 (got $?)" test $? -eq 2
check "mistyped key: a suggestion" contains "$TMP/err" "did you mean 'parallelism.default'?"

"$SLUICE" run upper --input "$TMP/in.csv" -D execution.buffer-timeout=5fortnights >"$TMP/out" 2>"$TMP/err"
check "bad duration: exit 2 (got $?)" test $? -eq 2
check "bad duration: lists the units" contains "$TMP/err" "s|sec|secs|second|seconds"

# --conf: a Flink-style config.yaml, nested keys flattened, -D wins
cat >"$TMP/config.yaml" <<'EOF'
parallelism:
  default: 3
pipeline:
  name: nightly
execution:
  buffer-timeout: 20 ms
EOF
"$SLUICE" run upper --input "$TMP/in.csv" --conf "$TMP/config.yaml" -D parallelism.default=1 \
  >"$TMP/out" 2>"$TMP/err"
check "--conf: exit 0 (got $?)" test $? -eq 0
check "--conf: pipeline.name names the job in its summary" contains "$TMP/err" "nightly: summary: 4 records in"
check "--conf, then -D parallelism 1: output in order" cmp -s "$TMP/out" <(tr 'a-z' 'A-Z' <"$TMP/in.csv")
printf 'parallelism:\n  defualt: 3\n' >"$TMP/bad.yaml"
"$SLUICE" run upper --input "$TMP/in.csv" --conf "$TMP/bad.yaml" >"$TMP/out" 2>"$TMP/err"
check "--conf with a typo: exit 2 (got $?)" test $? -eq 2
check "--conf with a typo: file, line and suggestion" contains "$TMP/err" "bad.yaml:2: unknown configuration key 'parallelism.defualt': did you mean 'parallelism.default'?"
finish
