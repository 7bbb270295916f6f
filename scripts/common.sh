# shellcheck shell=bash
# Sourced by scripts/dev and scripts/test: the toolchain and build settings both need.

# Builds reuse one target directory outside the clone, so a fresh clone (CI) rebuilds only
# ogrom itself, not its dependencies.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ogrom/target}
mkdir -p "$CARGO_TARGET_DIR"
export PATH="$HOME/.cargo/bin:$PATH"

need_toolchain() {
  command -v cargo >/dev/null || { echo "cargo is missing: install Rust with rustup" >&2; exit 1; }
  # rustfmt and clippy are rustup components; add them where a minimal profile left them out.
  if command -v rustup >/dev/null; then
    cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
    cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
  fi
  # npm installs the pinned GraphiQL assets that the binary embeds (build.rs).
  if ! command -v npm >/dev/null; then
    apt-get -o DPkg::Lock::Timeout=300 -q update >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q install -y nodejs npm >/dev/null
  fi
}

# Installs, from Debian's packages, what provides each missing command:
# `need_commands jq curl column:bsdextrautils` (command, or command:package).
need_commands() {
  local wanted missing=()
  for wanted in "$@"; do
    command -v "${wanted%%:*}" >/dev/null || missing+=("${wanted#*:}")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "apt: install ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=300 -q update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q install -y "${missing[@]}" >/dev/null
}

# Fails when something already listens on one of these loopback ports (a previous run?).
need_free_ports() {
  local port
  for port in "$@"; do
    if timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
      echo "port $port is in use (a previous run still going?)" >&2
      return 1
    fi
  done
}

# Readies a database and a search alias that a script keeps for itself between runs:
# `prepare_data OGROM DATABASE ALIAS SIZE` creates and migrates DATABASE, seeds it at SIZE
# when it is empty, and indexes it when ALIAS does not hold every product. It exports
# OGROM_DATABASE_URL and OGROM_ELASTICSEARCH_INDEX (and quiet text logs) for what follows.
prepare_data() {
  local ogrom=$1 database=$2 alias=$3 size=$4 products indexed
  mariadb -uroot -e "CREATE DATABASE IF NOT EXISTS $database"
  export OGROM_DATABASE_URL=mysql://ogrom:ogrom@127.0.0.1:3306/$database
  export OGROM_ELASTICSEARCH_INDEX=$alias
  export OGROM_LOG_FORMAT=text OGROM_LOG=warn
  "$ogrom" migrate
  "$ogrom" seed --size "$size" --if-empty
  products=$(mariadb -uroot -N -e "SELECT COUNT(*) FROM $database.products")
  indexed=$(curl -fsS "127.0.0.1:9200/$alias/_count" 2>/dev/null \
    | sed -n 's/.*"count":\([0-9]*\).*/\1/p' || true)
  if [ "${indexed:-0}" != "$products" ]; then
    echo "indexing $products products into $alias"
    OGROM_LOG=info "$ogrom" index
  fi
}

# Podman, from Debian's packages, for the container image (scripts/image, scripts/image-test).
# Its settings are a containers.conf of this project's (CONTAINERS_CONF), not edits under
# /etc: runc, since crun refuses a hybrid cgroup v1/v2 layout; cgroupfs, for machines
# without systemd; no default ulimits, since podman's (nofile 1048576) exceed the hard
# limit of some machines. A CONTAINERS_CONF already set is used as it is.
need_podman() {
  need_commands podman runc
  [ -z "${CONTAINERS_CONF:-}" ] || return 0
  local conf=${XDG_CACHE_HOME:-$HOME/.cache}/ogrom/containers.conf
  local want='# Written by scripts/common.sh (need_podman), which exports CONTAINERS_CONF.
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"'
  if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
    mkdir -p "${conf%/*}"
    printf '%s\n' "$want" >"$conf"
  fi
  export CONTAINERS_CONF=$conf
}

# Stops the processes in the array named $1 (TERM, then waits for each).
stop_all() {
  local -n stopped=$1
  local pid
  for pid in "${stopped[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${stopped[@]}"; do wait "$pid" 2>/dev/null || true; done
}

# Waits, 15 s at most, until $1 answers 2xx while process $2 lives; $3 names it in errors
# and $4, if given, is its log.
wait_up() {
  for _ in $(seq 300); do
    curl -fs -m 1 -o /dev/null "$1" && return
    kill -0 "$2" 2>/dev/null || { echo "$3 exited while starting${4:+ (log: $4)}" >&2; exit 2; }
    sleep 0.05
  done
  echo "$3 is not ready after 15 s" >&2
  exit 2
}

# Request bodies of the five operations, one a line, in DIR/{product,collage,search,feed,
# profile}.jsonl, COUNT of each ($1 DIR, $2 COUNT, $3 DATABASE), built as
# scripts/rolling-deploy builds them: ids, usernames, tags and terms drawn from the catalog
# with fixed seeds, so every run sends the same bodies. bench/suite.sh and bench/ab.sh send
# them. Run from the repository's root.
write_bodies() {
  local work=$1 bodies=$2 database=$3
  sql() { mariadb -uroot -N -B "$database" -e "$1"; }
  # Global ids are base64url("Type:id") without padding.
  global_id() {
    echo "REPLACE(REPLACE(REPLACE(TO_BASE64(CONCAT('$1:', $2)), '+', '-'), '/', '_'), '=', '')"
  }
  op() { jq -c -R --rawfile q "operations/$1.graphql" --arg name "$1" "$2"; }
  # shellcheck disable=SC2016  # $name, $q, … are jq's variables, not the shell's
  {
    sql "SELECT id FROM products ORDER BY RAND(1) LIMIT $bodies" \
      | op ProductPage '{operationName: $name, query: $q, variables: {databaseId: tonumber}}' \
      >"$work/product.jsonl"
    sql "SELECT $(global_id Collage id) FROM collages ORDER BY RAND(2) LIMIT $bodies" \
      | op CollagePage '{operationName: $name, query: $q, variables: {id: .}}' >"$work/collage.jsonl"
    # One word of a product name, in half the requests filtered on the product's root
    # category, sorted four ways.
    sql "SELECT SUBSTRING_INDEX(SUBSTRING_INDEX(p.name, ' ', 1 + p.id % 3), ' ', -1),
                IF(p.id % 2 = 0, $(global_id Category root.id), ''),
                ELT(1 + p.id % 4, 'RELEVANCE', 'PRICE_ASC', 'NEWEST', 'POPULAR')
         FROM products p
         JOIN categories l ON l.id = p.category_id
         LEFT JOIN categories m ON m.id = l.parent_id
         JOIN categories root ON root.id = COALESCE(m.parent_id, m.id, l.id)
         ORDER BY RAND(3) LIMIT $bodies" \
      | op SearchPage 'split("\t") as [$term, $category, $sort]
          | {operationName: $name, query: $q, variables: ({query: $term, sort: $sort}
             + if $category == "" then {} else {filter: {categoryIds: [$category]}} end)}' \
      >"$work/search.jsonl"
    # The home feed: three times in four without a tag, else of one of the popular tags.
    sql "SELECT tag FROM collage_tags GROUP BY tag ORDER BY COUNT(*) DESC, tag LIMIT $((bodies / 4))" \
      | awk -v n="$bodies" '{ tag[NR] = $0 }
          END { for (k = 1; k <= n; k++) print (k % 4 ? "" : tag[(k / 4 - 1) % NR + 1]) }' \
      | op HomeFeed '{operationName: $name, query: $q,
                      variables: (if . == "" then {} else {tag: .} end)}' >"$work/feed.jsonl"
    sql "SELECT username FROM users ORDER BY RAND(4) LIMIT $bodies" \
      | op ProfilePage '{operationName: $name, query: $q, variables: {username: .}}' \
      >"$work/profile.jsonl"
  }
}
