# Shared by the tools/perf scripts (sourced, not run): start one server binary in sandbox mode
# on 127.0.0.1:19081 (sandbox :19082) against the machine's PostgreSQL and Redis under its own
# database and key prefix, seed users, and clean everything up on exit. Needs $tag and $bin.
#
# SANDBOX=process runs the sandbox as its own process instead (cmd/sandbox, built from this
# checkout whatever $bin is, so two binaries meet the same upstream), and the server in upstream
# mode pointed at it: the server's CPU is then the service's alone, and the sandbox's is
# reported apart (pair.sh's SANDBOX_PID). Production never pays the sandbox's half.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
perf=$(mktemp -d)
cp -r "$repo/../shared/perf/." "$perf/" && chmod -R u+w "$perf"
(cd "$perf" && go build -o bin/ ./cmd/...)
api=http://127.0.0.1:19081 sb=http://127.0.0.1:19082
dev=/tmp/perfdev-$tag; rm -rf "$dev"; mkdir -p "$dev"
admin=http://127.0.0.1:19083
export HTTP_ADDR=127.0.0.1:19081 SANDBOX_ADDR=127.0.0.1:19082 ADMIN_ADDR=127.0.0.1:19083 DEV_STATE_DIR=$dev LOG_LEVEL=error \
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/perf_bff_$tag?sslmode=disable" REDIS_KEY_PREFIX="perf$tag:" \
  RATE_LIMIT_SESSIONS_PER_IP=off RATE_LIMIT_SESSIONS_PER_AUTH_CODE=off RATE_LIMIT_WRITES_PER_USER=off \
  RATE_LIMIT_TOKENS_PER_IP=off RATE_LIMIT_TOKENS_PER_CLIENT=off
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS perf_bff_$tag" >/dev/null 2>&1
sandbox_pid=
if [ "${SANDBOX:-}" = process ]; then
  (cd "$repo" && go build -o "$dev/sandbox" ./cmd/sandbox)
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dev/snap.pem" 2>/dev/null
  rnd() { head -c "$1" /dev/urandom | base64 | tr -d '\n/+='; }
  internal_secret=$(rnd 24)
  export GOPAY_CLIENT_ID=perf-client GOPAY_CLIENT_SECRET=$(rnd 24) SNAP_CLIENT_KEY=perf-snap SNAP_CLIENT_SECRET=$(rnd 24) \
    SNAP_PRIVATE_KEY_FILE=$dev/snap.pem MIDTRANS_SERVER_KEY=SB-Mid-server-$(rnd 24) CARD_CLIENT_ID=PERFCLIENT0123456789012345678901
  curl -s -o /dev/null --max-time 1 $sb/ && { echo "something already answers on $sb; stop it first" >&2; exit 1; }
  SANDBOX_ADDR=127.0.0.1:19082 "$dev/sandbox" >"$dev/sandbox.log" 2>&1 &
  sandbox_pid=$!
  export GOPAY_BASE_URL=$sb SNAP_BASE_URL=$sb MIDTRANS_BASE_URL=$sb CARD_BASE_URL=$sb CARD_WEBVIEW_BASE_URL=$sb/sandbox/card-webview \
    PUBLIC_BASE_URL=$api SNAP_PARTNER_ID=PERFPARTNER SNAP_MERCHANT_ID=G77777 CARD_MERCHANT_ID=G77777 \
    ENCRYPTION_KEYS="p1:$(head -c 32 /dev/urandom | base64)" BLIND_INDEX_KEY="$(head -c 32 /dev/urandom | base64)" \
    SESSION_KEYS="p1:$(head -c 32 /dev/urandom | base64)" \
    INTERNAL_CLIENTS="payments:$(printf %s "$internal_secret" | sha256sum | cut -d' ' -f1)"
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE perf_bff_$tag" >/dev/null # sandbox mode creates it itself
  for _ in $(seq 1 100); do curl -s -o /dev/null $sb/ && break; sleep 0.1; done
fi

start_server() {
  "$bin" >"$dev/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf $api/readyz >/dev/null && return; sleep 0.1; done
  echo "server did not become ready; log:" >&2; cat "$dev/server.log" >&2; exit 1
}
cleanup() {
  local p
  for p in ${pid:-} $sandbox_pid; do kill "$p" 2>/dev/null || true; done
  for p in ${pid:-} $sandbox_pid; do wait "$p" 2>/dev/null || true; done
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS perf_bff_$tag" >/dev/null 2>&1 || true
  redis-cli -h 127.0.0.1 --scan --pattern "perf$tag:*" | xargs -r -d '\n' -n 500 redis-cli -h 127.0.0.1 del >/dev/null
  rm -rf "$perf" "$dev"
}
trap cleanup EXIT

# session USER -> a session token for that user
session() {
  local code
  code=$(curl -s -X POST $sb/sandbox/auth-codes -d "{\"user_id\":\"$1\"}" | jq -r .auth_code)
  curl -s -X POST $api/v1/sessions -H 'Content-Type: application/json' -d "{\"auth_code\":\"$code\"}" | jq -r .session_token
}
# link_gopay SESSION PHONE
link_gopay() {
  local lc
  lc=$(curl -s -X POST $sb/sandbox/gopay-auth-codes -d "{\"phone_number\":\"$2\"}" | jq -r .auth_code)
  curl -s -o /dev/null -w '%{http_code}' -X POST $api/v1/gopay-link -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    -d "{\"auth_code\":\"$lc\",\"phone_number\":\"$2\",\"name\":\"Perf\"}"
}
# internal_token -> an internal access token for the dev client "payments"
internal_token() {
  local secret=${internal_secret:-}
  [ -n "$secret" ] || secret=$(jq -r .internal_client_secret "$dev/dev-keys.json")
  curl -s -X POST $api/internal/v1/access-token -u "payments:$secret" -H 'Content-Type: application/json' \
    -d '{"grant_type":"client_credentials"}' | jq -r .access_token
}
# user_id SESSION -> the session's user id (the JWT's sub)
user_id() { echo "$1" | jq -rR 'split(".")[1] | gsub("-";"+") | gsub("_";"/") | . + ("=" * ((4 - length % 4) % 4)) | @base64d | fromjson | .sub'; }
