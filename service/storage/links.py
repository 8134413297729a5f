"""Links between events: ``related[].event`` must name an event that exists.

One rule for every writer (POST, PUT, PATCH, bulk, the seed loader): a link names an
event by id or by natural key, and resolves when such an event is stored, deleted or
not, or when it is the key of another event written in the same batch. A deleted target
still resolves: a link made before the delete stays readable, so a link made after it is
no different (reading the target answers 410 either way).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import psycopg


class UnknownLinks(Exception):
    """Links of one event that name no event; ``errors`` maps ``related.N.event`` to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def unknown_link_message(ref: str) -> str:
    """What an unresolved link says, wherever it is reported."""
    return f"No event has the id or key {ref!r}, in this request or already stored."


def _as_id(ref: str) -> str | None:
    """The canonical text of ``ref`` if it is a UUID (ids may be sent in any case)."""
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        return None


def _stored(conn: psycopg.Connection, refs: set[str]) -> set[str]:
    """Which of ``refs`` name a stored event, by id or by key."""
    if not refs:
        return set()
    ids = {as_id for ref in refs if (as_id := _as_id(ref))}
    rows = conn.execute(
        "SELECT id::text, key FROM events WHERE id = ANY(%s::uuid[]) OR key = ANY(%s)",
        (sorted(ids), sorted(refs)),
    ).fetchall()
    found = {text for row in rows for text in row if text is not None}
    return {ref for ref in refs if ref in found or _as_id(ref) in found}


def link_errors(
    conn: psycopg.Connection, events: Sequence[dict | None]
) -> dict[int, dict[str, list[str]]]:
    """Per index of ``events``, the errors of its links that resolve to nothing.

    ``None`` stands for an item that will not be written (it failed validation): it
    provides no key. An event refused for its links provides none either, so an event
    linking to it is refused in turn (checked until nothing changes).
    """
    refs = {link["event"] for event in events if event for link in event.get("related", ())}
    stored = _stored(conn, refs)
    errors: dict[int, dict[str, list[str]]] = {}
    while True:
        batch_keys = {
            event["key"]
            for index, event in enumerate(events)
            if event and "key" in event and index not in errors
        }
        found = False
        for index, event in enumerate(events):
            if not event or index in errors:
                continue
            bad = {
                f"related.{n}.event": [unknown_link_message(link["event"])]
                for n, link in enumerate(event.get("related", ()))
                if link["event"] not in stored and link["event"] not in batch_keys
            }
            if bad:
                errors[index] = bad
                found = True
        if not found:
            return errors


def check_links(conn: psycopg.Connection, event: dict) -> None:
    """Raise UnknownLinks if a link of ``event`` (about to be written) names no event."""
    errors = link_errors(conn, [event])
    if errors:
        raise UnknownLinks(errors[0])
