#!/usr/bin/env bash
# One command for a new user: install dependencies, build, and run the two
# built-in example jobs on the sample data in data/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target sluice >/dev/null
mkdir -p out
echo "== sluice run upper --input data/input.txt --output out/upper.txt"
./build/sluice run upper --input data/input.txt --output out/upper.txt
head -n 5 out/upper.txt
echo "== sluice run wordcount --input data/input.txt --output out/wordcount.txt --parallelism 4"
./build/sluice run wordcount --input data/input.txt --output out/wordcount.txt --parallelism 4
# the last line of each word is its total
awk -F'\t' '{c[$1]=$2} END {for (w in c) print c[w] "\t" w}' out/wordcount.txt | sort -rn | head -n 5
echo "== sluice run window-agg --input data/events.csv --window tumbling:1s ..."
./build/sluice run window-agg --input data/events.csv --window tumbling:1s \
  --out-of-orderness 500ms --watermark-interval 0 --parallelism 1 \
  --late-output out/late.csv --dead-letter out/bad.txt
echo "late: $(cat out/late.csv)"
