# The production image: slim Python, the service and its runtime dependencies only
# (no embedded PostgreSQL: DATABASE_URL must point at a server), run as a non-root user.
# Base image pinned by version; dependencies pinned by deploy/constraints.txt.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A numeric id, so that the host and orchestrators (runAsNonRoot) can check it.
RUN groupadd --system --gid 10001 events \
    && useradd --system --uid 10001 --gid events --home /app events
WORKDIR /app

COPY deploy/constraints.txt deploy/constraints.txt
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY service ./service
COPY seeds ./seeds
COPY deploy/entrypoint.sh /usr/local/bin/events-entrypoint
# The code stays owned by root: the service's user can run it, not rewrite it.
RUN pip install --constraint deploy/constraints.txt .

USER 10001:10001
EXPOSE 8000
# Every setting comes from the environment (see docs/operations.md, "Configuration"). Workers: the
# container's CPU quota (cgroup cpu.max) unless WEB_CONCURRENCY says otherwise.
# PROMETHEUS_MULTIPROC_DIR: the workers' metrics files, on the container's own /tmp.
ENV BIND=0.0.0.0:8000 \
    SEEDS_DIR=/app/seeds \
    PROMETHEUS_MULTIPROC_DIR=/tmp/events-metrics
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["events-entrypoint", "healthcheck"]
ENTRYPOINT ["events-entrypoint"]
# `serve` (the API) by default; `deliver` runs the webhook and JetStream deliverer from
# the same image (compose.yaml's `deliver` service).
CMD ["serve"]
