"""Pieces shared by every kind of event: place, actor, source, quantity, link to another event."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validates_schema
from marshmallow.validate import Length, OneOf, Range, Regexp

from schemas import limits
from schemas.fields import (
    TEXT_PATTERN,
    Amount,
    BoundedList,
    BoundedString,
    CountryCode,
    PartialDate,
    StrictBoolean,
    StrictFloat,
    StrictInteger,
    WebUrl,
)


def given(*names: str, **properties: dict) -> dict:
    """JSON Schema for "these members are present" (and, if given, match ``properties``).

    Only constrained members are repeated under ``properties``: an empty schema there
    would read as "anything" to generators that merge alternatives into the object's own.
    """
    schema: dict = {"required": list(names)}
    if properties:
        schema["properties"] = properties
    return schema


# A rule across fields is stated as the shapes it forbids, under `not`: validators (and
# schemathesis) apply it, while client generators, which build types from `properties`
# and alternatives (`anyOf`, `oneOf`), skip `not` and keep the object a plain model. As
# alternatives of `required` lists, the same rules made openapi-python-client type the
# object `Any` and openapi-typescript `unknown`.
ABSENT = {"not": {}}  # a member's schema that nothing matches: the member is absent


def none_given(*names: str, **properties: dict) -> dict:
    """JSON Schema for "none of ``names`` is present" (and ``properties`` match, if given)."""
    return {"properties": {**{name: ABSENT for name in names}, **properties}}


def forbids(*shapes: dict, rule: str) -> dict:
    """JSON Schema for "the object has none of these shapes", with ``rule`` in words as
    its description (generators copy it into the model's documentation)."""
    return {
        "description": rule,
        "not": shapes[0] if len(shapes) == 1 else {"anyOf": list(shapes)},
    }


def any_given(names: tuple[str, ...]) -> dict:
    """JSON Schema for "at least one of ``names`` is present": not none of them."""
    return forbids(none_given(*names), rule=f"Give at least one of: {', '.join(names)}.")


class StrictSchema(Schema):
    """Base of every schema of the model: unknown fields are rejected by name.

    ``json_schema_extra``: JSON Schema keywords the spec adds to the schema's own, for the
    rules across its fields (its ``validates_schema`` checks) that JSON Schema can state.
    """

    json_schema_extra: dict = {}

    class Meta:
        unknown = RAISE
        ordered = True


# How precisely a location is known (ACLED's geo_precision, UCDP's where_prec): what its
# name and point stand for. A point of a `region` or `country` location marks an area,
# not the place itself.
LOCATION_PRECISIONS = {
    "exact": "The point is the place itself.",
    "near": "Near the point (within a few kilometres).",
    "town": "Somewhere in the town or city the point marks.",
    "district": "Somewhere in the district (a second-order administrative unit) the point "
    "stands for.",
    "region": "Somewhere in the region (province, oblast, border area) the point stands for.",
    "area": "Somewhere along a line or within an area that is no administrative unit (a "
    "front, a road, a river, a border zone) the point stands for.",
    "country": "Somewhere in the country; a point, if any, stands for the whole country.",
    "international": "In international waters or airspace; the point, if any, is where it "
    "was reported.",
}


UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

# A scheme names who issued an identifier: `ucdp-ged`, `acled`, `ucdp-actor`, `wikidata` …
SCHEME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"


class Identifier(StrictSchema):
    """An identifier another dataset or registry gives the same thing."""

    scheme = fields.String(
        required=True,
        validate=[Length(min=1, max=limits.TAG_LENGTH), Regexp(SCHEME_PATTERN)],
        metadata={"description": "Who issued it.", "examples": ["ucdp-ged"]},
    )
    value = BoundedString(
        required=True, max_length=limits.KEY_LENGTH, metadata={"examples": ["300380"]}
    )


def identifiers_field(description: str) -> BoundedList:
    """A list of identifiers, each (scheme, value) at most once."""
    return BoundedList(
        fields.Nested(Identifier),
        max_items=limits.LIST_ITEMS,
        validate=_distinct_identifiers,
        metadata={"description": description},
    )


def _distinct_identifiers(identifiers: list[dict]) -> None:
    seen = set()
    for identifier in identifiers:
        pair = (identifier["scheme"], identifier["value"])
        if pair in seen:
            raise ValidationError(f"Identifier {pair[0]}:{pair[1]} is given twice.")
        seen.add(pair)


def _described(meanings: dict[str, str]) -> str:
    return " ".join(f"`{name}`: {meaning}" for name, meaning in meanings.items())


class Location(StrictSchema):
    """Where an event took place."""

    name = BoundedString(required=True, metadata={"examples": ["Wonsan"]})
    region = BoundedString(metadata={"description": "Province, oblast or area within the country."})
    country = CountryCode(required=True)
    lat = StrictFloat(validate=Range(min=-90, max=90), metadata={"description": "WGS 84 latitude."})
    lon = StrictFloat(
        validate=Range(min=-180, max=180), metadata={"description": "WGS 84 longitude."}
    )
    precision = fields.String(
        validate=OneOf(tuple(LOCATION_PRECISIONS)),
        metadata={
            "description": "How precisely the place is known, and so what the point "
            "stands for. " + _described(LOCATION_PRECISIONS) + " Absent: not stated.",
            "examples": ["town"],
        },
    )

    json_schema_extra = {"dependentRequired": {"lat": ["lon"], "lon": ["lat"]}}

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
        metadata={
            "description": "The actor's part in this event: host, visitor, speaker, "
            "supplier, recipient, attacker, target …",
            "examples": ["visitor"],
        },
    )
    title = BoundedString(
        metadata={
            "description": "Office held at the time.",
            "examples": ["Minister of Foreign Affairs"],
        }
    )
    wikidata = fields.String(
        validate=Regexp(r"^Q[1-9][0-9]{0,11}$"),
        metadata={"description": "Wikidata item id.", "examples": ["Q150412"]},
    )
    identifiers = identifiers_field(
        "The actor's ids in other datasets, e.g. UCDP's actor id (`ucdp-actor`)."
    )
    actor_id = fields.String(
        validate=Regexp(UUID_PATTERN),
        metadata={
            "format": "uuid",
            "description": "The registry actor (`/v1/actors/{id}`) this one is. Set by the "
            "service on every write: a given id must name a registry actor; without one "
            "the actor resolves by its identifiers, else by its exact name within its kind "
            "(ignoring case and accents), else a new registry actor is made. The name "
            "stays as the source wrote it.",
        },
    )


SOURCE_KINDS = (
    "news_agency",
    "newspaper",
    "broadcaster",
    "state_media",
    "government",
    "military",
    "intelligence_service",
    "international_organization",
    "ngo",
    "social_media",
    "other",
)


def _source_kind(description: str) -> fields.String:
    return fields.String(
        validate=OneOf(SOURCE_KINDS),
        metadata={"description": description, "examples": ["broadcaster"]},
    )


# The actor kind a source of each kind resolves under in the actor registry: a publisher
# or chain link of kind `government` is the registry's `government_body` of that name.
# `social_media` and `other` say nothing of what the actor is (a person's account, a
# group's, an agency's): such a source, like one without a kind, resolves only by a given
# registry id. Migration 0110's source_actor_kind() is the SQL twin (a test holds them equal).
SOURCE_ACTOR_KINDS = {
    "news_agency": "media",
    "newspaper": "media",
    "broadcaster": "media",
    "state_media": "media",
    "government": "government_body",
    "military": "armed_force",
    "intelligence_service": "intelligence_service",
    "international_organization": "international_organization",
    "ngo": "organization",
}


def _registry_id(description: str) -> fields.String:
    return fields.String(
        validate=Regexp(UUID_PATTERN), metadata={"format": "uuid", "description": description}
    )


_SOURCE_RESOLUTION = (
    "Set by the service on every write: a given id must name a registry actor; without "
    "one, a source whose kind names an actor kind (news agencies, newspapers, "
    "broadcasters and state media are `media`, `government` a `government_body`, "
    "`military` an `armed_force`, `ngo` an `organization`, the others alike) resolves by "
    "its exact name within that kind (ignoring case and accents), else a new registry "
    "actor is made; without such a kind (none, `social_media`, `other`) it stays without "
    "an id. The name stays as the source wrote it."
)


class Attribution(StrictSchema):
    """One link of an attribution chain: whom a source cites, and what kind of source it is."""

    name = BoundedString(required=True, metadata={"examples": ["Ukrainian intelligence"]})
    kind = _source_kind("What kind of source this link is.")
    actor_id = _registry_id(
        "The registry actor (`/v1/actors/{id}`) this link is. " + _SOURCE_RESOLUTION
    )


class AttributionLink(fields.Field):
    """A link of the chain: a name alone (as before source kinds), or ``{name, kind}``.

    Plain names stay valid so that events stored before source kinds, and their
    revisions, still validate unchanged.
    """

    default_error_messages = {"invalid": "Give a name, or an object with name and kind."}

    def __init__(self, **kwargs):
        name = BoundedString()
        text = {
            "type": "string",
            "minLength": 1,
            "maxLength": name.max_length,
            "pattern": TEXT_PATTERN,
        }
        super().__init__(
            metadata={
                "oneOf": [
                    text,
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {
                            "name": text,
                            "kind": {"type": "string", "enum": list(SOURCE_KINDS)},
                            "actor_id": {
                                "type": "string",
                                "format": "uuid",
                                "pattern": UUID_PATTERN,
                                "description": Attribution()
                                .fields["actor_id"]
                                .metadata["description"],
                            },
                        },
                    },
                ]
            },
            **kwargs,
        )
        self._name = name

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            return self._name.deserialize(value, attr, data, **kwargs)
        if isinstance(value, dict):
            return Attribution().load(value)
        raise self.make_error("invalid")

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class Source(StrictSchema):
    """Who published the claim, and whom they attribute it to."""

    publisher = BoundedString(required=True, metadata={"examples": ["ANI"]})
    kind = _source_kind("What kind of source the publisher is.")
    publisher_actor_id = _registry_id(
        "The registry actor (`/v1/actors/{id}`) the publisher is. " + _SOURCE_RESOLUTION
    )
    url = WebUrl()
    published = PartialDate(metadata={"description": "When the source published it."})
    headline = BoundedString(
        max_length=limits.TEXT_LENGTH,
        metadata={"description": "The headline of the item the source published."},
    )
    attributed_to = BoundedList(
        AttributionLink(),
        max_items=limits.ATTRIBUTION_CHAIN,
        metadata={
            "description": "The attribution chain, nearest first: the outlet the publisher "
            "relays, then whom that outlet cites. Each link is a name, or "
            "`{name, kind}` saying what kind of source it is.",
            "examples": [
                [
                    {"name": "CNN", "kind": "broadcaster"},
                    {"name": "Ukrainian intelligence", "kind": "intelligence_service"},
                ]
            ],
        },
    )


def source_kinds(sources: list[dict]) -> list[str]:
    """Every source kind named in ``sources``: publishers' and every chain link's."""
    kinds = []
    for source in sources:
        kinds.append(source.get("kind"))
        kinds.extend(
            link.get("kind") for link in source.get("attributed_to", []) if isinstance(link, dict)
        )
    return sorted({kind for kind in kinds if kind})


class FigureBase(StrictSchema):
    """The members of a stated figure, shared by a Quantity and each of its accounts."""

    value = Amount(
        metadata={
            "description": "The stated figure, when a single one is given; "
            "with min and/or max, the best estimate within "
            "them."
        }
    )
    min = Amount(metadata={"description": 'Lower bound ("at least", or the low end of a range).'})
    max = Amount(metadata={"description": 'Upper bound ("at most", or the high end of a range).'})
    approximate = StrictBoolean(
        metadata={"description": "The source hedges the figure: around, estimated, some."},
    )
    unit = BoundedString(
        required=True,
        max_length=limits.TAG_LENGTH,
        metadata={"examples": ["soldiers", "ballistic missiles"]},
    )
    note = BoundedString(
        max_length=limits.TEXT_LENGTH,
        metadata={"description": 'Further qualification, e.g. "a record".'},
    )

    @validates_schema
    def _is_a_figure_within_its_bounds(self, data, **kwargs):
        if not any(name in data for name in FIGURE_AMOUNTS):
            raise ValidationError(
                "Give value, or min and/or max, or a value within them.", "_schema"
            )
        if "min" in data and "max" in data and data["min"] > data["max"]:
            raise ValidationError("Must not be greater than max.", "min")
        if "value" in data and "min" in data and data["value"] < data["min"]:
            raise ValidationError("Must not be less than min.", "value")
        if "value" in data and "max" in data and data["value"] > data["max"]:
            raise ValidationError("Must not be greater than max.", "value")


FIGURE_AMOUNTS = ("value", "min", "max")
# How an account names its source: by its place in the event's `sources`, or by a name
# (the publisher, or a link of its attribution chain).
ACCOUNT_SOURCE_REFERENCES = ("source", "according_to")


class FigureAccount(FigureBase):
    """One source's account of a figure: a Quantity, and which of the event's sources gave it.

    Name the source by ``source`` (its index in the event's ``sources``), by
    ``according_to`` (the publisher or a link of the attribution chain of exactly one of
    the event's sources), or both (then the name must be that source's). The unit is the
    figure's.
    """

    json_schema_extra = forbids(
        none_given(*FIGURE_AMOUNTS),
        none_given(*ACCOUNT_SOURCE_REFERENCES),
        rule="Give at least one of: value, min, max; and at least one of: source, according_to.",
    )

    source = StrictInteger(
        minimum=0,
        maximum=limits.SOURCES - 1,
        metadata={
            "description": "The index of the source (in the event's `sources`, from 0) that "
            "gives this account.",
            "examples": [0],
        },
    )
    according_to = BoundedString(
        metadata={
            "description": "Who gives this account: the publisher of one of the event's "
            "sources, or a link of its attribution chain (compared ignoring case). With "
            "`source`, that source's; without it, exactly one source's.",
            "examples": ["Ukrainian Ministry of Defence"],
        }
    )

    @validates_schema
    def _names_a_source(self, data, **kwargs):
        if not any(name in data for name in ACCOUNT_SOURCE_REFERENCES):
            raise ValidationError("Give source, or according_to, or both.", "_schema")


class Quantity(FigureBase):
    """A number as the source states it: exact, approximate, a range, or a bound.

    ``{"value": 728}`` is exact; ``{"value": 4000, "approximate": true}`` is "around 4,000";
    ``{"min": 25000, "max": 30000}`` is "25,000 to 30,000"; ``{"min": 100}`` is "at least
    100"; ``{"max": 50}`` is "at most 50"; ``{"value": 120, "min": 100, "max": 150}`` is a
    best estimate of 120 within 100 to 150 (UCDP's best/low/high).

    Give at least one of value, min and max. Also enforced, though JSON Schema cannot state
    it: min is not greater than max, and value lies within min and max when they are given.

    ``accounts``: when sources differ, each source's own figure, tied to the source that
    gives it. The figure itself stays the writer's best figure (its own reading of the
    accounts, as UCDP's best/low/high is of its sources); the service never derives it
    from them.
    """

    json_schema_extra = any_given(FIGURE_AMOUNTS)

    accounts = BoundedList(
        fields.Nested(FigureAccount),
        max_items=limits.SOURCES,
        validate=Length(min=1),
        metadata={
            "description": "Each source's own account of this figure, when they differ "
            "(Ukraine's ministry says 500, Russia's 50): each a figure in the same unit, "
            "naming one of the event's sources. The figure around them is the writer's "
            "best figure."
        },
    )

    @validates_schema
    def _accounts_count_in_its_unit(self, data, **kwargs):
        for index, account in enumerate(data.get("accounts", ())):
            if account["unit"] != data["unit"]:
                raise ValidationError(
                    {
                        "accounts": {
                            index: {"unit": [f"Must be the figure's unit ({data['unit']})."]}
                        }
                    }
                )


def figure_reading(figure: dict) -> float | None:
    """What a figure says when one number is asked for: its value (exact, or the best
    estimate within its bounds), else its lower bound; None for an upper bound alone."""
    return figure.get("value", figure.get("min"))


def widest_range(figure: dict) -> tuple[float | None, float | None]:
    """The range that holds a figure and every one of its accounts: the least low end and
    the greatest high end (each None when some figure is unbounded on that side)."""
    figures = [figure, *figure.get("accounts", ())]
    lows = [each.get("min", each.get("value")) for each in figures]
    highs = [each.get("max", each.get("value")) for each in figures]
    return (None if None in lows else min(lows), None if None in highs else max(highs))


def killed_figure(event: dict) -> dict | None:
    """The event's total of people killed: ``details.killed`` (a casualties report) or
    ``details.casualties.killed`` (an attack, a battle, a protest, a riot)."""
    details = event.get("details") or {}
    return details.get("killed") or (details.get("casualties") or {}).get("killed")


def figure_accounts(details: dict):
    """Every (path, figure) in validated ``details`` that carries accounts; the path is the
    list of keys and indexes from ``details`` down to the figure."""
    stack = [((), details)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            # Only a Quantity has `accounts` (beside its `unit`): no other schema has them.
            if "accounts" in node and "unit" in node:
                yield list(path), node
                continue
            stack.extend(((*path, key), value) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend(((*path, index), value) for index, value in enumerate(node))


def source_names(source: dict) -> set[str]:
    """The names an account may give for ``source``: its publisher and every chain link's,
    case-folded."""
    names = {source["publisher"].casefold()}
    for link in source.get("attributed_to", ()):
        names.add((link if isinstance(link, str) else link["name"]).casefold())
    return names


def account_source_errors(event: dict) -> dict:
    """The errors of accounts (in ``event["details"]``) that name no source of the event,
    nested as marshmallow nests errors (``{"details": {..., "accounts": {0: {...}}}}``)."""
    errors: dict = {}
    sources = event.get("sources") or []
    named = None
    for path, figure in figure_accounts(event.get("details") or {}):
        for index, account in enumerate(figure["accounts"]):
            problem = None
            if named is None:
                named = [source_names(source) for source in sources]
            if "source" in account and account["source"] >= len(sources):
                problem = (
                    "source",
                    f"No source {account['source']}: the event has {len(sources)}.",
                )
            elif "according_to" in account:
                name = account["according_to"].casefold()
                if "source" in account:
                    if name not in named[account["source"]]:
                        problem = (
                            "according_to",
                            f"Neither the publisher nor a link of the attribution chain of source "
                            f"{account['source']}.",
                        )
                else:
                    matches = [i for i, names in enumerate(named) if name in names]
                    if not matches:
                        problem = (
                            "according_to",
                            "Names neither a publisher nor an attribution link of the event's "
                            "sources.",
                        )
                    elif len(matches) > 1:
                        problem = (
                            "according_to",
                            f"Names more than one of the event's sources "
                            f"({', '.join(map(str, matches))}): give source as well.",
                        )
            if problem:
                node = errors.setdefault("details", {})
                for step in (*path, "accounts", index):
                    node = node.setdefault(step, {})
                node[problem[0]] = [problem[1]]
    return errors


class CasualtyFigures(StrictSchema):
    """People killed, wounded or missing, each as the source counts them."""

    killed = fields.Nested(Quantity)
    wounded = fields.Nested(Quantity)
    killed_or_wounded = fields.Nested(
        Quantity, metadata={"description": "A combined figure, when the source does not split it."}
    )
    missing = fields.Nested(Quantity)

    # Overridden by a subclass that counts more (captured, for instance).
    figures = ("killed", "wounded", "killed_or_wounded", "missing")

    @classmethod
    def _counts_someone_schema(cls) -> dict:
        return any_given(cls.figures)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.json_schema_extra = cls._rule_schema()

    @classmethod
    def _rule_schema(cls) -> dict:
        """The JSON Schema of `_counts_someone`, for this class's figures."""
        return cls._counts_someone_schema()

    @validates_schema
    def _counts_someone(self, data, **kwargs):
        if not any(name in data for name in self.figures):
            raise ValidationError(f"Give at least one of: {', '.join(self.figures)}.", "_schema")


POPULATIONS = ("military", "civilian", "mixed", "unknown")


class PartyCasualties(CasualtyFigures):
    """The casualties of one party (a side, the civilians, or persons unknown)."""

    party = BoundedString(
        required=True,
        metadata={"description": "Whose casualties these are.", "examples": ["Civilians"]},
    )
    population = fields.String(
        validate=OneOf(POPULATIONS),
        metadata={"description": "`unknown`: the source could not tell whose they were."},
    )


class Casualties(CasualtyFigures):
    """The human cost of an attack or a battle, as reported.

    ``by_party`` splits the figures by whom they struck (UCDP's deaths of side A, side B,
    civilians and unknown); the figures outside it are the event's totals.

    Leave ``casualties`` out when the source says nothing about it (unknown);
    ``{"none_reported": true}`` when it says no one was reported hurt;
    ``{"killed": {"value": 0, ...}}`` when it says nobody was killed.
    """

    @classmethod
    def _rule_schema(cls) -> dict:
        # Forbidden: "none reported" with figures, and neither of them.
        return forbids(
            {
                **given("none_reported", none_reported={"const": True}),
                "anyOf": [given(name) for name in cls.figures],
            },
            none_given(*cls.figures, none_reported={"const": False}),
            rule=f"Give at least one of: {', '.join(cls.figures)}; or none_reported: true, "
            "without them.",
        )

    by_party = BoundedList(
        fields.Nested(PartyCasualties),
        max_items=limits.LIST_ITEMS,
        metadata={"description": "The casualties of each party, as the source splits them."},
    )
    figures = (*CasualtyFigures.figures, "by_party")

    none_reported = StrictBoolean(
        metadata={
            "description": "The source says no casualties were reported. Not the same as "
            "leaving `casualties` out, which means the source says nothing "
            "about them (unknown)."
        }
    )

    @validates_schema
    def _counts_someone(self, data, **kwargs):
        counted = [name for name in self.figures if name in data]
        if data.get("none_reported") and counted:
            raise ValidationError(
                f"Not with figures ({', '.join(counted)}): they report casualties.", "none_reported"
            )
        if not data.get("none_reported"):
            super()._counts_someone(data, **kwargs)


CasualtyFigures.json_schema_extra = CasualtyFigures._rule_schema()

RELATIONS = ("part_of", "follows", "precedes", "responds_to", "causes", "same_as", "related_to")


class Related(StrictSchema):
    """A link from this event to another one."""

    event = BoundedString(
        required=True,
        max_length=limits.KEY_LENGTH,
        metadata={"description": "The other event's id or natural key."},
    )
    relation = fields.String(required=True, validate=OneOf(RELATIONS))
