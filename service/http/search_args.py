"""The query parameters of search, facets and export, validated into plain values.

Repeated values of one parameter are alternatives (OR); different parameters all apply
(AND). A bad value is a 400 naming the parameter.
"""

from __future__ import annotations

import re

import marshmallow as ma
from marshmallow.validate import Length, OneOf, Range, Regexp

from schemas import (
    CERTAINTY,
    DATE_BASES,
    EVENT_KINDS,
    LOCATION_PRECISIONS,
    SOURCE_KINDS,
    date_span,
)
from schemas.fields import WHITE_SPACE, BoundedString, CountryCode, PartialDate
from schemas.limits import LARGEST_AMOUNT
from service.http.as_of_args import AsOfArgs
from service.http.cursor import CURSOR_PATTERN
from service.storage.distance import LONGEST_KM

# `scheme:value`: a scheme as the model spells it, then the value: no NUL, which
# PostgreSQL cannot hold (a 400, not a 500), and not starting with white space, spelt out
# (WHITE_SPACE) so that the spec's pattern means the same in every regex dialect: `\s` is
# another set in Python (which counts \x1c-\x1f) than in ECMA-262.
IDENTIFIER_PATTERN = rf"^[a-z0-9][a-z0-9-]{{0,63}}:[^{WHITE_SPACE}\x00][^\x00]{{0,127}}$"

# What a figure filter reads: the event's own figure, or any of it and its accounts.
FIGURE_READINGS = ("best", "any")

# Bounds that keep one request's SQL small, whatever is sent.
MAX_VALUES = 20
MAX_TEXT = 200
MAX_QUERY = 500
# Each order, and the identifier a client generator gives it (`x-enum-varnames`): by
# itself a generator turns `-date` into something like `VALUE_1`.
SORT_NAMES = {
    "date": "DATE",
    "-date": "DATE_DESC",
    "created_at": "CREATED_AT",
    "-created_at": "CREATED_AT_DESC",
    "relevance": "RELEVANCE",
    "distance": "DISTANCE",
}
SORTS = tuple(SORT_NAMES)


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
    return Repeatable(
        field,
        validate=Length(max=MAX_VALUES),
        metadata={
            "description": f"{description} Repeat for any of several values (at most {MAX_VALUES})."
        },
    )


# A plain decimal number, as the spec's pattern states it: no exponent, no "inf" or
# "nan", no white space, digits on both sides of a point (`1.5`, `-0.25`, `180`).
DECIMAL = r"-?[0-9]{1,20}(?:\.[0-9]{1,20})?"


class _Numbers(ma.fields.String):
    """Comma-separated decimal numbers, as many as ``names`` (which the format error lists)."""

    names: tuple[str, ...]

    def __init__(self, **kwargs):
        self.pattern = rf"^{DECIMAL}(?:,{DECIMAL}){{{len(self.names) - 1}}}$"
        metadata = kwargs.pop("metadata", {}) | {"pattern": self.pattern}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not re.match(self.pattern, text):
            raise self.make_error("format")
        return tuple(float(part) for part in text.split(","))


class BoundingBox(_Numbers):
    """``minLon,minLat,maxLon,maxLat`` (WGS 84); minLon > maxLon crosses the antimeridian."""

    names = ("minLon", "minLat", "maxLon", "maxLat")
    default_error_messages = {
        "format": "Give four numbers: minLon,minLat,maxLon,maxLat.",
        "range": "Longitudes must be within -180..180 and latitudes within -90..90.",
        "order": "minLat must not be greater than maxLat.",
    }

    def __init__(self, **kwargs):
        super().__init__(
            metadata={
                "description": "minLon,minLat,maxLon,maxLat (plain decimals): events whose "
                "coordinates are inside, whatever the point's `location.precision`. "
                "minLon > maxLon crosses the antimeridian. Also enforced: longitudes "
                "within -180..180, latitudes within -90..90, minLat not greater "
                "than maxLat (a 400 naming bbox).",
                "examples": ["124.0,37.5,131.0,43.0"],
            },
            **kwargs,
        )

    def _deserialize(self, value, attr, data, **kwargs):
        numbers = super()._deserialize(value, attr, data, **kwargs)
        min_lon, min_lat, max_lon, max_lat = numbers
        if not all(-180 <= lon <= 180 for lon in (min_lon, max_lon)) or not all(
            -90 <= lat <= 90 for lat in (min_lat, max_lat)
        ):
            raise self.make_error("range")
        if min_lat > max_lat:
            raise self.make_error("order")
        return numbers


class NearPoint(_Numbers):
    """``lon,lat,km``: within ``km`` kilometres (great-circle) of a WGS 84 point."""

    names = ("lon", "lat", "km")
    default_error_messages = {
        "format": "Give three numbers: lon,lat,km.",
        "range": "lon must be within -180..180 and lat within -90..90.",
        "distance": "km must be greater than 0 and at most {max}.",
    }

    def __init__(self, **kwargs):
        super().__init__(
            metadata={
                "description": "lon,lat,km (plain decimals): events whose point lies within km "
                "kilometres of (lon, lat), measured along the Earth's surface (great "
                "circle), whatever the point's `location.precision`. Each item of "
                "the page then carries `distance_km`. Also enforced: lon within "
                f"-180..180, lat within -90..90, km more than 0 and at most "
                f"{LONGEST_KM} (a 400 naming near).",
                "examples": ["36.19,51.73,150"],
            },
            **kwargs,
        )

    def _deserialize(self, value, attr, data, **kwargs):
        numbers = super()._deserialize(value, attr, data, **kwargs)
        lon, lat, km = numbers
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise self.make_error("range")
        if not 0 < km <= LONGEST_KM:
            raise self.make_error("distance", max=LONGEST_KM)
        return numbers


def _killed_bound(description: str, example: int) -> ma.fields.Float:
    """A bound of the killed figure a search reads (which figure: `figures`)."""
    return ma.fields.Float(
        validate=Range(0, LARGEST_AMOUNT),
        allow_nan=False,
        metadata={
            "description": f"{description} Which figure is read: see `figures`.",
            "examples": [example],
        },
    )


class FilterArgs(AsOfArgs):
    """The filters shared by search, facets and export, and the moment they apply to."""

    q = _text(
        MAX_QUERY,
        metadata={
            "description": "Full text over title, summary, actor names, place names and "
            "regions, quotes and paraphrases, and tags, in web-search syntax: "
            '`"exact phrase"`, `OR`, `-excluded`.',
            "examples": ['Lavrov "Kim Jong Un" -Kursk'],
        },
    )
    type = _repeatable(ma.fields.String(validate=OneOf(sorted(EVENT_KINDS))), "Kind of event.")
    actor = _repeatable(_text(), "Actor name, case-insensitive, any actor of the event.")
    actor_id = _repeatable(
        ma.fields.UUID(metadata={"examples": ["6f1c2b8e-4a10-4f5e-9d7a-0b6c6d3e5a0e"]}),
        "Registry actor id (`/v1/actors/{id}`): every event of that actor, under any "
        "spelling; a merged actor's id finds its survivor's events.",
    )
    source_actor_id = _repeatable(
        ma.fields.UUID(metadata={"examples": ["6f1c2b8e-4a10-4f5e-9d7a-0b6c6d3e5a0e"]}),
        "Registry actor id: every event whose sources cite that actor, as a publisher or a "
        "link of an attribution chain (`actor_id` finds the events it takes part in); a "
        "merged actor's id finds its survivor's.",
    )
    country = _repeatable(CountryCode(), "ISO 3166-1 alpha-2 code of the location or of any actor.")
    location = _repeatable(_text(), "Place name, case-insensitive.")
    date_from = PartialDate(
        metadata={
            "description": "Start of the window (YYYY, YYYY-MM or YYYY-MM-DD: its first day). "
            "An event matches when it may have happened within the window: its "
            "date span overlaps it. An `on_or_before` event's span runs from the "
            "earliest date to its date, so it matches any window starting on or "
            "before its date (filter with `date_basis=on` to leave such events "
            "out)."
        }
    )
    date_to = PartialDate(
        metadata={
            "description": "End of the window (YYYY, YYYY-MM or YYYY-MM-DD: its last day). Also "
            "enforced: it does not end before `date_from` begins (a 400 naming "
            "date_to)."
        }
    )
    certainty = _repeatable(ma.fields.String(validate=OneOf(CERTAINTY)), "Certainty.")
    tag = _repeatable(_text(), "Tag, exactly as stored.")
    source = _repeatable(_text(), "Publisher of a source, exactly as stored.")
    identifier = _repeatable(
        ma.fields.String(
            validate=Regexp(IDENTIFIER_PATTERN, error="Give SCHEME:VALUE, e.g. ucdp-ged:300380."),
            metadata={"examples": ["ucdp-ged:300380"]},
        ),
        "An identifier of the event in another dataset, `SCHEME:VALUE` exactly as stored "
        "(`ucdp-ged:300380`, `acled:UKR12345`).",
    )
    source_kind = _repeatable(
        ma.fields.String(validate=OneOf(SOURCE_KINDS)),
        "Kind of source, of a publisher or of any link of its attribution chain.",
    )
    location_precision = _repeatable(
        ma.fields.String(validate=OneOf(tuple(LOCATION_PRECISIONS))),
        "How precisely the location is known. `bbox` and `near` match stored points "
        "whatever their precision; add `location_precision=exact&location_precision=near"
        "&location_precision=town` to leave out points standing for a region or a country.",
    )
    date_basis = _repeatable(
        ma.fields.String(validate=OneOf(tuple(DATE_BASES))),
        "`on`: dated events; `on_or_before`: events known only to have happened by their date.",
    )
    bbox = BoundingBox()
    near = NearPoint()
    killed_min = _killed_bound(
        "Events whose total killed (a casualties report's `killed`, or "
        "`casualties.killed`) reads at least this many. A figure reads as its `value` "
        "(the exact figure, or the best estimate within its bounds), else its `min`; "
        "one with only a `max` reads as nothing and never matches.",
        100,
    )
    killed_max = _killed_bound(
        "Events whose total killed reads at most this many, read as for `killed_min` (a "
        "figure with only a `max` reads as nothing and never matches). Also enforced: not "
        "less than `killed_min` (a 400 naming killed_max).",
        1000,
    )
    figures = ma.fields.String(
        validate=OneOf(FIGURE_READINGS),
        metadata={
            "description": "Which figure `killed_min` and `killed_max` read. `best` (the "
            "default): the event's own figure, the writer's best one; `any`: the figure or "
            "any one of its accounts (some source says at least, at most, or between that "
            "many: with both bounds, one account within both). Also enforced: only with "
            "`killed_min` or `killed_max` (a 400 naming figures).",
            "examples": ["any"],
        },
    )

    @ma.validates_schema
    def _figures_with_a_figure_filter(self, data, **kwargs):
        if "figures" in data and not {"killed_min", "killed_max"} & set(data):
            raise ma.ValidationError("Only with killed_min or killed_max.", "figures")
        if data.get("killed_max", LARGEST_AMOUNT) < data.get("killed_min", 0):
            raise ma.ValidationError("Must not be less than killed_min.", "killed_max")

    @ma.validates_schema
    def _window_is_ordered(self, data, **kwargs):
        if (
            "date_from" in data
            and "date_to" in data
            and date_span(data["date_to"])[1] < date_span(data["date_from"])[0]
        ):
            raise ma.ValidationError("Must not be before date_from.", "date_to")


class FacetArgs(FilterArgs):
    """Facets: the filters, and which facets to count beyond the five always counted."""

    facet = Repeatable(
        ma.fields.String(validate=OneOf(("actor",))),
        validate=Length(max=1),
        metadata={
            "description": "A facet to count besides type, country, certainty, source kind "
            "and month: `actor`, the 20 registry actors with the most matching events."
        },
    )


class SortedArgs(FilterArgs):
    """Filters and an order."""

    sort = ma.fields.String(
        validate=OneOf(SORTS),
        metadata={
            "x-enum-varnames": list(SORT_NAMES.values()),
            "description": "`date`/`-date`: by the start of the date span (ties by id; "
            "`on_or_before` events, whose span opens at the earliest date, come "
            "first); `created_at`/`-created_at`: by when stored; `relevance` "
            "(needs `q`): events whose title matches the query first, then the others, "
            "each by rank; `distance`: nearest first (needs `near`). Default: "
            "`relevance` with `q`, else `distance` with `near`, else `-created_at` "
            "(newest first). Also enforced: `relevance` only with `q`, `distance` "
            "only with `near` (a 400 naming sort).",
        },
    )

    @ma.validates_schema
    def _sort_has_what_it_needs(self, data, **kwargs):
        for sort, needed in (("relevance", "q"), ("distance", "near")):
            if data.get("sort") == sort and needed not in data:
                raise ma.ValidationError(f"{sort} needs {needed}.", "sort")

    @ma.post_load
    def _default_sort(self, data, **kwargs):
        default = "relevance" if "q" in data else "distance" if "near" in data else "-created_at"
        data.setdefault("sort", default)
        return data


def _cursor() -> ma.fields.String:
    """A cursor parameter: the alphabet of the cursors the service hands out."""
    return ma.fields.String(
        validate=[Length(min=1, max=1000), Regexp(CURSOR_PATTERN)],
        metadata={
            "description": "`next_cursor` of the previous page, as it was given. Also enforced: "
            "it was made by this service for this very search or listing (a 400 "
            "naming cursor otherwise)."
        },
    )


class SearchArgs(SortedArgs):
    """Search: filters, order and a page."""

    limit = ma.fields.Integer(
        load_default=20,
        validate=Range(1, 100),
        metadata={"description": "Events per page (1–100)."},
    )
    cursor = _cursor()


EXPORT_FORMATS = ("ndjson", "csv", "geojson")


class ExportArgs(SortedArgs):
    """Export: filters, order and a file format."""

    format = ma.fields.String(
        load_default="ndjson",
        validate=OneOf(EXPORT_FORMATS),
        metadata={
            "description": "`ndjson`: one event per line; `csv`: one row per event, flattened; "
            "`geojson`: a FeatureCollection of the events that have coordinates."
        },
    )


class ActorArgs(ma.Schema):
    """The actors list: a name search and a page."""

    q = _text(
        metadata={
            "description": "Part of a name, case-insensitive; tolerates small typos "
            "(`Lavrof` finds `Sergey Lavrov`).",
            "examples": ["lavrof"],
        }
    )
    limit = ma.fields.Integer(
        load_default=50,
        validate=Range(1, 100),
        metadata={"description": "Actors per page (1–100)."},
    )
    cursor = _cursor()
