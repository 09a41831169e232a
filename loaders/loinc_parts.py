"""LOINC parts: Part.csv (LP codes as concepts), the part links (LoincPartLink_*.csv, Coding properties on
the terms) and the multi-axial component hierarchy (ComponentHierarchyBySystem.csv, is-a edges whose
closure the store builds)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from termsvc.errors import LoadError
from termsvc.loaders.base import Progress
from termsvc.loaders.loinc_csv import read_table
from termsvc.loaders.loinc_model import (
    AXIS_BIT,
    EN,
    INACTIVE_STATUSES,
    PART_TYPES_FOR_AXES,
    SYSTEM,
    property_uri,
    use,
)
from termsvc.loaders.loinc_release import HIERARCHY, PART, Release, ReleaseFile
from termsvc.store import tables as t
from termsvc.store.loadrun import PROPERTY_COLUMNS, CodeSystemWriter, LoadRun

_DISPLAY_NAME_USE = use("DisplayName")
_PROPERTY_TABLE = t.ConceptProperty.__table__  # type: ignore[attr-defined]
_HAND_OVER = 5_000  # rows gathered before they go to the bulk writer
# the property a link names by its PartTypeName when the file has no Property column (older releases)
_PROPERTY_FOR_TYPE = {"TIME": "TIME_ASPCT", "SCALE": "SCALE_TYP", "METHOD": "METHOD_TYP"}


class PartIndex:
    """Axis parts by (type, name), to turn Loinc.csv's axis text into part codes. An active part wins
    over a deprecated one of the same name; otherwise the first one listed."""

    def __init__(self) -> None:
        self._by_name: dict[tuple[str, str], tuple[str, str, bool]] = {}

    def add(self, part_type: str, name: str, code: str, active: bool) -> None:
        key = (part_type, name)
        known = self._by_name.get(key)
        if known is None or (active and not known[2]):
            self._by_name[key] = (code, name, active)

    def resolve(self, part_type: str, name: str) -> tuple[str, str] | None:
        found = self._by_name.get((part_type, name))
        return (found[0], found[1]) if found else None

    def __len__(self) -> int:
        return len(self._by_name)


def load_parts(run: LoadRun, writer: CodeSystemWriter, release: Release, progress: Progress) -> PartIndex:
    index = PartIndex()
    item = release.find(PART)
    if item is None:
        return index
    count = 0
    with read_table(run, release, item, progress, ("PartNumber", "PartTypeName", "PartName", "Status")
                    ) as (header, body):
        at_code, at_type = header.index["PartNumber"], header.index["PartTypeName"]
        at_name, at_status = header.index["PartName"], header.index["Status"]
        at_display = header.get("PartDisplayName")
        for line, row in body:
            code, part_type, name = row[at_code].strip(), row[at_type].strip(), row[at_name].strip()
            if not code:
                raise LoadError(item.name, "empty part number", line=line, field_name="PartNumber")
            status = row[at_status].strip() or None
            active = (status or "").upper() not in INACTIVE_STATUSES
            writer.add_concept(code, name or None, active=active, status=status)
            count += 1
            if status:
                writer.add_property(code, "STATUS", status)
            if part_type:
                writer.add_property(code, "PartTypeName", part_type)
                if part_type in PART_TYPES_FOR_AXES and name:
                    index.add(part_type, name, code, active)
            if at_display is not None:
                display = row[at_display].strip()
                if display and display != name:
                    writer.add_designation(code, display, language=EN, use=_DISPLAY_NAME_USE)
    run.counts["loinc:parts"] = count
    return index


def load_part_links(run: LoadRun, writer: CodeSystemWriter, release: Release, progress: Progress,
                    item: ReleaseFile, linked: dict[str, int] | None) -> None:
    """Each link is a Coding property on the term, named by the link's Property URI (its last segment, as
    HL7's LOINC CodeSystem names them). `linked` collects, per term, which axes links gave."""
    count = 0
    with read_table(run, release, item, progress, ("LoincNumber", "PartNumber", "PartTypeName")
                    ) as (header, body):
        at_term, at_part, at_type = header.index["LoincNumber"], header.index["PartNumber"], header.index["PartTypeName"]
        at_name, at_system, at_property = header.get("PartName"), header.get("PartCodeSystem"), header.get("Property")
        codes: dict[tuple[str, str], str] = {}
        cs = writer.code_system_id
        rows: list[Sequence[Any]] = []
        last_term, cid = "", 0
        for line, row in body:
            term, part = row[at_term].strip(), row[at_part].strip()
            if not term or not part:
                raise LoadError(item.name, "empty code in a part link", line=line,
                                field_name="LoincNumber" if not term else "PartNumber")
            uri = row[at_property].strip() if at_property is not None else ""
            part_type = row[at_type].strip()
            prop = codes.get((uri, part_type))
            if prop is None:
                prop = _property_code(uri, part_type)
                if not prop:
                    raise LoadError(item.name, "the link names no property (Property and PartTypeName empty)",
                                    line=line, field_name="Property")
                writer.declare_property(prop, "Coding", uri=uri or property_uri(prop))
                codes[(uri, part_type)] = prop
            if term != last_term:  # links come grouped by term: one id lookup per term
                last_term, cid = term, writer.concept_id(term)
            system = (row[at_system].strip() if at_system is not None else "") or SYSTEM
            name = row[at_name].strip() if at_name is not None else ""
            rows.append((cid, cs, prop, "Coding", part, system, name or None))
            count += 1
            if len(rows) >= _HAND_OVER:
                run.bulk.extend(_PROPERTY_TABLE, PROPERTY_COLUMNS, rows)
                rows.clear()
            if linked is not None:
                bit = AXIS_BIT.get(prop)
                if bit:
                    linked[term] = linked.get(term, 0) | bit
        run.bulk.extend(_PROPERTY_TABLE, PROPERTY_COLUMNS, rows)
    run.counts[f"loinc:part links ({item.name.rsplit('/', 1)[-1]})"] = count


def _property_code(uri: str, part_type: str) -> str:
    if uri:
        return uri.rstrip("/").rsplit("/", 1)[-1]
    return _PROPERTY_FOR_TYPE.get(part_type, part_type)


def load_hierarchy(run: LoadRun, writer: CodeSystemWriter, release: Release, progress: Progress) -> None:
    """Multi-axial: a code may sit under several parents, and appear on several rows (one per path to the
    root); each distinct parent->child pair becomes one edge. A node no other file defines (some grouping
    parts) is defined here with its CODE_TEXT as display."""
    item = release.find(HIERARCHY)
    if item is None:
        return
    seen: set[int] = set()
    added = 0
    with read_table(run, release, item, progress, ("IMMEDIATE_PARENT", "CODE", "CODE_TEXT")) as (header, body):
        at_parent, at_code, at_text = header.index["IMMEDIATE_PARENT"], header.index["CODE"], header.index["CODE_TEXT"]
        concept_id = writer.concept_id
        for line, row in body:
            code, parent = row[at_code].strip(), row[at_parent].strip()
            if not code:
                raise LoadError(item.name, "empty code", line=line, field_name="CODE")
            if not writer.has_code(code):
                writer.add_concept(code, row[at_text].strip() or None)
                added += 1
            if parent:
                key = (concept_id(parent) << 40) | concept_id(code)
                if key not in seen:
                    seen.add(key)
                    writer.add_edge(parent, code)
    run.counts["loinc:hierarchy edges"] = len(seen)
    run.counts["loinc:hierarchy-only nodes"] = added
