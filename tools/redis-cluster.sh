#!/usr/bin/env bash
# Runs a command against a three-master Redis Cluster of its own on free loopback ports, then
# stops the cluster's processes (by their PIDs) and removes its files:
#
#   tools/redis-cluster.sh go test -race ./internal/idempotency ./internal/coalesce
#
# The command sees TEST_REDIS_CLUSTER_ADDRS=127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3.
set -euo pipefail
source "$(dirname "$0")/procs.sh"
# A cluster node also listens on its port + 10000 (the cluster bus), so both must be free and the
# port at most 55535.
free_port() {
  python3 -c '
import random, socket
while True:
    p = random.randint(20000, 45000)
    try:
        for q in (p, p + 10000):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
    except OSError:
        continue
    print(p); break'
}
addrs=()
for i in 1 2 3; do
  port=$(free_port)
  mkdir -p "$dir/$i"
  redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file "$dir/$i/nodes.conf" \
    --save '' --appendonly no --dir "$dir/$i" --logfile "$dir/$i/redis.log" &
  pids+=($!)
  addrs+=("127.0.0.1:$port")
done
for i in 1 2 3; do
  a=${addrs[$((i - 1))]}
  for _ in $(seq 1 200); do redis-cli -h 127.0.0.1 -p "${a#*:}" ping >/dev/null 2>&1 && continue 2; sleep 0.05; done
  echo "redis-cluster: node $a did not start:" >&2; cat "$dir/$i/redis.log" >&2; exit 1
done
redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1 || { cat "$dir/create.log"; exit 1; }
for _ in $(seq 1 100); do
  redis-cli -p "${addrs[0]#*:}" cluster info | grep -q 'cluster_state:ok' && break; sleep 0.1
done
echo "redis-cluster: ${addrs[*]}" >&2
TEST_REDIS_CLUSTER_ADDRS=$(IFS=,; echo "${addrs[*]}") "$@"
