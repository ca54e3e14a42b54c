# syntax=docker/dockerfile:1
# zonegate: one image for every process of the cluster (node, glb, config apply,
# toxiproxy, slo serve, demo-backend). `docker build -t zonegate .`, then
# `docker run zonegate node -c /etc/zonegate/cluster.yaml ...`.
#
# Stage 1 builds a virtualenv from pinned wheels (deploy/docker/requirements.txt, the
# runtime closure of pyproject's dependencies); stage 2 copies only that virtualenv onto
# the same slim base and runs as an unprivileged user. No compiler, no apt, no pip cache.
ARG PYTHON_IMAGE=python:3.11.14-slim-trixie

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/zonegate
ENV PATH=/opt/zonegate/bin:$PATH
WORKDIR /src
COPY deploy/docker/requirements.txt ./requirements.txt
RUN pip install --require-virtualenv --only-binary=:all: -r requirements.txt \
    && pip install --require-virtualenv setuptools==84.2.1
COPY pyproject.toml README.md ./
COPY zonegate ./zonegate
RUN pip install --require-virtualenv --no-deps --no-build-isolation . \
    && pip uninstall --yes setuptools \
    && pip check

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="zonegate" \
      org.opencontainers.image.description="Multi-zone API gateway cluster with failover drills and SLO monitoring"
RUN groupadd --system --gid 10001 zonegate \
    && useradd --system --uid 10001 --gid zonegate --home-dir /var/lib/zonegate \
       --create-home --shell /usr/sbin/nologin zonegate \
    && install -d -o zonegate -g zonegate -m 0750 /var/lib/zonegate/data
COPY --from=build /opt/zonegate /opt/zonegate
COPY deploy/docker/healthcheck.py /usr/local/bin/zonegate-healthcheck
ENV PATH=/opt/zonegate/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    ZONEGATE_HEALTHCHECK_URL=http://127.0.0.1:9901/healthz
USER 10001:10001
WORKDIR /var/lib/zonegate
# 8080 traffic, 9901 node admin (/healthz /readyz /metrics), 9000 GLB admin.
EXPOSE 8080 9901 9000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "/usr/local/bin/zonegate-healthcheck"]
ENTRYPOINT ["zonegate"]
CMD ["--help"]
