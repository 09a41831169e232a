"""Finding and reading the files of SNOMED CT RF2 release packages (folders or zips).

A package is laid out as the Release File Specification ships it: `{Full,Snapshot,Delta}/Terminology/` and
`.../Refset/{Content,Language,Map,Metadata}/`. Its root is the folder holding `Snapshot/`; for a copy without
that level, the folder holding `Terminology/` and `Refset/`; for a flat copy, the folder holding the files.
Only Snapshot files are read, recognised by the RF2 file-name pattern
`{FileType}_{ContentType}_{ContentSubType}_{CountryNamespace}_{VersionDate}.txt` (FileType `sct2`/`der2`, or
`xsct2`/`xder2` for files not released for production use); anything under `Full/` or `Delta/` is ignored. Rows are read strictly: exact
header, exact field count, UTF-8 without BOM. The snowstorm test samples carry `#` comment lines and blank
lines, which real releases never contain (every real row starts with an SCTID or UUID), so those are skipped."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

from termsvc.errors import LoadError
from termsvc.loaders.base import Progress
from termsvc.loaders.release_files import ReleaseMember, list_release
from termsvc.store.loadrun import SourcePosition

_REFSET: Final = ("id", "effectiveTime", "active", "moduleId", "refsetId", "referencedComponentId")
_DESCRIPTION: Final = ("id", "effectiveTime", "active", "moduleId", "conceptId", "languageCode", "typeId", "term",
                       "caseSignificanceId")
_RELATIONSHIP_TAIL: Final = ("relationshipGroup", "typeId", "characteristicTypeId", "modifierId")

# kind -> (file-name prefix, exact header)
KINDS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "concept": ("sct2_Concept_", ("id", "effectiveTime", "active", "moduleId", "definitionStatusId")),
    "description": ("sct2_Description_", _DESCRIPTION),
    "text_definition": ("sct2_TextDefinition_", _DESCRIPTION),
    "relationship": ("sct2_Relationship_", ("id", "effectiveTime", "active", "moduleId", "sourceId", "destinationId", *_RELATIONSHIP_TAIL)),
    "concrete": ("sct2_RelationshipConcreteValues_", ("id", "effectiveTime", "active", "moduleId", "sourceId", "value", *_RELATIONSHIP_TAIL)),
    "language": ("der2_cRefset_Language", (*_REFSET, "acceptabilityId")),
    "association": ("der2_cRefset_Association", (*_REFSET, "targetComponentId")),
    "attribute_value": ("der2_cRefset_AttributeValue", (*_REFSET, "valueId")),
    "simple": ("der2_Refset_", _REFSET),
    "extended_map": ("der2_iisssccRefset_ExtendedMap", (*_REFSET, "mapGroup", "mapPriority", "mapRule", "mapAdvice", "mapTarget", "correlationId", "mapCategoryId")),
    "module_dependency": ("der2_ssRefset_ModuleDependency", (*_REFSET, "sourceEffectiveTime", "targetEffectiveTime")),
}
REQUIRED: Final = {"concept": "sct2_Concept_Snapshot_*.txt", "description": "sct2_Description_Snapshot*.txt",
                   "relationship": "sct2_Relationship_Snapshot_*.txt"}
_DATE_IN_NAME: Final = re.compile(r"_(\d{8})\.txt$")
_PROGRESS_EVERY: Final = 20_000


@dataclass(frozen=True)
class Rf2File:
    kind: str
    source: ReleaseMember
    package: str

    @property
    def name(self) -> str:
        """What errors call it: the file's path, or zip-path!member."""
        return self.source.label

    @property
    def path(self) -> Path:
        """The file itself, or the zip holding it."""
        return self.source.path

    @property
    def date(self) -> str | None:
        match = _DATE_IN_NAME.search(self.name)
        return match.group(1) if match else None

    def open(self) -> AbstractContextManager[IO[bytes]]:
        return self.source.open()

    def size(self) -> int:
        return self.source.size


@dataclass
class Package:
    """One RF2 release package: its Snapshot files by kind."""

    root: str
    files: dict[str, list[Rf2File]] = field(default_factory=dict)

    def of(self, kind: str) -> list[Rf2File]:
        return self.files.get(kind, [])

    @property
    def date(self) -> str | None:
        """The release date: the latest date in the package's RF2 file names (`..._YYYYMMDD.txt`)."""
        dates = [f.date for files in self.files.values() for f in files if f.date]
        return max(dates) if dates else None


# Folders of the release layout under a package root; a file under Full/ or Delta/ is never a Snapshot file
_CONTENT_FOLDERS: Final = ("Terminology", "Refset")
_OTHER_RELEASE_TYPES: Final = frozenset({"Full", "Delta"})


def classify(file_name: str) -> str | None:
    """The kind of a Snapshot file from its RF2 name, or None for files this loader does not read."""
    if "Snapshot" not in file_name or not file_name.endswith(".txt"):
        return None
    if file_name.startswith("x"):  # xsct2_ / xder2_: the same files, marked not for production use
        file_name = file_name[1:]
    for kind, (prefix, _header) in KINDS.items():
        if file_name.startswith(prefix):
            return kind
    return None


def package_root(parts: tuple[str, ...]) -> str | None:
    """The package root of a file at `parts` (relative to what was named), or None for a file under a Full/ or
    Delta/ folder."""
    folders = parts[:-1]
    if "Snapshot" not in folders and any(
            name in _OTHER_RELEASE_TYPES and folders[n + 1:n + 2] in ((), *((c,) for c in _CONTENT_FOLDERS))
            for n, name in enumerate(folders)):
        return None  # Full/ or Delta/ at the release-type level; a folder so named higher up is no matter
    for level in ("Snapshot", *_CONTENT_FOLDERS):
        if level in folders:
            return "/".join(folders[:folders.index(level)]) or "."
    return "/".join(folders) or "."


def _add(packages: dict[str, Package], kind: str, rf2: Rf2File) -> None:
    packages.setdefault(rf2.package, Package(rf2.package)).files.setdefault(kind, []).append(rf2)


def _scan(path: Path, packages: dict[str, Package]) -> None:
    """The Snapshot files of the folder or zip at `path`, and of the zips a folder holds."""
    for inside, source in list_release(path, "an RF2 release"):
        if source.member is None and inside.suffix.lower() == ".zip":
            _scan(source.path, packages)
            continue
        kind = classify(inside.name)
        root = package_root(inside.parts) if kind else None
        if kind and root is not None:
            package = f"{path}!{root}" if source.member is not None else str(path.joinpath(root))
            _add(packages, kind, Rf2File(kind, source, package))


def find_packages(paths: list[Path]) -> list[Package]:
    """Every RF2 package under `paths` (folders, zips, or folders holding zips), in a stable order."""
    packages: dict[str, Package] = {}
    for path in paths:
        _scan(path, packages)
    if not packages:
        raise LoadError(", ".join(map(str, paths)), "no SNOMED CT RF2 Snapshot files found (expected a release "
                        "package: Snapshot/Terminology/sct2_Concept_Snapshot_*.txt and the other RF2 files, in a "
                        "folder or a zip; Full/ and Delta/ files are not read)")
    found = [packages[key] for key in sorted(packages)]
    for package in found:
        for kind, pattern in REQUIRED.items():
            if not package.of(kind):
                present = sorted({f.name.rsplit("/", 1)[-1].rsplit("!", 1)[-1] for fs in package.files.values()
                                  for f in fs})
                raise LoadError(package.root, f"this RF2 release package has no {kind} snapshot file ({pattern}); "
                                f"it holds {', '.join(present[:5])}{', ...' if len(present) > 5 else ''}. Name the "
                                "package's root folder (the one holding Snapshot/, or Terminology/ and Refset/)")
    return found


def _decode_error(rf2: Rf2File) -> LoadError:
    """Find the line holding the first byte that is not UTF-8 (read again, on this error path only)."""
    with rf2.open() as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return LoadError(rf2.name, f"not valid UTF-8 text ({exc.reason} at byte {exc.start}); RF2 files "
                                 "are UTF-8", line=number)
    return LoadError(rf2.name, "not valid UTF-8 text; RF2 files are UTF-8")


def read_rows(rf2: Rf2File, position: SourcePosition, progress: Progress) -> Iterator[list[str]]:
    """The data rows of one RF2 file as lists of fields. Keeps `position` on the current line so errors
    raised by whoever consumes the rows name it. Decoding is done by the io layer in large blocks (the hot
    path reads millions of lines); a decoding error is then traced back to its line."""
    header = KINDS[rf2.kind][1]
    width = len(header)
    position.file, position.line, position.path = rf2.name, None, None
    task = progress.task(f"SNOMED CT {rf2.name.rsplit('/', 1)[-1]}", rf2.size())
    pending = 0
    seen_header = False
    with rf2.open() as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8", errors="strict", newline="\n")
        lines = enumerate(text, start=1)
        while True:
            try:
                number, line = next(lines)
            except StopIteration:
                break
            except UnicodeDecodeError:
                raise _decode_error(rf2) from None
            position.line = number
            pending += len(line)
            if number % _PROGRESS_EVERY == 0:
                progress.advance(task, pending)
                pending = 0
            if number == 1 and line.startswith("\ufeff"):
                raise LoadError(rf2.name, "the file starts with a byte-order mark; RF2 files are UTF-8 without "
                                "a BOM", line=1)
            line = line.rstrip("\r\n")
            if not line or line[0] == "#":
                continue
            fields = line.split("\t")
            if len(fields) != width or not seen_header:
                if not seen_header:
                    seen_header = True
                    if tuple(fields) != header:
                        raise LoadError(rf2.name, f"wrong header for an RF2 {rf2.kind} file: expected "
                                        f"{' '.join(header)!r}, found {' '.join(fields)!r}", line=number)
                    continue
                if len(fields) < width:
                    raise LoadError(rf2.name, f"short row: {len(fields)} fields where {width} are expected",
                                    line=number, field_name=header[len(fields)])
                raise LoadError(rf2.name, f"long row: {len(fields)} fields where {width} are expected",
                                line=number)
            active = fields[2]
            if active != "1" and active != "0":
                raise LoadError(rf2.name, f"active must be 0 or 1, not {active!r}", line=number, field_name="active")
            yield fields
    if not seen_header:
        raise LoadError(rf2.name, f"empty file: no RF2 header ({' '.join(header)})", line=1)
    progress.advance(task, pending)
    progress.done(task)
