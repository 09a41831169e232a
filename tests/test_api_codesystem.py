"""CodeSystem over real HTTP (TestClient over the app), on SQLite and PostgreSQL: $lookup, $validate-code,
read and search, and the error cases. Code systems are written through the load run, as loaders do."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import Engine

from termsvc.api.app import create_app
from termsvc.errors import NotFound
from termsvc.ops.codesystems import FULL_CONCEPTS_LIMIT, parse_languages
from termsvc.ops.loading import run_load
from termsvc.ops.lookup import lookup
from termsvc.settings import Settings
from termsvc.store.engine import make_engine
from termsvc.store.loadrun import load_run
from tests.conftest import ENGINES, shared_path

COLOURS = "http://example.org/fhir/CodeSystem/colours"
LOOSE = "http://example.org/fhir/CodeSystem/loose-case"
BIG = "http://example.org/fhir/CodeSystem/big"
DESIGNATION_USE = ("http://terminology.hl7.org/CodeSystem/designation-usage", "display", "Display")


def _load_colours(engine: Engine) -> None:
    with load_run(engine, "fhir", "test") as run:
        old = run.code_system({"resourceType": "CodeSystem", "id": "colours-v1", "url": COLOURS, "version": "1.0",
                               "name": "Colours", "status": "retired", "content": "complete"})
        old.add_concept("red", "Red (v1)")
        old.finish()
        cs = run.code_system({
            "resourceType": "CodeSystem", "id": "colours", "url": COLOURS, "version": "2.0", "name": "Colours",
            "title": "Colour codes", "status": "active", "content": "complete", "language": "en",
            "caseSensitive": True,
            "property": [{"code": "hex", "type": "string"}, {"code": "warm", "type": "boolean"},
                         {"code": "rank", "type": "integer"}]})
        cs.add_concept("colour", "Colour", abstract=True, definition="Any colour")
        cs.add_concept("red", "Red", definition="The colour of blood")
        cs.add_concept("dark-red", "Dark red")
        cs.add_concept("blue", "Blue")
        cs.add_concept("mauve", "Mauve", active=False, status="retired")
        cs.add_concept("teal", "Teal", status="deprecated")
        for child in ("red", "blue", "mauve", "teal"):
            cs.add_edge("colour", child)
        cs.add_edge("red", "dark-red")
        cs.add_designation("red", "Rot", language="de", use=DESIGNATION_USE)
        cs.add_designation("blue", "Blau", language="de")
        cs.add_property("red", "hex", "#FF0000")
        cs.add_property("red", "warm", "true", type="boolean")
        cs.add_property("red", "rank", "1", type="integer")
        cs.finish()
        loose = run.code_system({"resourceType": "CodeSystem", "url": LOOSE, "version": "1", "name": "Loose",
                                 "status": "draft", "content": "complete", "caseSensitive": False})
        loose.add_concept("abc", "Alpha beta")
        loose.finish()


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    _load_colours(engine)
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=engine)) as test_client:
        yield test_client


def _params(body: dict[str, Any]) -> dict[str, list[Any]]:
    assert body["resourceType"] == "Parameters", body
    out: dict[str, list[Any]] = {}
    for p in body["parameter"]:
        value = p.get("part", p.get("resource"))
        if value is None:
            value = next(v for k, v in p.items() if k.startswith("value"))
        out.setdefault(p["name"], []).append(value)
    return out


def _one(body: dict[str, Any], name: str) -> Any:
    values = _params(body).get(name, [])
    assert len(values) == 1, (name, body)
    return values[0]


def _properties(body: dict[str, Any]) -> list[tuple[str, Any]]:
    found = []
    for parts in _params(body).get("property", []):
        named = {p["name"]: p for p in parts}
        value = next(v for k, v in named["value"].items() if k.startswith("value"))
        found.append((named["code"]["valueCode"], value))
    return found


def _issue_texts(body: dict[str, Any]) -> list[str]:
    issues = _params(body).get("issues", [])
    return [i["details"]["text"] for outcome in issues for i in outcome["issue"]]


def _post(client: TestClient, path: str, *parameters: dict[str, Any]) -> Any:
    return client.post(f"/fhir/CodeSystem/{path}", json={"resourceType": "Parameters", "parameter": list(parameters)})


# --- $lookup ---------------------------------------------------------------------------------------------

def test_lookup_returns_name_version_display_and_definition(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$lookup", params={"system": COLOURS, "code": "red"}).json()
    assert _one(body, "name") == "Colours"
    assert _one(body, "version") == "2.0"
    assert _one(body, "display") == "Red"
    assert _one(body, "definition") == "The colour of blood"


def test_lookup_returns_parent_and_child_from_the_hierarchy(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$lookup", params={"system": COLOURS, "code": "red"}).json()
    props = _properties(body)
    assert ("parent", "colour") in props
    assert ("child", "dark-red") in props
    assert not any(code == "child" and value != "dark-red" for code, value in props)


def test_lookup_returns_designations_with_language_and_use(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$lookup", params={"system": COLOURS, "code": "red"}).json()
    by_language = {parts[0]["valueCode"]: {p["name"]: p for p in parts} for parts in _params(body)["designation"]}
    assert sorted(by_language) == ["de", "en"]
    assert by_language["en"]["value"]["valueString"] == "Red"
    parts = by_language["de"]
    assert parts["use"]["valueCoding"] == {"system": DESIGNATION_USE[0], "code": "display", "display": "Display"}
    assert parts["value"]["valueString"] == "Rot"


def _load_supplement(engine: Engine) -> str:
    url = "http://example.org/fhir/CodeSystem/colours-nl"
    with load_run(engine, "fhir", "supplement") as run:
        cs = run.code_system({"resourceType": "CodeSystem", "url": url, "version": "1", "status": "active",
                              "content": "supplement", "supplements": COLOURS})
        cs.add_concept("red", None)
        cs.add_designation("red", "Rood", language="nl")
        cs.finish()
    return url


def test_lookup_with_a_supplement_adds_its_designations(engine: Engine, client: TestClient) -> None:
    url = _load_supplement(engine)
    body = client.get("/fhir/CodeSystem/$lookup", params={"system": COLOURS, "code": "red", "useSupplement": url}).json()
    dutch = [parts for parts in _params(body)["designation"] if parts[0]["valueCode"] == "nl"]
    assert dutch == [[{"name": "language", "valueCode": "nl"}, {"name": "source", "valueCanonical": f"{url}|1"},
                      {"name": "value", "valueString": "Rood"}]]
    assert _one(body, "used-supplement") == f"{url}|1"


def test_validate_code_against_a_supplement_is_false(engine: Engine, client: TestClient) -> None:
    url = _load_supplement(engine)
    body = client.get("/fhir/CodeSystem/$validate-code", params={"url": url, "code": "red"}).json()
    assert _one(body, "result") is False
    assert _one(body, "message") == f"CodeSystem {url}|1 is a supplement, so can't be used as a value in system"


def test_lookup_of_an_unknown_supplement_is_404(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/$lookup",
                          params={"system": COLOURS, "code": "red", "useSupplement": "http://example.org/no-such"})
    assert response.status_code == 404
    assert response.json()["issue"][0]["details"]["text"] == "Required supplement not found: http://example.org/no-such"


def test_lookup_returns_stored_properties_with_their_types(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$lookup", params={"system": COLOURS, "code": "red"}).json()
    props = _properties(body)
    assert ("hex", "#FF0000") in props
    assert ("warm", True) in props
    assert ("rank", 1) in props


def test_lookup_property_parameter_restricts_the_properties_returned(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$lookup",
                      params=[("system", COLOURS), ("code", "red"), ("property", "hex"),
                              ("property", "parent")]).json()
    assert sorted(code for code, _ in _properties(body)) == ["hex", "parent"]


def test_lookup_reports_inactive_concepts(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$lookup", params={"system": COLOURS, "code": "mauve"}).json()
    assert ("inactive", True) in _properties(body)


def test_lookup_reports_abstract_concepts(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$lookup", params={"system": COLOURS, "code": "colour"}).json()
    assert _one(body, "abstract") is True
    assert ("inactive", False) in _properties(body)


def test_lookup_accepts_a_posted_coding(client: TestClient) -> None:
    response = _post(client, "$lookup", {"name": "coding", "valueCoding": {"system": COLOURS, "code": "blue"}})
    assert response.status_code == 200
    assert _one(response.json(), "display") == "Blue"


def test_lookup_display_language_chooses_the_designation_in_that_language(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$lookup",
                      params={"system": COLOURS, "code": "blue", "displayLanguage": "de"}).json()
    assert _one(body, "display") == "Blau"


def test_lookup_of_a_named_version_answers_from_that_version(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$lookup", params={"system": COLOURS, "code": "red", "version": "1.0"}).json()
    assert _one(body, "display") == "Red (v1)"
    assert _one(body, "version") == "1.0"


def test_lookup_on_an_instance_uses_that_code_system(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/colours-v1/$lookup", params={"code": "red"}).json()
    assert _one(body, "display") == "Red (v1)"


def test_lookup_of_an_unknown_system_is_404(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/$lookup", params={"system": "http://example.org/nope", "code": "x"})
    assert response.status_code == 404
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "not-found"
    assert "http://example.org/nope" in outcome["issue"][0]["details"]["text"]


def test_lookup_of_an_unknown_code_is_404_naming_code_and_version(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/$lookup", params={"system": COLOURS, "code": "green"})
    assert response.status_code == 404
    assert response.json()["issue"][0]["details"]["text"] == f"Unable to find code 'green' in {COLOURS} version 2.0"


def test_lookup_without_a_code_is_400(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/$lookup", params={"system": COLOURS})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_lookup_answers_in_xml_when_asked(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/$lookup",
                          params={"system": COLOURS, "code": "red", "_format": "xml"})
    assert response.headers["content-type"].startswith("application/fhir+xml")
    root = etree.fromstring(response.content)
    assert root.tag == "{http://hl7.org/fhir}Parameters"
    values = root.xpath("//f:parameter[f:name/@value='display']/f:valueString/@value",
                        namespaces={"f": "http://hl7.org/fhir"})
    assert values == ["Red"]



def test_lookup_accepts_parameters_posted_as_xml(client: TestClient) -> None:
    body = (f'<Parameters xmlns="http://hl7.org/fhir"><parameter><name value="system"/><valueUri value="{COLOURS}"/>'
            '</parameter><parameter><name value="code"/><valueCode value="blue"/></parameter></Parameters>')
    response = client.post("/fhir/CodeSystem/$lookup", content=body.encode(),
                           headers={"content-type": "application/fhir+xml", "accept": "application/fhir+json"})
    assert response.status_code == 200, response.text
    assert _one(response.json(), "display") == "Blue"

# --- $validate-code ----------------------------------------------------------------------------------------

def test_validate_code_of_a_known_code_is_true_with_its_display(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$validate-code", params={"url": COLOURS, "code": "red"}).json()
    assert _one(body, "result") is True
    assert _one(body, "display") == "Red"
    assert _one(body, "system") == COLOURS
    assert _one(body, "version") == "2.0"
    assert "issues" not in _params(body)


def test_validate_code_of_an_unknown_code_is_false_with_the_ecosystem_message(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$validate-code", params={"url": COLOURS, "code": "green"}).json()
    assert _one(body, "result") is False
    expected = f"Unknown code 'green' in the CodeSystem '{COLOURS}' version '2.0'"
    assert _one(body, "message") == expected
    [issue] = _one(body, "issues")["issue"]
    assert (issue["severity"], issue["code"], issue["expression"]) == ("error", "code-invalid", ["code"])
    assert issue["details"]["coding"][0]["code"] == "invalid-code"


def test_validate_code_with_a_wrong_display_is_false_naming_the_valid_ones(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$validate-code",
                      params={"url": COLOURS, "code": "red", "display": "Scarlet"}).json()
    assert _one(body, "result") is False
    assert _one(body, "message") == (f"Wrong Display Name 'Scarlet' for {COLOURS}#red. Valid display is one of 2 "
                                     "choices: 'Red' (en) or 'Rot' (de) (for the language(s) '--')")
    assert _one(body, "issues")["issue"][0]["expression"] == ["display"]


def test_validate_code_accepts_a_designation_as_display(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$validate-code",
                      params={"url": COLOURS, "code": "red", "display": "Rot"}).json()
    assert _one(body, "result") is True


def test_validate_code_with_display_language_judges_displays_in_that_language(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$validate-code",
                      params={"url": COLOURS, "code": "red", "display": "Red", "displayLanguage": "de"}).json()
    assert _one(body, "result") is False
    assert _one(body, "display") == "Rot"
    assert "Valid display is 'Rot' (de) (for the language(s) 'de')" in _one(body, "message")


def test_validate_code_of_an_unknown_system_says_it_cannot_be_validated(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/$validate-code", params={"url": "http://example.org/nope", "code": "x"})
    assert response.status_code == 200
    body = response.json()
    assert _one(body, "result") is False
    assert _one(body, "message") == ("A definition for CodeSystem 'http://example.org/nope' could not be found, "
                                     "so the code cannot be validated")
    assert _one(body, "x-caused-by-unknown-system") == "http://example.org/nope"


def test_validate_code_of_an_unknown_version_lists_the_valid_versions(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$validate-code",
                      params={"url": COLOURS, "code": "red", "version": "9.9"}).json()
    assert _one(body, "result") is False
    assert _one(body, "message") == (f"A definition for CodeSystem '{COLOURS}' version '9.9' could not be found, "
                                     "so the code cannot be validated. Valid versions: 1.0 or 2.0")


def test_validate_code_of_an_inactive_code_is_true_with_a_warning(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$validate-code", params={"url": COLOURS, "code": "mauve"}).json()
    assert _one(body, "result") is True
    assert _one(body, "inactive") is True
    [issue] = _one(body, "issues")["issue"]
    assert issue["severity"] == "warning"
    assert issue["details"]["text"] == ("The concept 'mauve' has a status of retired and inactive and its use "
                                        "should be reviewed")


def test_validate_code_of_a_deprecated_code_warns_and_reports_status(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$validate-code", params={"url": COLOURS, "code": "teal"}).json()
    assert _one(body, "result") is True
    assert _one(body, "status") == "deprecated"
    assert _issue_texts(body) == ["The concept 'teal' is deprecated and its use should be reviewed"]


def test_validate_code_of_an_abstract_code_is_false_when_abstract_is_not_allowed(client: TestClient) -> None:
    allowed = client.get("/fhir/CodeSystem/$validate-code", params={"url": COLOURS, "code": "colour"}).json()
    refused = client.get("/fhir/CodeSystem/$validate-code",
                         params={"url": COLOURS, "code": "colour", "abstract": "false"}).json()
    assert _one(allowed, "result") is True
    assert _one(refused, "result") is False
    assert _issue_texts(refused) == [f"Code '{COLOURS}#colour' is abstract, and not allowed in this context"]


def test_validate_code_in_a_case_insensitive_system_accepts_other_case(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$validate-code", params={"url": LOOSE, "code": "ABC"}).json()
    assert _one(body, "result") is True
    assert _one(body, "normalized-code") == "abc"
    assert _one(body, "issues")["issue"][0]["severity"] == "information"


def test_validate_code_in_a_case_sensitive_system_refuses_other_case(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/$validate-code", params={"url": COLOURS, "code": "RED"}).json()
    assert _one(body, "result") is False


def test_validate_coding_posted_reports_coding_paths(client: TestClient) -> None:
    response = _post(client, "$validate-code",
                     {"name": "coding", "valueCoding": {"system": COLOURS, "code": "red", "display": "Blue"}})
    body = response.json()
    assert _one(body, "result") is False
    assert _one(body, "issues")["issue"][0]["expression"] == ["Coding.display"]


def test_validate_codeable_concept_is_true_when_any_coding_is_valid(client: TestClient) -> None:
    concept = {"coding": [{"system": COLOURS, "code": "green"}, {"system": COLOURS, "code": "blue"}]}
    body = _post(client, "$validate-code", {"name": "codeableConcept", "valueCodeableConcept": concept}).json()
    assert _one(body, "result") is True
    assert _one(body, "codeableConcept") == concept
    assert _one(body, "issues")["issue"][0]["expression"] == ["CodeableConcept.coding[0].code"]


def test_validate_code_on_an_instance_uses_that_version(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/colours-v1/$validate-code", params={"code": "blue"}).json()
    assert _one(body, "result") is False
    assert _one(body, "version") == "1.0"


def test_validate_code_answers_a_form_post(client: TestClient) -> None:
    response = client.post("/fhir/CodeSystem/$validate-code", data={"url": COLOURS, "code": "blue"})
    assert _one(response.json(), "result") is True


# --- bad input ---------------------------------------------------------------------------------------------

def test_validate_code_without_a_code_is_400(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/$validate-code", params={"url": COLOURS})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_body_that_is_not_parameters_is_400(client: TestClient) -> None:
    response = client.post("/fhir/CodeSystem/$lookup", json={"resourceType": "Patient"})
    assert response.status_code == 400
    assert "Parameters" in response.json()["issue"][0]["details"]["text"]


def test_malformed_parameters_are_400(client: TestClient) -> None:
    response = client.post("/fhir/CodeSystem/$validate-code",
                           json={"resourceType": "Parameters", "parameter": [{"valueCode": "red"}]})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_body_that_is_not_json_is_400(client: TestClient) -> None:
    response = client.post("/fhir/CodeSystem/$lookup", content=b"{not json",
                           headers={"content-type": "application/fhir+json"})
    assert response.status_code == 400


def test_a_bad_boolean_is_400(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/$validate-code",
                          params={"url": COLOURS, "code": "red", "abstract": "maybe"})
    assert response.status_code == 400
    assert "abstract" in response.json()["issue"][0]["details"]["text"]


def test_a_coding_given_as_a_string_is_400(client: TestClient) -> None:
    response = _post(client, "$validate-code", {"name": "coding", "valueString": "red"})
    assert response.status_code == 400


def test_a_coding_whose_code_is_not_a_string_is_400(client: TestClient) -> None:
    response = _post(client, "$lookup", {"name": "coding", "valueCoding": {"system": COLOURS, "code": 7}})
    assert response.status_code == 400


# --- read and search ---------------------------------------------------------------------------------------

def test_read_returns_the_resource_with_concepts_nested(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem/colours").json()
    assert (body["resourceType"], body["id"], body["url"], body["version"]) == ("CodeSystem", "colours", COLOURS, "2.0")
    [root] = body["concept"]
    assert root["code"] == "colour"
    red = next(c for c in root["concept"] if c["code"] == "red")
    assert [c["code"] for c in red["concept"]] == ["dark-red"]
    assert red["designation"] == [{"language": "de", "use": {"system": DESIGNATION_USE[0], "code": "display",
                                                               "display": "Display"}, "value": "Rot"}]
    assert {"code": "warm", "valueBoolean": True} in red["property"]


def test_read_of_an_unknown_id_is_404(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/no-such-thing")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_read_of_a_version_without_id_uses_a_stable_generated_id(client: TestClient) -> None:
    found = client.get("/fhir/CodeSystem", params={"url": LOOSE}).json()
    resource_id = found["entry"][0]["resource"]["id"]
    assert client.get(f"/fhir/CodeSystem/{resource_id}").json()["url"] == LOOSE
    assert client.get("/fhir/CodeSystem", params={"url": LOOSE}).json()["entry"][0]["resource"]["id"] == resource_id


def test_read_of_a_very_large_code_system_is_subsetted_without_concepts(engine: Engine) -> None:
    with load_run(engine, "fhir", "big") as run:
        cs = run.code_system({"resourceType": "CodeSystem", "id": "big", "url": BIG, "version": "1",
                              "status": "active", "content": "complete"})
        for n in range(FULL_CONCEPTS_LIMIT + 1):
            cs.add_concept(f"c{n}", f"Concept {n}")
        cs.finish()
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=engine)) as client:
        body = client.get("/fhir/CodeSystem/big").json()
    assert "concept" not in body
    assert body["content"] == "complete"
    assert body["count"] == FULL_CONCEPTS_LIMIT + 1
    assert {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
            "display": "subsetted"} in body["meta"]["tag"]


def test_search_by_url_returns_every_version_in_a_searchset(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem", params={"url": COLOURS}).json()
    assert (body["resourceType"], body["type"], body["total"]) == ("Bundle", "searchset", 2)
    assert sorted(e["resource"]["version"] for e in body["entry"]) == ["1.0", "2.0"]
    assert all(e["search"]["mode"] == "match" and e["fullUrl"].endswith("/CodeSystem/" + e["resource"]["id"])
               for e in body["entry"])


def test_search_by_url_and_version_finds_one(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem", params={"url": COLOURS, "version": "1.0"}).json()
    assert body["total"] == 1
    assert body["entry"][0]["resource"]["id"] == "colours-v1"


def test_search_by_name_matches_case_insensitive_prefix(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem", params={"name": "col"}).json()
    assert body["total"] == 2
    assert client.get("/fhir/CodeSystem", params={"name": "olours"}).json()["total"] == 0


def test_search_by_title_and_status(client: TestClient) -> None:
    assert client.get("/fhir/CodeSystem", params={"title": "colour codes"}).json()["total"] == 1
    assert client.get("/fhir/CodeSystem", params={"status": "draft"}).json()["entry"][0]["resource"]["url"] == LOOSE


def test_search_summary_count_gives_the_total_only(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem", params={"_summary": "count"}).json()
    assert body["total"] == 3
    assert "entry" not in body


def test_search_summary_true_leaves_concepts_out(client: TestClient) -> None:
    body = client.get("/fhir/CodeSystem", params={"url": COLOURS, "version": "2.0", "_summary": "true"}).json()
    resource = body["entry"][0]["resource"]
    assert "concept" not in resource
    assert resource["meta"]["tag"][0]["code"] == "SUBSETTED"


def test_search_pages_with_count_and_next_links(client: TestClient) -> None:
    first = client.get("/fhir/CodeSystem", params={"_count": "2"}).json()
    assert len(first["entry"]) == 2 and first["total"] == 3
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert "previous" not in links
    second = client.get(links["next"]).json()
    assert len(second["entry"]) == 1
    seen = {e["resource"]["id"] for e in first["entry"] + second["entry"]}
    assert len(seen) == 3
    assert "next" not in {link["relation"] for link in second["link"]}


def test_search_with_a_bad_count_is_400(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem", params={"_count": "lots"})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_search_refuses_unknown_parameters_when_strict_handling_is_asked(client: TestClient) -> None:
    lenient = client.get("/fhir/CodeSystem", params={"colour": "red"})
    strict = client.get("/fhir/CodeSystem", params={"colour": "red"}, headers={"Prefer": "handling=strict"})
    assert lenient.status_code == 200
    assert strict.status_code == 400


def test_the_openapi_page_and_document_work(client: TestClient) -> None:
    document = client.get("/openapi.json")
    assert document.status_code == 200
    assert "/fhir/CodeSystem/$lookup" in document.json()["paths"]
    assert client.get("/docs").status_code == 200


# --- parsers -----------------------------------------------------------------------------------------------

@given(st.text(max_size=60))
def test_parse_languages_never_fails_and_returns_tags_from_the_header(header: str) -> None:
    tags = parse_languages(header)
    assert all(tag and tag in header and tag != "*" for tag in tags)


def test_parse_languages_orders_by_quality() -> None:
    assert parse_languages("en;q=0.5, de, fr;q=0.8, *;q=0.1, nl;q=0") == ["de", "fr", "en"]


# --- the full ICD-10-CM 2026 release -----------------------------------------------------------------------

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def _fhir_form(listed: str) -> str:
    """The code list writes codes undotted; FHIR's ICD-10-CM codes carry the dot after the category.
    Chapter numbers and block ranges stay as listed."""
    if listed.isdigit() or "-" in listed or len(listed) <= 3:
        return listed
    return f"{listed[:3]}.{listed[3:]}"


@pytest.fixture(scope="module", params=ENGINES)
def icd10cm_store(request: pytest.FixtureRequest, new_store_url: Callable[[str], str]) -> Iterator[Engine]:
    xml = shared_path("data", "icd10cm", "icd10c-tabular-April-1-2026.xml")
    engine = make_engine(new_store_url(str(request.param)), pool_size=2)
    run_load(engine, "icd10cm", xml)
    yield engine
    engine.dispose()


@pytest.mark.slow
def test_every_code_of_the_2026_code_list_is_found_by_lookup_with_its_display(icd10cm_store: Engine) -> None:
    listed = shared_path("data", "icd10cm", "code-list-April-2026.txt").read_text(encoding="utf-8").split()
    assert len(listed) > 98_000
    missing: list[str] = []
    with icd10cm_store.connect() as conn:
        for code in listed:
            try:
                result = lookup(conn, system=ICD10CM, code=_fhir_form(code), properties=["parent"])
            except NotFound:
                missing.append(code)
                continue
            display = _one(result, "display")
            assert isinstance(display, str) and display.strip(), code
    assert missing == []


@pytest.mark.slow
def test_a_sample_of_icd10cm_codes_is_found_over_http(icd10cm_store: Engine) -> None:
    listed = shared_path("data", "icd10cm", "code-list-April-2026.txt").read_text(encoding="utf-8").split()
    sample = [_fhir_form(c) for c in random.Random(2026).sample(listed, 200)]
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=icd10cm_store)) as client:
        for code in sample:
            looked_up = client.get("/fhir/CodeSystem/$lookup", params={"system": ICD10CM, "code": code})
            assert looked_up.status_code == 200, (code, looked_up.text)
            display = _one(looked_up.json(), "display")
            validated = client.get("/fhir/CodeSystem/$validate-code",
                                   params={"url": ICD10CM, "code": code, "display": display}).json()
            assert _one(validated, "result") is True, (code, validated)
            assert _one(validated, "version") == "2026"
