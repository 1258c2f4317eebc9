#!/usr/bin/env bash
# Fails when a tracked file names a path outside the checkout: every file that a test, a
# benchmark, a fuzzer or a script reads must live in the repository. (.ci/run also runs the
# whole suite from a clone in an empty folder, which catches what a grep cannot.)
set -euo pipefail
cd "$(dirname "$0")/.."
# ../shared is where the project's steering material sits beside our own checkouts; a
# PROJECT_SOURCE_DIR/.. or CMAKE_SOURCE_DIR/.. in CMake climbs out of the source tree.
pattern='\.\./shared|(PROJECT|CMAKE)_SOURCE_DIR\}/\.\.'
if hits=$(git ls-files -z | grep -zv '^scripts/check-self-contained.sh$' |
          xargs -0 grep -nIE "$pattern" -- 2>/dev/null); then
  echo "self-contained: these lines point outside the repository:" >&2
  echo "$hits" >&2
  exit 1
fi
echo "self-contained: no tracked file points outside the repository"
