"""Apply the SQL files in ``service/migrations`` in order, once each.

A deliberately small runner, not a migration tool (plain SQL files need no more): it
records applied files in ``schema_migrations`` and holds a PostgreSQL advisory lock while
it works, so two processes starting at once apply each file exactly once. Everything
pending is applied in one transaction (each file in a savepoint with its bookkeeping
row): if a file fails, none of this run's files stay applied, and the database is as it
was.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant unique to this service; taken per transaction, released at commit.
_LOCK_ID = 0x6576_656E_7473  # "events"


def pending_files(directory: Path = MIGRATIONS) -> list[Path]:
    """The migration files, in the order they apply."""
    return sorted(directory.glob("*.sql"))


def migrate(conn: psycopg.Connection, directory: Path = MIGRATIONS) -> list[str]:
    """Apply what has not been applied; return the names applied now."""
    applied_now = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
        for path in pending_files(directory):
            if path.name in done:
                continue
            with conn.transaction():
                conn.execute(path.read_text())
                conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (path.name,))
            applied_now.append(path.name)
    return applied_now
