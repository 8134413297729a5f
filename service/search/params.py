"""The query parameters of search, facets and export, validated into plain values.

Repeated values of one parameter are alternatives (OR); different parameters all apply
(AND). A bad value is a 400 naming the parameter.
"""

from __future__ import annotations

import math

import marshmallow as ma
from marshmallow.validate import Length, OneOf, Range

from schemas import CERTAINTY, EVENT_KINDS, date_span
from schemas.fields import BoundedString, CountryCode, PartialDate
from service.search.as_of import AsOfArgs

# Bounds that keep one request's SQL small, whatever is sent.
MAX_VALUES = 20
MAX_TEXT = 200
MAX_QUERY = 500
SORTS = ("date", "-date", "created_at", "-created_at", "relevance")


def _text(max_length: int = MAX_TEXT, **kwargs) -> BoundedString:
    """Text a client searches for: stripped, non-empty, bounded, no NUL (as in events)."""
    return BoundedString(max_length=max_length, **kwargs)


class Repeatable(ma.fields.List):
    """A parameter given once or more, meaning any of its values; errors name the parameter."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except ma.ValidationError as error:
            if not isinstance(error.messages, dict):
                raise
            messages = [m for inner in error.messages.values() for m in inner]
            raise ma.ValidationError(list(dict.fromkeys(messages))) from error


def _repeatable(field: ma.fields.Field, description: str) -> Repeatable:
    return Repeatable(field, validate=Length(max=MAX_VALUES), metadata={
        "description": f"{description} Repeat for any of several values "
                       f"(at most {MAX_VALUES})."})


class BoundingBox(ma.fields.String):
    """``minLon,minLat,maxLon,maxLat`` (WGS 84); minLon > maxLon crosses the antimeridian."""

    default_error_messages = {
        "format": "Give four numbers: minLon,minLat,maxLon,maxLat.",
        "range": "Longitudes must be within -180..180 and latitudes within -90..90.",
        "order": "minLat must not be greater than maxLat.",
    }

    def __init__(self, **kwargs):
        super().__init__(metadata={
            "description": "minLon,minLat,maxLon,maxLat: events whose coordinates are inside. "
                           "minLon > maxLon crosses the antimeridian.",
            "examples": ["124.0,37.5,131.0,43.0"]}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            numbers = [float(part) for part in text.split(",")]
        except ValueError as error:
            raise self.make_error("format") from error
        if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
            raise self.make_error("format")
        min_lon, min_lat, max_lon, max_lat = numbers
        if not all(-180 <= lon <= 180 for lon in (min_lon, max_lon)) or not all(
                -90 <= lat <= 90 for lat in (min_lat, max_lat)):
            raise self.make_error("range")
        if min_lat > max_lat:
            raise self.make_error("order")
        return tuple(numbers)


class FilterArgs(AsOfArgs):
    """The filters shared by search, facets and export, and the moment they apply to."""

    q = _text(MAX_QUERY, metadata={
        "description": "Full text over title, summary, actor names, place names and "
                       "regions, quotes and paraphrases, and tags, in web-search syntax: "
                       '`"exact phrase"`, `OR`, `-excluded`.',
        "examples": ['Lavrov "Kim Jong Un" -Kursk']})
    type = _repeatable(ma.fields.String(validate=OneOf(sorted(EVENT_KINDS))),
                       "Kind of event.")
    actor = _repeatable(_text(), "Actor name, case-insensitive, any actor of the event.")
    country = _repeatable(CountryCode(),
                          "ISO 3166-1 alpha-2 code of the location or of any actor.")
    location = _repeatable(_text(), "Place name, case-insensitive.")
    date_from = PartialDate(metadata={
        "description": "Start of the window (YYYY, YYYY-MM or YYYY-MM-DD: its first day). "
                       "An event matches when its date span overlaps the window."})
    date_to = PartialDate(metadata={
        "description": "End of the window (YYYY, YYYY-MM or YYYY-MM-DD: its last day)."})
    certainty = _repeatable(ma.fields.String(validate=OneOf(CERTAINTY)), "Certainty.")
    tag = _repeatable(_text(), "Tag, exactly as stored.")
    source = _repeatable(_text(), "Publisher of a source, exactly as stored.")
    bbox = BoundingBox()

    @ma.validates_schema
    def _window_is_ordered(self, data, **kwargs):
        if ("date_from" in data and "date_to" in data
                and date_span(data["date_to"])[1] < date_span(data["date_from"])[0]):
            raise ma.ValidationError("Must not be before date_from.", "date_to")


class SortedArgs(FilterArgs):
    """Filters and an order."""

    sort = ma.fields.String(validate=OneOf(SORTS), metadata={
        "description": "`date`/`-date`: by the start of the date span (ties by id); "
                       "`created_at`/`-created_at`: by when stored; `relevance` (needs `q`). "
                       "Default: `relevance` with `q`, else `-created_at` (newest first)."})

    @ma.validates_schema
    def _relevance_needs_text(self, data, **kwargs):
        if data.get("sort") == "relevance" and "q" not in data:
            raise ma.ValidationError("relevance needs q.", "sort")

    @ma.post_load
    def _default_sort(self, data, **kwargs):
        data.setdefault("sort", "relevance" if "q" in data else "-created_at")
        return data


class SearchArgs(SortedArgs):
    """Search: filters, order and a page."""

    limit = ma.fields.Integer(load_default=20, validate=Range(1, 100),
                              metadata={"description": "Events per page (1–100)."})
    cursor = ma.fields.String(validate=Length(max=1000),
                              metadata={"description": "`next_cursor` of the previous page."})


EXPORT_FORMATS = ("ndjson", "csv", "geojson")


class ExportArgs(SortedArgs):
    """Export: filters, order and a file format."""

    format = ma.fields.String(load_default="ndjson", validate=OneOf(EXPORT_FORMATS), metadata={
        "description": "`ndjson`: one event per line; `csv`: one row per event, flattened; "
                       "`geojson`: a FeatureCollection of the events that have coordinates."})


class ActorArgs(ma.Schema):
    """The actors list: a name search and a page."""

    q = _text(metadata={
        "description": "Part of a name, case-insensitive; tolerates small typos "
                       "(`Lavrof` finds `Sergey Lavrov`).",
        "examples": ["lavrof"]})
    limit = ma.fields.Integer(load_default=50, validate=Range(1, 100),
                              metadata={"description": "Actors per page (1–100)."})
    cursor = ma.fields.String(validate=Length(max=1000),
                              metadata={"description": "`next_cursor` of the previous page."})
