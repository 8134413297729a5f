"""Storage: all SQL of the service lives in this package."""

from service.db import get_db
from service.storage.events import EventStore


def event_store(written_by: str | None = None) -> EventStore:
    """The event store of the current app; its writes are recorded as ``written_by``'s."""
    return EventStore(get_db(), written_by=written_by)
