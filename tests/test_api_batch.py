"""POST /fhir with a batch Bundle (TestClient over the app), on SQLite and PostgreSQL: each entry answered
in order with its own status, good and bad entries side by side, and Bundles that are not batches refused."""

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

SHAPES = "http://example.org/fhir/CodeSystem/shapes"


@pytest.fixture
def client(engine: Engine, store_url: str) -> Iterator[TestClient]:
    with load_run(engine, "fhir", "test") as run:
        cs = run.code_system({"resourceType": "CodeSystem", "id": "shapes", "url": SHAPES, "version": "1",
                              "name": "Shapes", "status": "active", "content": "complete"})
        cs.add_concept("shape", "Shape")
        cs.add_concept("square", "Square")
        cs.add_edge("shape", "square")
        cs.finish()
    with TestClient(create_app(Settings(database_url=store_url), engine=engine)) as test_client:
        yield test_client


def _batch(*requests: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "batch", "entry": list(requests)}


def _get(url: str) -> dict[str, Any]:
    return {"request": {"method": "GET", "url": url}}


def _statuses(body: dict[str, Any]) -> list[str]:
    return [e["response"]["status"] for e in body["entry"]]


def test_each_entry_is_answered_in_order_with_its_status_and_resource(client: TestClient) -> None:
    response = client.post("/fhir", json=_batch(
        _get(f"CodeSystem/$lookup?system={SHAPES}&code=square"),
        _get(f"CodeSystem/$subsumes?system={SHAPES}&codeA=shape&codeB=square")))
    assert response.status_code == 200
    body = response.json()
    assert body["resourceType"] == "Bundle" and body["type"] == "batch-response"
    assert _statuses(body) == ["200 OK", "200 OK"]
    lookup, subsumes = (e["resource"] for e in body["entry"])
    assert {"name": "display", "valueString": "Square"} in lookup["parameter"]
    assert subsumes["parameter"] == [{"name": "outcome", "valueCode": "subsumes"}]


def test_a_failing_entry_gets_its_outcome_and_does_not_fail_the_others(client: TestClient) -> None:
    response = client.post("/fhir", json=_batch(
        _get(f"CodeSystem/$lookup?system={SHAPES}&code=circle"),
        _get(f"CodeSystem/$lookup?system={SHAPES}&code=shape"),
        {"request": {"method": "FETCH", "url": "CodeSystem"}},
        {"resource": {"resourceType": "Basic"}},
        _get("NoSuchThing/123")))
    assert response.status_code == 200
    entries = response.json()["entry"]
    assert _statuses(response.json()) == ["404 Not Found", "200 OK", "400 Bad Request", "400 Bad Request",
                                          "404 Not Found"]
    assert "circle" in entries[0]["response"]["outcome"]["issue"][0]["details"]["text"]
    assert "resource" not in entries[0]
    assert entries[1]["resource"]["resourceType"] == "Parameters"
    assert "FETCH" in entries[2]["response"]["outcome"]["issue"][0]["details"]["text"]
    assert "request" in entries[3]["response"]["outcome"]["issue"][0]["details"]["text"]


def test_a_post_entry_sends_its_resource_as_the_body(client: TestClient) -> None:
    parameters = {"resourceType": "Parameters", "parameter": [
        {"name": "codingA", "valueCoding": {"system": SHAPES, "code": "square"}},
        {"name": "codingB", "valueCoding": {"system": SHAPES, "code": "shape"}}]}
    response = client.post("/fhir", json=_batch({"resource": parameters,
                                                 "request": {"method": "POST", "url": "CodeSystem/$subsumes"}}))
    entry = response.json()["entry"][0]
    assert entry["response"]["status"] == "200 OK"
    assert entry["resource"]["parameter"] == [{"name": "outcome", "valueCode": "subsumed-by"}]


def test_an_absolute_url_on_this_server_is_accepted(client: TestClient) -> None:
    response = client.post("/fhir", json=_batch(_get("http://testserver/fhir/CodeSystem/shapes")))
    entry = response.json()["entry"][0]
    assert entry["response"]["status"] == "200 OK"
    assert entry["resource"]["url"] == SHAPES


def test_an_absolute_url_on_another_server_is_refused_for_that_entry(client: TestClient) -> None:
    response = client.post("/fhir", json=_batch(_get("http://elsewhere.example/base/CodeSystem/shapes"),
                                                _get("CodeSystem/shapes")))
    assert _statuses(response.json()) == ["400 Bad Request", "200 OK"]


def test_an_entry_addressing_the_base_is_refused_so_batches_do_not_nest(client: TestClient) -> None:
    response = client.post("/fhir", json=_batch({"resource": _batch(), "request": {"method": "POST", "url": "/"}}))
    assert _statuses(response.json()) == ["400 Bad Request"]


def test_a_transaction_bundle_is_refused_with_422_not_supported(client: TestClient) -> None:
    response = client.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": []})
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert issue["code"] == "not-supported"
    assert "ransaction" in issue["details"]["text"]


def test_a_resource_that_is_not_a_bundle_is_refused(client: TestClient) -> None:
    response = client.post("/fhir", json={"resourceType": "Parameters"})
    assert response.status_code == 400
    assert "Parameters" in response.json()["issue"][0]["details"]["text"]


def test_a_bundle_of_another_type_is_refused(client: TestClient) -> None:
    response = client.post("/fhir", json={"resourceType": "Bundle", "type": "collection"})
    assert response.status_code == 400


def test_an_empty_batch_gets_an_empty_batch_response(client: TestClient) -> None:
    body = client.post("/fhir", json=_batch()).json()
    assert body["type"] == "batch-response" and body["entry"] == []


def test_the_batch_response_comes_in_xml_when_asked(client: TestClient) -> None:
    response = client.post("/fhir", json=_batch(_get(f"CodeSystem/$lookup?system={SHAPES}&code=square")),
                           headers={"Accept": "application/fhir+xml"})
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    assert root.tag == "{http://hl7.org/fhir}Bundle"
    status = root.find(".//{http://hl7.org/fhir}response/{http://hl7.org/fhir}status")
    assert status is not None and status.get("value") == "200 OK"


def test_the_capability_statement_declares_batch(client: TestClient) -> None:
    rest = client.get("/fhir/metadata").json()["rest"][0]
    assert {"code": "batch"} in rest["interaction"]


def test_an_oversized_batch_is_refused_with_413_before_it_is_read(engine: Engine, store_url: str) -> None:
    settings = Settings(database_url=store_url, max_request_bytes=1024)
    with TestClient(create_app(settings, engine=engine)) as small:
        big = _batch(*[_get(f"CodeSystem/$lookup?system={SHAPES}&code=square") for _ in range(40)])
        response = small.post("/fhir", json=big, headers={"Accept": "application/fhir+xml"})
    assert response.status_code == 413
    root = etree.fromstring(response.content)
    assert root.tag == "{http://hl7.org/fhir}OperationOutcome"
    code = root.find(".//{http://hl7.org/fhir}code")
    assert code is not None and code.get("value") == "too-long"
