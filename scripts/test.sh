#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need (Debian packages,
# a Python venv, npm packages), starts what they need on loopback, and stops it afterwards.
#
#   scripts/test.sh            everything (what CI runs)
#   SKIP_LINT=1 scripts/test.sh   skip cargo fmt / clippy
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

step() { printf '\n==> %s\n' "$*"; }

# Debian packages the end-to-end suites use (Chromium for the browser test).
apt_needed=()
command -v chromium >/dev/null 2>&1 || apt_needed+=(chromium)
if [ ${#apt_needed[@]} -gt 0 ]; then
  step "installing Debian packages: ${apt_needed[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_needed[@]}" >/dev/null
fi

if [ -z "${SKIP_LINT:-}" ]; then
  step "cargo fmt --check"
  cargo fmt --all -- --check
  step "cargo clippy"
  cargo clippy --workspace --all-targets --locked -- -D warnings
fi

step "cargo test"
cargo test --workspace --locked

step "building the server for the end-to-end suites"
cargo build -p retouch --locked
export RETOUCH_BIN="$ROOT/target/debug/retouch"

for suite in tests/e2e/python tests/e2e/node tests/e2e/browser; do
  if [ -x "$suite/run.sh" ]; then
    step "end-to-end: $suite"
    "$suite/run.sh"
  fi
done

step "all suites passed"
