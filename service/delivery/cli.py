"""``flask --app service deliver``: the deliverer, a process of its own beside the web's."""

from __future__ import annotations

import asyncio
import logging
import signal

import click
import uvloop
from flask import current_app

from service.delivery.running import sleep_unless
from service.observability import configure_logging

log = logging.getLogger("service.delivery")
# After a failure of the NATS connection, the publisher tries again this much later.
STREAM_RETRY_SECONDS = 5.0
# The log's lines are written out this often, not one system call per line.
LOG_FLUSH_SECONDS = 0.2


async def _publish(publisher, stop: asyncio.Event) -> None:
    """Keep the stream publisher running; NATS being away never stops the webhooks."""
    while not stop.is_set():
        try:
            await publisher.run(stop)
        except Exception:
            log.exception("JetStream publisher failed; retrying")
            await sleep_unless(stop, STREAM_RETRY_SECONDS)


async def deliver(app, stop: asyncio.Event) -> None:
    """Run the deliverer (and the JetStream publisher) until ``stop`` is set."""
    # Here, not at the top: the web process and other commands never load the HTTP and
    # NATS clients (and the worker's imports reach back into service.http).
    from service.delivery.jetstream import StreamPublisher
    from service.delivery.worker import Deliverer, Settings

    db = app.extensions["events_db_pool"]
    deliverer = Deliverer(db, Settings.from_config(app.config))
    tasks = [deliverer.run(stop)]
    if app.config["NATS_URL"]:
        tasks.append(_publish(StreamPublisher(db, deliverer.leases, app.config), stop))
    log.info("deliverer started", extra={"jetstream": bool(app.config["NATS_URL"])})
    await asyncio.gather(*tasks)
    log.info("deliverer stopped")


async def _until_signalled(app) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await deliver(app, stop)


@click.command("deliver")
def deliver_command():
    """Deliver changes to webhook subscribers (and to JetStream when NATS_URL is set).

    Runs until SIGTERM or SIGINT: attempts in flight finish, and what was not yet sent is
    queued for the next deliverer. Any number may run at once.
    """
    app = current_app._get_current_object()
    configure_logging(app.config["LOG_LEVEL"] or "INFO", flush_seconds=LOG_FLUSH_SECONDS)
    # A line per attempt, thousands a second: what the lines do not show is not gathered
    # (the logging HOWTO's "Optimization": the caller's file and line, which walks the
    # stack, and the thread and process names).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    if app.config["DELIVERY_METRICS_PORT"]:
        from prometheus_client import start_http_server

        start_http_server(app.config["DELIVERY_METRICS_PORT"])
    # uvloop: the deliverer is an event loop of socket reads and writes, thousands a
    # second, and uvloop's loop spends about half the CPU asyncio's does on each.
    uvloop.run(_until_signalled(app))
