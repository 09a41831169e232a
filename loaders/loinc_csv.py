"""Streaming the release's CSV files: strict UTF-8 (a leading BOM tolerated), the csv module's strict
dialect, a header checked for the columns a stage needs, rows checked for length. Rows come out as lists,
read by column index, so a 100k-row table costs no per-row dicts. Progress is counted in bytes read and
each file's SHA-256 is computed on the same pass."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO

from termsvc.errors import LoadError
from termsvc.loaders.base import Progress
from termsvc.loaders.loinc_release import Release, ReleaseFile
from termsvc.store.loadrun import LoadRun, SourcePosition

_PROGRESS_STEP = 1 << 20  # report progress per MiB, not per line


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


def decoded_lines(handle: IO[bytes], file: str, position: SourcePosition, progress: Progress, task: int,
                  digest: hashlib._Hash) -> Iterator[str]:
    """The file's lines, line endings kept (the csv module needs them inside quoted fields), strictly
    decoded; `position.line` is kept at the physical line being read."""
    pending = 0
    for number, raw in enumerate(handle, start=1):
        digest.update(raw)
        pending += len(raw)
        if pending >= _PROGRESS_STEP:
            progress.advance(task, pending)
            pending = 0
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LoadError(file, f"not valid UTF-8 text ({exc.reason} at byte {exc.start} of the line)",
                            line=number) from None
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        position.line = number
        yield text
    progress.advance(task, pending)


def rows(lines: Iterable[str], file: str, required: Iterable[str]) -> tuple[Header, Iterator[tuple[int, list[str]]]]:
    """The header (checked for `required`) and an iterator of (line, fields). A row with fewer or more
    fields than the header is an error naming the first missing (or the extra) field."""
    reader = csv.reader(lines, strict=True)
    try:
        first = next(reader, None)
    except csv.Error as exc:
        raise LoadError(file, f"malformed CSV header: {exc}", line=reader.line_num) from None
    if first is None:
        raise LoadError(file, "the file is empty: a header row was expected", line=1)
    header = Header(file, [c.strip() for c in first])
    header.require(required)
    width = len(header.columns)

    def body() -> Iterator[tuple[int, list[str]]]:
        while True:
            try:
                row = next(reader, None)
            except csv.Error as exc:
                raise LoadError(file, f"malformed CSV: {exc}", line=reader.line_num) from None
            if row is None:
                return
            if len(row) != width:
                if not row:
                    continue  # a blank line (some tools end files with one); a quoted "" is a field
                if len(row) < width:
                    raise LoadError(file, f"short row: {len(row)} fields where the header has {width}",
                                    line=reader.line_num, field_name=header.columns[len(row)])
                raise LoadError(file, f"long row: {len(row)} fields where the header has {width}",
                                line=reader.line_num, field_name=f"#{width + 1}")
            yield reader.line_num, row

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
        header, body = rows(decoded_lines(handle, item.name, run.position, progress, task, digest),
                            item.name, required)
        yield header, body
        for _ in body:  # a stage that stops early still reads to the end, so the checksum is the file's
            pass
    progress.done(task)
    run.checksums[item.name] = digest.hexdigest()
