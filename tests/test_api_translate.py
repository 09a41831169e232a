"""ConceptMap/$translate, read and search over HTTP (TestClient over the app), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from termsvc.api.app import create_app
from termsvc.settings import Settings
from termsvc.store.resources import store_concept_map

MAP_URL = "http://example.org/cm/colours"
SRC = "http://example.org/cs/colour-codes"
TGT = "http://example.org/cs/colour-names"
OTHER = "http://example.org/cs/paint"
LATERALITY = "http://example.org/fhir/property/laterality"

COLOURS = {
    "resourceType": "ConceptMap", "id": "colours", "url": MAP_URL, "version": "2", "name": "Colours",
    "status": "active", "sourceUri": "http://example.org/vs/colour-codes",
    "targetUri": "http://example.org/vs/colour-names",
    "group": [
        {"source": SRC, "target": TGT, "element": [
            {"code": "R", "display": "red code", "target": [{"code": "red", "display": "Red", "equivalence": "equivalent"}]},
            {"code": "DR", "target": [{"code": "red", "equivalence": "narrower"}]},
            {"code": "LR", "target": [{"code": "red", "equivalence": "narrower"}]},
            {"code": "X", "target": [{"code": "grey", "equivalence": "disjoint"}]},
            {"code": "K", "target": [
                {"code": "black-left", "equivalence": "equivalent",
                 "dependsOn": [{"property": LATERALITY, "system": "http://example.org/cs/side", "value": "left"}],
                 "product": [{"property": "http://example.org/prop/hand", "system": "http://example.org/cs/hand",
                              "value": "L"}]},
                {"code": "black-right", "equivalence": "equivalent",
                 "dependsOn": [{"property": LATERALITY, "system": "http://example.org/cs/side", "value": "right"}]}]},
        ]},
        {"source": SRC, "target": OTHER, "element": [
            {"code": "R", "target": [{"code": "P-RED", "equivalence": "wider"}]},
        ]},
    ],
}


@pytest.fixture
def client(engine: Engine, store_url: str) -> Iterator[TestClient]:
    with engine.begin() as conn:
        store_concept_map(conn, COLOURS)
    with TestClient(create_app(Settings(database_url=store_url), engine=engine)) as test_client:
        yield test_client


def _post(client: TestClient, *parameters: dict[str, Any], path: str = "/fhir/ConceptMap/$translate") -> Any:
    return client.post(path, json={"resourceType": "Parameters", "parameter": list(parameters)})


def _result(body: dict[str, Any]) -> bool:
    return next(p["valueBoolean"] for p in body["parameter"] if p["name"] == "result")


def _matches(body: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for parameter in body["parameter"]:
        if parameter["name"] == "match":
            found.append({part["name"]: next(v for k, v in part.items() if k.startswith("value") or k == "part")
                          for part in parameter["part"]})
    return found


def _targets(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((m["concept"]["system"], m["concept"]["code"], m["equivalence"]) for m in _matches(body))


def test_forward_by_system_and_code_returns_every_target_with_equivalence_and_map(client: TestClient) -> None:
    response = client.get("/fhir/ConceptMap/$translate", params={"url": MAP_URL, "system": SRC, "code": "R"})
    assert response.status_code == 200
    body = response.json()
    assert _result(body) is True
    assert _targets(body) == [(TGT, "red", "equivalent"), (OTHER, "P-RED", "wider")]
    assert {m["originMap"] for m in _matches(body)} == {f"{MAP_URL}|2"}


def test_forward_by_coding(client: TestClient) -> None:
    body = _post(client, {"name": "coding", "valueCoding": {"system": SRC, "code": "DR"}}).json()
    assert _targets(body) == [(TGT, "red", "narrower")]


def test_forward_by_codeable_concept_tries_each_coding(client: TestClient) -> None:
    body = _post(client, {"name": "codeableConcept", "valueCodeableConcept": {"coding": [
        {"system": "http://example.org/unmapped", "code": "zz"}, {"system": SRC, "code": "LR"}]}}).json()
    assert _result(body) is True
    assert _targets(body) == [(TGT, "red", "narrower")]


def test_targetsystem_restricts_the_matches_to_that_system(client: TestClient) -> None:
    body = _post(client, {"name": "system", "valueUri": SRC}, {"name": "code", "valueCode": "R"},
                 {"name": "targetsystem", "valueUri": OTHER}).json()
    assert _targets(body) == [(OTHER, "P-RED", "wider")]


def test_reverse_returns_every_source_that_maps_to_the_code(client: TestClient) -> None:
    body = _post(client, {"name": "system", "valueUri": TGT}, {"name": "code", "valueCode": "red"},
                 {"name": "reverse", "valueBoolean": True}).json()
    assert _result(body) is True
    assert _targets(body) == [(SRC, "DR", "narrower"), (SRC, "LR", "narrower"), (SRC, "R", "equivalent")]


def test_depends_on_selects_the_conditional_target_and_reports_its_product(client: TestClient) -> None:
    body = _post(client, {"name": "system", "valueUri": SRC}, {"name": "code", "valueCode": "K"},
                 {"name": "dependsOn", "part": [
                     {"name": "element", "valueUri": LATERALITY},
                     {"name": "concept", "valueCodeableConcept": {
                         "coding": [{"system": "http://example.org/cs/side", "code": "left"}]}}]}).json()
    assert _targets(body) == [(TGT, "black-left", "equivalent")]
    product = _matches(body)[0]["product"]
    assert {"name": "concept", "valueCoding": {"system": "http://example.org/cs/hand", "code": "L"}} in product


def test_conditional_targets_are_not_offered_when_their_dependency_is_not_given(client: TestClient) -> None:
    body = _post(client, {"name": "system", "valueUri": SRC}, {"name": "code", "valueCode": "K"}).json()
    assert _result(body) is False
    assert _matches(body) == []


def test_unknown_map_is_404_operation_outcome(client: TestClient) -> None:
    response = client.get("/fhir/ConceptMap/$translate",
                          params={"url": "http://example.org/cm/none", "system": SRC, "code": "R"})
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    unknown_id = client.get("/fhir/ConceptMap/nope/$translate", params={"system": SRC, "code": "R"})
    assert unknown_id.status_code == 404
    assert unknown_id.json()["resourceType"] == "OperationOutcome"


def test_no_match_is_result_false_with_a_message(client: TestClient) -> None:
    body = client.get("/fhir/ConceptMap/colours/$translate", params={"system": SRC, "code": "nothing"}).json()
    assert _result(body) is False
    message = next(p["valueString"] for p in body["parameter"] if p["name"] == "message")
    assert "nothing" in message


def test_a_disjoint_target_is_reported_but_is_not_a_translation(client: TestClient) -> None:
    body = _post(client, {"name": "system", "valueUri": SRC}, {"name": "code", "valueCode": "X"}).json()
    assert _result(body) is False
    assert _targets(body) == [(TGT, "grey", "disjoint")]


@pytest.mark.parametrize("payload", [
    {"resourceType": "Patient"},
    {"resourceType": "Parameters", "parameter": [{"valueCode": "R"}]},
    {"resourceType": "Parameters", "parameter": [{"name": "code", "valueCode": "R"}]},
    {"resourceType": "Parameters", "parameter": [{"name": "coding", "valueString": "R"}]},
])
def test_malformed_parameters_are_400_operation_outcome(client: TestClient, payload: dict[str, Any]) -> None:
    response = client.post("/fhir/ConceptMap/$translate", json=payload)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_body_that_is_not_json_is_400(client: TestClient) -> None:
    response = client.post("/fhir/ConceptMap/$translate", content=b"{not json",
                           headers={"content-type": "application/fhir+json"})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_map_stored_after_start_is_used_at_once(client: TestClient, engine: Engine) -> None:
    fresh = {"resourceType": "ConceptMap", "id": "fresh", "url": "http://example.org/cm/fresh", "status": "active",
             "group": [{"source": "http://example.org/cs/a", "target": "http://example.org/cs/b",
                        "element": [{"code": "a1", "target": [{"code": "b1", "equivalence": "equal"}]}]}]}
    with engine.begin() as conn:
        store_concept_map(conn, fresh)
    body = client.get("/fhir/ConceptMap/$translate",
                      params={"system": "http://example.org/cs/a", "code": "a1"}).json()
    assert _targets(body) == [("http://example.org/cs/b", "b1", "equal")]


def test_inline_concept_map_parameter_is_used_instead_of_the_store(client: TestClient) -> None:
    inline = {"resourceType": "ConceptMap", "url": "http://example.org/cm/inline", "status": "draft",
              "group": [{"source": SRC, "target": "http://example.org/cs/inline",
                         "element": [{"code": "R", "target": [{"code": "i-red", "equivalence": "equivalent"}]}]}]}
    body = _post(client, {"name": "conceptMap", "resource": inline}, {"name": "system", "valueUri": SRC},
                 {"name": "code", "valueCode": "R"}).json()
    assert _targets(body) == [("http://example.org/cs/inline", "i-red", "equivalent")]


def test_read_by_id_and_search_by_url_and_name(client: TestClient) -> None:
    read = client.get("/fhir/ConceptMap/colours")
    assert read.status_code == 200
    assert read.json()["url"] == MAP_URL
    bundle = client.get("/fhir/ConceptMap", params={"url": MAP_URL, "version": "2", "status": "active"}).json()
    assert bundle["total"] == 1
    assert bundle["entry"][0]["resource"]["id"] == "colours"
    assert client.get("/fhir/ConceptMap", params={"name": "col"}).json()["total"] == 1
    assert client.get("/fhir/ConceptMap", params={"name": "zebra"}).json()["total"] == 0
    assert client.get("/fhir/ConceptMap/unknown").status_code == 404


def test_metadata_declares_translate(client: TestClient) -> None:
    statement = client.get("/fhir/metadata").json()
    resources = {r["type"]: r for rest in statement["rest"] for r in rest["resource"]}
    assert "translate" in {op["name"] for op in resources["ConceptMap"].get("operation", [])}
