"""Publishing approved mappings as ConceptMap versions served by $translate (over HTTP), exporting them, and
importing existing ConceptMaps and Usagi files, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine

from termsvc.api.app import create_app
from termsvc.errors import Invalid, LoadError
from termsvc.ops.loading import run_load
from termsvc.settings import Settings
from termsvc.workbench import actions
from termsvc.workbench import decisions as d
from termsvc.workbench.export import OMOP_COLUMNS, export
from termsvc.workbench.import_maps import import_map_file
from termsvc.workbench.local_codes import code_by_value
from termsvc.workbench.projects import Project, create_project
from termsvc.workbench.publish import publish
from tests.conftest import SAMPLES
from tests.workbench_support import LOCAL, LOINC, project_with_codes


@pytest.fixture
def project(engine: Engine, tmp_path: Path) -> Project:
    run_load(engine, "loinc", SAMPLES / "loinc", version="2.79")
    with engine.begin() as conn:
        return project_with_codes(conn, tmp_path, "code,display,n\nK,POTASSIUM BLOOD,100\nKCSF,POTASSIUM CSF,10\n"
                                  "XX,ODD TEST,1\nABS,ABSCESS CULTURE,5\n", count="n")


def _decide(engine: Engine, project: Project, *steps: tuple[str, str, str | None, str | None]) -> None:
    with engine.begin() as conn:
        for action, code, target, extra in steps:
            stored = code_by_value(conn, project, code)
            assert stored is not None
            if action == "approve":
                assert target is not None
                actions.approve(conn, project, stored, target, "ann", equivalence=extra or "equivalent")
            elif action == "reject":
                actions.reject(conn, project, stored, "ann", comment=extra)
            else:
                actions.flag(conn, project, stored, "ann", extra or "check")


def _translate(client: TestClient, code: str, **extra: str) -> dict[str, Any]:
    response = client.get("/fhir/ConceptMap/$translate", params={"system": LOCAL, "code": code, **extra})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _matches(body: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for p in body["parameter"]:
        if p["name"] == "match":
            parts = {part["name"]: part for part in p["part"]}
            concept = parts.get("concept", {}).get("valueCoding", {})
            out.append((concept.get("code", ""), parts["equivalence"]["valueCode"]))
    return sorted(out)


def _result(body: dict[str, Any]) -> bool:
    return bool(next(p["valueBoolean"] for p in body["parameter"] if p["name"] == "result"))


def test_published_approvals_are_served_by_translate_at_once(engine: Engine, project: Project,
                                                            store_url: str) -> None:
    _decide(engine, project, ("approve", "K", "6298-4", None), ("approve", "KCSF", "2819-1", "equivalent"),
            ("reject", "XX", None, "no LOINC term for this in-house test"), ("flag", "ABS", None, "aerobe?"))
    with engine.begin() as conn:
        done = publish(conn, project)
    assert (done.url, done.version, done.elements) == (f"{LOCAL}/ConceptMap/lab", "1", 3)
    with TestClient(create_app(Settings(database_url=store_url), engine=engine)) as client:
        k = _translate(client, "K")
        assert _result(k) and _matches(k) == [("6298-4", "equivalent")]
        xx = _translate(client, "XX")
        assert not _result(xx)
        flagged = _translate(client, "ABS")  # flagged codes are not decisions yet: not published
        assert not _result(flagged) and _matches(flagged) == []


def test_publishing_again_makes_a_new_current_version_and_keeps_the_old_one(engine: Engine, project: Project,
                                                                           store_url: str) -> None:
    _decide(engine, project, ("approve", "K", "75940-7", None))
    with engine.begin() as conn:
        publish(conn, project)
    _decide(engine, project, ("approve", "K", "6298-4", None))
    with engine.begin() as conn:
        second = publish(conn, project)
    assert second.version == "2"
    with TestClient(create_app(Settings(database_url=store_url), engine=engine)) as client:
        assert _matches(_translate(client, "K")) == [("6298-4", "equivalent")]
        old = _translate(client, "K", url=second.url, conceptMapVersion="1")
        assert _matches(old) == [("75940-7", "equivalent")]
        read = client.get("/fhir/ConceptMap", params={"url": second.url})
        assert read.status_code == 200


def test_nothing_to_publish_is_refused(engine: Engine, project: Project) -> None:
    with pytest.raises(Invalid, match="has no approved or rejected codes"), engine.begin() as conn:
        publish(conn, project)


def test_narrower_maps_carry_the_comment_r4_requires(engine: Engine, project: Project, tmp_path: Path) -> None:
    _decide(engine, project, ("approve", "K", "6298-4", "narrower"))
    out = tmp_path / "map.json"
    with engine.begin() as conn:
        export(conn, project, "json", out)
    target = json.loads(out.read_text())["group"][0]["element"][0]["target"][0]
    assert target["equivalence"] == "narrower" and target["comment"]


def test_export_formats(engine: Engine, project: Project, tmp_path: Path) -> None:
    _decide(engine, project, ("approve", "K", "6298-4", None), ("reject", "XX", None, None))
    with engine.begin() as conn:
        for fmt in ("json", "xml", "csv", "omop"):
            export(conn, project, fmt, tmp_path / f"out.{fmt}")
    resource = json.loads((tmp_path / "out.json").read_text())
    assert resource["resourceType"] == "ConceptMap" and resource["status"] == "draft"
    assert resource["group"][0]["source"] == LOCAL and resource["group"][0]["targetVersion"] == "2.79"
    xml = etree.fromstring((tmp_path / "out.xml").read_bytes())
    assert xml.tag == "{http://hl7.org/fhir}ConceptMap"
    rows = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert {r["local_code"]: r["state"] for r in rows} == {"K": "approved", "KCSF": "pending", "XX": "rejected",
                                                           "ABS": "pending"}
    omop = list(csv.reader((tmp_path / "out.omop").open(encoding="utf-8")))
    assert tuple(omop[0]) == OMOP_COLUMNS
    assert omop[1][:6] == ["K", "0", "lab", "POTASSIUM BLOOD", "0", "LOINC"]
    assert len(omop) == 2  # only approved mappings


def test_an_exported_concept_map_continues_in_another_project(engine: Engine, project: Project,
                                                              tmp_path: Path) -> None:
    _decide(engine, project, ("approve", "K", "6298-4", None), ("reject", "XX", None, None))
    out = tmp_path / "map.json"
    with engine.begin() as conn:
        export(conn, project, "json", out)
        other = create_project(conn, "lab2", LOCAL, LOINC)
        decided = import_map_file(conn, other, out, "bob")
        k = code_by_value(conn, other, "K")
        xx = code_by_value(conn, other, "XX")
        assert k is not None and xx is not None
        assert decided == 2
        assert d.current_state(conn, k.local_code_id).target_code == "6298-4"
        assert d.current_state(conn, xx.local_code_id).state == "rejected"
        assert import_map_file(conn, other, out, "bob") == 0  # the same map again adds nothing to the log


def test_usagi_import_resolves_targets_by_name_and_flags_the_rest(engine: Engine, project: Project,
                                                                 tmp_path: Path) -> None:
    usagi = tmp_path / "usagi.csv"
    usagi.write_text(
        "sourceCode,sourceName,sourceFrequency,sourceAutoAssignedConceptIds,ADD_INFO:units,matchScore,"
        "mappingStatus,equivalence,statusSetBy,statusSetOn,conceptId,conceptName,domainId,mappingType,comment,"
        "createdBy,createdOn,assignedReviewer\n"
        "K,POTASSIUM BLOOD,100,,mmol/L,0.91,APPROVED,EQUIVALENT,ann,0,3005456,Potassium [Moles/volume] in Blood,"
        "Measurement,MAPS_TO,,ann,0,\n"
        "TEMA,TEMAZEPAM,4,,ng/mL,0.8,APPROVED,EQUIVALENT,ann,0,3001,Deprecated Temazepam [Mass/volume] in Serum or"
        " Plasma,Measurement,MAPS_TO,,ann,0,\n"
        "NEW,NEW TEST,3,,,0,UNCHECKED,UNREVIEWED,,0,0,,,,,,0,\n", encoding="utf-8")
    with engine.begin() as conn:
        assert import_map_file(conn, project, usagi, "ann") == 2
        k, tema, new = (code_by_value(conn, project, c) for c in ("K", "TEMA", "NEW"))
        assert k is not None and tema is not None and new is not None
        assert d.current_state(conn, k.local_code_id).target_code == "6298-4"
        flagged = d.current_state(conn, tema.local_code_id)
        assert flagged.state == "flagged" and "inactive" in (flagged.comment or "")
        assert d.current_state(conn, new.local_code_id).state == "pending"
        assert tema.extra["units"] == "ng/mL" and k.count == 100


def test_a_usagi_file_that_is_not_utf8_names_the_line(engine: Engine, project: Project, tmp_path: Path) -> None:
    usagi = tmp_path / "usagi.csv"
    usagi.write_bytes("sourceCode,sourceName,mappingStatus,conceptId,conceptName\nK,POTASSIUM,UNCHECKED,0,\n"
                      "GLU,GLUCOSE NÜCHTERN,UNCHECKED,0,\n".encode("latin-1"))
    with pytest.raises(LoadError, match="not utf-8") as caught, engine.begin() as conn:
        import_map_file(conn, project, usagi, "ann")
    assert caught.value.line == 3


def test_a_concept_map_that_is_not_json_names_the_line(engine: Engine, project: Project, tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text('{"resourceType": "ConceptMap",\n "group": [\n}\n', encoding="utf-8")
    with pytest.raises(LoadError, match="not a JSON ConceptMap") as caught, engine.begin() as conn:
        import_map_file(conn, project, path, "ann")
    assert caught.value.line == 3


def test_a_file_that_is_not_a_usagi_export_is_refused(engine: Engine, project: Project, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("code,display\nK,POTASSIUM\n", encoding="utf-8")
    with pytest.raises(LoadError, match="not a Usagi export") as caught, engine.begin() as conn:
        import_map_file(conn, project, path, "ann")
    assert caught.value.line == 1
