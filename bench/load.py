"""A benchmark database: created on the server of DATABASE_URL, migrated, filled by COPY.

Rows are made by the service's own code (``event_body``, ``search_columns``, the SQL of
the ``search`` vector), so they are what the service would have stored; the
``event_actors`` trigger fills its table as for any write.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import time
import uuid
from collections.abc import Iterator

import psycopg
from psycopg import conninfo, sql

from bench.generate import EventFactory
from service.migrate import migrate
from service.storage.rows import (
    INDEXED_COLUMNS,
    event_body,
    search_columns,
    search_vector_sql,
    timestamp,
)

# Databases the benchmark must never write to, whatever it is told.
PROTECTED = {"postgres", "test", "root", "template0", "template1"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CHUNK = 50_000
COLUMNS = ("id", "version", "body", *INDEXED_COLUMNS, "created_at", "updated_at")


def database_url(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server_url`` (loopback only)."""
    params = conninfo.conninfo_to_dict(server_url)
    if params.get("host", "localhost") not in LOOPBACK:
        raise SystemExit(f"refusing a non-loopback database host: {params.get('host')}")
    if name in PROTECTED:
        raise SystemExit(f"refusing to use database {name!r}")
    params["dbname"] = name
    return conninfo.make_conninfo(**params)


def create(server_url: str, name: str) -> str:
    """A fresh, migrated database ``name`` (dropped first if a previous run left it)."""
    url = database_url(server_url, name)
    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(url) as conn:
        migrate(conn)
    return url


def drop(server_url: str, name: str) -> None:
    """Drop the benchmark database."""
    database_url(server_url, name)  # the same refusals
    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def server_url(database: str) -> str:
    """DATABASE_URL, the server a benchmark makes ``database`` on; or exit saying so."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit(
            "Set DATABASE_URL to a PostgreSQL server on 127.0.0.1 (its "
            f"{database} database is created and dropped)."
        )
    return url


@contextlib.contextmanager
def scratch_database(server: str, name: str) -> Iterator[str]:
    """A fresh, migrated database ``name`` for the duration of the block, then dropped."""
    url = create(server, name)
    try:
        yield url
    finally:
        drop(server, name)


def row(event: dict, created: dt.datetime) -> tuple:
    """The staged row of one new event: COLUMNS, then the title and text of its vector."""
    event_id = uuid.uuid4()
    body = event_body(event_id, event, 1, timestamp(created), timestamp(created))
    columns = search_columns(event)
    return (
        event_id,
        1,
        body,
        *(columns[name] for name in INDEXED_COLUMNS),
        created,
        created,
        columns["title"],
        columns["text"],
    )


def _rows(count: int, seed: int):
    # created_at rises through the set, as if ingested over a year.
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    step = dt.timedelta(days=365) / max(count, 1)
    for n, event in enumerate(EventFactory(seed).events(count)):
        yield row(event, start + step * n)


_COLUMNS_SQL = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))


def create_staging(conn: psycopg.Connection) -> None:
    """The temporary table rows are COPYed into before they are inserted."""
    conn.execute(
        sql.SQL("CREATE TEMP TABLE staging AS SELECT {columns} FROM events WITH NO DATA").format(
            columns=_COLUMNS_SQL
        )
    )
    conn.execute("ALTER TABLE staging ADD COLUMN title text, ADD COLUMN text text")


def copy_rows(conn: psycopg.Connection, rows) -> None:
    """COPY rows (from ``row``) into staging, then into events and event_revisions."""
    with conn.cursor().copy(
        sql.SQL("COPY staging ({columns}, title, text) FROM STDIN").format(columns=_COLUMNS_SQL)
    ) as copy:
        for staged in rows:
            copy.write_row(staged)
    conn.execute(
        sql.SQL(
            "INSERT INTO events ({columns}, search) SELECT {columns}, {vector} FROM staging"
        ).format(columns=_COLUMNS_SQL, vector=sql.SQL(search_vector_sql("title", "text")))
    )
    conn.execute(
        "INSERT INTO event_revisions (event_id, version, operation, body,"
        " recorded_at) SELECT id, 1, 'create', body, created_at FROM staging"
    )
    conn.execute("TRUNCATE staging")


def _secondary_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    # Indexes that back no constraint: dropped during the load, rebuilt from their own
    # definitions after it (much faster than maintaining them row by row).
    return conn.execute("""
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = 'public' AND i.tablename IN ('events', 'event_actors',
                                                          'event_revisions')
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
    """).fetchall()


def fill(url: str, count: int, seed: int = 2025, progress=print) -> float:
    """Insert ``count`` synthetic events (and their revisions); returns seconds taken."""
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        indexes = _secondary_indexes(conn)
        for name, _ in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        create_staging(conn)
        rows = _rows(count, seed)
        done = 0
        while done < count:
            size = min(CHUNK, count - done)
            copy_rows(conn, itertools.islice(rows, size))
            conn.commit()
            done += size
            progress(f"  loaded {done:,}/{count:,} events ({time.perf_counter() - started:.0f} s)")
        conn.execute("SET maintenance_work_mem = '512MB'")
        for name, definition in indexes:
            conn.execute(definition)
            conn.commit()
            progress(f"  index {name} ({time.perf_counter() - started:.0f} s)")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) events, event_actors, event_revisions")
    return time.perf_counter() - started
