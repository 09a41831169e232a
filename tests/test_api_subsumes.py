"""CodeSystem/$subsumes over HTTP (TestClient over the app), on SQLite and PostgreSQL: each outcome, the input
forms (codes with system, codings, instance level, POSTed Parameters) and the errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from termsvc.api.app import create_app
from termsvc.settings import Settings
from termsvc.store.loadrun import load_run

ANIMALS = "http://example.org/fhir/CodeSystem/animals"
LOOSE = "http://example.org/fhir/CodeSystem/loose"
PARTS = "http://example.org/fhir/CodeSystem/body-parts"


def _load(engine: Engine) -> None:
    with load_run(engine, "fhir", "test") as run:
        old = run.code_system({"resourceType": "CodeSystem", "id": "animals-v1", "url": ANIMALS, "version": "1",
                               "name": "Animals", "status": "retired", "content": "complete"})
        old.add_concept("animal", "Animal")
        old.add_concept("cat", "Cat")
        old.finish()  # no hierarchy in version 1: cat is not (yet) an animal
        cs = run.code_system({"resourceType": "CodeSystem", "id": "animals", "url": ANIMALS, "version": "2",
                              "name": "Animals", "status": "active", "content": "complete", "caseSensitive": True,
                              "hierarchyMeaning": "is-a"})
        for code in ("animal", "mammal", "cat", "dog", "bird", "bat"):
            cs.add_concept(code, code.title())
        cs.add_edge("animal", "mammal")
        cs.add_edge("mammal", "cat")
        cs.add_edge("mammal", "dog")
        cs.add_edge("animal", "bird")
        cs.add_edge("mammal", "bat")
        cs.finish()
        loose = run.code_system({"resourceType": "CodeSystem", "url": LOOSE, "version": "1", "name": "Loose",
                                 "status": "active", "content": "complete", "caseSensitive": False})
        loose.add_concept("Top", "Top")
        loose.add_concept("Leaf", "Leaf")
        loose.add_edge("Top", "Leaf")
        loose.finish()
        parts = run.code_system({"resourceType": "CodeSystem", "url": PARTS, "version": "1", "name": "Parts",
                                 "status": "active", "content": "complete", "hierarchyMeaning": "part-of"})
        parts.add_concept("arm", "Arm")
        parts.add_concept("hand", "Hand")
        parts.add_edge("arm", "hand")
        parts.finish()


@pytest.fixture
def client(engine: Engine, store_url: str) -> Iterator[TestClient]:
    _load(engine)
    with TestClient(create_app(Settings(database_url=store_url), engine=engine)) as test_client:
        yield test_client


def _outcome(response: Any) -> str:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resourceType"] == "Parameters"
    return str(next(p["valueCode"] for p in body["parameter"] if p["name"] == "outcome"))


def _get(client: TestClient, a: str, b: str, **extra: str) -> Any:
    return client.get("/fhir/CodeSystem/$subsumes", params={"system": ANIMALS, "codeA": a, "codeB": b, **extra})


def _post(client: TestClient, *parameters: dict[str, Any], path: str = "/fhir/CodeSystem/$subsumes") -> Any:
    return client.post(path, json={"resourceType": "Parameters", "parameter": list(parameters)})


def _issue_text(response: Any) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return " ".join(i.get("details", {}).get("text", "") or i.get("diagnostics", "") for i in body["issue"])


def test_a_code_is_equivalent_to_itself(client: TestClient) -> None:
    assert _outcome(_get(client, "cat", "cat")) == "equivalent"


def test_an_ancestor_subsumes_its_descendant_across_levels(client: TestClient) -> None:
    assert _outcome(_get(client, "animal", "cat")) == "subsumes"


def test_a_descendant_is_subsumed_by_its_parent(client: TestClient) -> None:
    assert _outcome(_get(client, "dog", "mammal")) == "subsumed-by"


def test_siblings_are_not_subsumed(client: TestClient) -> None:
    assert _outcome(_get(client, "cat", "dog")) == "not-subsumed"


def test_codes_in_different_branches_are_not_subsumed(client: TestClient) -> None:
    assert _outcome(_get(client, "bird", "bat")) == "not-subsumed"


def test_a_named_version_answers_from_that_versions_hierarchy(client: TestClient) -> None:
    assert _outcome(_get(client, "animal", "cat", version="1")) == "not-subsumed"
    assert _outcome(_get(client, "animal", "cat", version="2")) == "subsumes"


def test_posted_codings_of_the_same_system_are_compared(client: TestClient) -> None:
    response = _post(client, {"name": "codingA", "valueCoding": {"system": ANIMALS, "code": "mammal"}},
                     {"name": "codingB", "valueCoding": {"system": ANIMALS, "code": "bat"}})
    assert _outcome(response) == "subsumes"


def test_instance_level_takes_the_system_from_the_code_system_addressed(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/animals/$subsumes", params={"codeA": "bat", "codeB": "animal"})
    assert _outcome(response) == "subsumed-by"


def test_instance_level_by_post(client: TestClient) -> None:
    response = _post(client, {"name": "codeA", "valueCode": "cat"}, {"name": "codeB", "valueCode": "cat"},
                     path="/fhir/CodeSystem/animals/$subsumes")
    assert _outcome(response) == "equivalent"


def test_a_code_system_that_is_not_case_sensitive_matches_codes_in_any_case(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/$subsumes", params={"system": LOOSE, "codeA": "TOP", "codeB": "leaf"})
    assert _outcome(response) == "subsumes"


def test_a_case_sensitive_code_system_does_not_match_a_code_in_the_wrong_case(client: TestClient) -> None:
    response = _get(client, "Cat", "animal")
    assert response.status_code == 404
    assert "Cat" in _issue_text(response)


def test_an_unknown_code_is_404_naming_the_code_and_the_version(client: TestClient) -> None:
    response = _get(client, "cat", "unicorn")
    assert response.status_code == 404
    text = _issue_text(response)
    assert "codeB 'unicorn'" in text and ANIMALS in text and "version 2" in text


def test_an_unknown_system_is_404_naming_it(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/$subsumes",
                          params={"system": "http://example.org/nothing", "codeA": "a", "codeB": "b"})
    assert response.status_code == 404
    assert "http://example.org/nothing" in _issue_text(response)


def test_codings_of_different_systems_are_an_error(client: TestClient) -> None:
    response = _post(client, {"name": "codingA", "valueCoding": {"system": ANIMALS, "code": "cat"}},
                     {"name": "codingB", "valueCoding": {"system": LOOSE, "code": "Top"}})
    assert response.status_code == 400
    text = _issue_text(response)
    assert LOOSE in text and ANIMALS in text


def test_a_coding_whose_system_differs_from_the_system_parameter_is_an_error(client: TestClient) -> None:
    response = _post(client, {"name": "system", "valueUri": LOOSE},
                     {"name": "codingA", "valueCoding": {"system": ANIMALS, "code": "cat"}},
                     {"name": "codeB", "valueCode": "Top"})
    assert response.status_code == 400


def test_codes_without_a_system_are_an_error(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/$subsumes", params={"codeA": "cat", "codeB": "dog"})
    assert response.status_code == 400
    assert "system" in _issue_text(response)


def test_a_missing_code_b_is_an_error(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/$subsumes", params={"system": ANIMALS, "codeA": "cat"})
    assert response.status_code == 400
    assert "codeB" in _issue_text(response)


def test_code_and_coding_for_the_same_side_are_an_error(client: TestClient) -> None:
    response = _post(client, {"name": "system", "valueUri": ANIMALS}, {"name": "codeA", "valueCode": "cat"},
                     {"name": "codingA", "valueCoding": {"system": ANIMALS, "code": "cat"}},
                     {"name": "codeB", "valueCode": "dog"})
    assert response.status_code == 400


def test_a_part_of_hierarchy_is_not_used_for_subsumption(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/$subsumes", params={"system": PARTS, "codeA": "arm", "codeB": "hand"})
    assert response.status_code == 400
    assert "part-of" in _issue_text(response)


def test_an_unknown_instance_is_404(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/nope/$subsumes", params={"codeA": "a", "codeB": "b"})
    assert response.status_code == 404


def test_the_capability_statement_lists_subsumes(client: TestClient) -> None:
    body = client.get("/fhir/metadata").json()
    code_system = next(r for r in body["rest"][0]["resource"] if r["type"] == "CodeSystem")
    assert "subsumes" in [op["name"] for op in code_system["operation"]]
