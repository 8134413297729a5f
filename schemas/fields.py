"""Field types of the event model that marshmallow does not ship.

All of them are strict about JSON types: a JSON ``true`` is not a number, a number is
not a string, and a string is not a boolean.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re

import pycountry
from marshmallow import fields
from marshmallow.validate import Range

from schemas import limits

_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")

# The same rule as a pattern the spec publishes: a year from 1000, a real month, a real
# day of that month (29 February in leap years only), so that the spec refuses what the
# server refuses.
_YEAR = r"[1-9][0-9]{3}"
_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_LEAP_YEAR = r"(?:[1-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:1[26]|[2468][048]|[3579][26])00)"
PARTIAL_DATE_PATTERN = (
    rf"^(?:{_YEAR}(?:-(?:0[1-9]|1[0-2])|-{_DAY})?"
    rf"|{_LEAP_YEAR}-02-29)$"
)


def date_span(value: str) -> tuple[dt.date, dt.date]:
    """First and last day covered by a partial ISO date (``2024``, ``2024-11``, ``2024-11-05``)."""
    match = _PARTIAL_DATE.match(value)
    if not match:
        raise ValueError(f"not a partial ISO date: {value!r}")
    year, month, day = (int(part) if part else None for part in match.groups())
    if month is None:
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    if day is None:
        return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
    day_date = dt.date(year, month, day)
    return day_date, day_date


def date_precision(value: str) -> str:
    """How precise a partial ISO date is: ``year``, ``month`` or ``day``."""
    return {4: "year", 7: "month"}.get(len(value), "day")


class PartialDate(fields.String):
    """An ISO 8601 calendar date at the precision known: ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``."""

    default_error_messages = {
        "invalid_partial_date": "Not a valid date: use YYYY, YYYY-MM or YYYY-MM-DD.",
        "impossible_date": "Not a real calendar date.",
    }

    def __init__(self, **kwargs):
        metadata = {
            "pattern": PARTIAL_DATE_PATTERN,
            "description": "ISO 8601 date at the precision known: YYYY, YYYY-MM or YYYY-MM-DD "
            f"(a real calendar date, from {limits.EARLIEST_YEAR}).",
            "examples": ["2025-07-12", "2024-11", "2024"],
        }
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _PARTIAL_DATE.match(text):
            raise self.make_error("invalid_partial_date")
        if not re.match(PARTIAL_DATE_PATTERN, text):
            raise self.make_error("impossible_date")
        try:
            date_span(text)
        except ValueError as error:
            raise self.make_error("impossible_date") from error
        if int(text[:4]) < limits.EARLIEST_YEAR:
            raise self.make_error("impossible_date")
        return text


class _TwoLetterCode(fields.String):
    """A two-letter code that must be in one of pycountry's ISO tables, in one case."""

    table: object  # a pycountry database with a get(alpha_2=...)
    upper_case: bool
    what: str
    example: str
    default_error_messages = {"unknown": "Not an {what} code."}

    def __init__(self, **kwargs):
        # The codes are listed once, in a component of their own (see `json_schema`).
        metadata = {
            "allOf": [{"$ref": f"#/components/schemas/{type(self).__name__}"}],
            "description": f"{self.what} code.",
            "examples": [self.example],
        }
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(metadata=metadata, **kwargs)

    @classmethod
    def json_schema(cls) -> dict:
        """The spec's component of this kind of code (named as the class): every code."""
        return {"type": "string", "enum": cls.codes(), "description": f"An {cls.what} code."}

    @classmethod
    def codes(cls) -> list[str]:
        """Every code the table has, in the field's case (the spec's enum)."""
        codes = (getattr(entry, "alpha_2", None) for entry in cls.table)
        return sorted(code if cls.upper_case else code.lower() for code in codes if code)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        in_case = text.isupper() if self.upper_case else text.islower()
        if len(text) != 2 or not in_case or self.table.get(alpha_2=text) is None:
            raise self.make_error("unknown", what=self.what)
        return text


class CountryCode(_TwoLetterCode):
    """An ISO 3166-1 alpha-2 country code, upper case (``KP``, ``RU``, ``UA``)."""

    table = pycountry.countries
    upper_case = True
    what = "ISO 3166-1 alpha-2 country"
    example = "KP"


class LanguageCode(_TwoLetterCode):
    """An ISO 639-1 language code, lower case (``ru``, ``ko``, ``en``)."""

    table = pycountry.languages
    upper_case = False
    what = "ISO 639-1 language"
    example = "ru"


# White space as str.strip() and str.isspace() know it, spelled out so that the spec's
# pattern means the same in every regex dialect (ECMA-262's \s is another set).
WHITE_SPACE = (
    r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029"
    r"\u202f\u205f\u3000"
)
# Text: no NUL (PostgreSQL cannot store it), and something besides white space.
TEXT_PATTERN = rf"^[^\x00]*[^\x00{WHITE_SPACE}][^\x00]*$"
_TEXT = re.compile(TEXT_PATTERN)


class BoundedString(fields.String):
    """Text with a length limit, never blank, stored without surrounding white space.

    The limit applies to the text as sent, as the spec's ``maxLength`` says.
    """

    default_error_messages = {
        "too_long": "Longer than {max} characters.",
        "empty": "Must not be empty or only white space.",
        "nul": "Must not contain NUL characters.",
    }

    def __init__(self, max_length: int = limits.NAME_LENGTH, **kwargs):
        self.max_length = max_length
        metadata = {"maxLength": max_length, "minLength": 1, "pattern": TEXT_PATTERN}
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise self.make_error("nul")
        if len(text) > self.max_length:
            raise self.make_error("too_long", max=self.max_length)
        if not _TEXT.match(text):
            raise self.make_error("empty")
        return text.strip()


# An http or https URL as RFC 3986 spells one: a host, an optional port, a path, a query
# and a fragment, each of the characters allowed there (others percent-encoded). No IP
# literal hosts ([::1]).
_URL_CHAR = r"(?:[A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})"
WEB_URL_PATTERN = (
    rf"^[Hh][Tt][Tt][Pp][Ss]?://(?:(?:{_URL_CHAR}|:)*@)?{_URL_CHAR}+(?::[0-9]*)?"
    rf"(?:/(?:{_URL_CHAR}|[:@])*)*(?:\?(?:{_URL_CHAR}|[:@/?])*)?"
    rf"(?:#(?:{_URL_CHAR}|[:@/?])*)?$"
)
_WEB_URL = re.compile(WEB_URL_PATTERN)


class WebUrl(fields.String):
    """An http(s) URL, checked by the pattern the spec publishes with ``format: uri``."""

    default_error_messages = {
        "invalid_url": "Not a valid http or https URL.",
        "too_long": "Longer than {max} characters.",
    }

    def __init__(self, max_length: int = limits.URL_LENGTH, **kwargs):
        self.max_length = max_length
        metadata = {
            "format": "uri",
            "pattern": WEB_URL_PATTERN,
            "maxLength": max_length,
            "examples": ["https://example.org/news/2025/07/13/wonsan"],
        }
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > self.max_length:
            raise self.make_error("too_long", max=self.max_length)
        if not _WEB_URL.match(text):
            raise self.make_error("invalid_url")
        return text


class BoundedList(fields.List):
    """A list with a size limit."""

    default_error_messages = {"too_many": "More than {max} items."}

    def __init__(self, cls_or_instance, max_items: int = limits.LIST_ITEMS, **kwargs):
        self.max_items = max_items
        metadata = {"maxItems": max_items}
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(cls_or_instance, metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list) and len(value) > self.max_items:
            raise self.make_error("too_many", max=self.max_items)
        return super()._deserialize(value, attr, data, **kwargs)


class Amount(fields.Number):
    """A non-negative JSON number, kept as given (an integer stays an integer)."""

    num_type = float
    default_error_messages = {
        "invalid": "Not a valid number.",
        "negative": "Must not be negative.",
        "too_large": "Larger than {max}.",
    }

    def __init__(self, **kwargs):
        metadata = {"minimum": 0, "maximum": limits.LARGEST_AMOUNT}
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        # Only a float can be infinite or NaN; math.isfinite on an int converts it to a
        # float first, which overflows past 309 digits.
        if not is_number or (isinstance(value, float) and not math.isfinite(value)):
            raise self.make_error("invalid")
        if value < 0:
            raise self.make_error("negative")
        if value > limits.LARGEST_AMOUNT:
            raise self.make_error("too_large", max=limits.LARGEST_AMOUNT)
        return value

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class StrictFloat(fields.Float):
    """A finite JSON number (not a boolean, not a numeric string)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictInteger(fields.Integer):
    """A JSON integer (not a boolean, not a string, not 1.5), within bounds.

    ``3.0`` is the integer 3, as JSON Schema's ``integer`` has it.
    """

    def __init__(self, minimum: int = 0, maximum: int = 1_000_000, **kwargs):
        super().__init__(strict=True, validate=Range(min=minimum, max=maximum), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """A JSON ``true`` or ``false`` and nothing else (not 1, not "yes")."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value
