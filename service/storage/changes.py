"""All SQL of the change feed: every revision, in an order a consumer can follow forever.

Revisions are served in (txid, seq) order, and only those of transactions older than the
oldest one still running that may write here (``feed_horizon()``, migration 0100: the
oldest running transaction of the server, leaving out those of other databases, which
cannot write this one's revisions). Every transaction below that horizon has
ended, so no change can later appear behind a position already served: a later commit
always has a txid at or above the horizon. Ordering by ``seq`` alone would not do: a
transaction that took a lower ``seq`` can commit after a consumer has read a higher one.
Within one event, a write whose txid is older than the previous version's is refused and
retried (``WriteOrderConflict``), so each event's versions come in order.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from service.db import Database
from service.replica import get_read_db
from service.storage.events import REVISION_COLUMNS, revision_json


@dataclass(frozen=True, order=True)
class FeedPosition:
    """A place in the feed: after the revision ``seq`` of transaction ``txid``."""

    txid: int
    seq: int

    def __str__(self) -> str:
        return f"{self.txid}.{self.seq}"


FEED_START = FeedPosition(0, 0)


def revisions_after(conn: psycopg.Connection, after: FeedPosition, limit: int) -> list[tuple]:
    """Up to ``limit`` revisions past ``after`` in feed order: txid (text), seq, then
    REVISION_COLUMNS. Every reader of the feed (``/v1/changes``, the deliverer, the
    JetStream publisher) reads it here, so all see one order."""
    return conn.execute(
        f"SELECT txid::text, seq, {REVISION_COLUMNS} FROM event_revisions"
        " WHERE (txid, seq) > (%s::text::xid8, %s)"
        "   AND txid < (SELECT feed_horizon())"
        # Qualified: a bare `txid` here would name the output column, the text above, and
        # sort 1002 before 995 (a consumer crossing a power of ten got changes twice, or
        # skipped some).
        " ORDER BY event_revisions.txid, event_revisions.seq LIMIT %s",
        (str(after.txid), after.seq, limit),
    ).fetchall()


def revisions_of(conn: psycopg.Connection, keys: list[tuple]) -> list[tuple]:
    """The revisions with these (event id, version) keys, as ``revisions_after`` gives
    them (those that exist)."""
    if not keys:
        return []
    return conn.execute(
        f"SELECT txid::text, seq, {REVISION_COLUMNS} FROM event_revisions"
        " WHERE (event_id, version) IN (SELECT * FROM unnest(%s::uuid[], %s::int[]))",
        ([event_id for event_id, _ in keys], [version for _, version in keys]),
    ).fetchall()


def feed_now(conn: psycopg.Connection) -> FeedPosition:
    """The present: every change committed so far lies before it, every later one after."""
    horizon = conn.execute("SELECT feed_horizon()::text").fetchone()[0]
    # Transactions at or past the horizon may still commit; their changes have seq > 0.
    return FeedPosition(int(horizon), 0)


class ChangeStore:
    """Reads of the change feed."""

    def __init__(self, db: Database):
        self.db = db

    def page(self, after: FeedPosition, limit: int) -> tuple[list[str], FeedPosition]:
        """Up to ``limit`` changes past ``after`` as JSON text, and the position to go on from.

        With nothing new, the position is ``after`` itself: poll again with it.
        """
        with self.db.connection() as conn:
            rows = revisions_after(conn, after, limit)
        if not rows:
            return [], after
        return [revision_json(row[2:]) for row in rows], FeedPosition(int(rows[-1][0]), rows[-1][1])

    def now(self) -> FeedPosition:
        """The present: every change committed so far lies before it, every later one after."""
        with self.db.connection() as conn:
            return feed_now(conn)


def change_store() -> ChangeStore:
    """The change feed of the current app."""
    return ChangeStore(get_read_db())
