"""Reading the cells of a dataset's row: numbers, dates, lists, text within the model's limits.

Each reader either returns the cell's value, records a warning on the row (``RowNotes``)
for a normalisation it made, or raises ``RowRejected`` when the cell makes the row
unusable as an event. Both name the column, so the summary can point at the cell.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

from schemas import limits


class RowRejected(Exception):
    """This row cannot be an event; ``column`` says which cell and ``reason`` why."""

    def __init__(self, column: str, reason: str):
        super().__init__(column, reason)
        self.column = column
        self.reason = reason


@dataclass
class RowNotes:
    """The warnings of one row: (column, what was done), in the order they were made."""

    warnings: list[tuple[str, str]] = field(default_factory=list)

    def warn(self, column: str, message: str) -> None:
        self.warnings.append((column, message))


def text(row: dict, column: str) -> str:
    """The cell's text, white space collapsed ('' when absent or blank)."""
    return " ".join((row.get(column) or "").split())


def bounded(value: str, column: str, notes: RowNotes, max_length: int) -> str:
    """``value`` within ``max_length`` characters: a longer one is cut, with a warning."""
    if len(value) <= max_length:
        return value
    notes.warn(column, f"longer than {max_length} characters: cut to {max_length}")
    return value[: max_length - 1].rstrip() + "…"


def integer(row: dict, column: str, *, required: bool = False) -> int | None:
    """The cell as a whole number; None when blank (RowRejected if required or not a number).

    UCDP's files write some counts as ``12.0``: a number with no fraction is taken.
    """
    number = decimal(row, column, required=required)
    if number is None:
        return None
    if not number.is_integer() or abs(number) > limits.LARGEST_AMOUNT:
        raise RowRejected(column, f"not a whole number: {text(row, column)!r}")
    return int(number)


def count(row: dict, column: str, *, required: bool = False) -> int | None:
    """A whole number of people or events, never negative."""
    number = integer(row, column, required=required)
    if number is not None and number < 0:
        raise RowRejected(column, f"a count cannot be negative: {number}")
    return number


def decimal(row: dict, column: str, *, required: bool = False) -> float | None:
    """The cell as a finite number; None when blank (RowRejected if required or not one)."""
    value = text(row, column)
    if not value:
        if required:
            raise RowRejected(column, "missing: a number is required")
        return None
    try:
        number = float(value)
    except ValueError:
        raise RowRejected(column, f"not a number: {value!r}") from None
    if not math.isfinite(number):
        raise RowRejected(column, f"not a number: {value!r}")
    return number


def coordinates(row: dict, lat_column: str, lon_column: str) -> tuple[float, float] | None:
    """(lat, lon), both or neither; RowRejected for one alone or either out of range."""
    lat, lon = decimal(row, lat_column), decimal(row, lon_column)
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        missing = lat_column if lat is None else lon_column
        raise RowRejected(missing, "missing: latitude and longitude come together")
    if not -90 <= lat <= 90:
        raise RowRejected(lat_column, f"out of range -90..90: {lat}")
    if not -180 <= lon <= 180:
        raise RowRejected(lon_column, f"out of range -180..180: {lon}")
    return lat, lon


_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
# ACLED's own export writes "16 May 2025" where its API writes 2025-05-16.
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2}) ([A-Za-z]+) (\d{4})$")
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}


def day(row: dict, column: str, *, required: bool = False) -> dt.date | None:
    """The cell as a calendar day: ``YYYY-MM-DD`` (a time after it is ignored) or
    ``16 May 2025``; RowRejected when missing (if required) or not a real day."""
    value = text(row, column)
    if not value:
        if required:
            raise RowRejected(column, "missing: a date is required")
        return None
    try:
        if match := _DAY.match(value):
            year, month, day_of_month = map(int, match.groups())
        elif (match := _DAY_MONTH_YEAR.match(value)) and match[2].lower() in _MONTHS:
            year, month, day_of_month = int(match[3]), _MONTHS[match[2].lower()], int(match[1])
        else:
            raise ValueError
        result = dt.date(year, month, day_of_month)
    except ValueError:
        raise RowRejected(column, f"not a date (YYYY-MM-DD): {value!r}") from None
    if result.year < limits.EARLIEST_YEAR:
        raise RowRejected(column, f"before the year {limits.EARLIEST_YEAR}: {value!r}")
    return result


def parts(value: str, separator: str = ";") -> list[str]:
    """A list cell's items, each trimmed, blanks kept (so lists aligned by position stay so)."""
    if not value:
        return []
    return [" ".join(item.split()) for item in value.split(separator)]


def slug(value: str) -> str:
    """A value as part of a natural key: lower case letters, digits and hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")


def tag(prefix: str, value: str) -> str:
    """A tag ``prefix:value``, within the model's tag length."""
    return f"{prefix}:{value}"[: limits.TAG_LENGTH].rstrip()


def date_fields(start: dt.date, end: dt.date) -> dict[str, str]:
    """``date`` (and ``end_date``) for the days ``start``–``end``, at the precision they show.

    A window that is exactly one calendar month is written as that month (``2023-05``) and
    one that is exactly a calendar year as that year (``2023``): the span a dataset gives
    for "some time in May" keeps the precision it stands for. Any other span stays a span
    of days.
    """
    if start == end:
        return {"date": start.isoformat()}
    if start.day == 1 and end == _month_end(start):
        return {"date": f"{start.year:04d}-{start.month:02d}"}
    if start == dt.date(start.year, 1, 1) and end == dt.date(start.year, 12, 31):
        return {"date": f"{start.year:04d}"}
    return {"date": start.isoformat(), "end_date": end.isoformat()}


def _month_end(day_of_month: dt.date) -> dt.date:
    following = (day_of_month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def month_of(day_of_month: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of the calendar month ``day_of_month`` is in."""
    return day_of_month.replace(day=1), _month_end(day_of_month)


def coded(row: dict, column: str, codes, *, required: bool = False) -> int | None:
    """The cell as one of a codebook's numeric ``codes``; None when blank.

    RowRejected for a number the codebook does not define: guessing its meaning would
    misplace the event.
    """
    number = integer(row, column, required=required)
    if number is not None and number not in codes:
        allowed = sorted(codes)
        if allowed == list(range(allowed[0], allowed[-1] + 1)) and len(allowed) > 3:
            known = f"{allowed[0]} to {allowed[-1]}"
        else:
            known = ", ".join(map(str, allowed[:-1])) + f" or {allowed[-1]}"
        raise RowRejected(column, f"unknown code {number} ({known})")
    return number
