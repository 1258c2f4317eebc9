#!/bin/sh
# promtool, found when the test runs: its absence fails the test (scripts/setup.sh installs
# Debian's prometheus package, which brings it) instead of skipping it.
if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool not found: install Debian's prometheus package (scripts/setup.sh)" >&2
  exit 1
fi
exec promtool "$@"
