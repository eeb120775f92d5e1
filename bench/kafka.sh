#!/usr/bin/env bash
# kafka.sh -- records/s of a Kafka source -> map (upper) -> Kafka sink job
# on librdkafka's mock cluster (`sluice kafka-mock`, 3 brokers, 4
# partitions): N lines produced with kcat, then a bounded read of all of
# them written to another topic, timed end to end; kcat counts what
# arrived.  The mock cluster is not a real broker (no disk, no network, no
# replication): the figure says what sluice's connectors cost, not what a
# Kafka cluster delivers.
#
# (Counting with kcat against the mock is approximate -- it reads back a few %
# fewer messages at random -- so the figures are the job's own counts; keep
# N <= 300 000.)
#
#   bench/kafka.sh [--sluice PATH] [--records N] [--parallelism P] [--delivery none|at-least-once|exactly-once]
set -euo pipefail
SLUICE=${SLUICE:-./build-release/sluice}
N=200000
P=2
DELIVERY=at-least-once
while [ $# -gt 0 ]; do
  case $1 in
    --sluice) SLUICE=$2; shift 2 ;;
    --records) N=$2; shift 2 ;;
    --parallelism) P=$2; shift 2 ;;
    --delivery) DELIVERY=$2; shift 2 ;;
    *) echo "usage: $0 [--sluice PATH] [--records N] [--parallelism P] [--delivery G]" >&2; exit 2 ;;
  esac
done
command -v kcat >/dev/null || { echo "$0: kcat is not installed" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'kill $mock 2>/dev/null; rm -rf "$tmp"' EXIT
"$SLUICE" kafka-mock --brokers 3 --topic in:4 --topic out:4 >"$tmp/mock" 2>/dev/null &
mock=$!
for _ in $(seq 100); do [ -s "$tmp/mock" ] && break; sleep 0.05; done
B=$(head -1 "$tmp/mock")
seq -f 'line %.0f of the kafka benchmark, some words to carry' 1 "$N" >"$tmp/lines"
kcat -P -b "$B" -t in -X queue.buffering.max.messages=2000000 -l "$tmp/lines"
have=$(kcat -C -b "$B" -t in -e -q 2>/dev/null | wc -l)
# (kcat's count against the mock varies by a few %: the job's own counts are the figures)
N=$have
extra=""
[ "$DELIVERY" = exactly-once ] && extra="&sink.transactional-id-prefix=bench"
ckpt=""
[ "$DELIVERY" != none ] && ckpt="--checkpoint-dir $tmp/ck --checkpoint-interval 1s"
t0=$(date +%s.%N)
"$SLUICE" run upper --input "kafka://$B/in?scan.startup.mode=earliest-offset&scan.bounded.mode=latest-offset" \
  --output "kafka://$B/out?sink.delivery-guarantee=$DELIVERY$extra" -p "$P" $ckpt \
  -D rest.enabled=false 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
t1=$(date +%s.%N)
got=$(kcat -C -b "$B" -t out -e -q 2>/dev/null | wc -l)
out=$(grep -o '[0-9]* out,' "$tmp/err" | head -1 | tr -dc 0-9)
awk -v n="$N" -v out="$out" -v got="$got" -v t0="$t0" -v t1="$t1" -v p="$P" -v d="$DELIVERY" 'BEGIN {
  printf "kafka upper: %d records in, %d to the sink, %d read back, P=%d, delivery %s, %.2f s, %.0f records/s\n",
         n, out, got, p, d, t1 - t0, n / (t1 - t0) }'
