"""The OpenAPI document declares what each operation takes (so /docs, generated clients and fuzzers reach
the operations), and what it declares is what the server accepts: a request built only from the document
is answered, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from termsvc.api.app import create_app
from termsvc.api.openapi_ops import FHIR_JSON, FHIR_XML, FORM, OPERATIONS
from termsvc.settings import Settings
from termsvc.store.loadrun import load_run

COLOURS = "http://example.org/fhir/CodeSystem/colours"


@pytest.fixture
def client(engine: Engine, store_url: str) -> Iterator[TestClient]:
    with load_run(engine, "fhir", "test") as run:
        cs = run.code_system({"resourceType": "CodeSystem", "id": "colours", "url": COLOURS, "version": "1",
                              "name": "Colours", "status": "active", "content": "complete"})
        cs.add_concept("red", "Red")
        cs.add_concept("dark-red", "Dark red")
        cs.add_edge("red", "dark-red")
        cs.finish()
    with TestClient(create_app(Settings(database_url=store_url), engine=engine)) as test_client:
        yield test_client


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/openapi.json").json()
    return body


def test_every_operation_declares_its_get_parameters_and_post_body(document: dict[str, Any]) -> None:
    for path in OPERATIONS:
        operations = document["paths"][f"/fhir{path}"]
        assert set(operations["post"]["requestBody"]["content"]) == {FHIR_JSON, FHIR_XML, FORM}, path
        primitives = {p.name for p in OPERATIONS[path][0] if p.type[0].islower()}
        if "get" in operations:  # $batch-validate-code is POST only
            declared = {p["name"] for p in operations["get"]["parameters"] if p["in"] == "query"}
            assert primitives <= declared, path


def test_lookup_declares_the_r4_parameters_with_cardinality(document: dict[str, Any]) -> None:
    query = {p["name"]: p for p in document["paths"]["/fhir/CodeSystem/$lookup"]["get"]["parameters"]}
    assert {"code", "system", "version", "displayLanguage", "property", "date"} <= set(query)
    assert query["property"]["schema"]["type"] == "array"  # 0..*
    body = document["paths"]["/fhir/CodeSystem/$lookup"]["post"]["requestBody"]["content"][FHIR_JSON]["schema"]
    names = {item["properties"]["name"]["enum"][0] for item in body["properties"]["parameter"]["items"]["oneOf"]}
    assert {"code", "system", "coding"} <= names


def test_search_declares_its_parameters_and_the_result_parameters(document: dict[str, Any]) -> None:
    for resource_type in ("CodeSystem", "ValueSet", "ConceptMap"):
        names = {p["name"] for p in document["paths"][f"/fhir/{resource_type}"]["get"]["parameters"]}
        assert {"url", "version", "name", "_id", "_sort", "_elements", "_total", "_count", "_summary"} <= names


def test_errors_are_declared_as_operation_outcomes_not_validation_errors(document: dict[str, Any]) -> None:
    answers = document["paths"]["/fhir/ValueSet/$expand"]["get"]["responses"]
    assert answers["400"]["content"][FHIR_JSON]["schema"]["$ref"].endswith("/OperationOutcome")
    assert "HTTPValidationError" not in str(answers)


def _example(document: dict[str, Any], path: str, values: dict[str, Any]) -> dict[str, Any]:
    """A Parameters body built from the document's schema: each value under the key the schema names."""
    schema = document["paths"][path]["post"]["requestBody"]["content"][FHIR_JSON]["schema"]
    keys = {item["properties"]["name"]["enum"][0]: next(k for k in item["required"] if k != "name")
            for item in schema["properties"]["parameter"]["items"]["oneOf"]}
    return {"resourceType": "Parameters", "parameter": [{"name": n, keys[n]: v} for n, v in values.items()]}


def test_a_body_built_from_the_document_is_accepted(client: TestClient, document: dict[str, Any]) -> None:
    body = _example(document, "/fhir/CodeSystem/$subsumes", {"system": COLOURS, "codeA": "red", "codeB": "dark-red"})
    answer = client.post("/fhir/CodeSystem/$subsumes", json=body)
    assert answer.status_code == 200
    assert answer.json()["parameter"][0]["valueCode"] == "subsumes"
    coding = _example(document, "/fhir/CodeSystem/$lookup", {"coding": {"system": COLOURS, "code": "red"}})
    assert client.post("/fhir/CodeSystem/$lookup", json=coding).status_code == 200


def test_a_form_body_as_declared_is_accepted(client: TestClient) -> None:
    answer = client.post("/fhir/CodeSystem/$validate-code", data={"url": COLOURS, "code": "red"})
    assert answer.status_code == 200
    assert {"name": "result", "valueBoolean": True} in answer.json()["parameter"]
