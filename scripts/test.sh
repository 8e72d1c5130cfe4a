#!/usr/bin/env bash
# Runs every check and test of mycoin on a fresh machine.
#
# It starts a throwaway PostgreSQL 15 cluster (trust auth, a temporary directory, a free port on
# 127.0.0.1) so that the store tests run against a real server as well as against SQLite files,
# then runs rustfmt, clippy and the whole test suite, and removes the cluster on exit. The
# explorer's browser test needs Debian's chromium and chromium-driver: installed here when
# missing; without them that test fails (it is never skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$PG_BIN/initdb" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing PostgreSQL 15 from the Debian packages"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
fi

if ! command -v chromedriver >/dev/null && [ ! -x /usr/lib/chromium/chromedriver ] \
  && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing chromium and chromium-driver from the Debian packages (the browser test)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    chromium chromium-driver fonts-ipafont-gothic >/dev/null
fi
if ! command -v chromedriver >/dev/null && [ ! -x /usr/lib/chromium/chromedriver ]; then
  echo "== chromium-driver is missing and cannot be installed here: the explorer's browser" \
    "test will fail (apt-get install chromium chromium-driver)" >&2
fi

pg_dir=""
stop_pg() {
  if [ -n "$pg_dir" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
}
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ -x "$PG_BIN/initdb" ]; then
  pg_dir=$(mktemp -d /tmp/mycoin-pg.XXXXXX)
  trap stop_pg EXIT
  [ "$(id -u)" = 0 ] && chown postgres "$pg_dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_postgres "$PG_BIN/initdb" -D "$pg_dir/data" -A trust -U postgres >/dev/null
  as_postgres "$PG_BIN/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
    -o "-p $port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
  export MYCOIN_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "== throwaway PostgreSQL on port $port"
else
  echo "== PostgreSQL not found: the PostgreSQL variants of the store tests will say they are skipped"
fi

# One build, no incremental caches beside it: they would double the target directory.
export CARGO_INCREMENTAL=0

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace

# The two-user stacks of docker-compose.yml on a real Docker engine (builds the image offline).
if docker info >/dev/null 2>&1; then
  echo "== docker compose test"
  # The binaries `cargo test` just built go into the image: no second (release) build.
  MYCOIN_IMAGE_PROFILE=test scripts/compose-test.sh
else
  echo "== docker compose test skipped: no Docker engine answers"
fi
