#!/usr/bin/env bash
# instructions.sh -- instructions per record of a `sluice bench` job,
# noise-free: callgrind counts the instructions of a run at N1 and at N2
# records and prints (Ir(N2) - Ir(N1)) / (N2 - N1), which cancels start-up
# and tear-down.  Any machine gives the same figure for the same build.
#
#   bench/instructions.sh [--sluice PATH] [--n1 200000] [--n2 1000000] \
#       window --window tumbling --keys 1000 --parallelism 1
#
# The job's own count flag (--records, or --events for nexmark) is added
# by this script.  Prints one line:
#   instructions_per_record=X job="window --window tumbling ..." n1=.. n2=..
set -euo pipefail
SLUICE=${SLUICE:-./build-release/sluice}
N1=200000
N2=1000000
while [ $# -gt 0 ]; do
  case $1 in
    --sluice) SLUICE=$2; shift 2 ;;
    --n1) N1=$2; shift 2 ;;
    --n2) N2=$2; shift 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--sluice PATH] [--n1 N] [--n2 N] BENCH [ARGS...]" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "$0: valgrind is not installed" >&2; exit 2; }
count_flag=--records
[ "$1" = nexmark ] && count_flag=--events
ir() { # ir N: total instructions of the job at N records
  local out
  out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$SLUICE" bench "$@" 2>&1 >/dev/null) ||
    { echo "$out" >&2; exit 1; }
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' <<<"$out"
}
a=$(ir "$@" $count_flag "$N1")
b=$(ir "$@" $count_flag "$N2")
awk -v a="$a" -v b="$b" -v n1="$N1" -v n2="$N2" -v job="$*" \
  'BEGIN { printf "instructions_per_record=%.1f job=\"%s\" n1=%d n2=%d\n", (b - a) / (n2 - n1), job, n1, n2 }'
