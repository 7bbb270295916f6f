#!/usr/bin/env bash
# A hung Elasticsearch under load: one release gateway (default limits, no budgets: the load
# is one address) serves collage pages, which ask MySQL only, and search pages at fixed
# rates; a few seconds in, the real Elasticsearch process is stopped (SIGSTOP: it keeps its
# connections and answers nothing), and later continued. Prints, per phase and per page,
# the requests, failures and latency percentiles, and what readiness said meanwhile. What
# it shows: the collage pages keep every answer and their latency, the searches fail fast
# once the breaker is open, and answer again soon after Elasticsearch is back.
#
#   bench/hung.sh [--page-rate N] [--search-rate N]
#
#   --page-rate    collage pages a second (default 50)
#   --search-rate  search pages a second (default 150)
#
# Phases (seconds from the start): before 0, hung 10 (Elasticsearch stopped), open 13 (the
# breaker has had time to open), back 25 (continued), recovered 28 (a probe has had time to
# close it); the run ends at 40. Exits 1 when a collage page failed or a search failed once
# recovered; the figures themselves are reported, not judged. Elasticsearch is continued
# whatever happens (trap). Uses the benchmark data (ogrom_bench, as bench/suite.sh) and
# ports 18394 (partner stand-in) and 18395 (gateway).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

page_rate=50
search_rate=150
while [ $# -gt 0 ]; do
  case "$1" in
    --page-rate) page_rate=${2:?--page-rate needs a value}; shift 2 ;;
    --search-rate) search_rate=${2:?--search-rate needs a value}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "hung: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for value in "$page_rate" "$search_rate"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "hung: rates are whole numbers above 0" >&2; exit 2; }
done
stub_port=18394
port=18395
stop_at=10
continue_at=25
duration=40
phases=(--phase before=0 --phase hung=$stop_at --phase open=$((stop_at + 3))
  --phase back=$continue_at --phase recovered=$((continue_at + 3)))

say() { printf 'hung: %s\n' "$*"; }
die() { printf 'hung: error: %s\n' "$*" >&2; exit 2; }

need_commands jq curl mariadb
need_toolchain
scripts/stack up >/dev/null
need_free_ports "$stub_port" "$port" || exit 2

say "release build"
cargo build --locked --release --quiet --bin ogrom --example load
ogrom="$CARGO_TARGET_DIR/release/ogrom"
load="$CARGO_TARGET_DIR/release/examples/load"
prepare_data "$ogrom" ogrom_bench ogrom_bench_products bench
es_pid=$(pgrep -o -f org.elasticsearch.bootstrap.Elasticsearch) || die "no Elasticsearch process found"

work=$(mktemp -d /tmp/hung.XXXXXX)
pids=()
cleanup() {
  kill -CONT "$es_pid" 2>/dev/null || true
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
  "$ogrom" serve --listen "127.0.0.1:$port" >"$work/gateway.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$port/health/ready" "${pids[-1]}" "the gateway"

# Bodies as bench/suite.sh makes them: collage pages by global id, searches for a word of a
# product's name.
sql() { mariadb -uroot -N -B ogrom_bench -e "$1"; }
op() { jq -c -R --rawfile q "operations/$1.graphql" --arg name "$1" "$2"; }
# shellcheck disable=SC2016  # $name and $q are jq's variables
sql "SELECT REPLACE(REPLACE(REPLACE(TO_BASE64(CONCAT('Collage:', id)), '+', '-'), '/', '_'), '=', '')
     FROM collages ORDER BY RAND(2) LIMIT 500" \
  | op CollagePage '{operationName: $name, query: $q, variables: {id: .}}' >"$work/collage.jsonl"
# shellcheck disable=SC2016
sql "SELECT SUBSTRING_INDEX(SUBSTRING_INDEX(name, ' ', 1 + id % 3), ' ', -1)
     FROM products ORDER BY RAND(3) LIMIT 500" \
  | op SearchPage '{operationName: $name, query: $q, variables: {query: .}}' >"$work/search.jsonl"

say "collage pages at ${page_rate}/s, search pages at ${search_rate}/s for ${duration} s;" \
  "Elasticsearch stopped at ${stop_at} s, continued at ${continue_at} s"
"$load" --url "http://127.0.0.1:$port/graphql" --rate "$page_rate" --duration "$duration" \
  --requests "$work/collage.jsonl" "${phases[@]}" --json "$work/collage.json" \
  >"$work/collage.out" 2>&1 &
collage_load=$!
"$load" --url "http://127.0.0.1:$port/graphql" --rate "$search_rate" --duration "$duration" \
  --requests "$work/search.jsonl" "${phases[@]}" --json "$work/search.json" \
  >"$work/search.out" 2>&1 &
search_load=$!
ready() { curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health/ready" || true; }
sleep "$stop_at"
kill -STOP "$es_pid"
sleep 5
ready_hung=$(ready)
sleep $((continue_at - stop_at - 5))
kill -CONT "$es_pid"
sleep 5
ready_back=$(ready)
wait "$collage_load" || true
wait "$search_load" || true
for name in collage search; do
  [ -s "$work/$name.json" ] || { cat "$work/$name.out" >&2; die "the $name load did not report"; }
done

table() {
  jq -r --arg page "$1" '.phases[] | [$page, .name, .requests, .failures,
      (.p50_ms * 10 | round / 10), (.p99_ms * 10 | round / 10),
      (.max_ms * 10 | round / 10)] | @tsv' "$work/$1.json"
}
{
  printf 'page\tphase\trequests\tfailures\tp50 ms\tp99 ms\tmax ms\n'
  table collage
  table search
} | column -t -s $'\t'
echo
say "readiness 5 s after the stop: $ready_hung; 5 s after the continue: $ready_back"

failed_pages=$(jq '[.phases[].failures] | add' "$work/collage.json")
failed_after=$(jq '[.phases[] | select(.name == "recovered") | .failures] | add' "$work/search.json")
say "collage pages failed: $failed_pages; searches failed once recovered: $failed_after"
[ "$failed_pages" -eq 0 ] && [ "$failed_after" -eq 0 ]
