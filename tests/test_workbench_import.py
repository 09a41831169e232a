"""Importing local codes into a mapping project, on SQLite and PostgreSQL: chosen columns, extra columns kept,
re-imports that keep decisions, and bad files that name file, line and field and change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from termsvc.errors import LoadError
from termsvc.ops.loading import run_load
from termsvc.workbench import actions
from termsvc.workbench.decisions import current_state
from termsvc.workbench.import_table import Columns
from termsvc.workbench.importing import import_codes
from termsvc.workbench.local_codes import all_codes, code_by_value
from termsvc.workbench.projects import Project, create_project
from tests.conftest import SAMPLES, shared_path

LAB = SAMPLES / "local-codes" / "lab-codes.csv"
LAB_COLUMNS = Columns("local_code", "local_name", "units", "specimen", "department", "results_last_year")


@pytest.fixture
def project(engine: Engine) -> Project:
    run_load(engine, "loinc", SAMPLES / "loinc", version="2.79")
    with engine.begin() as conn:
        return create_project(conn, "lab", "http://hospital.example.org/lab-codes", "http://loinc.org")


def _import(engine: Engine, project: Project, path: Path, columns: Columns | None = None, **kw: str) -> None:
    with engine.begin() as conn:
        import_codes(conn, project, path, columns=columns, **kw)  # type: ignore[arg-type]


def _count_codes(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM local_code")).scalar_one())


def test_csv_import_keeps_chosen_columns_and_extra_columns(engine: Engine, project: Project) -> None:
    _import(engine, project, LAB, LAB_COLUMNS)
    with engine.connect() as conn:
        k = code_by_value(conn, project, "K")
        codes = all_codes(conn, project)
    assert k is not None
    assert (k.display, k.units, k.specimen, k.category, k.count) == \
        ("POTASSIUM WHOLE BLOOD", "mmol/L", "Blood", "Chemistry", 48211)
    assert k.extra == {"result_type": "NM", "analyzer": "ABL90"}
    assert len(codes) == 25
    assert codes[0].code == "WBC"  # most frequent first (61,102 results): the review order


def test_tsv_is_read_with_tabs(engine: Engine, project: Project, tmp_path: Path) -> None:
    path = tmp_path / "codes.tsv"
    path.write_text("code\tdisplay\tunits\nGLU\tGlucose, fasting\tmg/dL\n", encoding="utf-8")
    _import(engine, project, path, Columns(units="units"))
    with engine.connect() as conn:
        glu = code_by_value(conn, project, "GLU")
    assert glu is not None and glu.display == "Glucose, fasting" and glu.units == "mg/dL"


def test_reimport_updates_counts_adds_codes_and_keeps_decisions(engine: Engine, project: Project,
                                                                tmp_path: Path) -> None:
    first = tmp_path / "first.csv"
    first.write_text("code,display,n\nK,POTASSIUM,10\nNA,SODIUM,5\n", encoding="utf-8")
    _import(engine, project, first, Columns(count="n"))
    with engine.begin() as conn:
        k = code_by_value(conn, project, "K")
        assert k is not None
        actions.approve(conn, project, k, "6298-4", "ann")
    second = tmp_path / "second.csv"
    second.write_text("code,display,n\nK,POTASSIUM,25\nCL,CHLORIDE,7\n", encoding="utf-8")
    _import(engine, project, second, Columns(count="n"))
    with engine.connect() as conn:
        codes = {c.code: c for c in all_codes(conn, project)}
        state = current_state(conn, codes["K"].local_code_id)
    assert {c: codes[c].count for c in codes} == {"K": 25, "NA": 5, "CL": 7}
    assert state.state == "approved" and state.target_code == "6298-4"


def test_add_counts_accumulates_counts_of_files_from_different_periods(engine: Engine, project: Project,
                                                                       tmp_path: Path) -> None:
    january, february = tmp_path / "january.csv", tmp_path / "february.csv"
    january.write_text("code,display,n\nK,POTASSIUM,10\nNA,SODIUM,5\n", encoding="utf-8")
    february.write_text("code,display,n\nK,POTASSIUM,25\nCL,CHLORIDE,7\n", encoding="utf-8")
    with engine.begin() as conn:
        import_codes(conn, project, january, columns=Columns(count="n"), add_counts=True)
        import_codes(conn, project, february, columns=Columns(count="n"), add_counts=True)
        assert {c.code: c.count for c in all_codes(conn, project)} == {"K": 35, "NA": 5, "CL": 7}


def test_row_with_a_code_but_no_name_is_imported_with_a_warning(engine: Engine, project: Project,
                                                                 tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("code,display,units\nK,POTASSIUM,mmol/L\nNA,,mmol/L\n", encoding="utf-8")
    with engine.begin() as conn:
        summary = import_codes(conn, project, path)
        assert {c.code: c.display for c in all_codes(conn, project)} == {"K": "POTASSIUM", "NA": ""}
    assert summary.added == 2
    assert len(summary.warnings) == 1
    assert f"{path}, line 3, field display" in summary.warnings[0] and "'NA' has an empty name" in summary.warnings[0]


@pytest.mark.parametrize(("content", "line", "field", "message"), [
    ("code,name\nK,POTASSIUM\n", 1, "display", "no column 'display'"),
    ("code,display\nK,POTASSIUM\nK,POTASSIUM AGAIN\n", 3, "code", "duplicate local code 'K'"),
    ("code,display\n,POTASSIUM\n", 2, "code", "empty local code"),
])
def test_bad_table_names_file_line_and_field_and_imports_nothing(
        engine: Engine, project: Project, tmp_path: Path, content: str, line: int, field: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LoadError, match=message) as caught:
        _import(engine, project, path)
    assert (caught.value.file, caught.value.line, caught.value.field_name) == (str(path), line, field)
    assert _count_codes(engine) == 0


def test_a_bad_row_after_good_ones_leaves_the_project_unchanged(engine: Engine, project: Project,
                                                                 tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    path.write_text("code,display,count\nK,POTASSIUM,1\nNA,SODIUM,many\n", encoding="utf-8")
    with pytest.raises(LoadError) as caught:
        _import(engine, project, path, Columns(count="count"))
    assert caught.value.line == 3 and caught.value.field_name == "count"
    assert _count_codes(engine) == 0


def test_fhir_ndjson_that_is_not_utf8_names_the_line_and_imports_nothing(engine: Engine, project: Project,
                                                                        tmp_path: Path) -> None:
    def observation(code: str, name: str) -> str:
        return json.dumps({"resourceType": "Observation", "status": "final", "code": {"coding": [
            {"system": "http://hospital.example.org/lab-codes", "code": code, "display": name}]}},
            ensure_ascii=False)
    path = tmp_path / "obs.ndjson"
    path.write_bytes(f"{observation('K', 'POTASSIUM')}\n{observation('GLU', 'GLUCOSE NÜCHTERN')}\n"
                     .encode("latin-1"))
    with pytest.raises(LoadError, match="not utf-8") as caught:
        _import(engine, project, path)
    assert (caught.value.file, caught.value.line) == (str(path), 2)
    assert _count_codes(engine) == 0


def test_wrong_encoding_names_the_line(engine: Engine, project: Project, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("code,display\nK,POTASSIUM\nGLU,GLUCOSE NÜCHTERN\n".encode("latin-1"))
    with pytest.raises(LoadError, match="not utf-8") as caught:
        _import(engine, project, path)
    assert caught.value.line == 3
    _import(engine, project, path, encoding="latin-1")
    with engine.connect() as conn:
        glu = code_by_value(conn, project, "GLU")
    assert glu is not None and glu.display == "GLUCOSE NÜCHTERN"


def test_fhir_observation_ndjson_gives_local_codings(engine: Engine, project: Project, tmp_path: Path) -> None:
    def obs(code: str, display: str, unit: str) -> str:
        return json.dumps({"resourceType": "Observation", "status": "final", "code": {"coding": [
            {"system": "http://loinc.org", "code": "2823-3"},
            {"system": "http://hospital.example.org/lab-codes", "code": code, "display": display}]},
            "valueQuantity": {"value": 4, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
            "specimen": {"display": "Serum"}})
    path = tmp_path / "obs.ndjson"
    path.write_text("\n".join([obs("K", "POTASSIUM", "mmol/L"), obs("K", "POTASSIUM", "mmol/L"),
                               obs("NA", "SODIUM", "mmol/L")]) + "\n", encoding="utf-8")
    _import(engine, project, path)
    with engine.connect() as conn:
        codes = {c.code: c for c in all_codes(conn, project)}
    assert set(codes) == {"K", "NA"}
    assert codes["K"].count == 2 and codes["K"].units == "mmol/L" and codes["K"].specimen == "Serum"
    assert codes["K"].extra["loinc_hint"] == "2823-3"


def test_fhir_bundle_entry_without_local_display_names_its_path(engine: Engine, project: Project,
                                                                 tmp_path: Path) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "urn:oid:1.2.3", "code": "X1"}]}}}]}
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    with pytest.raises(LoadError) as caught:
        _import(engine, project, path)
    assert caught.value.path == "Bundle.entry[0].resource"
    assert _count_codes(engine) == 0


def test_hl7v2_samples_import_with_counts(engine: Engine, project: Project) -> None:
    _import(engine, project, shared_path("data", "hl7v2"), kind="hl7v2")
    with engine.connect() as conn:
        codes = {c.code: c for c in all_codes(conn, project)}
    assert codes["BCEXT"].count >= 2 and codes["BCEXT"].extra["loinc_hint"] == "600-7"


def test_fhir_bundle_observations_are_read_from_entries(engine: Engine, project: Project, tmp_path: Path) -> None:
    entry = {"resource": {"resourceType": "Observation", "status": "final",
                          "category": [{"coding": [{"code": "laboratory", "display": "Laboratory"}]}],
                          "code": {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.999", "code": "HGB",
                                               "display": "HEMOGLOBIN"}]},
                          "valueQuantity": {"value": 13.2, "unit": "g/dL"}}}
    other = {"resource": {"resourceType": "Patient", "id": "p1"}}
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [entry, other, entry]}),
                    encoding="utf-8")
    _import(engine, project, path)
    with engine.connect() as conn:
        hgb = code_by_value(conn, project, "HGB")
    assert hgb is not None
    assert (hgb.display, hgb.count, hgb.units, hgb.category) == ("HEMOGLOBIN", 2, "g/dL", "Laboratory")


def test_local_codes_of_observation_components_are_imported(engine: Engine, project: Project,
                                                            tmp_path: Path) -> None:
    def part(code: str, display: str) -> dict[str, object]:
        return {"code": {"coding": [{"system": "http://hospital.example.org/vitals", "code": code,
                                     "display": display}]}, "valueQuantity": {"value": 120, "unit": "mm[Hg]"}}
    bp = {"resourceType": "Observation", "status": "final",
          "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
          "component": [part("SBP", "SYSTOLIC BP"), part("DBP", "DIASTOLIC BP")]}
    path = tmp_path / "bp.ndjson"
    path.write_text(json.dumps(bp) + "\n", encoding="utf-8")
    _import(engine, project, path)
    with engine.connect() as conn:
        codes = {c.code: c for c in all_codes(conn, project)}
    assert set(codes) == {"SBP", "DBP"} and codes["SBP"].units == "mm[Hg]"
