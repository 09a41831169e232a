"""Streaming the release's CSV files: strict UTF-8 (a leading BOM tolerated), the csv module's strict
dialect, a header checked for the columns a stage needs, rows checked for length. Rows come out as lists,
read by column index, so a 100k-row table costs no per-row dicts. Progress is counted in bytes read and
each file's SHA-256 is computed on the same pass."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO, Any

from termsvc.errors import LoadError
from termsvc.loaders.base import Progress
from termsvc.loaders.loinc_release import Release, ReleaseFile
from termsvc.store.loadrun import LoadRun, SourcePosition

_PROGRESS_STEP = 1 << 20  # report progress per MiB, not per line
_BLOCK = 1 << 18


@dataclass
class Header:
    """Column positions by name, as the file's header row gives them."""

    file: str
    columns: list[str]
    index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.index = {name: i for i, name in enumerate(self.columns)}

    def require(self, names: Iterable[str], line: int = 1) -> None:
        missing = [n for n in names if n not in self.index]
        if missing:
            raise LoadError(self.file, f"header lacks the column{'s' if len(missing) > 1 else ''} "
                                       f"{', '.join(missing)} (found: {', '.join(self.columns)})",
                            line=line, field_name=missing[0])

    def get(self, name: str) -> int | None:
        return self.index.get(name)


class _Counted(io.RawIOBase):
    """A binary stream that feeds what is read to the checksum and to the progress bar (per MiB)."""

    def __init__(self, handle: IO[bytes], progress: Progress, task: int, digest: hashlib._Hash) -> None:
        self._handle, self._progress, self._task, self._digest = handle, progress, task, digest
        self._pending = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._handle.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self._digest.update(data)
        self._pending += size
        if self._pending >= _PROGRESS_STEP or not size:
            self._progress.advance(self._task, self._pending)
            self._pending = 0
        return size


def text_lines(handle: IO[bytes], progress: Progress, task: int, digest: hashlib._Hash) -> IO[str]:
    """The file as strictly decoded UTF-8 text, a leading BOM dropped, line endings kept (the csv module
    needs them inside quoted fields). Decoding runs in C over large blocks, so a bad byte is reported
    without its line: `first_bad_line` finds it."""
    raw = io.BufferedReader(_Counted(handle, progress, task, digest), _BLOCK)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")


def first_bad_line(handle: IO[bytes]) -> tuple[int, str]:
    """The first line that is not UTF-8, and why: read again line by line, only after decoding failed."""
    for number, line in enumerate(handle, start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return number, f"{exc.reason} at byte {exc.start} of the line"
    return 0, "undecodable bytes"


def rows(lines: Iterable[str], file: str, required: Iterable[str], *, position: SourcePosition | None = None,
         locate: Callable[[], tuple[int, str]] | None = None) -> tuple[Header, Iterator[tuple[int, list[str]]]]:
    """The header (checked for `required`) and an iterator of (line, fields). A row with fewer or more
    fields than the header is an error naming the first missing (or the extra) field. `position.line`
    follows the rows; `locate` names the line of a decoding error."""
    reader = csv.reader(lines, strict=True)

    def read() -> list[str] | None:
        try:
            return next(reader, None)
        except csv.Error as exc:
            raise LoadError(file, f"malformed CSV: {exc}", line=reader.line_num) from None
        except UnicodeDecodeError as exc:
            line, reason = locate() if locate is not None else (reader.line_num + 1, exc.reason)
            raise LoadError(file, f"not valid UTF-8 text ({reason})", line=line or None) from None

    first = read()
    if first is None:
        raise LoadError(file, "the file is empty: a header row was expected", line=1)
    header = Header(file, [c.strip() for c in first])
    header.require(required)
    width = len(header.columns)

    def body() -> Iterator[tuple[int, list[str]]]:
        while True:
            row = read()
            if row is None:
                return
            line = reader.line_num
            if position is not None:
                position.line = line
            if len(row) != width:
                if not row:
                    continue  # a blank line (some tools end files with one); a quoted "" is a field
                if len(row) < width:
                    raise LoadError(file, f"short row: {len(row)} fields where the header has {width}",
                                    line=line, field_name=header.columns[len(row)])
                raise LoadError(file, f"long row: {len(row)} fields where the header has {width}",
                                line=line, field_name=f"#{width + 1}")
            yield line, row

    return header, body()


@contextmanager
def read_table(run: LoadRun, release: Release, item: ReleaseFile, progress: Progress,
               required: Iterable[str]) -> Iterator[tuple[Header, Iterator[tuple[int, list[str]]]]]:
    """Open one release file for a stage: the load run's position names it, progress counts its bytes,
    and its checksum is recorded once it has been read to the end."""
    digest = hashlib.sha256()
    run.position.file = item.name
    run.position.line = None
    run.position.path = None
    task = progress.task(f"LOINC {PurePosixPath(item.name).name}", item.size)
    with release.open(item) as handle:

        def locate() -> tuple[int, str]:
            with release.open(item) as again:
                return first_bad_line(again)

        header, body = rows(text_lines(handle, progress, task, digest), item.name, required,
                            position=run.position, locate=locate)
        yield header, body
        for _ in body:  # a stage that stops early still reads to the end, so the checksum is the file's
            pass
    progress.done(task)
    run.checksums[item.name] = digest.hexdigest()
