"""Reading a dataset's CSV file as numbered rows, whatever it comes in.

A file may be plain (``.csv``), gzipped (``.csv.gz``), a ZIP archive holding one CSV (as
UCDP ships its releases), or standard input (``-``). Rows are read one at a time, so a
file of any size costs the memory of one batch, and each row keeps the line it starts on
(a quoted cell may span lines) for the summary to point at.
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

# GED's source_article and ACLED's notes can be long; the csv module's default cell limit
# (128 KiB) is kept, so a runaway quote fails one file clearly instead of eating memory.
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


class FileRefused(Exception):
    """The file as a whole cannot be imported (nothing was written); says why."""


class HeaderRefused(FileRefused):
    """The header lacks columns the dataset needs."""

    def __init__(self, missing: list[str]):
        super().__init__(f"missing columns: {', '.join(missing)}")
        self.missing = missing


class CountingReader(io.RawIOBase):
    """A binary stream that counts the bytes read through it (for progress by bytes)."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)


class LimitedReader(io.RawIOBase):
    """A binary stream that refuses (FileRefused) to yield more than ``limit`` bytes.

    Guards the decompressed size of an upload, which its compressed size does not bound.
    """

    def __init__(self, stream: BinaryIO, limit: int):
        self._stream = stream
        self._left = limit
        self.limit = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(min(len(buffer), self._left + 1))
        if len(data) > self._left:
            raise BodyTooLarge(self.limit)
        self._left -= len(data)
        buffer[: len(data)] = data
        return len(data)


class BodyTooLarge(FileRefused):
    """The (decompressed) data is over the limit."""

    def __init__(self, limit: int):
        super().__init__(f"the data is over the limit of {limit} bytes (decompressed)")
        self.limit = limit


def open_path(path: str) -> tuple[BinaryIO, CountingReader, int | None]:
    """The decompressed bytes of ``path``, the counter of the bytes read from disk, and
    the file's size on disk (None for standard input).

    The format is told by the file's first bytes, not its name: a ``.csv`` that is in
    fact gzipped still reads.
    """
    if path == "-":
        raw = CountingReader(sys.stdin.buffer)
        return _decompressed(io.BufferedReader(raw), raw, "standard input"), raw, None
    file = Path(path)
    try:
        size = file.stat().st_size
        handle = file.open("rb")
    except OSError as error:
        raise FileRefused(f"cannot be read: {error.strerror or error}") from error
    raw = CountingReader(handle)
    return _decompressed(io.BufferedReader(raw), raw, str(file)), raw, size


def _decompressed(stream: io.BufferedReader, raw: CountingReader, name: str) -> BinaryIO:
    magic = stream.peek(4)[:4]
    if magic[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=stream, mode="rb")
    if magic == ZIP_MAGIC:
        return _single_csv_member(stream, name)
    return stream


def _single_csv_member(stream: io.BufferedReader, name: str) -> BinaryIO:
    """The one CSV file of a ZIP archive (UCDP adds no other; a README is ignored)."""
    try:
        archive = zipfile.ZipFile(stream if stream.seekable() else io.BytesIO(stream.read()))
    except zipfile.BadZipFile as error:
        raise FileRefused(f"{name}: not a readable ZIP archive: {error}") from error
    members = [
        info
        for info in archive.infolist()
        if not info.is_dir() and info.filename.lower().endswith(".csv")
    ]
    if len(members) != 1:
        found = ", ".join(info.filename for info in members) or "none"
        raise FileRefused(f"{name}: a ZIP archive must hold exactly one .csv file (found: {found})")
    return archive.open(members[0])


def numbered_rows(
    data: BinaryIO, required: tuple[str, ...]
) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """The header, and the rows as (line the row starts on, column -> cell).

    Raises HeaderRefused naming the required columns the header lacks, before any row is
    read. A byte sequence that is not UTF-8 becomes U+FFFD rather than failing the file;
    the schemas then see it as text.
    """
    text = io.TextIOWrapper(data, encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.reader(text)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise FileRefused("the file is empty: no header row") from None
    except csv.Error as error:
        raise FileRefused(f"the header row is not CSV: {error}") from error
    missing = [name for name in required if name not in header]
    if missing:
        raise HeaderRefused(missing)
    return header, _rows(reader, header)


def _rows(reader, header: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise FileRefused(f"line {line}: not CSV: {error}") from error
        if cells:  # a blank line is no row
            yield line, dict(zip(header, cells, strict=False))
        line = reader.line_num + 1
