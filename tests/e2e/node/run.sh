#!/usr/bin/env bash
# End-to-end test with the official OpenAI Node SDK against a real `retouch serve`.
# Installs node_modules from package-lock.json when missing or stale; needs RETOUCH_BIN
# (defaults to the workspace debug build). Extra arguments go to `node --test`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$here"

export RETOUCH_BIN="${RETOUCH_BIN:-$root/target/debug/retouch}"
if [[ ! -x "$RETOUCH_BIN" ]]; then
  echo "e2e/node: RETOUCH_BIN=$RETOUCH_BIN is not an executable; build it with 'cargo build -p retouch'" >&2
  exit 2
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "e2e/node: node and npm are required" >&2
  exit 2
fi

# npm ci installs exactly the lock file; skip it when node_modules was made from this lock file.
stamp="node_modules/.retouch-lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "e2e/node: installing test dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi

node -p '`e2e/node: openai ${JSON.parse(require("fs").readFileSync("node_modules/openai/package.json")).version}, node ${process.version}`'
exec node --test --test-reporter=spec "$@" test/
