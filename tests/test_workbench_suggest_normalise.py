"""The normaliser, the abbreviation expander, the units and specimen readers and the drug-string parser,
by property and by example."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from termsvc.workbench.suggest.drugs import parse
from termsvc.workbench.suggest.normalise import canonical, evidence_key, expand, fold
from termsvc.workbench.suggest.specimen import specimen_systems, system_from_name
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
    assert "magnesium" not in expand("metoprolol 25 mg")
    assert "magnesium" in expand("Mg serum")


def test_spellings_of_one_virus_meet() -> None:
    assert canonical("SARS coronavirus 2 RNA") == canonical("SARS-CoV-2 RNA") == canonical("COVID-19 RNA")


@pytest.mark.parametrize(("units", "prop"), [("mg/dL", "MCnc"), ("g/L", "MCnc"), ("mmol/L", "SCnc"),
                                             ("mEq/L", "SCnc"), ("U/L", "CCnc"), ("10*3/uL", "NCnc"),
                                             ("%", "VFr"), ("s", "Time"), ("sec", "Time"), ("fL", "EntVol"),
                                             ("mm[Hg]", "PPres"), ("µg/mL", "MCnc"), ("mL/min/{1.73_m2}", "ArVRat")])
def test_units_give_the_loinc_property(units: str, prop: str) -> None:
    assert prop in unit_properties(units)


def test_unknown_units_say_nothing() -> None:
    assert unit_properties("widgets") == frozenset()
    assert unit_properties(None) == frozenset()


@pytest.mark.parametrize(("specimen", "system"), [("Serum", "Ser/Plas"), ("plasma", "Ser/Plas"), ("Urine", "Ur"),
                                                  ("whole blood", "Bld"), ("CSF", "CSF"), ("arterial blood", "BldA"),
                                                  ("nasopharyngeal swab", "Nph")])
def test_specimen_gives_the_loinc_system(specimen: str, system: str) -> None:
    assert system in specimen_systems(specimen)[0]


def test_several_respiratory_sites_point_at_respiratory_specimen() -> None:
    strong, loose = specimen_systems("anterior nasal swab, nasopharyngeal swab")
    assert "Respiratory" in strong and "Nph" in loose


@pytest.mark.parametrize(("name", "system"), [("Potassium [Moles/volume] in Serum or Plasma", "Ser/Plas"),
                                              ("Glucose [Mass/volume] in Urine", "Ur"),
                                              ("Influenza virus A RNA [Presence] in Nasopharynx by NAA", "Nph")])
def test_system_read_from_the_long_common_name(name: str, system: str) -> None:
    assert system_from_name(name) == system
