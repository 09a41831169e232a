"""$expand over HTTP with inline code systems (tx-resource), on both engines: which version rules are echoed,
when `contains.version` is shown, and how a code system's property declarations decide abstract."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from termsvc.api.app import create_app
from termsvc.settings import Settings

CS = "http://example.org/cs/v"


def code_system(version: str, codes: list[str], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "CodeSystem", "url": CS, "version": version, "status": "active", "content": "complete",
            "concept": [{"code": c, "display": f"{c} {version}"} for c in codes], **extra}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=engine)) as test_client:
        yield test_client


def expand(client: TestClient, compose: dict[str, Any], *resources: dict[str, Any],
           **params: str) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": "valueSet", "resource": {"resourceType": "ValueSet", "url": "http://example.org/vs", "status": "active",
                                          "compose": compose}}]
    parameters += [{"name": "tx-resource", "resource": r} for r in resources]
    parameters += [{"name": name.replace("_", "-"), "valueCanonical": value} for name, value in params.items()]
    response = client.post("/fhir/ValueSet/$expand", json={"resourceType": "Parameters", "parameter": parameters})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()["expansion"]
    return body


V1, V2 = code_system("1.0.0", ["a", "b"]), code_system("1.2.0", ["a", "b"])


def test_check_system_version_is_echoed_when_it_chose_the_version(client: TestClient) -> None:
    body = expand(client, {"include": [{"system": CS}]}, V1, V2, check_system_version=f"{CS}|1.0.x")
    assert {"name": "check-system-version", "valueUri": f"{CS}|1.0.x"} in body["parameter"]
    assert {"name": "used-codesystem", "valueUri": f"{CS}|1.0.0"} in body["parameter"]


def test_check_system_version_is_not_echoed_when_the_include_names_the_version(client: TestClient) -> None:
    body = expand(client, {"include": [{"system": CS, "version": "1.0.0"}]}, V1, V2,
                  check_system_version=f"{CS}|1.0.x")
    assert all(p["name"] != "check-system-version" for p in body["parameter"])


def test_contains_shows_the_version_when_the_compose_names_two(client: TestClient) -> None:
    compose = {"include": [{"system": CS, "version": "1.0.0", "concept": [{"code": "a"}]},
                           {"system": CS, "version": "1.2.0", "concept": [{"code": "b"}]}]}
    body = expand(client, compose, V1, V2, force_system_version=f"{CS}|1.0.0")
    assert {(c["code"], c.get("version")) for c in body["contains"]} == {("a", "1.0.0"), ("b", "1.0.0")}


def test_contains_has_no_version_for_a_single_version_compose(client: TestClient) -> None:
    body = expand(client, {"include": [{"system": CS, "version": "1.0.0"}]}, V1, V2)
    assert all("version" not in c for c in body["contains"])


def test_not_selectable_property_with_an_unknown_uri_is_still_abstract_by_its_code(client: TestClient) -> None:
    cs = code_system("1", ["x", "y"], property=[{"code": "notSelectable", "type": "boolean",
                                                  "uri": "http://hl7.org/fhir/concept-properties#notSelectableX"}])
    cs["concept"][0]["property"] = [{"code": "notSelectable", "valueBoolean": True}]
    body = expand(client, {"include": [{"system": CS}]}, cs)
    assert {c["code"]: c.get("abstract", False) for c in body["contains"]} == {"x": True, "y": False}


OV1, OV2 = code_system("1.0.0", ["a", "b", "c"]), code_system("2.0.0", ["a", "b", "d"])
VERSIONS_MATCH = "http://hl7.org/fhir/StructureDefinition/valueset-expansion-parameter"


def versions_match(value: str) -> list[dict[str, Any]]:
    return [{"url": VERSIONS_MATCH, "extension": [{"url": "name", "valueCode": "versionsMatch"},
                                                  {"url": "value", "valueString": value}]}]


def entries(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["code"], c["version"]) for c in body.get("contains", [])]


def test_two_versions_side_by_side_keep_both_entries_latest_named_first(client: TestClient) -> None:
    body = expand(client, {"include": [{"system": CS, "version": "1.0.0"}, {"system": CS, "version": "2.0.0"}]},
                  OV1, OV2)
    assert body["total"] == 6
    assert entries(body) == [("a", "2.0.0"), ("b", "2.0.0"), ("d", "2.0.0"), ("a", "1.0.0"), ("b", "1.0.0"),
                             ("c", "1.0.0")]


def test_an_exclude_of_a_version_no_include_uses_removes_its_codes_from_the_others(client: TestClient) -> None:
    body = expand(client, {"include": [{"system": CS, "version": "2.0.0"}],
                           "exclude": [{"system": CS, "version": "1.0.0"}]}, OV1, OV2)
    assert entries(body) == [("d", "2.0.0")]
    assert {"name": "versionsMatch", "valueBoolean": True} in body["parameter"]


def test_versions_match_false_keeps_an_exclude_to_its_own_version(client: TestClient) -> None:
    body = expand(client, {"extension": versions_match("false"), "include": [{"system": CS, "version": "2.0.0"}],
                           "exclude": [{"system": CS, "version": "1.0.0"}]}, OV1, OV2)
    assert entries(body) == [("a", "2.0.0"), ("b", "2.0.0"), ("d", "2.0.0")]


def test_an_exclude_of_an_included_version_stays_in_that_version(client: TestClient) -> None:
    body = expand(client, {"include": [{"system": CS, "version": "1.0.0"}, {"system": CS, "version": "2.0.0"}],
                           "exclude": [{"system": CS, "version": "1.0.0", "concept": [{"code": "b"}]}]}, OV1, OV2)
    assert sorted(entries(body)) == [("a", "1.0.0"), ("a", "2.0.0"), ("b", "2.0.0"), ("c", "1.0.0"), ("d", "2.0.0")]


def test_versions_match_true_merges_each_code_into_its_latest_version(client: TestClient) -> None:
    body = expand(client, {"extension": versions_match("true"),
                           "include": [{"system": CS, "version": "1.0.0"}, {"system": CS, "version": "2.0.0"}]},
                  OV1, OV2)
    assert body["total"] == 4
    assert sorted(entries(body)) == [("a", "2.0.0"), ("b", "2.0.0"), ("c", "1.0.0"), ("d", "2.0.0")]
