"""The PostgreSQL connection pool: one per process, created on first use, and what it does
when the database goes away and comes back.

Creating it lazily means gunicorn workers each build their own pool after the fork, and
commands that never touch the database (writing the spec) never connect or start one.

A database restart or crash leaves every pooled connection dead. psycopg_pool's own check
finds them one checkout at a time and backs off 1 s, 2 s, 4 s between failures, so a few
dead connections cost a request the whole pool timeout even once the database is back.
Here the first dead connection is the signal: one fresh connection (a probe) asks the
database whether it answers. If it does, every pooled connection is dropped at once
(``drain``); if not, the database is marked down and each request makes at most one quick
probe of its own and answers 503 at once instead of waiting for the pool. The first probe
that succeeds builds a new pool, so no reconnection attempt the old one left backing off
delays the requests after it.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from contextlib import contextmanager

import psycopg
from flask import Flask, current_app, g, has_request_context
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

_EXTENSION = "events_db_pool"
_PINNED = "events_db_pinned_connection"
log = logging.getLogger(__name__)


class DatabaseUnavailable(Exception):
    """The database does not accept a connection: a 503 now, rather than a pool timeout."""


def check_connection(conn: psycopg.Connection) -> None:
    """Raise if the server has dropped this idle pooled connection.

    An idle connection has nothing to read unless the server sent something: when a
    database restarts or terminates the backend, that is its FATAL message and EOF. So a
    poll of the socket (no round trip) tells a healthy connection from a dropped one, and
    only a readable one pays psycopg_pool's full check (a round trip), which raises for
    the dropped one. Checking every checkout with a round trip cost ~85 µs a request
    (see docs/performance.md).
    """
    if conn.closed:
        raise psycopg.OperationalError("connection is closed")
    # poll, not select: select fails on descriptors past 1023, which a busy worker reaches.
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    if poller.poll(0):
        ConnectionPool.check_connection(conn)


class Database:
    """Owns one ``ConnectionPool`` for one database URL and hands out connections from it.

    Each instance keeps its own breaker, so a second database (a read replica) going down
    does not fail requests that only need the first.
    """

    # libpq's shortest connect timeout (it raises 1 to 2): how long a probe may wait for a
    # host that drops packets. A stopped server refuses at once.
    PROBE_CONNECT_TIMEOUT = 2

    def __init__(
        self,
        app: Flask,
        url_setting: str = "DATABASE_URL",
        timeout_setting: str = "DATABASE_POOL_TIMEOUT",
    ):
        """``url_setting`` and ``timeout_setting`` name the settings of the server it
        connects to: the primary's by default, a read replica's for ``service.replica``."""
        self.app = app
        self.url_setting, self.timeout_setting = url_setting, timeout_setting
        self.pool: ConnectionPool | None = None
        # Reentrant: `url` may start the embedded server while a new pool is being made.
        self._lock = threading.RLock()
        # Until a probe has succeeded the database is not known to answer: the first
        # request probes before any pool exists, so a server down at start fails fast too.
        self._down = True
        # When the pooled connections were last all dropped (drain or new pool): a dead
        # connection taken before then needs no second drain.
        self._dropped_at = 0.0

    @property
    def url(self) -> str:
        """The database's URL; without DATABASE_URL, the embedded server's (started here)."""
        config = self.app.config
        if not config[self.url_setting]:
            with self._lock:
                if not config[self.url_setting]:
                    # Development only: the embedded server ships in the `dev` extra.
                    from service import embedded_postgres

                    config[self.url_setting] = embedded_postgres.start(self.app.instance_path)
        return config[self.url_setting]

    def _create_pool(self) -> ConnectionPool:
        config = self.app.config
        pool = ConnectionPool(
            self.url,
            min_size=config["DATABASE_POOL_MIN_SIZE"],
            max_size=config["DATABASE_POOL_MAX_SIZE"],
            timeout=config[self.timeout_setting],
            # No check= here: `_checkout` checks each connection itself, so that a dead
            # one drops them all instead of the pool's one-by-one retries with backoff.
            kwargs={
                "connect_timeout": config["DATABASE_CONNECT_TIMEOUT"],
                # No JIT: compiling a query whose estimated cost passes jit_above_cost
                # adds ~20 ms to a search that runs in a few (deep relevance pages at
                # millions of events reach it); the service's queries are short.
                "options": f"-c statement_timeout={config['DATABASE_STATEMENT_TIMEOUT_MS']}"
                " -c jit=off",
                "application_name": "events-service",
                # A read is one statement and needs no BEGIN/COMMIT round trips; writes
                # open their own transactions (`conn.transaction()`).
                "autocommit": True,
            },
            open=False,
            name="events",
        )
        pool.open(wait=False)
        return pool

    def answers(self) -> bool:
        """Whether the database accepts a fresh connection now (one attempt, not pooled)."""
        try:
            with psycopg.connect(
                self.url,
                connect_timeout=self.PROBE_CONNECT_TIMEOUT,
                application_name="events-service-probe",
                autocommit=True,
            ):
                return True
        except psycopg.Error:
            return False

    @contextmanager
    def connection(self):
        """A pooled connection in autocommit mode: wrap writes in ``conn.transaction()``.

        Inside ``request_transaction`` it is that transaction's connection. Raises
        ``DatabaseUnavailable`` at once while the database does not answer.
        """
        pinned = g.get(_PINNED) if has_request_context() else None
        if pinned is not None:
            yield pinned
            return
        pool, conn, taken_at = self._checkout()
        try:
            with conn:
                yield conn
        except psycopg.OperationalError:
            # Lost mid-request (a statement timeout leaves the connection open).
            if conn.closed:
                self._connection_lost(taken_at)
            raise
        finally:
            pool.putconn(conn)

    def _current_pool(self) -> ConnectionPool:
        """The pool, once the database has answered a probe since it was last seen down."""
        if self._down:
            if not self.answers():
                raise DatabaseUnavailable("the database does not accept connections")
            with self._lock:
                if self._down:
                    recovering = self.pool is not None
                    self._replace_pool()
                    self._down = False
                    log.log(
                        logging.WARNING if recovering else logging.INFO,
                        "database %s answers: serving from a new pool",
                        self._name,
                    )
        return self.pool

    def _checkout(self) -> tuple[ConnectionPool, psycopg.Connection, float]:
        """A live connection from the pool, with the pool and the time it was asked for."""
        for attempt in (1, 2):
            pool = self._current_pool()
            taken_at = time.monotonic()
            try:
                conn = pool.getconn()
            except PoolTimeout:
                # Busy (nothing to drop), or its connections are gone and it cannot make
                # new ones: then later requests fail fast.
                self._answers_or_mark_down()
                raise
            try:
                check_connection(conn)
            except psycopg.OperationalError:
                pool.putconn(conn)  # closed: the pool discards it and opens another
                if not self._connection_lost(taken_at) or attempt == 2:
                    raise
                continue
            return pool, conn, taken_at
        raise AssertionError("unreachable")

    def _connection_lost(self, taken_at: float) -> bool:
        """A pooled connection was found dead: drop them all if the database answers,
        else mark it down. Whether it answers."""
        if self._dropped_at >= taken_at:
            return True  # another request has dropped them since this one was taken
        if not self._answers_or_mark_down():
            return False
        with self._lock:
            if self._dropped_at < taken_at and self.pool is not None:
                log.warning(
                    "database %s answers after a lost connection (a restart?): "
                    "dropping every pooled connection",
                    self._name,
                )
                self.pool.drain()
                self._dropped_at = time.monotonic()
        return True

    def _answers_or_mark_down(self) -> bool:
        """Probe; when the database does not answer, fail requests fast until it does."""
        if self.answers():
            return True
        with self._lock:
            if not self._down:
                log.warning("database %s does not answer: failing fast until it does", self._name)
            self._down = True
        return False

    def _replace_pool(self) -> None:
        """A new pool in place of the old one, which closes in the background (held lock)."""
        old, self.pool = self.pool, self._create_pool()
        self._dropped_at = time.monotonic()
        if old is not None:
            # Connections still checked out of it are closed when they are returned.
            threading.Thread(target=old.close, name="events-old-pool-close", daemon=True).start()

    @property
    def _name(self) -> str:
        """Host and database, for logs (never the password)."""
        params = conninfo_to_dict(self.url)
        return f"{params.get('host', 'local')}/{params.get('dbname', '')}"

    @contextmanager
    def request_transaction(self):
        """One connection and one transaction for everything this request does in it.

        Storage calls made meanwhile run inside it (their own transactions become
        savepoints), so an Idempotency-Key's record and the write it guards commit or roll
        back together.
        """
        with self.connection() as conn, conn.transaction():
            g.setdefault(_PINNED, conn)
            try:
                yield conn
            finally:
                g.pop(_PINNED, None)

    def close(self) -> None:
        """Close the pool (tests, shutdown)."""
        with self._lock:
            pool, self.pool, self._down = self.pool, None, True
        if pool is not None:
            pool.close()


def init_app(app: Flask) -> Database:
    """Bind a pool to ``app``."""
    database = Database(app)
    app.extensions[_EXTENSION] = database
    return database


def get_db() -> Database:
    """The current app's database."""
    return current_app.extensions[_EXTENSION]
