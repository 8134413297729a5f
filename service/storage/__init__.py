"""Storage: all SQL of the service lives in this package."""

from service.db import get_db
from service.storage.events import EventStore


def event_store() -> EventStore:
    """The event store of the current app."""
    return EventStore(get_db())
