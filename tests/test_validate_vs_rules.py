"""ValueSet/$validate-code as the HL7 terminology ecosystem answers it, on both engines: lenient display
checking, CodeableConcepts answered from the coding in the value set, inactive and abstract codes, value sets
that mark codes deprecated, membership-only checks, display language defaults, systems that are value sets or
relative, system inference, fragments, version rules and value sets naming unknown code systems."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from termsvc.api.app import create_app
from termsvc.settings import Settings
from termsvc.store.loadrun import load_run

BIRDS = "http://example.org/cs/birds"
TREES = "http://example.org/cs/trees"
PARTS = "http://example.org/cs/parts"  # a fragment
VERSIONED = "http://example.org/cs/versioned"
VS = "http://example.org/vs/"
SUPPLEMENT = "http://example.org/cs/birds-fr"
DEPRECATED = "http://hl7.org/fhir/StructureDefinition/valueset-deprecated"
PARAMETERS_EXT = "http://hl7.org/fhir/StructureDefinition/valueset-expansion-parameter"


def _vs(name: str, compose: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "url": VS + name, "version": "1", "status": "active", "compose": compose,
            **extra}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with load_run(engine, "test", "birds") as run:
        birds = run.code_system({"url": BIRDS, "version": "2", "content": "complete"})
        birds.add_concept("robin", "Robin")
        birds.add_concept("moa", "Moa", active=False)
        birds.add_concept("dodo", "Dodo", status="deprecated")
        birds.add_concept("bird", "Bird", abstract=True)
        birds.add_designation("robin", "Rotkehlchen", language="de")
        birds.add_designation("robin", "redbreast", use=("http://example.org/uses", "folk", "Folk name"))
        birds.finish()
        trees = run.code_system({"url": TREES, "version": "1", "content": "complete"})
        trees.add_concept("robin", "Robin tree")
        trees.add_concept("oak", "Oak")
        trees.finish()
        supplement = run.code_system({"url": SUPPLEMENT, "version": "1", "content": "supplement",
                                      "supplements": BIRDS})
        supplement.add_concept("robin", None)
        supplement.add_designation("robin", "Rouge-gorge", language="fr")
        supplement.finish()
        parts = run.code_system({"url": PARTS, "version": "1", "content": "fragment"})
        parts.add_concept("wing", "Wing")
        parts.finish()
        for version, codes in (("1.0.0", ("a",)), ("2.0.0", ("a", "b"))):
            writer = run.code_system({"url": VERSIONED, "version": version, "content": "complete"})
            for code in codes:
                writer.add_concept(code, f"{code.upper()} {version}")
            writer.finish()
        run.value_set(_vs("birds", {"include": [{"system": BIRDS}]}))
        run.value_set(_vs("living", {"inactive": False, "include": [{"system": BIRDS}]}))
        run.value_set(_vs("both", {"include": [{"system": BIRDS}, {"system": TREES}]}))
        run.value_set(_vs("parts", {"include": [{"system": PARTS}]}))
        run.value_set(_vs("marked", {"include": [{"system": BIRDS, "concept": [
            {"code": "robin", "extension": [{"url": DEPRECATED, "valueBoolean": True}]}]}]}))
        run.value_set(_vs("german", {"extension": [{"url": PARAMETERS_EXT, "extension": [
            {"url": "name", "valueCode": "displayLanguage"}, {"url": "value", "valueCode": "de"}]}],
            "include": [{"system": BIRDS}]}))
        run.value_set(_vs("mixed", {"include": [{"system": VERSIONED, "version": "1.0.0", "concept": [{"code": "a"}]},
                                                {"system": VERSIONED, "version": "2.0.0", "concept": [{"code": "b"}]}]}))
        run.value_set(_vs("every-version", {"include": [{"system": VERSIONED, "version": "1.0.0"},
                                                        {"system": VERSIONED, "version": "2.0.0"}]}))
        run.value_set(_vs("pinned", {"include": [{"system": VERSIONED, "version": "1.0.0"}]}))
        run.value_set(_vs("wildcard", {"include": [{"system": VERSIONED, "version": "x"}]}))
        run.value_set(_vs("supplemented", {"include": [{"system": BIRDS}]}, extension=[
            {"url": "http://hl7.org/fhir/StructureDefinition/valueset-supplement", "valueCanonical": SUPPLEMENT}]))
        for version, code in (("1", "robin"), ("2", "dodo")):
            run.value_set({**_vs("picked", {"include": [{"system": BIRDS, "concept": [{"code": code}]}]}),
                           "version": version})
        run.value_set(_vs("importer", {"include": [{"valueSet": [VS + "picked"]}]}))
        run.value_set(_vs("unknown", {"include": [{"system": "http://example.org/cs/missing"}]}))
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=engine)) as test_client:
        yield test_client


def _validate(client: TestClient, *parameters: dict[str, Any]) -> dict[str, dict[str, Any]]:
    response = client.post("/fhir/ValueSet/$validate-code",
                           json={"resourceType": "Parameters", "parameter": list(parameters)})
    assert response.status_code == 200, response.text
    return {p["name"]: p for p in response.json()["parameter"]}


def _url(name: str) -> dict[str, Any]:
    return {"name": "url", "valueUri": VS + name}


def _coding(system: str | None, code: str, **extra: Any) -> dict[str, Any]:
    coding = {"code": code, **extra}
    if system:
        coding["system"] = system
    return {"name": "coding", "valueCoding": coding}


def _issues(out: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(severity, message id) of each issue."""
    return [(i["severity"], i["extension"][0]["valueString"]) for i in out["issues"]["resource"]["issue"]]


def test_a_wrong_display_is_only_a_warning_when_display_validation_is_lenient(client: TestClient) -> None:
    out = _validate(client, _url("birds"), _coding(BIRDS, "robin", display="Blackbird"),
                    {"name": "lenient-display-validation", "valueBoolean": True})
    assert out["result"]["valueBoolean"] is True
    assert _issues(out) == [("warning", "Display_Name_for__should_be_one_of__instead_of")]


def test_a_wrong_display_fails_by_default(client: TestClient) -> None:
    out = _validate(client, _url("birds"), _coding(BIRDS, "robin", display="Blackbird"))
    assert out["result"]["valueBoolean"] is False
    assert _issues(out) == [("error", "Display_Name_for__should_be_one_of__instead_of")]


def test_a_designation_with_a_local_use_and_no_language_is_not_a_display(client: TestClient) -> None:
    out = _validate(client, _url("birds"), _coding(BIRDS, "robin", display="redbreast"))
    assert out["result"]["valueBoolean"] is False
    assert "'redbreast'" not in out["message"]["valueString"].split("Valid display is")[1]


def test_a_codeable_concept_with_a_wrong_display_answers_from_the_coding_in_the_value_set(
        client: TestClient) -> None:
    concept = {"coding": [{"system": BIRDS, "code": "robin", "display": "Blackbird"}]}
    out = _validate(client, _url("birds"), {"name": "codeableConcept", "valueCodeableConcept": concept})
    assert out["result"]["valueBoolean"] is False
    assert out["code"]["valueCode"] == "robin"
    assert out["display"]["valueString"] == "Robin"
    assert _issues(out) == [("error", "Display_Name_for__should_be_one_of__instead_of")]


def test_an_inactive_code_left_out_by_the_value_set_says_it_is_not_active(client: TestClient) -> None:
    out = _validate(client, _url("living"), _coding(BIRDS, "moa"))
    assert out["result"]["valueBoolean"] is False
    assert ("error", "STATUS_CODE_WARNING_CODE") in _issues(out)
    assert ("error", "None_of_the_provided_codes_are_in_the_value_set_one") in _issues(out)


def test_active_only_leaves_inactive_codes_out(client: TestClient) -> None:
    out = _validate(client, _url("birds"), _coding(BIRDS, "moa"), {"name": "activeOnly", "valueBoolean": True})
    assert out["result"]["valueBoolean"] is False
    assert ("error", "STATUS_CODE_WARNING_CODE") in _issues(out)


def test_an_inactive_code_in_the_value_set_is_valid_with_a_warning(client: TestClient) -> None:
    out = _validate(client, _url("birds"), _coding(BIRDS, "moa"))
    assert out["result"]["valueBoolean"] is True
    assert _issues(out) == [("warning", "INACTIVE_CONCEPT_FOUND")]


def test_membership_only_leaves_out_what_the_code_system_says(client: TestClient) -> None:
    concept = {"coding": [{"system": BIRDS, "code": "robin", "display": "Blackbird"}]}
    out = _validate(client, _url("both"), {"name": "codeableConcept", "valueCodeableConcept": concept},
                    {"name": "valueset-membership-only", "valueBoolean": True})
    assert out["result"]["valueBoolean"] is True
    assert "issues" not in out


def test_a_code_marked_deprecated_by_the_value_set_warns(client: TestClient) -> None:
    out = _validate(client, _url("marked"), _coding(BIRDS, "robin"))
    assert out["result"]["valueBoolean"] is True
    assert _issues(out) == [("warning", "CONCEPT_DEPRECATED_IN_VALUESET")]


def test_an_abstract_code_refused_by_the_request_is_not_in_the_value_set(client: TestClient) -> None:
    out = _validate(client, _url("birds"), _coding(BIRDS, "bird"), {"name": "abstract", "valueBoolean": False})
    assert out["result"]["valueBoolean"] is False
    assert sorted(_issues(out)) == [("error", "ABSTRACT_CODE_NOT_ALLOWED"),
                                    ("error", "None_of_the_provided_codes_are_in_the_value_set_one")]


def test_the_value_sets_display_language_chooses_the_display(client: TestClient) -> None:
    out = _validate(client, _url("german"), _coding(BIRDS, "robin"))
    assert out["display"]["valueString"] == "Rotkehlchen"


def test_an_invalid_display_language_is_refused(client: TestClient) -> None:
    response = client.post("/fhir/ValueSet/$validate-code", json={"resourceType": "Parameters", "parameter": [
        _url("birds"), _coding(BIRDS, "robin"), {"name": "displayLanguage", "valueCode": "-"}]})
    assert response.status_code == 400
    assert response.json()["issue"][0]["details"]["text"] == "Invalid displayLanguage: '-'"


def test_a_system_that_is_a_value_set_is_reported_as_such(client: TestClient) -> None:
    out = _validate(client, _url("birds"), _coding(VS + "birds", "robin"))
    assert out["result"]["valueBoolean"] is False
    assert ("error", "Terminology_TX_System_ValueSet2") in _issues(out)
    assert "x-unknown-system" not in out and "x-caused-by-unknown-system" not in out


def test_a_relative_system_is_reported(client: TestClient) -> None:
    out = _validate(client, _url("birds"), _coding("Birds", "robin"))
    assert ("error", "Terminology_TX_System_Relative") in _issues(out)


def test_inference_finding_no_system_says_so(client: TestClient) -> None:
    out = _validate(client, _url("birds"), {"name": "code", "valueCode": "oak"},
                    {"name": "inferSystem", "valueBoolean": True})
    assert out["result"]["valueBoolean"] is False
    assert ("error", "UNABLE_TO_INFER_CODESYSTEM") in _issues(out)


def test_inference_finding_several_systems_names_them(client: TestClient) -> None:
    out = _validate(client, _url("both"), {"name": "code", "valueCode": "robin"},
                    {"name": "inferSystem", "valueBoolean": True})
    assert out["result"]["valueBoolean"] is False
    assert f"multiple matches: [{BIRDS}, {TREES}]" in out["message"]["valueString"]


def test_a_code_missing_from_a_fragment_the_value_set_takes_whole_is_valid(client: TestClient) -> None:
    out = _validate(client, _url("parts"), _coding(PARTS, "beak"))
    assert out["result"]["valueBoolean"] is True
    assert _issues(out) == [("warning", "UNKNOWN_CODE_IN_FRAGMENT")]
    assert "message" not in out


def test_a_value_set_with_several_versions_answers_from_the_version_having_the_code(client: TestClient) -> None:
    out = _validate(client, _url("mixed"), _coding(VERSIONED, "a"))
    assert out["result"]["valueBoolean"] is True
    assert out["version"]["valueString"] == "1.0.0"


def test_a_forced_version_mismatch_names_the_forced_version(client: TestClient) -> None:
    out = _validate(client, _url("pinned"), _coding(VERSIONED, "a", version="9.9.9"),
                    {"name": "force-system-version", "valueCanonical": f"{VERSIONED}|1.0.x"})
    texts = [i["details"]["text"] for i in out["issues"]["resource"]["issue"]]
    assert (f"The code system '{VERSIONED}' version '1.0.x' resulting from the version '1.0.0' in the ValueSet "
            "include is different to the one in the value ('9.9.9')") in texts


def test_a_version_check_accepts_the_codings_version_a_wildcard_include_admits(client: TestClient) -> None:
    out = _validate(client, _url("wildcard"), _coding(VERSIONED, "a", version="1.0.0"),
                    {"name": "check-system-version", "valueCanonical": f"{VERSIONED}|1.x"})
    assert out["result"]["valueBoolean"] is True
    assert out["version"]["valueString"] == "1.0.0"


def test_an_unknown_version_of_an_unknown_system_says_no_versions_are_known(client: TestClient) -> None:
    out = _validate(client, _url("birds"), _coding("http://example.org/cs/nowhere", "x", version="3"))
    assert ("error", "UNKNOWN_CODESYSTEM_VERSION_NONE") in _issues(out)


def test_a_value_set_including_an_unknown_system_reports_the_coding_as_caused_by_it(client: TestClient) -> None:
    out = _validate(client, _url("unknown"), _coding("http://example.org/cs/missing", "x"))
    assert out["result"]["valueBoolean"] is False
    assert out["x-caused-by-unknown-system"]["valueCanonical"] == "http://example.org/cs/missing"
    assert _issues(out) == [("error", "UNKNOWN_CODESYSTEM")]


def test_a_designation_from_a_supplement_the_value_set_uses_is_a_valid_display(client: TestClient) -> None:
    out = _validate(client, _url("supplemented"), _coding(BIRDS, "robin", display="Rouge-gorge"))
    assert out["result"]["valueBoolean"] is True
    assert "issues" not in out


def test_the_same_display_is_wrong_without_the_supplement(client: TestClient) -> None:
    out = _validate(client, _url("birds"), _coding(BIRDS, "robin", display="Rouge-gorge"))
    assert out["result"]["valueBoolean"] is False


def test_default_valueset_version_pins_an_unversioned_import(client: TestClient) -> None:
    pinned = {"name": "default-valueset-version", "valueCanonical": f"{VS}picked|1"}
    assert _validate(client, _url("importer"), _coding(BIRDS, "robin"), pinned)["result"]["valueBoolean"] is True
    assert _validate(client, _url("importer"), _coding(BIRDS, "dodo"), pinned)["result"]["valueBoolean"] is False


def test_a_pinned_import_that_does_not_exist_cannot_be_found(client: TestClient) -> None:
    out = _validate(client, _url("importer"), _coding(BIRDS, "robin"),
                    {"name": "default-valueset-version", "valueCanonical": f"{VS}picked|9"})
    assert out["result"]["valueBoolean"] is False
    assert out["message"]["valueString"] == f"A definition for the value Set '{VS}picked|9' could not be found"


def test_a_code_in_several_included_versions_answers_from_the_version_its_display_fits(client: TestClient) -> None:
    out = _validate(client, _url("every-version"), _coding(VERSIONED, "a", display="A 1.0.0"))
    assert out["result"]["valueBoolean"] is True
    assert out["version"]["valueString"] == "1.0.0"
    newest = _validate(client, _url("every-version"), _coding(VERSIONED, "a"))
    assert newest["version"]["valueString"] == "2.0.0"


def test_batch_validation_parameters_override_the_shared_ones(client: TestClient) -> None:
    def validation(*parameters: dict[str, Any]) -> dict[str, Any]:
        return {"name": "validation", "resource": {"resourceType": "Parameters", "parameter": list(parameters)}}

    response = client.post("/fhir/ValueSet/$batch-validate-code", json={"resourceType": "Parameters", "parameter": [
        _url("birds"), {"name": "lenient-display-validation", "valueBoolean": True},
        validation(_coding(BIRDS, "robin", display="Blackbird"),
                   {"name": "lenient-display-validation", "valueBoolean": False}),
        validation(_coding(BIRDS, "robin", display="Blackbird"))]})
    assert response.status_code == 200, response.text
    results = [{p["name"]: p for p in v["resource"]["parameter"]} for v in response.json()["parameter"]]
    assert [r["result"]["valueBoolean"] for r in results] == [False, True]
