"""ValueSet/$expand, read and search over HTTP (TestClient over the app), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from termsvc.api.app import create_app
from termsvc.settings import Settings
from termsvc.store.loadrun import load_run

SYSTEM = "http://example.org/cs/numbers"
VS_URL = "http://example.org/vs/numbers"
SIZE = 120


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with load_run(engine, "test", "numbers") as run:
        writer = run.code_system({"url": SYSTEM, "version": "1", "content": "complete"})
        for n in range(SIZE):
            writer.add_concept(f"n{n:03d}", f"Number {n}", active=n != 7)
        writer.add_edge("n000", "n001")
        writer.finish()
        run.value_set({"resourceType": "ValueSet", "id": "numbers", "url": VS_URL, "version": "1", "name": "Numbers",
                       "status": "active", "compose": {"include": [{"system": SYSTEM}]}})
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=engine)) as test_client:
        yield test_client


def _post(client: TestClient, *parameters: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return client.post("/fhir/ValueSet/$expand", json={"resourceType": "Parameters", "parameter": list(parameters)},
                       headers=headers or {})


def _codes(body: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for entry in body["expansion"].get("contains", []):
        out.append(entry["code"])
        out.extend(_codes({"expansion": entry}) if "contains" in entry else [])
    return out


def test_expand_by_url_gives_total_and_every_code(client: TestClient) -> None:
    body = client.get("/fhir/ValueSet/$expand", params={"url": VS_URL, "excludeNested": "true"}).json()
    assert body["expansion"]["total"] == SIZE
    assert len(_codes(body)) == SIZE
    assert {"name": "used-codesystem", "valueUri": f"{SYSTEM}|1"} in body["expansion"]["parameter"]


def test_paging_returns_the_requested_slice_in_a_stable_order(client: TestClient) -> None:
    whole = _codes(client.get("/fhir/ValueSet/$expand", params={"url": VS_URL, "excludeNested": "true"}).json())
    page = client.get("/fhir/ValueSet/$expand", params={"url": VS_URL, "offset": "100", "count": "10"}).json()
    assert page["expansion"]["offset"] == 100
    assert page["expansion"]["total"] == SIZE
    assert _codes(page) == whole[100:110]


def test_inactive_concepts_are_flagged_and_dropped_by_active_only(client: TestClient) -> None:
    body = client.get("/fhir/ValueSet/$expand", params={"url": VS_URL, "excludeNested": "true"}).json()
    assert next(e for e in body["expansion"]["contains"] if e["code"] == "n007")["inactive"] is True
    active = client.get("/fhir/ValueSet/$expand", params={"url": VS_URL, "activeOnly": "true"}).json()
    assert "n007" not in _codes(active)


def test_hierarchy_is_nested_unless_exclude_nested(client: TestClient) -> None:
    body = client.get("/fhir/ValueSet/$expand", params={"url": VS_URL}).json()
    top = next(e for e in body["expansion"]["contains"] if e["code"] == "n000")
    assert [c["code"] for c in top["contains"]] == ["n001"]


def test_text_filter_narrows_the_expansion(client: TestClient) -> None:
    body = client.get("/fhir/ValueSet/$expand", params={"url": VS_URL, "filter": "number 11"}).json()
    assert set(_codes(body)) == {"n011"} | {f"n{n}" for n in range(110, 120)}


def test_too_costly_threshold_header_refuses_an_unpaged_expansion(client: TestClient) -> None:
    response = client.get("/fhir/ValueSet/$expand", params={"url": VS_URL},
                          headers={"X-TOO-COSTLY-THRESHOLD": "50"})
    assert response.status_code == 422
    assert response.json()["issue"][0]["code"] == "too-costly"
    paged = client.get("/fhir/ValueSet/$expand", params={"url": VS_URL, "count": "10"},
                       headers={"X-TOO-COSTLY-THRESHOLD": "50"})
    assert paged.status_code == 200


def test_inline_tx_resources_are_expanded_and_not_kept(client: TestClient, engine: Engine) -> None:
    code_system = {"resourceType": "CodeSystem", "url": "http://example.org/cs/inline", "version": "2",
                   "content": "complete", "concept": [{"code": "a", "display": "A", "concept": [{"code": "b"}]}]}
    value_set = {"resourceType": "ValueSet", "url": "http://example.org/vs/inline", "status": "active",
                 "compose": {"include": [{"system": "http://example.org/cs/inline",
                                          "filter": [{"property": "concept", "op": "descendent-of", "value": "a"}]}]}}
    response = _post(client, {"name": "url", "valueUri": "http://example.org/vs/inline"},
                     {"name": "tx-resource", "resource": code_system}, {"name": "tx-resource", "resource": value_set})
    assert response.status_code == 200, response.text
    assert _codes(response.json()) == ["b"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM code_system WHERE url = 'http://example.org/cs/inline'")
                            ).scalar_one() == 0


def test_unknown_value_set_is_404_with_an_outcome(client: TestClient) -> None:
    response = client.get("/fhir/ValueSet/$expand", params={"url": "http://example.org/vs/none"})
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_expand_by_id_and_read_and_search(client: TestClient) -> None:
    assert client.get("/fhir/ValueSet/numbers/$expand", params={"count": "1"}).json()["expansion"]["total"] == SIZE
    assert client.get("/fhir/ValueSet/numbers").json()["url"] == VS_URL
    bundle = client.get("/fhir/ValueSet", params={"url": VS_URL, "_summary": "true"}).json()
    assert bundle["total"] == 1
    assert "compose" not in bundle["entry"][0]["resource"]
    assert client.get("/fhir/ValueSet", params={"name": "nothing"}).json()["total"] == 0


def test_missing_required_supplement_is_an_error_naming_it(client: TestClient) -> None:
    response = _post(client, {"name": "url", "valueUri": VS_URL},
                     {"name": "useSupplement", "valueCanonical": "http://example.org/cs/absent-supplement"})
    assert response.status_code == 404
    assert "http://example.org/cs/absent-supplement" in response.json()["issue"][0]["details"]["text"]


def test_unpaged_expansion_nests_nothing_for_an_enumerated_value_set(client: TestClient) -> None:
    inline = {"resourceType": "ValueSet", "url": "http://example.org/vs/two", "status": "active",
              "compose": {"include": [{"system": SYSTEM, "concept": [{"code": "n000"}, {"code": "n001"}]}]}}
    body = _post(client, {"name": "url", "valueUri": "http://example.org/vs/two"},
                 {"name": "tx-resource", "resource": inline}).json()
    assert [e["code"] for e in body["expansion"]["contains"]] == ["n000", "n001"]
