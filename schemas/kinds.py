"""The kinds of event, one details schema each.

To add a kind: write a ``…Details`` schema below and decorate it with ``@event_kind``.
Nothing else in the service changes.
"""

from __future__ import annotations

from marshmallow import ValidationError, fields, validates_schema
from marshmallow.validate import Length, OneOf

from schemas import limits
from schemas.common import (
    Casualties,
    CasualtyFigures,
    Quantity,
    StrictSchema,
    any_given,
    forbids,
    given,
    none_given,
)
from schemas.event import event_kind
from schemas.fields import (
    BoundedList,
    BoundedString,
    CountryCode,
    LanguageCode,
    StrictBoolean,
    StrictInteger,
)


def _text(**kwargs):
    return BoundedString(max_length=limits.TEXT_LENGTH, **kwargs)


def _labels(**kwargs):
    return BoundedList(BoundedString(max_length=limits.TAG_LENGTH), **kwargs)


def _require_one_of(data: dict, names: tuple[str, ...]) -> None:
    if not any(name in data for name in names):
        raise ValidationError(f"Give at least one of: {', '.join(names)}.", "_schema")


@event_kind("meeting")
class MeetingDetails(StrictSchema):
    """People meet: talks, a courtesy call, a round of a dialogue."""

    format = fields.String(
        required=True,
        validate=OneOf(
            (
                "talks",
                "courtesy_call",
                "summit",
                "strategic_dialogue",
                "negotiation",
                "press_conference",
                "other",
            )
        ),
    )
    round = StrictInteger(
        minimum=1, maximum=1000, metadata={"description": "Which round of a recurring dialogue."}
    )
    topics = _labels()
    outcome = _text()


@event_kind("visit")
class VisitDetails(StrictSchema):
    """Someone travels to another country, hosted there."""

    host_country = CountryCode(required=True)
    visitor_country = CountryCode()
    level = fields.String(validate=OneOf(("state", "official", "working", "private", "other")))
    duration_days = StrictInteger(minimum=1, maximum=3650)
    purpose = _text()


@event_kind("statement")
class StatementDetails(StrictSchema):
    """Something said or written: its words when quoted, its gist when paraphrased.

    Give at least one of quote and gist.
    """

    speaker = BoundedString(required=True)
    quote = BoundedString(
        max_length=limits.QUOTE_LENGTH, metadata={"description": "The words said, verbatim."}
    )
    gist = _text(metadata={"description": "What was said, in other words."})
    occasion = BoundedString(metadata={"examples": ["press conference"]})
    language = LanguageCode(metadata={"description": "ISO 639-1 code of the original words."})
    topics = _labels()

    @validates_schema
    def _says_something(self, data, **kwargs):
        _require_one_of(data, ("quote", "gist"))

    json_schema_extra = any_given(("quote", "gist"))


@event_kind("deployment")
class DeploymentDetails(StrictSchema):
    """Armed forces sent from one country to another (planned, under way or done)."""

    force = BoundedString(required=True, metadata={"examples": ["Korean People's Army"]})
    origin_country = CountryCode(required=True)
    destination_country = CountryCode(required=True)
    personnel = fields.Nested(Quantity)
    status = fields.String(
        required=True, validate=OneOf(("planned", "under_way", "deployed", "withdrawn"))
    )
    role = fields.String(
        validate=OneOf(("combat", "support", "training", "engineering", "construction", "unknown"))
    )
    purpose = _text()


TRANSFER_CATEGORIES = (
    "ballistic_missile",
    "cruise_missile",
    "rocket",
    "artillery_shell",
    "artillery_system",
    "ammunition",
    "small_arms",
    "drone",
    "armoured_vehicle",
    "aircraft",
    "ship",
    "other",
)


class CountedItems(StrictSchema):
    """Things of one category, and how many of them (as the source puts it)."""

    description = BoundedString()
    quantity = fields.Nested(Quantity)


class TransferredItem(CountedItems):
    """One line of an arms transfer."""

    category = fields.String(required=True, validate=OneOf(TRANSFER_CATEGORIES))


@event_kind("arms_transfer")
class ArmsTransferDetails(StrictSchema):
    """Weapons or ammunition supplied by one country to another."""

    supplier = CountryCode(required=True)
    recipient = CountryCode(required=True)
    items = BoundedList(fields.Nested(TransferredItem), required=True, validate=Length(min=1))


@event_kind("casualties")
class CasualtiesDetails(CasualtyFigures):
    """People killed, wounded, captured or missing, as counted or estimated by someone."""

    party = BoundedString(required=True, metadata={"description": "Whose casualties these are."})
    population = fields.String(validate=OneOf(("military", "civilian", "mixed")))
    captured = fields.Nested(Quantity)

    figures = (*CasualtyFigures.figures, "captured")


def _casualties() -> fields.Nested:
    return fields.Nested(
        Casualties,
        metadata={
            "description": "Killed, wounded, killed or wounded, missing, as reported. Absent: the "
            "source says nothing about casualties (unknown); "
            '`{"none_reported": true}`: it says none were reported.'
        },
    )


WEAPON_CATEGORIES = (
    "drone",
    "ballistic_missile",
    "cruise_missile",
    "missile",
    "glide_bomb",
    "artillery",
    "rocket",
    "aircraft",
    "other",
)


class WeaponUse(CountedItems):
    """Weapons of one category used in an attack."""

    category = fields.String(required=True, validate=OneOf(WEAPON_CATEGORIES))


@event_kind("attack")
class AttackDetails(StrictSchema):
    """A strike or assault on a target."""

    attacker = CountryCode()
    target_country = CountryCode()
    target = _text(metadata={"description": "What or whom was attacked."})
    weapons = BoundedList(fields.Nested(WeaponUse))
    tactic = _text()
    record = StrictBoolean(metadata={"description": "The source calls its scale a record."})
    intercepted = fields.Nested(Quantity)
    casualties = _casualties()


@event_kind("combat")
class CombatDetails(StrictSchema):
    """Forces fighting: a battle, a front, a campaign."""

    belligerents = BoundedList(
        CountryCode(),
        validate=Length(min=1),
        metadata={"description": "Countries whose forces fought."},
    )
    front = BoundedString(metadata={"examples": ["Kursk"]})
    outcome = _text()
    conditions = _text(metadata={"description": "How the forces lived and fought."})
    casualties = _casualties()


@event_kind("military_cooperation")
class MilitaryCooperationDetails(StrictSchema):
    """Two or more militaries working together: training, doctrine, interoperability."""

    parties = BoundedList(CountryCode(), required=True, validate=Length(min=2))
    area = fields.String(
        required=True,
        validate=OneOf(
            (
                "training",
                "doctrine",
                "interoperability",
                "intelligence",
                "technology",
                "production",
                "other",
            )
        ),
    )
    description = _text()


class TransportMeans(CountedItems):
    """Vehicles of one kind seen moving."""

    category = fields.String(
        required=True, validate=OneOf(("ship", "cargo_aircraft", "train", "truck", "other"))
    )


@event_kind("logistics_movement")
class LogisticsMovementDetails(StrictSchema):
    """Military transport between places: ships, aircraft, trains.

    Give origin_country and destination_country, or between (either direction), not both.
    """

    origin_country = CountryCode()
    destination_country = CountryCode()
    between = BoundedList(
        CountryCode(),
        max_items=2,
        validate=Length(min=2, max=2),
        metadata={
            "description": "The two countries the movement runs between, when the source gives "
            "no direction (instead of origin_country and destination_country)."
        },
    )
    both_directions = StrictBoolean()
    means = BoundedList(fields.Nested(TransportMeans), required=True, validate=Length(min=1))
    cargo = _text()
    observed_by = fields.String(
        validate=OneOf(("satellite_imagery", "eyewitness", "official_statement", "other"))
    )

    @validates_schema
    def _has_a_route(self, data, **kwargs):
        directed = [name for name in ("origin_country", "destination_country") if name in data]
        if "between" in data and directed:
            raise ValidationError(
                "Give between, or origin_country and destination_country, not both.", "between"
            )
        if "between" not in data:
            for name in {"origin_country", "destination_country"} - set(directed):
                raise ValidationError("Required unless between is given.", name)

    # Forbidden: between with a direction, and no between without both directions.
    json_schema_extra = forbids(
        {
            **given("between"),
            "anyOf": [given("origin_country"), given("destination_country")],
        },
        {
            **none_given("between"),
            "anyOf": [none_given("origin_country"), none_given("destination_country")],
        },
        rule="Give origin_country and destination_country, or between, not both.",
    )


@event_kind("publication")
class PublicationDetails(StrictSchema):
    """Material made public by someone: a photo, a video, a document or a post, and where."""

    publisher = BoundedString(
        required=True, metadata={"examples": ["Russian Ministry of Foreign Affairs"]}
    )
    medium = fields.String(
        required=True, validate=OneOf(("photo", "video", "document", "post", "other"))
    )
    channel = BoundedString(
        metadata={"description": "Where it was published.", "examples": ["Telegram"]}
    )
    shows = _text(metadata={"description": "What it shows or says."})


@event_kind("situation")
class SituationDetails(StrictSchema):
    """A state of affairs a source reports as holding: a shortage, a dependence, a trend."""

    subject = CountryCode(required=True, metadata={"description": "The country in that situation."})
    aspect = fields.String(
        required=True, validate=OneOf(("shortage", "dependence", "capacity", "trend", "other"))
    )
    counterpart = CountryCode(
        metadata={"description": "The country it concerns, e.g. the one depended on."}
    )
    description = _text(required=True)


def _crowd_size() -> fields.Nested:
    return fields.Nested(
        Quantity, metadata={"description": "How many took part, as the source puts it."}
    )


@event_kind("protest")
class ProtestDetails(StrictSchema):
    """People demonstrate in public without violence of their own (ACLED's Protests)."""

    form = fields.String(
        validate=OneOf(("peaceful", "with_intervention", "excessive_force", "other")),
        metadata={
            "description": "`peaceful`: no one intervened; `with_intervention`: others "
            "(police, counter-protesters) tried to disperse or suppress it; "
            "`excessive_force`: force that risked lives was used against it."
        },
    )
    crowd_size = _crowd_size()
    cause = _text(metadata={"description": "What the protesters demanded or opposed."})
    casualties = _casualties()


@event_kind("riot")
class RiotDetails(StrictSchema):
    """A crowd turns violent (ACLED's Riots)."""

    form = fields.String(
        validate=OneOf(("violent_demonstration", "mob_violence", "other")),
        metadata={
            "description": "`violent_demonstration`: a demonstration whose participants "
            "used violence; `mob_violence`: a mob attacked others."
        },
    )
    crowd_size = _crowd_size()
    cause = _text()
    casualties = _casualties()
