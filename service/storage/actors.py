"""All SQL of the actors list (actors of live events, with counts, by name) and the
registry's transactions (service/storage/actor_registry.py holds the registry's SQL)."""

from __future__ import annotations

import uuid

from psycopg import sql

from service.db import Database
from service.replica import get_read_db
from service.storage.actor_registry import ActorRegistry
from service.storage.events import EventStore


def _like_pattern(text: str) -> str:
    # The text is matched literally: LIKE's own wildcards in it are escaped.
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ActorStore:
    """Reads over ``event_actors``, which a trigger keeps in step with live events."""

    def __init__(self, db: Database):
        self.db = db

    def page(
        self, limit: int, text: str | None = None, after: str | None = None
    ) -> list[tuple[str, str, str, str | None, int]]:
        """Up to ``limit`` actors past name key ``after``, named like ``text`` if given."""
        conditions, params = [], {"limit": limit}
        if text is not None:
            # Substring, or word similarity above pg_trgm's threshold (0.6 by default):
            # both served by the trigram index.
            conditions.append(
                sql.SQL("(name_key LIKE lower(%(pattern)s) OR lower(%(text)s) <%% name_key)")
            )
            params |= {"pattern": _like_pattern(text), "text": text}
        if after is not None:
            conditions.append(sql.SQL("name_key > %(after)s"))
            params["after"] = after
        where = sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("true")
        # The most frequent spelling, kind and country stand for the actor.
        statement = sql.SQL("""
            SELECT name_key,
                   mode() WITHIN GROUP (ORDER BY name),
                   mode() WITHIN GROUP (ORDER BY kind),
                   mode() WITHIN GROUP (ORDER BY country),
                   count(*)
            FROM event_actors WHERE {where}
            GROUP BY name_key ORDER BY name_key LIMIT %(limit)s
        """).format(where=where)
        with self.db.connection() as conn:
            return conn.execute(statement, params).fetchall()


def actor_store() -> ActorStore:
    """The actor store of the current app."""
    return ActorStore(get_read_db())


def merge_actors(
    db: Database, duplicate: uuid.UUID, survivor: uuid.UUID, written_by: str | None
) -> list[uuid.UUID]:
    """Merge ``duplicate`` into ``survivor`` and rewrite its events, all in one transaction.

    Each live event of the duplicate gets a new version naming the survivor, written by
    ``written_by``: the change feed lists it. The ids of those events.
    """
    with db.connection() as conn, conn.transaction():
        changed = ActorRegistry(conn).merge(duplicate, survivor)
        store = EventStore(None, conn, written_by)
        old, new = str(duplicate), str(survivor)
        for event_id in changed:
            store.update(event_id, lambda event: _renamed(event, old, new))
    return changed


def _renamed(event: dict, old: str, new: str) -> dict:
    """The event with each registry reference to ``old`` (an actor, a publisher, a chain
    link) pointing at ``new``."""

    def moved(item: dict, name: str) -> dict:
        return item | {name: new} if item.get(name) == old else item

    actors = [moved(actor, "actor_id") for actor in event.get("actors", ())]
    sources = []
    for source in event["sources"]:
        source = moved(source, "publisher_actor_id")
        if "attributed_to" in source:
            source = source | {
                "attributed_to": [
                    moved(link, "actor_id") if isinstance(link, dict) else link
                    for link in source["attributed_to"]
                ]
            }
        sources.append(source)
    return event | {"actors": actors, "sources": sources}


def registry_read(db: Database, read):
    """``read(ActorRegistry)`` on a connection of ``db``."""
    with db.connection() as conn:
        return read(ActorRegistry(conn))


def registry_write(db: Database, write):
    """``write(ActorRegistry)`` in a transaction on a connection of ``db``."""
    with db.connection() as conn, conn.transaction():
        return write(ActorRegistry(conn))
