# syntax=docker/dockerfile:1
#
# ogrom's container image: one Rust binary on Debian bookworm-slim.
#
#   docker build -t ogrom:dev .
#   docker run --rm -p 8080:8080 -e OGROM_DATABASE_URL=... -e OGROM_ELASTICSEARCH_URL=... ogrom:dev
#
# The same image runs every subcommand: `serve` (the default), `migrate`, `seed`, `index`,
# `token`, `partner-stub`, `schema` (e.g. `docker run --rm ogrom:dev migrate`).
#
# Needs BuildKit (the default builder since Docker 23) for the cache mounts and the heredoc.
# Checked offline by scripts/validate-deploy (BuildKit's own frontend, as `docker build
# --check` runs it); it has not been built on the machine it was written on, which has no
# Docker engine.

# Versions are build arguments so CI can move them without editing this file.
ARG RUST_VERSION=1.95
ARG NODE_VERSION=22
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------------------
# Node.js, only to run `npm ci` for the GraphiQL assets that build.rs embeds. Taken from the
# official Node image rather than Debian's npm package (hundreds of packages, an old npm).
FROM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS node

# ---------------------------------------------------------------------------------------
# Builder: the official Rust image (Debian bookworm, so the binary links against the same
# glibc as the runtime image below).
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && node --version && npm --version

# Cargo.toml's release profile keeps line tables (debug = "line-tables-only") for local
# profiling; they are about 3/4 of the binary (about 120 MB against about 26 MB). The image
# drops them but keeps symbols, so backtraces still name functions. Build with
# `--build-arg CARGO_PROFILE_RELEASE_STRIP=none` to keep file:line in backtraces.
ARG CARGO_PROFILE_RELEASE_STRIP=debuginfo
ENV CARGO_TERM_COLOR=never \
    CARGO_PROFILE_RELEASE_STRIP=${CARGO_PROFILE_RELEASE_STRIP}

WORKDIR /src

# 1. The dependency layer: only the manifests, the lock files and build.rs, around a dummy
#    crate. This layer (all crates compiled, GraphiQL installed by build.rs's `npm ci`)
#    is rebuilt only when Cargo.toml, Cargo.lock, build.rs or the npm lock file change, not
#    on every source edit. The cache mounts keep downloads across lock-file changes too.
COPY Cargo.toml Cargo.lock build.rs ./
COPY web/graphiql/package.json web/graphiql/package-lock.json web/graphiql/
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/root/.npm,sharing=locked \
    mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src target/release/ogrom target/release/deps/ogrom-* target/release/deps/libogrom-*

# 2. The gateway itself. `migrations/` is compiled in (sqlx::migrate!), and so are the
#    GraphiQL page and script (include_bytes!). COPY keeps the files' own modification
#    times, which can be older than the dummy build's: touch them so cargo rebuilds.
COPY src src
COPY migrations migrations
COPY web/graphiql/index.html web/graphiql/app.js web/graphiql/
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && install -D -m 0755 target/release/ogrom /out/ogrom \
    && /out/ogrom --version

# ---------------------------------------------------------------------------------------
# Runtime: bookworm-slim (about 75 MB) + ca-certificates + the binary. Not distroless: the
# gateway needs only glibc, libgcc_s and libm, but the slim image's bash lets the health
# check below work without curl, and its `sleep` serves Kubernetes' preStop drain hook.
# ogrom links no OpenSSL: its TLS clients use rustls with compiled-in webpki roots.
# ca-certificates (which brings Debian's openssl tool along, ~2 MB) is there for tools and
# for operators who mount their own CA bundle.
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# Not pinned to a Debian package version: bookworm's security updates replace old versions,
# which would break the build; the base image tag is what pins the release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 ogrom \
    && useradd --system --uid 10001 --gid ogrom --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin ogrom

# The health check: GET <OGROM_PATH_PREFIX>/health/live on the port of OGROM_LISTEN over
# bash's /dev/tcp, pass on HTTP 200. Arguments override the path and the port, e.g.
# `ogrom-healthcheck /health 8090` for `ogrom partner-stub`. Saves installing curl and its
# libraries (several MB) in every image.
COPY --chmod=0755 <<'EOF' /usr/local/bin/ogrom-healthcheck
#!/bin/bash
set -u
path=${1:-${OGROM_PATH_PREFIX:-}/health/live}
listen=${OGROM_LISTEN:-127.0.0.1:8080}
port=${2:-${listen##*:}}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" >&3
IFS= read -r -t 3 status <&3 || { echo "no answer on port $port"; exit 1; }
case $status in
  "HTTP/1.1 200 "* | "HTTP/1.0 200 "*) exit 0 ;;
  *) echo "GET $path: ${status%$'\r'}"; exit 1 ;;
esac
EOF

COPY --from=builder /out/ogrom /usr/local/bin/ogrom

# Listen on all interfaces inside the container (the binary's default is loopback only).
# Logs are JSON lines on stdout, for the platform's log collector.
ENV OGROM_LISTEN=0.0.0.0:8080 \
    OGROM_LOG_FORMAT=json

# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080

# Liveness only: readiness (/health/ready) depends on MySQL and Elasticsearch, and a
# container should not be marked unhealthy (and restarted) because a backend is down.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["ogrom-healthcheck"]

# ogrom is PID 1 and handles SIGTERM itself (graceful shutdown); it starts no children,
# so no init process is needed.
ENTRYPOINT ["ogrom"]
CMD ["serve"]
