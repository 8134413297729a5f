"""The JetStream publisher: every change of the feed, once, on a NATS JetStream stream.

Subject ``<prefix>.<kind>`` (``events.changes.attack``), the same CloudEvent body as a
webhook's, and ``Nats-Msg-Id`` = the change id: a publisher that restarts after a crash
sends again what it had not recorded as published, and JetStream drops those within its
duplicate window. One publisher holds the stream's lease at a time (the same advisory
lock as a subscription's), so the stream receives the feed in its order, each event's
versions in order.
"""

from __future__ import annotations

import asyncio
import logging

import nats
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from service.db import Database
from service.delivery import cloudevent
from service.delivery.running import on_connection, sleep_unless
from service.metrics import instruments
from service.storage import deliveries, subscriptions
from service.storage.changes import FEED_START

log = logging.getLogger("service.delivery.jetstream")
BATCH = 500
IDLE_SECONDS = 0.05
LEASE_RETRY_SECONDS = 1.0


def stream_config(config) -> StreamConfig:
    """The stream, as created when absent: file storage, kept for NATS_STREAM_MAX_AGE_DAYS."""
    return StreamConfig(
        name=config["NATS_STREAM"],
        subjects=[f"{config['NATS_SUBJECT_PREFIX']}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=config["NATS_STREAM_MAX_AGE_DAYS"] * 86400,
        duplicate_window=config["NATS_DUPLICATE_WINDOW_SECONDS"],
    )


async def ensure_stream(js, config) -> None:
    """Create the stream with its retention settings unless it exists (then left as is)."""
    try:
        await js.stream_info(config["NATS_STREAM"])
    except NotFoundError:
        await js.add_stream(stream_config(config))


class StreamPublisher:
    """Publishes the feed to JetStream while it holds the stream's lease."""

    def __init__(self, db: Database, leases, config):
        self.db = db
        self.leases = leases
        self.config = config
        self.name = f"jetstream:{config['NATS_STREAM']}"
        self.prefix = config["NATS_SUBJECT_PREFIX"]

    def _read(self, conn):
        position = deliveries.stream_position(conn, self.name, FEED_START)
        return position, *deliveries.changes_after(conn, position, BATCH)

    def _advance(self, conn, position):
        deliveries.advance_stream(conn, self.name, position)

    async def _db(self, function, *args):
        return await on_connection(self.db, function, *args)

    async def run(self, stop: asyncio.Event) -> None:
        nc = await nats.connect(self.config["NATS_URL"], connect_timeout=5, name="events-deliver")
        try:
            js = nc.jetstream()
            await ensure_stream(js, self.config)
            while not stop.is_set():
                if not await asyncio.to_thread(subscriptions.try_lease, self.leases, self.name):
                    await sleep_unless(stop, LEASE_RETRY_SECONDS)
                    continue
                try:
                    await self._publish_while_leased(js, stop)
                finally:
                    await asyncio.to_thread(subscriptions.release, self.leases, self.name)
        finally:
            await nc.close()

    async def _publish_while_leased(self, js, stop: asyncio.Event) -> None:
        published = instruments().stream_published
        while not stop.is_set():
            position, changes, reached = await self._db(self._read)
            if reached == position:
                await sleep_unless(stop, IDLE_SECONDS)
                continue
            for change in changes:  # one at a time: the stream keeps the feed's order
                await js.publish(
                    f"{self.prefix}.{change.kind}",
                    cloudevent.body(change, self.config["PUBLIC_URL"]),
                    headers={
                        "Nats-Msg-Id": change.id,
                        "Content-Type": cloudevent.CONTENT_TYPE,
                    },
                )
                published.inc()
            await self._db(self._advance, reached)
