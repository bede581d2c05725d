# One image holding the four stockflow binaries and stockctl; compose.yaml picks one per
# service with `command:` (sales, factory, stock-worker, stock-inc-worker). A second target,
# `e2e`, holds the black-box suite, stockctl and newman: compose's `e2e` service (profile
# `test`) runs it against the compose services.
#
#   DOCKER_BUILDKIT=1 docker build -t stockflow:local .
#   docker run --rm -p 127.0.0.1:8080:8080 stockflow:local sales
#   DOCKER_BUILDKIT=1 docker build --target e2e -t stockflow-e2e:local .
#
# BuildKit is required (the cargo registry and target directory are cache mounts, so a rebuild
# compiles only what changed): Docker 23 and later and `docker compose` (v2) use it by default;
# with Docker 20.10 or docker-compose 1.29 export DOCKER_BUILDKIT=1 (the legacy builder stops
# at `RUN --mount` with "the --mount option requires BuildKit").
#
# Nothing is downloaded at run time; at build time only crates (cargo), Debian packages and
# npm packages (newman, from package-lock.json). The base images are build arguments whose
# defaults are the official images; scripts/test passes local stand-ins where no registry
# answers (scripts/standins/).

ARG RUST_IMAGE=rust:1.95-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------- build (only the binaries shipped)
FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p sales -p factory -p stock-worker -p stock-inc-worker -p stockctl \
 && mkdir -p /out \
 && for bin in sales factory stock-worker stock-inc-worker stockctl; do cp "target/release/$bin" /out/; done

# ---------------------------------------------------------------- black-box suite (test binaries)
FROM build AS blackbox-build
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo test --release --locked -p stockflow-blackbox --no-run \
 && mkdir -p /out/blackbox \
 && for t in story dead_letters; do \
      cp "$(ls -t target/release/deps/"$t"-* | grep -v '\.d$' | head -n1)" "/out/blackbox/$t"; \
    done

# ---------------------------------------------------------------- e2e: the suite and newman
FROM ${NODE_IMAGE} AS e2e
WORKDIR /e2e
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tests/postman tests/postman
COPY tests/blackbox/compose-e2e.sh /usr/local/bin/compose-e2e
COPY --from=build /out/stockctl /usr/local/bin/stockctl
COPY --from=blackbox-build /out/blackbox/ /usr/local/lib/blackbox/
ENV STOCKCTL=/usr/local/bin/stockctl
CMD ["compose-e2e"]

# ---------------------------------------------------------------- runtime
FROM ${RUNTIME_IMAGE} AS runtime
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
