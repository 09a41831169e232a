"""Loinc.csv: one concept per term, every column kept (as display, definition, designation or property),
plus the replacements of MapTo.csv and the consumer names of ConsumerName.csv. See loinc_model for the
mapping rules. Columns are planned once from the header, so each row is handled by index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from termsvc.errors import LoadError
from termsvc.loaders.base import Progress
from termsvc.loaders.loinc_csv import Header, read_table
from termsvc.loaders.loinc_model import (
    AXES,
    AXIS_BIT,
    CLASSTYPE_MEANING,
    CODE_LIST_COLUMNS,
    DECLARED,
    EN,
    INACTIVE_STATUSES,
    NAME_COLUMNS,
    NOT_PROPERTIES,
    SYSTEM,
    property_uri,
    use,
)
from termsvc.loaders.loinc_parts import PartIndex
from termsvc.loaders.loinc_release import CONSUMER_NAME, LOINC_TABLE, MAP_TO, Release
from termsvc.store import tables as t
from termsvc.store.loadrun import DESIGNATION_COLUMNS, PROPERTY_COLUMNS, CodeSystemWriter, LoadRun

REQUIRED_COLUMNS = ("LOINC_NUM", "COMPONENT", "PROPERTY", "TIME_ASPCT", "SYSTEM", "SCALE_TYP", "METHOD_TYP",
                    "CLASS", "STATUS", "LONG_COMMON_NAME")
_LCN_USE = use("LONG_COMMON_NAME")
_RELATED_USE = use("RELATEDNAMES2")
_CONSUMER_USE = use("ConsumerName")
_PROPERTY_TABLE = t.ConceptProperty.__table__  # type: ignore[attr-defined]
_DESIGNATION_TABLE = t.Designation.__table__  # type: ignore[attr-defined]
_HAND_OVER = 5_000  # rows gathered before they go to the bulk writer


@dataclass
class _Plan:
    """What to do with each column of this release's Loinc.csv."""

    code: int
    status: int
    long_name: int
    definition: int | None
    designations: list[tuple[int, tuple[str, str, str]]] = field(default_factory=list)
    axes: list[tuple[int, str, int, str]] = field(default_factory=list)  # index, property, bit, part type
    code_lists: list[tuple[int, str]] = field(default_factory=list)
    strings: list[tuple[int, str]] = field(default_factory=list)
    classtype: int | None = None
    consumer_name: int | None = None


def _plan(header: Header, writer: CodeSystemWriter) -> _Plan:
    index = header.index
    plan = _Plan(index["LOINC_NUM"], index["STATUS"], index["LONG_COMMON_NAME"], index.get("DefinitionDescription"))
    for column, position in index.items():
        if column in NAME_COLUMNS:
            plan.designations.append((position, use(NAME_COLUMNS[column])))
            if column == "CONSUMER_NAME":
                plan.consumer_name = position
        if column in NOT_PROPERTIES:
            continue
        if column in AXES:
            plan.axes.append((position, column, AXIS_BIT[column], AXES[column]))
        elif column in CODE_LIST_COLUMNS:
            plan.code_lists.append((position, column))
        elif column == "CLASSTYPE":
            plan.classtype = position
        else:
            plan.strings.append((position, column))
        if column not in DECLARED:  # a column this release adds: kept as a string property
            writer.declare_property(column, "string", uri=property_uri(column))
    return plan


def load_terms(run: LoadRun, writer: CodeSystemWriter, release: Release, progress: Progress, parts: PartIndex,
               linked: dict[str, int]) -> dict[str, str]:
    """Write every term; return the consumer names Loinc.csv itself carried (so ConsumerName.csv does not
    repeat them). The hot loop builds property and designation rows itself (the concept id is known once
    the term is added) and hands them to the bulk writer in batches: this table is most of a release."""
    item = release.find(LOINC_TABLE)
    assert item is not None  # checked when the release was opened
    consumer_names: dict[str, str] = {}
    count = 0
    cs = writer.code_system_id
    props: list[Sequence[Any]] = []
    names: list[Sequence[Any]] = []

    def hand_over() -> None:
        run.bulk.extend(_PROPERTY_TABLE, PROPERTY_COLUMNS, props)
        run.bulk.extend(_DESIGNATION_TABLE, DESIGNATION_COLUMNS, names)
        props.clear()
        names.clear()

    with read_table(run, release, item, progress, REQUIRED_COLUMNS) as (header, body):
        plan = _plan(header, writer)
        resolve = parts.resolve
        for line, row in body:
            code = row[plan.code].strip()
            if not code:
                raise LoadError(item.name, "empty LOINC number", line=line, field_name="LOINC_NUM")
            status = row[plan.status].strip() or None
            long_name = row[plan.long_name].strip()
            definition = row[plan.definition].strip() if plan.definition is not None else ""
            cid = writer.add_concept(code, long_name or None,
                                     active=(status or "").upper() not in INACTIVE_STATUSES, status=status,
                                     definition=definition or None)
            count += 1
            if long_name:
                names.append((cid, EN, *_LCN_USE, long_name, True))
            for position, designation_use in plan.designations:
                value = row[position].strip()
                if value:
                    names.append((cid, EN, *designation_use, value, None))
            if plan.consumer_name is not None and row[plan.consumer_name].strip():
                consumer_names[code] = row[plan.consumer_name].strip()
            linked_axes = linked.get(code, 0)
            for position, prop, bit, part_type in plan.axes:
                value = row[position].strip()
                if not value or linked_axes & bit:
                    continue  # empty, or LoincPartLink_Primary.csv already gave it as a part Coding
                part = resolve(part_type, value)
                if part is None:
                    props.append((cid, cs, prop, "string", value, None, None))
                else:
                    props.append((cid, cs, prop, "Coding", part[0], SYSTEM, part[1]))
            for position, prop in plan.code_lists:
                for target in row[position].split(";"):
                    target = target.strip()
                    if target:
                        props.append((cid, cs, prop, "Coding", target, SYSTEM, None))
            if plan.classtype is not None:
                value = row[plan.classtype].strip()
                if value:
                    props.append((cid, cs, "CLASSTYPE", "string", value, None, CLASSTYPE_MEANING.get(value)))
            for position, prop in plan.strings:
                value = row[position].strip()
                if value:
                    props.append((cid, cs, prop, "string", value, None, None))
                    if prop == "RELATEDNAMES2":
                        names.append((cid, EN, *_RELATED_USE, value, None))
            if len(props) >= _HAND_OVER:
                hand_over()
        hand_over()
    run.counts["loinc:terms"] = count
    return consumer_names


def load_map_to(run: LoadRun, writer: CodeSystemWriter, release: Release, progress: Progress) -> None:
    """MapTo.csv: the replacements of deprecated and discouraged terms, as MAP_TO Codings."""
    item = release.find(MAP_TO)
    if item is None:
        return
    count = 0
    with read_table(run, release, item, progress, ("LOINC", "MAP_TO")) as (header, body):
        source, target = header.index["LOINC"], header.index["MAP_TO"]
        for line, row in body:
            code, replacement = row[source].strip(), row[target].strip()
            if not code or not replacement:
                raise LoadError(item.name, "empty LOINC number", line=line,
                                field_name="LOINC" if not code else "MAP_TO")
            if not writer.has_code(code):
                raise LoadError(item.name, f"{code} is not a term of Loinc.csv", line=line, field_name="LOINC")
            writer.add_property(code, "MAP_TO", replacement, type="Coding", system=SYSTEM)
            count += 1
    run.counts["loinc:replacements"] = count


def load_consumer_names(run: LoadRun, writer: CodeSystemWriter, release: Release, progress: Progress,
                        already: dict[str, str]) -> None:
    item = release.find(CONSUMER_NAME)
    if item is None:
        return
    count = skipped = 0
    with read_table(run, release, item, progress, ("LoincNumber", "ConsumerName")) as (header, body):
        code_at, name_at = header.index["LoincNumber"], header.index["ConsumerName"]
        for _line, row in body:
            code, name = row[code_at].strip(), row[name_at].strip()
            if not name or already.get(code) == name:
                continue
            if not writer.has_code(code):
                skipped += 1  # a name for a term this release (or subset) does not carry
                continue
            writer.add_designation(code, name, language=EN, use=_CONSUMER_USE)
            count += 1
    run.counts["loinc:consumer names"] = count
    if skipped:
        run.counts["loinc:consumer names for unknown terms (skipped)"] = skipped
