"""All SQL of "as of" reads: events as they stood at a past moment, from ``event_revisions``.

Every write reads the clock once and stamps it on the event row and on its revision: a
revision's ``recorded_at`` is the row's ``created_at`` (version 1) or ``updated_at`` (the
latest version). So an event whose row has ``updated_at <= T`` stood at T exactly as its
row stands now, indexes and all; only events written after T need their version at T
read back from the revisions. Any writer of ``events`` must keep that equality.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from service.db import Database
from service.storage.events import EventGone, EventNotFound, StoredEvent
from service.storage.rows import insert_statement, search_columns

# Session-local, dropped at the end of the transaction that made it.
CHANGED_TABLE = "events_as_of"
EVENTS = sql.Identifier("events")


class NotYetCreated(EventNotFound):
    """The event exists now but was created after the moment asked for."""


class TooManyChanges(Exception):
    """More updates and deletes were recorded after the moment than a search may replay."""

    def __init__(self, limit: int):
        super().__init__(limit)
        self.limit = limit


_VERSION_AT = """
    SELECT version, operation, body::text FROM event_revisions
    WHERE event_id = %(id)s AND recorded_at <= %(moment)s
    ORDER BY version DESC LIMIT 1
"""

# Updates and deletes only (event_revisions_changed_idx), bounded so that the check costs
# no more than the work it allows. Creations since need nothing: those events are left out.
_CHANGED_AFTER = """
    SELECT event_id FROM event_revisions
    WHERE recorded_at > %(moment)s AND operation <> 'create' LIMIT %(limit)s
"""

# The version each of those events had at the moment, if it existed then and was not
# deleted by then; created_at comes from the row, as the search sorts by it.
_VERSIONS_AT = """
    SELECT e.id, r.version, r.body::text, e.created_at, r.recorded_at
    FROM events AS e CROSS JOIN LATERAL (
        SELECT version, operation, body, recorded_at FROM event_revisions
        WHERE event_id = e.id AND recorded_at <= %(moment)s
        ORDER BY version DESC LIMIT 1
    ) AS r
    WHERE e.id = ANY(%(ids)s) AND e.created_at <= %(moment)s AND r.operation <> 'delete'
"""

_FILL = insert_statement(CHANGED_TABLE)


def version_at(db: Database, event_id: uuid.UUID, moment: dt.datetime) -> StoredEvent:
    """The version of an event that was current at ``moment``."""
    with db.connection() as conn:
        row = conn.execute(_VERSION_AT, {"id": event_id, "moment": moment}).fetchone()
        if row is None:
            exists = conn.execute("SELECT 1 FROM events WHERE id = %s", (event_id,)).fetchone()
            raise NotYetCreated(event_id) if exists else EventNotFound(event_id)
    version, operation, body = row
    if operation == "delete":
        raise EventGone(event_id)
    return StoredEvent(event_id, version, body)


def _changed_rows(
    conn: psycopg.Connection, moment: dt.datetime, max_changes: int
) -> Iterator[dict]:
    """Rows of ``events`` as they stood at ``moment``, for the events changed since."""
    changes = conn.execute(_CHANGED_AFTER, {"moment": moment, "limit": max_changes + 1}).fetchall()
    if len(changes) > max_changes:
        raise TooManyChanges(max_changes)
    ids = list({event_id for (event_id,) in changes})
    for event_id, version, body, created_at, recorded_at in conn.execute(
        _VERSIONS_AT, {"moment": moment, "ids": ids}
    ):
        yield search_columns(json.loads(body)) | {
            "id": event_id,
            "version": version,
            "body": body,
            "created_at": created_at,
            "updated_at": recorded_at,
        }


@contextmanager
def events_at(
    conn: psycopg.Connection, moment: dt.datetime | None, max_changes: int
) -> Iterator[sql.Composable]:
    """What a search reads FROM: ``events``, or the events as they stood at ``moment``.

    For a moment, the rows unchanged since come from ``events`` (its indexes serve
    them); the rows of events updated or deleted since are rebuilt from their revisions
    into a temporary table like ``events``; the two are read as one relation named
    ``events``, so the search's conditions and order apply to both unchanged. Both statements see
    one snapshot (REPEATABLE READ): a write committing between them would otherwise
    leave its event in neither part.
    """
    if moment is None:
        yield EVENTS
        return
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        # Its only writes are the temporary table's catalog rows, gone at commit: waiting
        # for the commit to reach disk would keep nothing safe (and cost 5.5 of 7.3 ms here).
        conn.execute("SET LOCAL synchronous_commit = off")
        rows = list(_changed_rows(conn, moment, max_changes))
        relation = EVENTS
        if rows:
            # Defaults and generated columns too: a column the INSERT leaves out gets in a
            # rebuilt row what it would get in events.
            conn.execute(
                sql.SQL(
                    "CREATE TEMPORARY TABLE {} (LIKE events INCLUDING DEFAULTS INCLUDING GENERATED)"
                    " ON COMMIT DROP"
                ).format(sql.Identifier(CHANGED_TABLE))
            )
            with conn.cursor() as cursor:
                cursor.executemany(_FILL, rows)
            # No condition on either branch: PostgreSQL flattens only a UNION ALL of
            # bare tables, and then serves an ordered LIMIT by merging index scans.
            relation = sql.SQL("(SELECT * FROM events UNION ALL SELECT * FROM {})").format(
                sql.Identifier(CHANGED_TABLE)
            )
        # A rebuilt row carries its version's own times, all at or before the moment, so
        # one condition keeps the rows of then from both: it drops the current rows of
        # events changed since (their versions of then are the rebuilt ones) and of
        # events created since.
        yield sql.SQL(
            "(SELECT * FROM {relation} AS stored"
            " WHERE created_at <= {moment} AND updated_at <= {moment}) AS events"
        ).format(relation=relation, moment=sql.Literal(moment))
