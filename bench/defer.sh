#!/usr/bin/env bash
# The product page with a slow partner, answered whole and in parts: one release gateway,
# the partner stand-in answering after LATENCY ms, every request asking the partner (no
# offers cache). `operations/ProductPage.graphql` defers its offers, so a client that takes
# parts gets the page before the partner answers. Prints, for the partner at 0 ms and at
# LATENCY ms, the time to the whole JSON answer and, in parts, the time to the first part
# (the page) and to the last (the offers), as percentiles over COUNT requests from
# CONCURRENCY clients (examples/parts.rs), and the gateway's CPU a request (its /proc
# ticks around each row).
#
#   bench/defer.sh [--latency-ms N] [--count N] [--concurrency N] [--document FILE]
#
#   --latency-ms   the partner's latency (default 500; under the partner timeout, 800)
#   --count        requests per row (default 200)
#   --concurrency  clients, each with one request in flight (default 4)
#   --document     the product page's document (default operations/ProductPage.graphql),
#                  to measure another choice of what to defer
#
# Uses the benchmark data (ogrom_bench, as bench/suite.sh) and ports 18396 (partner
# stand-in) and 18397 (gateway). The figures are reported, not judged.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

latency=500
count=200
concurrency=4
document=operations/ProductPage.graphql
while [ $# -gt 0 ]; do
  case "$1" in
    --latency-ms) latency=${2:?--latency-ms needs a value}; shift 2 ;;
    --count) count=${2:?--count needs a value}; shift 2 ;;
    --concurrency) concurrency=${2:?--concurrency needs a value}; shift 2 ;;
    --document) document=${2:?--document needs a file}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "defer: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for value in "$latency" "$count" "$concurrency"; do
  [[ "$value" =~ ^[0-9]+$ ]] || { echo "defer: numbers are whole numbers" >&2; exit 2; }
done
[ -f "$document" ] || { echo "defer: no document $document" >&2; exit 2; }
stub_port=18396
port=18397

say() { printf 'defer: %s\n' "$*"; }

need_commands jq curl mariadb
need_toolchain
scripts/stack up >/dev/null
need_free_ports "$stub_port" "$port" || exit 2

say "release build"
cargo build --locked --release --quiet --bin ogrom --example parts
ogrom="$CARGO_TARGET_DIR/release/ogrom"
parts="$CARGO_TARGET_DIR/release/examples/parts"
prepare_data "$ogrom" ogrom_bench ogrom_bench_products bench

work=$(mktemp -d /tmp/defer.XXXXXX)
pids=()
cleanup() {
  stop_all pids
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$ogrom" partner-stub --listen "127.0.0.1:$stub_port" >"$work/partner-stub.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$stub_port/health" "${pids[-1]}" "the partner stand-in"
# prepare_data has set the database and the search alias.
OGROM_PARTNER_URL="http://127.0.0.1:$stub_port" OGROM_COST_BUDGET=0 OGROM_SHUTDOWN_DRAIN_MS=0 \
  OGROM_OFFERS_CACHE_TTL_MS=0 OGROM_OFFERS_STALE_MS=0 \
  "$ogrom" serve --listen "127.0.0.1:$port" >"$work/gateway.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$port/health/ready" "${pids[-1]}" "the gateway"

# shellcheck disable=SC2016  # $name and $q are jq's variables
mariadb -uroot -N -B ogrom_bench -e "SELECT id FROM products ORDER BY RAND(1) LIMIT 200" \
  | jq -c -R --rawfile q "$document" \
    '{operationName: "ProductPage", query: $q, variables: {databaseId: tonumber}}' \
    >"$work/product.jsonl"

gateway_pid=${pids[-1]}
hz=$(getconf CLK_TCK)
# User and system CPU ticks of the gateway.
ticks() { awk '{ print $14 + $15 }' "/proc/$gateway_pid/stat"; }

# measure COUNT [--whole]: the row's figures, then the gateway's CPU a request.
measure() {
  local n=$1 t0 t1
  shift
  t0=$(ticks)
  "$parts" --url "http://127.0.0.1:$port/graphql" --requests "$work/product.jsonl" \
    --count "$n" --concurrency "$concurrency" "$@"
  t1=$(ticks)
  awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$n" \
    'BEGIN { printf "  gateway CPU ms a request  %.3f\n", t * 1000 / hz / n }'
}
say "$document, $count requests from $concurrency clients a row"
for ms in 0 "$latency"; do
  curl -fsS -o /dev/null -H 'content-type: application/json' \
    -d "{\"latency_ms\": $ms}" "http://127.0.0.1:$stub_port/control"
  # Warm the pools and the plan cache first.
  measure 20 >/dev/null
  echo "partner latency $ms ms"
  measure "$count" --whole | sed 's/^/  /'
  measure "$count" | sed 's/^/  /'
done
