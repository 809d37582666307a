#!/usr/bin/env bash
# The playground in a real browser: installs Debian's Chromium if missing and the npm packages
# (playwright-core drives the system Chromium; no browser download), then runs the tests against
# the server binary in $RETOUCH_BIN (default: target/debug/retouch). Screenshots land in
# artifacts/playground/.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../../.. && pwd)

if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium
fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi

export RETOUCH_BIN="${RETOUCH_BIN:-$ROOT/target/debug/retouch}"
if [ ! -x "$RETOUCH_BIN" ]; then
  echo "RETOUCH_BIN=$RETOUCH_BIN is not an executable; build it with: cargo build -p retouch" >&2
  exit 1
fi

exec node --test --test-concurrency=1 --test-timeout=300000 "$@" playground.test.js
