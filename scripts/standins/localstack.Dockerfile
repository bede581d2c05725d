# Stand-in for localstack/localstack:4.13 where no registry answers: localstack-core 4.13.1 from
# the project's pinned list (localstack/requirements.txt, copied into the build context) in a
# venv on the Debian base stand-in, listening on 4566 and running the init hooks mounted in
# /etc/localstack/init/ready.d, as the official image does. It has no awslocal: the stockflow
# hook then uses the venv's aws CLI. What it does not prove: the official image's own
# entrypoint and bundled services (only sns, sqs, cloudwatch, cloudformation and sts are used).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# this machine's CA bundle (PyPI sits behind a TLS proxy here), after apt
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY requirements.txt /tmp/localstack-requirements.txt
RUN python3 -m venv /opt/localstack \
 && /opt/localstack/bin/pip install --no-cache-dir --disable-pip-version-check -r /tmp/localstack-requirements.txt \
 && /opt/localstack/bin/python -c 'import localstack.runtime.main'
ENV PATH=/opt/localstack/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    GATEWAY_LISTEN=0.0.0.0:4566 \
    DNS_ADDRESS=0 \
    SKIP_SSL_CERT_DOWNLOAD=1 \
    DISABLE_EVENTS=1 \
    LOCALSTACK_TELEMETRY_DISABLED=1
EXPOSE 4566
CMD ["python", "-m", "localstack.runtime.main"]
