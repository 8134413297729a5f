"""How an event becomes a row: its stored JSON body and the columns search filters on.

Every writer builds rows here: the event store, bulk ingest, as-of search's temporary table
and the benchmark's loader, so a column added here reaches all of them.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

from psycopg import sql
from psycopg.types.range import Range

from schemas import date_precision, event_span, figure_reading, killed_figure, source_kinds
from service.storage.csv_line import csv_fields

# Fields the service sets; a client's copy of them is never stored.
SERVICE_FIELDS = ("id", "version", "created_at", "updated_at", "deleted_at")


def timestamp(moment: dt.datetime) -> str:
    """RFC 3339 in UTC with a Z, as every timestamp of the API is written."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def client_view(body: dict) -> dict:
    """An event's stored body without the fields the service sets."""
    return {name: value for name, value in body.items() if name not in SERVICE_FIELDS}


def event_body(
    event_id: uuid.UUID,
    event: dict,
    version: int,
    created_at: str,
    updated_at: str,
    deleted_at: str | None = None,
) -> str:
    """An event's JSON text as stored and served: the service's fields around the client's."""
    body = {"id": str(event_id), "type": event["type"]}
    body.update((name, value) for name, value in event.items() if name != "type")
    body.update(version=version, created_at=created_at, updated_at=updated_at)
    if deleted_at is not None:
        body["deleted_at"] = deleted_at
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def actor_key(name: str) -> str:
    """How an actor name is matched: case-insensitively (stored, and asked for, this way)."""
    return name.lower()


def identifier_text(scheme: str, value: str) -> str:
    """How an identifier is stored and searched: ``scheme:value``."""
    return f"{scheme}:{value}"


def identifier_texts(identifiers: list[dict]) -> list[str]:
    return [identifier_text(i["scheme"], i["value"]) for i in identifiers]


def source_actor_ids(sources: list[dict]) -> list[uuid.UUID]:
    """The registry actors an event's sources cite: publishers and chain links resolved
    (``publisher_actor_id``, each link's ``actor_id``), for ``source_actor_id=`` search."""
    ids = set()
    for source in sources:
        if "publisher_actor_id" in source:
            ids.add(source["publisher_actor_id"])
        ids.update(
            link["actor_id"]
            for link in source.get("attributed_to", ())
            if isinstance(link, dict) and "actor_id" in link
        )
    return sorted(uuid.UUID(actor_id) for actor_id in ids)


def killed_readings(event: dict) -> dict:
    """``killed_best``: the reading of the event's killed figure (``figure_reading``);
    ``killed_any`` and ``killed_fewest``: the greatest and the least reading of that figure
    and its accounts; ``killed_readings``: every one of them, the figure's first. NULL
    without one."""
    figure = killed_figure(event)
    if figure is None:
        return dict.fromkeys(KILLED_COLUMNS)
    readings = [figure_reading(each) for each in (figure, *figure.get("accounts", ()))]
    known = [reading for reading in readings if reading is not None]
    return {
        "killed_best": readings[0],
        "killed_any": max(known) if known else None,
        "killed_fewest": min(known) if known else None,
        "killed_readings": [float(reading) for reading in known] or None,
    }


KILLED_COLUMNS = ("killed_best", "killed_any", "killed_fewest", "killed_readings")


def search_columns(event: dict) -> dict:
    """The columns search filters on, derived from a validated event (and the cells of its
    CSV line: ``csv_line.csv_fields``)."""
    start, end = event_span(event)
    location = event.get("location") or {}
    actors = event.get("actors", [])
    countries = {location.get("country")} | {actor.get("country") for actor in actors}
    details = event.get("details", {})
    weighted_text = " ".join(
        part
        for part in (
            event.get("summary"),
            " ".join(actor["name"] for actor in actors),
            location.get("name"),
            location.get("region"),
            details.get("quote"),
            details.get("gist"),
            " ".join(event.get("tags", [])),
        )
        if part
    )
    return {
        "type": event["type"],
        "key": event.get("key"),
        "date_span": Range(start, end, "[]"),
        "date_precision": date_precision(event["date"]),
        "date_basis": event.get("date_basis", "on"),
        "certainty": event["certainty"],
        "countries": sorted(c for c in countries if c),
        "actor_names": [actor["name"] for actor in actors],
        "actor_keys": [actor_key(actor["name"]) for actor in actors],
        "actor_ids": sorted({uuid.UUID(a["actor_id"]) for a in actors if "actor_id" in a}),
        "tags": event.get("tags", []),
        "publishers": [source["publisher"] for source in event["sources"]],
        "source_actor_ids": source_actor_ids(event["sources"]),
        "source_kinds": source_kinds(event["sources"]),
        "place": location.get("name"),
        "lat": location.get("lat"),
        "lon": location.get("lon"),
        "location_precision": location.get("precision"),
        "csv_fields": csv_fields(event),
        "identifiers": identifier_texts(event.get("identifiers", [])),
        **killed_readings(event),
        "title": event["title"],
        "text": weighted_text,
    }


def search_vector_sql(title: str, text: str) -> str:
    """The SQL of the stored ``search`` tsvector, from SQL expressions of title and text."""
    return (
        f"setweight(to_tsvector('english', {title}), 'A')"
        f" || setweight(to_tsvector('english', {text}), 'B')"
    )


# The columns `search_columns` derives from an event, named once: the INSERT and the
# UPDATE below are composed from this list, and so is the benchmark's COPY.
INDEXED_COLUMNS = (
    "key",
    "type",
    "date_span",
    "date_precision",
    "date_basis",
    "certainty",
    "countries",
    "actor_names",
    "actor_keys",
    "actor_ids",
    "tags",
    "publishers",
    "source_actor_ids",
    "source_kinds",
    "place",
    "lat",
    "lon",
    "location_precision",
    "csv_fields",
    "identifiers",
    *KILLED_COLUMNS,
)
SEARCH_VECTOR = sql.SQL(search_vector_sql("%(title)s", "%(text)s"))


def insert_statement(table: str) -> sql.Composed:
    """INSERT of one live event row into ``table`` (``events``, or a table like it).

    Its parameters: ``search_columns(event)`` and id, version, body, created_at and
    updated_at. As-of search fills its temporary table with the same statement, so a
    column added here is rebuilt there too.
    """
    return sql.SQL(
        "INSERT INTO {table} (id, version, body, {columns}, search, created_at, updated_at)"
        " VALUES (%(id)s, %(version)s, %(body)s, {values}, {vector}, %(created_at)s,"
        " %(updated_at)s)"
    ).format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(map(sql.Identifier, INDEXED_COLUMNS)),
        values=sql.SQL(", ").join(map(sql.Placeholder, INDEXED_COLUMNS)),
        vector=SEARCH_VECTOR,
    )
