"""Reads a streaming replica may serve: search, facets, export, actors, the change feed.

With ``DATABASE_READ_URL`` set, those reads take a connection from a second ``Database``
(a pool on the replica); without it, from the primary's. Everything else stays on the
primary: writes, reads by id (a client reads what it has just written), anything under
``If-Match``, and ``as_of`` reads (they create a temporary table, which a standby cannot).

When the replica does not answer (its ``Database`` finds it down, or gives no connection
within ``DATABASE_READ_POOL_TIMEOUT``),
the read goes to the primary, and so does every read for the next
``DATABASE_READ_RETRY_SECONDS``; then the replica is tried again. A client sees a slower
answer, never an error of the replica's; ``events_db_read_fallbacks_total`` counts them.
A replica that answers but lags serves what it has replayed: a search may miss an event
created a moment ago on the primary (``events_db_replica_lag_seconds`` shows how far).
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import ExitStack, contextmanager

import psycopg
from flask import Flask, current_app
from psycopg_pool import PoolTimeout

from service.db import Database, DatabaseUnavailable, get_db
from service.metrics import instruments
from service.storage.stats import replay_lag_seconds

_EXTENSION = "events_read_db"
# What getting a replica connection raises when it does not answer: its breaker's fast
# refusal (Database marks it down), a failed connection, or no connection in time.
REPLICA_UNAVAILABLE = (DatabaseUnavailable, psycopg.OperationalError, PoolTimeout)
log = logging.getLogger(__name__)


class ReadDatabase:
    """Connections for replica-safe reads: the replica's while it answers, else the primary's."""

    def __init__(self, replica: Database, primary: Database, retry_seconds: float):
        self.replica, self.primary = replica, primary
        self.retry_seconds = retry_seconds
        self._down_until = 0.0
        self._lock = threading.Lock()

    def replica_down(self) -> bool:
        """Whether reads skip the replica for now (it failed less than a retry ago)."""
        return time.monotonic() < self._down_until

    def _mark_down(self, error: Exception) -> None:
        with self._lock:
            if not self.replica_down():
                log.warning(
                    "read replica unavailable, reading from the primary for %s s: %s",
                    self.retry_seconds,
                    error,
                )
            self._down_until = time.monotonic() + self.retry_seconds

    @contextmanager
    def connection(self):
        """A connection in autocommit mode for a read that tolerates replication lag.

        Inside a request's transaction (``Database.request_transaction``) it is that
        transaction's connection, on the primary: a write's own reads see its writes.
        """
        with ExitStack() as stack:
            conn = None
            if not self.replica_down():
                try:
                    conn = stack.enter_context(self.replica.connection())
                except REPLICA_UNAVAILABLE as error:
                    self._mark_down(error)
            if conn is None:
                instruments().read_fallbacks.inc()
                conn = stack.enter_context(self.primary.connection())
            yield conn

    def replay_lag(self) -> float | None:
        """The replica's replay lag in seconds (``stats.replay_lag_seconds``); None while it
        is unreachable."""
        if self.replica_down():
            return None
        try:
            return replay_lag_seconds(self.replica)
        except REPLICA_UNAVAILABLE as error:
            self._mark_down(error)
            return None

    def close(self) -> None:
        """Close the replica's pool (the primary's is closed by its owner)."""
        self.replica.close()


def init_app(app: Flask, primary: Database) -> ReadDatabase | None:
    """A pool on ``DATABASE_READ_URL`` for ``app``, if it is set; ``primary`` otherwise."""
    if not app.config["DATABASE_READ_URL"]:
        return None
    read = ReadDatabase(
        Database(
            app, url_setting="DATABASE_READ_URL", timeout_setting="DATABASE_READ_POOL_TIMEOUT"
        ),
        primary,
        app.config["DATABASE_READ_RETRY_SECONDS"],
    )
    app.extensions[_EXTENSION] = read
    return read


def get_replica() -> ReadDatabase | None:
    """The current app's replica reads, if it has a replica."""
    return current_app.extensions.get(_EXTENSION)


def get_read_db() -> ReadDatabase | Database:
    """Where the current app reads what a replica may serve: the replica, or the primary."""
    return get_replica() or get_db()


def pools(app: Flask):
    """The (name, pool) pairs of ``app`` open in this process, for the metrics."""
    primary = app.extensions.get("events_db_pool")
    if primary is not None and primary.pool is not None:
        yield "primary", primary.pool
    read = app.extensions.get(_EXTENSION)
    if read is not None and read.replica.pool is not None:
        yield "read", read.replica.pool
