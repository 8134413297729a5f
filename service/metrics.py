"""Prometheus metrics: what they count, how requests and errors feed them, and the scrape.

Under gunicorn every worker is a process of its own: prometheus_client's multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``, which ``service/gunicorn_conf.py`` creates before the
workers start and cleans) has each write its values to files in that directory, and a
scrape of any worker adds them up. Without it (tests, a single process) the values live in
this process. Either way the metrics are created once per process, here.
"""

from __future__ import annotations

import os
import threading
import time

import psycopg
from flask import Flask, g, request
from psycopg_pool import PoolTimeout

from schemas.event import EVENT_KINDS
from service.db import DatabaseUnavailable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED_ROUTE = "(unmatched)"
EXTENSION = "events_metrics"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Instruments:
    """Every metric of the service. One per process: see ``instruments``."""

    def __init__(self):
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter(
            "events_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
        )
        self.latency = Histogram(
            "events_http_request_duration_seconds",
            "Time from the request's start to its response being returned by the app (for "
            "a streamed export: to its first bytes), by route template and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
        )
        # livesum: the sum over the workers alive now (a dead worker's pool is gone).
        self.pool_size = Gauge(
            "events_db_pool_connections",
            "Connections open in the pools, by pool (primary, read).",
            ["pool"],
            multiprocess_mode="livesum",
        )
        self.pool_in_use = Gauge(
            "events_db_pool_connections_in_use",
            "Connections lent to requests, by pool.",
            ["pool"],
            multiprocess_mode="livesum",
        )
        self.pool_waiting = Gauge(
            "events_db_pool_requests_waiting",
            "Requests waiting for a connection, by pool.",
            ["pool"],
            multiprocess_mode="livesum",
        )
        self.db_errors = Counter(
            "events_db_errors",
            "Database errors answered as problems, by kind: connection "
            "(the server is unreachable or dropped the connection), pool_timeout (no "
            "connection free in time), statement_timeout, conflict (serialization failure or "
            "deadlock: nothing was written), other.",
            ["kind"],
        )
        self.read_fallbacks = Counter(
            "events_db_read_fallbacks",
            "Reads meant for the read replica that the primary "
            "served, the replica being unreachable.",
        )
        # mostrecent: the last value written by any worker stands for all.
        self.replica_lag = Gauge(
            "events_db_replica_lag_seconds",
            "Seconds since the transaction the read replica "
            "last replayed committed on the primary, at the last scrape (grows while the "
            "primary is idle too).",
            multiprocess_mode="mostrecent",
        )
        self.events_stored = Gauge(
            "events_stored",
            "Live (not deleted) events by type, as counted at "
            "events_stored_counted_at_seconds: at most once every "
            "EVENTS_COUNT_INTERVAL_SECONDS per worker, never once per scrape.",
            ["type"],
            multiprocess_mode="mostrecent",
        )
        self.events_counted_at = Gauge(
            "events_stored_counted_at_seconds",
            "Unix time of the count behind events_stored.",
            multiprocess_mode="mostrecent",
        )
        # The deliverer's (flask --app service deliver), served on DELIVERY_METRICS_PORT.
        self.webhook_attempts = Counter(
            "events_webhook_attempts",
            "Webhook delivery attempts, by outcome: delivered (2xx), failed (any other "
            "answer, a timeout or a connection error: retried), gone (410: the subscription "
            "is disabled), refused (the SSRF guard refused the target).",
            ["outcome"],
        )
        self.webhook_attempt_seconds = Histogram(
            "events_webhook_attempt_duration_seconds",
            "Time of one delivery attempt, from the lookup to the answer read.",
            buckets=LATENCY_BUCKETS,
        )
        self.webhook_lag_seconds = Histogram(
            "events_webhook_lag_seconds",
            "From a change's write to its delivery being acknowledged by the subscriber.",
            buckets=(*LATENCY_BUCKETS, 60, 300, 3600),
        )
        self.webhook_queue_depth = Gauge(
            "events_webhook_queue_depth",
            "Deliveries waiting for a retry, over every subscription.",
            multiprocess_mode="mostrecent",
        )
        self.stream_published = Counter(
            "events_stream_published",
            "Changes published to the JetStream stream (acknowledged by it).",
        )


_instruments: Instruments | None = None
_instruments_lock = threading.Lock()


def instruments() -> Instruments:
    """This process's metrics, made on first use.

    Not at import: prometheus_client chooses multiprocess mode when it is first imported,
    and gunicorn's master imports this package (its config lives in it) before its
    ``on_starting`` hook sets PROMETHEUS_MULTIPROC_DIR. The workers, forked after, import
    prometheus_client here, with the variable set.
    """
    global _instruments
    if _instruments is None:
        with _instruments_lock:
            if _instruments is None:
                _instruments = Instruments()
    return _instruments


def multiprocess_dir() -> str | None:
    """The directory of multiprocess mode, when gunicorn's config has set one."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def exposition() -> bytes:
    """Every metric in the Prometheus text format, summed over the workers if there are."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess

    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def error_kind(error: BaseException) -> str | None:
    """The ``events_db_errors`` kind of ``error``; None when it is not a database error."""
    if isinstance(error, PoolTimeout):
        return "pool_timeout"
    if isinstance(error, DatabaseUnavailable):  # found down: refused at once
        return "connection"
    if isinstance(error, psycopg.errors.QueryCanceled):
        return "statement_timeout"
    if isinstance(error, psycopg.errors.TransactionRollback):
        return "conflict"
    if isinstance(error, psycopg.OperationalError):
        return "connection"
    if isinstance(error, psycopg.Error):
        return "other"
    return None


_last_pool_stats: dict[str, tuple[int, int, int]] = {}


def record_pool(name: str, pool) -> None:
    """Set the pool gauges from psycopg_pool's own counts of ``pool``.

    Only when they changed: each set writes the worker's metrics file (~11 µs here), and
    between two requests a pool seldom changes.
    """
    stats = pool.get_stats()
    size = stats.get("pool_size", 0)
    now = (size, size - stats.get("pool_available", 0), stats.get("requests_waiting", 0))
    if _last_pool_stats.get(name) == now:
        return
    _last_pool_stats[name] = now
    metrics = instruments()
    metrics.pool_size.labels(name).set(now[0])
    metrics.pool_in_use.labels(name).set(now[1])
    metrics.pool_waiting.labels(name).set(now[2])


class StoredEventsCount:
    """``events_stored``, recounted when older than ``interval`` seconds, at a scrape."""

    def __init__(self, interval: float):
        self.interval = interval
        self.counted_at = float("-inf")
        self._lock = threading.Lock()

    def refresh(self, count_by_type) -> None:
        """Recount with ``count_by_type()`` (type -> live events) if the last count is stale."""
        with self._lock:
            if time.monotonic() - self.counted_at < self.interval:
                return
            counts, metrics = count_by_type(), instruments()
            for kind in sorted(set(EVENT_KINDS) | set(counts)):
                metrics.events_stored.labels(kind).set(counts.get(kind, 0))
            metrics.events_counted_at.set(time.time())
            self.counted_at = time.monotonic()


def _counting(handler):
    """``handler``, counting the database errors it answers in ``events_db_errors``."""

    def handle(error):
        kind = error_kind(error)
        if kind is not None:
            instruments().db_errors.labels(kind).inc()
        return handler(error)

    return handle


def init_app(app: Flask, pools) -> None:
    """Count every request and every database error of ``app``; ``pools()`` gives the
    (name, pool) pairs open in this process.

    Call it after every error handler is registered: it wraps them.
    """
    instruments()
    app.extensions[EXTENSION] = StoredEventsCount(app.config["EVENTS_COUNT_INTERVAL_SECONDS"])
    handlers = app.error_handler_spec[None][None]
    for exception_class, handler in list(handlers.items()):
        handlers[exception_class] = _counting(handler)

    # (route, method, status) -> its request counter and latency histogram: labels()
    # checks the values and takes a lock each time, for the same few series.
    series: dict[tuple[str, str, int], tuple] = {}

    @app.after_request
    def _count(response):
        rule = request.url_rule
        route = rule.rule if rule is not None else UNMATCHED_ROUTE
        key = (route, request.method, response.status_code)
        counted = series.get(key)
        if counted is None:
            metrics = instruments()
            counted = series.setdefault(
                key,
                (
                    metrics.requests.labels(route, key[1], str(key[2])),
                    metrics.latency.labels(route, key[1]),
                ),
            )
        requests, latency = counted
        requests.inc()
        # The start as service.observability marks it, the first thing a request does.
        if "started" in g:
            latency.observe(time.perf_counter() - g.started)
        for name, pool in pools():
            record_pool(name, pool)
        return response
