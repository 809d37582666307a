#!/usr/bin/env bash
# The gateway benchmark in one command: installs Portkey's gateway (npm) and LiteLLM's proxy
# (PyPI) under bench/gateway, builds the Rust driver (mock upstream + load generator) and a
# release retouch, checks the bench's own metrics, then measures every gateway (latency in
# interleaved rounds with all of them running; memory on a fresh start of each, one at a time)
# and rewrites docs/gateway-benchmark.md.
#
#   bench/gateway/run.sh                 full run (~10 min on 2 cores): writes
#                                        bench/gateway/results/full.json and docs/gateway-benchmark.md
#   bench/gateway/run.sh --quick         fewer requests, 8 in flight (~4 min): writes
#                                        bench/gateway/results/quick.{json,md}
#   bench/gateway/run.sh --report-only   rewrite the doc from the results JSON
#   bench/gateway/run.sh --only retouch,direct   measure only these (no doc; results/<mode>-only-*.json)
#   RETOUCH_BIN=path RETOUCH_VERSION=label bench/gateway/run.sh   measure a retouch built elsewhere
#   RETOUCH_BEFORE_BIN=path RETOUCH_BEFORE_VERSION=label ...      add an earlier build as a row
#
# Needs cargo, node >= 18 with npm, python3 >= 3.10 with venv, and network access to crates.io,
# npm and PyPI on first run. Builds go to bench/gateway/target (off the main target/ lock).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$here/.venv"

args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick | --report-only) args+=("$1") ;;
    --only) args+=("$1" "$2"); shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# Rewriting the doc needs nothing installed or built.
for arg in "${args[@]}"; do
  if [[ "$arg" == --report-only ]]; then
    cd "$here"
    exec python3 bench.py --driver "$here/target/driver/release" --retouch none "${args[@]}"
  fi
done

# LiteLLM's proxy; the venv is rebuilt only when requirements.txt changes.
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "== preparing $venv (LiteLLM proxy; a few minutes)"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"
  echo "$want" > "$stamp"
fi

# Portkey's gateway, exactly as package-lock.json pins it (reinstalled when the lock changes).
# NODE_ENV=production skips its husky hook.
stamp="$here/node_modules/.package-lock.sha256"
want="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "== installing @portkey-ai/gateway"
  (cd "$here" && NODE_ENV=production npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi

echo "== building the driver and retouch (release)"
CARGO_TARGET_DIR="$here/target/driver" cargo build --quiet --release --manifest-path "$here/driver/Cargo.toml"
# RETOUCH_BIN measures an already built binary instead (RETOUCH_VERSION then labels it).
if [[ -z "${RETOUCH_BIN:-}" ]]; then
  CARGO_TARGET_DIR="$here/target/retouch" cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p retouch
  RETOUCH_BIN="$here/target/retouch/release/retouch"
fi

echo "== checking the bench's own metrics"
CARGO_TARGET_DIR="$here/target/driver" cargo test --quiet --release --manifest-path "$here/driver/Cargo.toml"
(cd "$here" && python3 -m unittest --quiet test_report)

cd "$here"
exec python3 bench.py --driver "$here/target/driver/release" --retouch "$RETOUCH_BIN" "${args[@]}"
