#!/usr/bin/env bash
# The whole test suite: a normal build with every test (the dashboard
# bundled from web/ and opened in headless Chromium: web_dashboard), the
# same tests under ASan+UBSan, the runtime/job tests under TSan, and the
# fuzz suite (every corpus replayed, each libFuzzer harness run for a few
# seconds: see scripts/fuzz.sh).  Exits non-zero on any failure.  These builds have
# fault injection (SLUICE_FAULT, for cli_crash) compiled in; a release
# build of the CLI without it checks that it ignores SLUICE_FAULT
# (cli_fault_off), and a build without the RocksDB backend runs every test
# that does not need it (cli_no_rocksdb checks what it says when asked).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
jobs=$(nproc)

echo "== build (RelWithDebInfo) and test"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_FAULT_INJECTION=ON >/dev/null
cmake --build build -j"$jobs" >/dev/null
(cd build && ctest --output-on-failure -j"$jobs")

echo "== release CLI without fault injection"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-release -j"$jobs" --target sluice >/dev/null
(cd build-release && ctest --output-on-failure -R cli_fault_off)

echo "== build without RocksDB (-DSLUICE_WITH_ROCKSDB=OFF) and test"
cmake -S . -B build-norocks -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_WITH_ROCKSDB=OFF >/dev/null
cmake --build build-norocks -j"$jobs" >/dev/null
(cd build-norocks && ctest --output-on-failure -j"$jobs" -E '^cli_crash$')

echo "== ASan+UBSan build and test"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=address,undefined \
  -DSLUICE_BUILD_EXAMPLES=OFF -DSLUICE_FAULT_INJECTION=ON >/dev/null
cmake --build build-asan -j"$jobs" >/dev/null
(cd build-asan && SL_TEST_SMALL=1 ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$jobs")

# (not the Kafka tests: librdkafka starts its threads with C11 thrd_create,
# which TSan does not intercept -- they crash in TSan's allocator before any
# of our code runs; they run in the other builds)
echo "== TSan build and runtime tests"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=thread \
  -DCMAKE_C_COMPILER=clang -DSLUICE_BUILD_EXAMPLES=OFF -DSLUICE_FAULT_INJECTION=ON >/dev/null
cmake --build build-tsan -j"$jobs" >/dev/null
(cd build-tsan && SL_TEST_SMALL=1 TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/../tests/tsan.supp" ctest --output-on-failure -j"$jobs" -R 'test_jobs|test_units|test_batch_op|test_backpressure|test_state|test_window$|test_join|test_checkpoint|test_stop|test_log|source|sink|cli_rest|test_sql' -E 'kafka')

echo "== fuzz suite (clang, libFuzzer + ASan/UBSan): corpora replayed, each harness fuzzed ${SLUICE_FUZZ_TIME:-4}s"
./scripts/fuzz.sh
