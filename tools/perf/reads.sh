#!/usr/bin/env bash
# Side-by-side CPU ratios against the bare Echo ceiling (../shared/perf/ratio.sh) for the read
# paths of docs/performance.md, for one server binary:
#
#   go build -o /tmp/bff ./cmd/server && tools/perf/reads.sh now /tmp/bff
#
# Prints ratio.sh's lines; cpu_ratio is ceiling CPU / service CPU per request, so the
# "N x the ceiling" of docs/performance.md is 1 / median_cpu_ratio. Env: ROUNDS (3), DURATION (5s).
set -euo pipefail
tag=$1 bin=$(realpath "$2")
source "$(dirname "$0")/lib.sh"
start_server
s=$(session perf)
for n in 11110001 11110002 11110003; do
  tok=$(curl -s -X POST $sb/sandbox/account-tokens -d "{\"bank_account_number\":\"$n\"}" | jq -r .account_token)
  curl -s -o /dev/null -X POST $api/v1/bank-accounts -H "Authorization: Bearer $s" -H 'Content-Type: application/json' -d "{\"account_token\":\"$tok\"}"
done
link_gopay "$s" 81234567890 >/dev/null
token=$(internal_token) uid=$(user_id "$s")
curl -s -o /dev/null $api/internal/v1/users/$uid/payment-options -H "Authorization: Bearer $token" -H 'X-PARTNER-ID: payments'
echo "== $tag bank-accounts: $(curl -s $api/v1/bank-accounts -H "Authorization: Bearer $s" | jq '.data | length') accounts"
cd "$perf"
run() { name=$1; shift; echo "== $tag $name"; SERVICE_PID=$pid ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-5s} ./ratio.sh "$@" 2>&1 | grep -E "cpu_ratio|ratio=|median" | tail -3; }
run bank-accounts $api/v1/bank-accounts -header "Authorization: Bearer $s"
run internal-payment-options $api/internal/v1/users/$uid/payment-options -header "Authorization: Bearer $token" -header 'X-PARTNER-ID: payments'
run accounts-listing "$api/api/v1.0/accounts?page=1" -header "Authorization: Bearer $token" -header 'X-PARTNER-ID: payments' -header 'Accept: application/json'
