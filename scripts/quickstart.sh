#!/usr/bin/env bash
# One command for a new user: install dependencies, build the library (shared
# and static) and the CLI -- everything `cmake --install build --prefix P`
# installs -- and run the built-in example jobs on the sample data in data/.
# The tests are not built here (./scripts/test.sh builds and runs them).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== dependencies (scripts/deps.sh)"
./scripts/deps.sh
echo "== configure: cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== build libsluice.so, libsluice.a and the sluice CLI"
cmake --build build -j"$(nproc)" --target sluice_shared sluice_static sluice
# the Python package's extension (built when python3-dev is there)
py=0
if cmake --build build --target help | grep sluice_python >/dev/null; then
  cmake --build build -j"$(nproc)" --target sluice_python
  py=1
fi
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
if [ "$py" = 1 ]; then
  echo "== python3 examples/python/seed_example.py (in out/python/, with PYTHONPATH=python SLUICE_LIBRARY=build/libsluice.so)"
  mkdir -p out/python && cp data/input.txt out/python/input.txt
  (cd out/python && PYTHONPATH="$OLDPWD/python" SLUICE_LIBRARY="$OLDPWD/build/libsluice.so" \
     python3 "$OLDPWD/examples/python/seed_example.py")
  head -n 3 out/python/output.txt
fi
echo '== done. Next: cmake --install build --prefix "$HOME/.local/sluice" (README: "Build your own job")'
