"""``flask --app service import ucdp-ged|acled PATH``: a dataset's CSV file into the store.

Exit status: 0 when no row was rejected (warnings allowed), 1 when any was, 2 when the
file itself was refused (nothing written).
"""

from __future__ import annotations

import json
import os
import sys

import click
from flask.cli import AppGroup
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from service.imports import DATASETS
from service.imports.csv_source import FileRefused, HeaderRefused, numbered_rows, open_path
from service.imports.dataset import Dataset
from service.imports.runner import ImportSummary, run_import
from service.storage import event_store

EXIT_REJECTED_ROWS = 1
EXIT_FILE_REFUSED = 2
# Problems the closing text lists; the JSON summary lists up to runner.LISTED.
SHOWN = 20
WRITTEN_BY = "import"
# One validating process per core: they validate while the last batch is written. Measured
# on two cores (bench/imports.py --jobs 1 2, 50k GED rows): 842 rows/s against 688.
DEFAULT_JOBS = os.cpu_count() or 1

import_command = AppGroup("import", help="Import a dataset's CSV export (UCDP GED, ACLED).")


class RowsColumn(ProgressColumn):
    """Rows read so far and rows per second (the bar itself moves by bytes)."""

    def __init__(self, counter: dict):
        super().__init__()
        self.counter = counter

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0
        rows = self.counter["rows"]
        rate = rows / elapsed if elapsed > 0 else 0
        return Text(f"{rows:,} rows  {rate:,.0f} rows/s", style="progress.data.speed")


def _command(dataset: Dataset):
    @click.argument("path", metavar="PATH")
    @click.option(
        "--dry-run",
        is_flag=True,
        help="Validate and count what would happen, writing nothing.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
    @click.option(
        "--jobs",
        type=click.IntRange(min=1),
        default=DEFAULT_JOBS,
        show_default=True,
        help="Processes that validate rows (validation is most of an import's time).",
    )
    def command(path: str, dry_run: bool, as_json: bool, jobs: int):
        try:
            data, raw, size = open_path(path)
            _, rows = numbered_rows(data, dataset.required_columns)
            summary = _run(dataset, rows, raw, size, dry_run, jobs)
        except HeaderRefused as refusal:
            _refuse(path, f"not a {dataset.title} export: {refusal}", as_json, refusal.missing)
        except FileRefused as refusal:
            _refuse(path, str(refusal), as_json)
        if as_json:
            click.echo(json.dumps(summary.as_json(), ensure_ascii=False, indent=2))
        else:
            _print(summary)
        if summary.rejected:
            sys.exit(EXIT_REJECTED_ROWS)

    command.__doc__ = (
        f"Import a {dataset.title} CSV export: a .csv, .csv.gz, a .zip holding one CSV, "
        "or - for standard input. Re-importing writes only what changed."
    )
    return import_command.command(dataset.name)(command)


def _run(dataset: Dataset, rows, raw, size: int | None, dry_run: bool, jobs: int) -> ImportSummary:
    store = event_store(WRITTEN_BY)
    console = Console(stderr=True)
    if not console.is_terminal:
        return run_import(store, dataset, rows, dry_run=dry_run, jobs=jobs)
    counter = {"rows": 0}
    columns = [
        TextColumn(f"[bold]{dataset.title}[/]"),
        BarColumn(),
        RowsColumn(counter),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("import", total=size)

        def advance(summary: ImportSummary) -> None:
            counter["rows"] = summary.rows_read
            progress.update(task, completed=raw.bytes_read)

        return run_import(store, dataset, rows, dry_run=dry_run, jobs=jobs, on_batch=advance)


def _refuse(path: str, reason: str, as_json: bool, missing: list[str] | None = None):
    if as_json:
        problem = {"refused": path, "reason": reason}
        if missing is not None:
            problem["missing_columns"] = missing
        click.echo(json.dumps(problem, ensure_ascii=False))
    click.echo(f"{path}: refused, nothing written: {reason}", err=True)
    sys.exit(EXIT_FILE_REFUSED)


def _print(summary: ImportSummary) -> None:
    if summary.dry_run:
        heading = "dry run (nothing written)"
    elif summary.created or summary.updated:
        heading = "imported"
    else:
        # A release imported again: say so, rather than leave it to the counts.
        heading = "imported (nothing written: every row is stored as it is, or refused)"
    click.echo(
        f"{heading}: {summary.rows_read:,} rows read, {summary.created:,} created, "
        f"{summary.updated:,} updated, {summary.unchanged:,} unchanged, "
        f"{summary.left_deleted:,} left deleted, {summary.rejected:,} rejected, "
        f"{summary.warnings:,} warnings"
    )
    for label, problems, total in (
        ("rejected", summary.rejected_rows, summary.rejected),
        ("warning", summary.warning_rows, summary.warnings),
    ):
        for problem in problems[:SHOWN]:
            click.echo(f"  {label}: line {problem.line}, {problem.field}: {problem.reason}")
        if total > SHOWN:
            click.echo(f"  … and {total - SHOWN:,} more {label} lines (--json lists them)")


for _dataset in DATASETS.values():
    _command(_dataset)
