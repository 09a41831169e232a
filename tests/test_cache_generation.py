"""Per-process caches keyed by the store generation (termsvc.store.generation, termsvc.store.cache), on SQLite
and PostgreSQL: a load or a write through one API instance is seen at once by another instance over the same
store, a request's inline resources never reach a cache, and a cached expansion is the expansion."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from termsvc.api.app import create_app
from termsvc.auth import tokens
from termsvc.ops import answers
from termsvc.ops import expand as expand_ops
from termsvc.ops.loading import run_load
from termsvc.settings import Settings
from termsvc.store import generation, queries
from termsvc.store.cache import GenerationCache
from termsvc.store.engine import make_engine
from termsvc.store.generation import Generation
from termsvc.valuesets import finder

CS_URL = "http://example.org/cs/shapes"
VS_URL = "http://example.org/vs/polygons"
CACHES: list[GenerationCache[Any]] = [expand_ops._FINISHED, queries._VERSIONS_CACHE, finder._VERSIONS,
                                      answers._ANSWERS]


def code_system(display: str = "Square", version: str = "1") -> dict[str, Any]:
    return {"resourceType": "CodeSystem", "url": CS_URL, "version": version, "status": "active",
            "content": "complete", "caseSensitive": True, "hierarchyMeaning": "is-a",
            "concept": [{"code": "shape", "display": "Shape", "concept": [
                {"code": "polygon", "display": "Polygon", "concept": [
                    {"code": "square", "display": display}, {"code": "triangle", "display": "Triangle"}]},
                {"code": "circle", "display": "Circle"}]}]}


def value_set(root: str = "polygon") -> dict[str, Any]:
    return {"resourceType": "ValueSet", "id": "polygons", "url": VS_URL, "version": "1", "status": "active",
            "compose": {"include": [{"system": CS_URL, "filter": [
                {"property": "concept", "op": "is-a", "value": root}]}]}}


def _client(engine: Engine, store_url: str) -> TestClient:
    return TestClient(create_app(Settings(database_url=store_url), engine=engine))


@pytest.fixture
def clients(engine: Engine, store_url: str) -> Iterator[tuple[TestClient, TestClient]]:
    """Two API instances over one store, each with its own engine (as two processes would have): the first
    writes, the second reads."""
    other = make_engine(store_url)
    with _client(engine, store_url) as writer, _client(other, store_url) as reader:
        writer.headers["Authorization"] = f"Bearer {tokens.issue(engine, 'writer', 'system/*.cud')}"
        assert writer.put("/fhir/CodeSystem/shapes", json={**code_system(), "id": "shapes"}).status_code == 201
        assert writer.put("/fhir/ValueSet/polygons", json=value_set()).status_code == 201
        yield writer, reader
    other.dispose()


def _codes(contains: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for entry in contains:
        out.append(entry["code"])
        out.extend(_codes(entry.get("contains", [])))
    return sorted(out)


def _expand(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get("/fhir/ValueSet/$expand", params={"url": VS_URL, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _generation(engine: Engine) -> Generation:
    with engine.connect() as conn:
        generation.open_for_reads(conn)
        found = generation.current(conn)
    assert found is not None
    return found


def test_a_load_bumps_the_generation(engine: Engine, tmp_path: Any) -> None:
    before = _generation(engine)
    path = tmp_path / "shapes.json"
    path.write_text(json.dumps(code_system()))
    run_load(engine, "fhir", path)
    after = _generation(engine)
    assert after.store == before.store and after.number > before.number


def test_a_failed_write_leaves_the_generation_as_it_was(clients: tuple[TestClient, TestClient],
                                                        engine: Engine) -> None:
    writer, _ = clients
    before = _generation(engine)
    assert writer.put("/fhir/ValueSet/polygons", json={**value_set(), "status": "nonsense"}).status_code >= 400
    assert _generation(engine) == before


def test_a_value_set_written_through_one_instance_is_expanded_anew_by_another(
        clients: tuple[TestClient, TestClient]) -> None:
    writer, reader = clients
    assert _codes(_expand(reader)["expansion"]["contains"]) == ["polygon", "square", "triangle"]
    assert writer.put("/fhir/ValueSet/polygons", json=value_set("shape")).status_code == 200
    assert _codes(_expand(reader)["expansion"]["contains"]) == ["circle", "polygon", "shape", "square", "triangle"]


def test_a_code_system_written_through_one_instance_is_looked_up_anew_by_another(
        clients: tuple[TestClient, TestClient]) -> None:
    writer, reader = clients

    def display() -> str:
        body = reader.get("/fhir/CodeSystem/$lookup", params={"system": CS_URL, "code": "square"}).json()
        return str(next(p["valueString"] for p in body["parameter"] if p["name"] == "display"))

    def validates(code: str) -> bool:
        body = reader.get("/fhir/ValueSet/$validate-code", params={"url": VS_URL, "system": CS_URL,
                                                                  "code": code}).json()
        return bool(next(p["valueBoolean"] for p in body["parameter"] if p["name"] == "result"))

    assert display() == "Square" and not validates("hexagon")
    flat = _expand(reader, excludeNested="true")["expansion"]["contains"]
    assert {c["code"]: c["display"] for c in flat}["square"] == "Square"
    changed = code_system("Quadrate")
    changed["concept"][0]["concept"][0]["concept"].append({"code": "hexagon", "display": "Hexagon"})
    assert writer.put("/fhir/CodeSystem/shapes", json={**changed, "id": "shapes"}).status_code == 200
    assert display() == "Quadrate" and validates("hexagon")
    flat = _expand(reader, excludeNested="true")["expansion"]["contains"]
    assert {c["code"]: c["display"] for c in flat}["square"] == "Quadrate"


def test_a_deleted_value_set_is_not_found_by_another_instance(clients: tuple[TestClient, TestClient]) -> None:
    writer, reader = clients
    _expand(reader)
    assert writer.delete("/fhir/ValueSet/polygons").status_code in (200, 204)
    assert reader.get("/fhir/ValueSet/$expand", params={"url": VS_URL}).status_code == 404


def test_inline_resources_are_used_for_their_request_only(clients: tuple[TestClient, TestClient]) -> None:
    _, reader = clients
    stored = _codes(_expand(reader)["expansion"]["contains"])
    inline = {"resourceType": "Parameters", "parameter": [
        {"name": "url", "valueUri": VS_URL},
        {"name": "tx-resource", "resource": value_set("shape")}]}
    answer = reader.post("/fhir/ValueSet/$expand", json=inline).json()
    assert _codes(answer["expansion"]["contains"]) == ["circle", "polygon", "shape", "square", "triangle"]
    assert _codes(_expand(reader)["expansion"]["contains"]) == stored


REQUESTS: list[dict[str, str]] = [
    {}, {"count": "1", "offset": "1"}, {"filter": "squ"}, {"excludeNested": "true"}, {"activeOnly": "true"},
    {"includeDesignations": "true", "displayLanguage": "de"}, {"property": "definition"}]


@pytest.mark.parametrize("params", REQUESTS, ids=[",".join(p) or "plain" for p in REQUESTS])
def test_an_expansion_is_the_same_from_the_cache_and_computed_afresh(clients: tuple[TestClient, TestClient],
                                                                    params: dict[str, str]) -> None:
    _, reader = clients
    for cache in CACHES:
        cache.clear()
    first = _expand(reader, **params)
    assert _expand(reader, **params) == first  # served again: the same expansion, identifier included
    for cache in CACHES:
        cache.clear()
    fresh = _expand(reader, **params)
    for answer in (first, fresh):
        del answer["expansion"]["identifier"], answer["expansion"]["timestamp"]
    assert fresh == first


QUESTIONS: list[tuple[str, dict[str, str]]] = [
    ("CodeSystem/$lookup", {"system": CS_URL, "code": "square"}),
    ("CodeSystem/$lookup", {"system": CS_URL, "code": "square", "property": "parent"}),
    ("CodeSystem/$lookup", {"system": CS_URL, "code": "nonsense"}),
    ("CodeSystem/$validate-code", {"url": CS_URL, "code": "square", "display": "Round"}),
    ("ValueSet/$validate-code", {"url": VS_URL, "system": CS_URL, "code": "circle"}),
    ("ValueSet/$validate-code", {"url": VS_URL, "system": CS_URL, "code": "square", "display": "Square"})]


@pytest.mark.parametrize(("operation", "params"), QUESTIONS, ids=[f"{o}?{'&'.join(p)}" for o, p in QUESTIONS])
def test_an_answer_is_the_same_from_the_cache_and_worked_out_afresh(clients: tuple[TestClient, TestClient],
                                                                   operation: str, params: dict[str, str]) -> None:
    _, reader = clients
    for cache in CACHES:
        cache.clear()
    first = reader.get(f"/fhir/{operation}", params=params)
    again = reader.get(f"/fhir/{operation}", params=params)
    for cache in CACHES:
        cache.clear()
    fresh = reader.get(f"/fhir/{operation}", params=params)
    assert first.status_code == again.status_code == fresh.status_code
    assert first.json() == again.json() == fresh.json()


def test_two_stores_in_one_process_never_share_entries(engine: Engine, store_url: str,
                                                       new_store_url: Any, engine_name: str) -> None:
    other_url = new_store_url(engine_name)
    other = make_engine(other_url)
    try:
        with _client(engine, store_url) as one, _client(other, other_url) as two:
            for client, root, db in ((one, "polygon", engine), (two, "shape", other)):
                client.headers["Authorization"] = f"Bearer {tokens.issue(db, 'writer', 'system/*.cud')}"
                assert client.put("/fhir/CodeSystem/shapes", json={**code_system(), "id": "shapes"}).status_code == 201
                assert client.put("/fhir/ValueSet/polygons", json=value_set(root)).status_code == 201
            assert _generation(engine).number == _generation(other).number
            assert _expand(one)["expansion"]["total"] == 3
            assert _expand(two)["expansion"]["total"] == 5
            assert _expand(one)["expansion"]["total"] == 3
    finally:
        other.dispose()


def test_a_cache_serves_only_its_generation_and_drops_older_entries() -> None:
    cache: GenerationCache[str] = GenerationCache("test", 10)
    g1, g2 = Generation("s", 1), Generation("s", 2)
    cache.put(g1, "k", "old")
    assert cache.get(g1, "k") == "old"
    assert cache.get(g2, "k") is None
    cache.put(g1, "k", "late")  # built at generation 1 after generation 2 was seen: not kept
    assert cache.get(g2, "k") is None and cache.get(g1, "k") is None


def test_a_cache_keeps_within_its_bounds() -> None:
    cache: GenerationCache[str] = GenerationCache("test", 3, max_weight=10)
    g = Generation("s", 1)
    for key in "abcd":
        cache.put(g, key, key)
    assert cache.get(g, "a") is None and cache.get(g, "d") == "d"
    cache.put(g, "heavy", "x", weight=11)
    assert cache.get(g, "heavy") is None
    cache.put(g, "big", "y", weight=9)
    # the least recently used go first until the weight fits: b and c, not d (read above)
    assert cache.get(g, "big") == "y" and cache.get(g, "d") == "d"
    assert cache.get(g, "b") is None and cache.get(g, "c") is None
