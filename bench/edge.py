"""Benchmark the edge: ``python bench/edge.py``.

1. Slow and idle clients: normal GETs timed while 200 connections are held open idle,
   as slowloris header senders, or as slow body senders, then while 400 idle ones are;
   against bare gunicorn under the service's config (4 gthread workers x 4 threads, as
   today), the same with 64 threads per worker (the cheap alternative), and nginx
   (deploy/nginx) in front of the first.
2. What each layer costs per request (wrk, the targets alternated, medians of the
   rounds): GET /v1/events/{id} through nginx against bare gunicorn; with rate limiting
   counted in memory and in Redis against none; a page of 100 events gzip- and
   brotli-compressed against identity.

A database ``events_bench_edge`` on the server of DATABASE_URL (loopback only) is filled
with synthetic events and dropped at the end. Prints a table, writes JSON to
bench/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from bench import load, wrk
from bench.servers import NGINX_INSTALL_HINT, Gunicorn, Nginx
from bench.slow_clients import SlowClients, timed_gets
from service.http.rate_limits import STORE_TIMEOUT_SECONDS

RESULTS = Path(__file__).resolve().parent / "results"
UNLIMITED = {
    name: "100000000/minute"
    for name in ("RATE_LIMIT_ANONYMOUS", "RATE_LIMIT_READ", "RATE_LIMIT_WRITE")
}
# 200 connections of each kind; then 400 idle ones: more than the 256 threads of the
# 64-thread alternative, which holds a thread per connection too.
ATTACKS = {
    "idle": {"idle": 200},
    "slowloris": {"slow_headers": 200},
    "slow_body": {"slow_bodies": 200},
    "idle_400": {"idle": 400},
}


def slow_clients(targets: dict[str, tuple[str, int]], options) -> dict:
    """For each target (base URL, port): usual latency, then latency under each attack."""
    results = {}
    for name, (base, port) in targets.items():
        url = f"{base}/v1/events?limit=1"
        results[name] = {"usual": timed_gets(url, 10, options.timeout)}
        for attack, counts in ATTACKS.items():
            with SlowClients(port, **counts):
                results[name][attack] = timed_gets(url, options.requests, options.timeout)
        print(f"   {name}: {results[name]}", flush=True)
    return results


def paired(targets: dict[str, tuple[str, dict]], options) -> dict:
    """wrk on each (url, headers) in turn, ``rounds`` times; each one's median run."""
    runs: dict[str, list[dict]] = {name: [] for name in targets}
    for _ in range(options.rounds):
        for name, (url, headers) in targets.items():
            runs[name].append(
                wrk.run(url, options.duration, options.connections, options.threads, headers)
            )
    medians = {}
    for name, found in runs.items():
        medians[name] = sorted(found, key=lambda run: run["requests_per_s"])[len(found) // 2]
        medians[name]["p50_ms_rounds"] = [run["p50_ms"] for run in found]
        medians[name]["p50_ms_median"] = statistics.median(run["p50_ms"] for run in found)
    return medians


def limiter_cost(redis_url: str, count: int = 2000) -> dict:
    """Microseconds per request of the limiter's own work (a hit and the window's stats,
    as RateLimiter.check does), in process, per store: what the HTTP figures hide in their
    noise on a shared machine."""
    costs = {}
    for name, url, options in (
        ("memory", "memory://", {}),
        (
            "redis",
            redis_url,
            {"key_prefix": "events_bench_edge", "socket_timeout": STORE_TIMEOUT_SECONDS},
        ),
    ):
        limiter = SlidingWindowCounterRateLimiter(storage_from_string(url, **options))
        limit = parse("100000000/minute")
        started = time.perf_counter()
        for _ in range(count):
            limiter.hit(limit, "anonymous", "address:127.0.0.1")
            limiter.get_window_stats(limit, "anonymous", "address:127.0.0.1")
        costs[name] = (time.perf_counter() - started) / count * 1e6
    return costs


def _size(url: str, headers: dict) -> int:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as answer:
        return len(answer.read())


def measure(url: str, options) -> dict:
    """Every figure, on the database at ``url``."""
    logs = RESULTS / "gunicorn-edge.log"
    env = {"DATABASE_URL": url, "LOG_LEVEL": options.log_level} | UNLIMITED
    result: dict = {}
    with (
        Gunicorn("service:create_app()", "/readyz", logs, env) as service,
        Nginx(f"127.0.0.1:{service.port}") as proxy,
    ):
        print("== slow and idle clients", flush=True)
        with Gunicorn(
            "service:create_app()", "/readyz", logs, env | {"GUNICORN_THREADS": "64"}
        ) as threaded:
            result["slow_clients"] = slow_clients(
                {
                    "gunicorn 4x4 (bare)": (service.base, service.port),
                    "gunicorn 4x64 (bare)": (threaded.base, threaded.port),
                    "nginx + gunicorn 4x4": (proxy.base, proxy.port),
                },
                options,
            )

        event_id = json.load(urllib.request.urlopen(f"{service.base}/v1/events?limit=1"))["items"][
            0
        ]["id"]
        by_id = f"/v1/events/{event_id}"
        print("== proxy: GET by id through nginx vs bare gunicorn", flush=True)
        result["proxy"] = paired(
            {
                "bare gunicorn": (service.base + by_id, {}),
                "through nginx": (proxy.base + by_id, {}),
            },
            options,
        )

        print("== rate limiting: none / memory / Redis", flush=True)
        with (
            Gunicorn("bench.unlimited_app:create_app()", "/readyz", logs, env) as none,
            Gunicorn(
                "service:create_app()",
                "/readyz",
                logs,
                env
                | {
                    "RATE_LIMIT_STORAGE_URL": options.redis,
                    "RATE_LIMIT_KEY_PREFIX": "events_bench_edge",
                },
            ) as redis,
        ):
            result["rate_limits"] = paired(
                {
                    "off": (none.base + by_id, {}),
                    "memory": (service.base + by_id, {}),
                    "redis": (redis.base + by_id, {}),
                },
                options,
            )
        result["limiter_us"] = limiter_cost(options.redis)

        print("== compression: a page of 100 events", flush=True)
        page = f"{service.base}/v1/events?limit=100"
        codings = {
            "identity": {"Accept-Encoding": "identity"},
            "gzip": {"Accept-Encoding": "gzip"},
            "br": {"Accept-Encoding": "br"},
        }
        result["compression"] = paired(
            {name: (page, headers) for name, headers in codings.items()}, options
        )
        for name, headers in codings.items():
            result["compression"][name]["bytes"] = _size(page, headers)
    return result


def _ratio_lines(title: str, runs: dict, baseline: str) -> list[str]:
    base = runs[baseline]
    lines = [title]
    for name, run in runs.items():
        extra = f", {run['bytes']:,} bytes" if "bytes" in run else ""
        lines.append(
            f"  {name:<16} p50 {run['p50_ms_median']:6.2f} ms  {run['requests_per_s']:7.0f} "
            f"req/s  ({run['requests_per_s'] / base['requests_per_s']:.2f}x, "
            f"+{run['p50_ms_median'] - base['p50_ms_median']:.2f} ms p50 vs {baseline})"
            f"{extra}"
        )
    return lines


def report(result: dict) -> str:
    """The figures as plain text."""
    lines = [
        "slow and idle clients (200 connections; idle_400: 400): normal GET median / "
        "worst ms (failed of sent)"
    ]
    for name, found in result["slow_clients"].items():
        cells = [
            f"{attack} {r['median_ms']:.0f}/{r['max_ms']:.0f} ({r['failed']}/{r['count']})"
            for attack, r in found.items()
        ]
        lines.append(f"  {name:<22} " + "  ".join(cells))
    lines += _ratio_lines("proxy (GET by id)", result["proxy"], "bare gunicorn")
    lines += _ratio_lines("rate limiting (GET by id, anonymous)", result["rate_limits"], "off")
    lines.append(
        "  the limiter's own work per request, in process: "
        + ", ".join(f"{name} {us:.0f} µs" for name, us in result["limiter_us"].items())
    )
    lines += _ratio_lines("compression (page of 100 events)", result["compression"], "identity")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and report it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--database", default="events_bench_edge")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--requests", type=int, default=3, help="normal requests timed under each attack"
    )
    parser.add_argument("--timeout", type=float, default=5, help="seconds per normal request")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--log-level", default="WARNING")
    options = parser.parse_args(argv)
    wrk.require()
    if not Nginx.available():
        raise SystemExit(NGINX_INSTALL_HINT)
    server_url = load.server_url(options.database)
    RESULTS.mkdir(exist_ok=True)
    with load.scratch_database(server_url, options.database) as url:
        load.fill(url, options.events, progress=lambda line: None)
        result = measure(url, options)
    table = report(result)
    print("\n" + table)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"edge-{stamp}.json"
    path.write_text(
        json.dumps({"options": vars(options), "result": result, "table": table}, indent=2)
    )
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
