"""The recent change feed, read once for every subscription a deliverer holds.

Every subscription follows the same feed, and those that keep up stand at about the same
place in it. Instead of each reading the same changes (bodies included) every poll, one
task reads past the newest change it has, keeps the last ``size`` changes in memory,
renders each change's CloudEvent body once, and wakes the subscriptions when there is
more. A subscription standing inside the window takes its changes from memory; one
behind it (a backfill, or one that was failing) reads the database as before until it
has caught up.

The window is exact: it holds every change of the feed between ``start`` and ``end``,
because the feed below its horizon never changes and each read starts where the last
one ended (``changes.revisions_after``).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import threading
from collections import OrderedDict

from service.delivery import cloudevent
from service.delivery.running import on_connection, sleep_unless
from service.storage import deliveries
from service.storage.changes import FeedPosition, feed_now
from service.storage.deliveries import Change

log = logging.getLogger("service.delivery")
# Changes read at most per query of the feed; after a failed read, the wait to try again.
READ_BATCH = 1000
RETRY_SECONDS = 1.0


class RenderedBodies:
    """The CloudEvent body of recent changes, by feed position: a change fanned out to
    ten subscriptions is serialised once, not ten times (each is signed on its own)."""

    def __init__(self, public_url: str, size: int = 10_000):
        self.public_url = public_url
        self.size = size
        self._bodies: OrderedDict[FeedPosition, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def body(self, change: Change) -> bytes:
        body = self._bodies.get(change.position)
        if body is None:
            body = cloudevent.body(change, self.public_url)
            with self._lock:
                self._bodies[change.position] = body
                if len(self._bodies) > self.size:
                    self._bodies.popitem(last=False)
        return body


class FeedWindow:
    """The last ``size`` changes of the feed, kept up to date by ``run``: 10,000 is ten
    seconds at 1,000 changes/s, and some 25 MB with bodies of a few kB."""

    def __init__(self, db, poll: float, size: int = 10_000):
        self.db = db
        self.poll = poll
        self.size = size
        self.start: FeedPosition | None = None  # every change in (start, end] is held
        self.end: FeedPosition | None = None
        self._changes: list[Change] = []
        self._positions: list[FeedPosition] = []
        self._lock = threading.Lock()  # read from the storage threads, grown on the loop
        self._grown = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Read the feed as it grows, until ``stop`` is set. A failed read (the database
        away) is tried again: the subscriptions inside the window wait on this task."""
        while not stop.is_set():
            try:
                read = await self._read()
            except Exception:
                log.exception("reading the change feed failed; retrying")
                await sleep_unless(stop, RETRY_SECONDS)
                continue
            if read < READ_BATCH:
                await sleep_unless(stop, self.poll)

    async def _read(self) -> int:
        if self.end is None:
            self.start = self.end = await on_connection(self.db, feed_now)
        changes, reached = await on_connection(
            self.db, deliveries.changes_after, self.end, READ_BATCH
        )
        if changes:
            self._extend(changes, reached)
            grown, self._grown = self._grown, asyncio.Event()
            grown.set()
        return len(changes)

    def _extend(self, changes: list[Change], reached: FeedPosition) -> None:
        with self._lock:
            self._changes.extend(changes)
            self._positions.extend(c.position for c in changes)
            self.end = reached
            excess = len(self._changes) - self.size
            if excess > 0:
                self.start = self._positions[excess - 1]
                del self._changes[:excess]
                del self._positions[:excess]

    async def wait(self, stop: asyncio.Event, timeout: float) -> None:
        """Until the window grows (or ``timeout``, or ``stop``)."""
        grown = self._grown
        waiters = [asyncio.ensure_future(grown.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def has_after(self, position: FeedPosition) -> bool | None:
        """Whether the window holds changes past ``position``; ``None`` when
        ``position`` lies before the window (only the database can say)."""
        with self._lock:
            if self.start is None or position < self.start:
                return None
            return bool(self._positions) and self._positions[-1] > position

    def after(self, position: FeedPosition, limit: int) -> tuple[list[Change], FeedPosition]:
        """Up to ``limit`` changes past ``position`` and the position they reach, if the
        window holds them all; ``None`` when ``position`` lies before the window."""
        with self._lock:
            if self.start is None or position < self.start:
                return None
            first = bisect.bisect_right(self._positions, position)
            changes = self._changes[first : first + limit]
        return changes, changes[-1].position if changes else position
