"""CodeSystem/$validate-code as the HL7 terminology ecosystem answers it, on both engines: a concept a FHIR
CodeSystem deprecates by its standards-status extension, systems that are value sets, relative systems and
unknown versions of unknown systems."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from termsvc.api.app import create_app
from termsvc.ops.loading import run_load
from termsvc.settings import Settings

SYSTEM = "http://example.org/cs/colours"
STANDARDS_STATUS = "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status"


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    code_system = {"resourceType": "CodeSystem", "url": SYSTEM, "version": "1", "status": "active",
                   "content": "complete", "concept": [
                       {"code": "red", "display": "Red"},
                       {"code": "puce", "display": "Puce",
                        "extension": [{"url": STANDARDS_STATUS, "valueCode": "deprecated"}]},
                       {"code": "blue", "display": "Blue",
                        "extension": [{"url": STANDARDS_STATUS, "valueCode": "normative"}]}]}
    value_set = {"resourceType": "ValueSet", "url": "http://example.org/vs/colours", "status": "active",
                 "compose": {"include": [{"system": SYSTEM}]}}
    folder = tmp_path / "resources"
    folder.mkdir()
    (folder / "colours.json").write_text(json.dumps(code_system), encoding="utf-8")
    (folder / "colours-vs.json").write_text(json.dumps(value_set), encoding="utf-8")
    run_load(engine, "fhir", folder)
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=engine)) as test_client:
        yield test_client


def _validate(client: TestClient, **query: str) -> dict[str, dict[str, Any]]:
    response = client.get("/fhir/CodeSystem/$validate-code", params=query)
    assert response.status_code == 200, response.text
    return {p["name"]: p for p in response.json()["parameter"]}


def _message_ids(out: dict[str, dict[str, Any]]) -> list[str]:
    return [i["extension"][0]["valueString"] for i in out["issues"]["resource"]["issue"]]


def test_a_concept_deprecated_by_its_standards_status_is_valid_with_a_warning(client: TestClient) -> None:
    out = _validate(client, url=SYSTEM, code="puce")
    assert out["result"]["valueBoolean"] is True
    assert out["status"]["valueCode"] == "deprecated"
    assert _message_ids(out) == ["DEPRECATED_CONCEPT_FOUND"]


def test_another_standards_status_does_not_deprecate(client: TestClient) -> None:
    out = _validate(client, url=SYSTEM, code="blue")
    assert out["result"]["valueBoolean"] is True
    assert "issues" not in out and "status" not in out


def test_a_system_that_is_a_value_set_is_reported_as_such(client: TestClient) -> None:
    out = _validate(client, url="http://example.org/vs/colours", code="red")
    assert out["result"]["valueBoolean"] is False
    assert _message_ids(out) == ["Terminology_TX_System_ValueSet2"]


def test_a_relative_system_is_reported_besides_being_unknown(client: TestClient) -> None:
    out = _validate(client, url="colours", code="red")
    assert sorted(_message_ids(out)) == ["Terminology_TX_System_Relative", "UNKNOWN_CODESYSTEM"]


def test_an_unknown_version_of_an_unknown_system_says_no_versions_are_known(client: TestClient) -> None:
    out = _validate(client, url="http://example.org/cs/none", code="red", version="2")
    assert _message_ids(out) == ["UNKNOWN_CODESYSTEM_VERSION_NONE"]
    assert out["message"]["valueString"].endswith("No versions of this code system are known")
