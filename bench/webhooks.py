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

import psutil
import psycopg
import uvloop

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
# Writer threads (--writers): 4 hold 1,000 changes/s only while a write takes under
# 4 ms; on a loaded machine they fall behind the schedule, and the run then offers a
# lower rate than it claims. The rates achieved are reported (rate_achieved_*).
WRITERS = 8


class _Receiving(asyncio.Protocol):
    """One subscriber connection: answers each POST 200 at once (keep-alive HTTP/1.1)
    and records (path, body, receipt time). The receipt time is taken when the whole
    body is in; the body is parsed after the run, not while the clock runs, and its
    signature is not checked here (tests/test_delivery.py checks signatures with the
    `standardwebhooks` package): the receivers share the deliverer's two cores, and
    what they spend is not the deliverer's speed."""

    def __init__(self, received: list):
        self.received = received
        self.buffer = b""
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end]
            at = head.lower().find(b"content-length:") + 15
            line_end = head.find(b"\r\n", at)
            length = int(head[at : line_end if line_end > 0 else len(head)])
            if len(buffer) < end + 4 + length:
                break
            body = buffer[end + 4 : end + 4 + length]
            buffer = buffer[end + 4 + length :]
            self.received.append((head[5 : head.find(b" ", 5)], body, time.time()))
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        self.buffer = buffer


def _receive(port: int, results, ready) -> None:
    """The receivers: one process, uvloop (as the deliverer), answering every path."""
    received: list[tuple[bytes, bytes, float]] = []

    async def main():
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        server = await asyncio.get_running_loop().create_server(
            lambda: _Receiving(received), "127.0.0.1", port, backlog=1024
        )
        ready.set()
        await stop.wait()
        server.close()
        parsed = []
        for path, body, at in received:
            change = json.loads(body)
            parsed.append((path.decode(), change["subject"], change["data"]["version"], at))
        results.put(parsed)

    uvloop.run(main())


def _achieved_rate(written: list[tuple[str, int, float, float]]) -> float:
    """Changes per second from the first commit to the last."""
    commits = [at for _, _, at, _ in written]
    return (len(commits) - 1) / (max(commits) - min(commits))


def _write(
    url: str, rate: float, events: list[dict], writers: int
) -> list[tuple[str, int, float, float]]:
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

    with ThreadPoolExecutor(writers) as pool:
        return list(pool.map(one, range(len(events) * 2)))


def event_without_id(event: dict) -> dict:
    return {k: v for k, v in event.items() if k != "_id"} | {"title": event["title"] + " (2)"}


def _watch_feed(url: str, start, results, stop) -> None:
    """When each change first shows in the change feed, polled every 5 ms. A process of
    its own, running in both phases: its reads of the feed then weigh on the writers
    alike in both, and it takes no share of the writers' interpreter."""
    seen: dict[tuple[str, int], float] = {}
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
    results.put(seen)


class FeedWatcher:
    """``_watch_feed`` in a process, from the feed's present."""

    def __init__(self, url: str):
        with psycopg.connect(url, autocommit=True) as conn:
            start = feed_now(conn)
        self.results = multiprocessing.Queue()
        self.stop = multiprocessing.Event()
        self.process = multiprocessing.Process(
            target=_watch_feed, args=(url, start, self.results, self.stop)
        )
        self.process.start()

    def seen(self) -> dict[tuple[str, int], float]:
        self.stop.set()
        seen = self.results.get(timeout=60)
        self.process.join(10)
        return seen


def _wait_for_leases(url: str, count: int, timeout: float = 120) -> None:
    """Until the deliverer holds every subscription's lease (it may take seconds to start
    on a loaded machine; changes written before would count that against its lag)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            held = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s",
                (subscriptions.LEASE_NAMESPACE,),
            ).fetchone()[0]
            if held >= count:
                time.sleep(0.5)  # its first reads of the feed
                return
            time.sleep(0.1)
    raise SystemExit(f"the deliverer did not lease {count} subscriptions in {timeout} s")


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """The user and the system CPU time a process has used so far."""
    times = psutil.Process(pid).cpu_times()
    return times.user, times.system


def _postgres_cpu_seconds() -> float:
    """The CPU time (user + system) the server's processes have used: those running now,
    and those that ended (a backend whose connection closed), which the postmaster's
    children times hold once it has reaped them."""
    total = 0.0
    for process in psutil.process_iter(["name", "ppid", "cpu_times"]):
        times = process.info["cpu_times"]
        if process.info["name"] not in ("postgres", "postmaster") or times is None:
            continue
        total += times.user + times.system
        try:
            parent = psutil.Process(process.info["ppid"]).name()
        except psutil.Error:
            parent = None
        if parent not in ("postgres", "postmaster"):  # the postmaster: its reaped children
            total += times.children_user + times.children_system
    return total


def _busy_share(before, after) -> float:
    """The share of the machine's CPU time (all cores) that was busy between two
    ``psutil.cpu_times()``: near 1, every process here waits for a core."""
    total = sum(after) - sum(before)
    idle = (after.idle + getattr(after, "iowait", 0)) - (before.idle + getattr(before, "iowait", 0))
    return 1 - idle / total if total else 0.0


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(url: str, options) -> dict:
    factory = EventFactory(seed=19)
    loader = Event()
    half = options.changes // 2
    batches = [[loader.load(e) for e in factory.events(half)] for _ in range(2)]

    watcher = FeedWatcher(url)
    machine_before, postgres_before = psutil.cpu_times(), _postgres_cpu_seconds()
    baseline = _write(url, options.rate, batches[0], options.writers)
    busy_without = _busy_share(machine_before, psutil.cpu_times())
    postgres_without = _postgres_cpu_seconds() - postgres_before
    watcher.seen()

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
        "LOG_LEVEL": options.log_level,
        "DEVELOPMENT": "true",
    }
    env.pop("NATS_URL", None)
    # At INFO, one JSON line per attempt, as in production: written, to nowhere (or to
    # BENCH_DELIVERER_LOG).
    log_to = subprocess.DEVNULL if options.log_level == "INFO" else None
    if os.environ.get("BENCH_DELIVERER_LOG"):
        log_to = open(os.environ["BENCH_DELIVERER_LOG"], "w")  # noqa: SIM115 (closed below)
    deliverer = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "service", "deliver"],
        env=env,
        stderr=log_to,
    )
    try:
        _wait_for_leases(url, options.subscribers)
        watcher = FeedWatcher(url)
        cpu_before = _cpu_seconds(deliverer.pid), _cpu_seconds(receiver.pid)
        machine_before, postgres_before = psutil.cpu_times(), _postgres_cpu_seconds()
        writing = time.monotonic()
        delivered = _write(url, options.rate, batches[1], options.writers)
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
        elapsed = time.monotonic() - writing
        machine_busy = _busy_share(machine_before, psutil.cpu_times())
        postgres_with = _postgres_cpu_seconds() - postgres_before
        cpu_after = _cpu_seconds(deliverer.pid), _cpu_seconds(receiver.pid)
        cpu = [
            [round(after[i] - before[i], 2) for i in (0, 1)]
            for before, after in zip(cpu_before, cpu_after, strict=True)
        ]
        load_average = os.getloadavg()
        seen = watcher.seen()
    finally:
        deliverer.send_signal(signal.SIGTERM)
        deliverer.wait(60)
        if log_to not in (None, subprocess.DEVNULL):
            log_to.close()
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
        # The same change at the same subscriber more than once (at least once allows it;
        # the normal path should not do it).
        "duplicates": len(received) - len({(path, s, v) for path, s, v, _ in received}),
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
        "rate_achieved_without": _achieved_rate(baseline),
        "rate_achieved_with": _achieved_rate(delivered),
        # CPU seconds from the first write of phase 2 until every delivery was recorded
        # (or the drain gave up), over that many seconds of wall time.
        "deliverer_cpu_user_system_s": cpu[0],
        "receivers_cpu_user_system_s": cpu[1],
        "phase_seconds": elapsed,
        # The machine's CPU busy share over that phase (PostgreSQL, writers, deliverer and
        # receivers together), and the lag of the first and the last tenth of the changes
        # written: a lag that grows through the run is a deliverer slower than the writes.
        # PostgreSQL's CPU seconds in each phase (the second: the writes and the delivery).
        "postgres_cpu_s_without": postgres_without,
        "postgres_cpu_s_with": postgres_with,
        "machine_cpu_busy_share_without": busy_without,
        "machine_cpu_busy_share": machine_busy,
        "lag_p50_ms_first_tenth": _lag_p50_of(delivered, received, 0.0),
        "lag_p50_ms_last_tenth": _lag_p50_of(delivered, received, 0.9),
        "load_average_1_5_15": list(load_average),
        "log_level": options.log_level,
        "writers": options.writers,
    }


def _lag_p50_of(written, received, start: float) -> float | None:
    """The median lag of the tenth of the changes written from ``start`` (a share)."""
    ordered = sorted(written, key=lambda w: w[2])
    first = int(start * len(ordered))
    chosen = {(e, v): at for e, v, at, _ in ordered[first : first + max(1, len(ordered) // 10)]}
    lags = [now - chosen[(s, v)] for _, s, v, now in received if (s, v) in chosen]
    return statistics.median(lags) * 1000 if lags else None


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The options of this benchmark (bench/run.py's --webhook-changes passes its own)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=10_000, help="changes per phase")
    parser.add_argument("--rate", type=float, default=1000, help="changes per second")
    parser.add_argument("--subscribers", type=int, default=10)
    parser.add_argument("--writers", type=int, default=WRITERS, help="writer threads")
    parser.add_argument("--drain-seconds", type=float, default=120)
    parser.add_argument("--database", default="events_bench_webhooks")
    parser.add_argument(
        "--log-level", default="INFO", help="the deliverer's (INFO: a line per attempt)"
    )
    return parser.parse_args(argv)


def main(argv=None) -> None:
    options = parse(argv)
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
