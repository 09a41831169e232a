"""What every loader shares: progress reporting, checksums, safe XML parsing, strict text decoding.

A loader is a function `load(run: LoadRun, path: Path, progress: Progress, **options) -> None` that
reads its release and writes rows through `run` (see termsvc.store.loadrun); the registry names them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Protocol

from lxml import etree

from termsvc.errors import LoadError


class Progress(Protocol):
    """Long work reports here; the CLI draws rich progress bars, tests pass NullProgress."""

    def task(self, description: str, total: float | None) -> int: ...

    def advance(self, task: int, amount: float) -> None: ...

    def done(self, task: int) -> None: ...


class NullProgress:
    def task(self, description: str, total: float | None) -> int:
        return 0

    def advance(self, task: int, amount: float) -> None:
        pass

    def done(self, task: int) -> None:
        pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def safe_xml_parser(**options: bool) -> etree.XMLParser:
    """No entity expansion, no DTD loading, no network: no XXE, no billion laughs."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, **options)


def iterparse_safely(source: str | Path | IO[bytes], **options: object) -> etree.iterparse:
    """lxml's iterparse with the same protections as `safe_xml_parser`."""
    return etree.iterparse(source, resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, **options)


class ByteCounter:
    """Wraps a binary file so progress can be counted in bytes read."""

    def __init__(self, handle: IO[bytes], progress: Progress, task: int) -> None:
        self._handle = handle
        self._progress = progress
        self._task = task

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        if data:
            self._progress.advance(self._task, len(data))
        return data


@contextmanager
def reading_lines(path: Path, progress: Progress, description: str, *, encoding: str = "utf-8",
                  display_name: str | None = None) -> Iterator[Iterator[tuple[int, str]]]:
    """Yield (line number, line without its ending) strictly decoded; a byte that is not valid in
    `encoding` becomes a LoadError naming the file and line. A leading BOM is dropped."""
    name = display_name or str(path)
    task = progress.task(description, path.stat().st_size)

    def lines() -> Iterator[tuple[int, str]]:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                progress.advance(task, len(raw))
                try:
                    line = raw.decode(encoding)
                except UnicodeDecodeError as exc:
                    raise LoadError(name, f"not valid {encoding} text ({exc.reason} at byte {exc.start})",
                                    line=number) from None
                if number == 1 and line.startswith("\ufeff"):
                    line = line[1:]
                yield number, line.rstrip("\r\n")
        progress.done(task)

    yield lines()
