"""All SQL the service runs about itself: readiness, and the metrics' counts."""

from __future__ import annotations

from service.db import Database


def check_ready(db: Database) -> None:
    """Raise unless the database answers a query (through the pool, as requests do)."""
    with db.connection() as conn:
        conn.execute("SELECT 1")


def live_events_by_type(db: Database) -> dict[str, int]:
    """Live (not deleted) events per type: an index-only scan of ``events_type_idx``."""
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT type, count(*) FROM events WHERE deleted_at IS NULL GROUP BY type"
        )
        return dict(rows.fetchall())


def replay_lag_seconds(db: Database) -> float:
    """How long ago the last transaction a standby has replayed committed on the primary.

    It is the lag while the primary writes; while it is idle it grows with no lag at all.
    0 when the server is not a standby.
    """
    with db.connection() as conn:
        return conn.execute(
            "SELECT CASE WHEN pg_is_in_recovery() THEN coalesce("
            "extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) ELSE 0 END"
        ).fetchone()[0]
