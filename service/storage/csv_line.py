"""An event as one line of the CSV export, built when the event is written.

Flattening a stored body per row (parse the JSON, pick and join its parts, quote the
cells) cost about 45 µs of Python per row: a CSV export ran at a fifth of NDJSON's speed.
So the cells an event's own fields give (``type`` to ``killed_accounts``) are built once, at write
time, into the ``csv_fields`` column (``search_columns`` derives it like the other
columns, so every writer stores it); an export only puts the id, the version and the
timestamps around it, in SQL (``CSV_LINE``), and sends the lines as they are.
"""

from __future__ import annotations

import csv
import io
import json

from psycopg import sql

from schemas import killed_figure, source_kinds, widest_range

CSV_COLUMNS = (
    "id",
    "type",
    "key",
    "title",
    "summary",
    "date",
    "end_date",
    "date_basis",
    "certainty",
    "location_name",
    "location_region",
    "location_country",
    "location_precision",
    "lat",
    "lon",
    "actors",
    "actor_countries",
    "tags",
    "publishers",
    "source_kinds",
    "source_urls",
    "details",
    "related",
    # The event's total killed (details.killed, or details.casualties.killed): the widest
    # range of its figure and its accounts (empty where unbounded), and how many accounts.
    "killed_min",
    "killed_max",
    "killed_accounts",
    "version",
    "created_at",
    "updated_at",
)
# Lists inside one CSV cell.
LIST_SEPARATOR = "; "
# Python's csv module's line end (RFC 4180's), as the export has always written.
LINE_END = "\r\n"


def _joined(values) -> str:
    return LIST_SEPARATOR.join(value for value in values if value)


def _as_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) if value else ""


def killed_cells(event: dict) -> list:
    """``killed_min``, ``killed_max`` and ``killed_accounts``: empty without a figure."""
    figure = killed_figure(event)
    if figure is None:
        return ["", "", ""]
    low, high = widest_range(figure)
    return [
        "" if low is None else low,
        "" if high is None else high,
        len(figure.get("accounts", ())),
    ]


def field_cells(event: dict) -> list:
    """The cells of an event's own fields, ``type`` to ``killed_accounts``: nested parts
    flat, lists joined, ``details`` and ``related`` as JSON."""
    location = event.get("location") or {}
    actors = event.get("actors", [])
    sources = event["sources"]
    return [
        event["type"],
        event.get("key", ""),
        event["title"],
        event.get("summary", ""),
        event["date"],
        event.get("end_date", ""),
        event.get("date_basis", "on"),
        event["certainty"],
        location.get("name", ""),
        location.get("region", ""),
        location.get("country", ""),
        location.get("precision", ""),
        location.get("lat", ""),
        location.get("lon", ""),
        _joined(actor["name"] for actor in actors),
        _joined(dict.fromkeys(actor.get("country") for actor in actors)),
        _joined(event.get("tags", [])),
        _joined(source["publisher"] for source in sources),
        _joined(source_kinds(sources)),
        _joined(source.get("url") for source in sources),
        _as_json(event.get("details")),
        _as_json(event.get("related")),
        *killed_cells(event),
    ]


def csv_fields(event: dict) -> str:
    """``field_cells`` as CSV text, quoted as the csv module quotes (the stored column)."""
    buffer = io.StringIO()
    # The line end stays the default: the writer quotes the cells that hold its characters.
    csv.writer(buffer, lineterminator=LINE_END).writerow(field_cells(event))
    return buffer.getvalue().removesuffix(LINE_END)


def header() -> str:
    """The export's first line."""
    return ",".join(CSV_COLUMNS) + LINE_END


# The whole line of a stored row, from its columns. id, version and the timestamps never
# need quoting; the timestamps are written as `rows.timestamp` writes them into the body
# (the columns hold the same instants).
_STAMP = '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\''
CSV_LINE = sql.SQL(
    "id::text || ',' || csv_fields || ',' || version::text"
    f" || ',' || to_char(created_at AT TIME ZONE 'UTC', {_STAMP})"
    f" || ',' || to_char(updated_at AT TIME ZONE 'UTC', {_STAMP}) || E'\\r\\n'"
)
