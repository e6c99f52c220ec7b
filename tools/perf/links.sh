#!/usr/bin/env bash
# POST /v1/bank-accounts (a fresh account token and a unique Request-Id each, sessions of 32
# users round robin, 32 workers) against the storage floor of one link, ../shared/perf's
# storeloop (BEGIN; INSERT; COMMIT + Redis SET NX at the same concurrency), alternating,
# on the machine's PostgreSQL and Redis.
#
#   go build -o /tmp/bff ./cmd/server && tools/perf/links.sh now /tmp/bff
#
# Prints each run's ops/s, link/storeloop and the server's CPU per link per round (and the
# sandbox's apart with SANDBOX=process, lib.sh). Env: ROUNDS (3), DURATION (5s), N (12000 tokens a round).
set -euo pipefail
tag=$1 bin=$(realpath "$2")
source "$(dirname "$0")/lib.sh"
start_server
# ticks PID... -> CPU ticks (user + system) the processes have used; none for no PID
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }'))); done; echo $t; }
for i in $(seq 1 32); do session "linker$i"; done >"$dev/sessions"
first=$((RANDOM * 100000))
for r in $(seq 1 "${ROUNDS:-3}"); do
  "$perf/bin/linkmint" -sandbox $sb -api $api -sessions "$dev/sessions" -n "${N:-12000}" -first $((first + r * 1000000)) \
    -prefix "links$tag$r" -out "$dev/targets" >/dev/null
  c0=$(ticks $pid) s0=$(ticks $sandbox_pid)
  link=$("$perf/bin/load" -targets "$dev/targets" -url $api/v1/bank-accounts -workers 32 -duration "${DURATION:-5s}" 2>&1 | tail -1)
  c1=$(ticks $pid) s1=$(ticks $sandbox_pid)
  floor=$("$perf/bin/storeloop" -database-url "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable" \
    -redis-url redis://127.0.0.1:6379/0 -concurrency 32 -duration "${DURATION:-5s}" 2>&1 | grep -m1 -o 'ops_per_s=[0-9.]*\|ops/s=[0-9.]*\|rps=[0-9.]*' | head -1)
  l=$(sed -n 's/.* ok_rps=\([0-9.]*\).*/\1/p' <<<"$link") codes=$(sed -n 's/.* codes=\([^ ]*\).*/\1/p' <<<"$link")
  f=${floor#*=}
  n=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$link")
  cpu=$(awk -v c="$((c1 - c0))" -v s="$((s1 - s0))" -v n="$n" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "service_cpu_us=%.0f", c / hz * 1e6 / n; if (s > 0) printf " sandbox_cpu_us=%.0f", s / hz * 1e6 / n }')
  echo "round $r: link_ok_rps=$l codes=$codes storeloop_ops=$f link/storeloop=$(awk -v a="$l" -v b="$f" 'BEGIN { printf "%.2f", a / b }') $cpu"
done
