"""Benchmark the UCDP GED import: ``python bench/imports.py --rows 1000000``.

On a fresh database (``events_bench_import`` on the server of DATABASE_URL, dropped at the
end) it writes a GED-shaped CSV of ``--rows`` rows (every column of a release, values
varied as a release varies them: conflicts, actors, places, date and place precisions,
one to three sources) and measures, in the same run:

- the floor: the same file COPYed (``COPY … FROM STDIN (FORMAT csv)``) into a table of
  its own columns, no index: the cost of getting its bytes into PostgreSQL at all;
- the import end to end: ``flask --app service import ucdp-ged FILE --jobs N`` (file → validated,
  stored, searchable events), as rows/s and as a share of the floor, with the peak
  growth of the importing process's memory (RSS sampled every 0.2 s, against its RSS
  after the first batch);
- the same file again (every row unchanged: nothing written);
- for each, the CPU time it took (the importing process, its validating processes and the
  database's backends serving it) and the rate that would give if every core were the
  import's: on a shared machine the wall clock measures the neighbours too.

``--jobs 1 2`` measures the import with each number of validating processes, in turn
within each round (so both meet the same neighbours). Each figure is one run
(``--rounds`` for more; the median is kept). Prints a table and writes JSON to
bench/results/ (bench/session.py: the scratch database and the results file).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import psycopg
from psycopg import conninfo, sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import session  # noqa: E402
from bench.session import backends, cpu_seconds  # noqa: E402
from service.imports.ucdp_ged import RELEASE_COLUMNS, REQUIRED_COLUMNS  # noqa: E402

MIB = 1024 * 1024
HEADER = list(RELEASE_COLUMNS)
# (GW number, country name, a region, a point) of the countries most GED events are in.
COUNTRIES = [
    (369, "Ukraine", "Donetsk oblast", 48.0, 37.8),
    (652, "Syria", "Aleppo governorate", 36.2, 37.1),
    (700, "Afghanistan", "Helmand province", 31.6, 64.4),
    (645, "Iraq", "Ninawa governorate", 36.3, 43.1),
    (490, "DR Congo (Zaire)", "Nord-Kivu province", -0.9, 29.2),
    (475, "Nigeria", "Borno state", 11.8, 13.1),
    (520, "Somalia", "Banaadir region", 2.0, 45.3),
    (775, "Myanmar (Burma)", "Sagaing region", 22.0, 95.5),
]
OFFICES = ["Reuters", "AFP", "BBC Monitoring", "Associated Press", "Xinhua", "Al Jazeera"]


def ged_row(number: int, rng: random.Random) -> dict:
    gw, country, region, lat, lon = COUNTRIES[number % len(COUNTRIES)]
    violence = rng.choice((1, 1, 2, 3))
    conflict = 10_000 + number % 500
    # UCDP's actor ids: a government's is its own; an armed group's, one of many.
    side_a_id = gw if violence == 1 else 1000 + number % 300
    side_b_id = 1 if violence == 3 else 2000 + number % 700
    side_a = f"Government of {country}" if violence == 1 else f"Armed group {side_a_id}"
    side_b = "Civilians" if violence == 3 else f"Armed group {side_b_id}"
    start = dt.date(1989, 1, 1) + dt.timedelta(days=number % 12_000)
    date_prec = rng.choice((1, 1, 1, 2, 3, 4, 5))
    end = start + dt.timedelta(days={1: 0, 2: 3, 3: 6, 4: 20, 5: 90}[date_prec])
    sources = rng.randint(1, 3)
    offices = rng.sample(OFFICES, sources)
    best = rng.randint(1, 60)
    low, high = max(0, best - rng.randint(0, 5)), best + rng.randint(0, 10)
    deaths_a, deaths_b = rng.randint(0, best // 3), rng.randint(0, best // 3)
    place = f"{region.split()[0]} village {number % 2_000}"
    point_lat, point_lon = lat + rng.uniform(-1, 1), lon + rng.uniform(-1, 1)
    return {
        "id": str(number),
        "relid": f"R{number}",
        "year": str(start.year),
        "active_year": "1",
        "code_status": "Clear",
        "type_of_violence": str(violence),
        "conflict_dset_id": str(conflict),
        "conflict_new_id": str(conflict),
        "conflict_name": f"{country}: conflict {conflict}",
        "dyad_dset_id": str(conflict * 10),
        "dyad_new_id": str(conflict * 10),
        "dyad_name": f"{side_a} - {side_b}",
        "side_a_dset_id": str(side_a_id),
        "side_a_new_id": str(side_a_id),
        "side_a": side_a,
        "side_b_dset_id": str(side_b_id),
        "side_b_new_id": str(side_b_id),
        "side_b": side_b,
        "number_of_sources": str(sources),
        "source_article": "; ".join(f'"{office},{start},Fighting reported"' for office in offices),
        "source_office": ";".join(offices),
        "source_date": ";".join(str(start + dt.timedelta(days=i)) for i in range(sources)),
        "source_headline": ";".join(f"Fighting near {place}" for _ in offices),
        "source_original": rng.choice(("Local officials", "Police;Residents", "Military")),
        "where_prec": str(rng.choice((1, 1, 2, 3, 4, 6))),
        "where_coordinates": place,
        "where_description": f"near {place}",
        "adm_1": region,
        "adm_2": f"district {number % 90}",
        "latitude": f"{point_lat:.4f}",
        "longitude": f"{point_lon:.4f}",
        "geom_wkt": f"POINT ({point_lon:.4f} {point_lat:.4f})",
        "priogrid_gid": str(100_000 + number % 50_000),
        "country": country,
        "country_id": str(gw),
        "region": "Asia",
        "event_clarity": rng.choice(("1", "1", "2")),
        "date_prec": str(date_prec),
        "date_start": f"{start} 00:00:00.000",
        "date_end": f"{end} 00:00:00.000",
        "deaths_a": str(deaths_a),
        "deaths_b": str(deaths_b),
        "deaths_civilians": str(best - deaths_a - deaths_b),
        "deaths_unknown": "0",
        "best": str(best),
        "high": str(high),
        "low": str(low),
        "gwnoa": str(gw) if violence == 1 else "",
        "gwnob": "",
    }


def write_file(path: Path, rows: int, seed: int = 2025) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, HEADER)
        writer.writeheader()
        for number in range(1, rows + 1):
            writer.writerow(ged_row(number, rng))


def copy_floor(url: str, path: Path) -> float:
    """Seconds to COPY the file into a table of its own (text) columns, no index."""
    with psycopg.connect(url, autocommit=True) as conn:
        columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in HEADER)
        conn.execute("DROP TABLE IF EXISTS ged_floor")
        conn.execute(sql.SQL("CREATE TABLE ged_floor ({})").format(columns))
        started = time.perf_counter()
        copy_sql = "COPY ged_floor FROM STDIN (FORMAT csv, HEADER true)"
        with conn.cursor().copy(copy_sql) as copy, path.open("rb") as file:
            while chunk := file.read(1 << 20):
                copy.write(chunk)
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE ged_floor")
    return elapsed


class RssWatch:
    """The peak RSS of a process, sampled every 0.2 s, and its RSS at a chosen moment;
    with it, the CPU time of the process and its children (the validating processes)."""

    def __init__(self, pid: int):
        self.process = psutil.Process(pid)
        self.samples: list[tuple[float, int]] = []
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.samples.append((time.perf_counter(), self.process.memory_info().rss))
                for process in [self.process, *self.process.children(recursive=True)]:
                    times = process.cpu_times()
                    self.cpu[process.pid] = times.user + times.system
            except psutil.Error:
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def backend_cpu(database: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving ``database``."""
    return sum(cpu_seconds(process) for process in backends(database))


def run_import(url: str, path: Path, jobs: int) -> dict:
    env = {**os.environ, "DATABASE_URL": url, "DEVELOPMENT": "true", "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "flask", "--app", "service", "import", "ucdp-ged"]
    command += ["--jobs", str(jobs)]
    database = conninfo.conninfo_to_dict(url)["dbname"]
    # The import's backends live as long as its pool: sampled while it runs, by pid.
    seen_backends: dict[int, float] = {}
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, str(path), "--json"], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    watch = RssWatch(process.pid)
    # Its output is read by a thread: the summary is larger than a pipe holds, and the
    # backends are sampled here meanwhile.
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.append(process.stdout.read()))
    reader.start()
    while process.poll() is None:
        for backend in backends(database):
            seen_backends[backend.pid] = cpu_seconds(backend) or seen_backends.get(backend.pid, 0)
        time.sleep(0.2)
    reader.join()
    elapsed = time.perf_counter() - started
    watch.stop()
    output = output[0]
    summary = json.loads(output)
    # The baseline: RSS once the first batches are through (imports, pool, schemas loaded).
    after_start = [rss for moment, rss in watch.samples if moment - started >= 3.0]
    baseline = after_start[0] if after_start else watch.samples[0][1]
    peak = max(rss for _, rss in watch.samples)
    return {
        "seconds": elapsed,
        "summary": {k: v for k, v in summary.items() if not k.endswith("_rows")},
        "rss_baseline_mib": baseline / MIB,
        "rss_peak_mib": peak / MIB,
        "rss_growth_mib": (peak - baseline) / MIB,
        # CPU seconds: the importing process and its validating processes (sampled up to
        # 0.2 s before they ended), and the database's backends serving it.
        "import_cpu_s": sum(watch.cpu.values()),
        "database_cpu_s": sum(seen_backends.values()),
    }


def empty_store(url: str) -> None:
    """No events and no registry actors: each first import starts from nothing."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE events, event_revisions, actors, actor_aliases, actor_identifiers CASCADE"
        )


def measure(url: str, options) -> dict:
    """The file, then per round the floor and, for each --jobs value in turn (so the
    values alternate under the same load), an import into an empty store and again."""
    floors: list[float] = []
    runs: dict[int, tuple[list, list]] = {jobs: ([], []) for jobs in options.jobs}
    with tempfile.TemporaryDirectory(prefix="events-bench-import-") as folder:
        path = Path(folder) / "ged.csv"
        started = time.perf_counter()
        write_file(path, options.rows)
        print(f"wrote {options.rows:,} rows ({path.stat().st_size / MIB:,.0f} MiB) in "
              f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
        assert set(REQUIRED_COLUMNS) <= set(HEADER)
        for _ in range(options.rounds):
            floors.append(copy_floor(url, path))
            for jobs, (firsts, agains) in runs.items():
                empty_store(url)
                firsts.append(run_import(url, path, jobs))
                agains.append(run_import(url, path, jobs))
                print(f"--jobs {jobs}: {firsts[-1]['seconds']:.1f} s, again "
                      f"{agains[-1]['seconds']:.1f} s", flush=True)  # fmt: skip
    return {
        "rows": options.rows,
        "rounds": options.rounds,
        "copy_floor_rows_per_s": options.rows / statistics.median(floors),
        "by_jobs": {
            str(jobs): figures(options.rows, statistics.median(floors), firsts, agains)
            for jobs, (firsts, agains) in runs.items()
        },
        "aim_rows_per_s": 10_000,
        "aim_rss_growth_mib": 100,
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The options of this benchmark (bench/run.py's --import-rows passes its own)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--jobs", type=int, nargs="+", default=[1], help="the import's --jobs; several alternate"
    )
    parser.add_argument("--database", default="events_bench_import")
    return parser.parse_args(argv)


def main() -> None:
    options = parse()
    session.run(
        "imports", options.database, lambda url: measure(url, options), table, vars(options)
    )


def figures(rows: int, floor: float, firsts: list[dict], agains: list[dict]) -> dict:
    """One --jobs value's medians: rows/s, share of the floor, CPU per row, memory."""
    first = statistics.median(run["seconds"] for run in firsts)
    again = statistics.median(run["seconds"] for run in agains)
    cpu = statistics.median(run["import_cpu_s"] + run["database_cpu_s"] for run in firsts)
    cpu_again = statistics.median(run["import_cpu_s"] + run["database_cpu_s"] for run in agains)
    cores = os.cpu_count() or 1
    return {
        "import_rows_per_s": rows / first,
        "import_share_of_floor": floor / first,
        "reimport_rows_per_s": rows / again,
        "import_rss_growth_mib": statistics.median(run["rss_growth_mib"] for run in firsts),
        "import_cpu_us_per_row": cpu / rows * 1e6,
        "import_database_cpu_us_per_row": statistics.median(run["database_cpu_s"] for run in firsts)
        / rows
        * 1e6,
        "import_rows_per_s_if_cores_idle": cores * rows / cpu,
        "reimport_cpu_us_per_row": cpu_again / rows * 1e6,
        "reimport_rows_per_s_if_cores_idle": cores * rows / cpu_again,
        "first_runs": firsts,
        "again_runs": agains,
    }


def table(result: dict) -> str:
    """The figures as text, one block per --jobs value, each aim MET or MISSED."""
    rows = result["rows"]
    lines = [f"{'rows':>22}: {rows:,}", f"{'COPY floor':>22}: "
             f"{result['copy_floor_rows_per_s']:>10,.0f} rows/s"]  # fmt: skip
    for jobs, run in result["by_jobs"].items():
        rate = run["import_rows_per_s"]
        growth = run["import_rss_growth_mib"]
        lines += [
            f"--jobs {jobs}",
            f"{'import':>22}: {rate:>10,.0f} rows/s ({run['import_share_of_floor']:.3f} of the "
            f"floor) — aim 10,000: {'MET' if rate >= 10_000 else 'MISSED'}",
            f"{'re-import (unchanged)':>22}: {run['reimport_rows_per_s']:>10,.0f} rows/s",
            f"{'CPU per row':>22}: {run['import_cpu_us_per_row']:>10,.0f} µs (of which the "
            f"database {run['import_database_cpu_us_per_row']:,.0f}), "
            f"{run['import_rows_per_s_if_cores_idle']:,.0f} rows/s on idle cores; again: "
            f"{run['reimport_cpu_us_per_row']:,.0f} µs, "
            f"{run['reimport_rows_per_s_if_cores_idle']:,.0f} rows/s",
            f"{'memory growth':>22}: {growth:>10,.1f} MiB — aim < 100: "
            f"{'MET' if growth < 100 else 'MISSED'}",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
