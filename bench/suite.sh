#!/usr/bin/env bash
# The benchmark suite: the web app's five everyday operations (product page, collage page,
# search page, home feed, profile) against a release gateway on the benchmark data size
# (100k products, 20k collages, 10k users), with the partner stand-in answering at once.
# For each operation, with ids, usernames, tags and terms drawn from the catalog:
#
#   - open loop at a fixed rate (examples/load): p50/p90/p99/max latency and errors;
#   - the gateway's CPU time and backend calls (SQL, Elasticsearch, partner) per request,
#     from its own /metrics counters read before and after the run;
#   - closed loop (examples/load --concurrency): the maximum throughput;
#   - compression: the same closed loop again with `Accept-Encoding: gzip, br` (the gateway
#     answers in Brotli), whose gateway CPU a request less the plain loop's is what
#     compression costs; and the mean size of an answer (the first 20 bodies) as sent plain,
#     in gzip and in Brotli.
#
# Then the gateway's peak resident memory (VmHWM) and its start-to-ready time (median of
# several starts). It prints one table with the targets and a verdict for each, and writes
# the figures as JSON so runs can be compared. Figures are reported, never asserted: the
# script fails only when it cannot run. Run from anywhere; about 5 minutes after the first
# build and seeding (which take a few minutes more).
#
#   bench/suite.sh [--rate N] [--seconds N] [--closed-seconds N] [--concurrency N]
#                  [--starts N] [--response-cache-mb N] [--worker-threads N] [--json PATH]
#
#   --rate            open-loop requests per second (default 200)
#   --seconds         length of each open-loop run (default 15)
#   --closed-seconds  length of each closed-loop run (default 10)
#   --concurrency     closed-loop workers (default 16)
#   --starts          gateway starts timed for start-to-ready (default 5)
#   --response-cache-mb  the gateway's response cache (default 0: off, as deployed by
#                     default); with it on, repeated bodies are answered from it
#   --worker-threads  the gateway's threads (default 1: as deployed, an instance of one core,
#                     see deploy/kubernetes; the host's cores also run MySQL and Elasticsearch)
#   --json            where to write the results (default
#                     ~/.cache/ogrom/bench/suite-<date>-<time>.json)
#
# Uses the database ogrom_bench and the search alias ogrom_bench_products (seeded and indexed
# on first use, like bench/search.sh), and ports 18390 (partner stand-in) and 18391 (gateway).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

rate=200
seconds=15
closed_seconds=10
concurrency=16
starts=5
response_cache_mb=0
worker_threads=1
json=''
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate=${2:?--rate needs a value}; shift 2 ;;
    --seconds) seconds=${2:?--seconds needs a value}; shift 2 ;;
    --closed-seconds) closed_seconds=${2:?--closed-seconds needs a value}; shift 2 ;;
    --concurrency) concurrency=${2:?--concurrency needs a value}; shift 2 ;;
    --starts) starts=${2:?--starts needs a value}; shift 2 ;;
    --response-cache-mb) response_cache_mb=${2:?--response-cache-mb needs a value}; shift 2 ;;
    --worker-threads) worker_threads=${2:?--worker-threads needs a value}; shift 2 ;;
    --json) json=${2:?--json needs a path}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "suite: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for value in "$rate" "$seconds" "$closed_seconds" "$concurrency" "$starts" "$worker_threads"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "suite: $value is not a whole number above 0" >&2; exit 2; }
done
[[ "$response_cache_mb" =~ ^[0-9]+$ ]] || { echo "suite: --response-cache-mb $response_cache_mb is not a whole number" >&2; exit 2; }
stamp=$(date -u +%Y%m%d-%H%M%S)
json=${json:-$HOME/.cache/ogrom/bench/suite-$stamp.json}
mkdir -p "$(dirname "$json")"

database=ogrom_bench
alias=ogrom_bench_products
stub_port=18390
port=18391
# The operations in table order: short name, then the operation in operations/.
names=(product collage search feed profile)
declare -A operation=([product]=ProductPage [collage]=CollagePage [search]=SearchPage
  [feed]=HomeFeed [profile]=ProfilePage)
# Request bodies per operation: enough that a run rarely repeats one back to back.
bodies=500

say() { printf 'suite: %s\n' "$*"; }
die() { printf 'suite: error: %s\n' "$*" >&2; exit 1; }
# Like die, keeping the work directory's logs for a look.
fail() { keep_work=1; die "$@"; }

need_commands jq curl python3 column:bsdextrautils

need_toolchain
scripts/stack up >/dev/null

need_free_ports "$stub_port" "$port" || exit 1

say "release build"
cargo build --locked --release --quiet --bin ogrom --example load
ogrom="$CARGO_TARGET_DIR/release/ogrom"
load="$CARGO_TARGET_DIR/release/examples/load"

# ---------------------------------------------------------------- data

prepare_data "$ogrom" "$database" "$alias" bench
sql() { mariadb -uroot -N -B "$database" -e "$1"; }
products=$(sql "SELECT COUNT(*) FROM products")
collages=$(sql "SELECT COUNT(*) FROM collages")
users=$(sql "SELECT COUNT(*) FROM users")
indexed=$products # prepare_data indexes until the alias holds every product
say "data: $products products, $collages collages, $users users, all indexed"

work=$(mktemp -d /tmp/suite.XXXXXX)
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

write_bodies "$work" "$bodies" "$database"
for name in "${names[@]}"; do
  [ -s "$work/$name.jsonl" ] || die "no request bodies for $name"
done

# ------------------------------------------------------------ processes

"$ogrom" partner-stub --listen "127.0.0.1:$stub_port" >"$work/partner-stub.log" 2>&1 &
stub_pid=$!
for _ in $(seq 100); do
  curl -fs -m 1 -o /dev/null "http://127.0.0.1:$stub_port/health" && break
  kill -0 "$stub_pid" 2>/dev/null || fail "the partner stand-in exited while starting"
  sleep 0.05
done
curl -fsS -m 2 -o /dev/null -d '{"latency_ms": 0}' "http://127.0.0.1:$stub_port/control" \
  || fail "the partner stand-in refused its latency"

# The gateway as deployed (JSON logs at info, with an access log line a request; offers cache
# on; the threads of one core unless --worker-threads says otherwise), except: no cost budgets, which would throttle the load driver (one client), and a
# concurrency limit the closed loop cannot reach.
export OGROM_PARTNER_URL="http://127.0.0.1:$stub_port"
export OGROM_COST_BUDGET=0 OGROM_MAX_CONCURRENT_REQUESTS=4096
export OGROM_RESPONSE_CACHE_MB=$response_cache_mb OGROM_WORKER_THREADS=$worker_threads
export OGROM_LOG_FORMAT=json OGROM_LOG=info

# Start to ready: spawn, then ask /health/ready every 5 ms until it answers 200 (wall time
# from the spawn), and the gateway's own "listening" and "ready" log lines; no drain on exit.
say "start to ready: $starts starts"
cat >"$work/starts.py" <<'PY'
import http.client, json, statistics, subprocess, sys, time

binary, port, starts, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
bodies = open(f"{work}/product.jsonl").read().splitlines()
FIRST = 20

def timed_product_page(body):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        sent = time.monotonic()
        connection.request("POST", "/graphql", body=body,
                           headers={"content-type": "application/json"})
        response = connection.getresponse()
        response.read()
        took = (time.monotonic() - sent) * 1000
        if response.status != 200:
            sys.exit(f"a first request answered {response.status}")
        return took
    finally:
        connection.close()

def ready():
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/health/ready")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()

results = []
for n in range(starts):
    path = f"{work}/start-{n}.log"
    with open(path, "w") as log:
        spawned = time.monotonic()
        process = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}"],
                                   stdout=log, stderr=subprocess.STDOUT)
        wall_ms = None
        while time.monotonic() - spawned < 30 and process.poll() is None:
            if ready():
                wall_ms = (time.monotonic() - spawned) * 1000
                break
            time.sleep(0.005)
        # The first requests after ready, one at a time, each a product page not asked
        # before in this process (no cache can answer it): the first against the median of
        # the last ten, which are past any warm-up.
        pages = []
        if wall_ms is not None:
            pages = [timed_product_page(bodies[(n * FIRST + i) % len(bodies)])
                     for i in range(FIRST)]
        # The "ready" line is logged by a task that may run just after the first 200.
        time.sleep(0.2)
        process.terminate()
        process.wait(timeout=30)
    logged = {}
    for line in open(path):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            for message, field in (("listening", "startup_ms"), ("ready", "ready_ms")):
                if event.get("message") == message and field in event:
                    logged[field] = event[field]
    if wall_ms is None:
        sys.exit(f"start {n}: not ready within 30 s (see {path})")
    results.append({"wall_ms": wall_ms, **logged, "first_request_ms": pages[0],
                    "steady_request_ms": statistics.median(pages[FIRST // 2:])})
    time.sleep(0.3)
json.dump(results, sys.stdout)
PY
OGROM_SHUTDOWN_DRAIN_MS=0 python3 "$work/starts.py" "$ogrom" "$port" "$starts" "$work" \
  >"$work/starts.json" || fail "the start-to-ready runs failed"

# ---------------------------------------------------------------- runs

# Each operation gets a fresh gateway, so its CPU, memory and backend figures are its own
# (resident memory, once grown, is not given back between runs). $1 names its log.
start_gateway() {
  "$ogrom" serve --listen "127.0.0.1:$port" >"$work/gateway-$1.log" 2>&1 &
  gateway_pid=$!
  for _ in $(seq 300); do
    curl -fs -m 1 -o /dev/null "http://127.0.0.1:$port/health/ready" && return
    kill -0 "$gateway_pid" 2>/dev/null || fail "the gateway exited while starting"
    sleep 0.05
  done
  fail "the gateway is not ready after 15 s"
}
stop_gateway() {
  kill -TERM "$gateway_pid"
  wait "$gateway_pid" 2>/dev/null || true
  gateway_pid=''
}

scrape() { curl -fsS -m 5 -o "$work/$1.metrics" "http://127.0.0.1:$port/metrics"; }
# The gateway's own account of a run, from its counters before ($1) and after ($2): CPU
# seconds, operations named $3 (every outcome) and backend calls by backend, as JSON.
delta() {
  awk -v op="$3" '
    /^#/ || NF < 2 { next }
    {
      sign = FILENAME == ARGV[1] ? -1 : 1
      key = $0; sub(/ [^ ]*$/, "", key)
      if (key == "process_cpu_seconds_total") cpu += sign * $NF
      else if (key ~ /^ogrom_graphql_operations_total\{/ && index(key, "operation=\"" op "\""))
        ops += sign * $NF
      else if (key ~ /^ogrom_backend_calls_total\{/ && match(key, /backend="[^"]*"/))
        calls[substr(key, RSTART + 9, RLENGTH - 10)] += sign * $NF
      else if (key == "ogrom_response_cache_lookups_total{outcome=\"hit\"}") hits += sign * $NF
    }
    END {
      printf "{\"cpu_s\":%.3f,\"operations\":%d,\"mysql\":%d,\"elasticsearch\":%d,\"partner\":%d,\"cache_hits\":%d}\n",
        cpu, ops, calls["mysql"], calls["elasticsearch"], calls["partner"], hits
    }' "$work/$1.metrics" "$work/$2.metrics"
}
# Peak resident memory of the gateway, in KiB: the kernel's high-water mark (VmHWM), reset
# before each measured run (writing 5 to clear_refs), so each run has its own peak.
peak_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$gateway_pid/status"; }
reset_peak() { echo 5 >"/proc/$gateway_pid/clear_refs"; }

# Mean size of an answer as sent (still encoded) over the first $sampled bodies of operation
# $1, asked for plain, in gzip and in Brotli, as JSON in $work/sizes-$1.json.
sampled=20
sizes() {
  local name=$1 line encoding bytes n=0
  local -A total=([identity]=0 [gzip]=0 [br]=0)
  while IFS= read -r line; do
    for encoding in identity gzip br; do
      bytes=$(curl -fsS -m 10 -o /dev/null -w '%{size_download}' --data-binary "$line" \
        -H 'content-type: application/json' -H "accept-encoding: $encoding" \
        "http://127.0.0.1:$port/graphql") || fail "a $encoding answer to $name failed"
      total[$encoding]=$((total[$encoding] + bytes))
    done
    n=$((n + 1))
  done < <(head -n "$sampled" "$work/$name.jsonl")
  jq -n --argjson n "$n" --argjson plain "${total[identity]}" --argjson gzip "${total[gzip]}" \
    --argjson br "${total[br]}" \
    '{sampled: $n, plain_bytes: ($plain / $n), gzip_bytes: ($gzip / $n), br_bytes: ($br / $n),
      gzip_share: ($gzip / $plain), br_share: ($br / $plain)}' >"$work/sizes-$name.json"
}

# Runs the driver as run $1 on operation $2 with the driver's arguments after; figures come
# from its JSON, whatever its exit status (1: some requests failed), unless it could not run.
drive() {
  local run=$1 name=$2 rc=0
  shift 2
  "$load" --url "http://127.0.0.1:$port/graphql" --requests "$work/$name.jsonl" \
    --json "$work/$run.json" "$@" >"$work/$run.out" 2>&1 || rc=$?
  [ "$rc" -ne 2 ] || { cat "$work/$run.out" >&2; fail "the load driver could not run ($run)"; }
  kill -0 "$gateway_pid" 2>/dev/null || fail "the gateway exited during $run"
}
# A run measured by the gateway's counters too: $1 run, $2 operation, driver arguments after.
measured() {
  local run=$1 name=$2
  reset_peak
  scrape "$run.before"
  drive "$@"
  scrape "$run.after"
  peak_kib >"$work/$run.peak"
  delta "$run.before" "$run.after" "${operation[$name]}" >"$work/$run.gateway.json"
}
summary() {
  jq -r '"\(.total.requests) requests, \(.total.failures) errors, p50 \(.total.p50_ms * 10 | round / 10) ms, p99 \(.total.p99_ms * 10 | round / 10) ms, \(.throughput_rps | round)/s"' "$work/$1.json"
}

# The drain on SIGTERM is for load balancers; here it would only make each stop slow.
export OGROM_SHUTDOWN_DRAIN_MS=0
for name in "${names[@]}"; do
  start_gateway "$name"
  reset_peak 2>/dev/null || fail "cannot reset the gateway's VmHWM (/proc/$gateway_pid/clear_refs)"
  # Warm-up, not measured: connections, MariaDB's and Elasticsearch's caches.
  drive "warm-$name" "$name" --rate "$((rate / 2))" --duration 3
  measured "open-$name" "$name" --rate "$rate" --duration "$seconds"
  say "open loop, ${operation[$name]} at ${rate}/s for ${seconds} s: $(summary "open-$name")"
  measured "closed-$name" "$name" --concurrency "$concurrency" --duration "$closed_seconds"
  say "closed loop, ${operation[$name]}, $concurrency workers: $(summary "closed-$name")"
  # The same loop asking for compression as browsers do: the CPU it adds is compression's.
  measured "closed-br-$name" "$name" --concurrency "$concurrency" --duration "$closed_seconds" \
    --accept-encoding 'gzip, br'
  say "closed loop, ${operation[$name]}, $concurrency workers, Accept-Encoding: gzip, br: $(summary "closed-br-$name")"
  sizes "$name"
  say "answer sizes, ${operation[$name]}: $(jq -r '"plain \(.plain_bytes | round) bytes, gzip \(.gzip_bytes | round), br \(.br_bytes | round) (mean of \(.sampled))"' "$work/sizes-$name.json")"
  stop_gateway
done

# ---------------------------------------------------------------- report

for name in "${names[@]}"; do
  jq -n --arg name "$name" --arg operation "${operation[$name]}" \
    --slurpfile open "$work/open-$name.json" --slurpfile closed "$work/closed-$name.json" \
    --slurpfile open_gateway "$work/open-$name.gateway.json" \
    --slurpfile closed_gateway "$work/closed-$name.gateway.json" \
    --slurpfile closed_br "$work/closed-br-$name.json" \
    --slurpfile closed_br_gateway "$work/closed-br-$name.gateway.json" \
    --slurpfile sizes "$work/sizes-$name.json" \
    --slurpfile open_peak "$work/open-$name.peak" --slurpfile closed_peak "$work/closed-$name.peak" '
    def figures: {requests: .total.requests, errors: .total.failures, throughput_rps,
               p50_ms: .total.p50_ms, p90_ms: .total.p90_ms, p99_ms: .total.p99_ms,
               max_ms: .total.max_ms, failure_kinds, first_failures,
               error_codes: ([.statuses[].error_codes | to_entries[]] | group_by(.key)
                 | map({key: .[0].key, value: (map(.value) | add)}) | from_entries)};
    def per_request: . as $g | if $g.operations == 0 then null else
      {operations, cpu_s,
       cpu_ms_per_request: ($g.cpu_s * 1000 / $g.operations),
       sql_per_request: ($g.mysql / $g.operations),
       elasticsearch_per_request: ($g.elasticsearch / $g.operations),
       partner_per_request: ($g.partner / $g.operations),
       cache_hits_per_request: ($g.cache_hits / $g.operations)} end;
    {name: $name, operation: $operation,
     open: ($open[0] | figures + {rate, peak_rss_mib: ($open_peak[0] / 1024)}),
     closed: ($closed[0] | figures + {concurrency, peak_rss_mib: ($closed_peak[0] / 1024)}),
     gateway_open: ($open_gateway[0] | per_request),
     gateway_closed: ($closed_gateway[0] | per_request),
     closed_compressed: ($closed_br[0] | figures + {concurrency, accept_encoding,
       content_encodings, mean_response_bytes,
       br_share: ((.content_encodings.br // 0) / ([.content_encodings[]] | add // 1))}),
     gateway_closed_compressed: ($closed_br_gateway[0] | per_request),
     sizes: $sizes[0]}
    | .compression_cpu_ms_per_request = (if .gateway_closed == null
        or .gateway_closed_compressed == null then null
        else .gateway_closed_compressed.cpu_ms_per_request - .gateway_closed.cpu_ms_per_request end)'
done | jq -s . >"$work/operations.json"

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit+changes"
jq -n --slurpfile operations "$work/operations.json" --slurpfile starts "$work/starts.json" \
  --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg commit "$commit" \
  --arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
  --argjson cores "$(nproc)" \
  --argjson rate "$rate" --argjson seconds "$seconds" --argjson closed_seconds "$closed_seconds" \
  --argjson concurrency "$concurrency" --argjson bodies "$bodies" \
  --argjson response_cache_mb "$response_cache_mb" --argjson worker_threads "$worker_threads" \
  --argjson products "$products" --argjson collages "$collages" --argjson users "$users" \
  --argjson indexed "$indexed" '
  def median: sort | if length == 0 then null
    elif length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def op($n): $operations[0][] | select(.name == $n);
  def verdict($value; $limit): if $value == null then "no figure"
    elif $value <= $limit then "met" else "missed" end;
  $starts[0] as $s
  | {date: $date, commit: $commit, host: {cores: $cores, cpu: $cpu},
     settings: {rate: $rate, seconds: $seconds, closed_seconds: $closed_seconds,
                concurrency: $concurrency, bodies_per_operation: $bodies,
                gateway_env: {OGROM_COST_BUDGET: 0, OGROM_MAX_CONCURRENT_REQUESTS: 4096,
                              OGROM_LOG: "info", OGROM_LOG_FORMAT: "json",
                              OGROM_RESPONSE_CACHE_MB: $response_cache_mb,
                              OGROM_WORKER_THREADS: $worker_threads},
                partner_latency_ms: 0},
     data: {products: $products, collages: $collages, users: $users, indexed: $indexed},
     operations: $operations[0],
     memory: {peak_rss_mib_open_loop: ([$operations[0][].open.peak_rss_mib] | max),
              peak_rss_mib_closed_loop: ([$operations[0][].closed.peak_rss_mib] | max)},
     startup: {starts: $s, wall_ms_median: ([$s[].wall_ms] | median),
               listening_ms_median: ([$s[].startup_ms | numbers] | median),
               ready_ms_median: ([$s[].ready_ms | numbers] | median),
               first_request_ms_median: ([$s[].first_request_ms] | median),
               steady_request_ms_median: ([$s[].steady_request_ms] | median),
               first_to_steady: (([$s[].first_request_ms] | median)
                                 / ([$s[].steady_request_ms] | median))}}
  | . as $r
  | .targets = (
      [["product", 15], ["collage", 15], ["search", 25], ["feed", 15], ["profile", 15]]
      | map(. as [$n, $limit] | (op($n) | .open.p99_ms) as $v
          | {target: "\($n) p99 at \($rate)/s", limit: $limit, unit: "ms", value: $v,
             verdict: verdict($v; $limit)}))
      + ([["product", 0.5], ["feed", 0.3]]
      | map(. as [$n, $limit] | (op($n) | .gateway_open.cpu_ms_per_request) as $v
          | {target: "\($n) gateway CPU a request", limit: $limit, unit: "ms", value: $v,
             verdict: verdict($v; $limit)}))
      # The engine targets: a quarter of the closed-loop CPU a request at 464d05d.
      + ([["product", 0.8], ["collage", 0.5], ["search", 0.9], ["feed", 1.4], ["profile", 0.55]]
      | map(. as [$n, $limit] | (op($n) | .gateway_closed.cpu_ms_per_request) as $v
          | {target: "\($n) closed-loop CPU a request", limit: $limit, unit: "ms", value: $v,
             verdict: verdict($v; $limit)}))
      + [{target: "start to ready (median)", limit: 100, unit: "ms",
          value: $r.startup.wall_ms_median, verdict: verdict($r.startup.wall_ms_median; 100)},
         {target: "first request against steady state (product page)", limit: 2, unit: "x",
          value: $r.startup.first_to_steady, verdict: verdict($r.startup.first_to_steady; 2)},
         {target: "peak resident memory at \($rate)/s", limit: 64, unit: "MiB",
          value: $r.memory.peak_rss_mib_open_loop,
          verdict: verdict($r.memory.peak_rss_mib_open_loop; 64)}]' >"$json"

# The table: one column per operation, one for the gateway as a whole, then the target and
# the verdict of the row's figures (each operation's, where the target names one).
jq -r '
  def fix($d): if . == null then "-" else
    pow(10; $d) as $m | (. * $m | round) as $r
    # Negative figures (a difference) get their sign in front of the digits of -$r.
    | (if $r < 0 then -$r else $r end) as $t
    | (if $r < 0 then "-" else "" end) + ($t / $m | floor | tostring)
      + (if $d == 0 then "" else "." + ($t % $m | tostring
          | (if $d > length then "0" * ($d - length) else "" end) + .) end) end;
  .operations as $ops | .targets as $targets
  | def row($title; f; $d): [$title] + ($ops | map(f | fix($d))) + [""];
    def judged($title; f; $d; $infix; $target):
      ($targets | map(select(.target | contains($infix)))) as $mine
      | ($mine | map(select(.verdict != "met") | .target | split(" ")[0])) as $missed
      | row($title; f; $d)
        + [$target, if $missed == [] then "met"
             else "missed: \($missed | join(", "))" end];
    def total($title; $value; $d; $t):
      [$title] + ($ops | map("")) + [$value | fix($d)]
      + ([$targets[] | select(.target | startswith($t))] | first
         | if . == null then ["", ""] else ["≤ \(.limit)", .verdict] end);
  (["", ($ops[] | .name), "gateway", "target", "verdict"]),
  row("open loop \(.settings.rate)/s, \(.settings.seconds) s: requests"; .open.requests; 0) + ["", ""],
  row("  errors (non-200 or GraphQL errors)"; .open.errors; 0) + ["", ""],
  row("  p50 ms"; .open.p50_ms; 1) + ["", ""],
  row("  p90 ms"; .open.p90_ms; 1) + ["", ""],
  judged("  p99 ms"; .open.p99_ms; 1; " p99 "; "≤ 15 (search ≤ 25)"),
  row("  max ms"; .open.max_ms; 1) + ["", ""],
  judged("  gateway CPU ms a request"; .gateway_open.cpu_ms_per_request; 3; " gateway CPU ";
    "product ≤ 0.5, feed ≤ 0.3"),
  row("  SQL statements a request"; .gateway_open.sql_per_request; 2) + ["", ""],
  row("  Elasticsearch requests a request"; .gateway_open.elasticsearch_per_request; 2) + ["", ""],
  row("  partner calls a request"; .gateway_open.partner_per_request; 2) + ["", ""],
  row("  answered from the response cache"; .gateway_open.cache_hits_per_request; 2) + ["", ""],
  (row("  peak resident MiB (VmHWM)"; .open.peak_rss_mib; 1)[:-1]
    + total(""; .memory.peak_rss_mib_open_loop; 1; "peak resident")[-3:]),
  row("closed loop \(.settings.concurrency) workers, \(.settings.closed_seconds) s: requests/s"; .closed.throughput_rps; 0) + ["", ""],
  row("  errors"; .closed.errors; 0) + ["", ""],
  row("  p50 ms"; .closed.p50_ms; 1) + ["", ""],
  row("  p99 ms"; .closed.p99_ms; 1) + ["", ""],
  judged("  gateway CPU ms a request"; .gateway_closed.cpu_ms_per_request; 3; " closed-loop CPU ";
    "0.8, 0.5, 0.9, 1.4, 0.55"),
  (row("  peak resident MiB (VmHWM)"; .closed.peak_rss_mib; 1)[:-1]
    + total(""; .memory.peak_rss_mib_closed_loop; 1; "none")[-3:]),
  row("closed loop, Accept-Encoding: gzip, br: requests/s"; .closed_compressed.throughput_rps; 0) + ["", ""],
  row("  answers in br (share)"; .closed_compressed.br_share; 2) + ["", ""],
  row("  errors"; .closed_compressed.errors; 0) + ["", ""],
  row("  p50 ms"; .closed_compressed.p50_ms; 1) + ["", ""],
  row("  gateway CPU ms a request"; .gateway_closed_compressed.cpu_ms_per_request; 3) + ["", ""],
  row("  CPU ms compression adds a request"; .compression_cpu_ms_per_request; 3) + ["", ""],
  row("answer bytes, mean of \(.operations[0].sizes.sampled): plain"; .sizes.plain_bytes; 0) + ["", ""],
  row("  gzip"; .sizes.gzip_bytes; 0) + ["", ""],
  row("  br"; .sizes.br_bytes; 0) + ["", ""],
  row("  gzip, share of plain"; .sizes.gzip_share; 3) + ["", ""],
  row("  br, share of plain"; .sizes.br_share; 3) + ["", ""],
  total("start to ready ms, median of \(.startup.starts | length) (spawn to /health/ready 200)"; .startup.wall_ms_median; 1; "start to ready"),
  total("  as logged: listening ms (median)"; .startup.listening_ms_median; 1; "none"),
  total("  as logged: ready ms (median)"; .startup.ready_ms_median; 1; "none"),
  total("  first product page after ready, ms (median)"; .startup.first_request_ms_median; 1; "none"),
  total("  steady product page (median of requests 11-20), ms"; .startup.steady_request_ms_median; 1; "none"),
  total("  first against steady"; .startup.first_to_steady; 2; "first request")
  | @tsv' "$json" | column -t -s $'\t' -R 2,3,4,5,6,7
# A rate above what the closed loop sustained overloads the gateway: say so, with the
# errors' codes, so those rows are not read as the latency of a gateway keeping up.
jq -r '[.operations[] | select(.closed.throughput_rps < .open.rate)
    | "\(.name) (\(.closed.throughput_rps | round)/s\(.open.error_codes | to_entries
        | map(", \(.value) \(.key)") | join("")))"]
  | select(length > 0)
  | "suite: note: the open-loop rate is above the closed-loop throughput of \(join("; ")):"
    + " their open-loop figures are those of an overloaded gateway"' "$json"
say "data: $products products, $collages collages, $users users; commit $commit; $(nproc) cores, gateway on $worker_threads thread(s)"
say "results: $json"
