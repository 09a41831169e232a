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


SD = "http://hl7.org/fhir/StructureDefinition/"
BASE = "http://example.org/cs/base"
CONTAINS_PROPERTY = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ValueSet.expansion.contains.property"
EXPANSION_PROPERTY = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ValueSet.expansion.property"

BASE_CS = {"resourceType": "CodeSystem", "url": BASE, "version": "1", "status": "active", "content": "complete",
           "concept": [{"code": "x", "display": "X", "extension": [
               {"url": SD + "codesystem-conceptOrder", "valueInteger": 6},
               {"url": SD + "rendering-style", "valueString": "font-weight: bold"},
               {"url": "http://example.org/unknown", "valueString": "ignored"}]},
               {"code": "y", "display": "Y"}]}
SUPPLEMENT = {"resourceType": "CodeSystem", "url": "http://example.org/cs/supp", "version": "2", "status": "active",
              "content": "supplement", "supplements": BASE,
              "concept": [{"code": "x", "designation": [{"language": "nl", "value": "iks"}],
                           "extension": [{"url": SD + "codesystem-label", "valueString": "a."},
                                         {"url": SD + "itemWeight", "valueDecimal": 1.5}]}]}


def properties(entry: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for ext in entry.get("extension", []):
        if ext["url"] == CONTAINS_PROPERTY:
            parts = {p["url"]: p for p in ext["extension"]}
            value = next(v for k, v in parts["value"].items() if k.startswith("value"))
            out[parts["code"]["valueCode"]] = value
    return out


def declared(body: dict[str, Any]) -> set[str]:
    return {next(p["valueCode"] for p in e["extension"] if p["url"] == "code")
            for e in body.get("extension", []) if e["url"] == EXPANSION_PROPERTY}


def test_concept_order_extension_is_shown_as_the_order_property_and_rendering_is_carried(client: TestClient) -> None:
    body = expand(client, {"include": [{"system": BASE}]}, BASE_CS)
    x = next(c for c in body["contains"] if c["code"] == "x")
    assert properties(x) == {"order": 6}
    assert {"url": SD + "rendering-style", "valueString": "font-weight: bold"} in x["extension"]
    assert "order" in declared(body)


def test_use_supplement_adds_its_properties_and_designations_to_the_base_concept(client: TestClient) -> None:
    parameters: list[dict[str, Any]] = [
        {"name": "url", "valueUri": "http://example.org/vs/b"}, {"name": "includeDesignations", "valueBoolean": True},
        {"name": "useSupplement", "valueCanonical": "http://example.org/cs/supp"},
        {"name": "tx-resource", "resource": BASE_CS}, {"name": "tx-resource", "resource": SUPPLEMENT},
        {"name": "tx-resource", "resource": {"resourceType": "ValueSet", "url": "http://example.org/vs/b",
                                             "status": "active", "compose": {"include": [{"system": BASE}]}}}]
    response = client.post("/fhir/ValueSet/$expand", json={"resourceType": "Parameters", "parameter": parameters})
    assert response.status_code == 200, response.text
    body = response.json()["expansion"]
    x = next(c for c in body["contains"] if c["code"] == "x")
    assert properties(x) == {"order": 6, "label": "a.", "weight": 1.5}
    assert {"language": "nl", "value": "iks"} in x["designation"]
    assert {"order", "label", "weight"} <= declared(body)
    y = next(c for c in body["contains"] if c["code"] == "y")
    assert properties(y) == {}


def test_lookup_shows_extension_properties_only_when_asked(client: TestClient) -> None:
    def lookup(*extra: dict[str, Any]) -> set[str]:
        response = client.post("/fhir/CodeSystem/$lookup", json={"resourceType": "Parameters", "parameter": [
            {"name": "system", "valueUri": BASE}, {"name": "code", "valueCode": "x"},
            {"name": "tx-resource", "resource": BASE_CS}, *extra]})
        assert response.status_code == 200, response.text
        return {next(p["valueCode"] for p in param["part"] if p["name"] == "code")
                for param in response.json()["parameter"] if param["name"] == "property"}

    assert "order" not in lookup()
    assert "order" in lookup({"name": "property", "valueCode": "order"})


def test_a_language_list_refusing_all_others_leaves_out_displays_it_has_no_translation_for(
        client: TestClient) -> None:
    cs = {"resourceType": "CodeSystem", "url": BASE, "version": "1", "status": "active", "content": "complete",
          "language": "en", "concept": [
              {"code": "x", "display": "Ex", "designation": [{"language": "de", "value": "Iks"}]},
              {"code": "y", "display": "Why"}]}
    parameters: list[dict[str, Any]] = [
        {"name": "valueSet", "resource": {"resourceType": "ValueSet", "url": "http://example.org/vs/l",
                                          "status": "active", "compose": {"include": [{"system": BASE}]}}},
        {"name": "tx-resource", "resource": cs}, {"name": "includeDesignations", "valueBoolean": True}]

    def contains(language: str) -> dict[str, dict[str, Any]]:
        response = client.post("/fhir/ValueSet/$expand", json={"resourceType": "Parameters", "parameter": [
            *parameters, {"name": "displayLanguage", "valueCode": language}]})
        assert response.status_code == 200, response.text
        return {c["code"]: c for c in response.json()["expansion"]["contains"]}

    hard = contains("de,*; q=0")
    assert hard["x"]["display"] == "Iks"
    assert "display" not in hard["y"]
    assert {"language": "en", "use": {"system": "http://terminology.hl7.org/CodeSystem/hl7TermMaintInfra",
                                      "code": "preferredForLanguage", "display": "Preferred For Language"},
            "value": "Why"} in hard["y"]["designation"]
    assert contains("de")["y"]["display"] == "Why"


def test_an_expansion_with_exclusions_is_flat_one_without_is_nested(client: TestClient) -> None:
    cs = {"resourceType": "CodeSystem", "url": BASE, "version": "1", "status": "active", "content": "complete",
          "hierarchyMeaning": "is-a", "concept": [{"code": "p", "display": "P", "concept": [
              {"code": "c1", "display": "C1"}, {"code": "c2", "display": "C2"}]}]}
    nested = expand(client, {"include": [{"system": BASE}]}, cs)
    assert [c["code"] for c in nested["contains"]] == ["p"]
    flat = expand(client, {"include": [{"system": BASE}], "exclude": [{"system": BASE, "concept": [{"code": "c2"}]}]},
                  cs)
    assert sorted(c["code"] for c in flat["contains"]) == ["c1", "p"]
    assert all("contains" not in c for c in flat["contains"])


def test_a_designation_language_parameter_selects_that_exact_language(client: TestClient) -> None:
    cs = {"resourceType": "CodeSystem", "url": BASE, "version": "1", "status": "active", "content": "complete",
          "concept": [{"code": "x", "display": "Ex", "designation": [{"language": "de-CH", "value": "Iks CH"},
                                                                      {"language": "de", "value": "Iks"},
                                                                      {"language": "es", "value": "Equis"}]}]}
    parameters: list[dict[str, Any]] = [
        {"name": "valueSet", "resource": {"resourceType": "ValueSet", "url": "http://example.org/vs/d",
                                          "status": "active", "compose": {"include": [{"system": BASE}]}}},
        {"name": "tx-resource", "resource": cs}, {"name": "includeDesignations", "valueBoolean": True},
        {"name": "designation", "valueString": "urn:ietf:bcp:47|de"}]
    response = client.post("/fhir/ValueSet/$expand", json={"resourceType": "Parameters", "parameter": parameters})
    assert response.status_code == 200, response.text
    assert response.json()["expansion"]["contains"][0]["designation"] == [{"language": "de", "value": "Iks"}]
