"""GET /fhir/metadata: the CapabilityStatement lists what the CodeSystem router offers, and
?mode=terminology returns a TerminologyCapabilities that tells the truth about the store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine

from termsvc.api.app import create_app
from termsvc.settings import Settings
from termsvc.store.loadrun import load_run

A = "http://example.org/fhir/CodeSystem/a"
B = "http://example.org/fhir/CodeSystem/b"


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=engine)) as test_client:
        yield test_client


def _load(engine: Engine, url: str, version: str, *, language: str | None = None) -> None:
    resource: dict[str, Any] = {"resourceType": "CodeSystem", "url": url, "version": version, "status": "active",
                                "content": "complete"}
    if language:
        resource["language"] = language
    with load_run(engine, "fhir", "test") as run:
        cs = run.code_system(resource)
        cs.add_concept("x", "X")
        cs.finish()


def _code_systems(client: TestClient) -> dict[str, list[dict[str, Any]]]:
    body = client.get("/fhir/metadata", params={"mode": "terminology"}).json()
    assert body["resourceType"] == "TerminologyCapabilities"
    return {entry["uri"]: entry["version"] for entry in body.get("codeSystem", [])}


def test_capability_statement_lists_codesystem_read_search_and_operations(client: TestClient) -> None:
    body = client.get("/fhir/metadata").json()
    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"] == "4.0.1"
    [code_system] = [r for r in body["rest"][0]["resource"] if r["type"] == "CodeSystem"]
    assert {i["code"] for i in code_system["interaction"]} >= {"read", "search-type"}
    assert {op["name"] for op in code_system["operation"]} >= {"lookup", "validate-code"}
    assert {p["name"] for p in code_system["searchParam"]} >= {"url", "version", "name", "title", "status"}


def test_capability_statement_is_served_as_xml_when_asked(client: TestClient) -> None:
    response = client.get("/fhir/metadata", headers={"Accept": "application/fhir+xml"})
    assert response.headers["content-type"].startswith("application/fhir+xml")
    assert etree.fromstring(response.content).tag == "{http://hl7.org/fhir}CapabilityStatement"


def test_terminology_capabilities_of_an_empty_store_lists_no_code_systems(client: TestClient) -> None:
    assert _code_systems(client) == {}


def test_terminology_capabilities_lists_each_stored_version_and_the_default(engine: Engine,
                                                                           client: TestClient) -> None:
    _load(engine, A, "1.0")
    _load(engine, A, "2.0")
    _load(engine, B, "2024", language="de")
    systems = _code_systems(client)
    assert systems[A] == [{"code": "1.0", "isDefault": False}, {"code": "2.0", "isDefault": True}]
    assert systems[B] == [{"code": "2024", "isDefault": True, "language": ["de"]}]


def test_terminology_capabilities_sees_a_load_made_after_start(engine: Engine, client: TestClient) -> None:
    assert A not in _code_systems(client)
    _load(engine, A, "1.0")
    assert A in _code_systems(client)


def test_terminology_capabilities_claims_validate_code(client: TestClient) -> None:
    body = client.get("/fhir/metadata", params={"mode": "terminology"}).json()
    assert body["validateCode"] == {"translations": False}
    assert body["kind"] == "instance"
    assert body["status"] == "active"


def test_versions_operation_names_fhir_r4_and_is_listed(client: TestClient) -> None:
    body = client.get("/fhir/$versions").json()
    assert {p["name"]: p["valueCode"] for p in body["parameter"]} == {"version": "4.0", "default": "4.0"}
    rest = client.get("/fhir/metadata").json()["rest"][0]
    assert {"name": "versions", "definition": "http://hl7.org/fhir/OperationDefinition/CapabilityStatement-versions"
            } in rest["operation"]


def test_capability_statement_declares_the_tested_features(client: TestClient) -> None:
    features = {e["extension"][0]["valueCanonical"]: e["extension"][1]
                for e in client.get("/fhir/metadata").json()["extension"]}
    assert features["http://hl7.org/fhir/uv/tx-tests/FeatureDefinition/test-version"] == {"url": "value",
                                                                                         "valueCode": "1.9.3"}
    assert "http://hl7.org/fhir/uv/tx-ecosystem/FeatureDefinition/CodeSystemAsParameter" in features
