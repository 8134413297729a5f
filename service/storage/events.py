"""All SQL about events: create, read, replace, delete, revisions."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

from service.db import Database
from service.storage.actor_registry import resolve_event_actors
from service.storage.links import check_links
from service.storage.rows import (
    INDEXED_COLUMNS,
    SEARCH_VECTOR,
    client_view,
    event_body,
    insert_statement,
    search_columns,
    timestamp,
)

# LOCK_ORDER: every writer takes its locks in this order, so two writers never wait on
# each other in a ring (a deadlock, which PostgreSQL ends by rolling one back):
#   1. stored events it changes, FOR UPDATE, in id order (an update or delete its one
#      event; bulk the stored events of its keys; an actor merge the duplicate's events);
#   2. the actor registry: actors, aliases and identifiers it claims while resolving
#      actors (actor_registry.py, in (kind, alias key) order), or an actor merge's actors;
#   3. new events: the unique key (and id) of each row it inserts, in key order.
# Resolving actors comes after step 1 because an update must lock its event before it
# knows the actors (a patch applies to the stored body). The other way round (resolve
# first, everywhere) would make an update resolve, lock, and resolve again whenever the
# event changed in between; locking first costs nothing and keeps one pass. Only a
# caller's own transaction of several writes can break the order (two updates in one
# transaction are then the caller's to sort by id).
# The id of an event created with a natural key is derived from the key, so a seed record
# has the same id on every installation (the spec's examples point at seeded events).
KEYED_EVENT_IDS = uuid.UUID("0b6c6d3e-5a0e-4f5e-9d7a-6f1c2b8e4a10")


def new_event_ids(conn: psycopg.Connection, keys: set[str]) -> dict[str, uuid.UUID]:
    """The id each new event with one of these keys gets.

    Derived from the key, unless an event holds that id already: one created with this
    key whose key was changed since. That one keeps its id, and the new one gets a random
    id, as an event without a key does.
    """
    if not keys:
        return {}
    derived = {key: uuid.uuid5(KEYED_EVENT_IDS, key) for key in keys}
    taken = {
        row[0]
        for row in conn.execute(
            "SELECT id FROM events WHERE id = ANY(%s)", (list(derived.values()),)
        )
    }
    return {
        key: uuid.uuid4() if event_id in taken else event_id for key, event_id in derived.items()
    }


class EventNotFound(Exception):
    """No event has that id."""


class EventGone(Exception):
    """The event existed and was deleted."""


class VersionMismatch(Exception):
    """The caller's expected version is not the stored one."""

    def __init__(self, current_version: int):
        super().__init__(current_version)
        self.current_version = current_version


class WriteOrderConflict(Exception):
    """This write's transaction id is older than the event's previous version's.

    The change feed orders changes by transaction id, so such a write would be served
    before the version it follows. It is rolled back, and a retry gets a newer id.
    """


class KeyTaken(Exception):
    """Another event already has this natural key."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class StoredEvent:
    """One version of an event, with its JSON text exactly as served."""

    id: uuid.UUID
    version: int
    body: str


# The revision columns every reader of history selects, in the order `revision_json` reads.
REVISION_COLUMNS = "event_id, version, operation, recorded_at, written_by, body::text"


def revision_json(row: tuple) -> str:
    """A revision as the API serves it (history and change feed), from REVISION_COLUMNS.

    The stored body is JSON text already and goes out as it is.
    """
    event_id, version, operation, recorded_at, written_by, body = row
    head = json.dumps(
        {
            "event_id": str(event_id),
            "version": version,
            "operation": operation,
            "recorded_at": timestamp(recorded_at),
            "written_by": written_by,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return f'{head[:-1]},"event":{body}}}'


_INSERT = insert_statement("events")
_UPDATE = sql.SQL(
    "UPDATE events SET version = %(version)s, body = %(body)s, updated_at = %(now)s,"
    " {assignments}, search = {vector} WHERE id = %(id)s"
).format(
    assignments=sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(name), sql.Placeholder(name))
        for name in INDEXED_COLUMNS
    ),
    vector=SEARCH_VECTOR,
)


def _require_version(version: int, expected_versions: set[int] | None) -> None:
    """VersionMismatch unless ``version`` is one If-Match allows (None: any)."""
    if expected_versions is not None and version not in expected_versions:
        raise VersionMismatch(version)


# A write that meets WriteOrderConflict is retried this many times in all; it takes two
# writers racing for one event within a millisecond, so one retry nearly always does.
WRITE_ATTEMPTS = 3


class EventStore:
    """Events in PostgreSQL. Every write appends a revision in the same transaction.

    A store made with ``conn`` works inside that connection's transaction (a loader that
    writes many events all-or-nothing); otherwise each call takes a pooled connection.
    ``written_by`` (an API key's name) is recorded on every revision the store writes.
    """

    def __init__(
        self,
        db: Database | None,
        conn: psycopg.Connection | None = None,
        written_by: str | None = None,
    ):
        self.db = db
        self.conn = conn
        self.written_by = written_by

    @contextmanager
    def _connection(self):
        if self.conn is not None:
            yield self.conn
        else:
            with self.db.connection() as conn:
                yield conn

    def create(self, event: dict) -> StoredEvent:
        """Store a validated new event as version 1."""
        now = dt.datetime.now(dt.UTC)
        with self._connection() as conn, conn.transaction():
            key = event.get("key")
            event_id = new_event_ids(conn, {key})[key] if key is not None else uuid.uuid4()
            event = resolve_event_actors(conn, event)
            body = event_body(event_id, event, 1, timestamp(now), timestamp(now))
            params = search_columns(event) | {
                "id": event_id,
                "version": 1,
                "body": body,
                "created_at": now,
                "updated_at": now,
            }
            check_links(conn, event)
            try:
                conn.execute(_INSERT, params)
            except psycopg.errors.UniqueViolation as error:
                raise KeyTaken(event["key"]) from error
            self._record(conn, event_id, 1, "create", body, now)
        return StoredEvent(event_id, 1, body)

    def get(self, event_id: uuid.UUID) -> StoredEvent:
        """The current version of an event."""
        with self._connection() as conn:
            row = conn.execute(
                "SELECT version, body::text, deleted_at FROM events WHERE id = %s", (event_id,)
            ).fetchone()
        if row is None:
            raise EventNotFound(event_id)
        if row[2] is not None:
            raise EventGone(event_id)
        return StoredEvent(event_id, row[0], row[1])

    def find_by_key(self, key: str) -> StoredEvent | None:
        """The current version of the event with this natural key, deleted or not."""
        with self._connection() as conn:
            row = conn.execute(
                "SELECT id, version, body::text FROM events WHERE key = %s", (key,)
            ).fetchone()
        return None if row is None else StoredEvent(*row)

    def live_views_by_key(self, keys: set[str]) -> dict[str, dict]:
        """The client view (``client_view``) of each live event with one of these keys."""
        if not keys:
            return {}
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT key, body::text FROM events WHERE key = ANY(%s) AND deleted_at IS NULL",
                (list(keys),),
            ).fetchall()
        return {key: client_view(json.loads(text)) for key, text in rows}

    def update(
        self,
        event_id: uuid.UUID,
        change: Callable[[dict], dict],
        expected_versions: set[int] | None = None,
    ) -> StoredEvent:
        """Replace an event with ``change(current client view)``, a validated event.

        The row is locked while ``change`` runs, so concurrent writers serialise and no
        update is lost; ``expected_versions`` (from If-Match) must hold the stored one.
        """
        return self.run_write(self._update, event_id, change, expected_versions)

    def run_write(self, write: Callable, *args):
        """Run ``write(conn, *args)`` in a transaction, again on WriteOrderConflict.

        Inside a caller's transaction the conflict goes up: only the caller can retry.
        """
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self._connection() as conn, conn.transaction():
                    return write(conn, *args)
            except WriteOrderConflict:
                if self.conn is not None or attempt == WRITE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def _update(
        self,
        conn: psycopg.Connection,
        event_id: uuid.UUID,
        change: Callable[[dict], dict],
        expected_versions: set[int] | None,
    ) -> StoredEvent:
        current = self._lock(conn, event_id)
        stored = client_view(current["body"])
        # The change first: a patch that makes no event is a 422 whatever If-Match says,
        # as a bad PUT body is (checked before it reaches the store).
        event = change(stored)
        _require_version(current["version"], expected_versions)
        # Resolved before the comparison: a body sent without the actor ids it was
        # stored with is the same event.
        event = resolve_event_actors(conn, event)
        if event == stored:
            # Nothing changes: no version to add, to the revisions or to the change feed
            # (as bulk's `unchanged`). Its links were checked when it was stored.
            return StoredEvent(event_id, current["version"], current["text"])
        check_links(conn, event)
        version = current["version"] + 1
        now = dt.datetime.now(dt.UTC)
        body = event_body(event_id, event, version, current["body"]["created_at"], timestamp(now))
        params = search_columns(event) | {
            "id": event_id,
            "body": body,
            "version": version,
            "now": now,
        }
        try:
            conn.execute(_UPDATE, params)
        except psycopg.errors.UniqueViolation as error:
            raise KeyTaken(event["key"]) from error
        self._record(conn, event_id, version, "update", body, now)
        return StoredEvent(event_id, version, body)

    def delete(self, event_id: uuid.UUID, expected_versions: set[int] | None = None) -> None:
        """Soft-delete: the row and its revisions stay; reads answer 410."""
        self.run_write(self._delete, event_id, expected_versions)

    def _delete(
        self, conn: psycopg.Connection, event_id: uuid.UUID, expected_versions: set[int] | None
    ) -> None:
        current = self._lock(conn, event_id, expected_versions)
        version = current["version"] + 1
        now = dt.datetime.now(dt.UTC)
        body = event_body(
            event_id,
            client_view(current["body"]),
            version,
            current["body"]["created_at"],
            timestamp(now),
            timestamp(now),
        )
        conn.execute(
            "UPDATE events SET version = %s, body = %s, updated_at = %s, deleted_at = %s"
            " WHERE id = %s",
            (version, body, now, now, event_id),
        )
        self._record(conn, event_id, version, "delete", body, now)

    def revisions(self, event_id: uuid.UUID) -> list[str]:
        """Every revision of an event (its deletion too), oldest first, as JSON text."""
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {REVISION_COLUMNS} FROM event_revisions WHERE event_id = %s"
                " ORDER BY version",
                (event_id,),
            ).fetchall()
        if not rows:
            raise EventNotFound(event_id)
        return [revision_json(row) for row in rows]

    @staticmethod
    def _lock(
        conn: psycopg.Connection, event_id: uuid.UUID, expected_versions: set[int] | None = None
    ) -> dict:
        row = conn.execute(
            "SELECT version, body::text, deleted_at FROM events WHERE id = %s FOR UPDATE",
            (event_id,),
        ).fetchone()
        if row is None:
            raise EventNotFound(event_id)
        if row[2] is not None:
            raise EventGone(event_id)
        _require_version(row[0], expected_versions)
        return {"version": row[0], "body": json.loads(row[1]), "text": row[1]}

    def _record(
        self,
        conn: psycopg.Connection,
        event_id: uuid.UUID,
        version: int,
        operation: str,
        body: str,
        now: dt.datetime,
    ) -> None:
        """Append the revision; WriteOrderConflict if the previous one has a newer txid."""
        inserted = conn.execute(
            "INSERT INTO event_revisions"
            " (event_id, version, operation, body, recorded_at, written_by)"
            " SELECT %(id)s, %(version)s, %(operation)s::text, %(body)s::json, %(now)s,"
            "        %(written_by)s::text"
            " WHERE NOT EXISTS (SELECT FROM event_revisions WHERE event_id = %(id)s"
            "   AND version = %(version)s - 1 AND txid > pg_current_xact_id())",
            {
                "id": event_id,
                "version": version,
                "operation": operation,
                "body": body,
                "now": now,
                "written_by": self.written_by,
            },
        ).rowcount
        if not inserted:
            raise WriteOrderConflict(event_id)
