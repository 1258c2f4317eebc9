#!/usr/bin/env bash
# The whole test suite: install what is missing, build in Release and run every test,
# then build again with AddressSanitizer + UndefinedBehaviorSanitizer and run it again,
# then fuzz the input parsers for a bounded time (fuzz/README.md has longer runs).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/check-self-contained.sh
scripts/setup.sh
scripts/format.sh --check
# Stoplight Prism for the Twilio contract test, at the versions its package-lock.json pins.
(cd plugins/sms_twilio/tests/contract && npm ci --no-audit --no-fund --loglevel=error)

export CTEST_OUTPUT_ON_FAILURE=1
# Two test programs at a time: integration tests start servers, and CI has two cores.
jobs=$(( $(nproc) < 2 ? 2 : $(nproc) ))

echo "=== Release build and tests"
scripts/build.sh build -DCMAKE_BUILD_TYPE=Release
ctest_log=$(mktemp)
ctest --test-dir build --parallel "$jobs" --timeout 300 | tee "$ctest_log"

echo "=== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
scripts/build.sh build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESTINO_SANITIZE=ON -DTESTINO_BUILD_BENCH=OFF
# intercept_tls_get_addr=0: GCC 12's runtime takes some dynamic TLS blocks (our dlopen'ed
# plugins have them) for a pre-2.25 glibc layout and reads past them, and LeakSanitizer's
# exit-time tracer then dies ("Tracer caught signal 11") after a test has passed.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:intercept_tls_get_addr=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/sanitizer/lsan.supp:print_suppressions=0
ctest --test-dir build-sanitize --parallel "$jobs" --timeout 600 | tee -a "$ctest_log"

echo "=== libFuzzer harnesses: a bounded run of each on a copy of its seed corpus"
fuzzers=(request_body phone config client_address)
# Harnesses with a reported, not yet fixed finding (fuzz/README.md, "Findings"): built, not
# run here, so the suite stays green until the fix; take a name out with its fix.
fuzz_paused=()
scripts/build.sh build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DTESTINO_BUILD_FUZZERS=ON \
  -DTESTINO_BUILD_TESTS=OFF -DTESTINO_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -- "${fuzzers[@]/%/_fuzzer}"
fuzz_work=$(mktemp -d)
trap 'rm -rf "$fuzz_work"' EXIT
for name in "${fuzzers[@]}"; do
  if [[ " ${fuzz_paused[*]} " == *" $name "* ]]; then
    echo "fuzz: ${name}_fuzzer paused (known finding, fuzz/README.md)"
    continue
  fi
  mkdir "$fuzz_work/$name"
  cp fuzz/corpus/"$name"/* "$fuzz_work/$name/"
  log="$fuzz_work/$name.log"
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     build-fuzz/bin/"${name}_fuzzer" -max_total_time=20 -timeout=5 -print_final_stats=1 \
       -dict=fuzz/dict/"$name".dict -artifact_prefix="$fuzz_work/$name-" "$fuzz_work/$name" \
       >"$log" 2>&1; then
    echo "fuzz: ${name}_fuzzer: $(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)"
  else
    tail -n 60 "$log"
    mkdir -p fuzz/crashes-found
    cp "$fuzz_work/$name"-* fuzz/crashes-found/ 2>/dev/null || true
    echo "fuzz: ${name}_fuzzer FAILED; the input is in fuzz/crashes-found/ (reproduce: build-fuzz/bin/${name}_fuzzer <file>)" >&2
    exit 1
  fi
done

# One closing line for both CTest runs (each must have passed to get here).
passed=0
for total in $(sed -n 's/.* tests failed out of \([0-9]*\)$/\1/p' "$ctest_log"); do
  passed=$((passed + total))
done
rm -f "$ctest_log"
# tests/browser's screenshot of /docs after its "Try it out" send-otp, one a build.
echo "screenshot: $PWD/build/test-artifacts/docs-try-it-out.png (and build-sanitize/test-artifacts/)"
echo "tests: $passed passed, 0 failed"
