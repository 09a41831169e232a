"""A LOINC release as shipped: a folder or a zip. Files are found by name wherever they sit (Regenstrief
has moved them between folders across releases), and the release version is read from the release's name.

Required: `Loinc.csv`. Optional, each loaded when present: `Part.csv`, `LoincPartLink_Primary.csv`
(and `LoincPartLink_Supplementary.csv` when asked for), `MapTo.csv`, `ConsumerName.csv`, `AnswerList.csv`,
`LoincAnswerListLink.csv` (needs `AnswerList.csv`), `ComponentHierarchyBySystem.csv`, and the linguistic
variants (`LinguisticVariants.csv` and `<ll><CC><id>LinguisticVariant.csv`).

Version rule: the `version` option when given; otherwise the first `N.NN` number in the release's name
(the folder, the zip file, or the zip's single top folder: `Loinc_2.80`, `loinc-2.81.zip`). Columns such
as VersionLastChanged only say when a row last changed, not which release it is, so they are never used;
with no version to be found the load stops and says how to give one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from termsvc.errors import LoadError
from termsvc.loaders.release_files import ReleaseMember, list_release

LOINC_TABLE = "Loinc.csv"
PART = "Part.csv"
PART_LINK_PRIMARY = "LoincPartLink_Primary.csv"
PART_LINK_SUPPLEMENTARY = "LoincPartLink_Supplementary.csv"
MAP_TO = "MapTo.csv"
CONSUMER_NAME = "ConsumerName.csv"
ANSWER_LIST = "AnswerList.csv"
ANSWER_LIST_LINK = "LoincAnswerListLink.csv"
HIERARCHY = "ComponentHierarchyBySystem.csv"
VARIANT_INDEX = "LinguisticVariants.csv"

REQUIRED = (LOINC_TABLE,)
# a file that only makes sense with another one: (file, the file it needs)
NEEDS = ((ANSWER_LIST_LINK, ANSWER_LIST),)
# where Regenstrief ships each file; used only to choose when a name occurs more than once
USUAL_FOLDER = {LOINC_TABLE: "LoincTable", MAP_TO: "LoincTable", PART: "PartFile",
                PART_LINK_PRIMARY: "PartFile", PART_LINK_SUPPLEMENTARY: "PartFile", ANSWER_LIST: "AnswerFile",
                ANSWER_LIST_LINK: "AnswerFile", CONSUMER_NAME: "ConsumerName",
                HIERARCHY: "ComponentHierarchyBySystem", VARIANT_INDEX: "LinguisticVariants"}

VARIANT_FILE = re.compile(r"^([a-z]{2,3})([A-Z]{2})(\d+)LinguisticVariant\.csv$")
_VERSION = re.compile(r"(?<![\d.])(\d+\.\d+)(?![\d.])")


@dataclass(frozen=True)
class ReleaseFile:
    name: str  # path inside the release, for messages and checksums
    source: ReleaseMember

    @property
    def size(self) -> int:
        return self.source.size


@dataclass
class Release:
    """The files of one release, by lower-cased base name; opened as binary streams."""

    root: Path
    files: dict[str, list[ReleaseFile]] = field(default_factory=dict)

    def find(self, base_name: str) -> ReleaseFile | None:
        found = self.files.get(base_name.lower(), [])
        if len(found) <= 1:
            return found[0] if found else None
        usual = USUAL_FOLDER.get(base_name)
        preferred = [f for f in found if usual and PurePosixPath(f.name).parent.name == usual]
        if len(preferred) == 1:
            return preferred[0]
        raise LoadError(base_name, "found more than once in the release: " + ", ".join(f.name for f in found))

    def variant_files(self) -> list[ReleaseFile]:
        out = [f for group in self.files.values() for f in group
               if VARIANT_FILE.match(PurePosixPath(f.name).name)]
        return sorted(out, key=lambda f: f.name)

    def open(self, item: ReleaseFile) -> AbstractContextManager[IO[bytes]]:
        return item.source.open()


@contextmanager
def open_release(path: Path) -> Iterator[Release]:
    release = Release(path)
    for inside, member in list_release(path, "a LOINC release"):
        _add(release, ReleaseFile(inside.as_posix(), member))
    check_complete(release)
    yield release


def _add(release: Release, item: ReleaseFile) -> None:
    release.files.setdefault(PurePosixPath(item.name).name.lower(), []).append(item)


def check_complete(release: Release) -> None:
    for name in REQUIRED:
        if release.find(name) is None:
            raise LoadError(name, f"required file {name} (LoincTable/{name}) is missing from the release "
                                  f"{release.root}")
    for name, needed in NEEDS:
        if release.find(name) is not None and release.find(needed) is None:
            raise LoadError(needed, f"{name} is present but {needed}, which it refers to, is missing from "
                                    f"the release {release.root}")


def release_version(release: Release, given: str | None) -> str:
    if given:
        return given.strip()
    names = [release.root.stem if release.root.is_file() else release.root.name]
    tops = {PurePosixPath(f.name).parts[0] for group in release.files.values() for f in group
            if len(PurePosixPath(f.name).parts) > 1}
    if len(tops) == 1:
        names.append(tops.pop())
    for name in names:
        match = _VERSION.search(name)
        if match:
            return match.group(1)
    raise LoadError(str(release.root), "cannot tell the LOINC release version: name the folder or zip after "
                                       "it (e.g. Loinc_2.80) or pass version=2.80 (termsvc load --version)")
