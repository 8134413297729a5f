# The production image: slim Python, the service and its runtime dependencies only
# (no embedded PostgreSQL: DATABASE_URL must point at a server), run as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system events && useradd --system --gid events --home /app events
WORKDIR /app

COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY service ./service
COPY seeds ./seeds
# The code stays owned by root: the service's user can run it, not rewrite it.
RUN pip install .

USER events
EXPOSE 8000
# Every setting comes from the environment (see README, "Configuration").
ENV BIND=0.0.0.0:8000 \
    SEEDS_DIR=/app/seeds
# Migrations take an advisory lock, so several replicas may start at once.
CMD ["sh", "-c", "flask --app service migrate && exec gunicorn --config python:service.gunicorn_conf 'service:create_app()'"]
