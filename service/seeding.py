"""Seed data: files of events, validated by the model and loaded idempotently.

A seed file is a YAML (or JSON) list of events, each with a natural ``key``. Loading a
file creates the events that are missing, updates those that changed and leaves the rest.
Each file is one transaction: a file with any bad record loads nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import click
import marshmallow as ma
import yaml
from flask import current_app

from schemas import Event
from service.db import Database, get_db
from service.errors import flatten_errors
from service.storage.bulk import BatchRefused, write_events
from service.storage.events import EventStore

SEED_FILE_SUFFIXES = (".yaml", ".yml", ".json")
# What loading did with each event. A seeded event deleted through the API stays
# deleted: the operator removed it on purpose. Only the sandbox is restored.
OUTCOMES = ("created", "updated", "unchanged", "restored", "left deleted")
# The docs page's sandbox (seeds/sandbox.yaml): the events its "Try it out" replaces,
# patches and deletes by default (service/http/examples.py), so that trying the writes
# leaves the article's events alone. Seeding puts them back as the file has them; a
# deleted one is stored again as a new version of the same id (an `update` after the
# `delete` in its revisions and in the change feed), because the spec's defaults name
# that id, and because history is only ever appended to: the deletion stays on record.
SANDBOX_TO_CHANGE = "sandbox-replace-and-patch"
SANDBOX_TO_DELETE = "sandbox-delete"
SANDBOX_KEYS = frozenset({SANDBOX_TO_CHANGE, SANDBOX_TO_DELETE})
# Shown only when they happened.
_SHOWN_IF_ANY = ("restored", "left deleted")

EVENT = Event()


class BadSeedFile(Exception):
    """A refused seed file, with each problem naming the record and the field."""

    def __init__(self, path: Path, problems: list[str]):
        super().__init__(path, problems)
        self.path = path
        self.problems = problems

    def __str__(self) -> str:
        return "\n".join(f"{self.path}: {problem}" for problem in self.problems)


def seed_files(paths: Iterable[Path]) -> list[Path]:
    """Each file given, and the seed files of each folder given, in name order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(p for p in path.iterdir() if p.is_file() and p.suffix in SEED_FILE_SUFFIXES)
            )
        else:
            files.append(path)
    return files


def _record_label(index: int, record: object) -> str:
    """How problems name a record: its index in the file, and its key when it has one."""
    key = record.get("key") if isinstance(record, dict) else None
    return f"record {index} (key {key!r})" if isinstance(key, str) else f"record {index}"


def _parse(path: Path) -> list:
    """The file's records, unvalidated; raises BadSeedFile when it is not a YAML list."""
    try:
        records = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise BadSeedFile(path, [f"not valid YAML{where}: {error.problem or error}"]) from error
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as error:
        raise BadSeedFile(path, [f"cannot be read: {error}"]) from error
    if not isinstance(records, list):
        raise BadSeedFile(path, ["must hold a list of events."])
    return records


def read_seed_file(path: Path) -> list[dict]:
    """The validated events of a seed file; raises BadSeedFile naming every problem."""
    events: list[dict] = []
    problems: list[str] = []
    index_of_key: dict[str, int] = {}
    for index, record in enumerate(_parse(path)):
        label = _record_label(index, record)
        try:
            event = EVENT.load(record)
        except ma.ValidationError as error:
            problems.extend(
                f"{label}: {field}: {' '.join(messages)}"
                for field, messages in flatten_errors(error.messages).items()
            )
            continue
        key = event.get("key")
        if key is None:
            problems.append(
                f"{label}: key: Required in a seed, so that loading it again finds the same event."
            )
        elif key in index_of_key:
            problems.append(f"{label}: key: Duplicate of record {index_of_key[key]}.")
        else:
            index_of_key[key] = index
        events.append(event)
    if problems:
        raise BadSeedFile(path, problems)
    return events


def load_events(store: EventStore, path: Path, events: list[dict]) -> Counter:
    """Upsert a file's validated events through ``store``; counts of each outcome.

    All or nothing: raises BadSeedFile for a link to an unknown event (or a key another
    loader created meanwhile), so nothing of the file stays.
    """
    try:
        outcomes = write_events(store, events, atomic=True, restorable=SANDBOX_KEYS)
    except BatchRefused as refusal:
        raise BadSeedFile(
            path,
            [
                f"{_record_label(index, events[index])}: {name}: {' '.join(messages)}"
                for index, errors in refusal.errors.items()
                for name, messages in errors.items()
            ],
        ) from refusal
    return Counter(outcome.outcome.replace("_", " ") for outcome in outcomes)


def seed_database(
    db: Database, files: Iterable[Path]
) -> tuple[dict[Path, Counter], list[BadSeedFile]]:
    """Load each seed file in its own transaction; the counts per loaded file, and the refusals."""
    loaded: dict[Path, Counter] = {}
    refused: list[BadSeedFile] = []
    file_of_key: dict[str, Path] = {}
    for path in files:
        try:
            events = read_seed_file(path)
            # Two files of one run with the same key would overwrite each other on every run.
            clashes = [
                f"{_record_label(index, event)}: key: Also in {file_of_key[event['key']]}."
                for index, event in enumerate(events)
                if event["key"] in file_of_key
            ]
            if clashes:
                raise BadSeedFile(path, clashes)
            with db.connection() as conn, conn.transaction():
                loaded[path] = load_events(EventStore(None, conn), path, events)
        except BadSeedFile as refusal:
            refused.append(refusal)
            continue
        file_of_key.update((event["key"], path) for event in events)
    return loaded, refused


def describe(outcomes: Counter) -> str:
    """Counts as the command prints them: ``created 3, updated 1, unchanged 14``."""
    shown = [name for name in OUTCOMES if name not in _SHOWN_IF_ANY or outcomes[name]]
    return ", ".join(f"{name} {outcomes[name]}" for name in shown)


@click.command("seed")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
def seed_command(paths: tuple[Path, ...]):
    """Load seed events (default: every file in SEEDS_DIR): create, update, or leave each;
    restore the docs page's sandbox."""
    paths = paths or (Path(current_app.config["SEEDS_DIR"]),)
    files = seed_files(paths)
    if not files:
        raise click.ClickException(
            f"no seed files ({', '.join(SEED_FILE_SUFFIXES)}) in {', '.join(map(str, paths))}"
        )
    loaded, refused = seed_database(get_db(), files)
    for path, outcomes in loaded.items():
        click.echo(f"{path}: {describe(outcomes)}")
    if len(loaded) > 1:
        click.echo(f"total: {describe(sum(loaded.values(), Counter()))}")
    if refused:
        raise click.ClickException(
            "refused (nothing loaded from these files):\n" + "\n".join(map(str, refused))
        )
