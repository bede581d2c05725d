# Stand-in for rust:1.95-bookworm (the Dockerfile's build stage) where no registry answers: the
# Debian base stand-in, a C toolchain, and this machine's own Rust toolchain (copied into the
# build context by scripts/lib/compose.sh as toolchain/), at the official image's paths.
# Proves the build with this machine's rustc, not the official image's (same version pinned).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc g++ libc6-dev make pkg-config curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY toolchain/ /usr/local/rustup/toolchain/
ENV CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/rustup/toolchain/bin:/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /usr/local/cargo/bin && cargo --version && rustc --version
# last, after apt: this machine's CA bundle (its registries sit behind a TLS proxy)
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
