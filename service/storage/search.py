"""All SQL of search: a page of matching events, their facet counts, and the export stream."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from flask import current_app
from psycopg import sql

from service.db import Database, get_db
from service.replica import get_read_db
from service.storage import search_query
from service.storage.as_of import events_at
from service.storage.search_query import EventQuery

# Rows fetched per round trip of an export's server-side cursor: bounds its memory.
EXPORT_BATCH = 2_000
# Rows of the date (or creation) order a `near` search walks before it turns to the point
# index (SearchStore._walk): a circle holding 1 event in 30 fills a page of 20 in ~600.
WALK_ROWS = 5_000
# What an export reads of each match unless told otherwise.
BODY_AND_POINT = sql.SQL("body::text, lon, lat")


# The facets every facets request answers; `actor` is asked for (SearchStore.facets).
FACETS = ("type", "country", "certainty", "source_kind", "month")
# The registry actors the actor facet lists: those with the most matches.
TOP_ACTORS = 20


def _counted(actors: bool) -> sql.Composed:
    """The facets counted from the matching rows (``{source}``, ``{where}`` to fill):
    rows of (facet, value, count, actor name)."""
    # Arrays, days: counted per distinct value first (a few hundred among thousands of
    # matches), so unnest and to_char run per group, not per row.
    statement = """
        WITH matched AS MATERIALIZED (
            SELECT type, certainty, countries, source_kinds, date_precision,
                   -- An on-or-before event is placed by its date (the end of its
                   -- span), not by the open start of its span.
                   CASE date_basis WHEN 'on_or_before' THEN upper(date_span) - 1
                                   ELSE lower(date_span) END AS placed,
                   date_basis = 'on_or_before' AS open_start {actor_ids}
            FROM {{source}} WHERE {{where}}
        )
        SELECT 'total', NULL, count(*), NULL FROM matched
        UNION ALL
        SELECT 'type', type, count(*), NULL FROM matched GROUP BY type
        UNION ALL
        SELECT 'certainty', certainty, count(*), NULL FROM matched GROUP BY certainty
        UNION ALL
        SELECT 'country', country, sum(n)::bigint, NULL
        FROM (SELECT countries, count(*) AS n FROM matched GROUP BY countries) AS g,
             unnest(countries) AS country
        GROUP BY country
        UNION ALL
        SELECT 'source_kind', kind, sum(n)::bigint, NULL
        FROM (SELECT source_kinds, count(*) AS n FROM matched GROUP BY source_kinds) AS g,
             unnest(source_kinds) AS kind
        GROUP BY kind
        UNION ALL
        SELECT 'month', CASE WHEN open_start THEN '../' ELSE '' END
                        || to_char(placed, CASE date_precision WHEN 'year' THEN 'YYYY'
                                                               ELSE 'YYYY-MM' END),
               sum(n)::bigint, NULL
        FROM (SELECT open_start, date_precision, placed, count(*) AS n
              FROM matched GROUP BY open_start, date_precision, placed) AS days
        GROUP BY 2
        {actor_facet}
    """
    if not actors:
        return sql.SQL(statement.format(actor_ids="", actor_facet=""))
    return sql.SQL(
        statement.format(
            actor_ids=", actor_ids",
            # A merged actor's id stands for its survivor (merges rewrite the events, but
            # an id may be met before they are): an event counts once per survivor.
            actor_facet="""
        UNION ALL
        (SELECT 'actor', t.id::text, t.n, a.name
         FROM (SELECT s.id, sum(g.n)::bigint AS n
               FROM (SELECT actor_ids, count(*) AS n FROM matched GROUP BY actor_ids) AS g,
                    LATERAL (SELECT DISTINCT coalesce(r.merged_into, r.id) AS id
                             FROM unnest(g.actor_ids) AS u (id) JOIN actors r ON r.id = u.id)
                    AS s
               GROUP BY s.id) AS t
         JOIN actors a ON a.id = t.id
         ORDER BY t.n DESC, a.name, t.id LIMIT %(top_actors)s)""",
        )
    )


# The same facets summed from the counts kept by writes (migration 0071): the folded
# cells and the deltas not folded yet, in one statement (one snapshot). An event has one
# 'event' cell (total, type, certainty, month) and a cell per country and source kind,
# which are summed apart in one pass (they are most of the cells).
_SUMMED = sql.SQL("""
    WITH events AS MATERIALIZED (
        SELECT type, certainty, date_basis, first_month, last_month, date_precision, n
        FROM facet_buckets WHERE facet = 'event' AND {where}
        UNION ALL
        SELECT type, certainty, date_basis, first_month, last_month, date_precision, n
        FROM facet_bucket_deltas WHERE facet = 'event' AND {where}
    )
    SELECT 'total', NULL, coalesce(sum(n), 0)::bigint, NULL FROM events
    UNION ALL
    SELECT 'type', type, sum(n), NULL FROM events GROUP BY type HAVING sum(n) > 0
    UNION ALL
    SELECT 'certainty', certainty, sum(n), NULL FROM events GROUP BY certainty
    HAVING sum(n) > 0
    UNION ALL
    -- Placed as the counted month facet places an event: an on-or-before event by the
    -- month its span ends in, any other by the month it starts in.
    SELECT 'month', CASE date_basis WHEN 'on_or_before' THEN '../' || to_char(last_month, f)
                                    ELSE to_char(first_month, f) END,
           sum(n), NULL
    FROM events,
         LATERAL (SELECT CASE date_precision WHEN 'year' THEN 'YYYY' ELSE 'YYYY-MM' END) AS p (f)
    GROUP BY 2 HAVING sum(n) > 0
    UNION ALL
    SELECT facet, value, sum(n), NULL
    FROM (SELECT facet, value, n FROM facet_buckets
          WHERE facet IN ('country', 'source_kind') AND {where}
          UNION ALL
          SELECT facet, value, n FROM facet_bucket_deltas
          WHERE facet IN ('country', 'source_kind') AND {where}) AS named
    GROUP BY facet, value HAVING sum(n) > 0
""")


class SearchStore:
    """Reads over the events table, shaped by an ``EventQuery``."""

    def __init__(self, db: Database, as_of_max_changes: int, read_db=None):
        """``db``: the primary; ``read_db``: where reads without ``as_of`` go (a replica's
        ``ReadDatabase``; default ``db``)."""
        self.db, self.read_db = db, read_db or db
        self.as_of_max_changes = as_of_max_changes

    @contextmanager
    def _reading(self, query: EventQuery) -> Iterator[tuple[psycopg.Connection, sql.Composable]]:
        """A connection, and what to read FROM: the events now, or at ``query.as_of``.

        An as_of read builds a temporary table, which only the primary can.
        """
        db = self.read_db if query.as_of is None else self.db
        with (
            db.connection() as conn,
            events_at(conn, query.as_of, self.as_of_max_changes) as source,
        ):
            yield conn, source

    def page(
        self, query: EventQuery, sort: str, limit: int, after: tuple | None = None
    ) -> list[tuple[str, object, uuid.UUID, float | None]]:
        """Up to ``limit`` matches past ``after``: (JSON text, sort key value, id, distance
        from the ``near`` point in km or None) each."""
        if sort == "relevance":
            with self._reading(query) as (conn, source):
                return self._by_relevance(conn, source, query, limit, after)
        where, params = query.where, dict(query.params)
        past = sql.SQL("TRUE")
        if after is not None:
            past, values = search_query.after(sort, after)
            where = sql.SQL("{} AND {}").format(where, past)
            params |= values
        with self._reading(query) as (conn, source):
            if query.near is not None and sort == "distance":
                return self._nearest(conn, source, query, where, params, limit)
            if query.near is not None:
                rows = self._walk(conn, source, query, where, past, params, sort, limit)
                if rows is not None:
                    return rows
            return self._page(conn, source, query, where, params, sort, limit)

    def _by_relevance(
        self,
        conn: psycopg.Connection,
        source: sql.Composable,
        query: EventQuery,
        limit: int,
        after: tuple | None,
    ) -> list[tuple]:
        """Title matches rank above all others (search_query.TITLE_TIER): ranked alone
        first, they are a small part of a broad query's matches. The others are ranked
        only when the page goes past them. Each group's key is the relevance key with its
        CASE decided (TITLE_KEY, OTHER_KEY): the same values, one ts_filter less a row.

        The title matches of a query with pair keys (migration 0130: two or more words,
        no OR or NOT) are found through the index of title word pairs, whose posting
        lists are a fraction of the title index's; others through the title index.
        """
        rows: list[tuple] = []
        if after is None or after[0] >= search_query.TITLE_TIER:
            params = dict(query.params)
            params["title_pairs"] = conn.execute(
                search_query.TITLE_PAIRS_OF_QUERY, params
            ).fetchone()[0]
            if params["title_pairs"] is None:
                title, where = search_query.TITLE_MATCH, query.where
            else:
                title, where = search_query.TITLE_MATCH_BY_PAIRS, query.where_beside_text
            rows = self._group(
                conn, source, query, title, search_query.TITLE_KEY, params, limit, after, where
            )
        if len(rows) < limit:
            rest = sql.SQL("NOT {}").format(search_query.TITLE_MATCH)
            rows += self._group(
                conn,
                source,
                query,
                rest,
                search_query.OTHER_KEY,
                dict(query.params),
                limit - len(rows),
                after,
                query.where,
            )
        return rows

    def _group(
        self,
        conn: psycopg.Connection,
        source: sql.Composable,
        query: EventQuery,
        condition: sql.Composable,
        key: sql.Composable,
        params: dict,
        limit: int,
        after: tuple | None,
        where: sql.Composable,
    ) -> list[tuple]:
        """The first ``limit`` matches of ``where`` meeting ``condition`` past ``after``
        by relevance, ``key`` being their relevance key."""
        where = sql.SQL("{} AND {}").format(where, condition)
        if after is not None:
            past, values = search_query.after("relevance", after, key)
            where = sql.SQL("{} AND {}").format(where, past)
            params = params | values
        return self._page(conn, source, query, where, params, "relevance", limit, key)

    def _nearest(
        self,
        conn: psycopg.Connection,
        source: sql.Composable,
        query: EventQuery,
        where: sql.Composable,
        params: dict,
        limit: int,
    ) -> list[tuple]:
        """Nearest first, from a KNN walk of the point index (``<->``, planar degrees).

        The walk's first ``limit`` matches are not the page (a degree of longitude is
        shorter than one of latitude), but their largest great-circle distance bounds it:
        ``limit`` matches lie within it, so the page does too. The page is then the
        nearest matches inside that smaller circle, ranked by exact distance: both steps
        read about a page of rows, whatever the number of matches in the whole radius.
        """
        walk = sql.SQL(
            "SELECT {distance} FROM {source} WHERE {where} ORDER BY {planar} LIMIT {limit}"
        ).format(
            distance=query.distance,
            source=source,
            where=where,
            planar=search_query.PLANAR_DISTANCE,
            limit=sql.Placeholder("limit"),
        )
        found = [row[0] for row in conn.execute(walk, params | {"limit": limit})]
        if not found:
            return []
        lon, lat, _ = query.near
        # Widened by a rounding error's worth, so the farthest of them is surely inside:
        # a row too many only enters the ranking, never the page.
        condition, values = search_query.within(lon, lat, max(found) * (1 + 1e-9) + 1e-9, "bound")
        narrowed = sql.SQL("{} AND {}").format(where, condition)
        return self._page(conn, source, query, narrowed, params | values, "distance", limit)

    def _walk(
        self,
        conn: psycopg.Connection,
        source: sql.Composable,
        query: EventQuery,
        where: sql.Composable,
        past: sql.Composable,
        params: dict,
        sort: str,
        limit: int,
    ) -> list[tuple] | None:
        """A ``near`` search by date or creation: the live rows in the sort's order, read
        from its index (WALK_ROWS at most, past the cursor), and the first ``limit`` of
        them in the circle and meeting every condition are the page. A circle that holds
        a share of the events fills a page within a few hundred rows, whatever the
        table's size (the date index carries lon and lat, so the circle is checked
        without reading the table). None when the walk found fewer: a sparse circle is
        answered from the point index instead (SearchStore._page), whose candidates are
        then few.
        """
        lon, lat, km = query.near
        circle, values = search_query.within(lon, lat, km, "walk")
        key = search_query.SORT_KEYS[sort].expression
        statement = sql.SQL(
            "SELECT events.body::text, m.sort_key, m.id, {distance} AS distance FROM ("
            " SELECT id, sort_key FROM ("
            "  SELECT id, {key} AS sort_key, lon, lat FROM {source}"
            "  WHERE deleted_at IS NULL AND {past} ORDER BY {order} LIMIT {walk}"
            " ) AS walked WHERE {circle}"
            ") AS m JOIN {source} USING (id) WHERE {where} ORDER BY {page_order} LIMIT {limit}"
        ).format(
            distance=query.distance,
            key=key,
            source=source,
            past=past,
            order=search_query.order_by(sort),
            walk=sql.Placeholder("walk"),
            circle=circle,
            where=where,
            page_order=search_query.order_by(sort, sql.SQL("m.sort_key")),
            limit=sql.Placeholder("limit"),
        )
        rows = conn.execute(
            statement, params | values | {"walk": WALK_ROWS, "limit": limit}
        ).fetchall()
        return rows if len(rows) == limit else None

    @staticmethod
    def _page(
        conn: psycopg.Connection,
        source: sql.Composable,
        query: EventQuery,
        where: sql.Composable,
        params: dict,
        sort: str,
        limit: int,
        key: sql.Composable | None = None,
    ) -> list[tuple]:
        """The first ``limit`` rows of ``source`` meeting ``where``, in the sort's order
        (by its key, or by ``key`` holding the same values on these rows)."""
        ranked = key is not None
        if key is None:
            key = search_query.SORT_KEYS[sort].expression
        found = sql.SQL(
            "SELECT {body}, {key} AS sort_key, id, {distance} AS distance FROM {source}"
            " WHERE {where} ORDER BY {order} LIMIT {limit}"
        )
        parts = {
            "key": key,
            "distance": query.distance,
            "where": where,
            "order": search_query.order_by(sort, key),
            "limit": sql.Placeholder("limit"),
        }
        if query.on_point_index or ranked:
            # Rows first, then the bodies of the page's rows only: from an index-only scan
            # of the covering point index (no table read per candidate); or, for a
            # relevance group, whose every match is ranked and sorted, without turning
            # each match's body into text for a sort that keeps a page of them (at 3M
            # events, 3,737 title matches of `drone attack Kharkiv`: 17.7 -> 15.7 ms).
            statement = sql.SQL(
                "SELECT events.body::text, m.sort_key, m.id, m.distance FROM ({found}) AS m"
                " JOIN {source} USING (id) ORDER BY {order}"
            ).format(
                found=found.format(body=sql.SQL("NULL"), source=source, **parts),
                source=source,
                order=search_query.order_by(sort, sql.SQL("m.sort_key")),
            )
        else:
            statement = found.format(body=sql.SQL("body::text"), source=source, **parts)
        return conn.execute(statement, params | {"limit": limit}).fetchall()

    def facets(self, query: EventQuery, actors: bool = False) -> dict:
        """How many matches, and counts by type, country, certainty, source kind and month
        (and, with ``actors``, the TOP_ACTORS registry actors with the most matches).

        An event dated only to a year counts under the year (``2024``), not a month; an
        ``on_or_before`` event under its date with an open start (``../2025-07``).

        Summed from the counts kept by writes (migration 0071) when they can answer the
        filters (``query.buckets``); counted from the matching rows otherwise. Both give
        the same answer (tests/test_facet_buckets.py sets them against each other).
        """
        with self._reading(query) as (conn, source):
            if query.buckets is not None and query.as_of is None and not actors:
                where, params = query.buckets
                rows = conn.execute(_SUMMED.format(where=where), params).fetchall()
            else:
                rows = conn.execute(
                    _counted(actors).format(source=source, where=query.where),
                    query.params | {"top_actors": TOP_ACTORS},
                ).fetchall()
        counts: dict = {facet: {} for facet in FACETS}
        top = []
        # Largest first, months in calendar order.
        for facet, value, count, name in sorted(rows, key=lambda row: (-row[2], row[1] or "")):
            if facet == "total":
                total = count
            elif facet == "actor":
                top.append((value, name, count))
            else:
                counts[facet][value] = count
        counts["month"] = dict(
            sorted(counts["month"].items(), key=lambda item: (item[0].removeprefix("../"), item[0]))
        )
        if actors:
            # By count, then name, then id: the order the statement cut the top at.
            top.sort(key=lambda actor: (-actor[2], actor[1], actor[0]))
            counts["actor"] = [
                {"id": uuid.UUID(actor_id), "name": name, "count": count}
                for actor_id, name, count in top
            ]
        return {"total": total, **counts}

    def stream(
        self, query: EventQuery, sort: str, columns: sql.Composable = BODY_AND_POINT
    ) -> Iterator[list[tuple]]:
        """Every match in order, in batches of ``columns`` (by default: JSON text, lon, lat),
        from a server-side cursor."""
        statement = sql.SQL("SELECT {columns} FROM {source} WHERE {where} ORDER BY {order}")
        with (
            self._reading(query) as (conn, source),
            conn.transaction(),
            conn.cursor(name=f"export_{uuid.uuid4().hex}") as cursor,
        ):
            cursor.execute(
                statement.format(
                    columns=columns,
                    source=source,
                    where=query.where,
                    order=search_query.order_by(sort),
                ),
                query.params,
            )
            while batch := cursor.fetchmany(EXPORT_BATCH):
                yield batch


def search_store() -> SearchStore:
    """The search store of the current app."""
    return SearchStore(get_db(), current_app.config["AS_OF_MAX_CHANGES"], get_read_db())
