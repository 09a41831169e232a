"""Finding and reading the RRF files of an RxNorm release (the `rrf/` folder, the release folder or the zip).

Layouts are NLM's (RxNorm Technical Documentation, section "Data Files - RxNorm Rich Release Format"): every
row is pipe-delimited and ends with a pipe, so a row of N columns splits into N + 1 parts, the last empty.
Files carry no header. Rows are read strictly: UTF-8 without BOM, the exact column count, the trailing pipe;
anything else is a LoadError naming the file, line and field."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path, PurePosixPath
from typing import IO, Final

from termsvc.errors import LoadError
from termsvc.loaders.base import Progress
from termsvc.loaders.release_files import ReleaseMember, list_release
from termsvc.store.loadrun import SourcePosition

LAYOUTS: Final[dict[str, tuple[str, ...]]] = {
    "RXNCONSO.RRF": ("RXCUI", "LAT", "TS", "LUI", "STT", "SUI", "ISPREF", "RXAUI", "SAUI", "SCUI", "SDUI", "SAB",
                     "TTY", "CODE", "STR", "SRL", "SUPPRESS", "CVF"),
    "RXNREL.RRF": ("RXCUI1", "RXAUI1", "STYPE1", "REL", "RXCUI2", "RXAUI2", "STYPE2", "RELA", "RUI", "SRUI", "SAB",
                   "SL", "DIR", "RG", "SUPPRESS", "CVF"),
    "RXNSAT.RRF": ("RXCUI", "LUI", "SUI", "RXAUI", "STYPE", "CODE", "ATUI", "SATUI", "ATN", "SAB", "ATV",
                   "SUPPRESS", "CVF"),
    "RXNSTY.RRF": ("RXCUI", "TUI", "STN", "STY", "ATUI", "CVF"),
    "RXNCUI.RRF": ("cui1", "ver_start", "ver_end", "cardinality", "cui2"),
    "RXNCUICHANGES.RRF": ("RXAUI", "CODE", "SAB", "TTY", "STR", "OLD_RXCUI", "NEW_RXCUI"),
    "RXNATOMARCHIVE.RRF": ("RXAUI", "AUI", "STR", "ARCHIVE_TIMESTAMP", "CREATED_TIMESTAMP", "UPDATED_TIMESTAMP",
                           "CODE", "IS_BRAND", "LAT", "LAST_RELEASED", "SAUI", "VSAB", "RXCUI", "SAB", "TTY",
                           "MERGED_TO_RXCUI"),
    "RXNSAB.RRF": ("VCUI", "RCUI", "VSAB", "RSAB", "SON", "SF", "SVER", "VSTART", "VEND", "IMETA", "RMETA", "SLC",
                   "SCC", "SRL", "TFR", "CFR", "CXTY", "TTYL", "ATNL", "LAT", "CENC", "CURVER", "SABIN", "SSN",
                   "SCIT"),
    "RXNDOC.RRF": ("DOCKEY", "VALUE", "TYPE", "EXPL"),
}
REQUIRED: Final = ("RXNCONSO.RRF",)
# RxNorm_full_MMDDYYYY (also RxNorm_full_prescribe_MMDDYYYY), as NLM names the download and its folder
_RELEASE_NAME: Final = re.compile(r"RxNorm_[A-Za-z_]*?(\d{2})(\d{2})(\d{4})(?!\d)")
_PROGRESS_EVERY: Final = 50_000


def parse_row(line: str, columns: tuple[str, ...], file: str, number: int) -> list[str]:
    """One RRF row (without its line ending) as its fields. Pure, so it can be tested on its own."""
    parts = line.split("|")
    width = len(columns)
    if len(parts) == width + 1 and parts[width] == "":
        parts.pop()
        return parts
    if parts[-1] != "":
        if len(parts) == width:
            raise LoadError(file, f"the row does not end with '|' (RRF rows end with the field separator); "
                            f"{width} fields expected", line=number, field_name=columns[-1])
        raise LoadError(file, f"{len(parts)} fields and no trailing '|' where {width} fields, each followed by "
                        "'|', are expected", line=number)
    found = len(parts) - 1
    if found < width:
        raise LoadError(file, f"short row: {found} fields where {width} are expected (the first missing is "
                        f"{columns[found]})", line=number, field_name=columns[found])
    raise LoadError(file, f"long row: {found} fields where {width} are expected", line=number)


@dataclass(frozen=True)
class RrfFile:
    name: str  # NLM's file name, e.g. RXNCONSO.RRF
    source: ReleaseMember

    @property
    def label(self) -> str:
        return self.source.label

    def open(self) -> AbstractContextManager[IO[bytes]]:
        return self.source.open()

    def size(self) -> int:
        return self.source.size


@dataclass
class Release:
    root: str  # the rrf folder, or zip!folder
    files: dict[str, RrfFile] = field(default_factory=dict)
    release_date: date | None = None  # from the RxNorm_full_MMDDYYYY name, when there is one

    def get(self, name: str) -> RrfFile | None:
        return self.files.get(name)


def _date_in(text: str) -> date | None:
    found = None
    for match in _RELEASE_NAME.finditer(text):
        month, day, year = (int(g) for g in match.groups())
        try:
            found = date(year, month, day)
        except ValueError:
            continue
    return found


def _collect(candidates: list[tuple[PurePosixPath, RrfFile]], where: str) -> Release:
    """Group the RRF files by folder; the release is the one folder holding RXNCONSO.RRF."""
    folders: dict[PurePosixPath, dict[str, RrfFile]] = {}
    for folder, rrf in candidates:
        folders.setdefault(folder, {})[rrf.name] = rrf
    with_conso = sorted(folder for folder, files in folders.items() if "RXNCONSO.RRF" in files)
    if len(with_conso) > 1:
        # the full release ships the Current Prescribable Content subset beside it, in prescribe/rrf/
        full = [f for f in with_conso if "prescribe" not in (part.lower() for part in f.parts)]
        with_conso = full or with_conso
    if not with_conso:
        found = ", ".join(sorted({name for files in folders.values() for name in files})) or "no RRF files"
        raise LoadError(where, f"not an RxNorm release: RXNCONSO.RRF is missing (found {found}); expected the "
                        "rrf/ folder of an RxNorm full release, the release folder or its zip")
    if len(with_conso) > 1:
        raise LoadError(where, "several RxNorm releases found (RXNCONSO.RRF in "
                        f"{', '.join(str(f) for f in with_conso)}); load one at a time")
    files = folders[with_conso[0]]
    for name in REQUIRED:
        if name not in files:
            raise LoadError(where, f"the RxNorm release is missing {name}")
    return Release(f"{where}!{with_conso[0]}" if str(with_conso[0]) != "." else where, files)


def find_release(path: Path) -> Release:
    """The RxNorm release at `path`: a zip, a release folder (holding rrf/), or the rrf folder itself. A full
    release's prescribe/rrf/ subset is passed over; point at that folder to load the subset alone."""
    candidates = [(inside.parent, RrfFile(inside.name.upper(), member))
                  for inside, member in list_release(path, "an RxNorm release") if inside.name.upper() in LAYOUTS]
    release = _collect(candidates, str(path))
    release.release_date = _date_in(path.name if path.is_file() else str(path.resolve())) or _date_in(release.root)
    return release


def _first_bad_line(rrf: RrfFile) -> LoadError:
    """Find the line that is not UTF-8 (decoding is done in bulk, so the line is searched for afterwards)."""
    with rrf.open() as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return LoadError(rrf.label, f"not valid UTF-8 text ({exc.reason} at byte {exc.start}); RxNorm RRF "
                                 "files are UTF-8", line=number)
    return LoadError(rrf.label, "not valid UTF-8 text; RxNorm RRF files are UTF-8")


def read_rows(rrf: RrfFile, position: SourcePosition, progress: Progress) -> Iterator[list[str]]:
    """The rows of one RRF file as lists of fields, keeping `position` on the current line so errors raised
    by whoever consumes the rows name it. The common case (right width, trailing pipe, LF) costs one split."""
    columns = LAYOUTS[rrf.name]
    label = rrf.label
    parts_per_row = len(columns) + 1
    position.file, position.line, position.path = label, None, None
    task = progress.task(f"RxNorm {rrf.name}", rrf.size())
    number = 0
    reported = 0
    with rrf.open() as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as handle:
        try:
            for line in handle:
                number += 1
                parts = line.split("|")
                if len(parts) == parts_per_row and parts[-1] == "\n" and number != 1:
                    parts.pop()
                else:
                    position.line = number
                    if number == 1 and line.startswith("\ufeff"):
                        raise LoadError(label, "the file starts with a byte-order mark; RRF files are UTF-8 "
                                        "without one", line=1)
                    parts = parse_row(line.rstrip("\r\n"), columns, label, number)
                if number % _PROGRESS_EVERY == 0:
                    done = raw.tell()
                    progress.advance(task, done - reported)
                    reported = done
                position.line = number
                yield parts
        except UnicodeDecodeError:
            raise _first_bad_line(rrf) from None
    progress.advance(task, rrf.size() - reported)
    progress.done(task)
