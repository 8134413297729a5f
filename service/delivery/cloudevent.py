"""A change as a CloudEvents 1.0 event in structured mode: the body of every delivery
and of every JetStream message."""

from __future__ import annotations

import json

from service.storage.deliveries import Change
from service.storage.rows import timestamp

CONTENT_TYPE = "application/cloudevents+json"
# The change's operation -> the CloudEvent's type.
TYPES = {
    "create": "events.event.created",
    "update": "events.event.updated",
    "delete": "events.event.deleted",
}


def body(change: Change, public_url: str) -> bytes:
    """The CloudEvent of ``change``; ``data`` is the event as that version is served
    (a delete's: its tombstone, with ``deleted_at``), sent as stored, not re-serialised."""
    head = json.dumps(
        {
            "specversion": "1.0",
            "id": change.id,
            "source": f"{public_url}/v1/events",
            "type": TYPES[change.operation],
            "subject": str(change.event_id),
            "time": timestamp(change.recorded_at),
            "datacontenttype": "application/json",
            "dataschema": f"{public_url}/v1/event-types/{change.kind}",
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return f'{head[:-1]},"data":{change.body}}}'.encode()
