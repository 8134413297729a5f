"""What every write benchmark does around its measurement: a scratch database, the CPU
time of the processes that did the work, and a results file.

``run(name, database, measure, table)`` makes database ``database`` (fresh and migrated,
on the server of DATABASE_URL, loopback only: bench/load.py), calls ``measure(url)``,
drops the database, prints ``table(result)`` and writes bench/results/NAME-STAMP.json with
the options, the result, the table, and the load average before and after: on a machine
shared with other work the wall clock measures the neighbours too, and a figure without
the load it was taken under cannot be compared with another.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path

import psutil

from bench import load

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU seconds of a process so far (0 once it has ended)."""
    try:
        times = process.cpu_times()
    except psutil.Error:  # ended meanwhile: its time is lost, as a gunicorn recycle loses it
        return 0.0
    return times.user + times.system


def backends(database: str) -> list[psutil.Process]:
    """The PostgreSQL backends serving ``database`` (their titles name it)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        title = " ".join(process.info["cmdline"] or ())
        if title.startswith("postgres: ") and f" {database} " in title:
            found.append(process)
    return found


class CpuMeter:
    """CPU seconds used by some processes (found again at the end: pools open backends)."""

    def __init__(self, processes: Callable[[], list[psutil.Process]]):
        self.processes = processes
        self.before = {p.pid: cpu_seconds(p) for p in processes()}

    def seconds(self) -> float:
        """CPU seconds since the meter was made."""
        return sum(cpu_seconds(p) - self.before.get(p.pid, 0.0) for p in self.processes())


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(value, 2) for value in os.getloadavg()]


def run(
    name: str,
    database: str,
    measure: Callable[[str], dict],
    table: Callable[[dict], str],
    options: dict,
) -> Path:
    """Measure on a scratch database, print the table, write the results file; its path."""
    server = load.server_url(database)
    RESULTS.mkdir(exist_ok=True)
    before = load_average()
    with load.scratch_database(server, database) as url:
        result = measure(url)
    after = load_average()
    text = table(result)
    print(text)
    print(f"load average before: {before}, after: {after}; {psutil.cpu_count()} cores")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(
        json.dumps(
            {
                "options": options,
                "load_average_before": before,
                "load_average_after": after,
                "cpus": psutil.cpu_count(),
                "result": result,
                "table": text,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )
    print(f"\nwritten: {path}")
    return path
