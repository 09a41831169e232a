"""A local code mapped to several targets, each with its own equivalence: kept by ConceptMap and Usagi import,
recorded as the approval plus additional approved targets in the decision log, published and exported with
every target, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine

from termsvc.api.app import create_app
from termsvc.errors import Invalid
from termsvc.ops.loading import run_load
from termsvc.settings import Settings
from termsvc.workbench import actions
from termsvc.workbench import decisions as d
from termsvc.workbench.export import export
from termsvc.workbench.import_maps import import_map_file, read_concept_map
from termsvc.workbench.local_codes import StoredCode, code_by_value
from termsvc.workbench.projects import Project, create_project
from termsvc.workbench.publish import publish
from tests.conftest import SAMPLES
from tests.workbench_support import LOCAL, LOINC, project_with_codes


@pytest.fixture
def project(engine: Engine, tmp_path: Path) -> Project:
    run_load(engine, "loinc", SAMPLES / "loinc", version="2.79")
    with engine.begin() as conn:
        return project_with_codes(conn, tmp_path, "code,display\nK,POTASSIUM\nABS,ABSCESS CULTURE\nXX,ODD TEST\n")


def _map(tmp_path: Path, elements: list[dict[str, Any]]) -> Path:
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"resourceType": "ConceptMap", "status": "active", "group": [
        {"source": LOCAL, "target": LOINC, "element": elements}]}), encoding="utf-8")
    return path


K_TWO_TARGETS = {"code": "K", "target": [
    {"code": "6298-4", "equivalence": "equivalent"},
    {"code": "2819-1", "equivalence": "narrower", "comment": "only when the specimen is CSF"}]}


def _stored(engine: Engine, project: Project, code: str) -> StoredCode:
    with engine.connect() as conn:
        stored = code_by_value(conn, project, code)
    assert stored is not None
    return stored


def _targets(engine: Engine, project: Project, code: str) -> list[tuple[str, str | None, str | None]]:
    """(state, target, equivalence) of the code's decision, then of each additional target."""
    with engine.connect() as conn:
        state, extras = d.state_at(conn, _stored(engine, project, code).local_code_id)
    return [(s.state, s.target_code, s.equivalence) for s in (state, *extras)]


def test_concept_map_import_keeps_every_target_with_its_equivalence(engine: Engine, project: Project,
                                                                    tmp_path: Path) -> None:
    with engine.begin() as conn:
        assert import_map_file(conn, project, _map(tmp_path, [K_TWO_TARGETS]), "ann") == 1
    assert _targets(engine, project, "K") == [("approved", "6298-4", "equivalent"),
                                              ("approved", "2819-1", "narrower")]


def test_importing_the_same_map_again_adds_nothing(engine: Engine, project: Project, tmp_path: Path) -> None:
    path = _map(tmp_path, [K_TWO_TARGETS])
    with engine.begin() as conn:
        import_map_file(conn, project, path, "ann")
        assert import_map_file(conn, project, path, "ann") == 0
        assert len(d.history(conn, _stored(engine, project, "K").local_code_id)) == 2


def test_an_unknown_additional_target_flags_the_code_naming_it(engine: Engine, project: Project,
                                                               tmp_path: Path) -> None:
    element = {"code": "K", "target": [{"code": "6298-4", "equivalence": "equivalent"},
                                      {"code": "99999-9", "equivalence": "wider"}]}
    with engine.begin() as conn:
        import_map_file(conn, project, _map(tmp_path, [element]), "ann")
        state = d.current_state(conn, _stored(engine, project, "K").local_code_id)
    assert (state.state, state.target_code) == ("flagged", "6298-4")
    assert "'99999-9' does not exist in http://loinc.org|2.79" in (state.comment or "")


def test_a_disjoint_target_beside_a_match_is_not_approved(engine: Engine, project: Project, tmp_path: Path) -> None:
    element = {"code": "K", "target": [{"code": "2819-1", "equivalence": "disjoint"},
                                      {"code": "6298-4", "equivalence": "equivalent"}]}
    with engine.begin() as conn:
        import_map_file(conn, project, _map(tmp_path, [element]), "ann")
    assert _targets(engine, project, "K") == [("approved", "6298-4", "equivalent")]


def test_publish_writes_every_target_and_translate_answers_with_all(engine: Engine, project: Project,
                                                                    tmp_path: Path, store_url: str) -> None:
    with engine.begin() as conn:
        import_map_file(conn, project, _map(tmp_path, [K_TWO_TARGETS]), "ann")
        publish(conn, project)
    with TestClient(create_app(Settings(database_url=store_url), engine=engine)) as client:
        response = client.get("/fhir/ConceptMap/$translate", params={"system": LOCAL, "code": "K"})
    matches = sorted((parts["concept"]["valueCoding"]["code"], parts["equivalence"]["valueCode"])
                     for p in response.json()["parameter"] if p["name"] == "match"
                     for parts in [{part["name"]: part for part in p["part"]}])
    assert matches == [("2819-1", "narrower"), ("6298-4", "equivalent")]


def test_an_exported_map_with_several_targets_continues_in_another_project(engine: Engine, project: Project,
                                                                           tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    with engine.begin() as conn:
        import_map_file(conn, project, _map(tmp_path, [K_TWO_TARGETS]), "ann")
        export(conn, project, "json", out)
        other = create_project(conn, "lab2", LOCAL, LOINC)
        import_map_file(conn, other, out, "bob")
    targets = json.loads(out.read_text(encoding="utf-8"))["group"][0]["element"][0]["target"]
    assert [(t["code"], t["equivalence"], t.get("comment")) for t in targets] == [
        ("6298-4", "equivalent", None), ("2819-1", "narrower", "only when the specimen is CSF")]
    assert _targets(engine, other, "K") == _targets(engine, project, "K")


def test_csv_and_omop_exports_have_a_row_per_target(engine: Engine, project: Project, tmp_path: Path) -> None:
    with engine.begin() as conn:
        import_map_file(conn, project, _map(tmp_path, [K_TWO_TARGETS]), "ann")
        export(conn, project, "csv", tmp_path / "out.csv")
        assert export(conn, project, "omop", tmp_path / "out.omop") == 2
    rows = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert [(r["local_code"], r["target_code"], r["equivalence"]) for r in rows if r["local_code"] == "K"] == [
        ("K", "6298-4", "equivalent"), ("K", "2819-1", "narrower")]


def test_usagi_rows_of_one_code_become_its_targets(engine: Engine, project: Project, tmp_path: Path) -> None:
    usagi = tmp_path / "usagi.csv"
    usagi.write_text(
        "sourceCode,sourceName,sourceFrequency,mappingStatus,equivalence,conceptId,conceptName\n"
        "K,POTASSIUM,10,APPROVED,EQUIVALENT,3005456,Potassium [Moles/volume] in Blood\n"
        "K,POTASSIUM,10,APPROVED,NARROWER,3000001,Potassium [Moles/volume] in Cerebral spinal fluid\n",
        encoding="utf-8")
    with engine.begin() as conn:
        import_map_file(conn, project, usagi, "ann")
    assert _targets(engine, project, "K") == [("approved", "6298-4", "equivalent"),
                                              ("approved", "2819-1", "narrower")]


def test_a_reviewer_adds_a_target_to_an_approved_code_only(engine: Engine, project: Project) -> None:
    with engine.begin() as conn:
        k, xx = code_by_value(conn, project, "K"), code_by_value(conn, project, "XX")
        assert k is not None and xx is not None
        with pytest.raises(Invalid, match="needs an approved first target"):
            actions.add_target(conn, project, xx, "2819-1", "ann")
        actions.approve(conn, project, k, "6298-4", "ann")
        actions.add_target(conn, project, k, "2819-1", "ann", equivalence="narrower", comment="CSF")
        log = [(r.action, r.previous_state, r.new_state, r.target_code) for r in d.history(conn, k.local_code_id)]
    assert log == [("approve", "pending", "approved", "6298-4"), ("also", "approved", "approved", "2819-1")]


def _two_targets(conn: Connection, project: Project) -> StoredCode:
    """K approved to 6298-4 (equivalent) and 2819-1 (narrower)."""
    k = code_by_value(conn, project, "K")
    assert k is not None
    actions.approve(conn, project, k, "6298-4", "ann")
    actions.add_target(conn, project, k, "2819-1", "ann", equivalence="narrower", comment="CSF")
    return k


def test_a_new_decision_replaces_the_targets_and_undo_brings_them_back(engine: Engine, project: Project) -> None:
    with engine.begin() as conn:
        k = _two_targets(conn, project)
        rejected = actions.reject(conn, project, k, "ann", comment="not a LOINC test after all")
    assert _targets(engine, project, "K") == [("rejected", None, "unmatched")]
    with engine.begin() as conn:
        d.undo(conn, project, rejected, "ann")
    assert _targets(engine, project, "K") == [("approved", "6298-4", "equivalent"),
                                              ("approved", "2819-1", "narrower")]


def test_setting_the_equivalence_keeps_the_additional_targets(engine: Engine, project: Project) -> None:
    with engine.begin() as conn:
        actions.set_equivalence(conn, project, _two_targets(conn, project), "ann", "wider")
    assert _targets(engine, project, "K") == [("approved", "6298-4", "wider"), ("approved", "2819-1", "narrower")]


def test_undoing_an_added_target_removes_only_that_one(engine: Engine, project: Project) -> None:
    with engine.begin() as conn:
        k = _two_targets(conn, project)
        added = actions.add_target(conn, project, k, "75940-7", "ann", equivalence="wider", comment="any")
        d.undo(conn, project, added, "ann")
    assert _targets(engine, project, "K") == [("approved", "6298-4", "equivalent"),
                                              ("approved", "2819-1", "narrower")]


_TARGET = st.fixed_dictionaries({"code": st.sampled_from(["6298-4", "2819-1", "75940-7"]),
                                 "equivalence": st.sampled_from(d.EQUIVALENCES)})


@settings(max_examples=60, deadline=None)
@given(targets=st.lists(_TARGET, max_size=5))
def test_reading_a_map_keeps_each_matched_target_once_in_order(tmp_path_factory: pytest.TempPathFactory,
                                                               targets: list[dict[str, str]]) -> None:
    project = Project(1, "lab", LOCAL, LOINC, "", (), f"{LOCAL}/ConceptMap/lab")
    path = _map(tmp_path_factory.mktemp("map"), [{"code": "K", "target": targets}])
    (read,) = read_concept_map(path, project)
    matched: dict[str, str] = {}
    for t in targets:
        if t["equivalence"] not in ("unmatched", "disjoint"):
            matched.setdefault(t["code"], t["equivalence"])
    kept = [(read.target_code, read.equivalence), *((c, e) for c, e, _ in read.also)] if read.target_code else []
    assert kept == list(matched.items())
    assert read.state == ("approved" if matched else "rejected")
