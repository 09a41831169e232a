"""Post-coordinated expressions against ECL sets and value set composes, without listing the set: the expression
is a proper descendant of its focus concepts with their attributes and its own (fixture: tests/data), both engines."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from ecl_oracle import FIXTURE
from sqlalchemy import Engine, text

from termsvc.errors import Invalid
from termsvc.ops.loading import run_load
from termsvc.store.engine import make_engine
from termsvc.valuesets.ecl.expressions import expression_in_compose, expression_in_ecl, parse_expression

FINDING, DISEASE, HEART_DISEASE, MI, AMI = "404684003", "64572001", "56265001", "22298006", "57054005"
SITE, MORPHOLOGY, HEART, VALVE, BREAST, INFARCT = "363698007", "116676008", "80891009", "39057004", "76752008", "55641003"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, new_store_url: Callable[[str], str]) -> Iterator[Engine]:
    engine = make_engine(new_store_url(request.param), pool_size=2)
    run_load(engine, "snomed", FIXTURE)
    yield engine
    engine.dispose()


def member(store: Engine, ecl: str, expression: str) -> bool:
    with store.connect() as conn:
        cs, version = conn.execute(text("SELECT code_system_id, version FROM code_system WHERE url = "
                                        "'http://snomed.info/sct'")).one()
        return expression_in_ecl(conn, cs, version, ecl, expression)


def test_expressions_are_read_with_terms_groups_and_several_foci() -> None:
    parsed = parse_expression(f"=== {MI} |Heart attack: old| + {DISEASE} : {{ {SITE} |Finding site| = {VALVE}, "
                              f"{MORPHOLOGY} = {INFARCT} }}, {SITE} = {HEART}")
    assert parsed.foci == (MI, DISEASE)
    assert {(x.type, x.value) for x in parsed.attributes} == {(SITE, VALVE), (MORPHOLOGY, INFARCT), (SITE, HEART)}
    grouped = [x.group for x in parsed.attributes]
    assert grouped[0] == grouped[1] != 0 and grouped[2] == 0


def test_an_expression_is_below_its_focus_concepts(store: Engine) -> None:
    expression = f"{MI} : {SITE} = {VALVE}"
    assert member(store, f"<< {MI}", expression)
    assert member(store, f"< {HEART_DISEASE}", expression)
    assert not member(store, f"<< {AMI}", expression)
    assert not member(store, f"<! {HEART_DISEASE}", expression)  # never a direct child
    assert not member(store, f">> {MI}", expression)
    assert not member(store, MI, expression)
    assert not member(store, "^ 99001005", expression)


def test_wildcard_and_minus(store: Engine) -> None:
    expression = f"{MI} : {SITE} = {VALVE}"
    assert member(store, "*", expression)
    assert not member(store, f"* MINUS << {HEART_DISEASE}", expression)
    assert member(store, f"<< {FINDING} MINUS << {AMI}", expression)


def test_refinements_see_the_expressions_own_attributes(store: Engine) -> None:
    assert member(store, f"< {DISEASE} : {SITE} = << {HEART}", f"{DISEASE} : {SITE} = {VALVE}")
    assert not member(store, f"< {DISEASE} : {SITE} = << {HEART}", f"{DISEASE} : {SITE} = {BREAST}")
    assert member(store, f"< {DISEASE} : [1..1] {SITE} = *", f"{DISEASE} : {SITE} = {BREAST}")


def test_refinements_see_attributes_inherited_from_the_focus(store: Engine) -> None:
    assert member(store, f"< {FINDING} : {MORPHOLOGY} = {INFARCT}", f"{MI} : {SITE} = {VALVE}")
    assert not member(store, f"< {FINDING} : [1..1] {SITE} = *", f"{MI} : {SITE} = {VALVE}")  # MI's own and this


def test_groups_in_expressions_are_kept_together(store: Engine) -> None:
    ecl = f"< {DISEASE} : {{ {SITE} = << {HEART}, {MORPHOLOGY} = {INFARCT} }}"
    assert member(store, ecl, f"{DISEASE} : {{ {SITE} = {VALVE}, {MORPHOLOGY} = {INFARCT} }}")
    assert not member(store, ecl, f"{DISEASE} : {SITE} = {VALVE}, {MORPHOLOGY} = {INFARCT}")


def test_compose_membership_with_filters_lists_and_excludes(store: Engine) -> None:
    expression = f"{MI} : {SITE} = {VALVE}"

    def in_compose(compose: dict[str, object]) -> bool:
        with store.connect() as conn:
            cs, version = conn.execute(text("SELECT code_system_id, version FROM code_system")).first()  # type: ignore[misc]
            return expression_in_compose(conn, {"compose": compose}, cs, version, expression)
    sct = "http://snomed.info/sct"
    assert in_compose({"include": [{"system": sct, "filter": [{"property": "concept", "op": "is-a", "value": MI}]}]})
    assert not in_compose({"include": [{"system": sct, "filter": [
        {"property": "concept", "op": "is-a", "value": MI}, {"property": "expressions", "op": "=", "value": "false"}]}]})
    assert in_compose({"include": [{"system": sct, "concept": [{"code": f"{MI}:{SITE}={VALVE}"}]}]})
    assert not in_compose({"include": [{"system": sct, "filter": [
        {"property": "constraint", "op": "=", "value": f"<< {HEART_DISEASE}"}]}], "exclude": [
        {"system": sct, "filter": [{"property": "constraint", "op": "=", "value": f"<< {MI}"}]}]})


def test_a_malformed_expression_is_refused() -> None:
    with pytest.raises(Invalid):
        parse_expression("heart attack : 1 = 2")
