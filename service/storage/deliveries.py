"""All SQL of deliveries: which changes of the feed a subscription's filter takes, and
the record of each change handed to a subscription (delivered, waiting, failed).

A filter is the search's own WHERE clause (``search_query.build``), run over the
changes' versions instead of over ``events``: each revision is turned into the row
``events`` would hold for it (``rows.search_columns``, as every writer does), so a
subscription takes exactly the changes whose versions a search would find.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.range import Range

from service.storage import search_query
from service.storage.changes import FeedPosition, revisions_after, revisions_of
from service.storage.rows import search_columns, search_vector_sql


class DeliveryNotFound(Exception):
    """No delivery with this id for this subscription."""


class NotRetryable(Exception):
    """The delivery went through already, or its subscription is disabled."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Change:
    """One change of the feed, as a deliverer sends it."""

    position: FeedPosition
    event_id: uuid.UUID
    version: int
    operation: str
    recorded_at: dt.datetime
    written_by: str | None
    body: str  # the event as that version stored it (a delete's: the tombstone)

    @property
    def id(self) -> str:
        """The change's id: its feed position, which `/v1/changes?after=` resumes from."""
        return str(self.position)

    @property
    def kind(self) -> str:
        return json.loads(self.body)["type"]


def _change(row: tuple) -> Change:
    txid, seq, event_id, version, operation, recorded_at, written_by, body = row
    return Change(
        FeedPosition(int(txid), seq), event_id, version, operation, recorded_at, written_by, body
    )


def changes_after(
    conn: psycopg.Connection, after: FeedPosition, limit: int
) -> tuple[list[Change], FeedPosition]:
    """Up to ``limit`` changes past ``after``, and the position they reach."""
    changes = [_change(row) for row in revisions_after(conn, after, limit)]
    return changes, changes[-1].position if changes else after


def _sql_value(value):
    """A search column's value as JSON that ``jsonb_populate_recordset`` reads back."""
    if isinstance(value, Range):
        lower = "" if value.lower is None else value.lower.isoformat()
        upper = "" if value.upper is None else value.upper.isoformat()
        return f"{value.bounds[0]}{lower},{upper}{value.bounds[1]}"
    return value


class RowCache:
    """The ``events`` row of recent versions, by feed position: every subscription reads
    the same changes at about the same time, so each is derived once, not once each."""

    def __init__(self, size: int = 20_000):
        self.size = size
        self._rows: OrderedDict[FeedPosition, dict] = OrderedDict()

    def row(self, change: Change) -> dict:
        row = self._rows.get(change.position)
        if row is None:
            event = json.loads(change.body)
            columns = search_columns(event)
            row = {name: _sql_value(value) for name, value in columns.items()}
            row |= {"id": str(change.event_id), "version": change.version}
            self._rows[change.position] = row
            if len(self._rows) > self.size:
                self._rows.popitem(last=False)
        return row


# The search vector is derived only where the filter has `q` (to_tsvector is the
# dearest part), with the very expression the events table stores.
_WITH_VECTOR = sql.SQL(
    "SELECT jsonb_agg(j || jsonb_build_object('search', ({vector})::text))"
    " FROM jsonb_array_elements(%(candidates)s::jsonb) AS j"
).format(vector=sql.SQL(search_vector_sql("(j->>'title')", "(j->>'text')")))


def matching(
    conn: psycopg.Connection, changes: list[Change], filter_args: dict, rows: RowCache
) -> list[Change]:
    """The changes whose version a search with ``filter_args`` would find (all: no filter),
    and the updates that made an event leave it.

    A delete is judged by the version it deleted (its tombstone's content): the one a
    search found until then. An update whose version the filter does not take is still
    delivered when the version before it was taken (as GitHub delivers the edit that
    takes an issue out of a label): a subscriber that holds the earlier version learns
    it changed, and by its own filter that it left. The update after that one is not.
    """
    if not filter_args or not changes:
        return list(changes)
    found = _found(conn, changes, filter_args, rows)
    left = [
        c
        for c in changes
        if c.operation == "update" and (c.event_id, c.version) not in found and c.version > 1
    ]
    if left:
        before = [
            _change(row) for row in revisions_of(conn, [(c.event_id, c.version - 1) for c in left])
        ]
        taken_before = _found(conn, before, filter_args, rows)
        found |= {
            (c.event_id, c.version) for c in left if (c.event_id, c.version - 1) in taken_before
        }
    return [c for c in changes if (c.event_id, c.version) in found]


def _found(
    conn: psycopg.Connection, changes: list[Change], filter_args: dict, rows: RowCache
) -> set[tuple[uuid.UUID, int]]:
    """The (event id, version) of those of ``changes`` that the filter takes."""
    if not changes:
        return set()
    query = search_query.build(filter_args)
    candidates = sql.SQL("%(candidates)s::jsonb")
    if "q" in filter_args:
        candidates = sql.SQL("({})").format(_WITH_VECTOR)
    statement = sql.SQL(
        "SELECT events.id, events.version"
        " FROM jsonb_populate_recordset(NULL::events, {candidates}) AS events WHERE {where}"
    ).format(candidates=candidates, where=query.where)
    # default=str: the registry's actor ids are uuids, which jsonb takes back as text.
    candidates_json = json.dumps([rows.row(c) for c in changes], default=str)
    params = query.params | {"candidates": candidates_json}
    return {(event_id, version) for event_id, version in conn.execute(statement, params)}


# -- the record of deliveries -------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What became of one change handed to a subscription."""

    change: Change
    status: str  # delivered | pending
    attempts: int
    status_code: int | None = None
    error: str | None = None
    attempted_at: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None


def commit_without_waiting_for_disk(conn: psycopg.Connection) -> None:
    """Let this transaction's commit return before its WAL is flushed to disk.

    For the deliverer's records only: what a crash of PostgreSQL can lose then is the
    last fraction of a second of recorded deliveries, each with the position move it came
    with (the WAL is replayed in order), so the subscription stands where it stood before
    them and those changes are delivered again — at least once, as ever. What it buys: the
    deliverer's hundreds of commits a second no longer queue for the WAL flush that the
    event writers wait for (the write path's latency, bench/webhooks.py)."""
    conn.execute("SET LOCAL synchronous_commit = off")


def _columns(rows) -> list[list]:
    """Rows (tuples of one width) as one list per column: the arrays that ``unnest``
    turns back into rows, so that a batch is one statement, not one per row."""
    return [list(column) for column in zip(*rows, strict=True)]


def record(conn: psycopg.Connection, subscription_id: uuid.UUID, outcomes: list[Outcome]) -> None:
    """Store the outcomes of new changes (in the transaction that advances the position).

    One statement for the whole batch (arrays, unnested), not one per row: at ten
    subscriptions the deliverer records thousands of rows a second."""
    if not outcomes:
        return
    columns = _columns(
        (
            str(o.change.position.txid),
            o.change.position.seq,
            o.change.event_id,
            o.change.version,
            o.change.operation,
            o.status,
            o.attempts,
            o.status_code,
            o.error,
            o.attempted_at,
            o.next_attempt_at,
            o.attempted_at if o.status == "delivered" else None,
        )
        for o in outcomes
    )
    conn.execute(
        "INSERT INTO deliveries (subscription_id, change_txid, change_seq, event_id,"
        " version, operation, status, attempts, last_status_code, last_error,"
        " last_attempt_at, next_attempt_at, delivered_at)"
        " SELECT %s, txid::xid8, seq, event_id, version, operation, status, attempts,"
        "   last_status_code, last_error, last_attempt_at, next_attempt_at, delivered_at"
        " FROM unnest(%s::text[], %s::bigint[], %s::uuid[], %s::int[], %s::text[],"
        "   %s::text[], %s::int[], %s::int[], %s::text[], %s::timestamptz[],"
        "   %s::timestamptz[], %s::timestamptz[])"
        "   AS o(txid, seq, event_id, version, operation, status, attempts,"
        "   last_status_code, last_error, last_attempt_at, next_attempt_at, delivered_at)"
        " ON CONFLICT (subscription_id, change_seq) DO NOTHING",
        (subscription_id, *columns),
    )


def waiting_events(
    conn: psycopg.Connection, subscription_id: uuid.UUID, event_ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``event_ids`` with an earlier change not yet delivered: their next changes
    queue behind it, so that no version arrives before the one it follows."""
    return {
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT event_id FROM deliveries WHERE subscription_id = %s"
            " AND status <> 'delivered' AND event_id = ANY(%s)",
            (subscription_id, event_ids),
        )
    }


@dataclass(frozen=True)
class QueuedDelivery:
    """A delivery waiting for its next attempt, with the change it carries."""

    id: int
    attempts: int
    change: Change


def due(conn: psycopg.Connection, subscription_id: uuid.UUID, limit: int) -> list[QueuedDelivery]:
    """The deliveries to try now: per event, its oldest undelivered change, if it is due."""
    rows = conn.execute(
        "SELECT d.id, d.attempts, r.txid::text, r.seq, r.event_id, r.version, r.operation,"
        " r.recorded_at, r.written_by, r.body::text FROM ("
        "   SELECT DISTINCT ON (event_id) id, attempts, status, change_seq, next_attempt_at"
        "   FROM deliveries WHERE subscription_id = %s AND status <> 'delivered'"
        "   ORDER BY event_id, change_txid, change_seq"
        " ) AS d JOIN event_revisions AS r ON r.seq = d.change_seq"
        " WHERE d.status = 'pending' AND d.next_attempt_at <= now()"
        " ORDER BY r.txid, r.seq LIMIT %s",
        (subscription_id, limit),
    ).fetchall()
    return [QueuedDelivery(row[0], row[1], _change(row[2:])) for row in rows]


@dataclass(frozen=True)
class Retried:
    """One more attempt of a queued delivery."""

    delivery_id: int
    delivered: bool
    status_code: int | None
    error: str | None
    attempted_at: dt.datetime
    next_attempt_at: dt.datetime | None


def note_attempts(conn: psycopg.Connection, retried: list[Retried]) -> None:
    """Record one more attempt of each queued delivery, in one statement."""
    if not retried:
        return
    conn.execute(
        "UPDATE deliveries AS d SET attempts = d.attempts + 1,"
        " last_status_code = r.status_code, last_error = r.error,"
        " last_attempt_at = r.attempted_at,"
        " status = CASE WHEN r.delivered THEN 'delivered' ELSE d.status END,"
        " delivered_at = CASE WHEN r.delivered THEN r.attempted_at END,"
        " next_attempt_at = CASE WHEN r.delivered THEN NULL ELSE r.next_attempt_at END"
        " FROM unnest(%s::bigint[], %s::bool[], %s::int[], %s::text[], %s::timestamptz[],"
        "   %s::timestamptz[])"
        "   AS r(id, delivered, status_code, error, attempted_at, next_attempt_at)"
        " WHERE d.id = r.id",
        _columns(
            (r.delivery_id, r.delivered, r.status_code, r.error, r.attempted_at, r.next_attempt_at)
            for r in retried
        ),
    )


_LISTED = (
    "id, change_txid::text || '.' || change_seq AS change_id, event_id, version, operation,"
    " status, attempts, last_status_code, last_error, last_attempt_at, next_attempt_at,"
    " created_at, delivered_at"
)


def listing(
    conn: psycopg.Connection,
    subscription_id: uuid.UUID,
    limit: int,
    before: int | None = None,
    status: str | None = None,
) -> list[dict]:
    """A subscription's deliveries, newest first, from before the id ``before``."""
    conditions = ["subscription_id = %(sub)s"]
    if before is not None:
        conditions.append("id < %(before)s")
    if status is not None:
        conditions.append("status = %(status)s")
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {_LISTED} FROM deliveries WHERE {' AND '.join(conditions)}"
            " ORDER BY id DESC LIMIT %(limit)s",
            {"sub": subscription_id, "before": before, "status": status, "limit": limit},
        )
        .fetchall()
    )


def retry(conn: psycopg.Connection, subscription_id: uuid.UUID, delivery_id: int) -> dict:
    """Try a waiting or failed delivery again at once."""
    with conn.transaction():
        row = conn.execute(
            "SELECT d.status, s.status FROM deliveries AS d JOIN subscriptions AS s"
            " ON s.id = d.subscription_id WHERE d.id = %s AND d.subscription_id = %s"
            " FOR UPDATE OF d",
            (delivery_id, subscription_id),
        ).fetchone()
        if row is None:
            raise DeliveryNotFound(delivery_id)
        status, subscription_status = row
        if status == "delivered":
            raise NotRetryable("This delivery went through already.")
        if subscription_status != "active":
            raise NotRetryable("The subscription is disabled: enable it (PATCH status=active).")
        conn.execute(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = now() WHERE id = %s",
            (delivery_id,),
        )
        return (
            conn.cursor(row_factory=dict_row)
            .execute(f"SELECT {_LISTED} FROM deliveries WHERE id = %s", (delivery_id,))
            .fetchone()
        )


def prune_delivered(conn: psycopg.Connection, older_than: dt.timedelta, limit: int) -> int:
    """Delete up to ``limit`` delivered rows made more than ``older_than`` ago, oldest
    first; how many went. Waiting and failed rows stay, however old.

    Ids grow with time, so the rows old enough lie below the first id that is not: that
    id is found by walking the primary key from its start, past the old rows only, and
    the deletion is a range of the same key (no index of its own on ``created_at``,
    which every insert of the deliverer would have to keep)."""
    return conn.execute(
        "WITH boundary AS ("
        "   SELECT coalesce(("
        "     SELECT id FROM deliveries WHERE created_at >= now() - %(age)s ORDER BY id LIMIT 1"
        "   ), 9223372036854775807) AS id"
        " ) DELETE FROM deliveries WHERE id IN ("
        "   SELECT d.id FROM deliveries AS d, boundary"
        "   WHERE d.id < boundary.id AND d.status = 'delivered' ORDER BY d.id LIMIT %(limit)s"
        " )",
        {"age": older_than, "limit": limit},
    ).rowcount


def queue_depth(conn: psycopg.Connection) -> int:
    """Deliveries waiting for an attempt, over every subscription."""
    return conn.execute("SELECT count(*) FROM deliveries WHERE status = 'pending'").fetchone()[0]


# -- publishers' positions (JetStream) ----------------------------------------------------


def stream_position(conn: psycopg.Connection, name: str, start: FeedPosition) -> FeedPosition:
    """Where the publisher ``name`` stands; ``start`` the first time it asks."""
    conn.execute(
        "INSERT INTO stream_positions (name, position_txid, position_seq)"
        " VALUES (%s, %s::text::xid8, %s) ON CONFLICT (name) DO NOTHING",
        (name, str(start.txid), start.seq),
    )
    txid, seq = conn.execute(
        "SELECT position_txid::text, position_seq FROM stream_positions WHERE name = %s", (name,)
    ).fetchone()
    return FeedPosition(int(txid), seq)


def advance_stream(conn: psycopg.Connection, name: str, position: FeedPosition) -> None:
    """Move a publisher's position past what it has published."""
    conn.execute(
        "UPDATE stream_positions SET position_txid = %s::text::xid8, position_seq = %s,"
        " updated_at = now() WHERE name = %s",
        (str(position.txid), position.seq, name),
    )
