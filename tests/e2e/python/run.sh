#!/usr/bin/env bash
# End-to-end tests with the official OpenAI Python SDK against a real `retouch serve`.
# Installs its own venv (.venv, gitignored) with the latest SDK on first run; later runs reuse
# it unless requirements.txt changed. Needs RETOUCH_BIN (defaults to the workspace debug build).
# Extra arguments go to pytest, e.g. `run.sh -k stream -x`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$here"

export RETOUCH_BIN="${RETOUCH_BIN:-$root/target/debug/retouch}"
if [[ ! -x "$RETOUCH_BIN" ]]; then
  echo "e2e/python: RETOUCH_BIN=$RETOUCH_BIN is not an executable; build it with 'cargo build -p retouch'" >&2
  exit 2
fi

python="${PYTHON:-python3}"
venv="$here/.venv"
stamp="$venv/.requirements.sha256"
want="$( (cat requirements.txt; "$python" --version) | sha256sum | cut -d' ' -f1)"

if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]] || ! "$venv/bin/python" -c "import openai, pytest, PIL, numpy, requests, pytest_timeout" 2>/dev/null; then
  echo "e2e/python: installing test dependencies into $venv" >&2
  rm -rf "$venv"
  if ! "$python" -m venv "$venv" 2>/dev/null; then
    # Debian/Ubuntu ship venv separately.
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      rm -rf "$venv"
      "$python" -m venv "$venv"
    else
      echo "e2e/python: '$python -m venv' failed; install python3-venv" >&2
      exit 2
    fi
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade -r requirements.txt
  echo "$want" >"$stamp"
fi

"$venv/bin/python" -c 'import openai; print(f"e2e/python: openai {openai.__version__}")'
exec "$venv/bin/python" -m pytest "$@"
