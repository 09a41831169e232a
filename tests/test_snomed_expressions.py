"""Post-coordinated SNOMED CT expressions (Compositional Grammar): the parser (round trips, whitespace,
comments, errors with their position), and over real HTTP on both engines against the genuine MiniCT sample:
$lookup and CodeSystem/$validate-code of expression codes with the ecosystem suite's checks and messages,
ValueSet/$validate-code membership, and the `expressions` compose filter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from termsvc.api.app import create_app
from termsvc.ops import scg
from termsvc.ops.loading import run_load
from termsvc.settings import Settings
from termsvc.store.engine import make_engine
from tests.conftest import ENGINES, shared_path

SCT = "http://snomed.info/sct"
VERSION = f"{SCT}/900000000000207008/version/20180731"
MRCM_NOTE = ("The expression is grammatically correct and the concepts are valid, but the expression has not "
             "been checked against the SNOMED CT concept model (MRCM)")
UNCLOSED = "http://hl7.org/fhir/StructureDefinition/valueset-unclosed"
GOOD = "64572001:116676008=50960005"  # |Disease| : |Associated morphology| = |Haemorrhage|


# --- the parser --------------------------------------------------------------------------------------------

sctids = st.integers(min_value=100000, max_value=10**17).map(str)
terms = st.text(st.characters(blacklist_characters="|", blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
                min_size=1, max_size=12)
refs = st.builds(scg.ConceptRef, sctids, st.none() | terms)
concretes = st.one_of(
    st.builds(scg.Concrete, st.just("integer"), st.integers(-10**6, 10**6).map(str)),
    st.builds(scg.Concrete, st.just("decimal"), st.decimals(-1000, 1000, places=2, allow_nan=False,
                                                            allow_infinity=False).map(str)),
    st.builds(scg.Concrete, st.just("string"), st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)),
    st.builds(scg.Concrete, st.just("boolean"), st.sampled_from(["true", "false"])))


def _sub_expressions(children: st.SearchStrategy[Any]) -> st.SearchStrategy[scg.SubExpression]:
    attributes = st.builds(scg.Attribute, refs, st.one_of(refs, concretes, children))
    return st.builds(scg.SubExpression, st.lists(refs, min_size=1, max_size=3).map(tuple),
                     st.lists(attributes, max_size=2).map(tuple),
                     st.lists(st.lists(attributes, min_size=1, max_size=2).map(tuple), max_size=2).map(tuple))


sub_expressions = st.recursive(_sub_expressions(st.nothing()), _sub_expressions, max_leaves=6)
expressions = st.builds(scg.Expression, st.sampled_from([None, "===", "<<<"]), sub_expressions)


def _normalised(node: Any) -> Any:
    """Integer-valued decimals print back as written; terms lose outer and repeated spaces."""
    if isinstance(node, scg.Expression):
        return scg.Expression(node.status, _normalised(node.body))
    if isinstance(node, scg.SubExpression):
        return scg.SubExpression(tuple(map(_normalised, node.focus)), tuple(map(_normalised, node.ungrouped)),
                                 tuple(tuple(map(_normalised, g)) for g in node.groups))
    if isinstance(node, scg.Attribute):
        return scg.Attribute(_normalised(node.name), _normalised(node.value))
    if isinstance(node, scg.ConceptRef):
        return scg.ConceptRef(node.id, " ".join(node.term.split()) or None if node.term else None)
    if isinstance(node, scg.Concrete) and node.kind == "decimal" and "." not in node.text:
        return scg.Concrete("integer", node.text)
    return node


@given(expressions)
def test_rendered_expressions_parse_back_to_themselves(expression: scg.Expression) -> None:
    assert scg.parse(scg.render(expression)) == _normalised(expression)


def test_whitespace_comments_and_terms_are_allowed_between_tokens() -> None:
    parsed = scg.parse(" === 64572001 | Disease |  /* why */ :\n 116676008 |Associated morphology| = 72704001 ")
    assert parsed == scg.Expression("===", scg.SubExpression(
        (scg.ConceptRef("64572001", "Disease"),),
        (scg.Attribute(scg.ConceptRef("116676008", "Associated morphology"), scg.ConceptRef("72704001")),)))


def test_attribute_groups_and_nested_expressions_parse() -> None:
    parsed = scg.parse("71388002:{260686004=129304002,405813007=(15497006:272741003=7771000)},{363699004=#12.5}")
    assert len(parsed.body.groups) == 2
    nested = parsed.body.groups[0][1].value
    assert isinstance(nested, scg.SubExpression) and nested.focus == (scg.ConceptRef("15497006"),)
    assert parsed.body.groups[1][0].value == scg.Concrete("decimal", "12.5")


@pytest.mark.parametrize(("text", "position"), [
    ("freetext", 1), ("64572001:", 10), ("64572001:116676008", 19), ("12345", 1), ("64572001 |Disease", 18),
    ("64572001:116676008=50960005 )", 29)])
def test_syntax_errors_name_their_position(text: str, position: int) -> None:
    with pytest.raises(scg.ExpressionError) as caught:
        scg.parse(text)
    assert caught.value.position == position
    assert f"at character {position}" in caught.value.message


def test_ungrouped_attributes_after_a_group_are_refused() -> None:
    with pytest.raises(scg.ExpressionError, match="ungrouped attributes must come before"):
        scg.parse("64572001:{116676008=50960005},408729009=410514004")


# --- over HTTP ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=ENGINES)
def client(request: pytest.FixtureRequest, new_store_url: Callable[[str], str]) -> Iterator[TestClient]:
    engine: Engine = make_engine(new_store_url(request.param), pool_size=2)
    run_load(engine, "snomed", shared_path("data", "snomed", "snowstorm-MiniCT_INT_20180731", "MiniCT",
                                           "RF2Release"))
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=engine)) as test_client:
        yield test_client
    engine.dispose()


def _by_name(parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {p["name"]: p for p in parameters}


def _validate(client: TestClient, code: str) -> dict[str, Any]:
    response = client.get("/fhir/CodeSystem/$validate-code", params={"url": SCT, "code": code})
    assert response.status_code == 200, response.text
    return _by_name(response.json()["parameter"])


def _issue_texts(found: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i["severity"], i["details"]["text"]) for i in found["issues"]["resource"]["issue"]]


def test_valid_expression_validates_with_its_display_and_the_mrcm_note(client: TestClient) -> None:
    found = _validate(client, GOOD)
    assert found["result"]["valueBoolean"] is True
    assert found["display"]["valueString"] == (
        "64572001|Disease|:116676008|Associated morphology|=50960005|Haemorrhage|")
    assert _issue_texts(found) == [("information", MRCM_NOTE)]
    assert "message" not in found
    assert found["version"]["valueString"] == VERSION


def test_grouped_expression_with_spaces_validates(client: TestClient) -> None:
    found = _validate(client, "=== 64572001 |Disease| : { 116676008 = 50960005 }")
    assert found["result"]["valueBoolean"] is True
    assert found["display"]["valueString"] == (
        "===64572001|Disease|:{116676008|Associated morphology|=50960005|Haemorrhage|}")


def _unknown(code: str) -> str:
    return f"Unknown code '{code}' in the CodeSystem '{SCT}' version '{VERSION}' (International Edition)"


@pytest.mark.parametrize(("code", "problem"), [
    ("64572001:116676008=240280071", "Concept 240280071 not found"),
    ("64572001:50960005=116676008", "Concept 50960005 is not valid in this context (must be a descendent of one "
                                    "of 410662002,106237007)"),
    ("246188002:116676008=50960005", "Concept 246188002 is inactive, so cannot be the focus of an expression"),
    ("freetext", 'Concept not found (next char = "f", in "freetext") at character 1'),
])
def test_invalid_expression_is_an_unknown_code_with_the_reason(client: TestClient, code: str, problem: str) -> None:
    found = _validate(client, code)
    assert found["result"]["valueBoolean"] is False
    assert _issue_texts(found) == [("error", _unknown(code)), ("information", f"Not a valid expression: {problem}")]
    assert found["message"]["valueString"] == _unknown(code)
    assert all("location" not in i for i in found["issues"]["resource"]["issue"])


def test_unknown_concept_id_is_unknown_without_an_expression_note(client: TestClient) -> None:
    found = _validate(client, "276885007000")
    assert _issue_texts(found) == [("error", _unknown("276885007000"))]


def test_lookup_of_an_expression_shows_its_focus_and_attributes(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/$lookup", params={"system": SCT, "code": GOOD})
    assert response.status_code == 200, response.text
    parameters = response.json()["parameter"]
    found = _by_name(parameters)
    display = "64572001|Disease|:116676008|Associated morphology|=50960005|Haemorrhage|"
    assert found["display"]["valueString"] == display
    assert found["code"]["valueCode"] == GOOD
    assert found["designation"]["part"][0] == {"name": "language", "valueCode": "en-US"}
    properties = [{p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in prop["part"]}
                  for prop in parameters if prop["name"] == "property"]
    assert {"code": "116676008", "code-display": "Associated morphology", "description": "Haemorrhage",
            "value": "50960005"} in properties
    assert {"code": "parent", "description": "Clinical finding", "value": "404684003"} in properties


def test_lookup_of_an_invalid_expression_is_not_found(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/$lookup", params={"system": SCT, "code": "64572001:116676008=240280071"})
    assert response.status_code == 404
    assert "Concept 240280071 not found" in response.text


# --- value sets --------------------------------------------------------------------------------------------

def _value_set(include: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "url": "http://example.org/fhir/ValueSet/pc", "version": "1",
            "status": "active", "compose": {"include": [{"system": SCT, **include}]}}


def _in_value_set(client: TestClient, code: str, include: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/fhir/ValueSet/$validate-code", json={"resourceType": "Parameters", "parameter": [
        {"name": "system", "valueUri": SCT}, {"name": "code", "valueCode": code},
        {"name": "valueSet", "resource": _value_set(include)}]})
    assert response.status_code == 200, response.text
    return _by_name(response.json()["parameter"])


def _filters(expressions_allowed: str | None) -> dict[str, Any]:
    filters = [{"property": "concept", "op": "is-a", "value": "404684003"}]
    if expressions_allowed is not None:
        filters.append({"property": "expressions", "op": "=", "value": expressions_allowed})
    return {"filter": filters}


@pytest.mark.parametrize(("include", "member"), [
    (_filters("true"), True),
    (_filters(None), True),
    (_filters("false"), False),
    ({"concept": [{"code": "64572001"}, {"code": GOOD}]}, True),
    ({"concept": [{"code": "64572001"}]}, False),
    ({"filter": [{"property": "concept", "op": "is-a", "value": "246188002"}]}, False),
])
def test_expression_membership_follows_the_includes(client: TestClient, include: dict[str, Any],
                                                    member: bool) -> None:
    found = _in_value_set(client, GOOD, include)
    assert found["result"]["valueBoolean"] is member
    if not member:
        assert found["message"]["valueString"] == (
            f"The provided code '{SCT}#{GOOD}' was not found in the value set "
            "'http://example.org/fhir/ValueSet/pc|1'")


def test_invalid_expression_is_never_a_member(client: TestClient) -> None:
    found = _in_value_set(client, "64572001:116676008=240280071", _filters("true"))
    assert found["result"]["valueBoolean"] is False


def _expansion(client: TestClient, include: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/fhir/ValueSet/$expand", json={"resourceType": "Parameters", "parameter": [
        {"name": "valueSet", "resource": _value_set(include)}]})
    assert response.status_code == 200, response.text
    return dict(response.json()["expansion"])


def test_expressions_filter_keeps_every_concept_and_says_whether_the_expansion_is_closed(client: TestClient
                                                                                         ) -> None:
    plain, closed, open_ = (_expansion(client, _filters(v)) for v in (None, "false", "true"))
    assert plain["total"] == closed["total"] == open_["total"] > 3
    assert not any(e["url"] == UNCLOSED for e in closed.get("extension", []))
    assert {"url": UNCLOSED, "valueBoolean": True} in open_["extension"]


def test_expressions_filter_needs_a_boolean(client: TestClient) -> None:
    response = client.post("/fhir/ValueSet/$expand", json={"resourceType": "Parameters", "parameter": [
        {"name": "valueSet", "resource": _value_set(_filters("maybe"))}]})
    assert response.status_code == 400
    assert "true or false" in response.text


def test_listed_expressions_are_expanded_after_the_concepts_with_their_display(client: TestClient) -> None:
    include = {"concept": [{"code": "64572001"}, {"code": GOOD}, {"code": "64572001:116676008=240280071"}]}
    expansion = _expansion(client, include)
    assert expansion["total"] == 2
    assert [(e["code"], e["display"]) for e in expansion["contains"]] == [
        ("64572001", "Disease"), (GOOD, "64572001|Disease|:116676008|Associated morphology|=50960005|Haemorrhage|")]
    assert not any(e["url"] == UNCLOSED for e in expansion.get("extension", []))


def test_listed_expressions_page_with_the_concepts(client: TestClient) -> None:
    response = client.post("/fhir/ValueSet/$expand", json={"resourceType": "Parameters", "parameter": [
        {"name": "valueSet", "resource": _value_set({"concept": [{"code": "64572001"}, {"code": GOOD}]})},
        {"name": "offset", "valueInteger": 1}, {"name": "count", "valueInteger": 1}]})
    assert response.status_code == 200, response.text
    expansion = response.json()["expansion"]
    assert expansion["total"] == 2
    assert [e["code"] for e in expansion["contains"]] == [GOOD]


def test_excluded_expression_is_not_expanded(client: TestClient) -> None:
    value_set = _value_set({"concept": [{"code": "64572001"}, {"code": GOOD}]})
    value_set["compose"]["exclude"] = [{"system": SCT, "concept": [{"code": GOOD}]}]
    response = client.post("/fhir/ValueSet/$expand", json={"resourceType": "Parameters", "parameter": [
        {"name": "valueSet", "resource": value_set}]})
    assert [e["code"] for e in response.json()["expansion"]["contains"]] == ["64572001"]
