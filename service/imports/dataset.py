"""What the runner needs to know of a dataset: its name, its columns, its row mapper."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from service.imports.cells import RowNotes


class RowMapper(Protocol):
    def event(self, row: dict, notes: RowNotes) -> dict:
        """The event of one row, unvalidated; raises RowRejected when it cannot be one."""


@dataclass(frozen=True)
class Dataset:
    name: str  # as in `import NAME` and `?format=NAME`
    title: str
    required_columns: tuple[str, ...]
    # A new mapper per import: it may remember things across the import's rows.
    new_mapper: Callable[[], RowMapper]
