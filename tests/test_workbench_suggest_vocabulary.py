"""The engine's words for LOINC's axes come from the release: every curated value is checked against the genuine
LOINC files in ../shared/data/loinc, and the vocabulary learned from those files reads local specimens."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from termsvc.workbench.suggest import Candidate
from termsvc.workbench.suggest.units import NAMED_PROPERTIES, unit_properties
from termsvc.workbench.suggest.vocabulary import (
    CURATED_PROPERTY_WORDS,
    CURATED_SYSTEM_WORDS,
    TargetVocabulary,
    duration_minutes,
    local_timing,
    relation,
    split_long_name,
)

LOINC_DIR = Path(__file__).resolve().parents[2] / "shared/data/loinc/fhirsmith-subset"
if not LOINC_DIR.exists():
    LOINC_DIR = Path("/work/shared/data/loinc/fhirsmith-subset")
pytestmark = pytest.mark.skipif(not LOINC_DIR.exists(), reason="genuine LOINC files not found")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def loinc() -> list[dict[str, str]]:
    return _rows(LOINC_DIR / "LoincTable/Loinc.csv")


@pytest.fixture(scope="module")
def parts() -> list[dict[str, str]]:
    return _rows(LOINC_DIR / "AccessoryFiles/PartFile/Part.csv")


@pytest.fixture(scope="module")
def vocabulary(loinc: list[dict[str, str]]) -> TargetVocabulary:
    return TargetVocabulary.of(
        Candidate(r["LOINC_NUM"], r["LONG_COMMON_NAME"], (), {"SYSTEM": (r["SYSTEM"],), "PROPERTY": (r["PROPERTY"],)})
        for r in loinc)


def test_every_property_value_a_rule_names_is_a_property_of_the_release(
        loinc: list[dict[str, str]], parts: list[dict[str, str]]) -> None:
    genuine = {r["PROPERTY"] for r in loinc} | {p["PartName"] for p in parts if p["PartTypeName"] == "PROPERTY"}
    named = set(NAMED_PROPERTIES) | set(CURATED_PROPERTY_WORDS.values())
    assert named - genuine == set()


def test_every_curated_property_word_is_a_bracket_word_of_a_genuine_long_name(loinc: list[dict[str, str]]) -> None:
    words = {m.group(1).lower() for r in loinc for m in re.finditer(r"\[([^\]]+)\]", r["LONG_COMMON_NAME"])}
    assert set(CURATED_PROPERTY_WORDS) - words == set()


def test_every_curated_system_phrase_is_a_system_of_the_release(
        loinc: list[dict[str, str]], parts: list[dict[str, str]]) -> None:
    phrases = {split_long_name(r["LONG_COMMON_NAME"])[2] for r in loinc}
    phrases |= {p["PartDisplayName"].lower() for p in parts if p["PartTypeName"] == "SYSTEM"}
    assert {phrase for phrase, _ in CURATED_SYSTEM_WORDS.values()} - phrases == set()


def test_every_curated_entry_gives_its_reason() -> None:
    assert all(reason.strip() for _, reason in CURATED_SYSTEM_WORDS.values())


def test_urine_is_read_as_the_release_spells_its_system(vocabulary: TargetVocabulary) -> None:
    assert vocabulary.system_names["urine"] == "urine"
    assert vocabulary.systems_in("Protein, Urine") == {"urine"}
    assert vocabulary.systems_in("Tricyclic Antidepressant, Ur") == {"urine"}


@pytest.mark.parametrize(("specimen", "phrase"), [
    ("Ascites", "peritoneal fluid"), ("Pleural", "pleural fluid"), ("Bone Marrow", "bone marrow"),
    ("Joint Fluid", "synovial fluid"), ("Other Body Fluid", "body fluid"), ("CSF", "cerebral spinal fluid"),
    ("Serum", "serum"), ("nasopharyngeal swab", "nasopharynx"), ("Feces", "stool"),
])
def test_local_specimen_words_meet_the_release_systems(vocabulary: TargetVocabulary, specimen: str,
                                                       phrase: str) -> None:
    assert phrase in vocabulary.systems_in(specimen)


def test_the_most_specific_system_is_kept(vocabulary: TargetVocabulary) -> None:
    assert vocabulary.systems_in("Venous blood") == {"venous blood"}


def test_blood_stated_by_a_chemistry_name_overlaps_serum_or_plasma(vocabulary: TargetVocabulary) -> None:
    match = vocabulary.compare(frozenset({"blood"}), "serum or plasma")
    assert match.overlap and not match.conflict and not match.exact
    assert vocabulary.compare(frozenset({"urine"}), "serum or plasma").conflict


def test_a_kit_taking_several_respiratory_sites_fits_the_respiratory_grouping_system(
        vocabulary: TargetVocabulary) -> None:
    stated = vocabulary.systems_in("anterior nasal swab; nasopharyngeal swab")
    assert stated == {"nose", "nasopharynx"}
    assert vocabulary.compare(stated, "respiratory system specimen").overlap
    assert vocabulary.compare(stated, "serum or plasma").conflict


def test_the_grouping_system_takes_every_listed_site_and_one_site_only_its_own(vocabulary: TargetVocabulary) -> None:
    stated = vocabulary.systems_in("anterior nasal swab\nnasopharyngeal swab\noropharyngeal swab")
    assert len(stated) == 3
    assert vocabulary.compare(stated, "respiratory system specimen").covers == 1.0
    assert vocabulary.compare(stated, "nasopharynx").covers == pytest.approx(1 / 3)
    assert not vocabulary.compare(stated, "nasopharynx").exact  # one of the sites listed, not the system stated
    assert vocabulary.compare(vocabulary.systems_in("nasopharyngeal swab"), "nasopharynx").exact
    assert vocabulary.compare(stated, "serum or plasma").covers == 0.0


def test_long_common_name_splits_by_its_documented_pattern() -> None:
    assert split_long_name("Potassium [Moles/time] in 24 hour Urine") == (
        "Potassium", "moles/time", "urine", "24 hour", "")
    assert split_long_name("Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation") == (
        "Cholesterol in LDL", "mass/volume", "serum or plasma", None, "calculation")
    assert split_long_name("Blasts/100 leukocytes in Blood by Manual count")[:3] == (
        "Blasts/100 leukocytes", None, "blood")


def test_per_hundred_leukocytes_is_a_number_fraction(vocabulary: TargetVocabulary) -> None:
    blasts = Candidate("708-0", "Blasts/100 leukocytes in Blood by Manual count")
    assert vocabulary.property_of(blasts, None, "Blasts/100 leukocytes") == "NFr"


@pytest.mark.parametrize(("units", "prop"), [("%", "NFr"), ("mg/dL", "MCnc"), ("mmol/L", "SCnc"), ("U/L", "ACnc"),
                                             ("10*3/uL", "NCnc"), ("mmol/24 hr", "SRat"), ("kU/L", "ACnc")])
def test_units_give_the_property_by_ucum_dimension(units: str, prop: str) -> None:
    assert unit_properties(units) == {prop}


def test_percent_is_not_a_count_or_arbitrary_concentration_per_volume() -> None:
    assert unit_properties("%") & {"NCnc", "ACnc"} == set()
    assert relation("VFr") == relation("NFr") == "Fr"


@given(st.text(max_size=80))
def test_any_name_splits_without_error(name: str) -> None:
    component, prop, system, timing, method = split_long_name(name)
    assert isinstance(component, str) and isinstance(method, str)
    assert all(part is None or part == part.strip().lower() for part in (prop, system, timing))


def test_a_specimen_the_release_only_names_within_an_or_system_finds_that_system() -> None:
    vocabulary = TargetVocabulary.of([Candidate("2823-3", "Potassium [Moles/volume] in Serum or Plasma"),
                                      Candidate("2828-2", "Potassium [Moles/volume] in Urine")])
    assert vocabulary.systems_in("serum") == {"serum or plasma"}
    assert vocabulary.systems_in("potassium") == set()


def test_a_system_listed_with_commas_is_one_system() -> None:
    assert split_long_name("SARS-CoV-2 (COVID-19) IgG Ab [Presence] in Serum, Plasma or Blood by Rapid immunoassay")[
        2] == "serum, plasma or blood"
    assert split_long_name("Hemoglobin [Mass/volume] in Blood, venous")[2] == "blood"


@pytest.mark.parametrize(("text", "units", "minutes"), [
    ("Potassium, 24 hr Urine", None, 1440), ("Protein, 24-Hour Urine", None, 1440),
    ("Potassium, Urine", "mmol/24 hr", 1440),
    ("Protein", "mg/(24.h)", 1440), ("Protein", "mg/d", 1440), ("Creatinine, 12h urine", None, 720),
    ("Potassium", "mmol/L", None), ("Creatinine clearance", "mL/min", None)])
def test_a_local_item_states_its_collection_period_in_words_or_by_its_units(text: str, units: str | None,
                                                                           minutes: int | None) -> None:
    assert local_timing(text, units) == minutes


@pytest.mark.parametrize("text", ["Glucose 2 hr post 75 g", "Glucose, post 1 h", "Glucose 2h pp", "17-OH Progesterone",
                                  "5-HIAA", "C3d Immune Complexes"])
def test_a_time_after_a_challenge_or_a_number_in_a_name_is_no_collection_period(text: str) -> None:
    assert local_timing(text) is None


def test_every_timed_term_of_the_release_has_its_period_read_from_name_and_time_aspect_alike(
        loinc: list[dict[str, str]]) -> None:
    timed = [row for row in loinc if row["TIME_ASPCT"] not in {"Pt", "-", ""}]
    assert timed  # the genuine subset has 24H, 12H, 1H, ... terms
    for row in timed:
        assert duration_minutes(row["TIME_ASPCT"]) == duration_minutes(split_long_name(row["LONG_COMMON_NAME"])[3]), \
            row["LOINC_NUM"]


def test_the_upper_and_lower_respiratory_systems_take_only_their_own_part_of_the_tract(
        vocabulary: TargetVocabulary) -> None:
    upper = vocabulary.systems_in("nasopharyngeal swab\nanterior nasal swab")
    with_sputum = vocabulary.systems_in("nasopharyngeal swab\nsputum")
    assert vocabulary.compare(upper, "upper respiratory specimen").covers == 1.0
    assert vocabulary.compare(with_sputum, "upper respiratory specimen").covers == pytest.approx(1 / 2)
    assert vocabulary.compare(with_sputum, "lower respiratory specimen").covers == pytest.approx(1 / 2)
    assert vocabulary.compare(with_sputum, "respiratory system specimen").covers == 1.0
