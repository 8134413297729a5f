"""The event model: every kind of event the service stores, as marshmallow schemas.

Importing this package registers every kind. ``Event`` validates any event; the
``EVENT_KINDS`` registry maps each ``type`` to its schema.
"""

from schemas import kinds  # noqa: F401  (registers the kinds)
from schemas.common import (
    LOCATION_PRECISIONS,
    SOURCE_KINDS,
    figure_reading,
    killed_figure,
    source_kinds,
    widest_range,
)
from schemas.event import (
    CERTAINTY,
    DATE_BASES,
    EVENT_KINDS,
    Event,
    EventEnvelope,
    event_kind,
    event_span,
)
from schemas.fields import date_precision, date_span

__all__ = [
    "CERTAINTY",
    "DATE_BASES",
    "EVENT_KINDS",
    "LOCATION_PRECISIONS",
    "SOURCE_KINDS",
    "Event",
    "EventEnvelope",
    "date_precision",
    "date_span",
    "event_kind",
    "event_span",
    "figure_reading",
    "killed_figure",
    "source_kinds",
    "widest_range",
]
