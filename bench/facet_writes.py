"""What keeping the facet counts costs writes: ``python bench/facet_writes.py --events 500``.

On a fresh database (``events_bench_facets`` on the server of DATABASE_URL, dropped at the
end), ``POST /v1/events/bulk`` of ``--events`` new events (bench/generate.py) and as many
single ``POST /v1/events`` are timed through the service (Flask's test client, in this
process) with the facet triggers of migration 0071 on and off, alternately, ``--rounds``
times each: the ratio of the medians is the write cost the counts add, measured in one
run (so it does not also measure what the machine did in between). Beside the wall clock,
the CPU time of the database backends serving the writes (the triggers run there).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import load
from bench.bulk import writer_key
from bench.generate import EventFactory
from service import create_app

TRIGGERS = ("events_facets_inserted", "events_facets_updated", "events_facets_deleted")


def _backends_cpu(conn: psycopg.Connection, database: str) -> float:
    pids = [
        row[0]
        for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )
    ]
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def main(argv: list[str] | None = None) -> None:
    """Run the measurement."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=500, help="events per bulk request")
    parser.add_argument("--singles", type=int, default=100, help="single writes per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--preload", type=int, default=5_000, help="events stored first")
    parser.add_argument(
        "--fold-every", type=int, default=None, help="deltas between folds (default: 0071's)"
    )
    parser.add_argument("--database", default="events_bench_facets")
    options = parser.parse_args(argv)
    server = load.server_url(options.database)
    factory = EventFactory(20)
    with load.scratch_database(server, options.database) as url:
        if options.preload:
            load.fill(url, options.preload, progress=lambda _: None)
        if options.fold_every is not None:
            with psycopg.connect(url) as conn:
                conn.execute(
                    "CREATE OR REPLACE FUNCTION facet_buckets_fold_every() RETURNS bigint"
                    f" LANGUAGE sql STABLE AS 'SELECT {options.fold_every}::bigint'"
                )
        app = create_app(
            {
                "DATABASE_URL": url,
                "RATE_LIMIT_WRITE": "100000000/minute",
                "SECRET_KEY": secrets.token_urlsafe(32),
            }
        )
        client = app.test_client()
        headers = {"Authorization": writer_key(url)}
        figures: dict[str, dict[str, list[float]]] = {
            state: {"bulk_s": [], "bulk_db_cpu_s": [], "single_s": [], "single_db_cpu_s": []}
            for state in ("on", "off")
        }
        with psycopg.connect(url, autocommit=True) as admin:
            for round_ in range(options.rounds):
                for state in ("on", "off") if round_ % 2 == 0 else ("off", "on"):
                    verb = "ENABLE" if state == "on" else "DISABLE"
                    for trigger in TRIGGERS:
                        admin.execute(f"ALTER TABLE events {verb} TRIGGER {trigger}")
                    batch = list(factory.events(options.events))
                    cpu, started = _backends_cpu(admin, options.database), time.perf_counter()
                    response = client.post("/v1/events/bulk", json=batch, headers=headers)
                    assert response.status_code == 200, response.get_json()
                    figures[state]["bulk_s"].append(time.perf_counter() - started)
                    figures[state]["bulk_db_cpu_s"].append(
                        _backends_cpu(admin, options.database) - cpu
                    )
                    cpu, started = _backends_cpu(admin, options.database), time.perf_counter()
                    for event in factory.events(options.singles):
                        response = client.post("/v1/events", json=event, headers=headers)
                        assert response.status_code == 201, response.get_json()
                    figures[state]["single_s"].append(time.perf_counter() - started)
                    figures[state]["single_db_cpu_s"].append(
                        _backends_cpu(admin, options.database) - cpu
                    )
            for trigger in TRIGGERS:
                admin.execute(f"ALTER TABLE events ENABLE TRIGGER {trigger}")
        app.extensions["events_db_pool"].close()
    print(
        f"bulk of {options.events}, {options.singles} single writes, {options.rounds} rounds "
        f"each, alternating; load average {os.getloadavg()[0]:.2f} at the end"
    )
    for name in ("bulk_s", "bulk_db_cpu_s", "single_s", "single_db_cpu_s"):
        on, off = (statistics.median(figures[state][name]) for state in ("on", "off"))
        print(f"{name:16} triggers on {on:8.3f}  off {off:8.3f}  ratio {on / off:.2f}")


if __name__ == "__main__":
    main()
