"""Configuration: defaults here, overridden by environment variables (12-factor)."""

from __future__ import annotations

import os
from pathlib import Path

MIB = 1024 * 1024
# Public (it is in this file), so anyone could sign cursors with it: refused outside
# development (`require_secret_key`).
DEFAULT_SECRET_KEY = "development only: set SECRET_KEY"


class InsecureConfiguration(RuntimeError):
    """A setting that must not keep its default here: the service refuses to start."""


# The seeds/ folder beside the service package in a checkout (an editable install).
PROJECT_SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def from_environment() -> dict:
    """The settings the service reads from its environment, with their defaults."""
    return {
        # PostgreSQL. Unset: an embedded server is started for development (see README).
        "DATABASE_URL": os.environ.get("DATABASE_URL") or None,
        "DATABASE_POOL_MIN_SIZE": _int("DATABASE_POOL_MIN_SIZE", 1),
        "DATABASE_POOL_MAX_SIZE": _int("DATABASE_POOL_MAX_SIZE", 8),
        "DATABASE_POOL_TIMEOUT": float(os.environ.get("DATABASE_POOL_TIMEOUT", 5)),
        "DATABASE_CONNECT_TIMEOUT": _int("DATABASE_CONNECT_TIMEOUT", 5),
        "DATABASE_STATEMENT_TIMEOUT_MS": _int("DATABASE_STATEMENT_TIMEOUT_MS", 15_000),
        # A streaming replica for search, facets, export, actors and the change feed
        # (service/replica.py); unset: the primary serves them. Its pool has the same
        # sizes; a replica that gives no connection within its timeout is skipped, reads
        # going to the primary, for the retry interval.
        "DATABASE_READ_URL": os.environ.get("DATABASE_READ_URL") or None,
        "DATABASE_READ_POOL_TIMEOUT": float(os.environ.get("DATABASE_READ_POOL_TIMEOUT", 1)),
        "DATABASE_READ_RETRY_SECONDS": float(os.environ.get("DATABASE_READ_RETRY_SECONDS", 5)),
        # /metrics for keys with the `metrics` (or `admin`) scope only (false, the default),
        # or without a key (true: only where nothing untrusted reaches the service).
        "METRICS_PUBLIC": _bool("METRICS_PUBLIC", False),
        # events_stored is recounted at a scrape when older than this (one GROUP BY).
        "EVENTS_COUNT_INTERVAL_SECONDS": float(os.environ.get("EVENTS_COUNT_INTERVAL_SECONDS", 30)),
        # HTTP
        "MAX_CONTENT_LENGTH": _int("MAX_BODY_BYTES", MIB),
        # POST /v1/events/bulk: most events in one request (more: 413), and its own body
        # limit, since a full batch is far larger than one event.
        "BULK_MAX_ITEMS": _int("BULK_MAX_ITEMS", 10_000),
        "BULK_MAX_BODY_BYTES": _int("BULK_MAX_BODY_BYTES", 32 * MIB),
        # POST /v1/imports: a dataset's CSV export, as sent and decompressed.
        "IMPORT_MAX_BODY_BYTES": _int("IMPORT_MAX_BODY_BYTES", 256 * MIB),
        "IMPORT_MAX_DATA_BYTES": _int("IMPORT_MAX_DATA_BYTES", 1024 * MIB),
        "REQUIRE_IF_MATCH": _bool("REQUIRE_IF_MATCH", False),
        # Writes always need an API key with the `write` scope; reads need `read` only
        # when this is set.
        "REQUIRE_READ_KEY": _bool("REQUIRE_READ_KEY", False),
        # How long a response is kept for retries that send the same Idempotency-Key.
        "IDEMPOTENCY_TTL_SECONDS": _int("IDEMPOTENCY_TTL_SECONDS", 24 * 3600),
        "RETRY_AFTER_SECONDS": _int("RETRY_AFTER_SECONDS", 5),
        # Requests per API key (writes, reads) and per client address (reads without a
        # key), in the `limits` notation; counted in RATE_LIMIT_STORAGE_URL, which must be
        # a Redis (redis://host:6379/0) for every worker and instance to share the counts.
        "RATE_LIMIT_WRITE": os.environ.get("RATE_LIMIT_WRITE", "600/minute"),
        "RATE_LIMIT_READ": os.environ.get("RATE_LIMIT_READ", "6000/minute"),
        "RATE_LIMIT_ANONYMOUS": os.environ.get("RATE_LIMIT_ANONYMOUS", "1200/minute"),
        "RATE_LIMIT_STORAGE_URL": os.environ.get("RATE_LIMIT_STORAGE_URL", "memory://"),
        "RATE_LIMIT_KEY_PREFIX": os.environ.get("RATE_LIMIT_KEY_PREFIX", "events"),
        # Proxies in front whose X-Forwarded-For / -Proto are trusted (0: none), so that
        # anonymous limits count the client, not the proxy.
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
        # Origins whose browser apps may call the API (CORS); empty: none.
        "CORS_ORIGINS": [
            o.strip() for o in os.environ.get("CORS_ORIGINS", "").split(",") if o.strip()
        ],
        # A search with as_of replays the updates and deletes recorded after that moment:
        # at most this many (over: a 400 naming as_of), which bounds its time and memory.
        "AS_OF_MAX_CHANGES": _int("AS_OF_MAX_CHANGES", 10_000),
        # Unset: INFO for the server, WARNING for a management command (whose output is
        # its result): observability.default_level.
        "LOG_LEVEL": os.environ.get("LOG_LEVEL") or None,
        # What `flask seed` loads when given no path: the project's seeds/, wherever the
        # command runs from (the image, which installs the package, sets /app/seeds).
        "SEEDS_DIR": os.environ.get("SEEDS_DIR", str(PROJECT_SEEDS)),
        # Signs pagination cursors; every instance behind one load balancer needs the same.
        "SECRET_KEY": os.environ.get("SECRET_KEY") or DEFAULT_SECRET_KEY,
        # A development machine: the built-in SECRET_KEY is accepted with DATABASE_URL set.
        "DEVELOPMENT": _bool("DEVELOPMENT", False),
        # Where the service is reached from outside: the base of the `source` and
        # `dataschema` URLs in delivered CloudEvents.
        "PUBLIC_URL": os.environ.get("PUBLIC_URL", "http://localhost:8000").rstrip("/"),
        # Webhooks (service/delivery). Loopback targets and plain http, for development
        # and tests only; link-local, private and metadata addresses stay refused.
        "WEBHOOKS_ALLOW_PRIVATE_TARGETS": _bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", False),
        "WEBHOOKS_ALLOWED_PORTS": [
            int(p) for p in os.environ.get("WEBHOOKS_ALLOWED_PORTS", "80,443").split(",") if p
        ],
        "WEBHOOKS_TIMEOUT_SECONDS": float(os.environ.get("WEBHOOKS_TIMEOUT_SECONDS", 10)),
        # Of a subscriber's answer, only this much is read (and kept in the delivery log).
        "WEBHOOKS_MAX_RESPONSE_BYTES": _int("WEBHOOKS_MAX_RESPONSE_BYTES", 64 * 1024),
        # Retries: full jitter over an exponential ceiling, base * 2^(attempt-1), capped.
        "WEBHOOKS_RETRY_BASE_SECONDS": float(os.environ.get("WEBHOOKS_RETRY_BASE_SECONDS", 5)),
        "WEBHOOKS_RETRY_MAX_SECONDS": float(
            os.environ.get("WEBHOOKS_RETRY_MAX_SECONDS", 3 * 86400)
        ),
        # A subscription whose every attempt has failed for this long is disabled.
        "WEBHOOKS_DISABLE_AFTER_DAYS": float(os.environ.get("WEBHOOKS_DISABLE_AFTER_DAYS", 5)),
        # After rotate-secret, the previous secret still signs for this long.
        "WEBHOOKS_SECRET_OVERLAP_HOURS": float(os.environ.get("WEBHOOKS_SECRET_OVERLAP_HOURS", 24)),
        # Delivered rows of the delivery log are deleted this long after they were made
        # (0: kept for ever). Waiting and failed ones are kept, however old.
        "WEBHOOKS_DELIVERIES_RETENTION_DAYS": float(
            os.environ.get("WEBHOOKS_DELIVERIES_RETENTION_DAYS", 30)
        ),
        # The deliverer: how often it reads the feed for new changes, how many changes a
        # subscription takes at once, and how many it sends at once (distinct events only).
        "WEBHOOKS_POLL_SECONDS": float(os.environ.get("WEBHOOKS_POLL_SECONDS", 0.05)),
        "WEBHOOKS_BATCH_SIZE": _int("WEBHOOKS_BATCH_SIZE", 200),
        "WEBHOOKS_CONCURRENCY": _int("WEBHOOKS_CONCURRENCY", 32),
        # At most this many requests (connections) at once to one receiver (its address
        # and port as resolved), over all the subscriptions that lead there.
        "WEBHOOKS_CONNECTIONS_PER_TARGET": _int("WEBHOOKS_CONNECTIONS_PER_TARGET", 16),
        # The deliverer's own Prometheus endpoint (0: none).
        "DELIVERY_METRICS_PORT": _int("DELIVERY_METRICS_PORT", 0),
        # JetStream: unset, nothing is published. The stream is created if absent.
        "NATS_URL": os.environ.get("NATS_URL") or None,
        "NATS_STREAM": os.environ.get("NATS_STREAM", "EVENTS_CHANGES"),
        "NATS_SUBJECT_PREFIX": os.environ.get("NATS_SUBJECT_PREFIX", "events.changes"),
        "NATS_STREAM_MAX_AGE_DAYS": float(os.environ.get("NATS_STREAM_MAX_AGE_DAYS", 7)),
        # JetStream drops a message whose id it has seen within this window: a publisher
        # restarted after a crash republishes what it had not recorded, once.
        "NATS_DUPLICATE_WINDOW_SECONDS": float(
            os.environ.get("NATS_DUPLICATE_WINDOW_SECONDS", 600)
        ),
    }


def require_secret_key(config) -> None:
    """Refuse the public default SECRET_KEY except in development.

    Development is the embedded database (no DATABASE_URL) or DEVELOPMENT=true; anywhere
    else a forged cursor could be signed with the key printed above.
    """
    if (
        config["SECRET_KEY"] != DEFAULT_SECRET_KEY
        or not config["DATABASE_URL"]
        or config["DEVELOPMENT"]
    ):
        return
    raise InsecureConfiguration(
        "SECRET_KEY is not set, and its built-in default is public: anyone could sign "
        "pagination cursors with it. Set SECRET_KEY to a long random value, the same on "
        "every instance (for example: export SECRET_KEY=\"$(python3 -c 'import secrets; "
        "print(secrets.token_urlsafe(32))')\"), or, on a development machine only, set "
        "DEVELOPMENT=true."
    )
