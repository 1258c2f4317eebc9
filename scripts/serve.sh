#!/usr/bin/env bash
# Quick start: install what is missing, build in Release, serve config/default.yaml
# (memory store, console SMS) on port 8080. Extra arguments go to testino-server.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh build -DCMAKE_BUILD_TYPE=Release -- testino-server testino_plugins

# The server refuses to start without a token secret. For a first run on a developer's
# machine, make one and keep it in .env (git-ignored), where the server reads it.
if [[ -z ${TOKEN_SECRET:-} ]] && ! grep -qs '^TOKEN_SECRET=' .env; then
  umask 077
  echo "TOKEN_SECRET=$(openssl rand -hex 32)" >>.env
  echo "serve: wrote a new random TOKEN_SECRET to .env (keep it secret; set your own in production)"
fi

exec build/bin/testino-server --config config/default.yaml "$@"
