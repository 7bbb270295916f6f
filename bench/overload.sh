#!/usr/bin/env bash
# Load shedding under overload: one release gateway with a small concurrency limit
# (OGROM_MAX_CONCURRENT_REQUESTS) serves the product page while the partner stand-in answers
# every offers call after a fixed delay, so each admitted request holds its slot that long.
# An open-loop driver sends product pages first below the limit (baseline), then far above
# it (overload), and the script prints, for both runs, the latency of the 200s and of the
# 503s. What it shows: the excess gets fast 503s, the admitted requests keep their latency.
# It fails only when a request got no answer or a status other than 200 and 503; figures are
# reported, never judged. Run from anywhere; a few minutes with the release build.
#
#   bench/overload.sh [--limit N] [--partner-ms N] [--rate N] [--overload-rate N] [--seconds N]
#
#   --limit          the gateway's OGROM_MAX_CONCURRENT_REQUESTS (default 16)
#   --partner-ms     the partner stand-in's delay per offers call (default 100; keep it
#                    under the gateway's partner timeout, 800 ms)
#   --rate           baseline requests per second (default 50: ~5 in flight at 100 ms)
#   --overload-rate  overload requests per second (default 400: ~40 wanted in flight)
#   --seconds        length of each measured run (default 15)
#
# Uses the rolling-deploy test's database (ogrom_deploy) and search alias
# (ogrom_deploy_products), seeding and indexing them if needed, and ports 18290 (partner
# stand-in) and 18291 (gateway).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

limit=16
partner_ms=100
rate=50
overload_rate=400
seconds=15
while [ $# -gt 0 ]; do
  case "$1" in
    --limit) limit=${2:?--limit needs a value}; shift 2 ;;
    --partner-ms) partner_ms=${2:?--partner-ms needs a value}; shift 2 ;;
    --rate) rate=${2:?--rate needs a value}; shift 2 ;;
    --overload-rate) overload_rate=${2:?--overload-rate needs a value}; shift 2 ;;
    --seconds) seconds=${2:?--seconds needs a value}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "overload: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for value in "$limit" "$partner_ms" "$rate" "$overload_rate" "$seconds"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "overload: $value is not a whole number above 0" >&2; exit 2; }
done

database=ogrom_deploy
alias=ogrom_deploy_products
stub_port=18290
port=18291

say() { printf 'overload: %s\n' "$*"; }
die() { printf 'overload: error: %s\n' "$*" >&2; exit 1; }
# Like die, keeping the work directory's logs for a look.
fail() { keep_work=1; die "$@"; }

need_commands jq curl

need_toolchain
scripts/stack up >/dev/null

need_free_ports "$stub_port" "$port" || exit 1

cargo build --locked --release --quiet --bin ogrom --example load
ogrom="$CARGO_TARGET_DIR/release/ogrom"
load="$CARGO_TARGET_DIR/release/examples/load"

# ---------------------------------------------------------------- data

prepare_data "$ogrom" "$database" "$alias" test

work=$(mktemp -d /tmp/overload.XXXXXX)
stub_pid=''
gateway_pid=''
keep_work=''
cleanup() {
  local pid
  for pid in "$gateway_pid" "$stub_pid"; do [ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$gateway_pid" "$stub_pid"; do [ -z "$pid" ] || wait "$pid" 2>/dev/null || true; done
  if [ -n "$keep_work" ]; then say "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Product-page request bodies, one a line, as scripts/rolling-deploy builds them.
# shellcheck disable=SC2016  # $name and $q are jq's variables, not the shell's
mariadb -uroot -N -B "$database" -e "SELECT id FROM products ORDER BY RAND(1) LIMIT 200" \
  | jq -c -R --rawfile q operations/ProductPage.graphql --arg name ProductPage \
    '{operationName: $name, query: $q, variables: {databaseId: tonumber}}' >"$work/product.jsonl"

# ------------------------------------------------------------ processes

"$ogrom" partner-stub --listen "127.0.0.1:$stub_port" >"$work/partner-stub.log" 2>&1 &
stub_pid=$!
for _ in $(seq 100); do
  curl -fs -m 1 -o /dev/null "http://127.0.0.1:$stub_port/health" && break
  kill -0 "$stub_pid" 2>/dev/null || fail "the partner stand-in exited while starting"
  sleep 0.05
done
curl -fsS -m 2 -o /dev/null -d "{\"latency_ms\": $partner_ms}" "http://127.0.0.1:$stub_port/control" \
  || fail "the partner stand-in refused its latency"

# No cost budgets and no offers cache, so every request is admitted on the limit alone and
# calls the partner; the partner bulkhead at least as wide as the limit, so it never binds.
env OGROM_PARTNER_URL="http://127.0.0.1:$stub_port" \
  OGROM_MAX_CONCURRENT_REQUESTS="$limit" OGROM_COST_BUDGET=0 OGROM_OFFERS_CACHE_TTL_MS=0 \
  OGROM_PARTNER_MAX_IN_FLIGHT=$((limit > 32 ? limit : 32)) \
  "$ogrom" serve --listen "127.0.0.1:$port" >"$work/gateway.log" 2>&1 &
gateway_pid=$!
for _ in $(seq 300); do
  curl -fs -m 1 -o /dev/null "http://127.0.0.1:$port/health/ready" && break
  kill -0 "$gateway_pid" 2>/dev/null || fail "the gateway exited while starting"
  sleep 0.1
done
curl -fs -m 1 -o /dev/null "http://127.0.0.1:$port/health/ready" || fail "the gateway is not ready"

# ---------------------------------------------------------------- runs

# Runs the driver: name ($1), rate ($2), seconds ($3). Its exit status is not the verdict
# (a 200 with GraphQL errors is a figure here); 2 means it could not run at all.
drive() {
  local rc=0
  "$load" --url "http://127.0.0.1:$port/graphql" --rate "$2" --duration "$3" \
    --requests "$work/product.jsonl" --allow-status 503 --json "$work/$1.json" \
    >"$work/$1.out" 2>&1 || rc=$?
  [ "$rc" -ne 2 ] || { cat "$work/$1.out" >&2; fail "the load driver could not run ($1)"; }
}

say "limit $limit, partner ${partner_ms} ms a call, product page ($(wc -l <"$work/product.jsonl") ids)"
say "warm-up: ${rate}/s for 3 s (not measured)"
drive warm-up "$rate" 3
say "baseline: ${rate}/s for ${seconds} s"
drive baseline "$rate" "$seconds"
say "overload: ${overload_rate}/s for ${seconds} s"
drive overload "$overload_rate" "$seconds"

# ---------------------------------------------------------------- report

# One row of the table from a run's JSON: the 200s and the 503s, each count and latency;
# "errors" are 200s with GraphQL errors (degraded pages), "other" any other outcome.
row() {
  jq -r --arg run "$1" --argjson seconds "$seconds" '
    def pick($s): (.statuses | map(select(.status == $s)) | first)
      // {requests: 0, failures: 0, p50_ms: null, p99_ms: null, max_ms: null};
    def ms: if . == null then "-" else (. * 10 | round) as $t | "\($t / 10 | floor).\($t % 10)" end;
    pick(200) as $ok | pick(503) as $shed
    | [$run, (.rate | tostring), (.total.requests | tostring),
       ($ok.requests | tostring), (($ok.requests / $seconds) | floor | tostring),
       ($ok.p50_ms | ms), ($ok.p99_ms | ms), ($ok.max_ms | ms), ($ok.failures | tostring),
       ($shed.requests | tostring), ($shed.p50_ms | ms), ($shed.p99_ms | ms), ($shed.max_ms | ms),
       ([.statuses[] | select(.status != 200 and .status != 503) | .requests] | add // 0
        | tostring)]
    | @tsv' "$work/$1.json"
}
{
  printf 'run\trate/s\trequests\t200s\t200s/s\tp50 ms\tp99 ms\tmax ms\terrors\t503s\tp50 ms\tp99 ms\tmax ms\tother\n'
  row baseline
  row overload
} | column -t -s $'\t' -R 2,3,4,5,6,7,8,9,10,11,12,13,14
codes=$(jq -r '[.statuses[] | select(.status == 503) | .error_codes | to_entries[]
  | "\(.key) \(.value)"] | join(", ")' "$work/overload.json")
say "503 error codes under overload: ${codes:-none}"

# The verdict: every request answered, with a 200 or a 503.
problems=()
for run in baseline overload; do
  unanswered=$(jq '[.statuses[] | select(.status == null) | .requests] | add // 0' "$work/$run.json")
  other=$(jq -r '[.statuses[] | select(.status != null and .status != 200 and .status != 503)
    | "\(.requests) × \(.status)"] | join(", ")' "$work/$run.json")
  [ "$unanswered" -eq 0 ] || problems+=("$run: $unanswered requests got no answer")
  [ -z "$other" ] || problems+=("$run: $other")
done
if [ ${#problems[@]} -gt 0 ]; then
  cat "$work/baseline.out" "$work/overload.out"
  printf -v reasons '%s; ' "${problems[@]}"
  fail "${reasons%; }"
fi
say "passed: every request got a 200 or a 503"
