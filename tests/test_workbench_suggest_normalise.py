"""The normaliser, the abbreviation expander, the units reader and the drug-string parser,
by property and by example."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from termsvc.workbench.suggest.drugs import parse
from termsvc.workbench.suggest.normalise import (
    Words,
    canonical,
    evidence_key,
    expand,
    fold,
    readings,
    stem,
    tokens,
)
from termsvc.workbench.suggest.units import unit_properties

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=60)


@given(TEXT)
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@given(TEXT)
def test_folded_text_is_lower_case_single_spaced(text: str) -> None:
    folded = fold(text)
    assert folded == folded.lower().strip()
    assert "  " not in folded


@given(TEXT)
def test_expansion_keeps_every_word_of_the_name_in_order(text: str) -> None:
    words = canonical(text).split()
    expanded = iter(expand(text).split())
    assert all(any(word == seen for seen in expanded) for word in words)


@given(TEXT)
def test_evidence_key_is_idempotent_and_single_spaced(text: str) -> None:
    key = evidence_key(text)
    assert evidence_key(key) == key
    assert "  " not in key and key == key.strip()


@given(st.sampled_from(["metoprolol", "amlodipine", "lisinopril"]), st.integers(1, 999),
       st.sampled_from(["tab", "tablet", "TAB", "Tabs"]))
def test_drug_string_strength_and_form(name: str, amount: int, form: str) -> None:
    parts = parse(f"{name} {amount}mg {form}")
    assert parts.strengths == frozenset({("mg", float(amount))})
    assert parts.form == "tablet"


@given(st.integers(1, 5000))
def test_micrograms_are_thousandths_of_milligrams(amount: int) -> None:
    assert parse(f"x {amount} mcg").strengths == parse(f"x {amount / 1000} MG").strengths


def test_abbreviation_with_dots_is_expanded() -> None:
    assert "twice daily" in expand("metoprolol 25 mg b.i.d.")


def test_unit_after_a_number_is_not_an_abbreviation() -> None:
    table = {"mg": "magnesium"}
    assert "magnesium" not in expand("metoprolol 25 mg", table)
    assert "magnesium" in expand("Mg serum", table)


def test_spellings_of_one_virus_meet() -> None:
    assert canonical("SARS coronavirus 2 RNA") == canonical("SARS-CoV-2 RNA") == canonical("COVID-19 RNA")


@pytest.mark.parametrize(("units", "prop"), [("mg/dL", "MCnc"), ("g/L", "MCnc"), ("mmol/L", "SCnc"),
                                             ("mEq/L", "SCnc"), ("U/L", "ACnc"), ("10*3/uL", "NCnc"),
                                             ("%", "NFr"), ("s", "Time"), ("sec", "Time"), ("µg/mL", "MCnc")])
def test_units_give_the_loinc_property(units: str, prop: str) -> None:
    assert prop in unit_properties(units)


def test_unknown_units_say_nothing() -> None:
    assert unit_properties("widgets") == frozenset()
    assert unit_properties(None) == frozenset()


def test_a_loinc_superscript_meets_the_inline_spelling() -> None:
    assert canonical("Fy sup(a) Ag") == canonical("Fya Ag")


@pytest.mark.parametrize(("word", "other"), [("comments", "comment"), ("swabs", "swab"), ("antigens", "antigen"),
                                             ("antibodies", "antibody"), ("anaerobic", "anaerobe"),
                                             ("aerobic", "aerobe")])
def test_forms_of_one_word_are_compared_as_one(word: str, other: str) -> None:
    assert stem(word) == stem(other)


@pytest.mark.parametrize(("word", "other"), [("virus", "viral"), ("glass", "gas"), ("serum", "sera")])
def test_words_of_different_stems_stay_apart(word: str, other: str) -> None:
    assert stem(word) != stem(other)


def test_a_name_asks_for_each_word_once_with_what_it_stands_for() -> None:
    table = Words({"hgb": "hemoglobin", "growth hormone": "somatotropin"})
    assert readings("hgb", table) == (frozenset({"hgb", "hemoglobin"}),)
    assert readings("growth hormone level", table) == (frozenset({"growth", "somatotropin"}),
                                                       frozenset({stem("hormone"), "somatotropin"}),
                                                       frozenset({"level"}))


@given(st.text(alphabet="abcdefgh -/", max_size=40))
def test_every_word_asked_is_among_its_own_reading(text: str) -> None:
    table = Words({"ab": "antibody", "hgb": "hemoglobin", "growth hormone": "somatotropin"})
    asked = readings(canonical(text), table)
    for word in canonical(text).split():
        assert any(stem(part) in said for said in asked for part in tokens(word)) or not tokens(word)
