"""Local codes from an Excel workbook (.xlsx), as from a CSV: chosen columns, extras kept, errors name the row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from termsvc.errors import LoadError
from termsvc.workbench.import_table import Columns
from termsvc.workbench.importing import import_codes
from termsvc.workbench.local_codes import all_codes, code_by_value
from termsvc.workbench.projects import Project, create_project


@pytest.fixture
def project(engine: Engine) -> Project:
    with engine.begin() as conn:
        return create_project(conn, "lab", "http://hospital.example.org/lab-codes", "http://loinc.org")


def _workbook(path: Path, rows: list[dict[str, object]]) -> Path:
    pd.DataFrame(rows).to_excel(path, index=False, sheet_name="Tests")
    return path


def test_an_xlsx_workbook_imports_like_a_csv(engine: Engine, project: Project, tmp_path: Path) -> None:
    book = _workbook(tmp_path / "codes.xlsx", [
        {"Test code": "NA", "Test name": "Sodium, serum", "Units": "mmol/L", "Specimen": "Serum", "Volume": 1200,
         "Analyzer": "c702"},
        {"Test code": "HGB", "Test name": "Hemoglobin", "Units": "g/dL", "Specimen": "Blood", "Volume": 3400,
         "Analyzer": "XN"},
    ])
    with engine.begin() as conn:
        import_codes(conn, project, book, columns=Columns("Test code", "Test name", "Units", "Specimen", None,
                                                          "Volume"))
    with engine.connect() as conn:
        sodium = code_by_value(conn, project, "NA")
        codes = all_codes(conn, project)
    assert sodium is not None
    assert (sodium.display, sodium.units, sodium.specimen, sodium.count) == ("Sodium, serum", "mmol/L", "Serum", 1200)
    assert sodium.extra == {"Analyzer": "c702"}
    assert [code.code for code in codes] == ["HGB", "NA"]


def test_a_workbook_without_the_named_column_is_refused_naming_it(engine: Engine, project: Project,
                                                                  tmp_path: Path) -> None:
    book = _workbook(tmp_path / "codes.xlsx", [{"code": "K", "name": "Potassium"}])
    with pytest.raises(LoadError) as raised, engine.begin() as conn:
        import_codes(conn, project, book, columns=Columns("code", "display"))
    assert "display" in str(raised.value)
    assert "codes.xlsx" in str(raised.value)
