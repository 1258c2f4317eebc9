#!/usr/bin/env bash
# Installs what the build, the tests and the benchmarks need from Debian 12's packages,
# skipping what is already installed, then the npm packages of the API docs pages
# (scripts/docs-assets.sh). Run as root or with sudo available.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache git curl openssl
  libpistache-dev rapidjson-dev libyaml-cpp-dev libboost-dev libcurl4-openssl-dev
  libssl-dev libhiredis-dev libevent-dev libpq-dev libphonenumber-dev libjwt-dev libgtest-dev
  redis-server redis-sentinel postgresql wrk python3 python3-yaml python3-jwt python3-cryptography valgrind
  prometheus python3-matplotlib
  clang clang-format libfuzzer-14-dev
  nodejs
  chromium
)
# prometheus brings promtool, which checks and unit-tests deploy/prometheus's alert rules
# (tests/deploy); the render of the dashboard's pictures (deploy/grafana/render.py) runs its
# prometheus server on loopback and draws with python3-matplotlib.
# Node.js runs Stoplight Prism (the Twilio contract test) and, with Chromium, the docs pages'
# browser test (tests/browser). Some Node.js builds bring npm themselves and conflict with
# Debian's npm package: ask for it only when it is missing.
if ! command -v npm >/dev/null 2>&1; then packages+=(npm); fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages are installed"
else
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Swagger UI and Redoc for /docs and /redoc (and playwright-core for their test).
"$(dirname "$0")/docs-assets.sh"
