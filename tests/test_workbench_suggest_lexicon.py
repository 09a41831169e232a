"""The engine's laboratory words come from the release's own names (lexicon.py): derived from the genuine LOINC files
in ../shared/data/loinc, they agree with LOINC's Part file, and the curated residue holds only what LOINC does not
carry, each entry with its reason."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from termsvc.workbench.suggest import Candidate, LocalTerm, TargetIndex
from termsvc.workbench.suggest.abbreviations import LAB_ATTESTED, LAB_RESIDUE
from termsvc.workbench.suggest.lexicon import derive, merged, shortens
from termsvc.workbench.suggest.normalise import Words, expand, fold

LOINC_DIR = Path(__file__).resolve().parents[2] / "shared/data/loinc/fhirsmith-subset"
if not LOINC_DIR.exists():
    LOINC_DIR = Path("/work/shared/data/loinc/fhirsmith-subset")
pytestmark = pytest.mark.skipif(not LOINC_DIR.exists(), reason="genuine LOINC files not found")

# the Loinc.csv columns the store keeps as designations and as the axis properties the engine reads
_NAMES = ("SHORTNAME", "DisplayName", "CONSUMER_NAME", "RELATEDNAMES2")
_AXES = ("COMPONENT", "PROPERTY", "SYSTEM", "SCALE_TYP", "METHOD_TYP")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def release() -> list[Candidate]:
    return [Candidate(r["LOINC_NUM"], r["LONG_COMMON_NAME"], tuple(r[k] for k in _NAMES if r[k]),
                      {k: (r[k],) for k in _AXES if r[k]}) for r in _rows(LOINC_DIR / "LoincTable/Loinc.csv")]


@pytest.fixture(scope="module")
def words(release: list[Candidate]) -> dict[str, str]:
    return derive(release)


@pytest.mark.parametrize(("short", "long"), [("bld", "blood"), ("ser", "serum"), ("plr", "pleural"),
                                             ("stl", "stool"), ("cult", "culture"), ("potass", "potassium"),
                                             ("ur", "urine"), ("urth", "urethra")])
def test_shortened_names_are_read_from_the_release(words: dict[str, str], short: str, long: str) -> None:
    assert words[short] == long


def test_a_synonym_the_release_lists_for_one_component_in_every_specimen_names_it(words: dict[str, str]) -> None:
    assert words["k"] == "potassium"  # RELATEDNAMES2 "k; K+" on every potassium term, whatever its system


def test_initialisms_are_read_from_the_names_they_stand_for(words: dict[str, str]) -> None:
    assert words["hpf"] == "high power field"
    assert words["tpn"] == "total parental nutrition"  # sic: LOINC's own spelling


def test_derived_words_agree_with_the_part_file(words: dict[str, str]) -> None:
    """Part.csv pairs each part's name with its display name ("Plr fld" / "Pleural fluid"): where the release's
    other names taught a word of a part name, its reading is that part's display name (by the words' stems: the
    synonyms spell "Bronchoalveolar" as "Bronchial alveolar")."""
    checked = 0
    for part in _rows(LOINC_DIR / "AccessoryFiles/PartFile/Part.csv"):
        if part["PartTypeName"] not in {"SYSTEM", "METHOD"}:
            continue
        shown = set(fold(part["PartDisplayName"]).split())
        stems = {w[:4] for w in shown}
        for word in fold(part["PartName"]).split():
            if word in words and word not in shown:
                assert {w[:4] for w in words[word].split()} & stems, (part["PartName"], word, words[word])
                checked += 1
    assert checked >= 5


def test_no_curated_word_repeats_what_the_release_teaches(words: dict[str, str]) -> None:
    for word, (long, _) in LAB_RESIDUE.items():
        assert word not in words or not set(long.split()) <= set(words[word].split()), word


def test_a_curated_reading_adds_to_the_release_reading_of_the_same_word() -> None:
    assert merged({"pcr": "polymerase chain reaction"}, {"pcr": "nucleic acid amplification"}) == {
        "pcr": "polymerase chain reaction nucleic acid amplification"}


def test_written_out_readings_and_the_residue_never_name_the_same_word() -> None:
    assert not set(LAB_ATTESTED) & set(LAB_RESIDUE)


def test_a_written_out_reading_is_kept_beside_what_the_release_teaches(words: dict[str, str]) -> None:
    both = merged(words, LAB_ATTESTED)
    for word, long in LAB_ATTESTED.items():
        assert long in both[word]
        if word in words:
            assert words[word] in both[word]


def test_every_curated_word_gives_its_reason() -> None:
    assert all(long.strip() and reason.strip() for long, reason in LAB_RESIDUE.values())


def test_an_entry_several_components_share_is_no_synonym() -> None:
    def term(code: str, component: str, system: str) -> Candidate:
        return Candidate(code, f"{component} [Moles/volume] in {system}", ("Chemistry; Level; Na; Sod",),
                         {"SYSTEM": (system,)})
    found = derive([term("1-1", "Sodium", "Serum"), term("2-2", "Sodium", "Urine"), term("3-3", "Sodium", "Blood"),
                    term("4-4", "Chloride", "Serum")])
    assert "level" not in found and "chemistry" not in found
    assert "na" not in found  # listed for chloride too here: not sodium's alone


def test_local_abbreviation_finds_the_term_through_the_release_words(release: list[Candidate]) -> None:
    index = TargetIndex.from_candidates(release)
    best = index.suggest(LocalTerm("K1", "K", units="mmol/L", specimen="Urine"))[0]
    assert best.target_display.startswith("Potassium")


def test_a_phrase_key_expands_where_its_words_stand_together() -> None:
    table = Words({"growth hormone": "somatotropin", "gh": "growth hormone"})
    assert "somatotropin" in expand("Growth Hormone, Serum", table).split()
    assert "somatotropin" not in expand("growth of hormone", table).split()


@given(st.text(alphabet="abcdefghij", min_size=1, max_size=6), st.text(alphabet="abcdefghij", min_size=1, max_size=12))
def test_a_shortening_keeps_the_first_letter_and_the_order_of_letters(short: str, long: str) -> None:
    if shortens(short, long):
        assert short[0] == long[0] and len(short) <= len(long) - 2
        rest = iter(long)
        assert all(ch in rest for ch in short)


@given(st.lists(st.tuples(st.text(max_size=30), st.text(max_size=60)), max_size=8))
def test_any_names_derive_without_error(names: list[tuple[str, str]]) -> None:
    table = derive(Candidate(str(n), display, (other,) if other else ()) for n, (display, other) in enumerate(names))
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in table.items())


# Red-cell antigens and the antibodies against them, as LOINC names them (E Ag / E Ab, Fy sup(a) Ag / Ab), with other
# analytes the release also names as an antigen and an antibody: the kinds of analyte the index learns; the genuine
# release's synonyms teach that "Ag" is an antigen and "Ab" an antibody
RED_CELL = [
    Candidate("1159-3", "Fy sup(a) Ag [Presence] on Red Blood Cells"),
    Candidate("1155-1", "Fy sup(a) Ab [Presence] in Serum or Plasma"),
    Candidate("1168-4", "Jk sup(a) Ag [Presence] on Red Blood Cells"),
    Candidate("1164-3", "Jk sup(a) Ab [Presence] in Serum or Plasma"),
    Candidate("1137-9", "E Ag [Presence] on Red Blood Cells"),
    Candidate("1134-6", "E Ab [Presence] in Serum or Plasma"),
    Candidate("5196-1", "Hepatitis B virus surface Ag [Presence] in Serum or Plasma by Immunoassay"),
    Candidate("10900-9", "Hepatitis B virus surface Ab [Presence] in Serum by Immunoassay"),
]


@pytest.fixture(scope="module")
def red_cell(release: list[Candidate]) -> TargetIndex:
    return TargetIndex.from_candidates([*release, *RED_CELL])


def test_an_antigen_typing_order_steers_an_inline_superscript_to_the_antigen(red_cell: TargetIndex) -> None:
    best = red_cell.suggest(LocalTerm("FYA", "Fya", category="Fya/Fyb RBC Antigen Typing"))[0]
    assert best.target_code == "1159-3"
    assert "analyte ag" in best.explanation


def test_an_antibody_stated_by_the_name_conflicts_with_the_antigen(red_cell: TargetIndex) -> None:
    codes = [s.target_code for s in red_cell.suggest(LocalTerm("JKA", "Jka antibody", specimen="serum"), top=150)]
    assert codes.index("1164-3") < codes.index("1168-4")
    antigen = red_cell.suggest(LocalTerm("JKA", "Jka antibody", specimen="serum"), top=150)[codes.index("1168-4")]
    assert "analyte conflict ag" in antigen.explanation


def test_kinds_of_analyte_are_the_heads_the_release_puts_after_several_analytes(red_cell: TargetIndex) -> None:
    assert {"ag", "ab"} <= set(red_cell._kinds)
    assert "antig" in red_cell._kinds["ag"]  # a local "Antigen" states it


def test_a_synonym_listed_on_one_property_of_a_component_names_the_property_not_the_component(
        words: dict[str, str]) -> None:
    # the genuine subset lists "Substance concentration" on its 32 SCnc potassium terms only; "K" on all of them
    assert "substance concentration" not in words
    assert words["k"] == "potassium"
