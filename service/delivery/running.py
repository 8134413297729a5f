"""What the deliverer's tasks share: storage calls off the event loop, and waits that
end early when the process is told to stop."""

from __future__ import annotations

import asyncio
import contextlib

from service.db import Database


async def on_connection(db: Database, function, *args):
    """``function(conn, *args)`` on a pooled connection, in a thread: storage is blocking."""

    def call():
        with db.connection() as conn:
            return function(conn, *args)

    return await asyncio.to_thread(call)


async def sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
