"""One entry point for every kind of local-code import: read and check the whole source first, then write it
in the caller's single transaction, so a bad file leaves the project as it was."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection

from termsvc.errors import Invalid
from termsvc.workbench.import_fhir import fhir_files, read_observations
from termsvc.workbench.import_hl7 import hl7_files, read_hl7_files
from termsvc.workbench.import_table import Columns, read_table
from termsvc.workbench.local_codes import ImportedCode, ImportSummary, store_codes
from termsvc.workbench.projects import Project

KINDS = ("table", "hl7v2", "fhir")


def guess_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if path.is_dir():
        has_hl7 = any(path.rglob("*.hl7"))
        return "fhir" if any(path.rglob("*.ndjson")) or (any(path.rglob("*.json")) and not has_hl7) else "hl7v2"
    if suffix in (".hl7", ".er7"):
        return "hl7v2"
    if suffix in (".json", ".ndjson"):
        return "fhir"
    return "table"


def read_codes(project: Project, path: Path, kind: str | None = None, *, columns: Columns | None = None,
               encoding: str = "utf-8", sheet: str | int = 0) -> list[ImportedCode]:
    kind = kind or guess_kind(path)
    if kind == "table":
        return read_table(path, columns or Columns(), encoding=encoding, sheet=sheet)
    if kind == "hl7v2":
        return read_hl7_files(hl7_files(path))
    if kind == "fhir":
        return read_observations(fhir_files(path), project.local_system)
    raise Invalid(f"unknown import kind {kind!r}; one of {', '.join(KINDS)}")


def import_codes(conn: Connection, project: Project, path: Path, kind: str | None = None, *,
                 columns: Columns | None = None, encoding: str = "utf-8", sheet: str | int = 0,
                 add_counts: bool = False) -> ImportSummary:
    """`add_counts`: the file covers another period, so its counts add to the known ones instead of
    replacing them."""
    codes = read_codes(project, path, kind, columns=columns, encoding=encoding, sheet=sheet)
    summary = store_codes(conn, project, codes, add_counts=add_counts)
    summary.warnings.extend(c.warning for c in codes if c.warning)
    return summary
