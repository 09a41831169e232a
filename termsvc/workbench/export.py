"""Writing a project's mappings out: the ConceptMap (JSON or XML), a flat CSV, or an OMOP CDM
source_to_concept_map table."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from termsvc.errors import Invalid, LoadError
from termsvc.fhir_xml import to_xml
from termsvc.workbench import decisions as d
from termsvc.workbench.conceptmap import build
from termsvc.workbench.local_codes import StoredCode, all_codes
from termsvc.workbench.projects import Project
from termsvc.workbench.publish import next_version, published_map
from termsvc.workbench.targets import target_version

FORMATS = ("json", "xml", "csv", "omop")
CSV_COLUMNS = ("local_code", "local_display", "count", "state", "target_code", "target_display", "equivalence",
               "comment")
# OMOP CDM v5.4 SOURCE_TO_CONCEPT_MAP, in the documented column order
OMOP_COLUMNS = ("source_code", "source_concept_id", "source_vocabulary_id", "source_code_description",
                "target_concept_id", "target_vocabulary_id", "valid_start_date", "valid_end_date", "invalid_reason")
OMOP_VOCABULARY = {"http://loinc.org": "LOINC", "http://snomed.info/sct": "SNOMED",
                   "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
                   "http://hl7.org/fhir/sid/icd-10-cm": "ICD10CM"}


def concept_map(conn: Connection, project: Project, version: str | None = None) -> dict[str, Any]:
    """A published version if asked for; otherwise the current decisions as a draft of the next version."""
    if version:
        stored = published_map(conn, project, version)
        if stored is None:
            raise Invalid(f"version {version} of {project.map_url} has not been published")
        return dict(json.loads(stored))
    return build(conn, project, target_version(conn, project), next_version(conn, project.map_url), status="draft")


def omop_concept_ids(path: Path, vocabulary: str) -> dict[str, int]:
    """concept_code -> concept_id from an Athena CONCEPT.csv (tab-separated), for one vocabulary."""
    ids: dict[str, int] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        for name in ("concept_id", "vocabulary_id", "concept_code"):
            if name not in (reader.fieldnames or []):
                raise LoadError(str(path), f"no column {name!r} (an Athena CONCEPT.csv is tab-separated)", line=1,
                                field_name=name)
        for row in reader:
            if row["vocabulary_id"] == vocabulary:
                ids[row["concept_code"]] = int(row["concept_id"])
    return ids


def export(conn: Connection, project: Project, fmt: str, out: Path, *, version: str | None = None,
           omop_concepts: Mapping[str, int] | None = None) -> int:
    """Writes the file; returns the number of mapped rows written."""
    if fmt not in FORMATS:
        raise Invalid(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}")
    if fmt in ("json", "xml"):
        resource = concept_map(conn, project, version)
        if fmt == "json":
            out.write_text(json.dumps(resource, indent=2, ensure_ascii=False), encoding="utf-8")
        else:
            out.write_bytes(to_xml(resource))
        return sum(len(g.get("element", [])) for g in resource.get("group", []))
    rows = _rows(conn, project)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if fmt == "csv":
            writer.writerow(CSV_COLUMNS)
            writer.writerows((code.code, code.display, code.count, s.state, s.target_code or "",
                              s.target_display or "", s.equivalence or "", s.comment or "") for code, s in rows)
            return len(rows)
        return _omop(writer, project, rows, omop_concepts or {})


def _rows(conn: Connection, project: Project) -> list[tuple[StoredCode, d.State]]:
    """Every local code with its state, then one more row per additional approved target."""
    states, extras = d.current_states(conn, project), d.additional_targets(conn, project)
    return [(code, s) for code in all_codes(conn, project)
            for s in (states.get(code.local_code_id, d.State()), *extras.get(code.local_code_id, ()))]


def _omop(writer: Any, project: Project, rows: list[tuple[StoredCode, d.State]],
          concept_ids: Mapping[str, int]) -> int:
    # source_vocabulary_id is varchar(20) in the CDM; target_concept_id 0 = "No matching concept" when the
    # target code's OMOP concept_id is not known (pass an Athena CONCEPT.csv to resolve it)
    vocabulary = OMOP_VOCABULARY.get(project.target_system, project.target_system)
    writer.writerow(OMOP_COLUMNS)
    written = 0
    for code, s in rows:
        if s.state != d.APPROVED or not s.target_code:
            continue
        writer.writerow((code.code, 0, project.name[:20], code.display, concept_ids.get(s.target_code, 0),
                         vocabulary, "1970-01-01", "2099-12-31", ""))
        written += 1
    return written
