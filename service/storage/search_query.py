"""Search parameters composed into SQL: a WHERE clause, an order and a keyset position.

Values only ever travel as bound parameters; the SQL text is built from fixed pieces
with ``psycopg.sql``, so no parameter can change the statement.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
import uuid
from dataclasses import dataclass, field

from psycopg import sql

from schemas import date_span
from service.storage.distance import DISTANCE_KM, bounding_box
from service.storage.rows import actor_key

_TSQUERY = sql.SQL("websearch_to_tsquery('english', {})").format(sql.Placeholder("q"))
# The query matches the event's title: the A-weighted part of `search` (rows.py), found
# through events_title_search_idx (migration 0011).
TITLE_MATCH = sql.SQL("ts_filter(search, '{{a}}') @@ {}").format(_TSQUERY)
# Relevance: events whose title matches come first, each group by ts_rank. ts_rank is
# at most 1, so adding 2 to a title match's keeps the groups apart in one real key (and
# one cursor value). SearchStore.page ranks the title matches alone first, and the rest
# only when a page reaches them.
TITLE_TIER = 2
_RANK = sql.SQL("ts_rank(search, {})").format(_TSQUERY)
# The relevance key within each group, where the group decides the CASE of the key in
# SORT_KEYS: the same real, bit for bit (ts_rank is never negative, so + 0 keeps it).
TITLE_KEY = sql.SQL("({} + {}::real)").format(_RANK, sql.Literal(TITLE_TIER))
OTHER_KEY = sql.SQL("({} + 0::real)").format(_RANK)
# The pair keys a title matching the query must hold (migration 0130), or NULL when the
# query has none (one word, OR, NOT): asked for before the title group is read.
TITLE_PAIRS_OF_QUERY = sql.SQL("SELECT tsquery_pair_keys({})").format(_TSQUERY)
# Title matches found through events_title_pairs_idx: the candidates hold every pair of
# the query's words, and the title match is then checked on each (IS TRUE: a condition
# to check, not one for the planner to look up again in the title index, whose long
# posting lists the pair index is there to avoid). Used beside `where_beside_text`: a
# query with pair keys has no OR and no NOT, so a title match is a match of `search`.
TITLE_MATCH_BY_PAIRS = sql.SQL("title_pair_keys(search) @> {}::bigint[] AND ({}) IS TRUE").format(
    sql.Placeholder("title_pairs"), TITLE_MATCH
)


@dataclass(frozen=True)
class SortKey:
    """One order of results: the SQL of its key, its direction, and its cursor values."""

    expression: sql.Composable
    descending: bool
    kind: type  # what the key's value is, as stored in a cursor
    sql_type: str  # the key's SQL type: a cursor's value is cast back to it exactly

    def dump(self, value) -> str | float:
        """The key's value as JSON."""
        return value if self.kind is float else value.isoformat()

    def load(self, value):
        """The key's value from its JSON; ValueError/TypeError when it is not one.

        A number must be one its SQL type can hold: the cast of a larger one would fail in
        the database, and an integer too long for a float fails in Python.
        """
        if self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError("not a number")
            try:
                number = float(value)
            except OverflowError as error:
                raise ValueError("too large for a float") from error
            if not math.isfinite(number):
                raise ValueError("not finite")
            if self.sql_type == "real":
                # What the database's cast to real gives: it refuses to overflow to
                # infinity or underflow to zero.
                as_real = struct.unpack("f", struct.pack("f", number))[0]
                if math.isinf(as_real) or (as_real == 0 and number != 0):
                    raise ValueError("not a real")
            return number
        return self.kind.fromisoformat(value)


_START = sql.SQL("lower(date_span)")
_CREATED = sql.SQL("created_at")
SORT_KEYS = {
    "date": SortKey(_START, False, dt.date, "date"),
    "-date": SortKey(_START, True, dt.date, "date"),
    "created_at": SortKey(_CREATED, False, dt.datetime, "timestamptz"),
    "-created_at": SortKey(_CREATED, True, dt.datetime, "timestamptz"),
    # ts_rank is a real; its value travels as the shortest decimal that reads back as
    # that same real, so the cast below restores it bit for bit.
    "relevance": SortKey(
        sql.SQL("({} + CASE WHEN {} THEN {} ELSE 0 END::real)").format(
            _RANK, TITLE_MATCH, sql.Literal(TITLE_TIER)
        ),
        True,
        float,
        "real",
    ),
    # A float8 travels as Python's shortest repr, which reads back as the same double.
    "distance": SortKey(DISTANCE_KM, False, float, "float8"),
}


@dataclass(frozen=True)
class EventQuery:
    """Which live events match, the bound values the SQL needs, and when (None: now)."""

    where: sql.Composable
    params: dict
    # The same conditions without the text match (`search @@ q`), which a title match by
    # pairs implies (SearchStore._by_relevance); ``where`` when there is no `q`.
    where_beside_text: sql.Composable | None = None
    # Each match's great-circle distance (km) from the `near` point; NULL without one.
    distance: sql.Composable = field(default_factory=lambda: sql.SQL("NULL::float8"))
    # The point index covers this search: a page's rows can be found before any body
    # is read (see SearchStore.page).
    on_point_index: bool = False
    # The `near` point and radius (lon, lat, km), when the search has one.
    near: tuple[float, float, float] | None = None
    # The moment the search applies to (None: now); see SearchStore and storage.as_of.
    as_of: dt.datetime | None = None
    # The same matches as cells of the counts kept by writes (migration 0071): a WHERE
    # over facet_buckets and its parameters, or None when those cannot answer the filters
    # (see bucket_filter).
    buckets: tuple[sql.Composable, dict] | None = None


def _any_of(column: str, name: str, values: list) -> tuple[sql.Composable, dict]:
    # One value as `=`, so that a composite GiST index (which cannot take ANY) applies.
    if len(values) == 1:
        return (
            sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(name)),
            {name: values[0]},
        )
    return (
        sql.SQL("{} = ANY({})").format(sql.Identifier(column), sql.Placeholder(name)),
        {name: values},
    )


def _overlaps(column: str, name: str, values: list) -> tuple[sql.Composable, dict]:
    return (
        sql.SQL("{} && {}::text[]").format(sql.Identifier(column), sql.Placeholder(name)),
        {name: values},
    )


def _of_registry_actors(column: str, ids: list) -> tuple[sql.Composable, dict]:
    # A merged actor's id stands for its survivor, which its events were moved to.
    return (
        sql.SQL(
            "{} && ARRAY(SELECT coalesce(merged_into, id) FROM actors WHERE id = ANY({}::uuid[]))"
        ).format(sql.Identifier(column + "s"), sql.Placeholder(column)),
        {column: ids},
    )


def _place_is(names: list[str]) -> tuple[sql.Composable, dict]:
    # lower() on both sides in SQL, so the expression index on lower(place) applies.
    params = {f"location_{i}": name for i, name in enumerate(names)}
    alternatives = sql.SQL(", ").join(
        sql.SQL("lower({})").format(sql.Placeholder(name)) for name in params
    )
    return sql.SQL("lower(place) IN ({})").format(alternatives), params


def _killed_between(
    low: float | None, high: float | None, figures: str
) -> tuple[sql.Composable, dict]:
    # killed_best reads the event's own figure; killed_any the greatest of it and its
    # accounts, killed_fewest the least (rows.killed_readings): "some source says at least
    # / at most that many". With both bounds and `any`, one reading within both
    # (killed_readings), after the indexed bounds.
    params = {"killed_min": low, "killed_max": high}
    parts = []
    if figures != "any":
        bounds = (("killed_best", ">=", low), ("killed_best", "<=", high))
    else:
        bounds = (("killed_any", ">=", low), ("killed_fewest", "<=", high))
    for (column, operator, value), name in zip(bounds, params, strict=True):
        if value is not None:
            parts.append(
                sql.SQL("{} {} {}").format(
                    sql.Identifier(column), sql.SQL(operator), sql.Placeholder(name)
                )
            )
    if figures == "any" and low is not None and high is not None:
        parts.append(
            sql.SQL(
                "EXISTS (SELECT FROM unnest(killed_readings) AS r"
                " WHERE r BETWEEN %(killed_min)s AND %(killed_max)s)"
            )
        )
    return sql.SQL(" AND ").join(parts), {n: v for n, v in params.items() if v is not None}


def _window(date_from: str | None, date_to: str | None) -> tuple[sql.Composable, dict]:
    # Each bound at its own precision: date_from=2024-06 starts on 1 June, date_to=2024
    # ends on 31 December. An absent bound is open (NULL in a range).
    return (
        sql.SQL("date_span && daterange({}::date, {}::date, '[]')").format(
            sql.Placeholder("window_start"), sql.Placeholder("window_end")
        ),
        {
            "window_start": date_span(date_from)[0] if date_from else None,
            "window_end": date_span(date_to)[1] if date_to else None,
        },
    )


def _in_box(
    bbox: tuple[float, float, float, float], prefix: str = "bbox"
) -> tuple[sql.Composable, dict]:
    min_lon, min_lat, max_lon, max_lat = bbox
    # Across the antimeridian, the box is two: east of min_lon and west of max_lon.
    boxes = [(min_lon, max_lon)] if min_lon <= max_lon else [(min_lon, 180.0), (-180.0, max_lon)]
    params = {f"{prefix}_min_lat": min_lat, f"{prefix}_max_lat": max_lat}
    parts = []
    for i, (west, east) in enumerate(boxes):
        params |= {f"{prefix}_west_{i}": west, f"{prefix}_east_{i}": east}
        parts.append(
            sql.SQL("point(lon, lat) <@ box(point({}, {}), point({}, {}))").format(
                sql.Placeholder(f"{prefix}_west_{i}"),
                sql.Placeholder(f"{prefix}_min_lat"),
                sql.Placeholder(f"{prefix}_east_{i}"),
                sql.Placeholder(f"{prefix}_max_lat"),
            )
        )
    return sql.SQL("({})").format(sql.SQL(" OR ").join(parts)), params


def within(lon: float, lat: float, km: float, prefix: str = "near") -> tuple[sql.Composable, dict]:
    """Rows within ``km`` (great circle) of (lon, lat): the box lets the point index find
    the candidates; the exact distance decides. The distance is from the ``near_lon`` and
    ``near_lat`` placeholders, which the caller binds."""
    box, params = _in_box(bounding_box(lon, lat, km), prefix)
    return (
        sql.SQL("{} AND {} <= {}").format(box, DISTANCE_KM, sql.Placeholder(f"{prefix}_km")),
        params | {f"{prefix}_km": km},
    )


def _near(lon: float, lat: float, km: float) -> tuple[sql.Composable, dict]:
    condition, params = within(lon, lat, km)
    return condition, params | {"near_lon": lon, "near_lat": lat}


def build(args: dict, *, located: bool = False) -> EventQuery:
    """The live events matching ``args`` (and having coordinates, if ``located``).

    With ``as_of``, the events live at that moment, as they stood then: the conditions are
    the same, only the rows they apply to differ (see ``storage.as_of``).
    """
    parts: list[tuple[sql.Composable, dict]] = [(sql.SQL("deleted_at IS NULL"), {})]
    text_match = sql.SQL("search @@ {}").format(_TSQUERY)
    if "q" in args:
        parts.append((text_match, {"q": args["q"]}))
    if "type" in args:
        parts.append(_any_of("type", "type", args["type"]))
    if "certainty" in args:
        parts.append(_any_of("certainty", "certainty", args["certainty"]))
    if "actor" in args:
        parts.append(_overlaps("actor_keys", "actor", [actor_key(a) for a in args["actor"]]))
    for column in ("actor_id", "source_actor_id"):
        if column in args:
            parts.append(_of_registry_actors(column, args[column]))
    if "country" in args:
        parts.append(_overlaps("countries", "country", args["country"]))
    if "tag" in args:
        parts.append(_overlaps("tags", "tag", args["tag"]))
    if "source" in args:
        parts.append(_overlaps("publishers", "source", args["source"]))
    if "identifier" in args:
        parts.append(_overlaps("identifiers", "identifier", args["identifier"]))
    if "source_kind" in args:
        parts.append(_overlaps("source_kinds", "source_kind", args["source_kind"]))
    if "location_precision" in args:
        parts.append(
            _any_of("location_precision", "location_precision", args["location_precision"])
        )
    if "date_basis" in args:
        parts.append(_any_of("date_basis", "date_basis", args["date_basis"]))
    if "location" in args:
        parts.append(_place_is(args["location"]))
    if "date_from" in args or "date_to" in args:
        parts.append(_window(args.get("date_from"), args.get("date_to")))
    if "bbox" in args:
        parts.append(_in_box(args["bbox"]))
    if "killed_min" in args or "killed_max" in args:
        parts.append(
            _killed_between(
                args.get("killed_min"), args.get("killed_max"), args.get("figures", "best")
            )
        )
    if "near" in args:
        parts.append(_near(*args["near"]))
    if located:
        parts.append((sql.SQL("lat IS NOT NULL AND lon IS NOT NULL"), {}))
    params: dict = {}
    for _, values in parts:
        params |= values
    where = sql.SQL(" AND ").join(condition for condition, _ in parts)
    beside_text = sql.SQL(" AND ").join(
        condition for condition, _ in parts if condition is not text_match
    )
    if "near" in args:
        return EventQuery(
            where,
            params,
            beside_text,
            DISTANCE_KM,
            on_point_index=True,
            near=args["near"],
            as_of=args.get("as_of"),
        )
    return EventQuery(
        where,
        params,
        beside_text,
        as_of=args.get("as_of"),
        buckets=None if located else bucket_filter(args),
    )


# The filters the kept counts can answer. Any other (q, actor names or ids, place, tag,
# publisher, identifier, location precision, bbox, near, as_of) needs the rows.
BUCKET_FILTERS = frozenset(
    {"type", "certainty", "date_basis", "country", "source_kind", "date_from", "date_to"}
)


def bucket_filter(args: dict) -> tuple[sql.Composable, dict] | None:
    """The cells of facet_buckets (migration 0071) that hold exactly the events ``args``
    match, as a WHERE and its parameters; None when no set of cells does.

    A cell's scope is every event, or the events naming one country, or one source kind:
    so at most one country or one source kind (not both). Its months are those the span
    starts and ends in: so a window of whole months (a `date_from` on a month's first day,
    a `date_to` on a month's last day), which overlaps a span exactly when it overlaps
    those months.
    """
    if set(args) - BUCKET_FILTERS:
        return None
    countries, kinds = args.get("country", []), args.get("source_kind", [])
    if len(countries) + len(kinds) > 1:
        return None
    scope = f"country:{countries[0]}" if countries else f"source_kind:{kinds[0]}" if kinds else ""
    parts = [sql.SQL("scope = {}").format(sql.Placeholder("bucket_scope"))]
    params: dict = {"bucket_scope": scope}
    for column in ("type", "certainty", "date_basis"):
        if column in args:
            parts.append(
                sql.SQL("{} = ANY({})").format(
                    sql.Identifier(column), sql.Placeholder(f"bucket_{column}")
                )
            )
            params[f"bucket_{column}"] = args[column]
    if "date_from" in args:
        start = date_span(args["date_from"])[0]
        if start.day != 1:
            return None
        parts.append(sql.SQL("last_month >= {}").format(sql.Placeholder("bucket_start")))
        params["bucket_start"] = start
    if "date_to" in args:
        end = date_span(args["date_to"])[1]
        if (end + dt.timedelta(days=1)).day != 1:
            return None
        parts.append(sql.SQL("first_month <= {}").format(sql.Placeholder("bucket_end")))
        params["bucket_end"] = end
    return sql.SQL(" AND ").join(parts), params


# The planar distance (degrees) from the `near` point: what the point index's KNN scan
# (`<->`) walks in order. Not the great-circle distance, but a walk by it finds a page of
# near rows first; SearchStore.page turns that page into an exact bound.
PLANAR_DISTANCE = sql.SQL("point(lon, lat) <-> point({}::float8, {}::float8)").format(
    sql.Placeholder("near_lon"), sql.Placeholder("near_lat")
)


def order_by(sort: str, key_expression: sql.Composable | None = None) -> sql.Composable:
    """ORDER BY the sort's key (or ``key_expression`` holding it), ties broken by id."""
    key = SORT_KEYS[sort]
    direction = sql.SQL("DESC" if key.descending else "ASC")
    return sql.SQL("{key} {dir}, id {dir}").format(
        key=key.expression if key_expression is None else key_expression, dir=direction
    )


def after(
    sort: str, position: tuple, key_expression: sql.Composable | None = None
) -> tuple[sql.Composable, dict]:
    """The condition for rows past ``position`` (key value, id) in the sort's order (its
    key, or ``key_expression`` holding it)."""
    key = SORT_KEYS[sort]
    operator = sql.SQL("<" if key.descending else ">")
    return (
        sql.SQL("({}, id) {} ({}::{}, {})").format(
            key.expression if key_expression is None else key_expression,
            operator,
            sql.Placeholder("after_key"),
            sql.SQL(key.sql_type),
            sql.Placeholder("after_id"),
        ),
        {"after_key": position[0], "after_id": position[1]},
    )


def position_to_json(sort: str, key_value, event_id: uuid.UUID) -> list:
    """A keyset position as JSON, for a cursor."""
    return [SORT_KEYS[sort].dump(key_value), str(event_id)]


def position_from_json(sort: str, value) -> tuple:
    """A keyset position from a cursor's JSON; ValueError/TypeError if it is not one."""
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError("not a position")
    return SORT_KEYS[sort].load(value[0]), uuid.UUID(value[1])
