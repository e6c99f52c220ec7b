#!/usr/bin/env bash
# Latency the service adds, for one server binary:
#  1. over a 50 ms upstream (sandbox fault latency_ms=50 on GoPay bank details and on the SNAP
#     inquiry), a link and a due refresh at a light open-loop rate: the client's p50 minus 50 ms
#     (this includes the sandbox's own HTTP work), and, from /metrics, the service's mean time
#     per request minus its mean upstream attempt (what the service itself adds);
#  2. GET /v1/bank-accounts at half its closed-loop maximum rate (open loop): p50 and p99.
#
#   go build -o /tmp/bff ./cmd/server && tools/perf/latency.sh now /tmp/bff
#
#  The floor under 1 is what the same PostgreSQL and Redis round trips cost from a bare client
#  at the same pace (tools/perf/rtfloor): on this VM an idle process pays a wake-up per round
#  trip, so "added" cannot go below it; added_beyond_stores_ms is the service's own share.
#
# Env: DURATION (10s), RATE (50/s for 1).
set -euo pipefail
tag=$1 bin=$(realpath "$2")
export PAYMENT_OPTIONS_MAX_AGE=0 # every options read refreshes
source "$(dirname "$0")/lib.sh"
start_server
load="$perf/bin/load"
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
for i in $(seq 1 8); do session "lat$i"; done >"$dev/sessions"
token=$(internal_token)
: >"$dev/users"
i=0
while read -r s; do
  i=$((i + 1)); link_gopay "$s" "8128$(printf %07d $i)" >/dev/null; user_id "$s" >>"$dev/users"
done <"$dev/sessions"
"$perf/bin/linkmint" -sandbox $sb -api $api -sessions "$dev/sessions" -n 2000 -prefix "lat$tag" -out "$dev/links" >/dev/null
python3 - "$dev/users" "$api" "$token" >"$dev/refresh" <<'PY'
import json, sys
users = open(sys.argv[1]).read().split()
for i in range(4000):
    print(json.dumps({"method": "GET", "url": f"{sys.argv[2]}/internal/v1/users/{users[i % len(users)]}/payment-options",
                      "header": {"Authorization": [f"Bearer {sys.argv[3]}"], "X-PARTNER-ID": ["payments"]}}))
PY
# The floor: the same store round trips from a bare client at the same pace (tools/perf/rtfloor).
floor=$(cd "$repo" && go run ./tools/perf/rtfloor -n 300)
echo "$floor" | sed "s/^/== $tag floor: /"
for op in gopay.bank_details snap.inquiry; do
  curl -sf -X PUT $sb/sandbox/faults/$op -d '{"latency_ms":50}' >/dev/null
done
# mean_ms METRIC LABEL-REGEX -> mean of a histogram's observations so far, in ms
mean_ms() { curl -s $admin/metrics | awk -v m="$1" -v l="$2" '$1 ~ "^"m"_sum" && $1 ~ l { s += $2 } $1 ~ "^"m"_count" && $1 ~ l { n += $2 } END { if (n == 0) print "0 0"; else printf "%.6f %d\n", s * 1000 / n, n }'; }
for what in links refresh; do
  case $what in
    links) route='route="/v1/bank-accounts"' op='operation="bank_details"' stores=link_stores ;;
    refresh) route='route="/internal/v1/users/:user_id/payment-options"' op='operation="inquiry"' stores=refresh_stores ;;
  esac
  f=$(sed -n "s/^$stores mean_ms=\([0-9.]*\).*/\1/p" <<<"$floor")
  read -r h0 hn0 < <(mean_ms bff_http_request_duration_seconds "$route"); read -r u0 un0 < <(mean_ms bff_upstream_request_duration_seconds "$op")
  out=$("$load" -targets "$dev/$what" -url $api/ -rate "${RATE:-50}" -duration "${DURATION:-10s}" 2>&1 | tail -1)
  read -r h1 hn1 < <(mean_ms bff_http_request_duration_seconds "$route"); read -r u1 un1 < <(mean_ms bff_upstream_request_duration_seconds "$op")
  added=$(awk -v h0="$h0" -v n0="$hn0" -v h1="$h1" -v n1="$hn1" -v u0="$u0" -v m0="$un0" -v u1="$u1" -v m1="$un1" -v f="$f" \
    'BEGIN { h = (h1 * n1 - h0 * n0) / (n1 - n0); u = (u1 * m1 - u0 * m0) / (m1 - m0); printf "service_mean_ms=%.2f upstream_attempt_mean_ms=%.2f added_mean_ms=%.2f stores_floor_ms=%.2f added_beyond_stores_ms=%.2f", h, u, h - u, f, h - u - f }')
  p50=$(field p50_ms "$out")
  echo "== $tag $what over a 50 ms upstream: client p50_ms=$p50 (added $(awk -v p="$p50" 'BEGIN { printf "%.2f", p - 50 }')) p99_ms=$(field p99_ms "$out") codes=$(field codes "$out"); $added"
done
curl -sf -X DELETE $sb/sandbox/faults >/dev/null
s=$(session half)
for n in 11110001 11110002 11110003; do
  tok=$(curl -s -X POST $sb/sandbox/account-tokens -d "{\"bank_account_number\":\"$n\"}" | jq -r .account_token)
  curl -s -o /dev/null -X POST $api/v1/bank-accounts -H "Authorization: Bearer $s" -H 'Content-Type: application/json' -d "{\"account_token\":\"$tok\"}"
done
max=$("$load" -url $api/v1/bank-accounts -header "Authorization: Bearer $s" -workers 32 -duration 5s 2>&1 | tail -1)
half=$(awk -v r="$(field rps "$max")" 'BEGIN { printf "%d", r / 2 }')
out=$("$load" -url $api/v1/bank-accounts -header "Authorization: Bearer $s" -rate "$half" -duration "${DURATION:-10s}" 2>&1 | tail -1)
echo "== $tag bank-accounts: max_rps=$(field rps "$max") at half (${half}/s): p50_ms=$(field p50_ms "$out") p99_ms=$(field p99_ms "$out") codes=$(field codes "$out")"
