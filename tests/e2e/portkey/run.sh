#!/usr/bin/env bash
# The OpenAI and Portkey Python SDKs against a real `retouch serve`, routed to a mock OpenAI
# upstream (a small http.server in conftest.py) through x-portkey-custom-host. Builds its own
# venv with `openai`, `portkey-ai` and pytest; needs RETOUCH_BIN (default: the debug build).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$here"
export RETOUCH_BIN="${RETOUCH_BIN:-$root/target/debug/retouch}"
if [[ ! -x "$RETOUCH_BIN" ]]; then
  echo "e2e/portkey: RETOUCH_BIN=$RETOUCH_BIN is not an executable; build it with 'cargo build -p retouch'" >&2
  exit 2
fi
if [[ ! -x .venv/bin/pytest ]]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check openai portkey-ai pytest
fi
exec .venv/bin/pytest -q "$@" test_portkey.py
