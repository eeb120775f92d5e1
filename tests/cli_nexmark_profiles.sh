#!/usr/bin/env bash
# `sluice bench nexmark --profile flink-v1|flink-v2` sets what the published
# nexmark-flink suites run: V1 10 M events/s, V2 100 K events/s with a
# warm-up, both on 8 generator timelines with checkpoints every 3 min; an
# explicit flag still wins.  Checked by equality with the same run spelled
# out flag by flag (same results and checksum: the stream's timestamps and
# ids depend on the rate and the timelines), and by a different rate giving
# a different stream.
. "$(dirname "$0")/lib_cli.sh"
nx() { "$SLUICE" bench nexmark --query q0 -p 1 "$@" 2>"$TMP/err" | grep -o 'results=[0-9]* checksum=[0-9a-f]*'; }
field() { grep -o " $1=[^ ]*" "$TMP/line" | tr -d " "; }

v2=$(nx --profile flink-v2 --events 20000 --warmup-events 30000)
"$SLUICE" bench nexmark --query q0 -p 1 --profile flink-v2 --events 20000 --warmup-events 30000 \
  >"$TMP/line" 2>"$TMP/err"
check "v2: exit 0 (got $?)" test $? -eq 0
check "v2: the measured events" test "$(field events)" = "events=20000"
check "v2: the warm-up" test "$(field warmup_events)" = "warmup_events=30000"
check "v2: q0 passes every bid (46 of 50 events) through" test "$(field results)" = "results=46000"
check "v2: checkpoints on (every 3 min: the final one at least)" grep -q 'checkpoints=' "$TMP/line"
spelled=$(nx --rate 100000 --generators 8 --warmup-events 30000 --events 20000 --checkpoint-interval 3min)
check "v2 = rate 100 K/s, 8 timelines" test "$v2" = "$spelled"
other=$(nx --rate 100000 --generators 1 --warmup-events 30000 --events 20000)
check "one timeline is another stream" test "$v2" != "$other"

v1=$(nx --profile flink-v1 --events 50000)
spelled=$(nx --rate 10000000 --generators 8 --events 50000)
check "v1 = rate 10 M/s, 8 timelines" test "$v1" = "$spelled"
check "v1 and v2 differ" test "$v1" != "$v2"

"$SLUICE" bench nexmark --query q0 --profile flink-v3 >/dev/null 2>"$TMP/err"
check "unknown profile: exit 2 (got $?)" test $? -eq 2
check "unknown profile: named" contains "$TMP/err" "unknown profile 'flink-v3' (profiles: flink-v1, flink-v2)"
finish
