#!/usr/bin/env bash
# The whole test suite: install what is missing, build in Release and run every test,
# then build again with AddressSanitizer + UndefinedBehaviorSanitizer and run it again.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

export CTEST_OUTPUT_ON_FAILURE=1
# Two test programs at a time: integration tests start servers, and CI has two cores.
jobs=$(( $(nproc) < 2 ? 2 : $(nproc) ))

echo "=== Release build and tests"
scripts/build.sh build -DCMAKE_BUILD_TYPE=Release
ctest --test-dir build --parallel "$jobs" --timeout 300

echo "=== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
scripts/build.sh build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESTINO_SANITIZE=ON -DTESTINO_BUILD_BENCH=OFF
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/sanitizer/lsan.supp:print_suppressions=0
ctest --test-dir build-sanitize --parallel "$jobs" --timeout 600
