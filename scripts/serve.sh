#!/usr/bin/env bash
# Quick start: install what is missing, build in Release, serve config/default.yaml
# (memory store, console SMS) on port 8080. Extra arguments go to testino-server.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh build -DCMAKE_BUILD_TYPE=Release -- testino-server testino_plugins

# The server refuses to start without a signing key and a code HMAC key. For a first run on
# a developer's machine, make them and name them in .env (git-ignored), where the server
# reads it. Production sets its own (README, "Token keys").
umask 077
if [[ -z ${TOKEN_PRIVATE_KEY_FILE:-}${TOKEN_PRIVATE_KEY:-} ]] && ! grep -qs '^TOKEN_PRIVATE_KEY' .env; then
  mkdir -p .dev-keys
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out .dev-keys/token-es256.pem 2>/dev/null
  echo "TOKEN_PRIVATE_KEY_FILE=.dev-keys/token-es256.pem" >>.env
  echo "serve: made a development ES256 signing key in .dev-keys/ and named it in .env"
fi
if [[ -z ${OTP_HMAC_SECRET:-} ]] && ! grep -qs '^OTP_HMAC_SECRET=' .env; then
  echo "OTP_HMAC_SECRET=$(openssl rand -hex 32)" >>.env
  echo "serve: wrote a new random OTP_HMAC_SECRET to .env (keep it secret; set your own in production)"
fi

exec build/bin/testino-server --config config/default.yaml "$@"
