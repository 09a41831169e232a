"""The suggestion engine over an in-memory pool of real LOINC, RxNorm and ICD-10-CM names: context steers the
ranking, abbreviations are understood, inactive targets never come back, earlier approvals win, filters hold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from termsvc.errors import Invalid
from termsvc.workbench.suggest import Candidate, LocalTerm, TargetIndex, evidence_key
from termsvc.workbench.suggest.features import FEATURES
from termsvc.workbench.suggest.learned import (
    MONOTONE,
    SYNTHETIC,
    RankModel,
    TrainingRows,
    averaged,
    fit_model,
    training_rows,
)
from termsvc.workbench.suggest.neighbours import MappingCorpus


def _loinc(code: str, name: str, prop: str, system: str, *, short: str = "", related: str = "", cls: str = "CHEM",
           active: bool = True, replaced_by: tuple[str, ...] = ()) -> Candidate:
    return Candidate(code, name, tuple(n for n in (short, related) if n), {"PROPERTY": (prop,), "SYSTEM": (system,),
                     "CLASS": (cls,), "SCALE_TYP": ("Qn",)}, active, replaced_by)


# RELATEDNAMES2 of the potassium terms as the genuine Loinc.csv gives them (../shared/data/loinc): "k" and "K+" are
# listed for potassium in every specimen, so the index learns that "K" is potassium
_POTASSIUM = "Chemistry; k; K+; Level; Point in time; Potass; QNT; Quan; Quant; Quantitative; Random"


LAB = [
    _loinc("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "SCnc", "Ser/Plas", short="Potassium SerPl-sCnc",
           related=_POTASSIUM + "; SerPl; Serum; Serum or plasma; Substance concentration"),
    _loinc("22760-3", "Potassium [Mass/volume] in Serum or Plasma", "MCnc", "Ser/Plas", short="Potassium SerPl-mCnc",
           related=_POTASSIUM + "; Mass concentration; SerPl; Serum; Serum or plasma"),
    _loinc("2828-2", "Potassium [Moles/volume] in Urine", "SCnc", "Urine", short="Potassium Ur-sCnc",
           related=_POTASSIUM + "; Substance concentration; UR; Urn"),
    _loinc("6298-4", "Potassium [Moles/volume] in Blood", "SCnc", "Bld", short="Potassium Bld-sCnc",
           related=_POTASSIUM + "; Blood; Substance concentration; WB; Whole blood"),
    _loinc("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "SCnc", "Ser/Plas", short="Sodium SerPl-sCnc"),
    _loinc("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "MCnc", "Ser/Plas", short="Glucose SerPl-mCnc"),
    _loinc("2350-7", "Glucose [Mass/volume] in Urine", "MCnc", "Urine", short="Glucose Ur-mCnc"),
    _loinc("718-7", "Hemoglobin [Mass/volume] in Blood", "MCnc", "Bld", short="Hgb Bld-mCnc", cls="HEM/BC"),
    _loinc("4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count", "VFr", "Bld", short="Hct VFr Bld Auto",
           cls="HEM/BC"),
    _loinc("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "NCnc", "Bld", short="WBC # Bld Auto",
           cls="HEM/BC"),
    _loinc("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "MCnc", "Ser/Plas", short="BUN SerPl-mCnc"),
    _loinc("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "ACnc", "Ser/Plas", short="TSH SerPl-aCnc"),
    _loinc("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "CCnc", "Ser/Plas",
           short="ALT SerPl-cCnc"),
]


@pytest.fixture(scope="module")
def lab() -> TargetIndex:
    return TargetIndex.from_candidates(LAB, local_names=["K", "NA", "GLU URINE", "HGB", "WBC", "BUN", "TSH"])


def _codes(index: TargetIndex, term: LocalTerm, **kwargs: object) -> list[str]:
    return [s.target_code for s in index.suggest(term, **kwargs)]  # type: ignore[arg-type]


def test_units_mmol_per_litre_steer_potassium_to_substance_concentration(lab: TargetIndex) -> None:
    codes = _codes(lab, LocalTerm("K1", "K", units="mmol/L", specimen="serum"))
    assert codes[0] == "2823-3"
    assert codes.index("2823-3") < codes.index("22760-3")


def test_units_mg_per_decilitre_steer_potassium_to_mass_concentration(lab: TargetIndex) -> None:
    assert _codes(lab, LocalTerm("K2", "K", units="mg/dL", specimen="serum"))[0] == "22760-3"


def test_specimen_urine_steers_to_the_urine_term(lab: TargetIndex) -> None:
    assert _codes(lab, LocalTerm("G1", "Glucose", units="mg/dL", specimen="Urine, random"))[0] == "2350-7"
    assert _codes(lab, LocalTerm("G2", "Glucose", units="mg/dL", specimen="Serum"))[0] == "2345-7"


@pytest.mark.parametrize(("local", "code"), [("HGB", "718-7"), ("WBC", "6690-2"), ("BUN", "3094-0"),
                                             ("TSH", "3016-3"), ("ALT", "1742-6")])
def test_lab_abbreviations_find_the_long_name(lab: TargetIndex, local: str, code: str) -> None:
    assert _codes(lab, LocalTerm(local, local))[0] == code


def test_explanation_names_the_axes_that_matched(lab: TargetIndex) -> None:
    best = lab.suggest(LocalTerm("K1", "K", units="mmol/L", specimen="serum"))[0]
    assert "units->SCnc" in best.explanation and "system serum or plasma" in best.explanation
    assert 0.0 <= best.score <= 1.0


def test_explanation_names_the_axes_that_conflicted(lab: TargetIndex) -> None:
    urine = next(s for s in lab.suggest(LocalTerm("K1", "K", units="mg/dL", specimen="serum"), top=20)
                 if s.target_code == "2828-2")
    assert "units conflict SCnc" not in urine.explanation  # same relation (Cnc): a partial agreement
    assert "system conflict urine" in urine.explanation


def test_scores_are_not_clamped(lab: TargetIndex) -> None:
    scores = [s.score for s in lab.suggest(LocalTerm("K1", "K", units="mmol/L", specimen="serum"), top=9)]
    assert len(set(scores[:3])) == 3
    assert scores.count(1.0) == 0


def test_scores_are_in_order_and_within_zero_and_one(lab: TargetIndex) -> None:
    scores = [s.score for s in lab.suggest(LocalTerm("X", "potassium serum"), top=10)]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_top_limits_the_number_of_suggestions(lab: TargetIndex) -> None:
    assert len(lab.suggest(LocalTerm("X", "potassium"), top=3)) == 3


def test_earlier_approval_wins_over_name_and_units(lab: TargetIndex) -> None:
    evidence = {evidence_key("  K  "): [("22760-3", 2)]}
    suggestions = lab.suggest(LocalTerm("K1", "K", units="mmol/L", specimen="serum"), evidence=evidence)
    assert suggestions[0].target_code == "22760-3"
    assert "approved 2x" in suggestions[0].explanation


def test_filter_by_system_keeps_only_that_system(lab: TargetIndex) -> None:
    codes = _codes(lab, LocalTerm("K", "potassium"), filters={"system": "Urine"})
    assert codes[0] == "2828-2"
    assert set(codes) <= {"2828-2", "2350-7"}


def test_filter_by_class(lab: TargetIndex) -> None:
    codes = _codes(lab, LocalTerm("H", "hemoglobin"), filters={"class": "HEM/BC"})
    assert codes and all(code in {"718-7", "4544-3", "6690-2"} for code in codes)


def test_unknown_filter_is_rejected(lab: TargetIndex) -> None:
    with pytest.raises(Invalid, match="colour"):
        lab.suggest(LocalTerm("K", "potassium"), filters={"colour": "red"})


def test_search_ranks_names_without_context(lab: TargetIndex) -> None:
    assert lab.search("sodium")[0].target_code == "2951-2"


def test_inactive_target_is_never_suggested() -> None:
    index = TargetIndex.from_candidates([
        _loinc("10550-2", "Temazepam [Mass/volume] in Serum or Plasma", "MCnc", "Ser/Plas", active=False),
        *LAB])
    assert "10550-2" not in _codes(index, LocalTerm("T", "Temazepam"))


def test_match_on_inactive_target_suggests_its_replacement() -> None:
    index = TargetIndex.from_candidates([
        _loinc("5927-9", "Potassium [Molecules/volume] in Dialysis fluid", "SCnc", "Dial fld", active=False,
               replaced_by=("2823-3",)),
        *LAB])
    suggestions = index.suggest(LocalTerm("D", "Potassium molecules dialysis fluid"))
    assert "5927-9" not in [s.target_code for s in suggestions]
    replacement = next(s for s in suggestions if s.target_code == "2823-3")
    assert "replaces inactive 5927-9" in replacement.explanation


ICD = [Candidate("E11.9", "Type 2 diabetes mellitus without complications"),
       Candidate("E10.9", "Type 1 diabetes mellitus without complications"),
       Candidate("I10", "Essential (primary) hypertension"),
       Candidate("J45.909", "Unspecified asthma, uncomplicated")]


def test_code_system_with_display_only_works() -> None:
    index = TargetIndex.from_candidates(ICD)
    assert index.suggest(LocalTerm("DM2", "diabetes type 2, uncomplicated"))[0].target_code == "E11.9"
    assert index.suggest(LocalTerm("HTN", "hypertension", units="mmHg", specimen="blood"))[0].target_code == "I10"


RX = [
    Candidate("866924", "Metoprolol Tartrate 25 MG Oral Tablet", (), {"TTY": ("SCD",)}),
    Candidate("866514", "Metoprolol Tartrate 50 MG Oral Tablet", (), {"TTY": ("SCD",)}),
    Candidate("866427", "24 HR Metoprolol Succinate 25 MG Extended Release Oral Tablet", (), {"TTY": ("SCD",)}),
    Candidate("6918", "metoprolol", (), {"TTY": ("IN",)}),
    Candidate("866923", "Metoprolol Tartrate 25 MG", (), {"TTY": ("SCDC",)}),
    Candidate("197361", "Amlodipine 5 MG Oral Tablet", (), {"TTY": ("SCD",)}),
    Candidate("308136", "Amlodipine 10 MG Oral Tablet", (), {"TTY": ("SCD",)}),
    Candidate("2395", "Vitamin B 12 0.5 MG/ACTUAT Nasal Spray", (), {"TTY": ("SCD",)}),
]


@pytest.fixture(scope="module")
def rx() -> TargetIndex:
    return TargetIndex.from_candidates(RX)


def test_drug_strength_and_dose_form_pick_the_clinical_drug(rx: TargetIndex) -> None:
    codes = _codes(rx, LocalTerm("M25", "metoprolol tartrate 25 mg tab"))
    assert codes[0] == "866924"
    assert codes.index("866924") < codes.index("866514")
    assert codes.index("866924") < codes.index("6918")


def test_drug_strength_in_micrograms_meets_milligrams(rx: TargetIndex) -> None:
    assert _codes(rx, LocalTerm("B12", "vitamin b12 500mcg nasal spray"))[0] == "2395"


def test_amlodipine_ten_milligrams_over_five(rx: TargetIndex) -> None:
    codes = _codes(rx, LocalTerm("A10", "amlodipine 10mg tab"))
    assert codes[0] == "308136"


def test_filter_by_tty(rx: TargetIndex) -> None:
    assert _codes(rx, LocalTerm("M", "metoprolol"), filters={"tty": "IN"}) == ["6918"]


SEROLOGY = [
    Candidate("94563-4", "SARS-CoV-2 (COVID-19) IgG Ab [Presence] in Serum or Plasma by Immunoassay"),
    Candidate("94505-5", "SARS-CoV-2 (COVID-19) IgG Ab [Units/volume] in Serum or Plasma by Immunoassay"),
]


def test_findings_as_answers_steer_to_the_ordinal_term() -> None:
    index = TargetIndex.from_candidates(SEROLOGY)
    term = LocalTerm("G", "COVID IgG", specimen="serum", extra={"result": "Positive; Negative"})
    assert index.suggest(term)[0].target_code == "94563-4"


def test_numeric_answers_steer_to_the_quantitative_term() -> None:
    index = TargetIndex.from_candidates(SEROLOGY)
    term = LocalTerm("G", "COVID IgG", units="U/mL", specimen="serum", extra={"result": "numeric index value"})
    assert index.suggest(term)[0].target_code == "94505-5"



RESPIRATORY = [
    Candidate("94500-6", "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory system specimen by NAA with probe detection"),
    Candidate("94759-8", "SARS-CoV-2 (COVID-19) RNA [Presence] in Nasopharynx by NAA with probe detection"),
    Candidate("80382-5", "Influenza virus A Ag [Presence] in Upper respiratory specimen by Rapid immunoassay"),
    Candidate("80383-3", "Influenza virus B Ag [Presence] in Upper respiratory specimen by Rapid immunoassay"),
]


def test_a_kit_listing_several_respiratory_sites_maps_to_the_grouping_system() -> None:
    index = TargetIndex.from_candidates(RESPIRATORY)
    term = LocalTerm("C", "SARS-CoV-2 RNA", specimen="nasopharyngeal swab\noropharyngeal swab\nanterior nasal swab")
    assert index.suggest(term)[0].target_code == "94500-6"


def test_a_kit_taking_one_site_maps_to_that_site() -> None:
    index = TargetIndex.from_candidates(RESPIRATORY)
    term = LocalTerm("C", "SARS-CoV-2 RNA", specimen="nasopharyngeal swab")
    assert index.suggest(term)[0].target_code == "94759-8"


def test_a_spelled_out_kind_of_analyte_asks_for_the_abbreviated_one() -> None:
    index = TargetIndex.from_candidates(RESPIRATORY)
    term = LocalTerm("B", "influenza B nucleoprotein antigen", specimen="anterior nasal swab")
    codes, rows = index.features(term)
    unasked = rows[:, FEATURES.index("unasked_words")]
    assert unasked[codes.index("80383-3")] == 1  # "virus" only: "antigen" asks for "Ag"
    assert index.suggest(term)[0].target_code == "80383-3"


def test_neighbours_share_says_how_far_other_sites_agree() -> None:
    corpus = MappingCorpus([("Comment", "77202-0"), ("COMMENTS", "77202-0"), ("SARS-CoV-2 Result", "94500-6"),
                            ("SARS-CoV-2 Result", "94759-8")])
    assert corpus.evidence("Comment:")["77202-0"].share == 1.0
    split = corpus.evidence("SARS-CoV-2 Result")
    assert split["94500-6"].share == pytest.approx(0.5) and split["94759-8"].share == pytest.approx(0.5)


def test_training_meets_an_identical_name_under_another_order_as_a_neighbour() -> None:
    pool = [Candidate("77202-0", "Laboratory comment [Text] in Report Narrative"),
            Candidate("48767-8", "Annotation comment [Interpretation] Narrative")]
    # the orders' names hash to different halves, so each "Comment" has the other as its neighbour
    orders = ["Thyroid Panel", "Lipid Panel", "Hepatic Function Panel", "Basic Metabolic Panel"]
    items = [(LocalTerm(str(n), "Comment", category=order), "77202-0", "site") for n, order in enumerate(orders)]
    rows = training_rows(pool, items)
    best = rows.x[:, FEATURES.index("neighbour_best")]
    assert best[rows.y == 1].max() == pytest.approx(1.0)


def test_a_name_that_says_nothing_of_the_analyte_is_read_with_its_orders_name() -> None:
    index = TargetIndex.from_candidates([
        Candidate("3255-7", "Fibrinogen [Mass/volume] in Platelet poor plasma by Coagulation assay"),
        Candidate("11526-1", "Pathology study"),
        Candidate("94500-6", "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory system specimen by NAA with probe "
                             "detection")])
    term = LocalTerm("R", "Result", category="Fibrinogen Activity")
    codes, rows = index.features(term)
    assert rows[codes.index("3255-7"), FEATURES.index("component_token_set")] == 1.0
    assert index.suggest(term)[0].target_code == "3255-7"


def test_an_averaged_model_scores_the_mean_of_its_members_raw_scores() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((400, len(FEATURES)), dtype=np.float32)
    y = (x[:, 0] + 0.3 * rng.random(400) > 0.7).astype(np.int8)
    members = [fit_model(TrainingRows(x[part], y[part], np.arange(200))) for part in (slice(0, 200), slice(200, 400))]
    assert not np.allclose(members[0].score(x), members[1].score(x))
    logit = [np.log(m.score(x) / (1 - m.score(x))) for m in members]
    assert np.allclose(averaged(members).score(x), 1 / (1 + np.exp(-(logit[0] + logit[1]) / 2)))


def test_an_abbreviation_and_its_reading_are_one_word_asked() -> None:
    index = TargetIndex.from_candidates([
        Candidate("718-7", "Hemoglobin [Mass/volume] in Blood"),
        Candidate("31157-1", "Carboxyhemoglobin [Mass/volume] in Blood", ("COHgb Bld-mCnc", "Carboxy HGB; HGB; Blood"))])
    term = LocalTerm("HGB", "HGB", units="g/dL", specimen="whole blood")
    codes, rows = index.features(term)
    assert rows[codes.index("718-7"), FEATURES.index("query_coverage")] == 1.0  # "hgb" asked once, said as hemoglobin
    assert index.suggest(term)[0].target_code == "718-7"


ANTIBODIES = [Candidate("94762-2", "SARS-CoV-2 (COVID-19) Ab [Presence] in Serum or Plasma by Immunoassay"),
            Candidate("94563-4", "SARS-CoV-2 (COVID-19) IgG Ab [Presence] in Serum or Plasma by Immunoassay")]


def test_words_that_join_others_are_not_asked_for() -> None:
    index = TargetIndex.from_candidates(ANTIBODIES)
    codes, rows = index.features(LocalTerm("A", "Antibodies to SARS-CoV-2", specimen="serum"))
    assert rows[codes.index("94762-2"), FEATURES.index("query_coverage")] == 1.0  # "to" is not a word to find


def test_antibodies_do_not_ask_for_one_class_of_antibody() -> None:
    index = TargetIndex.from_candidates(ANTIBODIES)
    codes, rows = index.features(LocalTerm("A", "SARS-CoV-2 antibodies", specimen="serum"))
    unasked = rows[:, FEATURES.index("unasked_words")]
    assert unasked[codes.index("94563-4")] == unasked[codes.index("94762-2")] + 1  # "IgG" is not said


@given(st.lists(st.floats(0.0, 1.0, width=32), min_size=len(FEATURES), max_size=len(FEATURES)),
       st.sampled_from(sorted(MONOTONE)), st.floats(0.0625, 1.0, width=32))
@settings(max_examples=200, deadline=None)
def test_the_shipped_model_moves_each_constrained_feature_one_way_only(row: list[float], name: str,
                                                                      step: float) -> None:
    """A better name match, an agreeing axis or a more common test never lowers a score; a conflict never raises
    it (the monotone constraints the model is fitted under)."""
    x = np.asarray([row, row], dtype=np.float32)
    x[1, FEATURES.index(name)] += step
    low, high = RankModel.shipped().score(x)
    assert (high - low) * MONOTONE[name] >= -1e-12


def test_training_gives_synthetic_items_each_other_as_neighbours() -> None:
    pool = [_loinc("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "SCnc", "Ser/Plas"),
            _loinc("2828-2", "Potassium [Moles/volume] in Urine", "SCnc", "Urine")]
    names = ["Potassium", "Potassium, Urine", "Potassium Level", "Potassium, Urine Test", "POTASSIUM", "Potassium Ur"]
    items = [(LocalTerm(f"S{n}", name), "2828-2" if "Ur" in name else "2823-3", SYNTHETIC)
             for n, name in enumerate(names)]
    rows = training_rows(pool, items)
    # close names another "site" mapped, elsewhere too: the model learns what a near, not identical, name is worth
    assert rows.x[:, FEATURES.index("neighbour_best")].max() > 0
