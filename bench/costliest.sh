#!/usr/bin/env bash
# The costliest documents the default limits accept: for each shape that makes the backends
# work hard for few points (unpaginated lists at their assumed sizes, counts, aliased
# searches with facets, similar products, autocompletion, collages with every item, the
# partner's offers), the largest size the gateway accepts under its default cost maximum,
# page size and document limits, found by bisection; then that document sent by one client
# for a few seconds. Reports each one's CPU per request in the gateway, MySQL and
# Elasticsearch (their processes' own counters) and its partner calls' time, against a home
# feed's (operations/HomeFeed, 20 collages). Target: none does more than 10 feeds' work.
#
#   bench/costliest.sh [--seconds N] [--limit X] [--json PATH]
#
#   --seconds  how long each document is sent (default 5)
#   --limit    the target, in home feeds (default 10); the exit status is 1 above it
#   --json     where to write the figures (default ~/.cache/ogrom/bench/costliest-<date>.json)
#
# Uses the benchmark data (ogrom_bench, ogrom_bench_products, as bench/suite.sh) and ports
# 18392 (partner stand-in) and 18393 (gateway).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

seconds=5
limit=10
json=''
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=${2:?--seconds needs a value}; shift 2 ;;
    --limit) limit=${2:?--limit needs a value}; shift 2 ;;
    --json) json=${2:?--json needs a path}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "costliest: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
json=${json:-$HOME/.cache/ogrom/bench/costliest-$(date -u +%Y%m%d-%H%M%S).json}
mkdir -p "$(dirname "$json")"
stub_port=18392
port=18393

say() { printf 'costliest: %s\n' "$*"; }
die() { printf 'costliest: error: %s\n' "$*" >&2; exit 2; }

need_commands jq curl python3
need_toolchain
scripts/stack up >/dev/null
need_free_ports "$stub_port" "$port" || exit 2

say "release build"
cargo build --locked --release --quiet --bin ogrom
ogrom="$CARGO_TARGET_DIR/release/ogrom"
prepare_data "$ogrom" ogrom_bench ogrom_bench_products bench

work=$(mktemp -d /tmp/costliest.XXXXXX)
pids=()
cleanup() {
  stop_all pids
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$ogrom" partner-stub --listen "127.0.0.1:$stub_port" >"$work/partner-stub.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$stub_port/health" "${pids[-1]}" "the partner stand-in" "$work/partner-stub.log"

# The default limits, as deployed, except the budget: one client sends everything here.
OGROM_PARTNER_URL="http://127.0.0.1:$stub_port" OGROM_COST_BUDGET=0 OGROM_SHUTDOWN_DRAIN_MS=0 \
  "$ogrom" serve --listen "127.0.0.1:$port" >"$work/gateway.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$port/health/ready" "${pids[-1]}" "the gateway" "$work/gateway.log"

# Backend work is read from the backends' own processes.
mysql_pid=$(pgrep -o -x mariadbd || pgrep -o -x mysqld) || die "no MySQL server process found"
es_pid=$(pgrep -o -f org.elasticsearch.bootstrap.Elasticsearch) || die "no Elasticsearch process found"

jq -n --rawfile q operations/HomeFeed.graphql '{operationName: "HomeFeed", query: $q}' \
  >"$work/feed.json"
# The other pages the web app sends most, for reference: a product with offers and similar
# products, a search with every facet.
jq -n --rawfile q operations/ProductPage.graphql \
  '{operationName: "ProductPage", query: $q, variables: {databaseId: 1}}' >"$work/product.json"
jq -n --rawfile q operations/SearchPage.graphql \
  '{operationName: "SearchPage", query: $q, variables: {query: "dress"}}' >"$work/search.json"
say "each document for $seconds s, one client"
python3 bench/costliest.py --url "http://127.0.0.1:$port/graphql" --feed "$work/feed.json" \
  --page "$work/product.json" --page "$work/search.json" \
  --seconds "$seconds" --limit "$limit" --json "$json" \
  --mysql-pid "$mysql_pid" --elasticsearch-pid "$es_pid"
