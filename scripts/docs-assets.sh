#!/usr/bin/env bash
# Installs the npm packages of docs/api-ui at the versions its package-lock.json pins:
# Swagger UI and Redoc for the server's /docs and /redoc pages, and playwright-core for
# their headless Chromium test. Skipped when that lock is what is installed already.
set -euo pipefail
cd "$(dirname "$0")/../docs/api-ui"

stamp=node_modules/.testino-installed-lock
if [[ -f $stamp ]] && cmp -s package-lock.json "$stamp"; then
  echo "docs-assets: docs/api-ui/node_modules is up to date"
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"
echo "docs-assets: installed docs/api-ui/node_modules"
