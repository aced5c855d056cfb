# The orchestrator as a container: `mcp-orchestrator serve --http 0.0.0.0:8080`, with the vendor
# servers (`mcp-vendor`) and the local model server (`mcp-local-llama`) beside it, so the default
# config's bare commands resolve. README "Deploy" has the commands; scripts/image.sh builds and
# tests it with podman.
#
# Build arguments:
#   BASE     the runtime base: a Debian bookworm (or newer) image with apt, e.g.
#            docker.io/library/debian:bookworm-slim, or one made with debootstrap
#            (`scripts/image.sh base` makes localhost/debian-bookworm-slim without a registry).
#   BUILDER  what the builder stage starts from (default: BASE). Any Debian-based image works:
#            cmake, clang and a C toolchain come from apt, and Rust from rustup unless the image
#            already has cargo (e.g. a rust:1.95-bookworm image; Rust >= 1.88 is needed). Its glibc
#            must not be newer than BASE's, or the binaries will not start there.
#
# Targets:
#   runtime           (the default, last) builds the three binaries from source with the locked
#                     dependencies: 21 min on 2 cores from a clean cache, llama.cpp and the
#                     orchestrator's release build most of it.
#   runtime-prebuilt  copies binaries built on the host instead, from the build context named
#                     `prebuilt`: `--build-context prebuilt=target/release` (or target/debug).
#                     They must have been built against BASE's glibc or an older one.
#
# With podman, build with `--format docker`: the OCI image format has no HEALTHCHECK and podman
# drops it with a warning.

ARG BASE=docker.io/library/debian:bookworm-slim
ARG BUILDER=${BASE}

# What both runtime targets share: everything but the binaries, so the prebuilt path reuses the
# cached layers and only the last COPY differs.
FROM ${BASE} AS runtime-base
# ca-certificates: the vendor servers verify TLS against the system's roots (rustls with the
# platform verifier). curl: the HEALTHCHECK's client, since the binary has no probe subcommand.
# tini: PID 1 reaps orphans; the orchestrator waits for its children's process groups to empty,
# and zombies left by `npx`/`uvx` grandchildren would otherwise never go away. libgomp1: llama.cpp
# in mcp-local-llama is built with OpenMP and links it dynamically.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl tini libgomp1 \
 && rm -rf /var/lib/apt/lists/*
# A fixed numeric id, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
RUN groupadd --system --gid 10001 mcp \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/mcp-orchestrator --create-home \
      --shell /usr/sbin/nologin mcp \
 && mkdir -p /etc/mcp-orchestrator/workflows
COPY config/mcp_servers.json /etc/mcp-orchestrator/mcp_servers.json
COPY deploy/container/entrypoint.sh /usr/local/bin/mcp-orchestrator-entrypoint
# The config is found through the environment rather than a --config flag so that
# `podman exec … mcp-orchestrator status` resolves the same path, and so reaches the running
# instance's control socket (its name derives from the config path). Workflows are read from
# workflows/ beside it. State (the SQLite store unless orchestrator.store names PostgreSQL, tool
# pins) lives under the home directory: mount a volume there to keep it.
# MCP_ORCHESTRATOR_ALLOW_HOSTS: Host header names to accept besides the loopback ones (comma or
# space separated; the entrypoint turns them into --allow-host flags). serve refuses a
# non-loopback address without one; "localhost" satisfies that while admitting no new name, which
# is what a port published on the host's loopback needs. Set the service's DNS name for real use.
# MCP_ORCHESTRATOR_HTTP_TOKEN (unset here): the bearer token serve requires when it is set.
ENV MCP_ORCHESTRATOR_CONFIG=/etc/mcp-orchestrator/mcp_servers.json \
    MCP_ORCHESTRATOR_ALLOW_HOSTS=localhost \
    HOME=/var/lib/mcp-orchestrator \
    XDG_STATE_HOME=/var/lib/mcp-orchestrator/state
USER 10001:10001
WORKDIR /var/lib/mcp-orchestrator
EXPOSE 8080
# /health answers without the token and needs no child up (liveness); /health/ready is for load
# balancers. 127.0.0.1 is always an allowed Host.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/health"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/mcp-orchestrator-entrypoint"]
CMD ["serve", "--http", "0.0.0.0:8080"]

FROM ${BUILDER} AS builder
# Pinned rustup-init, checked against its published SHA-256, used only when the image has no
# cargo. The toolchain itself is the one rust-toolchain.toml pins.
ARG RUSTUP_VERSION=1.28.2
ARG RUSTUP_SHA256_AMD64=20a06e644b0d9bd2fbdbfd52d42540bdde820ea7df86e92e533c073da0cdd43c
ARG RUSTUP_SHA256_ARM64=e3853c5a252fca15252d07cb23a1bdd9377a8c6f3efa01531109281ae47f841c
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:$PATH
# cmake and libclang: llama.cpp and its bindgen bindings (mcp-local-llama).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake libclang-dev clang ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY rust-toolchain.toml ./
RUN if ! command -v cargo >/dev/null; then \
      case "$(dpkg --print-architecture)" in \
        amd64) triple=x86_64-unknown-linux-gnu sum="$RUSTUP_SHA256_AMD64" ;; \
        arm64) triple=aarch64-unknown-linux-gnu sum="$RUSTUP_SHA256_ARM64" ;; \
        *) echo "no pinned rustup-init for $(dpkg --print-architecture): use a BUILDER with cargo" >&2; exit 1 ;; \
      esac \
      && curl -fsSLo /tmp/rustup-init "https://static.rust-lang.org/rustup/archive/$RUSTUP_VERSION/$triple/rustup-init" \
      && echo "$sum  /tmp/rustup-init" | sha256sum -c - \
      && chmod +x /tmp/rustup-init \
      && /tmp/rustup-init -y --no-modify-path --profile minimal \
           --default-toolchain "$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)" \
      && rm /tmp/rustup-init; \
    fi \
 && RUSTUP_TOOLCHAIN="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)" cargo --version
COPY . .
# --locked: the build fails rather than resolve anything Cargo.lock does not pin. RUSTUP_TOOLCHAIN
# (here and above) names the toolchain installed above, so rustup does not fetch the clippy and
# rustfmt components rust-toolchain.toml lists for developers. Debug sections are compressed rather than stripped:
# panics in a pod's log keep their file:line, at a third of the size. The cache mounts keep the
# downloaded crates and the compiled dependencies between builds (not in any layer), so a rebuild
# after a source change compiles only what changed.
RUN --mount=type=cache,target=/usr/local/cargo/registry --mount=type=cache,target=/src/target \
    RUSTUP_TOOLCHAIN="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)" \
    cargo build --release --locked -p mcp-orchestrator -p mcp-vendors -p mcp-local-llama --bins \
 && mkdir -p /out \
 && for b in mcp-orchestrator mcp-vendor mcp-local-llama; do \
      objcopy --compress-debug-sections=zlib "target/release/$b" "/out/$b"; \
    done

FROM runtime-base AS runtime-prebuilt
COPY --from=prebuilt mcp-orchestrator mcp-vendor mcp-local-llama /usr/local/bin/

FROM runtime-base AS runtime
COPY --from=builder /out/ /usr/local/bin/
