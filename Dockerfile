# One image holding all four stockflow binaries; compose.yaml picks one per service with
# `command:` (sales, factory, stock-worker, stock-inc-worker).
#
#   docker build -t stockflow:local .
#   docker run --rm -p 8080:8080 stockflow:local sales
#
# Nothing is downloaded at run time; at build time only crates (cargo) and Debian packages.

ARG RUST_VERSION=1.95

# ---------------------------------------------------------------- build
FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bins \
 && mkdir -p /out \
 && for bin in sales factory stock-worker stock-inc-worker; do cp "target/release/$bin" /out/; done

# ---------------------------------------------------------------- runtime
FROM debian:bookworm-slim AS runtime
# ca-certificates: TLS to real AWS / RDS; curl: the compose healthchecks (GET /ready).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin stockflow
COPY --from=build /out/ /usr/local/bin/
USER stockflow
# Listen on all interfaces inside the container (the services default to 127.0.0.1).
ENV BIND_HOST=0.0.0.0 \
    RUST_LOG=info
EXPOSE 8080 8081 8082 8083
# The default binary; compose.yaml overrides it per service.
CMD ["sales"]
