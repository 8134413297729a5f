"""Benchmark bulk ingest: ``python bench/bulk.py --events 10000``.

On a fresh database (``events_bench_bulk`` on the server of DATABASE_URL, dropped at the
end) it measures, for the same synthetic events (bench/generate.py, each with a key):

- validation alone: ``schemas.Event().load`` per event, in this process;
- the floor: the same rows, already serialised, COPYed into a staging table and inserted
  into ``events`` and ``event_revisions`` straight through psycopg (bench/load.py's COPY),
  with every index in place as the service has them;
- ``POST /v1/events/bulk`` under gunicorn (the service's own config): one request with
  every event, the same request again (every item ``unchanged``), and the events split
  over concurrent requests (each request is validated by one worker, so concurrency is
  what lets validation use both cores).

Each figure is the median of ``--rounds`` runs, as events/s and as a share of the floor.
Beside the wall-clock figures, the CPU time spent per event (gunicorn workers and the
database's backends; for the floor, this process and its backend) is measured, and with
it the rate two idle cores would allow: on a machine shared with other work the wall
clock measures the neighbours too. Prints a table and writes JSON to bench/results/
(bench/session.py: the scratch database and the results file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import load, session
from bench.generate import EventFactory
from bench.servers import Gunicorn
from bench.session import RESULTS, CpuMeter, backends
from schemas import Event
from service import auth
from service.validation import load_event

MARSHMALLOW = Event()


def events(count: int, run: str, seed: int = 2025) -> list[dict]:
    """``count`` synthetic events with keys unique to ``run`` (so each run creates)."""
    found = list(EventFactory(seed).events(count))
    for n, event in enumerate(found):
        event["key"] = f"bench-{run}-{n}"
    return found


def validation(batch: list[dict], load=MARSHMALLOW.load) -> dict:
    """Microseconds per event of ``load`` (marshmallow's, or the service's compiled
    checks), wall and CPU."""
    load(batch[0])  # warm
    wall, cpu = time.perf_counter(), time.process_time()
    for event in batch:
        load(event)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "us_per_event": wall / len(batch) * 1e6,
        "cpu_us_per_event": cpu / len(batch) * 1e6,
        "events_per_s": len(batch) / wall,
    }


def floor(url: str, batch: list[dict]) -> tuple[float, float]:
    """Seconds and CPU seconds (this process and its backend) to COPY the batch's rows,
    built beforehand, into events and revisions."""
    now = dt.datetime.now(dt.UTC)
    rows = [load.row(event, now) for event in Event().load(batch, many=True)]
    with psycopg.connect(url) as conn:
        load.create_staging(conn)
        conn.commit()
        backend = psutil.Process(conn.info.backend_pid)
        meter = CpuMeter(lambda: [psutil.Process(), backend])
        started = time.perf_counter()
        load.copy_rows(conn, rows)
        conn.commit()
        return time.perf_counter() - started, meter.seconds()


def writer_key(url: str) -> str:
    """An API key with the write scope, stored in the database at ``url``: its header value."""
    prefix, key = auth.new_key()
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO api_keys (name, prefix, secret_hash, scopes) VALUES ('bench', %s, %s, %s)",
            (prefix, auth.key_digest(key), ["write"]),
        )
    return f"Bearer {key}"


# Set by `measure` once the database is made: writes need a key.
AUTHORIZATION: dict[str, str] = {}


def post(base: str, batch: list[dict], atomic: bool = False) -> tuple[float, dict]:
    """One POST /v1/events/bulk: seconds taken, and the counts it answered."""
    body = json.dumps(batch).encode()
    request = urllib.request.Request(
        f"{base}/v1/events/bulk" + ("?atomic=true" if atomic else ""),
        data=body,
        headers={"Content-Type": "application/json", **AUTHORIZATION},
        method="POST",
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as answer:
        counts = json.load(answer)["counts"]
    return time.perf_counter() - started, counts


def concurrent(base: str, batch: list[dict], requests: int) -> float:
    """Seconds to write ``batch`` split over ``requests`` simultaneous requests."""
    if requests == 1:
        seconds, counts = post(base, batch)
        if counts["created"] != len(batch):
            raise RuntimeError(f"not all created: {counts}")
        return seconds
    size = -(-len(batch) // requests)
    parts = [batch[start : start + size] for start in range(0, len(batch), size)]
    started = time.perf_counter()
    with ThreadPoolExecutor(len(parts)) as pool:
        answers = list(pool.map(lambda part: post(base, part), parts))
    elapsed = time.perf_counter() - started
    created = sum(counts["created"] for _, counts in answers)
    if created != len(batch):
        raise RuntimeError(f"{created} of {len(batch)} events created: {answers}")
    return elapsed


def _median_run(runs: list[tuple[float, float]], count: int) -> dict:
    """The median run by wall clock: events/s, and CPU µs per event."""
    seconds, cpu = sorted(runs)[len(runs) // 2]
    return {"events_per_s": count / seconds, "cpu_us_per_event": cpu / count * 1e6}


def measure(url: str, options) -> dict:
    """Validation, and {name: events/s and CPU per event} for the floor and each bulk way."""
    count, rounds, database = options.events, options.rounds, options.database
    batch = events(count, "v")
    result: dict = {
        "events": count,
        "validation": validation(batch),
        "compiled_validation": validation(batch, load_event),
        "runs": {},
    }
    runs = result["runs"]
    runs["floor: COPY + INSERT … SELECT"] = _median_run(
        [floor(url, events(count, f"floor{n}")) for n in range(rounds)], count
    )
    AUTHORIZATION["Authorization"] = writer_key(url)
    env = {"DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    with Gunicorn("service:create_app()", "/readyz", RESULTS / "gunicorn-bulk.log", env) as service:

        def service_processes():
            return service.workers() + backends(database)

        def timed(write) -> tuple[float, float]:
            meter = CpuMeter(service_processes)
            seconds = write()
            return seconds, meter.seconds()

        for requests in options.concurrency:
            name = "bulk: 1 request" if requests == 1 else f"bulk: {requests} concurrent requests"
            runs[name] = _median_run(
                [
                    timed(
                        lambda n=n, r=requests: concurrent(
                            service.base, events(count, f"c{r}-{n}"), r
                        )
                    )
                    for n in range(rounds)
                ],
                count,
            )
        resend = events(count, "again")
        post(service.base, resend)

        def again() -> float:
            seconds, counts = post(service.base, resend)
            if counts["unchanged"] != count:
                raise RuntimeError(f"not all unchanged: {counts}")
            return seconds

        runs["bulk: 1 request sent again (all unchanged)"] = _median_run(
            [timed(again) for _ in range(rounds)], count
        )
    return result


def report(result: dict, cores: int) -> str:
    """The figures as a table: events/s, the share of the floor, CPU per event."""
    runs = result["runs"]
    base = runs["floor: COPY + INSERT … SELECT"]["events_per_s"]
    validation, compiled = result["validation"], result["compiled_validation"]
    lines = [
        f"{result['events']:,} events per run; "
        f"validation (Event().load): {validation['us_per_event']:.0f} µs/event wall, "
        f"{validation['cpu_us_per_event']:.0f} µs CPU; the service's (load_event, "
        f"compiled): {compiled['us_per_event']:.0f} µs wall, "
        f"{compiled['cpu_us_per_event']:.0f} µs CPU",
        f"{'':46}{'events/s':>9}{'of floor':>9}{'CPU µs/ev':>10}{f'{cores} idle cores':>14}",
    ]
    for name, run in runs.items():
        cpu = run["cpu_us_per_event"]
        lines.append(
            f"{name:46}{run['events_per_s']:>9,.0f}{run['events_per_s'] / base:>9.2f}"
            f"{cpu:>10,.0f}{cores * 1e6 / cpu:>14,.0f}"
        )
    writes = [
        run for name, run in runs.items() if name.startswith("bulk: ") and "unchanged" not in name
    ]
    best = max(run["events_per_s"] for run in writes)
    ideal = max(cores * 1e6 / run["cpu_us_per_event"] for run in writes)
    lines.append(
        f"bar: >= 10,000 events/s end to end: {'MET' if best >= 10_000 else 'MISSED'}"
        f" ({best:,.0f} measured; {ideal:,.0f} if {cores} cores were the service's "
        "alone)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the bulk benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="events per run")
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[1, 2, 4],
        help="requests at once, each with an equal share of the events",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default="events_bench_bulk")
    options = parser.parse_args(argv)
    session.run(
        "bulk",
        options.database,
        lambda url: measure(url, options),
        lambda result: report(result, psutil.cpu_count()),
        vars(options),
    )


if __name__ == "__main__":
    main()
