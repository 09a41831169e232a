"""FHIR search as clients expect it, on every terminology resource, SQLite and PostgreSQL: `_id`, `_sort`,
`_elements`, `_total`, strict and lenient handling of unknown parameters, `_history` refused clearly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from termsvc.api.app import create_app
from termsvc.settings import Settings
from termsvc.store.loadrun import load_run
from termsvc.store.resources import store_concept_map, store_value_set

TYPES = ("CodeSystem", "ValueSet", "ConceptMap")
# two resources of each type: (id, url, name)
ALPHA = ("alpha", "http://example.org/fhir/{t}/alpha", "Alpha")
BETA = ("beta", "http://example.org/fhir/{t}/beta", "Beta")


def _resource(resource_type: str, rid: str, url: str, name: str) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": resource_type, "id": rid, "url": url.format(t=resource_type),
                            "version": "1", "name": name, "status": "active",
                            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}
    if resource_type == "ValueSet":
        body["compose"] = {"include": [{"system": "http://example.org/cs"}]}
    if resource_type == "ConceptMap":
        body["group"] = [{"source": "http://example.org/a", "target": "http://example.org/b",
                          "element": [{"code": "1", "target": [{"code": "2", "equivalence": "equivalent"}]}]}]
    return body


@pytest.fixture
def client(engine: Engine, store_url: str) -> Iterator[TestClient]:
    with load_run(engine, "fhir", "test") as run:
        for rid, url, name in (ALPHA, BETA):
            cs = run.code_system({**_resource("CodeSystem", rid, url, name), "content": "complete"})
            cs.add_concept("c1", "Concept one")
            cs.finish()
    with engine.begin() as conn:
        for rid, url, name in (ALPHA, BETA):
            store_value_set(conn, _resource("ValueSet", rid, url, name))
            store_concept_map(conn, _resource("ConceptMap", rid, url, name))
    with TestClient(create_app(Settings(database_url=store_url), engine=engine)) as test_client:
        yield test_client


def _matches(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def _self_query(bundle: dict[str, Any]) -> dict[str, list[str]]:
    link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    return parse_qs(urlparse(link).query)


@pytest.mark.parametrize("resource_type", TYPES)
def test_search_by_id_finds_only_that_resource(client: TestClient, resource_type: str) -> None:
    bundle = client.get(f"/fhir/{resource_type}", params={"_id": "beta"}).json()
    assert bundle["total"] == 1
    assert [r["id"] for r in _matches(bundle)] == ["beta"]


@pytest.mark.parametrize("resource_type", TYPES)
def test_search_by_several_ids_and_an_unknown_one(client: TestClient, resource_type: str) -> None:
    assert client.get(f"/fhir/{resource_type}", params={"_id": "alpha,beta"}).json()["total"] == 2
    assert client.get(f"/fhir/{resource_type}", params={"_id": "gamma"}).json()["total"] == 0


@pytest.mark.parametrize("resource_type", TYPES)
def test_sort_descending_by_name_orders_the_page(client: TestClient, resource_type: str) -> None:
    down = _matches(client.get(f"/fhir/{resource_type}", params={"name": "", "_sort": "-name",
                                                                  "_id": "alpha,beta"}).json())
    up = _matches(client.get(f"/fhir/{resource_type}", params={"_sort": "name", "_id": "alpha,beta"}).json())
    assert [r["name"] for r in down] == ["Beta", "Alpha"]
    assert [r["name"] for r in up] == ["Alpha", "Beta"]


@pytest.mark.parametrize("resource_type", TYPES)
def test_elements_keeps_the_named_and_mandatory_elements_and_marks_subsetted(client: TestClient,
                                                                            resource_type: str) -> None:
    resource = _matches(client.get(f"/fhir/{resource_type}", params={"_id": "alpha", "_elements": "url"}).json())[0]
    assert set(resource) - {"resourceType", "id", "meta", "status", "content"} == {"url"}
    assert any(tag["code"] == "SUBSETTED" for tag in resource["meta"]["tag"])


@pytest.mark.parametrize("resource_type", TYPES)
def test_total_none_leaves_the_total_out(client: TestClient, resource_type: str) -> None:
    bundle = client.get(f"/fhir/{resource_type}", params={"_total": "none", "_id": "alpha,beta"}).json()
    assert "total" not in bundle
    assert len(_matches(bundle)) == 2


def test_a_bad_total_mode_is_400(client: TestClient) -> None:
    response = client.get("/fhir/ValueSet", params={"_total": "lots"})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("resource_type", TYPES)
def test_strict_handling_refuses_an_unknown_parameter(client: TestClient, resource_type: str) -> None:
    response = client.get(f"/fhir/{resource_type}", params={"colour": "red"}, headers={"Prefer": "handling=strict"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["code"] == "not-supported"


@pytest.mark.parametrize("resource_type", TYPES)
def test_lenient_handling_ignores_an_unknown_parameter_and_says_so(client: TestClient, resource_type: str) -> None:
    bundle = client.get(f"/fhir/{resource_type}", params={"colour": "red", "_id": "alpha"}).json()
    assert [r["id"] for r in _matches(bundle)] == ["alpha"]
    assert "colour" not in _self_query(bundle) and _self_query(bundle)["_id"] == ["alpha"]
    outcomes = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert outcomes[0]["resourceType"] == "OperationOutcome"
    assert outcomes[0]["issue"][0]["expression"] == ["colour"]


def test_an_unknown_sort_key_is_refused_when_strict_and_reported_otherwise(client: TestClient) -> None:
    strict = client.get("/fhir/ConceptMap", params={"_sort": "colour"}, headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400
    lenient = client.get("/fhir/ConceptMap", params={"_sort": "colour"}).json()
    assert any(e["search"]["mode"] == "outcome" for e in lenient["entry"])


def test_summary_true_leaves_out_what_is_not_in_the_summary(client: TestClient) -> None:
    value_set = _matches(client.get("/fhir/ValueSet", params={"_id": "alpha", "_summary": "true"}).json())[0]
    concept_map = _matches(client.get("/fhir/ConceptMap", params={"_id": "alpha", "_summary": "true"}).json())[0]
    assert "compose" not in value_set and "text" not in value_set
    assert "group" not in concept_map and concept_map["url"].endswith("/alpha")


def test_the_capability_statement_declares_id_on_every_resource(client: TestClient) -> None:
    statement = client.get("/fhir/metadata").json()
    for resource in statement["rest"][0]["resource"]:
        if resource["type"] in TYPES:
            assert {"name": "_id", "type": "token"} in resource["searchParam"]


@pytest.mark.parametrize("path", ["/fhir/_history", "/fhir/CodeSystem/_history", "/fhir/ValueSet/alpha/_history",
                                  "/fhir/ConceptMap/alpha/_history"])
def test_history_is_refused_with_an_operation_outcome(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 405
    assert response.json()["issue"][0]["code"] == "not-supported"


@pytest.mark.parametrize("value", ["99999999999999999999999", "²", "-1"])
def test_a_count_or_offset_that_is_not_a_small_whole_number_is_400(client: TestClient, value: str) -> None:
    for name in ("_count", "_offset"):
        response = client.get("/fhir/ConceptMap", params={name: value})
        assert response.status_code == 400, (name, value)
