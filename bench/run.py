"""Benchmark search at several table sizes: ``python bench/run.py --sizes 10000 1000000 3000000``.

For each size: a fresh database (``events_bench`` on the server of DATABASE_URL, dropped at
the end; with ``--keep``, ``events_bench_<size>``, kept and reused by later runs) is filled
with synthetic events; the service runs under gunicorn with its own
config; wrk measures each request beside the same SQL run straight through psycopg; an
export of every row is timed while the workers' memory is watched; and GET /v1/events/{id}
is set against a trivial Flask JSON endpoint under the same gunicorn config.
Prints a table and writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import imports, load, webhooks, wrk
from bench.floor import Floor, timed
from bench.servers import Gunicorn

RESULTS = Path(__file__).resolve().parent / "results"
MIB = 1024 * 1024
DEEP_PAGE = 500
# GET by id and the trivial endpoint are measured in alternation, this many times each,
# and the median run of each is kept: a ratio of two runs minutes apart would also
# measure whatever else the machine did in between (autovacuum, the page cache).
PAIRED_ROUNDS = 3
# The requests measured in alternation (their bars are ratios between them, not tails).
PAIRED = ("get_by_id", "hooks_only", "trivial")
# Each URL is loaded this long, unrecorded, before it is measured: the benchmark reports
# the steady state. The first requests after a load read cold pages (the name query's
# first run takes ~120 ms against ~20 ms warm at 1M), which once made a p99 8× its p95.
WARM_UP_S = 2
# The PostgreSQL settings a figure depends on, recorded with the results.
SETTINGS = (
    "server_version",
    "shared_buffers",
    "effective_cache_size",
    "work_mem",
    "jit",
    "max_parallel_workers_per_gather",
    "random_page_cost",
)

# name -> (path and query of GET /v1/events…, how its SQL floor is built)
SEARCHES = {
    "filtered": "type=attack&country=UA&date_from=2024-03&date_to=2024-05",
    # A name, by relevance: about 0.1% of the events match.
    "full_text": "q=" + urllib.parse.quote('"Sergey Lavrov"'),
    # Three of the commonest words, by relevance: every match (about 2%) is ranked.
    "full_text_broad": "q=" + urllib.parse.quote("drone attack Kharkiv"),
    "full_text_broad_by_date": "q=" + urllib.parse.quote("drone attack Kharkiv") + "&sort=-date",
    "page_1": "limit=20",
    # Within 25 km of Kharkiv, nearest first: every event placed there (about 1 in 30) is
    # inside the index's box and gets its exact distance computed and sorted.
    "near": "near=36.23,49.99,25",
    "near_by_date": "near=36.23,49.99,25&sort=-date",
}
FACETS = SEARCHES["filtered"]
# The aims of design.md §9 at the largest size.
BARS = {
    "filtered_p95_ms": 20,
    "full_text_p95_ms": 50,
    "facets_p95_ms": 25,
    "tail_ratio": 3.0,
    "deep_page_ratio": 1.1,
    "export_growth_mb": 50,
    "export_rows_per_s": 100_000,
    "get_vs_trivial": 0.7,
    # Cost from 1M to 3M events (design.md §9: no worse than log n).
    "growth_ratio": 1.5,
}

# Issue 20's aims (performance, round 2): a request's p95 at the size it names.
ROUND_2_AIMS = (
    # (label, request, size, bar in ms)
    ("facets p95 < 25 ms at 1M", "facets", 1_000_000, 25),
    ("facets p95 < 30 ms at 3M", "facets", 3_000_000, 30),
    ("near= nearest first p95 < 20 ms at 1M", "near", 1_000_000, 20),
    ("near= by date p95 < 20 ms at 1M", "near_by_date", 1_000_000, 20),
    ("broad full text by relevance p95 < 50 ms at 3M", "full_text_broad", 3_000_000, 50),
)
# ... and its growth aims from 1M to 3M (p95 at 3M / p95 at 1M).
ROUND_2_GROWTH = {"near": 1.2, "near_by_date": 1.2}
# The push and import aims the same report carries (design.md, the push and import issues).
IMPORT_AIMS = {"rows_per_s": 10_000, "rss_growth_mib": 100}
WEBHOOK_AIMS = {"lag_p50_ms": 100, "lag_p99_ms": 1000, "write_p50_ratio": 1.10}


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.load(answer)


def deep_cursor(base: str, query: str, pages: int) -> str:
    """The cursor of page ``pages``, reached by following next_cursor over HTTP."""
    cursor = None
    for _ in range(pages - 1):
        url = f"{base}/v1/events?{query}" + (f"&cursor={cursor}" if cursor else "")
        cursor = _get(url)["next_cursor"]
        if cursor is None:
            raise RuntimeError(f"fewer than {pages} pages for {query}")
    return cursor


def watch_memory(server: Gunicorn, stop: threading.Event, peaks: dict) -> None:
    """Record each worker's peak RSS until ``stop`` is set."""
    while not stop.is_set():
        for worker in server.workers():
            with contextlib.suppress(psutil.Error):  # a worker may be recycled meanwhile
                peaks[worker.pid] = max(peaks.get(worker.pid, 0), worker.memory_info().rss)
        time.sleep(0.05)


def export(server: Gunicorn, file_format: str, limit_s: int) -> dict:
    """Download a whole export; its time, size and the largest RSS growth of a worker."""
    before = {w.pid: w.memory_info().rss for w in server.workers()}
    peaks: dict = {}
    stop = threading.Event()
    watcher = threading.Thread(target=watch_memory, args=(server, stop, peaks), daemon=True)
    watcher.start()
    started = time.perf_counter()
    size = lines = 0
    try:
        with urllib.request.urlopen(
            f"{server.base}/v1/events/export?format={file_format}", timeout=60
        ) as answer:
            while chunk := answer.read(MIB):
                size += len(chunk)
                lines += chunk.count(b"\n")
                if time.perf_counter() - started > limit_s:
                    raise TimeoutError(f"export took over {limit_s} s")
    finally:
        elapsed = time.perf_counter() - started
        stop.set()
        watcher.join()
    growth = max((peaks.get(pid, rss) - rss for pid, rss in before.items()), default=0)
    return {"seconds": elapsed, "bytes": size, "lines": lines, "worker_rss_growth_mb": growth / MIB}


def measured(url: str, options) -> dict:
    """wrk on ``url`` after an unrecorded warm-up."""
    wrk.run(url, WARM_UP_S, options.connections, options.threads)
    return wrk.run(url, options.duration, options.connections, options.threads)


def machine(url: str) -> dict:
    """What the figures ran on: CPUs, memory, load before the run, PostgreSQL settings."""
    with psycopg.connect(url) as conn:
        settings = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in SETTINGS}
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "load_average_1m": os.getloadavg()[0],
        "python": sys.version.split()[0],
        "postgresql": settings,
    }


def paired_runs(targets: dict[str, str], options) -> dict[str, dict]:
    """wrk on each target in turn, PAIRED_ROUNDS times; the median run (by req/s) of each."""
    runs: dict[str, list[dict]] = {name: [] for name in targets}
    for _ in range(PAIRED_ROUNDS):
        for name, target in targets.items():
            runs[name].append(measured(target, options))
    return {
        name: sorted(found, key=lambda run: run["requests_per_s"])[len(found) // 2]
        for name, found in runs.items()
    }


def measure(size: int, options, server_url: str) -> dict:
    """Every figure at one table size."""
    result: dict = {"size": size, "http": {}, "sql": {}, "export": {}}
    print(f"\n== {size:,} events: loading", flush=True)
    progress = (lambda line: print(line, flush=True)) if options.verbose else (lambda _: None)
    if options.keep:
        database = f"{options.database}_{size}"
        url, result["load_seconds"] = load.kept(server_url, database, size, progress=progress)
    else:
        database = options.database
        url = load.create(server_url, database)
        result["load_seconds"] = load.fill(url, size, progress=progress)
    try:
        if result["load_seconds"] is None:
            print(f"   reusing {database}, loaded by an earlier run (--keep)", flush=True)
        else:
            print(
                f"   loaded in {result['load_seconds']:.0f} s"
                f" ({size / result['load_seconds']:,.0f} events/s)",
                flush=True,
            )
        with psycopg.connect(url, autocommit=True) as conn:
            # Write the load's dirty pages now, not in a checkpoint during the measuring.
            conn.execute("CHECKPOINT")
        result["machine"] = machine(url)
        logs = RESULTS / f"gunicorn-{size}.log"
        # The benchmark measures the service, not its rate limits: wrk would pass them
        # in seconds from one address.
        env = {
            "DATABASE_URL": url,
            "LOG_LEVEL": options.log_level,
            "RATE_LIMIT_ANONYMOUS": "100000000/minute",
            "RATE_LIMIT_READ": "100000000/minute",
            "RATE_LIMIT_WRITE": "100000000/minute",
        }
        with (
            Gunicorn("service:create_app()", "/readyz", logs, env) as service,
            Gunicorn("bench.trivial_app:create_app()", "/ping", logs, env) as trivial,
        ):
            floor = Floor(url)
            try:
                urls = {
                    name: f"{service.base}/v1/events?{query}" for name, query in SEARCHES.items()
                }
                cursor = deep_cursor(service.base, SEARCHES["page_1"], DEEP_PAGE)
                urls[f"page_{DEEP_PAGE}"] = f"{urls['page_1']}&cursor={cursor}"
                urls["facets"] = f"{service.base}/v1/events/facets?{FACETS}"
                event_id = _get(urls["page_1"])["items"][0]["id"]
                floors = {name: floor.page(query) for name, query in SEARCHES.items()}
                floors[f"page_{DEEP_PAGE}"] = floor.page(SEARCHES["page_1"], DEEP_PAGE)
                floors["facets"] = floor.facets(FACETS)
                floors["get_by_id"] = floor.event(uuid.UUID(event_id))
                for name, target in urls.items():
                    print(f"   {name}", flush=True)
                    result["http"][name] = measured(target, options)
                    result["sql"][name] = timed(floors[name])
                print("   get_by_id, the service's hooks alone, trivial: alternately", flush=True)
                result["http"].update(
                    paired_runs(
                        {
                            "get_by_id": f"{service.base}/v1/events/{event_id}",
                            # Every hook GET by id runs (request id, rate limit, access
                            # log, metrics, headers), no database: what the hooks cost
                            # apart from the read.
                            "hooks_only": f"{service.base}/healthz",
                            "trivial": f"{trivial.base}/ping",
                        },
                        options,
                    )
                )
                result["sql"]["get_by_id"] = timed(floors["get_by_id"])
                # The table is read once, unrecorded, first: the first format exported
                # would otherwise also pay for reading it from disk (NDJSON of 1M: 27 s
                # cold, 9.6 s warm, one after the other), whichever format that is.
                floor.export()
                for file_format in options.formats:
                    print(f"   export {file_format}", flush=True)
                    result["export"][file_format] = export(
                        service, file_format, options.export_limit
                    )
                seconds, rows = floor.export()
                result["export"]["sql"] = {"seconds": seconds, "rows": rows}
            finally:
                floor.close()
    finally:
        if not options.keep:
            load.drop(server_url, database)
    return result


def _row(cells, widths) -> str:
    return "  ".join(str(cell).rjust(width) for cell, width in zip(cells, widths, strict=True))


def report(results: list[dict], extras: dict | None = None) -> str:
    """The results as a plain-text table, with the bars."""
    lines = []
    widths = (10, 24, 8, 8, 8, 8, 8, 8, 8, 9)
    lines.append(
        _row(
            (
                "events",
                "request",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "req/s",
                "SQL p50",
                "SQL p95",
                "SQL p99",
                "HTTP/SQL",
            ),
            widths,
        )
    )
    for result in results:
        for name, http in result["http"].items():
            sql = result["sql"].get(name)
            lines.append(
                _row(
                    (
                        f"{result['size']:,}",
                        name,
                        f"{http['p50_ms']:.2f}",
                        f"{http['p95_ms']:.2f}",
                        f"{http['p99_ms']:.2f}",
                        f"{http['requests_per_s']:.0f}",
                        *(
                            (
                                f"{sql['p50_ms']:.2f}",
                                f"{sql['p95_ms']:.2f}",
                                f"{sql['p99_ms']:.2f}",
                                f"{http['p50_ms'] / sql['p50_ms']:.1f}x",
                            )
                            if sql
                            else ("-",) * 4
                        ),
                    ),
                    widths,
                )
            )
    lines.append("")
    for result in results:
        http, size = result["http"], f"{result['size']:,}"
        deep, first = http[f"page_{DEEP_PAGE}"], http["page_1"]
        deep_sql, first_sql = result["sql"][f"page_{DEEP_PAGE}"], result["sql"]["page_1"]
        lines.append(
            f"{size}: page {DEEP_PAGE} / page 1: "
            f"p50 {deep['p50_ms'] / first['p50_ms']:.2f}x, "
            f"p95 {deep['p95_ms'] / first['p95_ms']:.2f}x; "
            f"SQL p50 {deep_sql['p50_ms'] / first_sql['p50_ms']:.2f}x"
        )
        by_id, trivial = http["get_by_id"]["requests_per_s"], http["trivial"]["requests_per_s"]
        hooks = http["hooks_only"]["requests_per_s"]
        lines.append(
            f"{size}: GET /v1/events/{{id}} {by_id:.0f} req/s vs trivial endpoint "
            f"{trivial:.0f} req/s = {by_id / trivial:.2f}; the service's hooks alone "
            f"(/healthz) {hooks:.0f} req/s = {hooks / trivial:.2f}"
        )
        for file_format, figures in result["export"].items():
            if file_format == "sql":
                lines.append(
                    f"{size}: export SQL floor: {figures['rows']:,} rows in "
                    f"{figures['seconds']:.1f} s"
                )
                continue
            lines.append(
                f"{size}: export {file_format}: {figures['bytes'] / MIB:.0f} MiB in "
                f"{figures['seconds']:.1f} s, "
                f"worker RSS +{figures['worker_rss_growth_mb']:.1f} MiB"
            )
        if result["load_seconds"] is None:
            lines.append(f"{size}: reused a kept database (--keep): not loaded by this run")
        else:
            lines.append(
                f"{size}: loaded in {result['load_seconds']:.0f} s "
                f"({result['size'] / result['load_seconds']:,.0f} events/s)"
            )
        if "machine" in result:
            ran_on = result["machine"]
            settings = ", ".join(f"{k} {v}" for k, v in ran_on["postgresql"].items())
            lines.append(
                f"{size}: ran on {ran_on['cpus']} CPUs, {ran_on['memory_gib']} GiB, load "
                f"average {ran_on['load_average_1m']:.2f} before; PostgreSQL {settings}"
            )
        errors = sum(h["non_2xx"] + h["socket_errors"] for h in http.values())
        lines.append(f"{size}: non-2xx or socket errors under load: {errors}")
    largest = max(results, key=lambda r: r["size"])
    lines.append("")
    lines.append(f"Bars at {largest['size']:,} events:")
    http = largest["http"]
    full_text = BARS["full_text_p95_ms"]
    checks = [
        (
            f"filtered p95 < {BARS['filtered_p95_ms']} ms",
            http["filtered"]["p95_ms"],
            BARS["filtered_p95_ms"],
            "<",
        ),
        (f"full-text p95 < {full_text} ms", http["full_text"]["p95_ms"], full_text, "<"),
        (
            f"full-text p95 < {full_text} ms, broad query by relevance",
            http["full_text_broad"]["p95_ms"],
            full_text,
            "<",
        ),
        (
            f"full-text p95 < {full_text} ms, broad query by date",
            http["full_text_broad_by_date"]["p95_ms"],
            full_text,
            "<",
        ),
        (f"near= p95 < {full_text} ms, nearest first", http["near"]["p95_ms"], full_text, "<"),
        (f"near= p95 < {full_text} ms, by date", http["near_by_date"]["p95_ms"], full_text, "<"),
        (
            f"facets p95 < {BARS['facets_p95_ms']} ms",
            http["facets"]["p95_ms"],
            BARS["facets_p95_ms"],
            "<",
        ),
        (
            f"page {DEEP_PAGE} p50 within {BARS['deep_page_ratio']}x of page 1",
            http[f"page_{DEEP_PAGE}"]["p50_ms"] / http["page_1"]["p50_ms"],
            BARS["deep_page_ratio"],
            "<=",
        ),
        (
            f"GET by id >= {BARS['get_vs_trivial']}x trivial req/s",
            http["get_by_id"]["requests_per_s"] / http["trivial"]["requests_per_s"],
            BARS["get_vs_trivial"],
            ">=",
        ),
    ]
    checks += [
        (
            f"{name} p99 within {BARS['tail_ratio']}x p95",
            figures["p99_ms"] / figures["p95_ms"],
            BARS["tail_ratio"],
            "<=",
        )
        for name, figures in http.items()
        if name not in PAIRED
    ]
    checks += [
        (
            f"export {f} worker growth < {BARS['export_growth_mb']} MiB",
            e["worker_rss_growth_mb"],
            BARS["export_growth_mb"],
            "<",
        )
        for f, e in largest["export"].items()
        if f != "sql"
    ]
    checks += [
        (
            f"export {f} >= {BARS['export_rows_per_s']:,} rows/s",
            e["lines"] / e["seconds"],
            BARS["export_rows_per_s"],
            ">=",
        )
        for f, e in largest["export"].items()
        if f not in ("sql", "geojson")
    ]
    checks += growth_checks(results)
    lines += checked(checks)
    lines += ["", "Issue 20's aims (performance, round 2):", *checked(round_2_checks(results))]
    if extras:
        lines += ["", "Import and push:", *checked(push_and_import_checks(extras))]
    return "\n".join(lines)


def growth_checks(results: list[dict]) -> list[tuple]:
    """From the second largest size to the largest: each query's p95 within the growth bar
    (the broad relevance query excepted: it ranks every title match, which grow with n)."""
    if len(results) < 2:
        return []
    smaller, larger = sorted(results, key=lambda r: r["size"])[-2:]
    factor = larger["size"] / smaller["size"]
    return [
        (
            f"{name} p95 from {smaller['size']:,} to {larger['size']:,} events "
            f"({factor:.0f}x the rows) within {BARS['growth_ratio']}x "
            f"(p50 {figures['p50_ms'] / smaller['http'][name]['p50_ms']:.2f}x)",
            figures["p95_ms"] / smaller["http"][name]["p95_ms"],
            BARS["growth_ratio"],
            "<=",
        )
        for name, figures in larger["http"].items()
        if name not in (*PAIRED, "full_text_broad") and name in smaller["http"]
    ]


def round_2_checks(results: list[dict]) -> list[tuple]:
    """Issue 20's aims, for the sizes this run measured: (label, value, bar, op)."""
    by_size = {result["size"]: result["http"] for result in results}
    checks = [
        (label, by_size[size][name]["p95_ms"], bar, "<")
        for label, name, size, bar in ROUND_2_AIMS
        if size in by_size
    ]
    if 1_000_000 in by_size and 3_000_000 in by_size:
        small, large = by_size[1_000_000], by_size[3_000_000]
        checks += [
            (
                f"{name} p95 growth from 1M to 3M <= {bar}x",
                large[name]["p95_ms"] / small[name]["p95_ms"],
                bar,
                "<=",
            )
            for name, bar in ROUND_2_GROWTH.items()
        ]
    checks += [
        (
            f"GET by id >= {BARS['get_vs_trivial']}x trivial req/s at {size:,} "
            f"(the service's hooks alone: "
            f"{http['hooks_only']['requests_per_s'] / http['trivial']['requests_per_s']:.2f}x)",
            http["get_by_id"]["requests_per_s"] / http["trivial"]["requests_per_s"],
            BARS["get_vs_trivial"],
            ">=",
        )
        for size, http in by_size.items()
        if size in (1_000_000, 3_000_000) and "hooks_only" in http
    ]
    return checks


def push_and_import_checks(extras: dict) -> list[tuple]:
    """The import's and the webhooks' aims, for those this run measured."""
    checks = []
    for jobs, run in extras.get("imports", {}).get("by_jobs", {}).items():
        checks += [
            (
                f"UCDP GED import --jobs {jobs} >= {IMPORT_AIMS['rows_per_s']:,} rows/s",
                run["import_rows_per_s"],
                IMPORT_AIMS["rows_per_s"],
                ">=",
            ),
            (
                f"UCDP GED import --jobs {jobs} memory growth "
                f"< {IMPORT_AIMS['rss_growth_mib']} MiB",
                run["import_rss_growth_mib"],
                IMPORT_AIMS["rss_growth_mib"],
                "<",
            ),
        ]
    pushed = extras.get("webhooks")
    if pushed:
        checks += [
            (
                f"webhooks: every change delivered once ({pushed['received']:,} received, "
                f"{pushed['duplicates']} twice, of {pushed['expected']:,})",
                pushed["received"] - pushed["duplicates"] - pushed["expected"],
                0,
                "==",
            ),
            *(
                (
                    f"webhook lag {p} < {WEBHOOK_AIMS[f'lag_{p}_ms']:,} ms",
                    pushed[f"lag_{p}_ms"],
                    WEBHOOK_AIMS[f"lag_{p}_ms"],
                    "<",
                )
                for p in ("p50", "p99")
            ),
            (
                f"write p50 with the deliverer running < {WEBHOOK_AIMS['write_p50_ratio']}x "
                "without",
                pushed["write_p50_ratio"],
                WEBHOOK_AIMS["write_p50_ratio"],
                "<",
            ),
        ]
    return checks


def checked(checks: list[tuple]) -> list[str]:
    """Each check as a line, MET or MISSED."""
    compare = {
        "<": lambda value, bar: value < bar,
        "<=": lambda value, bar: value <= bar,
        ">=": lambda value, bar: value >= bar,
        "==": lambda value, bar: value == bar,
    }
    return [
        f"  {'MET   ' if compare[op](value, bar) else 'MISSED'} {label}: {value:.2f}"
        for label, value, bar, op in checks
    ]


def measure_push_and_import(options: argparse.Namespace, server_url: str) -> dict:
    """bench/imports.py and bench/webhooks.py, as asked (--import-rows, --webhook-changes),
    each on its own scratch database, with the load average each started under."""
    asked = (
        ("imports", imports, "--rows", options.import_rows),
        ("webhooks", webhooks, "--changes", options.webhook_changes),
    )
    extras = {}
    for name, benchmark, option, count in asked:
        if not count:
            continue
        given = benchmark.parse([option, str(count)])
        started = os.getloadavg()
        with load.scratch_database(server_url, given.database) as url:
            extras[name] = benchmark.measure(url, given) | {"load_average_before": started}
    return extras


def latest_result() -> Path | None:
    """The newest results file of an earlier run, if any."""
    found = sorted(RESULTS.glob("bench-*.json"))
    return found[-1] if found else None


def changes(before: list[dict], after: list[dict]) -> str:
    """Each figure of a size both runs measured: before -> after, and the ratio."""
    lines = []
    earlier = {result["size"]: result for result in before}
    for result in after:
        old = earlier.get(result["size"])
        if old is None:
            continue
        size = f"{result['size']:,}"
        for name, http in result["http"].items():
            was = old["http"].get(name)
            if was is None:
                continue
            lines.append(
                f"{size:>10} {name:<24} p95 {was['p95_ms']:8.2f} -> {http['p95_ms']:8.2f} ms"
                f" ({http['p95_ms'] / was['p95_ms']:.2f}x)   req/s {was['requests_per_s']:8.0f}"
                f" -> {http['requests_per_s']:8.0f} "
                f"({http['requests_per_s'] / was['requests_per_s']:.2f}x)"
            )
        for file_format, figures in result["export"].items():
            was = old["export"].get(file_format)
            if was is not None:
                lines.append(
                    f"{size:>10} export {file_format:<17} {was['seconds']:8.1f} -> "
                    f"{figures['seconds']:8.1f} s "
                    f"({figures['seconds'] / was['seconds']:.2f}x)"
                )
    return "\n".join(lines) or "(no size in common)"


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--formats", nargs="+", default=["ndjson", "csv", "geojson"])
    parser.add_argument(
        "--export-limit",
        type=int,
        default=600,
        help="seconds an export may take before it counts as failed",
    )
    parser.add_argument("--database", default="events_bench")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep each size's database (<database>_<size>) for later runs, and reuse one a "
        "finished load of the same size, seed and migrations left (no reload)",
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("LOG_LEVEL", "INFO"),
        help="the service's LOG_LEVEL (default: as configured, INFO: "
        "a JSON access line per request)",
    )
    parser.add_argument(
        "--import-rows",
        type=int,
        default=0,
        help="also measure the UCDP GED import of this many rows (bench/imports.py) into "
        "the same report (0: not)",
    )
    parser.add_argument(
        "--webhook-changes",
        type=int,
        default=0,
        help="also measure webhook delivery with this many changes a phase "
        "(bench/webhooks.py) into the same report (0: not)",
    )
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--compare",
        type=Path,
        default=None,
        help="a results file to print the change from (default: the newest in bench/results/)",
    )
    options = parser.parse_args(argv)
    wrk.require()
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        raise SystemExit(
            "Set DATABASE_URL to a PostgreSQL server on 127.0.0.1 (its "
            f"{options.database} database is created and dropped)."
        )
    load.database_url(server_url, options.database)  # refuses before doing anything
    RESULTS.mkdir(exist_ok=True)
    results = [measure(size, options, server_url) for size in options.sizes]
    extras = measure_push_and_import(options, server_url)
    table = report(results, extras)
    print("\n" + table)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    previous = options.compare or latest_result()
    path = RESULTS / f"bench-{stamp}.json"
    path.write_text(
        json.dumps(
            {"options": vars(options), "results": results, **extras, "table": table},
            indent=2,
            default=str,
        )
    )
    print(f"\nwritten: {path}")
    if previous is not None:
        print(
            f"\nChange from {previous.name}:\n"
            + changes(json.loads(previous.read_text())["results"], results)
        )


if __name__ == "__main__":
    main()
