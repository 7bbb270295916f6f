# syntax=docker/dockerfile:1
#
# ogrom's container image: one Rust binary, the few glibc libraries it links, CA
# certificates and a user; no shell, no package manager (about 30 MB).
#
#   scripts/image                    # podman: builds and tags localhost/ogrom:dev
#   docker build -t ogrom:dev .
#   docker run --rm -p 8080:8080 -e OGROM_DATABASE_URL=... -e OGROM_ELASTICSEARCH_URL=... ogrom:dev
#
# The same image runs every subcommand: `serve` (the default), `migrate`, `seed`, `index`,
# `token`, `partner-stub`, `schema`, `healthcheck` (e.g. `docker run --rm ogrom:dev migrate`).
#
# Builds with BuildKit (Docker 23 and later) and with podman/buildah, which keep the cache
# mounts and the dependency layer alike. Podman must build `--format docker` for the
# HEALTHCHECK to be kept (the OCI image format has none); scripts/image does. Checked
# offline by scripts/validate-deploy; built and run by scripts/image-test.

# Versions are build arguments so CI can move them without editing this file.
ARG RUST_VERSION=1.95
ARG NODE_VERSION=22
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------------------
# Node.js, only to run `npm ci` for the GraphiQL assets that build.rs embeds. Taken from the
# official Node image rather than Debian's npm package (hundreds of packages, an old npm).
FROM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS node

# ---------------------------------------------------------------------------------------
# Builder: the official Rust image (Debian bookworm); its glibc is the one copied into the
# runtime image below.
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
#    on every source edit. The cache mounts keep downloads across lock-file changes too;
#    cargo and npm lock their caches themselves, so they are shared (buildah 1.28, Debian
#    12's, never releases a `sharing=locked` mount within a build: a second one hangs).
COPY Cargo.toml Cargo.lock build.rs ./
COPY web/graphiql/package.json web/graphiql/package-lock.json web/graphiql/
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/root/.npm \
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
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && install -D -m 0755 target/release/ogrom /out/ogrom \
    && /out/ogrom --version

# 3. The runtime's whole file system, gathered here: the binary; the shared libraries it
#    links, as ldd names them (glibc's loader, libc and libm, and libgcc_s; ogrom links no
#    OpenSSL, its TLS clients use rustls); the system CA store, Debian's (the Mozilla set
#    of its ca-certificates package, not CAs that a build machine added for itself;
#    ogrom's rustls clients carry their own roots, but anything reading the system store
#    finds it); the user and group 10001; an nsswitch.conf that reads /etc/hosts before
#    DNS (glibc without one asks DNS first); an empty /tmp. The binary must then run in
#    that tree alone, or the build fails here.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN mkdir -p /rootfs/usr/local/bin /rootfs/etc/ssl/certs /rootfs/tmp \
    && install -m 0755 /out/ogrom /rootfs/usr/local/bin/ogrom \
    && ldd /out/ogrom \
    && for lib in $(ldd /out/ogrom | grep -o '/[^ ]*'); do cp --parents -L "$lib" /rootfs; done \
    && cat /usr/share/ca-certificates/mozilla/*.crt > /rootfs/etc/ssl/certs/ca-certificates.crt \
    && printf '%s\n' 'root:x:0:0:root:/root:/usr/sbin/nologin' \
       'ogrom:x:10001:10001:ogrom:/nonexistent:/usr/sbin/nologin' > /rootfs/etc/passwd \
    && printf '%s\n' 'root:x:0:' 'ogrom:x:10001:' > /rootfs/etc/group \
    && echo 'hosts: files dns' > /rootfs/etc/nsswitch.conf \
    && chmod 1777 /rootfs/tmp \
    && chroot /rootfs /usr/local/bin/ogrom --version

# ---------------------------------------------------------------------------------------
# Runtime: nothing but what step 3 gathered. Without a shell, the health check is the
# binary's own `ogrom healthcheck`, and Kubernetes' preStop drain its native `sleep` action.
FROM scratch AS runtime
COPY --from=builder /rootfs/ /

# Listen on all interfaces inside the container (the binary's default is loopback only).
# Logs are JSON lines on stdout, for the platform's log collector.
ENV PATH=/usr/local/bin \
    OGROM_LISTEN=0.0.0.0:8080 \
    OGROM_LOG_FORMAT=json

# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080

# Liveness only: GET <OGROM_PATH_PREFIX>/health/live on the port of OGROM_LISTEN. Readiness
# (/health/ready) depends on MySQL and Elasticsearch, and a container should not be marked
# unhealthy (and restarted) because a backend is down. For `ogrom partner-stub`:
# `ogrom healthcheck --path /health --port 8090`.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["ogrom", "healthcheck"]

# ogrom is PID 1 and handles SIGTERM itself (graceful shutdown); it starts no children,
# so no init process is needed.
ENTRYPOINT ["ogrom"]
CMD ["serve"]
