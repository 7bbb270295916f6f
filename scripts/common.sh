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
