"""Writing many validated events in one transaction: the upsert-by-key rule, in bulk SQL.

The rule (bulk ingest and the seed loader both use it): an event without a ``key``, or
with a key no event has, is created; an event whose key is stored is updated only when
its content differs from the stored one (``client_view``), so sending a batch again
writes nothing; an event deleted through the API stays deleted, unless the caller names
its key as one to restore (the seed loader does, for the docs page's sandbox): it is then
stored again as a new version of the same id, after the deletion in its history.

The SQL is set-based, so a batch of thousands costs a few statements: the rows to write
are COPYed into a temporary table and inserted, updated and recorded as revisions from
there, each in one statement.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from service.storage.actor_registry import resolve_actors
from service.storage.events import EventStore, WriteOrderConflict, new_event_ids
from service.storage.links import link_errors
from service.storage.rows import (
    INDEXED_COLUMNS,
    client_view,
    event_body,
    search_columns,
    search_vector_sql,
    timestamp,
)

# What happened to each item, and the HTTP status each answers in a bulk response.
OUTCOME_STATUS = {
    "created": 201,
    "updated": 200,
    "unchanged": 200,
    # An event with this key was deleted: no request brings it back. (Only the seed
    # loader restores one, the docs page's sandbox: `restored`, never a bulk outcome.)
    "left_deleted": 410,
    "invalid": 422,
    # Its key repeats an earlier item's, or another writer created it meanwhile.
    "conflict": 409,
}


@dataclass(frozen=True)
class ItemOutcome:
    """What writing one item of a batch did."""

    outcome: str
    id: uuid.UUID | None = None
    version: int | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)


class BatchRefused(Exception):
    """An all-or-nothing batch with items that cannot be written; nothing was.

    ``errors`` maps the index of each such item to its errors (empty for an item the
    caller marked invalid: the caller has those).
    """

    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        super().__init__(errors)
        self.errors = errors


_STAGED = ("id", "version", "body", *INDEXED_COLUMNS, "created_at", "updated_at")
_STAGED_SQL = sql.SQL(", ").join(map(sql.Identifier, _STAGED))
_VECTOR = sql.SQL(search_vector_sql("s.title", "s.text"))
_CREATE_STAGING = sql.SQL(
    "CREATE TEMP TABLE bulk_staging ON COMMIT DROP AS"
    " SELECT {columns}, ''::text AS title, ''::text AS text, ''::text AS operation"
    " FROM events WITH NO DATA"
).format(columns=_STAGED_SQL)
_COPY = sql.SQL("COPY bulk_staging ({columns}, title, text, operation) FROM STDIN").format(
    columns=_STAGED_SQL
)
# In key order, as the locks are taken, so two batches never wait on each other in a ring.
_INSERT = sql.SQL(
    "INSERT INTO events ({columns}, search) SELECT {staged}, {vector} FROM bulk_staging s"
    " WHERE s.operation = 'create' ORDER BY s.key"
    " ON CONFLICT DO NOTHING RETURNING id"
).format(
    columns=_STAGED_SQL,
    staged=sql.SQL(", ").join(sql.Identifier("s", name) for name in _STAGED),
    vector=_VECTOR,
)
# deleted_at: NULL already, but for an event restored.
_UPDATE = sql.SQL(
    "UPDATE events e SET version = s.version, body = s.body, updated_at = s.updated_at,"
    " deleted_at = NULL, {assignments}, search = {vector} FROM bulk_staging s"
    " WHERE s.operation = 'update' AND e.id = s.id"
).format(
    assignments=sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(name), sql.Identifier("s", name))
        for name in INDEXED_COLUMNS
    ),
    vector=_VECTOR,
)


def _record_staged(conn: psycopg.Connection, written_by: str | None) -> None:
    """One revision per staged row: the only place a batch's revisions are written.

    As ``EventStore._record`` does for one write, refuses (WriteOrderConflict) a batch
    that would add a version after one written by a newer transaction: the change feed
    orders by transaction id.
    """
    out_of_order = conn.execute(
        "SELECT EXISTS (SELECT FROM bulk_staging s JOIN event_revisions r"
        " ON r.event_id = s.id AND r.version = s.version - 1"
        " WHERE s.operation = 'update' AND r.txid > pg_current_xact_id())"
    ).fetchone()[0]
    if out_of_order:
        raise WriteOrderConflict("bulk")
    conn.execute(
        "INSERT INTO event_revisions"
        " (event_id, version, operation, body, recorded_at, written_by)"
        " SELECT id, version, operation, body, updated_at, %s FROM bulk_staging",
        (written_by,),
    )


def _duplicates(events: Sequence[dict | None]) -> dict[int, ItemOutcome]:
    """Items whose key an earlier item of the batch already has."""
    first: dict[str, int] = {}
    found = {}
    for index, event in enumerate(events):
        key = event.get("key") if event else None
        if key is None:
            continue
        if key in first:
            found[index] = ItemOutcome(
                "conflict", errors={"key": [f"Duplicate of item {first[key]} of this request."]}
            )
        else:
            first[key] = index
    return found


def _lock_by_key(conn: psycopg.Connection, keys: set[str]) -> dict[str, tuple]:
    """The stored events with these keys, locked in id order (the order every writer locks
    stored events in, events.LOCK_ORDER): key -> (id, version, body)."""
    rows = conn.execute(
        "SELECT key, id, version, body::text, deleted_at IS NOT NULL FROM events"
        " WHERE key = ANY(%s) ORDER BY id FOR UPDATE",
        (sorted(keys),),
    ).fetchall()
    return {row[0]: row[1:] for row in rows}


def _without_registry_ids(event: dict) -> dict:
    """An event as its writer sent it before resolution: its actors without ``actor_id``,
    its sources without ``publisher_actor_id`` and their links without ``actor_id``."""
    out = event
    if event.get("actors"):
        out = out | {"actors": [_without(actor, "actor_id") for actor in event["actors"]]}
    if any(_cites_registry_actors(source) for source in event.get("sources", ())):
        out = out | {"sources": [_source_as_given(source) for source in event["sources"]]}
    return out


def _without(item: dict, name: str) -> dict:
    return {key: value for key, value in item.items() if key != name}


def _source_as_given(source: dict) -> dict:
    source = _without(source, "publisher_actor_id")
    if "attributed_to" in source:
        source["attributed_to"] = [
            _without(link, "actor_id") if isinstance(link, dict) else link
            for link in source["attributed_to"]
        ]
    return source


def _cites_registry_actors(source: dict) -> bool:
    return "publisher_actor_id" in source or any(
        isinstance(link, dict) and "actor_id" in link for link in source.get("attributed_to", ())
    )


def _gives_registry_ids(event: dict) -> bool:
    return any("actor_id" in actor for actor in event.get("actors", ())) or any(
        _cites_registry_actors(source) for source in event.get("sources", ())
    )


def stored_as_given(store: EventStore, events: Sequence[dict]) -> set[int]:
    """The indexes of the events (keyed, not yet validated) that a live stored event with
    their key already is, content for content: writing them would be ``unchanged``.

    A stored body was validated when written and validation gives back the documents it
    accepts, so such an event needs neither validation nor a write. Registry ids are left
    out of the comparison when the event gives none: resolving the same names and
    identifiers again finds the actors they found when the event was stored (a merge
    rewrites the events it moves). An importer uses it to skip the work for rows that did
    not change since the last import.
    """
    stored = store.live_views_by_key({event["key"] for event in events if "key" in event})
    same = set()
    for index, event in enumerate(events):
        found = stored.get(event.get("key"))
        if found is None:
            continue
        if found == event or (
            not _gives_registry_ids(event) and _without_registry_ids(found) == event
        ):
            same.add(index)
    return same


def write_events(
    store: EventStore,
    events: Sequence[dict | None],
    *,
    atomic: bool = False,
    restorable: frozenset[str] = frozenset(),
) -> list[ItemOutcome]:
    """Create, update or leave each validated event; one outcome per item, in order.

    ``None`` marks an item the caller found invalid (its outcome is ``invalid``, with no
    errors: the caller has them). With ``atomic``, any item that cannot be written
    raises BatchRefused and nothing is written. A deleted event whose key is in
    ``restorable`` is ``restored`` (an ``update`` revision) instead of ``left_deleted``.
    """
    return store.run_write(_write_batch, events, atomic, store.written_by, restorable)


def _write_batch(
    conn: psycopg.Connection,
    events: Sequence[dict | None],
    atomic: bool,
    written_by: str | None,
    restorable: frozenset[str],
) -> list[ItemOutcome]:
    """``write_events`` inside the caller's transaction (rolled back by any exception).

    Locks in events.LOCK_ORDER: the stored events of the batch's keys first, then the
    registry (resolving actors), then the new keys (inserted in key order).
    """
    stored = _lock_by_key(conn, {event["key"] for event in events if event and "key" in event})
    events, actor_errors = resolve_actors(conn, events)
    outcomes = _refusals(conn, events)
    for index, errors in actor_errors.items():
        outcomes[index] = ItemOutcome("invalid", errors=errors)
    if atomic and outcomes:
        raise BatchRefused(_errors(outcomes))
    writable = {index: event for index, event in enumerate(events) if index not in outcomes}
    new_ids = new_event_ids(
        conn,
        {
            event["key"]
            for event in writable.values()
            if "key" in event and event["key"] not in stored
        },
    )
    rows = _plan(writable, stored, new_ids, outcomes, restorable)
    if rows:
        _write(conn, rows, outcomes, atomic, written_by)
    return [outcomes[index] for index in range(len(events))]


def _refusals(conn: psycopg.Connection, events: Sequence[dict | None]) -> dict[int, ItemOutcome]:
    """The items that cannot be written: invalid, a repeated key, or a link to nothing."""
    outcomes = {
        index: ItemOutcome("invalid") for index, event in enumerate(events) if event is None
    }
    outcomes.update(_duplicates(events))
    candidates = [None if index in outcomes else event for index, event in enumerate(events)]
    for index, errors in link_errors(conn, candidates).items():
        outcomes[index] = ItemOutcome("invalid", errors=errors)
    return outcomes


def _plan(
    writable: dict[int, dict],
    stored: dict[str, tuple],
    new_ids: dict[str, uuid.UUID],
    outcomes: dict[int, ItemOutcome],
    restorable: frozenset[str],
) -> list[tuple]:
    """The staged row of each item to create or update; every item's outcome into ``outcomes``."""
    now = dt.datetime.now(dt.UTC)
    rows = []
    for index, event in writable.items():
        found = stored.get(event.get("key"))
        if found is None:
            event_id = new_ids[event["key"]] if "key" in event else uuid.uuid4()
            version, created_at = 1, timestamp(now)
            operation, outcome = "create", "created"
        else:
            event_id, current_version, text, deleted = found
            body = json.loads(text)
            restored = deleted and event["key"] in restorable
            if (deleted and not restored) or (not deleted and client_view(body) == event):
                outcomes[index] = ItemOutcome(
                    "left_deleted" if deleted else "unchanged", event_id, current_version
                )
                continue
            version, created_at = current_version + 1, body["created_at"]
            # A restore is an update after the delete: the history and the change feed
            # keep the deletion, and followers see the event come back with a new version.
            operation, outcome = "update", "restored" if restored else "updated"
        outcomes[index] = ItemOutcome(outcome, event_id, version)
        columns = search_columns(event)
        body_text = event_body(event_id, event, version, created_at, timestamp(now))
        rows.append(
            (
                event_id,
                version,
                body_text,
                *(columns[n] for n in INDEXED_COLUMNS),
                created_at,
                now,
                columns["title"],
                columns["text"],
                operation,
            )
        )
    return rows


def _write(
    conn: psycopg.Connection,
    rows: list[tuple],
    outcomes: dict[int, ItemOutcome],
    atomic: bool,
    written_by: str | None,
) -> None:
    """COPY the rows to write into staging, then insert, update and record them."""
    conn.execute(_CREATE_STAGING)
    with conn.cursor().copy(_COPY) as copy:
        for row in rows:
            copy.write_row(row)
    created = {row[0] for row in rows if row[-1] == "create"}
    inserted = {row[0] for row in conn.execute(_INSERT).fetchall()}
    if created - inserted:
        # Another writer committed the same key after our lock read: no row to lock
        # then, a unique key now. Those items are conflicts, and have no revision.
        for index, outcome in list(outcomes.items()):
            if outcome.outcome == "created" and outcome.id not in inserted:
                outcomes[index] = ItemOutcome(
                    "conflict",
                    errors={"key": ["Created meanwhile by another request; send this item again."]},
                )
        if atomic:
            raise BatchRefused(_errors(outcomes))
        conn.execute(
            "DELETE FROM bulk_staging WHERE operation = 'create' AND id <> ALL(%s)",
            (list(inserted),),
        )
    conn.execute(_UPDATE)
    _record_staged(conn, written_by)


def _errors(outcomes: dict[int, ItemOutcome]) -> dict[int, dict[str, list[str]]]:
    return {
        index: outcome.errors
        for index, outcome in sorted(outcomes.items())
        if outcome.outcome in ("invalid", "conflict")
    }
