"""All SQL of the actors list: actors of live events, with counts, by name."""

from __future__ import annotations

from psycopg import sql

from service.db import Database
from service.replica import get_read_db


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
