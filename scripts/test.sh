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

# A one-shot run gains nothing from incremental artefacts; they would double target/'s size.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# Debian packages the suites use (Chromium for the browser test, Redis for shared rate limits).
apt_needed=()
command -v chromium >/dev/null 2>&1 || apt_needed+=(chromium)
command -v redis-server >/dev/null 2>&1 || apt_needed+=(redis-server)
command -v openssl >/dev/null 2>&1 || apt_needed+=(openssl)
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

# Real engines on loopback for the store's backend tests: PostgreSQL, an S3-compatible
# server (moto) and Redis. All are stopped on exit, whatever happens.
SERVICES="$ROOT/target/test-services"
mkdir -p "$SERVICES"
cleanup() {
  if [ -n "${PG_DATA:-}" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast stop >/dev/null 2>&1 || true
  fi
  if [ -n "${MOTO_PID:-}" ]; then kill "$MOTO_PID" 2>/dev/null || true; fi
  if [ -n "${REDIS_PID:-}" ]; then kill "$REDIS_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  PG_BIN=""
  if command -v initdb >/dev/null 2>&1; then
    PG_BIN=$(dirname "$(command -v initdb)")
  else
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  fi
  if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    step "installing PostgreSQL"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  PG_DIR="$SERVICES/pg"
  rm -rf "$PG_DIR"; mkdir -p "$PG_DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR"
  PG_DATA="$PG_DIR/data"
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust >/dev/null
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/pg.log" -w \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1" start >/dev/null
  export RETOUCH_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  echo "PostgreSQL on 127.0.0.1:$PG_PORT"
}

start_moto() {
  local venv="$SERVICES/moto-venv"
  if ! "$venv/bin/python" -c 'import moto.server' >/dev/null 2>&1; then
    step "installing moto (S3-compatible test server)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]'
  fi
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$SERVICES/moto.log" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" >/dev/null 2>&1; then break; fi
    sleep 0.2
  done
  export RETOUCH_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID=retouch-test AWS_SECRET_ACCESS_KEY=retouch-test AWS_REGION=us-east-1
  echo "moto S3 on 127.0.0.1:$port"
}

# Redis for the shared rate-limit tests: no persistence, loopback only, in the foreground
# of a background job so the trap can stop it by pid. It also listens with TLS on a second
# port, with a certificate from a throwaway CA, for the rediss:// test.
start_redis() {
  local port tls_port dir
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  tls_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  dir="$SERVICES/redis"
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=retouch test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    >"$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 2 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
  redis-server --save '' --appendonly no --port "$port" --bind 127.0.0.1 \
    --tls-port "$tls_port" --tls-cert-file "$dir/server.pem" --tls-key-file "$dir/server.key" \
    --tls-ca-cert-file "$dir/ca.pem" --tls-auth-clients no \
    --dir "$dir" >"$SERVICES/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 100); do
    if redis-cli -p "$port" ping >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
  export RETOUCH_TEST_REDIS_URL="redis://127.0.0.1:$port"
  export RETOUCH_TEST_REDISS_URL="rediss://127.0.0.1:$tls_port"
  export RETOUCH_TEST_REDIS_CA="$dir/ca.pem"
  echo "Redis on 127.0.0.1:$port (TLS on $tls_port)"
}

step "starting PostgreSQL, an S3 server and Redis on loopback"
start_postgres
start_moto
start_redis

step "cargo test"
cargo test --workspace --locked

step "building the server for the end-to-end suites"
cargo build -p retouch --locked
export RETOUCH_BIN="$ROOT/target/debug/retouch"

for runner in tests/e2e/*/run.sh; do
  suite=$(dirname "$runner")
  if [ -x "$runner" ]; then
    step "end-to-end: $suite"
    "$suite/run.sh"
  fi
done

step "all suites passed"
