#!/usr/bin/env bash
# Payment-option reads when a refresh is due, spread over USERS users (52) round robin, against
# the bare Echo ceiling, with the CPU per request of PostgreSQL and Redis (../shared/perf/pair.sh).
# PAYMENT_OPTIONS_MAX_AGE=0 makes every read refresh: Binding Inquiry to the in-process
# sandbox (its CPU counts as the service's), then the refresh's write.
#
#   go build -o /tmp/bff ./cmd/server && tools/perf/refresh.sh now /tmp/bff
#
# Env: ROUNDS (3), DURATION (5s), USERS (52); SANDBOX=process puts the sandbox in its own
# process (lib.sh), so the service's CPU no longer counts the sandbox's answer to the inquiry.
set -euo pipefail
tag=$1 bin=$(realpath "$2")
export PAYMENT_OPTIONS_MAX_AGE=0
source "$(dirname "$0")/lib.sh"
start_server
users=${USERS:-52}
token=$(internal_token)
: >"$dev/users"
for i in $(seq 1 "$users"); do
  s=$(session "refresh$i")
  [ "$(link_gopay "$s" "8129$(printf %07d "$i")")" = 201 ] || { echo "link $i failed" >&2; exit 1; }
  user_id "$s" >>"$dev/users"
done
# Enough targets for DURATION at any rate this machine reaches; each is used once.
python3 - "$dev/users" "$api" "$token" >"$dev/targets" <<'PY'
import json, sys
users = open(sys.argv[1]).read().split()
for i in range(400000):
    u = users[i % len(users)]
    print(json.dumps({"method": "GET", "url": f"{sys.argv[2]}/internal/v1/users/{u}/payment-options",
                      "header": {"Authorization": [f"Bearer {sys.argv[3]}"], "X-PARTNER-ID": ["payments"]}}))
PY
echo "== $tag payment options, refresh due, $users users round robin"
cd "$perf"
[ -z "$sandbox_pid" ] || export SANDBOX_PID=$sandbox_pid
SERVICE_PID=$pid PG_PID=$(head -1 /var/run/postgresql/*.pid | grep -m1 -E '^[0-9]+$') REDIS_PID=$(pgrep -f 'redis-server 127.0.0.1:6379' | head -1) \
  TARGETS=$dev/targets ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-5s} ./pair.sh $api/internal/v1/users 2>&1 | tail -4
