"""The event envelope, the registry of kinds, and the ``Event`` union over them.

Every event shares one envelope; its ``type`` picks the schema of ``details``. A kind is
added by writing its details schema and decorating it with ``@event_kind("name")``
(see ``schemas/kinds.py``): that builds the kind's envelope and registers it.
"""

from __future__ import annotations

import datetime as dt
import functools

from marshmallow import Schema, ValidationError, fields, pre_load, validates_schema
from marshmallow.validate import Equal, Length, OneOf, Regexp
from marshmallow_oneofschema import OneOfSchema

from schemas import limits
from schemas.common import (
    Actor,
    Location,
    Related,
    Source,
    StrictSchema,
    account_source_errors,
    given,
    identifiers_field,
)
from schemas.fields import BoundedList, BoundedString, PartialDate, date_span

CERTAINTY = ("confirmed", "reported", "claimed", "estimated", "planned")
CERTAINTY_MEANINGS = {
    "confirmed": "Happened, as shown by the parties themselves or by evidence (a photo, an "
    "official record).",
    "reported": "Reported as fact by the source, relaying others; not independently confirmed.",
    "claimed": "Asserted by a party with an interest in it; not independently verified.",
    "estimated": "A figure or finding the source itself presents as an estimate.",
    "planned": "Announced, prepared or expected; not (yet) happened.",
}

KEY_PATTERN = r"^[a-z0-9][a-z0-9-]*$"

# How `date` places the event. Absent means `on`.
DATE_BASES = {
    "on": "The event happened within `date` (to `end_date`, if given).",
    "on_or_before": "The source says only that the event had happened by `date` (often the "
    "day of the report); when it began is not known. Takes no `end_date`.",
}
# The first day an "on or before" event may have happened: the model's earliest date.
EARLIEST_DAY = dt.date(limits.EARLIEST_YEAR, 1, 1)


def event_span(event: dict) -> tuple[dt.date, dt.date]:
    """First and last day on which a validated event may have happened.

    An ``on_or_before`` event may have happened on any day up to the end of its ``date``:
    its span opens at the model's earliest day, so a date window matches it whenever the
    window starts on or before that end (the same "may have happened within" overlap rule
    as for a year-only date).
    """
    end = date_span(event.get("end_date", event["date"]))[1]
    if event.get("date_basis") == "on_or_before":
        return EARLIEST_DAY, end
    return date_span(event["date"])[0], end


class EventEnvelope(StrictSchema):
    """Fields every event has, whatever its kind."""

    id = fields.UUID(dump_only=True, metadata={"description": "Assigned by the service."})
    key = fields.String(
        validate=[Length(min=1, max=limits.KEY_LENGTH), Regexp(KEY_PATTERN)],
        metadata={
            "description": "Optional natural key (a slug), unique among events; "
            "lets a loader update the same event again.",
            "examples": ["2025-07-12-lavrov-meets-kim-jong-un"],
        },
    )
    title = BoundedString(required=True, max_length=limits.TITLE_LENGTH)
    summary = BoundedString(max_length=limits.SUMMARY_LENGTH)
    date = PartialDate(required=True)
    end_date = PartialDate(metadata={"description": "Last day of a span, at the precision known."})
    date_basis = fields.String(
        validate=OneOf(tuple(DATE_BASES)),
        metadata={
            "description": "How `date` places the event. "
            + " ".join(f"`{k}`: {v}" for k, v in DATE_BASES.items())
            + " Absent: `on`.",
            "examples": ["on_or_before"],
        },
    )
    location = fields.Nested(Location)
    actors = BoundedList(fields.Nested(Actor), max_items=limits.ACTORS)
    sources = BoundedList(
        fields.Nested(Source), max_items=limits.SOURCES, required=True, validate=Length(min=1)
    )
    certainty = fields.String(
        required=True,
        validate=OneOf(CERTAINTY),
        metadata={
            "description": "How the source holds it. "
            + " ".join(f"`{k}`: {v}" for k, v in CERTAINTY_MEANINGS.items())
        },
    )
    tags = BoundedList(BoundedString(max_length=limits.TAG_LENGTH), max_items=limits.TAGS)
    related = BoundedList(fields.Nested(Related), max_items=limits.LIST_ITEMS)
    identifiers = identifiers_field(
        "This event's ids in other datasets, each at most once: `ucdp-ged` (UCDP GED's "
        "`id`), `acled` (ACLED's `event_id_cnty`) … The same incident in two datasets "
        "holds both. Search finds it with `identifier=SCHEME:VALUE`."
    )
    version = fields.Integer(dump_only=True, metadata={"description": "Starts at 1, +1 per write."})
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)
    deleted_at = fields.DateTime(
        dump_only=True, metadata={"description": "Set on revisions that record a deletion."}
    )
    distance_km = fields.Float(
        dump_only=True,
        metadata={
            "description": "Only in search results with `near`: the great-circle "
            "distance in km from the `near` point to the event's point."
        },
    )

    # `_on_or_before_has_no_end`; `_end_date_not_before_date` JSON Schema cannot state.
    json_schema_extra = {
        "not": given("date_basis", "end_date", date_basis={"const": "on_or_before"})
    }

    @pre_load
    def _reject_read_only_fields(self, data, **kwargs):
        if isinstance(data, dict):
            sent = [name for name, field in self.fields.items() if field.dump_only and name in data]
            if sent:
                message = ["Read-only field: set by the service."]
                raise ValidationError({name: message for name in sent})
        return data

    @validates_schema
    def _on_or_before_has_no_end(self, data, **kwargs):
        if data.get("date_basis") == "on_or_before" and "end_date" in data:
            raise ValidationError(
                "Not with date_basis on_or_before: date is already the "
                "latest the event can have happened.",
                "end_date",
            )

    @validates_schema
    def _end_date_not_before_date(self, data, **kwargs):
        if (
            "date" in data
            and "end_date" in data
            and date_span(data["end_date"])[1] < date_span(data["date"])[0]
        ):
            raise ValidationError("Must not be before date.", "end_date")

    @validates_schema
    def _accounts_name_its_sources(self, data, **kwargs):
        # Accounts sit in `details`, their sources in the envelope: checked here.
        if "details" in data and "sources" in data:
            errors = account_source_errors(data)
            if errors:
                raise ValidationError(errors)


# type name -> that kind's full event schema (envelope + typed details)
EVENT_KINDS: dict[str, type[Schema]] = {}


def event_kind(name: str):
    """Register a details schema as the kind ``name``; returns the class unchanged."""

    def register(details: type[Schema]) -> type[Schema]:
        if name in EVENT_KINDS:
            raise ValueError(f"event kind {name!r} is registered twice")
        stem = details.__name__.removesuffix("Details")
        EVENT_KINDS[name] = type(
            f"{stem}Event",
            (EventEnvelope,),
            {
                "__doc__": f"A `{name}` event. {details.__doc__ or ''}".strip(),
                "type": fields.String(
                    required=True, validate=Equal(name), metadata={"enum": [name]}
                ),
                "details": fields.Nested(details, required=True),
            },
        )
        return details

    return register


@functools.cache
def _kind_schema(name: str) -> Schema:
    """The one instance of kind ``name``'s schema, made on first use."""
    return EVENT_KINDS[name]()


class Event(OneOfSchema):
    """Any event: the ``type`` field selects the kind and so the schema of ``details``."""

    type_field = "type"
    type_field_remove = False
    type_schemas = EVENT_KINDS

    # `_load` is OneOfSchema's private method, overridden for the speed and the messages
    # below; pyproject pins marshmallow-oneofschema to 3.x, whose `load` calls it per item,
    # and tests/test_validation.py fails if a release changes that.
    def _load(self, data, *, partial=None, unknown=None, **kwargs):
        if not isinstance(data, dict):
            raise ValidationError({"_schema": ["An event must be a JSON object."]})
        data_type = self.get_data_type(data)
        if data_type is None:
            raise ValidationError({self.type_field: ["Missing data for required field."]})
        # OneOfSchema would build a new instance of the kind's schema for every event, and
        # with it every nested schema: three quarters of the time of a load. Schemas hold no
        # per-load state, so one instance per kind serves every load (and every thread).
        schema = _kind_schema(data_type)
        return schema.load(data, partial=partial, unknown=unknown or self.unknown, **kwargs)

    def get_data_type(self, data):
        data_type = super().get_data_type(data)
        if data_type is not None and not isinstance(data_type, str):
            raise ValidationError({"type": ["Not a valid string."]})
        if isinstance(data_type, str) and data_type not in self.type_schemas:
            raise ValidationError(
                {"type": [f"Must be one of: {', '.join(sorted(self.type_schemas))}."]}
            )
        return data_type

    def get_obj_type(self, obj):
        return obj["type"]
