"""A mixed load at a fixed rate against gunicorn: reads by id, searches, creates and patches,
on a private primary; then the same load with DATABASE_READ_URL on its streaming replica.

    .venv/bin/python bench/mixed.py --rate 80 --duration 60 --events 10000

Requests start on a fixed schedule (open loop: a slow answer does not delay the next
request, and each latency counts from the scheduled start, so queueing shows in it). The
primary and the replica are made by bench/replication.py from pgserver's binaries and
filled with synthetic events by COPY (bench/load.py). For each run it prints errors, p50
and p99 by kind of request, and the CPU seconds each PostgreSQL server used: the primary's
share of the database CPU, and what fraction of a core it used. Writes JSON to
bench/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import EventFactory
from bench.load import fill
from bench.replication import PrimaryWithReplica, Server
from bench.restarts import UNLIMITED
from bench.servers import Gunicorn
from service import auth
from service.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "events_mixed"
# Share of each kind of request in the mix.
MIX = {"read": 0.4, "search": 0.3, "create": 0.15, "patch": 0.15}
SEARCHES = [
    "/v1/events?type=attack&limit=20",
    "/v1/events?country=UA&limit=20",
    "/v1/events?q=drone&limit=20&sort=-date",
    "/v1/events?date_from=2024-01&limit=20",
    "/v1/events/facets?type=meeting",
]


def postgres_cpu_seconds(server: Server) -> float:
    """CPU seconds used so far by the postmaster of ``server`` and its backends."""
    pid = int((server.data / "postmaster.pid").read_text().split()[0])
    postmaster = psutil.Process(pid)
    total = 0.0
    for process in [postmaster, *postmaster.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


class MixedLoad:
    """``rate`` requests a second for ``duration`` seconds, on a fixed schedule."""

    def __init__(
        self,
        base: str,
        authorization: str,
        ids: list[str],
        rate: float,
        duration: float,
        threads: int = 32,
        seed: int = 1,
    ):
        self.base, self.authorization, self.ids = base, authorization, ids
        self.rate, self.duration, self.threads = rate, duration, threads
        self.random = random.Random(seed)
        self.factory = EventFactory(seed=seed)
        self.results: list[tuple[str, float, str]] = []  # (kind, seconds, error or "")
        self._lock = threading.Lock()
        self._next = 0

    def _plan(self) -> list[tuple[float, str]]:
        count = int(self.rate * self.duration)
        kinds = self.random.choices(list(MIX), list(MIX.values()), k=count)
        return [(n / self.rate, kind) for n, kind in enumerate(kinds)]

    def run(self) -> None:
        self.plan = self._plan()
        self.start = time.monotonic() + 0.5
        workers = [threading.Thread(target=self._worker, daemon=True) for _ in range(self.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def _take(self) -> tuple[float, str] | None:
        with self._lock:
            if self._next >= len(self.plan):
                return None
            item = self.plan[self._next]
            self._next += 1
            return item

    def _worker(self) -> None:
        url = urllib.parse.urlsplit(self.base)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        while (item := self._take()) is not None:
            offset, kind = item
            due = self.start + offset
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            error = ""
            try:
                status, _ = self._send(conn, kind)
                if status >= 400:
                    error = f"status {status}"
            except (OSError, http.client.HTTPException) as exc:
                error = repr(exc)
                conn.close()
            with self._lock:
                self.results.append((kind, time.monotonic() - due, error))
        conn.close()

    def _send(self, conn, kind: str) -> tuple[int, bytes]:
        with self._lock:
            event_id = self.random.choice(self.ids)
            search = self.random.choice(SEARCHES)
            event = self.factory.event() if kind == "create" else None
        writer = {"Authorization": self.authorization}
        if kind == "read":
            conn.request("GET", f"/v1/events/{event_id}")
        elif kind == "search":
            conn.request("GET", search)
        elif kind == "create":
            conn.request(
                "POST",
                "/v1/events",
                body=json.dumps(event).encode(),
                headers=writer | {"Content-Type": "application/json"},
            )
        else:  # patch, without If-Match: concurrent patches of one event must not 412
            conn.request(
                "PATCH",
                f"/v1/events/{event_id}",
                body=json.dumps({"summary": f"Patched {time.time()}"}).encode(),
                headers=writer | {"Content-Type": "application/merge-patch+json"},
            )
        response = conn.getresponse()
        return response.status, response.read()

    def summary(self) -> dict:
        def percentiles(values: list[float]) -> dict:
            ordered = sorted(values)
            if not ordered:
                return {}
            return {
                "n": len(ordered),
                "p50_ms": round(statistics.median(ordered) * 1000, 1),
                "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
            }

        errors = [(kind, error) for kind, _, error in self.results if error]
        return {
            "requests": len(self.results),
            "errors": len(errors),
            "first_errors": errors[:5],
            "all": percentiles([seconds for _, seconds, _ in self.results]),
            **{kind: percentiles([s for k, s, _ in self.results if k == kind]) for kind in MIX},
        }


def run(
    pair: PrimaryWithReplica, url: str, key: str, ids: list[str], read_url: str | None, options
) -> dict:
    env = UNLIMITED | {
        "DATABASE_URL": url,
        "WEB_CONCURRENCY": str(options.workers),
        "SECRET_KEY": "bench",
        "DATABASE_POOL_MAX_SIZE": "8",
    }
    if read_url:
        env["DATABASE_READ_URL"] = read_url
    log = ROOT / "bench" / "results" / "mixed-gunicorn.log"
    with Gunicorn("service:create_app()", "/readyz", log, env) as server:
        # Warm every worker's pools (and the replica's) before the clock starts.
        MixedLoad(server.base, key, ids, rate=options.rate, duration=3).run()
        cpu = {
            "primary": postgres_cpu_seconds(pair.primary),
            "replica": postgres_cpu_seconds(pair.replica),
        }
        load = MixedLoad(server.base, key, ids, options.rate, options.duration)
        load.run()
        wall = time.monotonic() - load.start
        used = {
            name: postgres_cpu_seconds(server_) - cpu[name]
            for name, server_ in (("primary", pair.primary), ("replica", pair.replica))
        }
    result = load.summary()
    result["wall_s"] = round(wall, 1)
    result["achieved_rate"] = round(len(load.results) / wall, 1)
    result["cpu_seconds"] = {name: round(seconds, 1) for name, seconds in used.items()}
    result["primary_cores"] = round(used["primary"] / wall, 3)
    total = used["primary"] + used["replica"]
    result["primary_share_of_database_cpu"] = round(used["primary"] / total, 3) if total else None
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=80, help="requests per second")
    parser.add_argument("--duration", type=float, default=60, help="seconds per run")
    parser.add_argument("--events", type=int, default=10_000, help="events stored first")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    options = parser.parse_args(argv)
    results = {
        "rate": options.rate,
        "duration": options.duration,
        "events": options.events,
        "load_average_before": os.getloadavg(),
        "runs": {},
    }
    with PrimaryWithReplica() as pair:
        with psycopg.connect(pair.primary.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        url = pair.primary.url(DATABASE)
        with psycopg.connect(url) as conn:
            migrate(conn)
        print(f"filling {options.events:,} events …", flush=True)
        fill(url, options.events, progress=lambda _: None)
        prefix, key = auth.new_key()
        with psycopg.connect(url) as conn:
            conn.execute(
                "INSERT INTO api_keys (name, prefix, secret_hash, scopes)"
                " VALUES ('bench', %s, %s, %s)",
                (prefix, auth.key_digest(key), ["write"]),
            )
            ids = [
                str(row[0])
                for row in conn.execute("SELECT id FROM events ORDER BY random() LIMIT 2000")
            ]
        pair.wait_replayed(timeout=300)
        for name, read_url in (
            ("primary only", None),
            ("with replica", pair.replica.url(DATABASE)),
        ):
            print(f"run: {name} ({options.rate:g} req/s for {options.duration:g} s) …", flush=True)
            results["runs"][name] = run(pair, url, f"Bearer {key}", ids, read_url, options)
            print(json.dumps(results["runs"][name]), flush=True)
    results["load_average_after"] = os.getloadavg()
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"mixed-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
