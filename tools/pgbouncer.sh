#!/usr/bin/env bash
# Runs a command with a PgBouncer of its own (Debian's pgbouncer; .ci/run installs it) in front of
# the machine's PostgreSQL, in transaction pooling, then stops it by its PID:
#
#   tools/pgbouncer.sh go test -race ./internal/app
#
# The command sees TEST_PGBOUNCER_ADDR=127.0.0.1:port; the service tests then reach PostgreSQL
# through it with DATABASE_QUERY_MODE=exec, and migrate over a direct DATABASE_MIGRATIONS_URL.
# PgBouncer refuses to run as root, so it runs as the postgres user.
set -euo pipefail
# make test must work on a fresh machine: install Debian's pgbouncer when it is missing.
if ! command -v pgbouncer >/dev/null; then
  echo "pgbouncer: installing Debian's package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q pgbouncer >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q pgbouncer >/dev/null; } ||
    { echo "pgbouncer is not installed and could not be: apt-get install -y pgbouncer" >&2; exit 1; }
fi
dir=$(mktemp -d)
chmod 777 "$dir"
# In front of the tests' PostgreSQL: TEST_DATABASE_URL's host and port when it is set.
read -r pghost pgport < <(python3 -c 'import os, urllib.parse as u; p = u.urlsplit(os.environ.get("TEST_DATABASE_URL") or "postgres://127.0.0.1:5432"); print(p.hostname or "127.0.0.1", p.port or 5432)')
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=$pghost port=$pgport
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 40
ignore_startup_parameters = extra_float_digits
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
echo '"postgres" ""' >"$dir/users.txt"
chmod 644 "$dir"/*
runuser -u postgres -- pgbouncer -d "$dir/pgbouncer.ini"
cleanup() {
  if [ -f "$dir/pgbouncer.pid" ]; then
    pid=$(cat "$dir/pgbouncer.pid"); kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 1 100); do psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1 && break; sleep 0.05; done
echo "pgbouncer: 127.0.0.1:$port (transaction pooling)" >&2
TEST_PGBOUNCER_ADDR=127.0.0.1:$port "$@"
