#!/usr/bin/env bash
# postgres_cdc.sh -- rows/s of the PostgreSQL CDC source (scan.mode=cdc) on
# the private server of tests/pg_server.sh (local, fsync=off):
#   1. a job makes the slot (an empty table's snapshot), takes checkpoints
#      into a fresh directory and is stopped;
#   2. N rows are inserted in transactions of R rows (then, with
#      --updates, each row is updated once more: 2N changes) while no job
#      runs, so the changes wait in the slot's WAL;
#   3. the job is restored (`--restore latest`) and timed from its start
#      until every change (an insert's or update's line) is on its stdout:
#      the rate of decoding (the server's walsender), streaming and the
#      job (`upper`, one line per change), checkpoints every second.
#
#   bench/postgres_cdc.sh [--sluice PATH] [--rows N] [--txn-rows R] [--updates] [--parallelism P]
set -euo pipefail
SLUICE=${SLUICE:-./build-release/sluice}
N=1000000
R=10000
P=1
UPD=0
while [ $# -gt 0 ]; do
  case $1 in
    --sluice) SLUICE=$2; shift 2 ;;
    --rows) N=$2; shift 2 ;;
    --txn-rows) R=$2; shift 2 ;;
    --updates) UPD=1; shift ;;
    --parallelism) P=$2; shift 2 ;;
    *) echo "usage: $0 [--sluice PATH] [--rows N] [--txn-rows R] [--updates] [--parallelism P]" >&2; exit 2 ;;
  esac
done
SLUICE=$(realpath "$SLUICE")
cd "$(dirname "$0")/.."
set +u
. tests/pg_server.sh
set -u
pg_start
tmp=$(mktemp -d)
trap 'pg_stop; rm -rf "$tmp"' EXIT
ms_now() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
URI="$PG_URI?table-name=cdc_bench&scan.mode=cdc&slot.name=cdc_bench"
JOB=(run upper --input "$URI" -p "$P" --checkpoint-dir "$tmp/ck" --checkpoint-interval 1s
  --restore latest -D rest.enabled=false)
PSQL -c "CREATE TABLE cdc_bench (id bigint PRIMARY KEY, k text, v numeric)"

# 1. the slot, and a checkpoint past the (empty) snapshot
"$SLUICE" "${JOB[@]}" >/dev/null 2>"$tmp/job1.log" &
job=$!
for _ in $(seq 300); do
  [ "$(PSQL -c "SELECT count(*) FROM pg_replication_slots WHERE active")" = 1 ] &&
    ls "$tmp"/ck/chk-*/_metadata >/dev/null 2>&1 && break
  sleep 0.1
done
sleep 1.5 # a checkpoint with the stream started
kill -TERM $job
wait $job || true

# 2. the changes, waiting in the slot
t0=$(ms_now)
for ((a = 1; a <= N; a += R)); do
  b=$((a + R - 1 > N ? N : a + R - 1))
  echo "INSERT INTO cdc_bench SELECT g, 'k' || (g % 100), g * 0.01 FROM generate_series($a, $b) g;"
done | PSQL
if [ $UPD = 1 ]; then
  for ((a = 1; a <= N; a += R)); do
    b=$((a + R - 1 > N ? N : a + R - 1))
    echo "UPDATE cdc_bench SET v = v + 1 WHERE id BETWEEN $a AND $b;"
  done | PSQL
fi
t1=$(ms_now)
want=$((N * (1 + UPD)))
echo "changes made: $want in $((t1 - t0)) ms (the server's time, not measured below)"

# 3. the job, restored: until every change is out
t0=$(ms_now)
"$SLUICE" "${JOB[@]}" >"$tmp/out.txt" 2>"$tmp/job2.log" &
job=$!
while [ "$(wc -l <"$tmp/out.txt")" -lt $want ]; do
  kill -0 $job 2>/dev/null || { echo "the job ended:" >&2; tail -5 "$tmp/job2.log" >&2; exit 1; }
  sleep 0.02
done
t1=$(ms_now)
cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' /proc/$job/stat)
kill -TERM $job
wait $job || true
ms=$((t1 - t0))
[ $ms -gt 0 ] || ms=1
echo "cdc: $want changes (rows of $R per transaction, P=$P) in $ms ms = $((want * 1000 / ms)) rows/s" \
  "(sluice's CPU: $cpu ms; the rest is the server's walsender decoding)"
