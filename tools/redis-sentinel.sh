#!/usr/bin/env bash
# Runs a command against a Redis primary watched by a Sentinel, both of its own on free loopback
# ports, then stops them (by their PIDs) and removes their files:
#
#   tools/redis-sentinel.sh go test -race ./internal/idempotency
#
# The command sees TEST_REDIS_SENTINEL_ADDRS=127.0.0.1:port and TEST_REDIS_SENTINEL_MASTER=bff.
set -euo pipefail
source "$(dirname "$0")/procs.sh"
primary=$(free_port) sentinel=$(free_port)
redis-server --port "$primary" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --logfile "$dir/primary.log" &
pids+=($!)
cat >"$dir/sentinel.conf" <<CONF
port $sentinel
bind 127.0.0.1
dir $dir
logfile $dir/sentinel.log
sentinel monitor bff 127.0.0.1 $primary 1
sentinel down-after-milliseconds bff 5000
CONF
redis-server "$dir/sentinel.conf" --sentinel &
pids+=($!)
for _ in $(seq 1 200); do
  redis-cli -p "$sentinel" sentinel get-master-addr-by-name bff 2>/dev/null | grep -q "$primary" && break; sleep 0.05
done
redis-cli -p "$sentinel" sentinel get-master-addr-by-name bff | grep -q "$primary" || { cat "$dir"/*.log >&2; exit 1; }
echo "redis-sentinel: 127.0.0.1:$sentinel watching 127.0.0.1:$primary as bff" >&2
TEST_REDIS_SENTINEL_ADDRS=127.0.0.1:$sentinel TEST_REDIS_SENTINEL_MASTER=bff "$@"
