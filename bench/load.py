"""A benchmark database: created on the server of DATABASE_URL, migrated, filled by COPY.

Rows are made by the service's own code (``event_body``, ``search_columns``, the SQL of
the ``search`` vector), so they are what the service would have stored; the tables its
triggers keep (``event_actors``, the facet counts of migration 0071) are filled by the
functions those triggers call, so they hold what the triggers would have stored.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import time
import uuid
from collections.abc import Iterator

import psycopg
from psycopg import conninfo, sql

from bench.generate import EventFactory
from service.migrate import migrate, pending_files
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
# Events per chunk: one worker's COPY and INSERT, one transaction.
CHUNK = 20_000
WORKERS = os.cpu_count() or 1
COLUMNS = ("id", "version", "body", *INDEXED_COLUMNS, "created_at", "updated_at")


def is_local(host: str) -> bool:
    """Whether a libpq ``host`` is this machine: a loopback name or address, or a unix
    socket directory (an absolute path, as the embedded server of the tests is reached)."""
    return host in LOOPBACK or host.startswith("/")


def database_url(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server_url`` (this machine only)."""
    params = conninfo.conninfo_to_dict(server_url)
    if not is_local(params.get("host", "localhost")):
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


def _mark(count: int, seed: int) -> str:
    # What a kept database says it holds: a load of another size, seed or schema is not it.
    migrations = ",".join(path.name for path in pending_files())
    return f"bench load: {count} events, seed {seed}, migrations {migrations}"


def kept(server_url: str, name: str, count: int, seed: int = 2025, progress=print):
    """Database ``name`` holding ``count`` events, kept for later runs: (its URL, seconds
    the load took, or None when a finished load of the same size, seed and migrations was
    already there and is reused as it is)."""
    url = database_url(server_url, name)
    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as admin:
        found = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    if found is not None and found[0] == _mark(count, seed):
        return url, None
    create(server_url, name)
    seconds = fill(url, count, seed, progress)
    # Marked only once the load has finished: an interrupted one is loaded again.
    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as admin:
        admin.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(_mark(count, seed))
            )
        )
    return url, seconds


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


START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def chunk_rows(seed: int, first: int, size: int, count: int) -> Iterator[tuple]:
    """Rows ``first`` to ``first + size`` of a set of ``count``: a chunk made on its own (its
    generator seeded by ``seed`` and ``first``), so that chunks are made in parallel and a
    seed still gives the same events. created_at rises through the set, as if ingested
    over a year."""
    step = dt.timedelta(days=365) / max(count, 1)
    for n, event in enumerate(EventFactory(seed * 1_000_000_007 + first).events(size), first):
        yield row(event, START + step * n)


_COLUMNS_SQL = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
_VECTOR_SQL = sql.SQL(search_vector_sql("title", "text"))


def create_staging(conn: psycopg.Connection) -> None:
    """The temporary table rows are COPYed into before they are inserted."""
    conn.execute(
        # Compressed here, a value would be copied into events still compressed, where the
        # service would have stored it plain (0012's toast_tuple_target): staging compresses
        # only what no page could hold.
        sql.SQL(
            "CREATE TEMP TABLE staging WITH (toast_tuple_target = 8160)"
            " AS SELECT {columns} FROM events WITH NO DATA"
        ).format(columns=_COLUMNS_SQL)
    )
    conn.execute("ALTER TABLE staging ADD COLUMN title text, ADD COLUMN text text")


def _copy_staging(conn: psycopg.Connection, rows) -> None:
    with conn.cursor().copy(
        sql.SQL("COPY staging ({columns}, title, text) FROM STDIN").format(columns=_COLUMNS_SQL)
    ) as copy:
        for staged in rows:
            copy.write_row(staged)


def _insert_staged(conn: psycopg.Connection) -> None:
    conn.execute(
        sql.SQL(
            "INSERT INTO events ({columns}, search) SELECT {columns}, {vector} FROM staging"
        ).format(columns=_COLUMNS_SQL, vector=_VECTOR_SQL)
    )
    conn.execute(
        "INSERT INTO event_revisions (event_id, version, operation, body,"
        " recorded_at) SELECT id, 1, 'create', body, created_at FROM staging"
    )


def copy_rows(conn: psycopg.Connection, rows) -> None:
    """COPY rows (from ``row``) into staging, then into events and event_revisions, as
    any write would (the actors trigger runs for each row)."""
    _copy_staging(conn, rows)
    _insert_staged(conn)
    conn.execute("TRUNCATE staging")


def _load_chunk(task: tuple[str, int, int, int, int]) -> int:
    """Load one chunk on a connection of its own (run in a worker process).

    The actors trigger is off for this session (``session_replication_role = replica``,
    which also skips the foreign-key checks of rows made consistent here): the chunk's
    event_actors rows are inserted in one statement by the function the trigger calls, so
    they are what it would have stored.
    """
    url, seed, first, size, count = task
    with psycopg.connect(url) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET synchronous_commit = off")
        create_staging(conn)
        _copy_staging(conn, chunk_rows(seed, first, size, count))
        _insert_staged(conn)
        conn.execute(
            "INSERT INTO event_actors (event_id, name_key, name, kind, country)"
            " SELECT a.* FROM staging, event_actor_rows(staging.id, staging.body) AS a"
        )
    return size


def _build_index(task: tuple[str, str]) -> str:
    url, definition = task
    with psycopg.connect(url, autocommit=True) as conn:
        # Two builds at once (one per worker) share what one was given before.
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute(definition)
    return definition


def _secondary_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    # Indexes that back no constraint: dropped during the load, rebuilt from their own
    # definitions after it (much faster than maintaining them row by row).
    return conn.execute("""
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = 'public' AND i.tablename IN ('events', 'event_actors',
                                                          'event_revisions')
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
    """).fetchall()


def fill(url: str, count: int, seed: int = 2025, progress=print, workers: int = WORKERS) -> float:
    """Insert ``count`` synthetic events (with their revisions, actors and facet counts);
    returns seconds.

    Chunks are made and loaded by ``workers`` processes at once, each COPYing into its own
    staging table and inserting from it; the secondary indexes are dropped first and
    rebuilt after, ``workers`` at a time.
    """
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        indexes = _secondary_indexes(conn)
        for name, _ in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    chunks = [
        (url, seed, first, min(CHUNK, count - first), count) for first in range(0, count, CHUNK)
    ]
    # spawn: a forked worker would inherit the caller's threads and open connections.
    with multiprocessing.get_context("spawn").Pool(max(1, min(workers, len(chunks)))) as pool:
        done = 0
        for size in pool.imap_unordered(_load_chunk, chunks):
            done += size
            progress(f"  loaded {done:,}/{count:,} events ({time.perf_counter() - started:.0f} s)")
        for definition in pool.imap_unordered(
            _build_index, [(url, definition) for _, definition in indexes]
        ):
            progress(f"  {definition.split(' ON ')[0]} ({time.perf_counter() - started:.0f} s)")
    with psycopg.connect(url, autocommit=True) as conn:
        # The facet counts the triggers would have kept, counted once from the rows.
        conn.execute("SET work_mem = '256MB'")
        conn.execute("SELECT facet_buckets_count_all()")
        progress(f"  facet counts ({time.perf_counter() - started:.0f} s)")
        conn.execute("VACUUM (ANALYZE) events, event_actors, event_revisions, facet_buckets")
    return time.perf_counter() - started
