"""SNOMED CT relationships and reference sets other than language: attribute relationships and concrete values
as properties, historical associations and attribute values as properties of the concepts they name, simple
refset membership as the `refset` property, extended maps (ICD-10) as ConceptMaps.

Conventions (other modules rely on them):
- attribute relationship: property code = the attribute's SCTID (e.g. 363698007 |Finding site|), type `code`,
  value = destination SCTID, value_display = its display, role_group = relationshipGroup.
- concrete value: property code = the attribute's SCTID, typed integer / decimal / string from `#1`, `#2.5`,
  `"text"`, role_group = relationshipGroup. Only these two kinds of property have a role_group.
- historical association (SAME AS, REPLACED BY, POSSIBLY EQUIVALENT TO, WAS A, ...): property code = the
  association refset's SCTID, type `code`, value = target SCTID; attribute value refsets (e.g. concept
  inactivation indicator 900000000000489007) likewise with value = valueId. Only rows about concepts.
- simple refset and extended map membership: property code `refset`, type `code`, value = the refset SCTID,
  for each active member concept (answers `?fhir_vs=refset/{id}`).
- extended map refsets: ConceptMap `http://snomed.info/sct?fhir_cm={refsetId}`, version = the edition's
  version; mapGroup, mapPriority, mapRule, mapAdvice and mapCategory go in each target's comment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from termsvc.errors import LoadError
from termsvc.loaders.base import Progress
from termsvc.loaders.snomed_files import Rf2File, read_rows
from termsvc.loaders.snomed_ids import is_concept_id
from termsvc.store import tables as t
from termsvc.store.bulk import BATCH_ROWS
from termsvc.store.loadrun import PROPERTY_COLUMNS, CodeSystemWriter, LoadRun

SYSTEM: Final = "http://snomed.info/sct"
IS_A: Final = "116680003"
REFSET_PROPERTY: Final = "refset"
# Extended map refsets whose target code system FHIR names (hl7.org/fhir/R4/terminologies-systems.html)
MAP_TARGETS: Final = {"447562003": "http://hl7.org/fhir/sid/icd-10",
                      "6011000124106": "http://hl7.org/fhir/sid/icd-10-cm"}
# Map correlation (the 447247004 and 1193546000 value sets) -> R4 ConceptMapEquivalence, which reads from the
# target's side: a broad source mapped to a narrow target makes the target "narrower".
CORRELATIONS: Final = {"447557004": "equivalent", "1193548004": "equivalent",   # exact match
                       "447559001": "narrower", "1193547009": "narrower",       # broad source, narrow target
                       "447558009": "wider", "1193549007": "wider",             # narrow source, broad target
                       "447560006": "inexact", "1193550007": "inexact",         # partial overlap
                       "447561005": "relatedto", "1193552004": "relatedto",     # correlation not specified
                       "447556008": "unmatched", "1193551006": "unmatched"}     # not mappable


class Batch:
    """Rows for one table gathered here and handed to the bulk writer in batches: the hot loops make
    millions of designation and property rows, and a call chain per row would dominate the load."""

    def __init__(self, run: LoadRun, table: Any, columns: tuple[str, ...]) -> None:
        self.run, self.table, self.columns = run, table, columns
        self.rows: list[Sequence[Any]] = []

    def add(self, row: tuple[Any, ...]) -> None:
        self.rows.append(row)
        if len(self.rows) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.run.bulk.extend(self.table, self.columns, self.rows)
            self.rows = []


def property_batch(run: LoadRun) -> Batch:
    return Batch(run, t.ConceptProperty.__table__, PROPERTY_COLUMNS)  # type: ignore[attr-defined]


def grouped_batch(run: LoadRun) -> Batch:
    """Relationship and concrete value rows: properties with their relationship group."""
    return Batch(run, t.ConceptProperty.__table__, (*PROPERTY_COLUMNS, "role_group"))  # type: ignore[attr-defined]


@dataclass
class ReleaseIndex:
    """What the refset readers need to know about the release: which concepts exist, their displays."""

    run: LoadRun
    writer: CodeSystemWriter
    progress: Progress
    strict: bool
    version: str
    codes: set[str]
    displays: dict[str, str]
    skipped: dict[str, int] = field(default_factory=dict)

    def display(self, code: str) -> str | None:
        return self.displays.get(code)

    def known(self, value: str, field_name: str, what: str) -> bool:
        """Whether `value` names a concept of the release; a bad or unknown one is an error when strict,
        counted and skipped otherwise."""
        if value in self.codes:
            return True
        if self.strict or not value.isdigit():
            position = self.run.position
            raise LoadError(position.file, f"{what} {value!r} is not a concept of this release (load an "
                            "extension together with its base edition)", line=position.line,
                            field_name=field_name)
        self.skipped[what] = self.skipped.get(what, 0) + 1
        return False

    def declare(self, code: str, type: str = "code") -> None:
        self.writer.declare_property(code, type, uri=f"http://snomed.info/id/{code}",
                                     description=self.display(code))


def parse_concrete_value(value: str) -> tuple[str, str] | None:
    """(FHIR type, lexical value) of an RF2 concrete value: #integer, #decimal or "string"."""
    if value.startswith("#"):
        number = value[1:]
        body = number[1:] if number[:1] in "+-" else number
        if body.isdigit():
            return "integer", number
        whole, dot, fraction = body.partition(".")
        if dot and whole.isdigit() and fraction.isdigit():
            return "decimal", number
        return None
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return "string", value[1:-1].replace('""', '"')
    return None


def load_relationships(index: ReleaseIndex, files: list[Rf2File]) -> int:
    writer, position, codes, displays = index.writer, index.run.position, index.codes, index.displays
    concept_id, code_system_id = writer.concept_id, writer.code_system_id
    properties = grouped_batch(index.run)
    declared: set[str] = set()
    edges = 0
    for rf2 in files:
        for fields in read_rows(rf2, position, index.progress):
            if fields[2] != "1":
                continue
            source, destination, type_id = fields[4], fields[5], fields[7]
            if not (source in codes and destination in codes and type_id in codes) and not (
                    index.known(source, "sourceId", "relationship source")
                    and index.known(destination, "destinationId", "relationship destination")
                    and index.known(type_id, "typeId", "relationship type")):
                continue
            if type_id == IS_A:
                writer.add_edge(destination, source)
                edges += 1
            else:
                if type_id not in declared:
                    declared.add(type_id)
                    index.declare(type_id)
                properties.add((concept_id(source), code_system_id, type_id, "code", destination, SYSTEM,
                                displays.get(destination), _group(fields[6])))
    properties.flush()
    return edges


def _group(value: str) -> int:
    return int(value) if value.isdigit() else 0


def load_concrete_values(index: ReleaseIndex, files: list[Rf2File]) -> None:
    position = index.run.position
    properties = grouped_batch(index.run)
    for rf2 in files:
        for fields in read_rows(rf2, position, index.progress):
            if fields[2] != "1":
                continue
            source, type_id = fields[4], fields[7]
            typed = parse_concrete_value(fields[5])
            if typed is None:
                raise LoadError(rf2.name, f"concrete value {fields[5]!r} is neither #number nor \"string\"",
                                line=position.line, field_name="value")
            if not (index.known(source, "sourceId", "concrete value source")
                    and index.known(type_id, "typeId", "concrete value type")):
                continue
            index.declare(type_id, typed[0])
            properties.add((index.writer.concept_id(source), index.writer.code_system_id, type_id, typed[0], typed[1],
                            None, None, _group(fields[6])))
    properties.flush()


def load_concept_valued(index: ReleaseIndex, files: list[Rf2File], what: str) -> None:
    """Association and attribute-value refsets: on each concept member, property code = refset id,
    value = the target / value concept."""
    position = index.run.position
    for rf2 in files:
        for fields in read_rows(rf2, position, index.progress):
            member = fields[5]
            if fields[2] != "1" or not is_concept_id(member):
                continue  # description and relationship members carry no concept property
            if not index.known(member, "referencedComponentId", f"{what} member"):
                continue
            refset, target = fields[4], fields[6]
            if not target.isdigit():
                raise LoadError(rf2.name, f"{what} target {target!r} is not an SCTID", line=position.line,
                                field_name=KIND_TARGET_FIELD[rf2.kind])
            index.declare(refset)
            index.writer.add_property(member, refset, target, type="code", system=SYSTEM,
                                      display=index.display(target))


KIND_TARGET_FIELD: Final = {"association": "targetComponentId", "attribute_value": "valueId"}


def load_simple(index: ReleaseIndex, files: list[Rf2File]) -> None:
    position = index.run.position
    for rf2 in files:
        for fields in read_rows(rf2, position, index.progress):
            member = fields[5]
            if fields[2] != "1" or not is_concept_id(member):
                continue
            if index.known(member, "referencedComponentId", "simple refset member"):
                index.writer.add_property(member, REFSET_PROPERTY, fields[4], type="code")


def _comment(group: str, priority: str, rule: str, advice: str, category: str) -> str:
    parts = [f"mapGroup {group}", f"mapPriority {priority}"]
    if rule:
        parts.append(f"mapRule {rule}")
    if advice:
        parts.append(f"mapAdvice {advice}")
    if category:
        parts.append(f"mapCategory {category}")
    return "; ".join(parts)


def load_extended_maps(index: ReleaseIndex, files: list[Rf2File], module: str) -> None:
    """Each extended map refset becomes one ConceptMap; its members also get the `refset` property."""
    position = index.run.position
    maps: dict[str, dict[str, list[dict[str, Any]]]] = {}
    members: set[tuple[str, str]] = set()
    for rf2 in files:
        for fields in read_rows(rf2, position, index.progress):
            if fields[2] != "1":
                continue
            refset, source = fields[4], fields[5]
            if not index.known(source, "referencedComponentId", "map source"):
                continue
            group, priority, rule, advice, target, correlation, category = fields[6:13]
            if not group.isdigit() or not priority.isdigit():
                raise LoadError(rf2.name, "mapGroup and mapPriority must be integers", line=position.line,
                                field_name="mapGroup" if not group.isdigit() else "mapPriority")
            entry: dict[str, Any] = {"comment": _comment(group, priority, rule, advice, category)}
            if target:
                entry["code"] = target
                entry["equivalence"] = CORRELATIONS.get(correlation, "relatedto")
            else:
                entry["equivalence"] = "unmatched"
            maps.setdefault(refset, {}).setdefault(source, []).append(entry)
            if (source, refset) not in members:
                members.add((source, refset))
                index.writer.add_property(source, REFSET_PROPERTY, refset, type="code")
    for refset, elements in maps.items():
        group_json: dict[str, Any] = {"source": SYSTEM, "sourceVersion": index.version,
                                      "element": [{"code": code, "display": index.display(code), "target": targets}
                                                  for code, targets in elements.items()]}
        target_system = MAP_TARGETS.get(refset)
        if target_system:
            group_json["target"] = target_system
        index.run.concept_map({
            "resourceType": "ConceptMap", "id": f"sct-{module}-{refset}",
            "url": f"{SYSTEM}?fhir_cm={refset}", "version": index.version,
            "name": f"SNOMED_CT_map_{refset}", "title": index.display(refset) or f"SNOMED CT map {refset}",
            "status": "active", "sourceUri": f"{SYSTEM}?fhir_vs",
            **({"targetUri": target_system} if target_system else {}),
            "group": [group_json]})
