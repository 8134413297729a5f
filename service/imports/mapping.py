"""The parts of an event both datasets build the same way: places, killed, sources, actors."""

from __future__ import annotations

from schemas import limits
from service.imports.cells import RowNotes, bounded, coordinates


class ActorSpellings:
    """The first spelling of each actor id in an import, so every event spells it so.

    Datasets rename an actor between releases ("Government of Russia (Soviet Union)"); within
    one import, the first spelling met wins and a later variant is replaced, with a warning.
    """

    def __init__(self, scheme: str):
        self.scheme = scheme
        self._first: dict[str, str] = {}

    def spelling(self, actor_id: str, name: str, column: str, notes: RowNotes) -> str:
        if not actor_id:
            return name
        first = self._first.setdefault(actor_id, name)
        if first != name:
            notes.warn(column, f"{name!r} is {self.scheme} {actor_id}, spelled {first!r} before")
        return first


def coordinates_of(row: dict, lat_column: str, lon_column: str) -> tuple[float, float] | None:
    """The row's point; (0, 0), which no dataset means as a place, counts as none."""
    point = coordinates(row, lat_column, lon_column)
    return None if point == (0.0, 0.0) else point


def place(
    names: list[str],
    *,
    region_parts: list[str],
    country: str | None,
    point: tuple[float, float] | None,
    precision: str | None,
    notes: RowNotes,
    name_column: str,
    country_column: str,
) -> dict | None:
    """A location: the first name given (else the country), its region, point and precision.

    None, with a warning, when no country could be read: the model's location needs one,
    and the row is still an event.
    """
    if country is None:
        notes.warn(country_column, "no country could be read: imported without a location")
        return None
    name = next((name for name in names if name), country)
    location = {"name": bounded(name, name_column, notes, limits.NAME_LENGTH), "country": country}
    region = ", ".join(dict.fromkeys(part for part in region_parts if part and part != name))
    if region:
        location["region"] = bounded(region, name_column, notes, limits.NAME_LENGTH)
    if point is not None:
        location["lat"], location["lon"] = point
    if precision:
        location["precision"] = precision
    return location


def killed(
    best: int | None,
    low: int | None,
    high: int | None,
    columns: tuple[str, str, str],
    notes: RowNotes,
) -> dict | None:
    """Killed as a Quantity: a best estimate within low–high, or the one figure given.

    A best estimate outside its own range widens the range to hold it (a warning says so):
    the dataset's three figures are all kept, none is chosen over another.
    """
    if best is None and low is None and high is None:
        return None
    if low is not None and high is not None and low > high:
        notes.warn(columns[1], f"low {low} above high {high}: the two swapped")
        low, high = high, low
    if best is not None:
        if low is not None and best < low:
            notes.warn(columns[0], f"best {best} below low {low}: low taken as {best}")
            low = best
        if high is not None and best > high:
            notes.warn(columns[0], f"best {best} above high {high}: high taken as {best}")
            high = best
    # Three equal figures are one exact figure; otherwise every bound given is kept.
    if low == high and best in (None, low) and low is not None:
        return {"value": low, "unit": "people"}
    quantity: dict = {"unit": "people"}
    if best is not None:
        quantity["value"] = best
    if low is not None and not (high is None and low == best):
        quantity["min"] = low
    if high is not None and not (low is None and high == best):
        quantity["max"] = high
    return quantity


def sources_or(
    sources: list[dict], dataset_source: dict, column: str, notes: RowNotes
) -> list[dict]:
    """The row's sources (at most the model's limit), or the dataset itself when it has none.

    No row is dropped for lack of a source: the dataset that recorded it is one.
    """
    if not sources:
        notes.warn(column, f"no source text: {dataset_source['publisher']} itself is the source")
        return [dataset_source]
    if len(sources) > limits.SOURCES:
        notes.warn(column, f"{len(sources)} sources: the first {limits.SOURCES} kept")
    return sources[: limits.SOURCES]
