"""Time as_of searches against the same searches now: ``python bench/as_of.py``.

A fresh database (``events_as_of_bench`` on the server of DATABASE_URL, dropped at the
end) is filled with ``--events`` synthetic events; then, for each count of ``--changes``,
a moment is taken and that many events are updated through the service's own store, so
that many changes were recorded after the moment. Each search is timed now and as of the
moment, in-process through Flask's test client (no HTTP server, no wrk): the medians of
``--rounds`` requests are printed, in milliseconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import load
from service import create_app
from service.storage import event_store
from service.storage.rows import timestamp

DATABASE = "events_as_of_bench"
SEARCHES = (
    "/v1/events?limit=20",
    "/v1/events?type=attack&date_from=2025-03&date_to=2025-05",
    "/v1/events?q=%22Sergey%20Lavrov%22",
    "/v1/events?sort=date&limit=20",
    "/v1/events/facets?type=attack",
)


def _median_ms(client, path: str, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.get_json()}")
    return statistics.median(times) * 1000


def main() -> None:
    """Fill, change, time; print one row per search and count of changes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--changes", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("--rounds", type=int, default=15)
    options = parser.parse_args()
    server = os.environ.get("DATABASE_URL") or sys.exit("set DATABASE_URL")
    url = load.create(server, DATABASE)
    try:
        print(
            f"filled {options.events:,} events in "
            f"{load.fill(url, options.events, progress=lambda _: None):.0f} s",
            flush=True,
        )
        # DEVELOPMENT: a benchmark's own database, in this process (the default SECRET_KEY).
        app = create_app(
            {
                "DATABASE_URL": url,
                "LOG_LEVEL": "WARNING",
                "DEVELOPMENT": True,
                "AS_OF_MAX_CHANGES": max(options.changes),
            }
        )
        client = app.test_client()
        with psycopg.connect(url) as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM events ORDER BY random() LIMIT %s", (sum(options.changes),)
                )
            ]
        with app.app_context():
            store = event_store()
            for count in options.changes:
                moment = timestamp(dt.datetime.now(dt.UTC))
                for event_id in ids[:count]:
                    store.update(event_id, lambda event: {**event, "title": event["title"] + "!"})
                del ids[:count]
                for path in SEARCHES:
                    separator = "&" if "?" in path else "?"
                    now = _median_ms(client, path, options.rounds)
                    then = _median_ms(client, f"{path}{separator}as_of={moment}", options.rounds)
                    print(
                        f"{count:>6} changed since | {path:60} | now {now:7.1f} "
                        f"| as_of {then:7.1f}",
                        flush=True,
                    )
    finally:
        load.drop(server, DATABASE)


if __name__ == "__main__":
    main()
