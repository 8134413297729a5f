"""Running an import: rows -> events -> validated -> written in batches, and its summary.

Each row is mapped by its dataset, validated by the same schemas as an API write, and
written through the storage layer's bulk upsert by natural key, a batch per transaction.
So a file imported again writes nothing, a changed row makes one revision, and an import
killed half-way and run again ends with every row present once (the batches committed
before the kill are unchanged the second time).
"""

from __future__ import annotations

import multiprocessing
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import marshmallow as ma

from service.errors import flatten_errors
from service.imports.cells import RowNotes, RowRejected
from service.imports.dataset import Dataset
from service.storage.bulk import stored_as_given, write_events
from service.storage.events import EventStore
from service.validation import load_event

BATCH_ROWS = 1_000
# The summary lists this many rejected rows and warnings; its counts are always whole.
LISTED = 1_000


@dataclass(frozen=True)
class RowProblem:
    """A rejected row or a warning: where (line, column) and what."""

    line: int
    field: str
    reason: str

    def as_json(self) -> dict:
        return {"line": self.line, "field": self.field, "reason": self.reason}


@dataclass
class ImportSummary:
    dataset: str
    dry_run: bool = False
    rows_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    left_deleted: int = 0
    rejected: int = 0
    warnings: int = 0
    rejected_rows: list[RowProblem] = field(default_factory=list)
    warning_rows: list[RowProblem] = field(default_factory=list)

    def reject(self, problem: RowProblem) -> None:
        self.rejected += 1
        if len(self.rejected_rows) < LISTED:
            self.rejected_rows.append(problem)

    def warn(self, problem: RowProblem) -> None:
        self.warnings += 1
        if len(self.warning_rows) < LISTED:
            self.warning_rows.append(problem)

    def as_json(self) -> dict:
        return {
            "dataset": self.dataset,
            "dry_run": self.dry_run,
            "rows_read": self.rows_read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "left_deleted": self.left_deleted,
            "rejected": self.rejected,
            "warnings": self.warnings,
            "rejected_rows": [problem.as_json() for problem in self.rejected_rows],
            "warning_rows": [problem.as_json() for problem in self.warning_rows],
            "listed_at_most": LISTED,
        }


def run_import(
    store: EventStore,
    dataset: Dataset,
    rows: Iterable[tuple[int, dict]],
    *,
    dry_run: bool = False,
    batch_rows: int = BATCH_ROWS,
    jobs: int = 1,
    on_batch: Callable[[ImportSummary], None] | None = None,
) -> ImportSummary:
    """Import ``rows`` (line, cells) of ``dataset`` through ``store``; its summary.

    Rows are mapped here, in order (a mapper may remember earlier rows), validated in
    ``jobs`` processes when more than one (validation is most of an import's CPU time,
    and each event's is independent of the others'), and written here, batch by batch in
    file order, while the next batches are validated.

    A dry run writes each batch in a transaction it then rolls back, so its counts are
    those a real run would give (against the store as it is now).
    """
    summary = ImportSummary(dataset.name, dry_run=dry_run)
    mapped = _mapped_batches(dataset.new_mapper(), rows, summary, batch_rows)
    in_flight = _KeysInFlight()
    for batch in _validated(_marked_unchanged(store, mapped, in_flight), jobs):
        valid = []
        for line, event, warnings, error in batch:
            if event is None:
                summary.reject(RowProblem(line, *error))
                continue
            for column, message in warnings:
                summary.warn(RowProblem(line, column, message))
            if event == UNCHANGED:
                summary.unchanged += 1
            else:
                valid.append((line, event))
        if valid:
            _write(store, valid, summary, dry_run)
        in_flight.written()
        if on_batch:
            on_batch(summary)
    return summary


# Stands for a mapped row that the store holds as it is (bulk.stored_as_given): it is
# neither validated nor written, and counts as unchanged. A string: it crosses processes.
UNCHANGED = "unchanged: stored as it is"


class _KeysInFlight:
    """The keys of the batches marked but not written yet, oldest batch first."""

    def __init__(self):
        self.batches: deque[Counter[str]] = deque()
        self.keys: Counter[str] = Counter()

    def add(self, keys: Counter[str]) -> None:
        self.batches.append(keys)
        self.keys.update(keys)

    def written(self) -> None:
        """The oldest batch is written."""
        self.keys -= self.batches.popleft()

    def __contains__(self, key: str) -> bool:
        return self.keys[key] > 0


def _marked_unchanged(
    store: EventStore, batches: Iterator[list[Mapped]], in_flight: _KeysInFlight
) -> Iterator[list[Mapped]]:
    """The batches with each row the store already holds as it is marked UNCHANGED.

    A re-imported release is mostly such rows; they cost a read and a comparison
    instead of validation and a write. Rows are left as they are when their key appears
    twice in the batch (the repeat is reported as one) or in an earlier batch not yet
    written (``in_flight``: validated ahead, its write may change the stored event).
    """
    for batch in batches:
        keys = Counter(event["key"] for _, event, _ in batch)
        checkable = [
            n
            for n, (_, event, _) in enumerate(batch)
            if keys[event["key"]] == 1 and event["key"] not in in_flight
        ]
        same = stored_as_given(store, [batch[n][1] for n in checkable])
        marked = [checkable[n] for n in same]
        for n in marked:
            line, _, warnings = batch[n]
            batch[n] = (line, UNCHANGED, warnings)
        in_flight.add(keys)
        yield batch


# A mapped row: (line, raw event, its warnings); validated: (line, event or None, its
# warnings, (field, reason) when it was refused).
Mapped = tuple[int, dict, list[tuple[str, str]]]
Validated = tuple[int, dict | None, list[tuple[str, str]], tuple[str, str] | None]


def _mapped_batches(
    mapper, rows: Iterable[tuple[int, dict]], summary: ImportSummary, batch_rows: int
) -> Iterator[list[Mapped]]:
    """Batches of mapped rows; a row the mapper rejects is recorded and left out."""
    batch: list[Mapped] = []
    for line, row in rows:
        summary.rows_read += 1
        notes = RowNotes()
        try:
            batch.append((line, mapper.event(row, notes), notes.warnings))
        except RowRejected as rejection:
            summary.reject(RowProblem(line, rejection.column, rejection.reason))
        if len(batch) >= batch_rows:
            yield batch
            batch = []
    if batch:
        yield batch


def validate_batch(batch: list[Mapped]) -> list[Validated]:
    """Each mapped event validated by the API's schemas (a top-level function: it runs in
    worker processes too)."""
    validated = []
    for line, raw, warnings in batch:
        if raw == UNCHANGED:
            validated.append((line, UNCHANGED, warnings, None))
            continue
        try:
            validated.append((line, load_event(raw), warnings, None))
        except ma.ValidationError as error:
            # A row the mapping let through but the model refuses.
            validated.append((line, None, warnings, _first_error(flatten_errors(error.messages))))
    return validated


def _validated(batches: Iterator[list[Mapped]], jobs: int) -> Iterator[list[Validated]]:
    """The batches validated, in order: here, or in ``jobs`` processes a few batches ahead."""
    if jobs <= 1:
        yield from map(validate_batch, batches)
        return
    # forkserver: the workers do not inherit this process's threads (the pool's).
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        pending: deque = deque()
        for batch in batches:
            pending.append(pool.submit(validate_batch, batch))
            if len(pending) > 2 * jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _write(
    store: EventStore, batch: list[tuple[int, dict]], summary: ImportSummary, dry_run: bool
) -> None:
    batch = _without_repeats(batch, summary)
    events = [event for _, event in batch]
    outcomes = _rolled_back(store, events) if dry_run else write_events(store, events)
    for (line, _), outcome in zip(batch, outcomes, strict=True):
        if outcome.outcome in ("created", "updated", "unchanged", "left_deleted"):
            setattr(summary, outcome.outcome, getattr(summary, outcome.outcome) + 1)
        else:
            errors = outcome.errors or {"key": [outcome.outcome]}
            summary.reject(RowProblem(line, *_first_error(errors)))


def _first_error(errors: dict[str, list[str]]) -> tuple[str, str]:
    """The first field an error names, and its messages as one reason: a row is listed once."""
    name, messages = next(iter(errors.items()))
    return name, " ".join(messages)


def _without_repeats(
    batch: list[tuple[int, dict]], summary: ImportSummary
) -> list[tuple[int, dict]]:
    """The batch without a row whose event an earlier row of the batch already is.

    Only within a batch: remembering every key of a million-row file would cost the
    memory streaming saves. A repeat in a later batch updates the event (the later wins).
    """
    first_line: dict[str, int] = {}
    kept = []
    for line, event in batch:
        first = first_line.setdefault(event["key"], line)
        if first == line:
            kept.append((line, event))
        else:
            summary.reject(RowProblem(line, "id", f"the same event as line {first}: left out"))
    return kept


def _rolled_back(store: EventStore, events: list[dict]):
    """What writing ``events`` would do, in a transaction rolled back afterwards."""
    with store.db.connection() as conn, conn.transaction(force_rollback=True):
        return write_events(EventStore(None, conn=conn, written_by=store.written_by), events)
