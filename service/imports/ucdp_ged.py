"""UCDP GED (Uppsala's Georeferenced Event Dataset): one CSV row -> one event.

The columns and codes are those of the UCDP GED codebook (versions 19.1–25.1, the same for
the yearly candidate releases). docs/imports.md has the mapping as a table; the notes
here say why where the codebook leaves a choice.
"""

from __future__ import annotations

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
    parts,
    tag,
    text,
)
from service.imports.dataset import Dataset
from service.imports.mapping import ActorSpellings, coordinates_of, killed, place, sources_or

NAME = "ucdp-ged"

# The columns of a GED release (25.1), in its order.
RELEASE_COLUMNS = (
    "id",
    "relid",
    "year",
    "active_year",
    "code_status",
    "type_of_violence",
    "conflict_dset_id",
    "conflict_new_id",
    "conflict_name",
    "dyad_dset_id",
    "dyad_new_id",
    "dyad_name",
    "side_a_dset_id",
    "side_a_new_id",
    "side_a",
    "side_b_dset_id",
    "side_b_new_id",
    "side_b",
    "number_of_sources",
    "source_article",
    "source_office",
    "source_date",
    "source_headline",
    "source_original",
    "where_prec",
    "where_coordinates",
    "where_description",
    "adm_1",
    "adm_2",
    "latitude",
    "longitude",
    "geom_wkt",
    "priogrid_gid",
    "country",
    "country_id",
    "region",
    "event_clarity",
    "date_prec",
    "date_start",
    "date_end",
    "deaths_a",
    "deaths_b",
    "deaths_civilians",
    "deaths_unknown",
    "best",
    "high",
    "low",
    "gwnoa",
    "gwnob",
)
# Not read: UCDP's old ids (the new_ids are its stable ones), and what other columns hold
# already (the year of the date, the point of geom_wkt, the continent of the country, the
# number of the sources themselves).
NOT_READ = (
    "year",
    "conflict_dset_id",
    "dyad_dset_id",
    "side_a_dset_id",
    "side_b_dset_id",
    "number_of_sources",
    "geom_wkt",
    "region",
)
# Read when present: not every release or candidate file has them.
OPTIONAL_COLUMNS = ("relid", "gwnoa", "gwnob", "priogrid_gid", "active_year", "code_status")
REQUIRED_COLUMNS = tuple(
    column for column in RELEASE_COLUMNS if column not in (*NOT_READ, *OPTIONAL_COLUMNS)
)

VIOLENCE = {1: "state-based", 2: "non-state", 3: "one-sided"}
# where_prec -> the model's location precision (codebook: 1 the exact place; 2 within
# ~25 km of a known point; 3 a second-order administrative unit; 4 a first-order one;
# 5 a line or area that is no administrative unit; 6 the country; 7 international waters
# or airspace).
WHERE_PRECISION = {
    1: "exact",
    2: "near",
    3: "district",
    4: "region",
    5: "area",
    6: "country",
    7: "international",
}
DATE_PRECISIONS = (1, 2, 3, 4, 5)
CLARITY = {1: "high", 2: "lower"}
GOVERNMENT = re.compile(r"^Government of ", re.IGNORECASE)


class Mapper:
    """Rows of one import to events; remembers each UCDP actor id's first spelling."""

    def __init__(self) -> None:
        self.spellings = ActorSpellings("ucdp-actor")

    def event(self, row: dict, notes: RowNotes) -> dict:
        ged_id = integer(row, "id", required=True)
        violence = coded(row, "type_of_violence", VIOLENCE, required=True)
        event = {
            "type": "attack" if violence == 3 else "combat",
            "key": f"ucdp-ged-{ged_id}",
            "identifiers": self._identifiers(row, ged_id),
            **self._dates(row, notes),
            "certainty": "reported",
        }
        location = self._location(row, notes)
        if location:
            event["location"] = location
        states = {side: self._side_countries(row, f"gwno{side}") for side in ("a", "b")}
        actors = self._actors(row, violence, states, notes)
        event["actors"] = actors
        event["sources"] = self._sources(row, ged_id, notes)
        casualties = self._casualties(row, violence, actors, notes)
        event["details"] = self._details(violence, actors, states, casualties)
        event["title"] = self._title(violence, actors, casualties, location)
        summary = self._summary(row)
        if summary:
            event["summary"] = bounded(summary, "where_description", notes, limits.SUMMARY_LENGTH)
        event["tags"] = self._tags(row, violence)
        return event

    def _identifiers(self, row: dict, ged_id: int) -> list[dict]:
        identifiers = [{"scheme": NAME, "value": str(ged_id)}]
        if relid := text(row, "relid"):
            identifiers.append({"scheme": "ucdp-ged-relid", "value": relid[: limits.KEY_LENGTH]})
        return identifiers

    def _dates(self, row: dict, notes: RowNotes) -> dict:
        start = day(row, "date_start", required=True)
        end = day(row, "date_end") or start
        coded(row, "date_prec", DATE_PRECISIONS)  # kept as a tag; the dates hold the window
        if end < start:
            notes.warn("date_end", f"before date_start: the two swapped ({end} – {start})")
            start, end = end, start
        return date_fields(start, end)

    def _location(self, row: dict, notes: RowNotes) -> dict | None:
        return place(
            [text(row, "where_coordinates"), text(row, "adm_2"), text(row, "adm_1")],
            region_parts=[text(row, "adm_2"), text(row, "adm_1")],
            country=self._country(row, notes),
            point=coordinates_of(row, "latitude", "longitude"),
            precision=WHERE_PRECISION.get(coded(row, "where_prec", WHERE_PRECISION)),
            notes=notes,
            name_column="where_coordinates",
            country_column="country_id",
        )

    def _country(self, row: dict, notes: RowNotes) -> str | None:
        number = integer(row, "country_id")
        name = text(row, "country")
        code = countries.from_gleditsch_ward(number) if number is not None else None
        if code is None:
            by_name = countries.from_name(name) if name else None
            if by_name:
                notes.warn("country_id", f"no ISO code for {number}: {by_name} from the name")
            return by_name
        if name and not countries.names_agree(name, code):
            notes.warn("country", f"{name!r} is not an ISO or Gleditsch–Ward name: {code} taken")
        return code

    def _side_countries(self, row: dict, column: str) -> list[str]:
        codes = []
        for item in re.split(r"[,;]", text(row, column)):
            item = item.strip()
            if item.isdigit() and (code := countries.from_gleditsch_ward(int(item))):
                codes.append(code)
        return codes

    def _actors(
        self, row: dict, violence: int, states: dict[str, list[str]], notes: RowNotes
    ) -> list[dict]:
        actors = []
        for side in ("a", "b"):
            name = text(row, f"side_{side}")
            if not name:
                raise RowRejected(f"side_{side}", "missing: every GED event has two sides")
            actor_id = text(row, f"side_{side}_new_id")
            name = self.spellings.spelling(actor_id, name, f"side_{side}", notes)
            government = bool(GOVERNMENT.match(name))
            civilians = violence == 3 and side == "b"
            actor = {
                "name": bounded(name, f"side_{side}", notes, limits.NAME_LENGTH),
                "kind": "group" if civilians else "state" if government else "armed_group",
                "role": ("attacker" if side == "a" else "target")
                if violence == 3
                else f"side_{side}",
            }
            if government and states[side]:
                actor["country"] = states[side][0]
            if actor_id and not civilians:
                actor["identifiers"] = [{"scheme": "ucdp-actor", "value": actor_id}]
            actors.append(actor)
        return actors

    def _sources(self, row: dict, ged_id: int, notes: RowNotes) -> list[dict]:
        offices = parts(text(row, "source_office"))
        dates = parts(text(row, "source_date"))
        headlines = parts(text(row, "source_headline"))
        originals = [name for name in parts(text(row, "source_original")) if name]
        width = max(len(offices), len(dates), len(headlines))
        if width and not (len(offices) == len(dates) == len(headlines)):
            notes.warn(
                "source_office",
                f"{len(offices)} offices, {len(dates)} dates, {len(headlines)} headlines: "
                "aligned by position as far as they go",
            )
        sources = []
        for index in range(width):
            office = offices[index] if index < len(offices) else ""
            headline = headlines[index] if index < len(headlines) else ""
            published = dates[index] if index < len(dates) else ""
            if not (office or headline):
                continue
            source = {"publisher": office or "Unknown (as UCDP records it)"}
            if published:
                try:
                    source["published"] = day({"d": published}, "d").isoformat()
                except RowRejected:
                    notes.warn("source_date", f"not a date: {published!r}, left out")
            if headline:
                source["headline"] = bounded(headline, "source_headline", notes, limits.TEXT_LENGTH)
            if originals:
                source["attributed_to"] = [
                    bounded(name, "source_original", notes, limits.NAME_LENGTH)
                    for name in dict.fromkeys(originals)
                ][: limits.ATTRIBUTION_CHAIN]
            sources.append(source)
        dataset_source = {
            "publisher": "UCDP",
            "kind": "other",
            "headline": f"UCDP GED event {ged_id}",
            "url": "https://ucdp.uu.se/downloads/index.html#ged_global",
        }
        return sources_or(sources, dataset_source, "source_office", notes)

    def _casualties(
        self, row: dict, violence: int, actors: list[dict], notes: RowNotes
    ) -> dict | None:
        total = killed(
            count(row, "best", required=True),
            count(row, "low"),
            count(row, "high"),
            ("best", "low", "high"),
            notes,
        )
        parties = [
            (actors[0]["name"], "deaths_a", None),
            *([] if violence == 3 else [(actors[1]["name"], "deaths_b", None)]),
            ("Civilians", "deaths_civilians", "civilian"),
            ("Unknown", "deaths_unknown", "unknown"),
        ]
        by_party = []
        for party, column, population in parties:
            deaths = count(row, column)
            if deaths is None:
                continue
            entry = {"party": party, "killed": {"value": deaths, "unit": "people"}}
            if population:
                entry["population"] = population
            by_party.append(entry)
        casualties = {"killed": total}
        if by_party:
            casualties["by_party"] = by_party
        return casualties

    def _details(
        self,
        violence: int,
        actors: list[dict],
        states: dict[str, list[str]],
        casualties: dict | None,
    ) -> dict:
        details: dict = {"casualties": casualties} if casualties else {}
        if violence == 3:
            details["target"] = "civilians"
            if "country" in actors[0]:
                details["attacker"] = actors[0]["country"]
            return details
        belligerents = list(dict.fromkeys(states["a"] + states["b"]))
        if belligerents:
            details["belligerents"] = belligerents
        return details

    def _title(
        self, violence: int, actors: list[dict], casualties: dict | None, location: dict | None
    ) -> str:
        a, b = actors[0]["name"], actors[1]["name"]
        what = f"{a} against civilians" if violence == 3 else f"{a} – {b}"
        if casualties and "value" in casualties["killed"]:
            what += f": {casualties['killed']['value']} killed"
        if location:
            what += f", {location['name']}"
        return what if len(what) <= limits.TITLE_LENGTH else what[: limits.TITLE_LENGTH - 1] + "…"

    def _summary(self, row: dict) -> str:
        pieces = [
            text(row, "conflict_name") and f"Conflict: {text(row, 'conflict_name')}.",
            text(row, "dyad_name") and f"Dyad: {text(row, 'dyad_name')}.",
            text(row, "where_description") and f"Where: {text(row, 'where_description')}.",
            text(row, "source_article")
            and f"Sources as UCDP cites them: {text(row, 'source_article')}",
        ]
        return " ".join(piece for piece in pieces if piece)

    def _tags(self, row: dict, violence: int) -> list[str]:
        tags = [tag("ucdp-violence", VIOLENCE[violence])]
        for column, prefix in (
            ("conflict_new_id", "ucdp-conflict"),
            ("dyad_new_id", "ucdp-dyad"),
            ("priogrid_gid", "priogrid"),
            ("where_prec", "ucdp-where-prec"),
            ("date_prec", "ucdp-date-prec"),
            ("code_status", "ucdp-code-status"),
        ):
            if value := text(row, column):
                tags.append(tag(prefix, value))
        clarity = coded(row, "event_clarity", CLARITY)
        if clarity is not None:
            tags.append(tag("ucdp-clarity", CLARITY[clarity]))
        if text(row, "active_year") in ("1", "1.0", "TRUE", "true", "True"):
            tags.append("ucdp-active-year")
        return list(dict.fromkeys(tags))


DATASET = Dataset(NAME, "UCDP GED", REQUIRED_COLUMNS, Mapper)
