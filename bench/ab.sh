#!/usr/bin/env bash
# Compares two builds of the gateway: closed loops of the suite's pages, alternating the two
# builds round by round, and the CPU a request of the gateway and of MariaDB in each run.
# On a machine whose speed drifts by ±15% within an hour, alternated runs minutes apart are
# the comparison that holds; a suite run of each build an hour apart is not.
#
#   bench/ab.sh [--rounds N] [--seconds N] [--concurrency N] [--worker-threads N]
#               [--pages "product search …"] BINARY_A BINARY_B
#
#   --rounds          runs of each build per page (default 3), alternated A B A B …
#   --seconds         length of each closed-loop run (default 8), after 3 s of warm-up
#   --concurrency     closed-loop workers (default 16)
#   --worker-threads  the gateway's threads (default 1, as bench/suite.sh)
#   --pages           of product, collage, search, feed and profile (default all five)
#
# BINARY_A and BINARY_B are release builds of `ogrom` (copy target/release/ogrom aside
# before building the change). The gateway runs as in bench/suite.sh, on the same data and
# request bodies; CPU times are read from /proc at the run's start and end. It prints each
# run and, per page, the medians of both builds and the median of each round's B/A ratio
# (the figure to quote: the machine's drift between rounds cancels in it). Figures are
# reported, never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

rounds=3
seconds=8
concurrency=16
worker_threads=1
pages="product collage search feed profile"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=${2:?--rounds needs a value}; shift 2 ;;
    --seconds) seconds=${2:?--seconds needs a value}; shift 2 ;;
    --concurrency) concurrency=${2:?--concurrency needs a value}; shift 2 ;;
    --worker-threads) worker_threads=${2:?--worker-threads needs a value}; shift 2 ;;
    --pages) pages=${2:?--pages needs a list}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    -*) echo "ab: unknown argument $1 (see --help)" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || { echo "ab: two binaries to compare (see --help)" >&2; exit 2; }
builds=("$(realpath "$1")" "$(realpath "$2")")
for build in "${builds[@]}"; do
  [ -x "$build" ] || { echo "ab: $build is not an executable" >&2; exit 2; }
done
for value in "$rounds" "$seconds" "$concurrency" "$worker_threads"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "ab: $value is not a whole number above 0" >&2; exit 2; }
done
for page in $pages; do
  case "$page" in product|collage|search|feed|profile) ;;
    *) echo "ab: no page $page (product, collage, search, feed, profile)" >&2; exit 2 ;;
  esac
done

database=ogrom_bench
alias=ogrom_bench_products
stub_port=18390
port=18391
say() { printf 'ab: %s\n' "$*"; }

need_commands jq curl
need_toolchain
scripts/stack up >/dev/null
need_free_ports "$stub_port" "$port" || exit 1
cargo build --locked --release --quiet --example load
load="$CARGO_TARGET_DIR/release/examples/load"
prepare_data "${builds[0]}" "$database" "$alias" bench

work=$(mktemp -d /tmp/ab.XXXXXX)
running=()
gateway=''
cleanup() {
  [ -z "$gateway" ] || running+=("$gateway")
  stop_all running
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
write_bodies "$work" 500 "$database"

"${builds[0]}" partner-stub --listen "127.0.0.1:$stub_port" >"$work/partner-stub.log" 2>&1 &
running+=($!)
wait_up "http://127.0.0.1:$stub_port/health" "${running[0]}" "the partner stand-in"
curl -fsS -m 2 -o /dev/null -d '{"latency_ms": 0}' "http://127.0.0.1:$stub_port/control"

# As bench/suite.sh runs it.
export OGROM_PARTNER_URL="http://127.0.0.1:$stub_port"
export OGROM_COST_BUDGET=0 OGROM_MAX_CONCURRENT_REQUESTS=4096 OGROM_RESPONSE_CACHE_MB=0
export OGROM_WORKER_THREADS=$worker_threads OGROM_LOG_FORMAT=json OGROM_LOG=info
export OGROM_SHUTDOWN_DRAIN_MS=0

hz=$(getconf CLK_TCK)
# User and system CPU ticks of process $1.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
mariadb_pid=$(pgrep -o mariadbd)

# One closed loop of page $1 against build $2: writes "requests/s gateway-ms mariadb-ms" to
# $work/run.
run() {
  local page=$1 build=$2 g0 g1 m0 m1 requests
  "$build" serve --listen "127.0.0.1:$port" >>"$work/gateway.log" 2>&1 &
  gateway=$!
  wait_up "http://127.0.0.1:$port/health/ready" "$gateway" "the gateway" "$work/gateway.log"
  "$load" --url "http://127.0.0.1:$port/graphql" --requests "$work/$page.jsonl" \
    --concurrency "$concurrency" --duration 3 --json "$work/warm.json" >/dev/null
  g0=$(ticks "$gateway"); m0=$(ticks "$mariadb_pid")
  "$load" --url "http://127.0.0.1:$port/graphql" --requests "$work/$page.jsonl" \
    --concurrency "$concurrency" --duration "$seconds" --json "$work/run.json" >/dev/null
  g1=$(ticks "$gateway"); m1=$(ticks "$mariadb_pid")
  kill -TERM "$gateway"; wait "$gateway" 2>/dev/null || true
  gateway=''
  requests=$(jq '.total.requests' "$work/run.json")
  [ "$(jq '.total.failures' "$work/run.json")" = 0 ] || say "warning: $page had failures" >&2
  awk -v n="$requests" -v s="$seconds" -v g=$((g1 - g0)) -v m=$((m1 - m0)) -v hz="$hz" \
    'BEGIN { printf "%.0f %.3f %.3f\n", n / s, g * 1000 / hz / n, m * 1000 / hz / n }' \
    >"$work/run"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

say "A: ${builds[0]}"
say "B: ${builds[1]}"
printf '%-8s %-5s %-3s %10s %12s %12s\n' page round bld "requests/s" "gateway ms" "MariaDB ms"
summary=()
for page in $pages; do
  : >"$work/A"; : >"$work/B"
  for round in $(seq "$rounds"); do
    # A first in odd rounds, B first in even ones: neither always follows a warm machine.
    order=(0 1); [ $((round % 2)) = 0 ] && order=(1 0)
    for which in "${order[@]}"; do
      label=$([ "$which" = 0 ] && echo A || echo B)
      run "$page" "${builds[$which]}"
      read -r rate gateway_ms mariadb_ms <"$work/run"
      printf '%-8s %-5s %-3s %10s %12s %12s\n' "$page" "$round" "$label" "$rate" "$gateway_ms" "$mariadb_ms"
      echo "$gateway_ms" >>"$work/$label"
    done
  done
  a=$(median <"$work/A"); b=$(median <"$work/B")
  # Each round's B against its A, run minutes apart: the drift of the machine cancels.
  ratio=$(paste "$work/A" "$work/B" | awk '{ print $2 / $1 }' | median)
  summary+=("$(awk -v p="$page" -v a="$a" -v b="$b" -v r="$ratio" 'BEGIN {
    printf "%-8s gateway CPU ms a request, medians: A %.3f  B %.3f;  B/A by round, median %.3f",
      p, a, b, r }')")
done
printf '%s\n' "${summary[@]}"
