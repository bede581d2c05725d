# Stand-in for prom/prometheus:v2.55.1 where no registry answers: Debian's prometheus package
# (2.42) on the Debian base stand-in, run like the official image (entrypoint prometheus, the
# data in /prometheus, wget for the healthcheck). What it does not prove: behaviour of 2.55's
# newer PromQL and UI (the rules and dashboard use nothing newer than 2.42 has).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends prometheus wget \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /prometheus && chown nobody:nogroup /prometheus
WORKDIR /prometheus
USER nobody
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
