#!/usr/bin/env bash
# Search-page latency at the benchmark data size: seeds `ogrom_bench` (100k products) once,
# indexes it, starts the release gateway and drives the web app's search-page query (text,
# a filter, 24 results with brand and price, facets) with varied terms, then prints wrk's
# latency percentiles. Run from anywhere; takes a few minutes the first time.
#
#   bench/search.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

seconds=${1:-30}
connections=${2:-8}
database=ogrom_bench
alias=ogrom_bench_products
port=8181

need_toolchain
scripts/stack up >/dev/null
need_commands wrk

cargo build --locked --release --quiet
ogrom="$CARGO_TARGET_DIR/release/ogrom"
prepare_data "$ogrom" "$database" "$alias" bench

# Search terms drawn from the catalog itself: one word of a product name, with a filter on
# its root category, so every request is a realistic, different search page.
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
mariadb -uroot -N -e "
  SELECT SUBSTRING_INDEX(SUBSTRING_INDEX(p.name, ' ', 1 + p.id % 3), ' ', -1),
         TO_BASE64(CONCAT('Category:', root.id))
  FROM $database.products p
  JOIN $database.categories l ON l.id = p.category_id
  JOIN $database.categories m ON m.id = l.parent_id
  JOIN $database.categories root ON root.id = m.parent_id
  ORDER BY RAND(7) LIMIT 500" | tr -d '=' > "$work/terms.tsv"

"$ogrom" serve --listen "127.0.0.1:$port" &
server=$!
for _ in $(seq 50); do curl -fs "127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.1; done

cat > "$work/search.lua" <<LUA
local terms = {}
for line in io.lines("$work/terms.tsv") do
  local word, category = line:match("([^\t]*)\t([^\t]*)")
  terms[#terms + 1] = { word = word, category = category }
end
local query = "query SearchPage(\$q: String, \$f: ProductFilter) { searchProducts(query: \$q, filter: \$f, first: 24) { totalCount pageInfo { hasNextPage endCursor } nodes { id name currentPrice { formatted } onSale imageUrl brand { name } } facets { brands { brand { name slug } count } categories { category { name slug } count } colors { color count } priceRanges { min max count } } } }"
local i = 0
request = function()
  i = i % #terms + 1
  local t = terms[i]
  local body = string.format('{"query":"%s","variables":{"q":"%s","f":{"categoryIds":["%s"]}}}',
    query, (t.word:gsub('[^%w]', '')), t.category)
  return wrk.format("POST", "/graphql", { ["content-type"] = "application/json" }, body)
end
local errors = 0
response = function(status, headers, body)
  if status ~= 200 or body:find('"errors"') then errors = errors + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("search page: %d requests, %.0f req/s, %d non-2xx or GraphQL errors\n",
    summary.requests, summary.requests / (summary.duration / 1e6), summary.errors.status + errors))
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    io.write(string.format("  p%-5s %8.2f ms\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("  max    %8.2f ms\n", latency.max / 1000))
end
LUA

echo "bench: $products products; warm-up 5 s, then ${seconds} s with $connections connections"
wrk -t1 -c2 -d5s -s "$work/search.lua" "http://127.0.0.1:$port" >/dev/null
wrk -t2 -c"$connections" -d"${seconds}s" -s "$work/search.lua" "http://127.0.0.1:$port" | sed -n '/^search page/,$p'
