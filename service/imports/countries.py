"""Countries as the datasets code them, to the ISO 3166-1 alpha-2 codes of the model.

UCDP GED uses Gleditsch–Ward state numbers (a table kept in ``data/``, with its source in
``data/SOURCES.md``); ACLED uses ISO 3166-1 numeric codes (read through pycountry).
"""

from __future__ import annotations

import csv
import functools
import re
from pathlib import Path

import pycountry

DATA = Path(__file__).parent / "data"


@functools.cache
def _gleditsch_ward() -> dict[int, tuple[str, str]]:
    """GW number -> (ISO alpha-2, the list's name of the state)."""
    with (DATA / "gleditsch-ward.csv").open(encoding="utf-8", newline="") as file:
        return {
            int(row["gw_code"]): (row["iso_alpha2"], row["gw_name"]) for row in csv.DictReader(file)
        }


def from_gleditsch_ward(number: int) -> str | None:
    """The ISO code of a Gleditsch–Ward state number; None when the list has none."""
    found = _gleditsch_ward().get(number)
    return found[0] if found else None


def from_iso_numeric(number: int) -> str | None:
    """The ISO alpha-2 code of an ISO 3166-1 numeric code; None when there is none."""
    country = pycountry.countries.get(numeric=f"{number:03d}")
    return country.alpha_2 if country else None


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


@functools.cache
def _names() -> dict[str, str]:
    """Every name a country goes by here (normalised) -> its ISO code."""
    names: dict[str, str] = {}
    for code, gw_name in _gleditsch_ward().values():
        names.setdefault(_normal(gw_name), code)
    for country in pycountry.countries:
        for attribute in ("name", "official_name", "common_name"):
            if value := getattr(country, attribute, None):
                names[_normal(value)] = country.alpha_2
    return names


def from_name(name: str) -> str | None:
    """The ISO code of a country named as ISO or the Gleditsch–Ward list names it.

    Exact names only (after case and punctuation): a near match is a guess, and a guess
    is not a country.
    """
    return _names().get(_normal(name))


def names_agree(name: str, code: str) -> bool:
    """Whether ``name`` is a name of the country ``code`` (ISO's or the GW list's)."""
    return from_name(name) == code or any(
        _normal(gw_name) == _normal(name)
        for iso, gw_name in _gleditsch_ward().values()
        if iso == code
    )
