# idnest: one image for every role (serve, resolver, worker, migrate); the command picks it.
#   docker build -t idnest:0.1.0 .
#   docker run --rm -p 8000:8000 idnest:0.1.0 serve            # embedded profile, SQLite in /var/lib/idnest
# One entry point per process kind (portal/cli/processes.py), e.g. for scale-out:
#   docker run --entrypoint idnest-web       idnest:0.1.0     # HTTP only: no wire door, no periodic jobs
#   docker run --entrypoint idnest-resolver  idnest:0.1.0 --processes 2   # Handle wire protocol, UDP+TCP 2641
#   docker run --entrypoint idnest-worker    idnest:0.1.0     # Dramatiq workers (needs IDNEST_BROKER_URL)
#   docker run --entrypoint idnest-scheduler idnest:0.1.0     # the periodic jobs only, one or more
# infra/terraform/ runs it on Kubernetes with managed PostgreSQL and Redis.

FROM python:3.11-slim AS build
# A PyPI mirror for builds inside China, e.g. --build-arg PIP_INDEX_URL=https://<mirror>/simple
ARG PIP_INDEX_URL=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core ./core
COPY tenants ./tenants
COPY resolver ./resolver
COPY portal ./portal
COPY billing ./billing
COPY migrations ./migrations
# Every dependency ships manylinux wheels for CPython 3.11, so no compiler is needed.
RUN python -m venv /opt/idnest \
 && /opt/idnest/bin/pip install ${PIP_INDEX_URL:+--index-url "$PIP_INDEX_URL"} .

FROM python:3.11-slim
ENV PATH=/opt/idnest/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    IDNEST_VAR_DIR=/var/lib/idnest
RUN groupadd --system --gid 10001 idnest \
 && useradd --system --uid 10001 --gid idnest --home-dir /var/lib/idnest --shell /usr/sbin/nologin idnest \
 && mkdir -p /var/lib/idnest \
 && chown idnest:idnest /var/lib/idnest
COPY --from=build /opt/idnest /opt/idnest
USER 10001:10001
WORKDIR /var/lib/idnest
VOLUME ["/var/lib/idnest"]
# HTTP, and the Handle wire protocol on UDP and TCP.
EXPOSE 8000 2641/udp 2641/tcp
# Checks whichever kind runs as PID 1: /healthz, GET_SITE_INFO over UDP, the scheduler's
# heartbeat, the worker's broker (idnest healthcheck --help).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["idnest", "healthcheck"]
ENTRYPOINT ["idnest"]
CMD ["serve"]
