# One image, every service: `votemesh registry|user|candidate|voting|result|edge|up`.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p votemesh

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 votemesh
COPY --from=build /src/target/release/votemesh /usr/local/bin/votemesh
USER votemesh
ENTRYPOINT ["votemesh"]
