"""The audit spool: audit rows that could not be written at once (a load holds SQLite's write lock) kept on
disk until they are, so a process that ends meanwhile loses none (every write attempt is audited).

One file per row, `<event key>.jsonl` (one JSON line), written to a temporary name, fsync'd and renamed into
place before the write's answer is sent: a file under its final name is whole, whatever ends the process, and
several processes (`serve --workers N`) share one directory without locking each other out. A replay reads
every file, has them inserted in one transaction, and only then deletes them. A replay cut short between the
commit and the deletes is repeated by the next one, so the store must insert each row once whatever the
replays (termsvc.auth.audit inserts on its unique `event_key`, which is also the file's name)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("termsvc.audit")

SUFFIX = ".jsonl"


class SpoolError(OSError):
    """The spool directory cannot be written (the row is then kept in memory only, and said so in the log)."""


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def append(self, key: str, row: dict[str, Any]) -> None:
        """Store `row` durably under `key` (letters and digits); SpoolError when the directory will not take it."""
        final = self.directory / f"{key}{SUFFIX}"
        temporary = self.directory / f".{key}.tmp"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as handle:
                handle.write(orjson.dumps(row) + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, final)
            _fsync_directory(self.directory)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            raise SpoolError(f"the audit spool {self.directory} cannot be written: {exc}") from exc

    def files(self) -> list[Path]:
        try:
            return sorted(self.directory.glob(f"*{SUFFIX}"))
        except OSError:
            return []

    def pending(self) -> int:
        return len(self.files())

    def replay(self, decode: Callable[[dict[str, Any]], dict[str, Any]],
               write: Callable[[list[dict[str, Any]]], None]) -> int:
        """Hand every spooled row, as `decode` makes it (ValueError: not a row, set aside), to `write` (which
        commits them, or raises to keep them for the next replay), then delete their files; the rows replayed."""
        read = [(path, row) for path in self.files() if (row := _read(path, decode)) is not None]
        if read:
            write([row for _, row in read])
        for path, _ in read:
            path.unlink(missing_ok=True)  # another process's replay may have taken it first
        return len(read)


def _read(path: Path, decode: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any] | None:
    try:
        row = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None  # replayed and deleted by another process meanwhile
    except orjson.JSONDecodeError as exc:
        _set_aside(path, f"it is not JSON ({exc})")
        return None
    except OSError as exc:
        log.error("audit spool file %s cannot be read (%s): tried again later", path, exc)
        return None
    try:
        if not isinstance(row, dict):
            raise ValueError("not a JSON object")
        return decode(row)
    except (ValueError, TypeError) as exc:
        _set_aside(path, f"it holds no audit row ({exc})")
        return None


def _set_aside(path: Path, why: str) -> None:
    """A file no replay can use (not written by this spool) is renamed `<name>.bad`, for someone to look at,
    rather than tried and reported again on every replay."""
    aside = path.with_name(path.name + ".bad")
    with contextlib.suppress(OSError):
        path.replace(aside)
    log.error("audit spool file %s was not replayed: %s; kept as %s", path, why, aside)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); where a directory cannot be opened (Windows) the rename is."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
