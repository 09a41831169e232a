"""Reading FHIR resources out of the inputs `termsvc load fhir` accepts: one JSON or XML file, a folder
(recursively), or a FHIR NPM package (`.tgz`, read as a stream: only `package/*.json` members, and
non-terminology resources skipped after a peek at their resourceType, without parsing them).

Everything here turns bad input into a LoadError naming the file (for a package member,
`package.tgz:package/Name.json`), the line or element path, and what is wrong."""

from __future__ import annotations

import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from termsvc.errors import LoadError
from termsvc.fhir_xml_read import FhirXmlError, from_xml
from termsvc.loaders.base import ByteCounter, Progress

TERMINOLOGY = frozenset({"CodeSystem", "ValueSet", "ConceptMap"})
WANTED = TERMINOLOGY | {"Bundle"}
# resourceType as the first key (FHIR's convention), or an XML root element: enough to skip a resource
# without parsing it. Anything else is parsed in full.
_JSON_TYPE = re.compile(rb'\s*\{\s*"resourceType"\s*:\s*"([A-Za-z]+)"')
_XML_ROOT = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s/>]')
_HOLDS_TERMINOLOGY = re.compile(rb'"resourceType"\s*:\s*"(?:CodeSystem|ValueSet|ConceptMap)"'
                                rb'|<(?:[\w.-]+:)?(?:CodeSystem|ValueSet|ConceptMap)[\s/>]')
_XML_FHIR = re.compile(rb'xmlns(?::[\w.-]+)?\s*=\s*["\']http://hl7\.org/fhir["\']')
_BOM = b"\xef\xbb\xbf"


@dataclass
class Parsed:
    """One resource read from `file`; `path` is its element path there (`Bundle.entry[2].resource`);
    `lines` maps element paths to lines where the format gives them (XML)."""

    file: str
    resource: dict[str, Any]
    path: str
    lines: dict[str, int] | None = None


@dataclass
class Skipped:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1


def _decode_problem(name: str, data: bytes) -> LoadError | None:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return LoadError(name, "UTF-16 text: FHIR JSON and XML files must be UTF-8", line=1)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return LoadError(name, f"not valid UTF-8 text ({exc.reason} at byte {exc.start})", line=line)
    return None


def parse_json(name: str, data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        problem = _decode_problem(name, data)
        if problem is not None:
            raise problem from None
        raise LoadError(name, f"malformed JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from None


def parse_bytes(name: str, data: bytes) -> tuple[dict[str, Any], dict[str, int] | None]:
    """One file's bytes -> (resource dict, element lines or None). JSON or XML is told by content."""
    body = data[len(_BOM):] if data.startswith(_BOM) else data
    stripped = body.lstrip()
    if not stripped:
        raise LoadError(name, "empty file: expected a FHIR resource in JSON or XML")
    if stripped[:1] == b"<":
        lines: dict[str, int] = {}
        try:
            return from_xml(body, positions=lines), lines
        except FhirXmlError as exc:
            problem = _decode_problem(name, body) if "encoding" in exc.detail.lower() else None
            raise problem or LoadError(name, exc.detail, line=exc.line, path=exc.path) from None
    if stripped[:1] not in (b"{", b"["):
        problem = _decode_problem(name, data)
        raise problem or LoadError(name, "neither JSON nor XML: expected a FHIR resource", line=1)
    value = parse_json(name, body)
    if not isinstance(value, dict):
        raise LoadError(name, f"not a FHIR resource: the JSON is {type(value).__name__}, not an object", line=1,
                        field_name="resourceType")
    if not isinstance(value.get("resourceType"), str):
        raise LoadError(name, "not a FHIR resource: no resourceType", field_name="resourceType")
    return value, None


def peek_type(data: bytes) -> str | None:
    """The resource type of a file, read from its first bytes where that is certain; None otherwise.
    XML whose root is not in the FHIR namespace gives "non-FHIR XML"."""
    head = data[len(_BOM):4096] if data.startswith(_BOM) else data[:4096]
    json_type = _JSON_TYPE.match(head)
    if json_type is not None:
        return json_type.group(1).decode()
    if head.lstrip()[:1] == b"<":
        root = _XML_ROOT.search(head)
        if root is not None:
            end = head.find(b">", root.end() - 1)
            if end >= 0 and not _XML_FHIR.search(head, root.start(), end + 1):
                return "non-FHIR XML"
            return root.group(1).decode()
    return None


def may_hold_terminology(data: bytes) -> bool:
    """False when no CodeSystem, ValueSet or ConceptMap can be in the file (a Bundle of Provenance, say),
    so it need not be parsed."""
    return _HOLDS_TERMINOLOGY.search(data) is not None


def resources_in(name: str, resource: dict[str, Any], lines: dict[str, int] | None, skipped: Skipped,
                 path: str = "") -> Iterator[Parsed]:
    """The terminology resources in one parsed resource: itself, or a Bundle's entries (recursively)."""
    kind = resource.get("resourceType")
    here = path or str(kind)
    if kind in TERMINOLOGY:
        yield Parsed(name, resource, here, lines)
    elif kind == "Bundle":
        entries = resource.get("entry") or []
        if not isinstance(entries, list):
            raise LoadError(name, "Bundle.entry is not a list", path=f"{here}.entry")
        for index, entry in enumerate(entries):
            inner = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(inner, dict):
                yield from resources_in(name, inner, lines, skipped, f"{here}.entry[{index}].resource")
    else:
        skipped.add(str(kind))


def read_file(path: Path, display: str) -> tuple[dict[str, Any], dict[str, int] | None]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(display, f"cannot read: {exc.strerror}") from None
    return parse_bytes(display, data)


def from_folder(folder: Path, progress: Progress, skipped: Skipped) -> Iterator[tuple[str, bytes]]:
    """Files under a folder, recursively, in name order; only .json and .xml, hidden files and the NPM
    package manifest left out."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in (".json", ".xml")
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    task = progress.task(f"FHIR resources in {folder.name}", sum(f.stat().st_size for f in files))
    for file in files:
        data = file.read_bytes()
        if file.name == "package.json":
            skipped.add("package.json")
        else:
            yield str(file), data
        progress.advance(task, len(data))
    progress.done(task)


def _package_member(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and parts[0] == "package" and parts[1].endswith(".json") \
        and not parts[1].startswith(".") and parts[1] != "package.json"


def from_package(path: Path, progress: Progress, skipped: Skipped) -> Iterator[tuple[str, bytes]]:
    """Members of an NPM package read as a stream (the archive is never unpacked to disk)."""
    task = progress.task(f"FHIR package {path.name}", path.stat().st_size)
    with path.open("rb") as handle:
        try:
            with tarfile.open(fileobj=ByteCounter(handle, progress, task), mode="r|*") as tar:  # type: ignore[call-overload]
                for member in tar:
                    if not member.isfile() or not _package_member(member.name):
                        continue
                    stream = tar.extractfile(member)
                    if stream is None:
                        continue
                    yield f"{path}:{member.name}", stream.read()
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise LoadError(str(path), f"not a readable FHIR package (.tgz): {exc}") from None
    progress.done(task)
