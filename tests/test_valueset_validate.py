"""ValueSet/$validate-code over HTTP on both engines: membership, codes unknown to the code system,
CodeableConcepts, inline tx-resources and unknown value sets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from termsvc.api.app import create_app
from termsvc.settings import Settings
from termsvc.store.loadrun import load_run

SYSTEM = "http://example.org/cs/fruit"
VS_URL = "http://example.org/vs/citrus"


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with load_run(engine, "test", "fruit") as run:
        writer = run.code_system({"url": SYSTEM, "version": "1", "content": "complete"})
        for code in ("fruit", "citrus", "lemon", "lime", "apple"):
            writer.add_concept(code, code.title())
        for parent, child in (("fruit", "citrus"), ("citrus", "lemon"), ("citrus", "lime"), ("fruit", "apple")):
            writer.add_edge(parent, child)
        writer.finish()
        run.value_set({"resourceType": "ValueSet", "url": VS_URL, "version": "2", "status": "active",
                       "compose": {"include": [{"system": SYSTEM, "filter": [
                           {"property": "concept", "op": "descendent-of", "value": "citrus"}]}]}})
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=engine)) as test_client:
        yield test_client


def _result(body: dict[str, Any]) -> dict[str, Any]:
    return {p["name"]: p for p in body["parameter"]}


def test_code_in_the_value_set_is_valid_with_its_display(client: TestClient) -> None:
    body = client.get("/fhir/ValueSet/$validate-code", params={"url": VS_URL, "system": SYSTEM, "code": "lime"}).json()
    out = _result(body)
    assert out["result"]["valueBoolean"] is True
    assert out["display"]["valueString"] == "Lime"


def test_code_of_the_system_outside_the_value_set_is_not_valid(client: TestClient) -> None:
    body = client.get("/fhir/ValueSet/$validate-code", params={"url": VS_URL, "system": SYSTEM, "code": "apple"}).json()
    out = _result(body)
    assert out["result"]["valueBoolean"] is False
    assert out["message"]["valueString"] == (f"The provided code '{SYSTEM}#apple' was not found in the value set "
                                             f"'{VS_URL}|2'")
    issue = out["issues"]["resource"]["issue"][0]
    assert issue["details"]["coding"][0]["code"] == "not-in-vs"


def test_code_unknown_to_the_system_reports_both_problems(client: TestClient) -> None:
    body = client.get("/fhir/ValueSet/$validate-code", params={"url": VS_URL, "system": SYSTEM, "code": "kiwi"}).json()
    codes = [i["details"]["coding"][0]["code"] for i in _result(body)["issues"]["resource"]["issue"]]
    assert codes == ["not-in-vs", "invalid-code"]


def test_codeable_concept_is_valid_when_one_coding_is_in_the_value_set(client: TestClient) -> None:
    concept = {"coding": [{"system": "http://example.org/other", "code": "x"}, {"system": SYSTEM, "code": "lemon"}]}
    response = client.post("/fhir/ValueSet/$validate-code", json={"resourceType": "Parameters", "parameter": [
        {"name": "url", "valueUri": VS_URL}, {"name": "codeableConcept", "valueCodeableConcept": concept}]})
    out = _result(response.json())
    assert out["code"]["valueCode"] == "lemon"
    assert out["system"]["valueUri"] == SYSTEM


def test_inline_value_set_is_used_for_the_request(client: TestClient) -> None:
    inline = {"resourceType": "ValueSet", "url": "http://example.org/vs/apples", "status": "active",
              "compose": {"include": [{"system": SYSTEM, "concept": [{"code": "apple"}]}]}}
    response = client.post("/fhir/ValueSet/$validate-code", json={"resourceType": "Parameters", "parameter": [
        {"name": "url", "valueUri": "http://example.org/vs/apples"}, {"name": "system", "valueUri": SYSTEM},
        {"name": "code", "valueCode": "apple"}, {"name": "tx-resource", "resource": inline}]})
    assert _result(response.json())["result"]["valueBoolean"] is True


def test_unknown_value_set_is_404(client: TestClient) -> None:
    response = client.get("/fhir/ValueSet/$validate-code", params={"url": "http://example.org/vs/none",
                                                                    "system": SYSTEM, "code": "lime"})
    assert response.status_code == 404
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "not-found"


def test_missing_code_is_a_400(client: TestClient) -> None:
    response = client.get("/fhir/ValueSet/$validate-code", params={"url": VS_URL})
    assert response.status_code == 400
