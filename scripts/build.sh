#!/usr/bin/env bash
# scripts/build.sh BUILD_DIR [cmake options...] -- [targets...]
# Configures (Ninja) and builds with every core; ccache is used when installed.
set -euo pipefail
build_dir=$1
shift
options=()
while (($#)) && [[ $1 != "--" ]]; do options+=("$1"); shift; done
[[ ${1:-} == "--" ]] && shift
targets=("$@")

cd "$(dirname "$0")/.."
# ccache hits across clones in other folders (CI builds a fresh clone each time).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake -S . -B "$build_dir" -G Ninja "${options[@]}" >/dev/null
if ((${#targets[@]})); then
  cmake --build "$build_dir" --parallel "$(nproc)" --target "${targets[@]}"
else
  cmake --build "$build_dir" --parallel "$(nproc)"
fi
