#!/usr/bin/env bash
# The benchmark, in one command: bench/run.sh
# Builds in Release (BENCH_BUILD_DIR, default <repo>/build-bench), then runs bench/bench.py:
# the floor server, testino-server with the memory store and (when its plugin is built)
# the Redis store, driven by wrk. Prints a Markdown table and writes it into
# bench/RESULTS.md. Logs and generated configs go to bench/results/ (git-ignored).
# Knobs: see the top of bench/bench.py (BENCH_DURATION, BENCH_REPS, ...).
# bench/run.sh --redis-latency runs bench/redis_latency.py instead: the Redis store with
# +0, +0.25 and +1 ms of added round trip (see bench/README.md).
# bench/run.sh --https runs bench/https_bench.py instead: the same server over HTTP and HTTPS.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export BENCH_BUILD_DIR=${BENCH_BUILD_DIR:-$repo/build-bench}

"$repo/scripts/setup.sh"  # wrk, redis-server, python3-yaml, the build tools

mkdir -p "$repo/bench/results"
build_log=$repo/bench/results/build.log
echo "bench: building Release in $BENCH_BUILD_DIR (log: $build_log)" >&2
if ! { cmake -S "$repo" -B "$BENCH_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
         -DTESTINO_BUILD_TESTS=OFF -DTESTINO_BUILD_BENCH=ON &&
       cmake --build "$BENCH_BUILD_DIR" -j2; } >"$build_log" 2>&1; then
  tail -n 40 "$build_log" >&2
  echo "bench/run.sh: the Release build failed (full log: $build_log)" >&2
  exit 1
fi

# Debian's interpreter: bench.py uses Debian's python3-yaml.
if [[ ${1:-} == --redis-latency ]]; then
  shift
  exec /usr/bin/python3 "$repo/bench/redis_latency.py" "$@"
fi
if [[ ${1:-} == --https ]]; then
  shift
  exec /usr/bin/python3 "$repo/bench/https_bench.py" "$@"
fi
exec /usr/bin/python3 "$repo/bench/bench.py" "$@"
