#!/usr/bin/env bash
# Records/s of a Python map, a Python keyed reduce and a Python event-time
# window job against the same jobs in C (`sluice run upper`, `sluice run
# wordcount`, `sluice run window-agg --window tumbling:10s`), at P=1 and P=2.
#   [JOBS="map reduce window"] bench/python.sh [BUILD_DIR] [LINES]   (default build, 1000000 lines)
# Input: LINES lines of 5 words from a vocabulary of 10000 (word count: one
# rolling count out per word); for the window job LINES CSV lines
# `ms,key,value` (100 keys, a millisecond apart: 100 records per key and
# 10 s window); the C and Python outputs are checked equal.  Each figure is the job's own time (read,
# process, write the output file), the best of 3 runs.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
lines=${2:-1000000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp/in.txt" "$lines" "$tmp/win.csv" <<'PY'
import random, sys
random.seed(1)
with open(sys.argv[1], "w") as f:
    for _ in range(int(sys.argv[2])):
        f.write(" ".join("w%d" % random.randrange(10000) for _ in range(5)) + "\n")
with open(sys.argv[3], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write("%d,k%d,%d\n" % (i, random.randrange(100), random.randrange(1000)))
PY
export PYTHONPATH=$PWD/python SLUICE_LIBRARY=$PWD/$build/libsluice.so
best() { sort -t, -k2 -g | tail -1; }
for p in 1 2; do
  for job in ${JOBS:-map reduce window}; do
    cjob=upper; in=$tmp/in.txt; extra=()
    [ "$job" = reduce ] && cjob=wordcount
    [ "$job" = window ] && { cjob=window-agg; in=$tmp/win.csv; extra=(--window tumbling:10s); }
    c=$(for i in 1 2 3; do "$build/sluice" run "$cjob" --input "$in" --output "$tmp/c.txt" "${extra[@]}" \
          --parallelism "$p" -D rest.enabled=false 2>&1 | sed -n 's/.*, \([0-9.]*\) records\/s.*/x,\1/p'; done | best | cut -d, -f2)
    py=$(for i in 1 2 3; do python3 bench/python_jobs.py "$job" "$in" "$tmp/py.txt" "$p" |
          sed -n 's/.*, \([0-9.]*\) records\/s.*/x,\1/p'; done | best | cut -d, -f2)
    # the same output (as a multiset: subtasks interleave at P=2)
    cmp -s <(sort "$tmp/c.txt") <(sort "$tmp/py.txt") || { echo "python.sh: $job P=$p: outputs differ" >&2; exit 1; }
    printf '%-7s P=%d  C %12.0f records/s   Python %10.0f records/s   (C/Python %.1fx)\n' \
      "$job" "$p" "$c" "$py" "$(echo "$c / $py" | bc -l)"
  done
done
