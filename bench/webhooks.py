"""Benchmark webhook delivery: ``python bench/webhooks.py --changes 10000 --rate 1000``.

On a fresh database (``events_bench_webhooks`` on the server of DATABASE_URL, dropped at
the end), writers create events through the event store (the write path the API calls)
at a fixed rate, paced by a schedule, in two phases of the same size:

1. without delivery: the write path's latency alone (the baseline);
2. with ``--subscribers`` subscriptions (filter ``{}``: every change), each to its own
   loopback receiver path, and ``flask --app service deliver`` running as its own
   process: the write path's latency again, and for every change at every subscriber
   the lag from the write's commit (as the writer saw it return) to its receipt.

The receivers are one asyncio process answering 200 at once (keep-alive HTTP/1.1).
Prints a table of medians and p99 and writes JSON to bench/results/. Everything runs on
this machine's cores, PostgreSQL and the receivers included.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import load
from bench.generate import EventFactory
from bench.servers import free_port
from schemas import Event
from service.delivery import signing
from service.storage import subscriptions
from service.storage.changes import FeedPosition, feed_now, revisions_after
from service.storage.events import EventStore

RESULTS = Path(__file__).resolve().parent / "results"
WRITERS = 4


def _receive(port: int, results, ready) -> None:
    """The receivers: record (path, subject, version, receipt time) per request."""
    received: list[tuple[str, str, int, float]] = []

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                length = next(
                    int(line.split(":", 1)[1])
                    for line in lines
                    if line.lower().startswith("content-length:")
                )
                body = await reader.readexactly(length)
                now = time.time()
                change = json.loads(body)
                received.append((path, change["subject"], change["data"]["version"], now))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main():
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        ready.set()
        await stop.wait()
        server.close()
        results.put(received)

    asyncio.run(main())


def _write(url: str, rate: float, events: list[dict]) -> list[tuple[str, int, float, float]]:
    """Create then update each event, at ``rate`` changes/s in all: per change (event id,
    version, commit time, write latency in seconds)."""
    local = threading.local()

    def store() -> EventStore:
        if not hasattr(local, "conn"):
            local.conn = psycopg.connect(url, autocommit=True)
        return EventStore(None, local.conn)

    start = time.perf_counter() + 0.2
    interval = 1 / rate

    def one(i: int):
        due = start + i * interval
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        began = time.perf_counter()
        event = events[i // 2]
        if i % 2 == 0:
            stored = store().create(event)
            event["_id"] = stored.id
        else:
            while "_id" not in event:  # its create is still running on another thread
                time.sleep(0.001)
            stored = store().update(event["_id"], lambda current: event_without_id(event))
        done = time.perf_counter()
        return str(stored.id), stored.version, time.time(), done - began

    with ThreadPoolExecutor(WRITERS) as pool:
        return list(pool.map(one, range(len(events) * 2)))


def event_without_id(event: dict) -> dict:
    return {k: v for k, v in event.items() if k != "_id"} | {"title": event["title"] + " (2)"}


def _watch_feed(url: str, start, seen: dict, stop: threading.Event) -> None:
    """When each change first shows in the change feed, polled every 5 ms."""
    position = start
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            rows = revisions_after(conn, position, 1000)
            now = time.time()
            for row in rows:
                seen[(str(row[2]), row[3])] = now
            if rows:
                position = FeedPosition(int(rows[-1][0]), rows[-1][1])
            else:
                time.sleep(0.005)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(url: str, options) -> dict:
    factory = EventFactory(seed=19)
    loader = Event()
    half = options.changes // 2
    batches = [[loader.load(e) for e in factory.events(half)] for _ in range(2)]

    baseline = _write(url, options.rate, batches[0])

    port = free_port()
    results = multiprocessing.Queue()
    ready = multiprocessing.Event()
    receiver = multiprocessing.Process(target=_receive, args=(port, results, ready))
    receiver.start()
    ready.wait(10)
    with psycopg.connect(url, autocommit=True) as conn:
        start = feed_now(conn)
        for i in range(options.subscribers):
            subscriptions.create(
                conn,
                url=f"http://127.0.0.1:{port}/{i}",
                filter={},
                description=None,
                secret=signing.new_secret(),
                start=start,
                owner_key_id=None,
                created_by="bench",
            )
    env = os.environ | {
        "DATABASE_URL": url,
        "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
        "LOG_LEVEL": "WARNING",
        "DEVELOPMENT": "true",
    }
    env.pop("NATS_URL", None)
    deliverer = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "service", "deliver"], env=env
    )
    seen: dict[tuple[str, int], float] = {}
    watching = threading.Event()
    watcher = threading.Thread(target=_watch_feed, args=(url, start, seen, watching))
    watcher.start()
    try:
        time.sleep(2)  # the deliverer has leased every subscription
        delivered = _write(url, options.rate, batches[1])
        expected = len(delivered) * options.subscribers
        deadline = time.monotonic() + options.drain_seconds
        with psycopg.connect(url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                count = conn.execute(
                    "SELECT count(*) FROM deliveries WHERE status = 'delivered'"
                ).fetchone()[0]
                if count >= expected:
                    break
                time.sleep(0.2)
    finally:
        watching.set()
        watcher.join()
        deliverer.send_signal(signal.SIGTERM)
        deliverer.wait(60)
        receiver.terminate()
    received = results.get(timeout=30)
    receiver.join(10)

    committed = {(event_id, version): at for event_id, version, at, _ in delivered}
    lags = [
        now - committed[(subject, version)]
        for _, subject, version, now in received
        if (subject, version) in committed
    ]
    visible = [seen[key] - at for key, at in committed.items() if key in seen]
    write_off = [latency for *_, latency in baseline]
    write_on = [latency for *_, latency in delivered]
    return {
        "changes_per_phase": len(delivered),
        "rate": options.rate,
        "subscribers": options.subscribers,
        "received": len(received),
        "expected": expected,
        "lag_p50_ms": _percentile(lags, 0.5) * 1000 if lags else None,
        "lag_p99_ms": _percentile(lags, 0.99) * 1000 if lags else None,
        "lag_max_ms": max(lags) * 1000 if lags else None,
        # From commit to the change showing in the feed (/v1/changes), which no reader
        # of the feed can beat: it waits for every older transaction on the server.
        "feed_visible_p50_ms": _percentile(visible, 0.5) * 1000 if visible else None,
        "feed_visible_p99_ms": _percentile(visible, 0.99) * 1000 if visible else None,
        "write_p50_ms_without": statistics.median(write_off) * 1000,
        "write_p50_ms_with": statistics.median(write_on) * 1000,
        "write_p99_ms_without": _percentile(write_off, 0.99) * 1000,
        "write_p99_ms_with": _percentile(write_on, 0.99) * 1000,
        "write_p50_ratio": statistics.median(write_on) / statistics.median(write_off),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=10_000, help="changes per phase")
    parser.add_argument("--rate", type=float, default=1000, help="changes per second")
    parser.add_argument("--subscribers", type=int, default=10)
    parser.add_argument("--drain-seconds", type=float, default=120)
    parser.add_argument("--database", default="events_bench_webhooks")
    options = parser.parse_args(argv)
    server_url = load.server_url(options.database)
    RESULTS.mkdir(exist_ok=True)
    with load.scratch_database(server_url, options.database) as url:
        result = measure(url, options)
    for name, value in result.items():
        print(f"{name:24} {value:.2f}" if isinstance(value, float) else f"{name:24} {value}")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"webhooks-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
