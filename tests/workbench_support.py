"""Set-up shared by the workbench tests: a mapping project whose local codes come from CSV text, optionally each
approved to a target."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import Connection

from termsvc.workbench import actions
from termsvc.workbench.import_table import Columns
from termsvc.workbench.importing import import_codes
from termsvc.workbench.local_codes import code_by_value
from termsvc.workbench.projects import Project, create_project

LOCAL = "http://hospital.example.org/lab"
LOINC = "http://loinc.org"


def project_with_codes(conn: Connection, folder: Path, csv_text: str, *, name: str = "lab", local: str = LOCAL,
                       target: str = LOINC, count: str | None = None, reviewers: tuple[str, ...] = (),
                       approved: Mapping[str, str] | None = None) -> Project:
    """`csv_text` has columns code and display (and `count` when named); `approved` maps local code -> target,
    approved by ann."""
    codes = folder / f"{name}-codes.csv"
    codes.write_text(csv_text, encoding="utf-8")
    project = create_project(conn, name, local, target, reviewers=reviewers)
    import_codes(conn, project, codes, columns=Columns(count=count))
    for code, target_code in (approved or {}).items():
        stored = code_by_value(conn, project, code)
        assert stored is not None
        actions.approve(conn, project, stored, target_code, "ann")
    return project
