"""ECL wherever FHIR uses it, over HTTP: implicit ?fhir_vs=ecl/ value sets, compose filters constraint = and
expression =, $expand (paging, text filter, activeOnly), ValueSet/$validate-code, $batch-validate-code and
stored value sets; bad ECL is a 400 naming the offset, what is not supported a 4xx, never an empty answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from ecl_oracle import FIXTURE, read
from fastapi.testclient import TestClient

from termsvc.api.app import create_app
from termsvc.ops.loading import run_load
from termsvc.settings import Settings
from termsvc.store.engine import make_engine
from termsvc.store.loadrun import load_run

R = read()
SCT = "http://snomed.info/sct"
FINDING, DISEASE, MI, AMI, HEART = "404684003", "64572001", "22298006", "57054005", "80891009"
REFINED = f"< {FINDING} : 363698007 = << {HEART}"
STORED = "http://example.org/fhir/ValueSet/cardiac-findings"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def client(request: pytest.FixtureRequest, new_store_url: Callable[[str], str]) -> Iterator[TestClient]:
    engine = make_engine(new_store_url(request.param), pool_size=2)
    run_load(engine, "snomed", FIXTURE)
    with load_run(engine, "test", "ecl value set") as run:
        run.value_set({"resourceType": "ValueSet", "id": "cardiac-findings", "url": STORED, "version": "1",
                       "status": "active", "compose": {"include": [{"system": SCT, "filter": [
                           {"property": "constraint", "op": "=", "value": REFINED}]}]}})
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=engine)) as test_client:
        yield test_client
    engine.dispose()


def _implicit(ecl: str) -> str:
    return f"{SCT}?fhir_vs=ecl/{quote(ecl, safe='')}"


def _codes(body: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for entry in body["expansion"].get("contains", []):
        out.append(entry["code"])
        out.extend(_codes({"expansion": entry}) if "contains" in entry else [])
    return out


def _expand(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get("/fhir/ValueSet/$expand", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _refined_answer() -> set[str]:
    heart = R.descendants(HEART) | {HEART}
    return {s for s, t, d, _ in R.rels if t == "363698007" and d in heart} & R.descendants(FINDING)


def test_implicit_ecl_value_set_expands_to_the_ecl_answer(client: TestClient) -> None:
    body = _expand(client, url=_implicit(REFINED), excludeNested="true")
    assert set(_codes(body)) == _refined_answer()
    assert body["expansion"]["total"] == len(_refined_answer())


def test_implicit_isa_and_refset_value_sets(client: TestClient) -> None:
    assert set(_codes(_expand(client, url=f"{SCT}?fhir_vs=isa/{DISEASE}", excludeNested="true"))) == \
        R.descendants(DISEASE) | {DISEASE}
    assert set(_codes(_expand(client, url=f"{SCT}?fhir_vs=refset/99001005", excludeNested="true"))) == \
        R.members["99001005"]


def test_paging_over_an_ecl_expansion(client: TestClient) -> None:
    url = _implicit(f"<< {FINDING}")
    whole = _codes(_expand(client, url=url, excludeNested="true"))
    page = _expand(client, url=url, offset="1", count="2")
    assert page["expansion"]["total"] == len(whole) == len(R.descendants(FINDING)) + 1
    assert _codes(page) == whole[1:3]


def test_text_filter_and_active_only(client: TestClient) -> None:
    assert _codes(_expand(client, url=_implicit(f"<< {FINDING}"), filter="acute")) == [AMI]
    history = _implicit(f"<< {MI} {{{{ +HISTORY-MIN }}}}")
    assert "99005001" in _codes(_expand(client, url=history, excludeNested="true"))
    assert "99005001" not in _codes(_expand(client, url=history, activeOnly="true", excludeNested="true"))


def test_compose_filters_constraint_and_expression(client: TestClient) -> None:
    for prop in ("constraint", "expression"):
        value_set = {"resourceType": "ValueSet", "status": "active", "compose": {"include": [
            {"system": SCT, "filter": [{"property": prop, "op": "=", "value": REFINED}]}]}}
        response = client.post("/fhir/ValueSet/$expand", json={"resourceType": "Parameters", "parameter": [
            {"name": "valueSet", "resource": value_set}, {"name": "excludeNested", "valueBoolean": True}]})
        assert response.status_code == 200, response.text
        assert set(_codes(response.json())) == _refined_answer()


def test_concept_in_a_refset_is_its_membership(client: TestClient) -> None:
    value_set = {"resourceType": "ValueSet", "status": "active", "compose": {"include": [
        {"system": SCT, "filter": [{"property": "concept", "op": "in", "value": "99001005"}]}]}}
    response = client.post("/fhir/ValueSet/$expand", json={"resourceType": "Parameters", "parameter": [
        {"name": "valueSet", "resource": value_set}, {"name": "excludeNested", "valueBoolean": True}]})
    assert set(_codes(response.json())) == R.members["99001005"]


def test_stored_value_set_with_a_constraint_filter(client: TestClient) -> None:
    assert set(_codes(_expand(client, url=STORED, excludeNested="true"))) == _refined_answer()


def _validate(client: TestClient, url: str, code: str) -> bool:
    response = client.get("/fhir/ValueSet/$validate-code", params={"url": url, "system": SCT, "code": code})
    assert response.status_code == 200, response.text
    result = {p["name"]: p for p in response.json()["parameter"]}
    return bool(result["result"]["valueBoolean"])


def test_validate_code_against_ecl_value_sets(client: TestClient) -> None:
    assert _validate(client, _implicit(REFINED), AMI) is True
    assert _validate(client, _implicit(REFINED), DISEASE) is False
    assert _validate(client, STORED, MI) is True


def test_batch_validate_code_against_an_ecl_value_set(client: TestClient) -> None:
    def validation(code: str) -> dict[str, Any]:
        return {"name": "validation", "resource": {"resourceType": "Parameters", "parameter": [
            {"name": "coding", "valueCoding": {"system": SCT, "code": code}}]}}

    response = client.post("/fhir/ValueSet/$batch-validate-code", json={"resourceType": "Parameters", "parameter": [
        {"name": "url", "valueUri": _implicit(REFINED)}, validation(AMI), validation(DISEASE)]})
    assert response.status_code == 200, response.text
    results = [{p["name"]: p for p in v["resource"]["parameter"]} for v in response.json()["parameter"]]
    assert [r["result"]["valueBoolean"] for r in results] == [True, False]


def test_invalid_ecl_is_a_400_naming_the_offset(client: TestClient) -> None:
    response = client.get("/fhir/ValueSet/$expand", params={"url": _implicit(f"<< {FINDING} AND")})
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert f"'<< {FINDING} AND'" in issue["details"]["text"] and "offset 16" in issue["details"]["text"]
    assert issue["details"]["coding"][0]["code"] == "vs-invalid"
    assert issue["extension"][0]["valueString"] == "INVALID_ECL"


def test_unsupported_ecl_is_a_clear_error_not_an_empty_expansion(client: TestClient) -> None:
    response = client.get("/fhir/ValueSet/$expand", params={"url": _implicit('LOINC#"1234-5"')})
    assert 400 <= response.status_code < 500
    issue = response.json()["issue"][0]
    assert issue["code"] == "not-supported"
    assert "alternate identifiers" in issue["details"]["text"]


def test_ecl_naming_an_unknown_concept_is_an_error(client: TestClient) -> None:
    response = client.get("/fhir/ValueSet/$expand", params={"url": _implicit("<< 999999001")})
    assert response.status_code == 400
    assert "'<< 999999001'" in response.json()["issue"][0]["details"]["text"]


def test_the_expressions_filter_keeps_every_concept_the_others_select(client: TestClient) -> None:
    for allowed in ("true", "false"):
        value_set = {"resourceType": "ValueSet", "status": "active", "compose": {"include": [
            {"system": SCT, "filter": [{"property": "concept", "op": "is-a", "value": DISEASE},
                                       {"property": "expressions", "op": "=", "value": allowed}]}]}}
        response = client.post("/fhir/ValueSet/$expand", json={"resourceType": "Parameters", "parameter": [
            {"name": "valueSet", "resource": value_set}, {"name": "excludeNested", "valueBoolean": True}]})
        assert set(_codes(response.json())) == R.descendants(DISEASE) | {DISEASE}


@pytest.mark.parametrize(("ecl", "member"), [
    (f"<< {MI}", True), (f"< 56265001 : 363698007 = << {HEART}", True), (f"<<! {MI}", False),
    (f">> {MI}", False), (f"<< {MI} MINUS << 56265001", False), ("*", True)])
def test_validate_code_of_an_expression_against_ecl(client: TestClient, ecl: str, member: bool) -> None:
    assert _validate(client, _implicit(ecl), f"{MI} |Myocardial infarction| : 363698007 = 39057004") is member
