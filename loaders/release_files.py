"""The one way a release is opened: a folder, or a zip, listed as its files by their path inside it.

Publishers ship the same release both ways (NLM's RxNorm zip and its unpacked rrf/ folder, Regenstrief's
LOINC zip, SNOMED International's RF2 packages); the loaders find their files in this listing and open them
as binary streams, whichever it was."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from termsvc.errors import LoadError


@dataclass(frozen=True)
class ReleaseMember:
    """One file of a release: a file on disk, or a member of the zip that holds it."""

    path: Path  # the file itself, or the zip holding it
    member: str | None  # the member's name inside the zip
    size: int  # uncompressed bytes (what progress counts)

    @property
    def label(self) -> str:
        """What errors call it: the file's path, or zip-path!member."""
        return str(self.path) if self.member is None else f"{self.path}!{self.member}"

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        if self.member is None:
            with self.path.open("rb") as handle:
                yield handle
            return
        with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as handle:
            yield handle


def list_release(path: Path, what: str) -> list[tuple[PurePosixPath, ReleaseMember]]:
    """Every file of the release at `path` (a folder or a zip) with its path inside the release, in name
    order. `what` names the expected release in errors ("an RxNorm release", ...)."""
    if not path.exists():
        raise LoadError(str(path), "no such file or folder")
    if path.is_dir():
        return [(PurePosixPath(item.relative_to(path).as_posix()), ReleaseMember(item, None, item.stat().st_size))
                for item in sorted(path.rglob("*")) if item.is_file()]
    if not zipfile.is_zipfile(path):
        raise LoadError(str(path), f"not {what}: expected a folder or a zip file")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise LoadError(str(path), f"not a readable zip file ({exc})") from None
    return sorted(((PurePosixPath(info.filename), ReleaseMember(path, info.filename, info.file_size))
                   for info in infos if not info.is_dir()), key=lambda pair: str(pair[0]))
