"""Pieces shared by every kind of event: place, actor, source, quantity, link to another event."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validates_schema
from marshmallow.validate import Length, OneOf, Range, Regexp

from schemas import limits
from schemas.fields import (
    Amount,
    BoundedList,
    BoundedString,
    CountryCode,
    PartialDate,
    StrictBoolean,
    StrictFloat,
)


class StrictSchema(Schema):
    """Base of every schema of the model: unknown fields are rejected by name."""

    class Meta:
        unknown = RAISE
        ordered = True


class Location(StrictSchema):
    """Where an event took place."""

    name = BoundedString(required=True, metadata={"examples": ["Wonsan"]})
    region = BoundedString(metadata={"description": "Province, oblast or area within the country."})
    country = CountryCode(required=True)
    lat = StrictFloat(validate=Range(min=-90, max=90),
                      metadata={"description": "WGS 84 latitude."})
    lon = StrictFloat(validate=Range(min=-180, max=180),
                      metadata={"description": "WGS 84 longitude."})

    @validates_schema
    def _coordinates_come_in_pairs(self, data, **kwargs):
        if ("lat" in data) != ("lon" in data):
            missing = "lon" if "lat" in data else "lat"
            raise ValidationError("lat and lon must be given together.", missing)


ACTOR_KINDS = (
    "person",
    "state",
    "government_body",
    "armed_force",
    "armed_group",
    "organization",
    "international_organization",
    "media",
    "intelligence_service",
    "group",
)


class Actor(StrictSchema):
    """Someone who takes part in an event, and the part they take."""

    name = BoundedString(required=True, metadata={"examples": ["Sergey Lavrov"]})
    kind = fields.String(required=True, validate=OneOf(ACTOR_KINDS))
    country = CountryCode(metadata={"description": "Country the actor belongs to or represents."})
    role = BoundedString(
        required=True,
        max_length=limits.TAG_LENGTH,
        metadata={"description": "The actor's part in this event: host, visitor, speaker, "
                                 "supplier, recipient, attacker, target …",
                  "examples": ["visitor"]},
    )
    title = BoundedString(metadata={"description": "Office held at the time.",
                                    "examples": ["Minister of Foreign Affairs"]})
    wikidata = fields.String(validate=Regexp(r"^Q[1-9][0-9]{0,11}$"),
                             metadata={"description": "Wikidata item id.", "examples": ["Q150412"]})


class Source(StrictSchema):
    """Who published the claim, and whom they attribute it to."""

    publisher = BoundedString(required=True, metadata={"examples": ["ANI"]})
    url = fields.Url(schemes={"http", "https"}, validate=Length(max=limits.URL_LENGTH))
    published = PartialDate(metadata={"description": "When the source published it."})
    attributed_to = BoundedList(
        BoundedString(),
        max_items=limits.ATTRIBUTION_CHAIN,
        metadata={"description": "The attribution chain, nearest first: the outlet the publisher "
                                 "relays, then whom that outlet cites.",
                  "examples": [["CNN", "Ukrainian intelligence"]]},
    )


class Quantity(StrictSchema):
    """A number as the source states it: exact, approximate, a range, or a bound.

    ``{"value": 728}`` is exact; ``{"value": 4000, "approximate": true}`` is "around 4,000";
    ``{"min": 25000, "max": 30000}`` is "25,000 to 30,000"; ``{"min": 100}`` is "at least
    100"; ``{"max": 50}`` is "at most 50".
    """

    value = Amount(metadata={"description": "The stated figure, when a single one is given."})
    min = Amount(metadata={"description": "Lower bound (\"at least\", or the low end of a range)."})
    max = Amount(metadata={"description": "Upper bound (\"at most\", or the high end of a range)."})
    approximate = StrictBoolean(
        metadata={"description": "The source hedges the figure: around, estimated, some."},
    )
    unit = BoundedString(required=True, max_length=limits.TAG_LENGTH,
                         metadata={"examples": ["soldiers", "ballistic missiles"]})
    note = BoundedString(max_length=limits.TEXT_LENGTH,
                         metadata={"description": "Further qualification, e.g. \"a record\"."})

    @validates_schema
    def _is_a_figure_or_bounds(self, data, **kwargs):
        has_value = "value" in data
        has_bounds = "min" in data or "max" in data
        if has_value and has_bounds:
            raise ValidationError("Give either value, or min and/or max, not both.", "_schema")
        if not has_value and not has_bounds:
            raise ValidationError("Give value, or min and/or max.", "_schema")
        if has_bounds and "min" in data and "max" in data and data["min"] > data["max"]:
            raise ValidationError("Must not be greater than max.", "min")


RELATIONS = ("part_of", "follows", "precedes", "responds_to", "causes", "same_as", "related_to")


class Related(StrictSchema):
    """A link from this event to another one."""

    event = BoundedString(
        required=True,
        max_length=limits.KEY_LENGTH,
        metadata={"description": "The other event's id or natural key."},
    )
    relation = fields.String(required=True, validate=OneOf(RELATIONS))
