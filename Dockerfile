# syntax=docker/dockerfile:1.7
# One image, every service: `votemesh registry|user|candidate|voting|result|notify|edge|up`,
# plus `votemesh health <ADDR>` for health checks and `votemesh admin bootstrap`.
#
# Stages: chef (the toolchain and cargo-chef), planner (the dependency recipe, from manifests
# only), build (dependencies cooked in a layer of their own, cached until Cargo.toml or
# Cargo.lock change; then the workspace), and a distroless runtime: glibc and libgcc only, no
# shell, no package manager, uid 65532.
ARG RUST_VERSION=1.95
ARG CARGO_CHEF_VERSION=0.1.77

FROM rust:${RUST_VERSION}-bookworm AS chef
ARG CARGO_CHEF_VERSION
# The bookworm image already has gcc, make and perl, which librdkafka's build needs.
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    cargo chef cook --release --locked -p votemesh --recipe-path recipe.json
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    cargo build --release --locked -p votemesh \
    && install -D -m 0555 target/release/votemesh /out/votemesh

# The binary links glibc, libm and libgcc_s only (`ldd votemesh`): distroless cc has them.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="votemesh" \
      org.opencontainers.image.description="Online elections as a gRPC service mesh" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/votemesh /usr/local/bin/votemesh
# Every service listens on 7000 unless told otherwise (the edge: VOTEMESH_LISTEN=0.0.0.0:8080
# and a health check of its own in compose.yaml).
ENV VOTEMESH_LISTEN=0.0.0.0:7000 \
    VOTEMESH_LOG_FORMAT=json
EXPOSE 7000
# distroless's `nonroot` user, by number so that Kubernetes' runAsNonRoot can check it.
USER 65532:65532
# grpc.health.v1 Check with service "": exit 0 when SERVING, within 2 s.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/votemesh", "health", "http://127.0.0.1:7000"]
ENTRYPOINT ["/usr/local/bin/votemesh"]
CMD ["--help"]
