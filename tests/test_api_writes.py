"""Writes of CodeSystem, ValueSet and ConceptMap over HTTP (create, update by id, conditional update,
delete), in JSON and XML, on SQLite and PostgreSQL: what is written is what the operations use at once,
and a refused write changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from termsvc.api.app import create_app
from termsvc.auth import tokens
from termsvc.errors import Invalid
from termsvc.fhir_xml import to_xml
from termsvc.ops.write_checks import validate
from termsvc.settings import Settings

SRC = "http://example.org/cs/lab-local"
TGT = "http://example.org/cs/lab-national"
CS_URL = "http://example.org/cs/shapes"


def concept_map(version: str = "1", target_code: str = "N-GLU", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "ConceptMap", "url": "http://example.org/cm/lab", "version": version, "status": "active",
            "group": [{"source": SRC, "target": TGT, "element": [
                {"code": "GLU", "target": [{"code": target_code, "equivalence": "equivalent"}]}]}], **extra}


def code_system(display: str = "Square") -> dict[str, Any]:
    return {"resourceType": "CodeSystem", "url": CS_URL, "version": "1", "status": "active",
            "content": "complete", "caseSensitive": True, "hierarchyMeaning": "is-a",
            "concept": [{"code": "shape", "display": "Shape", "concept": [
                {"code": "polygon", "display": "Polygon", "concept": [{"code": "square", "display": display}]},
                {"code": "circle", "display": "Circle"}]}]}


def value_set() -> dict[str, Any]:
    return {"resourceType": "ValueSet", "url": "http://example.org/vs/polygons", "version": "1",
            "status": "active", "compose": {"include": [{"system": CS_URL, "filter": [
                {"property": "concept", "op": "is-a", "value": "polygon"}]}]}}


@pytest.fixture
def client(engine: Engine, store_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=store_url, max_request_bytes=64 * 1024)
    with TestClient(create_app(settings, engine=engine)) as test_client:
        token = tokens.issue(engine, "writer", "system/*.cud")
        test_client.headers["Authorization"] = f"Bearer {token}"
        yield test_client


def _translate(client: TestClient, code: str = "GLU") -> list[str]:
    body = client.get("/fhir/ConceptMap/$translate", params={"system": SRC, "code": code, "targetsystem": TGT}).json()
    return [part["valueCoding"]["code"] for p in body["parameter"] if p["name"] == "match"
            for part in p["part"] if part["name"] == "concept"]


def _codes(contains: list[dict[str, Any]]) -> list[str]:
    """Codes of an expansion, nested ones included (an is-a expansion may nest by hierarchy)."""
    out: list[str] = []
    for entry in contains:
        out.append(entry["code"])
        out.extend(_codes(entry.get("contains", [])))
    return sorted(out)


def _rows(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def test_create_assigns_an_id_and_answers_201_with_location_and_etag(client: TestClient) -> None:
    response = client.post("/fhir/ConceptMap", json=concept_map(id="ignored"))
    assert response.status_code == 201
    body = response.json()
    assert body["id"] != "ignored"
    assert body["meta"]["versionId"] == "1" and body["meta"]["lastUpdated"]
    assert response.headers["location"].endswith(f"/fhir/ConceptMap/{body['id']}/_history/1")
    assert response.headers["etag"] == 'W/"1"'
    assert client.get(f"/fhir/ConceptMap/{body['id']}").json()["url"] == "http://example.org/cm/lab"


def test_a_created_concept_map_is_used_by_translate_at_once(client: TestClient) -> None:
    assert _translate(client) == []
    assert client.post("/fhir/ConceptMap", json=concept_map()).status_code == 201
    assert _translate(client) == ["N-GLU"]


def test_put_by_id_creates_then_updates_and_translate_follows(client: TestClient) -> None:
    first = client.put("/fhir/ConceptMap/lab", json=concept_map())
    assert first.status_code == 201 and first.json()["id"] == "lab"
    second = client.put("/fhir/ConceptMap/lab", json=concept_map(target_code="N-GLU-2"))
    assert second.status_code == 200
    assert second.json()["meta"]["versionId"] == "2"
    assert _translate(client) == ["N-GLU-2"]


def test_conditional_update_by_url_and_version_updates_the_match(client: TestClient) -> None:
    created = client.put("/fhir/ConceptMap/lab", json=concept_map()).json()
    response = client.put("/fhir/ConceptMap", params={"url": created["url"], "version": "1"},
                          json=concept_map(target_code="N-GLU-3"))
    assert response.status_code == 200
    assert response.json()["id"] == "lab"
    assert _translate(client) == ["N-GLU-3"]


def test_conditional_update_without_a_match_creates(client: TestClient) -> None:
    response = client.put("/fhir/ConceptMap", params={"url": "http://example.org/cm/lab", "version": "9"},
                          json=concept_map(version="9"))
    assert response.status_code == 201


def test_conditional_update_matching_several_versions_is_refused_412(client: TestClient) -> None:
    client.post("/fhir/ConceptMap", json=concept_map(version="1"))
    client.post("/fhir/ConceptMap", json=concept_map(version="2"))
    response = client.put("/fhir/ConceptMap", params={"url": "http://example.org/cm/lab"}, json=concept_map())
    assert response.status_code == 412


def test_delete_removes_the_map_from_read_and_translate(client: TestClient, engine: Engine) -> None:
    client.put("/fhir/ConceptMap/lab", json=concept_map())
    assert client.delete("/fhir/ConceptMap/lab").status_code == 200
    assert client.get("/fhir/ConceptMap/lab").status_code == 404
    assert _translate(client) == []
    assert _rows(engine, "concept_map_element") == 0
    assert client.delete("/fhir/ConceptMap/lab").status_code == 204


def test_a_concept_map_posted_as_xml_is_stored(client: TestClient) -> None:
    response = client.post("/fhir/ConceptMap", content=to_xml(concept_map()),
                           headers={"Content-Type": "application/fhir+xml"})
    assert response.status_code == 201, response.text
    assert _translate(client) == ["N-GLU"]


def test_a_written_code_system_is_answered_by_lookup_with_its_hierarchy(client: TestClient) -> None:
    assert client.put("/fhir/CodeSystem/shapes", json=code_system()).status_code == 201
    lookup = client.get("/fhir/CodeSystem/$lookup", params={"system": CS_URL, "code": "square"}).json()
    assert {"name": "display", "valueString": "Square"} in lookup["parameter"]
    subsumes = client.get("/fhir/CodeSystem/$subsumes", params={"system": CS_URL, "codeA": "shape",
                                                                "codeB": "square"}).json()
    assert subsumes["parameter"][0]["valueCode"] == "subsumes"


def test_updating_a_code_system_replaces_its_concepts(client: TestClient) -> None:
    client.put("/fhir/CodeSystem/shapes", json=code_system())
    assert client.put("/fhir/CodeSystem/shapes", json=code_system(display="Quadrat")).status_code == 200
    lookup = client.get("/fhir/CodeSystem/$lookup", params={"system": CS_URL, "code": "square"}).json()
    assert {"name": "display", "valueString": "Quadrat"} in lookup["parameter"]


def test_deleting_a_code_system_removes_its_concepts(client: TestClient, engine: Engine) -> None:
    client.put("/fhir/CodeSystem/shapes", json=code_system())
    assert client.delete("/fhir/CodeSystem/shapes").status_code == 200
    assert client.get("/fhir/CodeSystem/$lookup", params={"system": CS_URL, "code": "square"}).status_code == 404
    assert _rows(engine, "concept") == 0 and _rows(engine, "closure") == 0


def test_a_written_value_set_is_expanded_over_a_written_code_system(client: TestClient) -> None:
    client.put("/fhir/CodeSystem/shapes", json=code_system())
    assert client.put("/fhir/ValueSet/polygons", json=value_set()).status_code == 201
    expansion = client.get("/fhir/ValueSet/polygons/$expand").json()["expansion"]
    assert _codes(expansion["contains"]) == ["polygon", "square"]


def test_updating_a_value_set_changes_its_expansion(client: TestClient) -> None:
    client.put("/fhir/CodeSystem/shapes", json=code_system())
    client.put("/fhir/ValueSet/polygons", json=value_set())
    client.get("/fhir/ValueSet/polygons/$expand")
    changed = value_set()
    changed["compose"]["include"][0]["filter"][0]["value"] = "shape"
    assert client.put("/fhir/ValueSet/polygons", json=changed).status_code == 200
    expansion = client.get("/fhir/ValueSet/polygons/$expand").json()["expansion"]
    assert _codes(expansion["contains"]) == ["circle", "polygon", "shape", "square"]


def test_value_set_delete_then_read_is_404(client: TestClient) -> None:
    client.put("/fhir/ValueSet/polygons", json=value_set())
    assert client.delete("/fhir/ValueSet/polygons").status_code == 200
    assert client.get("/fhir/ValueSet/polygons").status_code == 404


def test_bad_equivalence_is_422_naming_the_element_and_nothing_is_written(client: TestClient,
                                                                           engine: Engine) -> None:
    bad = concept_map()
    bad["group"][0]["element"][0]["target"][0]["equivalence"] = "same-ish"
    response = client.post("/fhir/ConceptMap", json=bad)
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["ConceptMap.group[0].element[0].target[0].equivalence"]
    assert _rows(engine, "concept_map") == 0


def test_concept_map_element_without_code_is_422(client: TestClient) -> None:
    bad = concept_map()
    del bad["group"][0]["element"][0]["code"]
    response = client.post("/fhir/ConceptMap", json=bad)
    assert response.status_code == 422
    assert "ConceptMap.group[0].element[0].code" in response.json()["issue"][0]["expression"]


def test_concept_map_without_status_is_422(client: TestClient) -> None:
    bad = concept_map()
    del bad["status"]
    assert client.post("/fhir/ConceptMap", json=bad).json()["issue"][0]["expression"] == ["ConceptMap.status"]


def test_unknown_element_is_422_naming_it(client: TestClient) -> None:
    bad = concept_map()
    bad["group"][0]["colour"] = "blue"
    response = client.post("/fhir/ConceptMap", json=bad)
    assert response.status_code == 422
    assert "ConceptMap.group[0].colour" in response.json()["issue"][0]["expression"]


def test_code_system_with_a_duplicate_code_is_422_and_nothing_is_written(client: TestClient,
                                                                          engine: Engine) -> None:
    bad = code_system()
    bad["concept"].append({"code": "square", "display": "Again"})
    response = client.put("/fhir/CodeSystem/shapes", json=bad)
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["CodeSystem.concept[1].code"]
    assert _rows(engine, "code_system") == 0 and _rows(engine, "concept") == 0


def test_code_system_with_an_undefined_parent_is_422_from_the_loader(client: TestClient, engine: Engine) -> None:
    bad = code_system()
    bad["concept"].append({"code": "oval", "property": [{"code": "parent", "valueCode": "ellipse"}]})
    response = client.put("/fhir/CodeSystem/shapes", json=bad)
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"][0].startswith("CodeSystem.concept[1]")
    assert _rows(engine, "code_system") == 0


def test_value_set_include_naming_nothing_is_422(client: TestClient) -> None:
    bad = value_set()
    bad["compose"]["include"] = [{"concept": [{"code": "x"}]}]
    response = client.post("/fhir/ValueSet", json=bad)
    assert response.status_code == 422
    assert "ValueSet.compose.include[0]" in response.json()["issue"][0]["expression"]


def test_body_of_another_type_is_400(client: TestClient) -> None:
    response = client.post("/fhir/ValueSet", json=concept_map())
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["resourceType"]


def test_put_with_a_different_id_in_the_body_keeps_the_path_id(client: TestClient) -> None:
    response = client.put("/fhir/ConceptMap/lab", json=concept_map(id="other"))
    assert response.status_code == 201
    assert response.json()["id"] == "lab"


def test_creating_a_second_resource_with_the_same_url_and_version_is_409(client: TestClient) -> None:
    assert client.post("/fhir/ConceptMap", json=concept_map()).status_code == 201
    assert client.post("/fhir/ConceptMap", json=concept_map()).status_code == 409


def test_if_match_with_a_stale_version_is_412(client: TestClient) -> None:
    client.put("/fhir/ConceptMap/lab", json=concept_map())
    client.put("/fhir/ConceptMap/lab", json=concept_map(target_code="B"))
    stale = client.put("/fhir/ConceptMap/lab", json=concept_map(target_code="C"), headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert _translate(client) == ["B"]


def test_oversized_body_is_413(client: TestClient, engine: Engine) -> None:
    big = concept_map()
    big["description"] = "x" * (70 * 1024)
    response = client.post("/fhir/ConceptMap", json=big)
    assert response.status_code == 413
    assert _rows(engine, "concept_map") == 0


def test_prefer_return_minimal_sends_no_body(client: TestClient) -> None:
    response = client.post("/fhir/ConceptMap", json=concept_map(), headers={"Prefer": "return=minimal"})
    assert response.status_code == 201 and response.content == b""
    assert response.headers["location"]


def test_metadata_declares_the_write_interactions(client: TestClient) -> None:
    statement = client.get("/fhir/metadata").json()
    for resource in statement["rest"][0]["resource"]:
        if resource["type"] in ("CodeSystem", "ValueSet", "ConceptMap"):
            codes = {i["code"] for i in resource["interaction"]}
            assert {"create", "update", "delete"} <= codes
            assert resource["conditionalUpdate"] is True


def test_metadata_declares_smart_and_oauth_security(client: TestClient) -> None:
    security = client.get("/fhir/metadata").json()["rest"][0]["security"]
    services = {c["code"] for s in security["service"] for c in s["coding"]}
    assert services == {"SMART-on-FHIR", "OAuth"}
    assert client.get("/fhir/metadata", params={"_format": "xml"}).status_code == 200


def test_a_write_in_a_batch_bundle_carries_the_callers_token(client: TestClient) -> None:
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": concept_map(), "request": {"method": "PUT", "url": "ConceptMap/lab"}}]}
    response = client.post("/fhir", json=bundle)
    assert response.status_code == 200, response.text
    assert response.json()["entry"][0]["response"]["status"].startswith("201")
    assert _translate(client) == ["N-GLU"]
    del client.headers["Authorization"]
    refused = client.post("/fhir", json=bundle).json()
    assert refused["entry"][0]["response"]["status"].startswith("401")


def _numbers(count: int) -> dict[str, Any]:
    return {"resourceType": "CodeSystem", "url": "http://example.org/cs/numbers", "version": "1",
            "status": "active", "content": "complete",
            "concept": [{"code": f"n{i}", "display": f"Number {i}"} for i in range(count)]}


def test_kept_expansions_follow_writes_of_the_code_system_and_the_value_set(client: TestClient,
                                                                           engine: Engine) -> None:
    # large enough for the expansion cache to keep it (termsvc.ops.expansion_cache.MIN_KEPT)
    client.put("/fhir/CodeSystem/numbers", json=_numbers(1500))
    all_numbers = {"resourceType": "ValueSet", "url": "http://example.org/vs/numbers", "status": "active",
                   "compose": {"include": [{"system": "http://example.org/cs/numbers"}]}}
    client.put("/fhir/ValueSet/numbers", json=all_numbers)

    def total() -> int:
        response = client.get("/fhir/ValueSet/numbers/$expand", params={"count": "10"})
        assert response.status_code == 200, response.text
        return int(response.json()["expansion"]["total"])

    assert total() == 1500 and total() == 1500  # the second from the kept expansion
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM expansion WHERE kept = true")).scalar_one() == 1
    assert client.put("/fhir/CodeSystem/numbers", json=_numbers(1200)).status_code == 200
    assert total() == 1200 and total() == 1200
    some = {**all_numbers, "compose": {"include": [{"system": "http://example.org/cs/numbers",
                                                    "concept": [{"code": "n1"}, {"code": "n2"}]}]}}
    assert client.put("/fhir/ValueSet/numbers", json=some).status_code == 200
    assert total() == 2


def test_conditional_update_creating_with_a_taken_body_id_is_409(client: TestClient) -> None:
    client.put("/fhir/ConceptMap/lab", json=concept_map())
    response = client.put("/fhir/ConceptMap", params={"url": "http://example.org/cm/other"},
                          json=concept_map(id="lab", url="http://example.org/cm/other"))
    assert response.status_code == 409
    assert client.get("/fhir/ConceptMap/lab").json()["url"] == "http://example.org/cm/lab"


def test_conditional_update_of_a_code_system_keeps_its_id(client: TestClient) -> None:
    client.put("/fhir/CodeSystem/shapes", json=code_system())
    response = client.put("/fhir/CodeSystem", params={"url": CS_URL, "version": "1"},
                          json=code_system(display="Quadrat"))
    assert response.status_code == 200 and response.json()["id"] == "shapes"
    assert client.get("/fhir/CodeSystem/shapes").json()["meta"]["versionId"] == "2"


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                     max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(group=st.dictionaries(st.sampled_from(["source", "target", "element", "unmapped"]), _json, max_size=4),
       element=st.dictionaries(st.sampled_from(["code", "display", "target"]), _json, max_size=3),
       target=st.dictionaries(st.sampled_from(["code", "equivalence", "comment", "dependsOn"]), _json, max_size=4))
def test_any_json_in_a_concept_map_is_accepted_or_refused_as_invalid_never_crashes(
        group: dict[str, Any], element: dict[str, Any], target: dict[str, Any]) -> None:
    resource = concept_map()
    resource["group"].append({**group, "element": [{**element, "target": [target]}]})
    try:
        validate("ConceptMap", resource)
    except Invalid as exc:
        assert exc.status == 422 and exc.expression


@settings(max_examples=150, deadline=None)
@given(rule=st.dictionaries(st.sampled_from(["system", "valueSet", "concept", "filter", "version"]), _json,
                            max_size=4),
       concept=st.dictionaries(st.sampled_from(["code", "display", "concept", "property", "designation"]), _json,
                               max_size=4),
       status=_json)
def test_any_json_in_a_value_set_or_code_system_is_accepted_or_refused_as_invalid(
        rule: dict[str, Any], concept: dict[str, Any], status: Any) -> None:
    vs = value_set()
    vs["compose"]["include"].append(rule)
    cs = code_system()
    cs["concept"].append(concept)
    cs["status"] = status
    for resource in (vs, cs):
        try:
            validate(str(resource["resourceType"]), resource)
        except Invalid as exc:
            assert exc.status == 422 and exc.expression


@pytest.mark.parametrize("resource", [concept_map(), code_system(), value_set()],
                         ids=["ConceptMap", "CodeSystem", "ValueSet"])
def test_the_location_of_a_write_reads_back_and_an_older_version_is_not_kept(client: TestClient,
                                                                           resource: dict[str, Any]) -> None:
    kind = resource["resourceType"]
    assert client.put(f"/fhir/{kind}/kept", json=resource).status_code == 201
    second = client.put(f"/fhir/{kind}/kept", json=resource)
    location = second.headers["location"]
    assert location.endswith(f"/fhir/{kind}/kept/_history/2")
    current = client.get("/fhir" + location.split("/fhir", 1)[1])
    assert current.status_code == 200, current.text
    assert current.json()["url"] == resource["url"]
    older = client.get(f"/fhir/{kind}/kept/_history/1")
    assert older.status_code == 404
    assert "only the current version" in older.text
