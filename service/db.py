"""The PostgreSQL connection pool: one per process, created on first use.

Creating it lazily means gunicorn workers each build their own pool after the fork, and
commands that never touch the database (writing the spec) never connect or start one.
"""

from __future__ import annotations

import select
import threading
from contextlib import contextmanager

import psycopg
from flask import Flask, current_app, g, has_request_context
from psycopg_pool import ConnectionPool

_EXTENSION = "events_db_pool"
_PINNED = "events_db_pinned_connection"


def check_connection(conn: psycopg.Connection) -> None:
    """Raise if the server has dropped this idle pooled connection; replaces it early.

    An idle connection has nothing to read unless the server sent something: when a
    database restarts or terminates the backend, that is its FATAL message and EOF. So a
    poll of the socket (no round trip) tells a healthy connection from a dropped one, and
    only a readable one pays psycopg_pool's full check (a round trip), which raises for
    the dropped one. Checking every checkout with a round trip cost ~85 µs a request
    (see the README's benchmark notes).
    """
    if conn.closed:
        raise psycopg.OperationalError("connection is closed")
    # poll, not select: select fails on descriptors past 1023, which a busy worker reaches.
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    if poller.poll(0):
        ConnectionPool.check_connection(conn)


class Database:
    """Owns one ``ConnectionPool`` for an app and hands out connections from it.

    ``url_setting`` and ``timeout_setting`` name the settings of the server it connects
    to: the primary's by default, a read replica's for ``service.replica``.
    """

    def __init__(self, app: Flask, url_setting: str = "DATABASE_URL",
                 timeout_setting: str = "DATABASE_POOL_TIMEOUT"):
        self.app = app
        self.url_setting, self.timeout_setting = url_setting, timeout_setting
        self.pool: ConnectionPool | None = None
        self._lock = threading.Lock()

    def _create_pool(self) -> ConnectionPool:
        config = self.app.config
        if not config[self.url_setting]:
            # Development only: the embedded server ships in the `dev` extra.
            from service import embedded_postgres

            config[self.url_setting] = embedded_postgres.start(self.app.instance_path)
        pool = ConnectionPool(
            config[self.url_setting],
            min_size=config["DATABASE_POOL_MIN_SIZE"],
            max_size=config["DATABASE_POOL_MAX_SIZE"],
            timeout=config[self.timeout_setting],
            # A connection that died with a database restart is replaced, not handed out.
            check=check_connection,
            kwargs={
                "connect_timeout": config["DATABASE_CONNECT_TIMEOUT"],
                "options": f"-c statement_timeout={config['DATABASE_STATEMENT_TIMEOUT_MS']}",
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

    @contextmanager
    def connection(self):
        """A pooled connection in autocommit mode: wrap writes in ``conn.transaction()``.

        Inside ``request_transaction`` it is that transaction's connection.
        """
        pinned = g.get(_PINNED) if has_request_context() else None
        if pinned is not None:
            yield pinned
            return
        if self.pool is None:
            with self._lock:
                if self.pool is None:
                    self.pool = self._create_pool()
        with self.pool.connection() as conn:
            yield conn

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
        if self.pool is not None:
            self.pool.close()
            self.pool = None


def init_app(app: Flask) -> Database:
    """Bind a pool to ``app``."""
    database = Database(app)
    app.extensions[_EXTENSION] = database
    return database


def get_db() -> Database:
    """The current app's database."""
    return current_app.extensions[_EXTENSION]
