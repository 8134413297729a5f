"""ACLED (Armed Conflict Location & Event Data): one row of a CSV export -> one event.

The columns and codes are those of the ACLED codebook (2023 on: `disorder_type`,
`civilian_targeting` and `tags` added; `iso` numeric). docs/imports.md has the mapping as
a table; the notes here say why where the codebook leaves a choice.
"""

from __future__ import annotations

import datetime as dt
import re

from schemas import limits
from service.imports import countries
from service.imports.cells import (
    RowNotes,
    RowRejected,
    bounded,
    coded,
    count,
    date_fields,
    day,
    integer,
    month_of,
    parts,
    slug,
    tag,
    text,
)
from service.imports.dataset import Dataset
from service.imports.mapping import coordinates_of, killed, place, sources_or

NAME = "acled"

REQUIRED_COLUMNS = (
    "event_id_cnty",
    "event_date",
    "time_precision",
    "event_type",
    "sub_event_type",
    "actor1",
    "actor2",
    "country",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "source",
    "notes",
    "fatalities",
)
OPTIONAL_COLUMNS = (
    "disorder_type",
    "assoc_actor_1",
    "inter1",
    "assoc_actor_2",
    "inter2",
    "interaction",
    "civilian_targeting",
    "iso",
    "admin1",
    "admin2",
    "admin3",
    "source_scale",
    "tags",
)

# event_type -> the kind of event (Strategic developments: by sub_event_type, below).
KINDS = {
    "battles": "combat",
    "explosions/remote violence": "attack",
    "violence against civilians": "attack",
    "protests": "protest",
    "riots": "riot",
    "strategic developments": None,
}
STRATEGIC_KINDS = {"agreement": "meeting", "looting/property destruction": "attack"}
PROTEST_FORMS = {
    "peaceful protest": "peaceful",
    "protest with intervention": "with_intervention",
    "excessive force against protesters": "excessive_force",
}
RIOT_FORMS = {"violent demonstration": "violent_demonstration", "mob violence": "mob_violence"}
# inter1/inter2, as a number (before 2024) or as text (after) -> the actor's kind.
ACTOR_TYPES = {
    1: ("state forces", "armed_force"),
    2: ("rebel group", "armed_group"),
    3: ("political militia", "armed_group"),
    4: ("identity militia", "armed_group"),
    5: ("rioters", "group"),
    6: ("protesters", "group"),
    7: ("civilians", "group"),
    8: ("external/other forces", "armed_force"),
}
ACTOR_TYPE_BY_NAME = {name: (code, kind) for code, (name, kind) in ACTOR_TYPES.items()}
# geo_precision: 1 the town itself; 2 near a town, or a part of a region; 3 only the region.
GEO_PRECISION = {1: "town", 2: "near", 3: "region"}
# time_precision: 1 the day; 2 the week (event_date is a day within it); 3 the month.
TIME_PRECISIONS = (1, 2, 3)
ROLES = {
    "combat": ("side_1", "side_2"),
    "attack": ("attacker", "target"),
}
CROWD_SIZE = re.compile(r"^crowd size\s*=\s*(.+)$", re.IGNORECASE)
_NUMBER = r"(\d[\d,]*)"
CROWD_FORMS = (
    (re.compile(rf"^(?:around|about|approximately|some|roughly) {_NUMBER}$"), "about"),
    (re.compile(rf"^(?:at least|more than|over) {_NUMBER}$"), "min"),
    (re.compile(rf"^(?:at most|fewer than|less than|up to) {_NUMBER}$"), "max"),
    (re.compile(rf"^(?:between )?{_NUMBER}\s*(?:-|–|to|and)\s*{_NUMBER}$"), "range"),
    (re.compile(rf"^{_NUMBER}$"), "value"),
)


class Mapper:
    """Rows of one ACLED import to events."""

    def event(self, row: dict, notes: RowNotes) -> dict:
        event_id = text(row, "event_id_cnty")
        if not event_id:
            raise RowRejected("event_id_cnty", "missing: every ACLED event has its id")
        if len(event_id) > limits.KEY_LENGTH - len("acled-") or not slug(event_id):
            raise RowRejected("event_id_cnty", f"not an ACLED event id: {event_id!r}")
        event_type = text(row, "event_type")
        sub_event_type = text(row, "sub_event_type")
        if event_type.lower() not in KINDS:
            raise RowRejected("event_type", f"unknown event type {event_type!r}")
        kind = KINDS[event_type.lower()] or STRATEGIC_KINDS.get(sub_event_type.lower(), "situation")
        location = self._location(row, notes)
        actors = self._actors(row, kind, notes)
        casualties = self._casualties(row, notes)
        event = {
            "type": kind,
            "key": f"acled-{slug(event_id)}",
            "identifiers": [{"scheme": NAME, "value": event_id}],
            "title": self._title(sub_event_type or event_type, actors, location),
            **self._dates(row),
            "certainty": "reported",
            "actors": actors,
            "sources": self._sources(row, event_id, notes),
            "details": self._details(
                row, kind, sub_event_type, actors, casualties, location, notes
            ),
            "tags": self._tags(row),
        }
        if location:
            event["location"] = location
        if summary := text(row, "notes"):
            event["summary"] = bounded(summary, "notes", notes, limits.SUMMARY_LENGTH)
        return event

    def _dates(self, row: dict) -> dict:
        when = day(row, "event_date", required=True)
        precision = coded(row, "time_precision", TIME_PRECISIONS)
        if precision == 2:
            return date_fields(when - dt.timedelta(days=3), when + dt.timedelta(days=3))
        if precision == 3:
            return date_fields(*month_of(when))
        return date_fields(when, when)

    def _location(self, row: dict, notes: RowNotes) -> dict | None:
        admin = [text(row, "admin3"), text(row, "admin2"), text(row, "admin1")]
        return place(
            [text(row, "location"), *admin],
            region_parts=admin,
            country=self._country(row, notes),
            point=coordinates_of(row, "latitude", "longitude"),
            precision=GEO_PRECISION.get(coded(row, "geo_precision", GEO_PRECISION)),
            notes=notes,
            name_column="location",
            country_column="iso",
        )

    def _country(self, row: dict, notes: RowNotes) -> str | None:
        number = integer(row, "iso")
        name = text(row, "country")
        code = countries.from_iso_numeric(number) if number else None
        if code is None:
            by_name = countries.from_name(name) if name else None
            if number and by_name:
                notes.warn("iso", f"no ISO country numbered {number}: {by_name} from the name")
            return by_name
        return code

    def _actors(self, row: dict, kind: str, notes: RowNotes) -> list[dict]:
        roles = ROLES.get(kind, ("participant", "counterpart"))
        actors = []
        for number, role in zip((1, 2), roles, strict=True):
            actor_kind = self._actor_kind(row, f"inter{number}")
            name = text(row, f"actor{number}")
            if name:
                actors.append(self._actor(name, actor_kind, role, f"actor{number}", notes))
            for associate in parts(text(row, f"assoc_actor_{number}")):
                if associate:
                    actors.append(
                        self._actor(
                            associate, actor_kind, f"with_{role}", f"assoc_actor_{number}", notes
                        )
                    )
        if len(actors) > limits.ACTORS:
            notes.warn("assoc_actor_1", f"{len(actors)} actors: the first {limits.ACTORS} kept")
        return actors[: limits.ACTORS]

    def _actor(self, name: str, kind: str, role: str, column: str, notes: RowNotes) -> dict:
        actor = {
            "name": bounded(name, column, notes, limits.NAME_LENGTH),
            "kind": kind,
            "role": role,
        }
        # ACLED names the country in brackets: "Civilians (Sudan)", "Police Forces of Kenya
        # (2022-)": the bracket that is a country's name gives the actor's country.
        for bracket in re.findall(r"\(([^()]+)\)", name):
            if code := countries.from_name(bracket):
                actor["country"] = code
                break
        return actor

    def _actor_kind(self, row: dict, column: str) -> str:
        value = text(row, column)
        if not value:
            return "group"
        if value.isdigit():
            number = int(value)
            if number in ACTOR_TYPES:
                return ACTOR_TYPES[number][1]
        elif value.lower() in ACTOR_TYPE_BY_NAME:
            return ACTOR_TYPE_BY_NAME[value.lower()][1]
        elif value.lower() == "external/other force":
            return "armed_force"
        raise RowRejected(column, f"unknown actor type {value!r} (1 to 8, or its name)")

    def _sources(self, row: dict, event_id: str, notes: RowNotes) -> list[dict]:
        sources = [
            {"publisher": bounded(name, "source", notes, limits.NAME_LENGTH)}
            for name in dict.fromkeys(parts(text(row, "source")))
            if name
        ]
        dataset_source = {
            "publisher": "ACLED",
            "kind": "other",
            "headline": f"ACLED event {event_id}",
            "url": "https://acleddata.com/",
        }
        return sources_or(sources, dataset_source, "source", notes)

    def _casualties(self, row: dict, notes: RowNotes) -> dict | None:
        fatalities = count(row, "fatalities")
        if fatalities is None:
            return None
        return {"killed": killed(fatalities, None, None, ("fatalities",) * 3, notes)}

    def _details(
        self,
        row: dict,
        kind: str,
        sub_event_type: str,
        actors: list[dict],
        casualties: dict | None,
        location: dict | None,
        notes: RowNotes,
    ) -> dict:
        with_casualties = {"casualties": casualties} if casualties else {}
        if kind == "combat":
            return {**with_casualties, **({"outcome": sub_event_type} if sub_event_type else {})}
        if kind == "attack":
            details = dict(with_casualties)
            if sub_event_type:
                details["tactic"] = sub_event_type
            targets = [actor["name"] for actor in actors if actor["role"] == "target"]
            if targets:
                details["target"] = bounded("; ".join(targets), "actor2", notes, limits.TEXT_LENGTH)
            attackers = [actor for actor in actors if actor["role"] == "attacker"]
            if attackers and attackers[0]["kind"] == "armed_force" and "country" in attackers[0]:
                details["attacker"] = attackers[0]["country"]
            return details
        if kind in ("protest", "riot"):
            forms = PROTEST_FORMS if kind == "protest" else RIOT_FORMS
            details = dict(with_casualties)
            details["form"] = forms.get(sub_event_type.lower(), "other")
            if crowd := self._crowd_size(row, notes):
                details["crowd_size"] = crowd
            return details
        if kind == "meeting":
            return {"format": "negotiation", "outcome": sub_event_type}
        if location is None:
            raise RowRejected("country", "a strategic development needs the country it concerns")
        return {
            "subject": location["country"],
            "aspect": "other",
            "description": sub_event_type or "Strategic development",
        }

    def _crowd_size(self, row: dict, notes: RowNotes) -> dict | None:
        """The crowd size ACLED gives in ``tags`` ("crowd size=around 200"), as a Quantity."""
        for item in parts(text(row, "tags")):
            match = CROWD_SIZE.match(item)
            if not match:
                continue
            said = match[1].strip().lower()
            for pattern, form in CROWD_FORMS:
                if found := pattern.match(said):
                    numbers = [int(group.replace(",", "")) for group in found.groups()]
                    quantity: dict = {"unit": "people", "note": f"crowd size={match[1].strip()}"}
                    if form == "about":
                        quantity |= {"value": numbers[0], "approximate": True}
                    elif form == "range":
                        quantity |= {"min": min(numbers), "max": max(numbers)}
                    else:
                        quantity[form] = numbers[0]
                    return quantity
            if said != "no report":
                notes.warn("tags", f"crowd size {match[1].strip()!r} is not a number: kept as tag")
        return None

    def _title(self, what: str, actors: list[dict], location: dict | None) -> str:
        named = [actor["name"] for actor in actors if not actor["role"].startswith("with_")]
        title = what + (": " + " – ".join(named) if named else "")
        if location:
            title += f", {location['name']}"
        return (
            title if len(title) <= limits.TITLE_LENGTH else title[: limits.TITLE_LENGTH - 1] + "…"
        )

    def _tags(self, row: dict) -> list[str]:
        tags = []
        for column, prefix in (
            ("event_type", "acled-event-type"),
            ("sub_event_type", "acled-sub-event-type"),
            ("disorder_type", "acled-disorder"),
            ("interaction", "acled-interaction"),
            ("inter1", "acled-inter1"),
            ("inter2", "acled-inter2"),
            ("civilian_targeting", "acled-civilian-targeting"),
            ("source_scale", "acled-source-scale"),
            ("time_precision", "acled-time-prec"),
            ("geo_precision", "acled-geo-prec"),
        ):
            if value := text(row, column):
                tags.append(tag(prefix, value))
        for item in parts(text(row, "tags")):
            if item:
                tags.append(tag("acled-tag", item))
        return list(dict.fromkeys(tags))[: limits.TAGS]


DATASET = Dataset(NAME, "ACLED", REQUIRED_COLUMNS, Mapper)
