"""The ``as_of`` parameter of reads: a past moment, as an RFC 3339 timestamp."""

from __future__ import annotations

import datetime as dt
import re

import marshmallow as ma

# RFC 3339 date-time: a full date, a time to the second or finer, and an offset. Looser
# ISO 8601 forms (no offset, basic format, a date alone) would leave the moment unclear.
_RFC_3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)


class Moment(ma.fields.AwareDateTime):
    """A past moment as an RFC 3339 timestamp, loaded as an aware datetime in UTC.

    Finer than microseconds is truncated: stored times have microseconds, so the
    truncated moment includes exactly the same writes.
    """

    default_error_messages = {
        "rfc3339": "Give an RFC 3339 timestamp with an offset, such as "
        "2025-07-13T12:00:00Z (a + in the offset is sent as %2B).",
        "future": "Must not be in the future: what the store holds then is not known yet.",
    }

    def __init__(self, **kwargs):
        super().__init__(
            metadata={"pattern": _RFC_3339.pattern, "examples": ["2025-07-13T12:00:00Z"]}
            | kwargs.pop("metadata", {}),
            **kwargs,
        )

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not _RFC_3339.match(value):
            raise self.make_error("rfc3339")
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            moment = moment.astimezone(dt.UTC)
        except OverflowError as error:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
            raise self.make_error("rfc3339") from error
        if moment > dt.datetime.now(dt.UTC):
            raise self.make_error("future")
        return moment


class AsOfArgs(ma.Schema):
    """Reads of the store as it stood at a past moment."""

    as_of = Moment(
        metadata={
            "description": "Answer as the store stood at this past moment (RFC 3339, with an "
            "offset), from every event's revision history: versions written "
            "later are not seen, events deleted later are. A moment in the "
            "future is a 400."
        }
    )
