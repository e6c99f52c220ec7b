#!/usr/bin/env bash
# Side-by-side CPU ratios against the bare Echo ceiling (../shared/perf/ratio.sh) for the read
# paths of docs/performance.md, for one server binary in sandbox mode on 127.0.0.1:19081/19082,
# against the machine's PostgreSQL and Redis (its own database and key prefix, removed after).
#
#   go build -o /tmp/bff ./cmd/server && tools/perf/reads.sh now /tmp/bff
#
# Prints ratio.sh's lines; cpu_ratio is ceiling CPU / service CPU per request, so the
# "N x the ceiling" of docs/performance.md is 1 / median_cpu_ratio. Env: ROUNDS (3), DURATION (5s).
set -euo pipefail
tag=$1 bin=$(realpath "$2")
repo=$(cd "$(dirname "$0")/../.." && pwd)
perf=$(mktemp -d)
cp -r "$repo/../shared/perf/." "$perf/" && chmod -R u+w "$perf"
api=http://127.0.0.1:19081 sb=http://127.0.0.1:19082
dev=/tmp/perfdev-$tag; rm -rf "$dev"; mkdir -p "$dev"
export HTTP_ADDR=127.0.0.1:19081 SANDBOX_ADDR=127.0.0.1:19082 DEV_STATE_DIR=$dev LOG_LEVEL=error \
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/perf_bff_$tag?sslmode=disable" REDIS_KEY_PREFIX="perf$tag:" \
  RATE_LIMIT_SESSIONS_PER_IP=off RATE_LIMIT_WRITES_PER_USER=off RATE_LIMIT_TOKENS_PER_IP=off RATE_LIMIT_TOKENS_PER_CLIENT=off
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS perf_bff_$tag" >/dev/null
"$bin" >"$dev/server.log" 2>&1 &
pid=$!
cleanup() {
  kill $pid 2>/dev/null; wait $pid 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS perf_bff_$tag" >/dev/null 2>&1 || true
  redis-cli -h 127.0.0.1 --scan --pattern "perf$tag:*" | xargs -r -n 500 redis-cli -h 127.0.0.1 del >/dev/null
  rm -rf "$perf" "$dev"
}
trap cleanup EXIT
for _ in $(seq 1 100); do curl -sf $api/readyz >/dev/null && break; sleep 0.1; done
code=$(curl -s -X POST $sb/sandbox/auth-codes -d '{"user_id":"perf"}' | jq -r .auth_code)
session=$(curl -s -X POST $api/v1/sessions -H 'Content-Type: application/json' -d "{\"auth_code\":\"$code\"}" | jq -r .session_token)
for n in 11110001 11110002 11110003; do
  tok=$(curl -s -X POST $sb/sandbox/account-tokens -d "{\"bank_account_number\":\"$n\"}" | jq -r .account_token)
  curl -s -o /dev/null -X POST $api/v1/bank-accounts -H "Authorization: Bearer $session" -H 'Content-Type: application/json' -d "{\"account_token\":\"$tok\"}"
done
lc=$(curl -s -X POST $sb/sandbox/gopay-auth-codes -d '{"phone_number":"81234567890"}' | jq -r .auth_code)
curl -s -o /dev/null -X POST $api/v1/gopay-link -H "Authorization: Bearer $session" -H 'Content-Type: application/json' \
  -d "{\"auth_code\":\"$lc\",\"phone_number\":\"81234567890\",\"name\":\"Perf\"}"
secret=$(jq -r .internal_client_secret $dev/dev-keys.json)
token=$(curl -s -X POST $api/internal/v1/access-token -u payments:$secret -H 'Content-Type: application/json' -d '{"grant_type":"client_credentials"}' | jq -r .access_token)
uid=$(echo "$session" | jq -rR 'split(".")[1] | gsub("-";"+") | gsub("_";"/") | . + ("=" * ((4 - length % 4) % 4)) | @base64d | fromjson | .sub')
curl -s -o /dev/null $api/internal/v1/users/$uid/payment-options -H "Authorization: Bearer $token" -H 'X-PARTNER-ID: payments'
echo "== $tag bank-accounts: $(curl -s $api/v1/bank-accounts -H "Authorization: Bearer $session" | jq '.data | length') accounts"
cd "$perf"
run() { name=$1; shift; echo "== $tag $name"; SERVICE_PID=$pid ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-5s} ./ratio.sh "$@" 2>&1 | grep -E "cpu_ratio|ratio=|median" | tail -3; }
run bank-accounts $api/v1/bank-accounts -header "Authorization: Bearer $session"
run internal-payment-options $api/internal/v1/users/$uid/payment-options -header "Authorization: Bearer $token" -header 'X-PARTNER-ID: payments'
run accounts-listing "$api/api/v1.0/accounts?page=1" -header "Authorization: Bearer $token" -header 'X-PARTNER-ID: payments' -header 'Accept: application/json'
