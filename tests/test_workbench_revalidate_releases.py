"""revalidate against real release histories other than LOINC: two versions of a small SNOMED CT International
RF2 snapshot (historical association refsets name the replacements of inactivated concepts) and of RxNorm
(RXNCUI.RRF and RXNCUICHANGES.RRF remap retired RXCUIs), on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine

from termsvc.loaders.snomed_ids import verhoeff_digit
from termsvc.ops.loading import run_load
from termsvc.workbench import decisions as d
from termsvc.workbench.local_codes import all_codes
from termsvc.workbench.projects import Project
from termsvc.workbench.revalidate import Reopened, revalidate
from termsvc.workbench.suggesting import cached
from tests.conftest import SAMPLES
from tests.workbench_support import project_with_codes

SCT = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
MODULE = "900000000000207008"
ROOT, IS_A = "138875005", "116680003"
SAME_AS, REPLACED_BY, POSSIBLY_EQUIVALENT_TO, ALTERNATIVE, WAS_A = (
    "900000000000527005", "900000000000526001", "900000000000523009", "900000000000530003", "900000000000528000")


def _sctid(item: int, partition: str) -> str:
    digits = f"{item}{partition}"
    return digits + verhoeff_digit(digits)


# concepts of the test edition: SCTID -> preferred term
GLUCOSE, GLUCOSE_NEW = _sctid(1000001, "00"), _sctid(1000002, "00")
HGB, HGB_SAME = _sctid(1000003, "00"), _sctid(1000004, "00")
CULTURE, CULTURE_A, CULTURE_B = _sctid(1000005, "00"), _sctid(1000006, "00"), _sctid(1000007, "00")
SODIUM = _sctid(1000008, "00")
POTASSIUM, POTASSIUM_MID, POTASSIUM_NEW = _sctid(1000009, "00"), _sctid(1000010, "00"), _sctid(1000011, "00")
ELECTROLYTES, ELECTROLYTE_PANEL = _sctid(1000012, "00"), _sctid(1000013, "00")
TERMS = {ROOT: "SNOMED CT Concept", IS_A: "Is a", GLUCOSE: "Glucose measurement", HGB: "Haemoglobin estimation",
         HGB_SAME: "Hemoglobin measurement", GLUCOSE_NEW: "Glucose measurement in blood",
         CULTURE: "Culture", CULTURE_A: "Bacterial culture", CULTURE_B: "Fungal culture",
         SODIUM: "Sodium measurement", POTASSIUM: "Potassium measurement", POTASSIUM_MID: "Potassium level",
         POTASSIUM_NEW: "Potassium measurement in serum", ELECTROLYTES: "Electrolytes measurement, ambiguous",
         ELECTROLYTE_PANEL: "Electrolytes panel"}


def _rf2(path: Path, header: str, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # RF2 files are UTF-8, tab-separated, CRLF line ends
    path.write_bytes(("\r\n".join([header, *("\t".join(r) for r in rows)]) + "\r\n").encode("utf-8"))


def _snomed_release(root: Path, date: str, inactive: set[str], associations: list[tuple[str, str, str]]) -> Path:
    """A Snapshot package as SNOMED International publishes it: every concept of TERMS (GLUCOSE_NEW only from
    2025), the ones in `inactive` inactivated on `date` with their is-a relationships, and association refset
    members (refset, inactive concept, target)."""
    package = root / f"SnomedCT_InternationalRF2_PRODUCTION_{date}T120000Z"
    snapshot = package / "Snapshot"
    concepts = [c for c in TERMS if c != GLUCOSE_NEW or date >= "20250101"]
    _rf2(snapshot / "Terminology" / f"sct2_Concept_Snapshot_INT_{date}.txt",
         "id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId",
         [[c, date if c in inactive else "20240101", "0" if c in inactive else "1", MODULE, "900000000000074008"]
          for c in concepts])
    _rf2(snapshot / "Terminology" / f"sct2_Description_Snapshot-en_INT_{date}.txt",
         "id\teffectiveTime\tactive\tmoduleId\tconceptId\tlanguageCode\ttypeId\tterm\tcaseSignificanceId",
         [[_sctid(2000000 + i, "01"), "20240101", "1", MODULE, c, "en", "900000000000013009", TERMS[c],
           "900000000000448009"] for i, c in enumerate(concepts)])
    _rf2(snapshot / "Terminology" / f"sct2_Relationship_Snapshot_INT_{date}.txt",
         "id\teffectiveTime\tactive\tmoduleId\tsourceId\tdestinationId\trelationshipGroup\ttypeId\t"
         "characteristicTypeId\tmodifierId",
         [[_sctid(3000000 + i, "02"), date if c in inactive else "20240101", "0" if c in inactive else "1", MODULE,
           c, ROOT, "0", IS_A, "900000000000011006", "900000000000451002"]
          for i, c in enumerate(concepts) if c != ROOT])
    _rf2(snapshot / "Refset" / "Content" / f"der2_cRefset_AssociationSnapshot_INT_{date}.txt",
         "id\teffectiveTime\tactive\tmoduleId\trefsetId\treferencedComponentId\ttargetComponentId",
         [[f"6b1a9d2e-0000-4000-8000-{i:012d}", date, "1", MODULE, refset, member, target]
          for i, (refset, member, target) in enumerate(associations)])
    return package


def _project(conn: Connection, folder: Path, system: str, local: dict[str, str]) -> Project:
    """A project whose local codes are each approved to the given target."""
    return project_with_codes(conn, folder, "code,display\n" + "".join(f"{code},{code} local\n" for code in local),
                              target=system, approved=local)


def _after_revalidate(engine: Engine, project: Project) -> tuple[dict[str, Reopened], dict[str, d.State],
                                                                 dict[str, list[str]]]:
    with engine.begin() as conn:
        reopened = {r.local_code: r for r in revalidate(conn, project, "ann")}
        states: dict[str, d.State] = {}
        first: dict[str, list[str]] = {}
        for stored in all_codes(conn, project):
            states[stored.code] = d.current_state(conn, stored.local_code_id)
            first[stored.code] = [s.target_code for s in cached(conn, stored.local_code_id)]
    return reopened, states, first


# --- SNOMED CT ---------------------------------------------------------------------------------------------

@pytest.fixture
def snomed(engine: Engine, tmp_path: Path) -> tuple[Engine, Project]:
    run_load(engine, "snomed", _snomed_release(tmp_path / "2024", "20240101", set(), []))
    with engine.begin() as conn:
        project = _project(conn, tmp_path, SCT, {"GLU": GLUCOSE, "HB": HGB, "CULT": CULTURE, "NA": SODIUM,
                                                      "K": POTASSIUM, "LYTES": ELECTROLYTES})
    # 2025: GLUCOSE replaced, HGB a duplicate of HGB_SAME (its ALTERNATIVE row comes first in the file), CULTURE
    # ambiguous between two concepts, POTASSIUM replaced by a concept itself replaced, ELECTROLYTES ambiguous
    # with only a broader concept named, SODIUM unchanged
    run_load(engine, "snomed", _snomed_release(
        tmp_path / "2025", "20250101", {GLUCOSE, HGB, CULTURE, POTASSIUM, POTASSIUM_MID, ELECTROLYTES},
        [(REPLACED_BY, GLUCOSE, GLUCOSE_NEW), (ALTERNATIVE, HGB, CULTURE_A), (SAME_AS, HGB, HGB_SAME),
         (POSSIBLY_EQUIVALENT_TO, CULTURE, CULTURE_A), (POSSIBLY_EQUIVALENT_TO, CULTURE, CULTURE_B),
         (REPLACED_BY, POTASSIUM, POTASSIUM_MID), (REPLACED_BY, POTASSIUM_MID, POTASSIUM_NEW),
         (WAS_A, CULTURE, CULTURE_A), (WAS_A, ELECTROLYTES, ELECTROLYTE_PANEL)]))
    return engine, project


def test_snomed_inactivated_targets_go_back_into_review_and_unchanged_ones_stay(
        snomed: tuple[Engine, Project]) -> None:
    reopened, states, _ = _after_revalidate(*snomed)
    assert set(reopened) == {"GLU", "HB", "CULT", "K", "LYTES"}
    assert f"inactive in {SCT}|{SCT}/{MODULE}/version/20250101" in reopened["GLU"].reason
    assert {code: s.state for code, s in states.items()} == {"GLU": "pending", "HB": "pending",
                                                            "CULT": "pending", "K": "pending", "LYTES": "pending",
                                                            "NA": "approved"}


def test_snomed_replaced_by_is_proposed_first_in_review(snomed: tuple[Engine, Project]) -> None:
    reopened, states, first = _after_revalidate(*snomed)
    assert reopened["GLU"].replacements == ((GLUCOSE_NEW, "Glucose measurement in blood", "SNOMED CT REPLACED BY"),)
    assert first["GLU"][0] == GLUCOSE_NEW and GLUCOSE_NEW in (states["GLU"].comment or "")


def test_snomed_same_as_comes_before_an_alternative_whatever_the_file_order(snomed: tuple[Engine, Project]) -> None:
    reopened, _, first = _after_revalidate(*snomed)
    assert [(code, why) for code, _, why in reopened["HB"].replacements] == [
        (HGB_SAME, "SNOMED CT SAME AS"), (CULTURE_A, "SNOMED CT ALTERNATIVE")]
    assert first["HB"][:2] == [HGB_SAME, CULTURE_A]


def test_snomed_every_possibly_equivalent_concept_is_proposed(snomed: tuple[Engine, Project]) -> None:
    reopened, _, _ = _after_revalidate(*snomed)
    assert {code for code, _, _ in reopened["CULT"].replacements} == {CULTURE_A, CULTURE_B}


# --- RxNorm ------------------------------------------------------------------------------------------------

ASPIRIN, ASPIRIN_NEW, VITAMIN_D, VITAMIN_D_NEW, ACETAMINOPHEN = "1191", "99990011", "2418", "99990022", "161"


def _rxnorm_next(tmp_path: Path) -> Path:
    """The sample release a month on: aspirin's RXCUI retired into a new one (RXNCUI.RRF), cholecalciferol's
    atoms moved to a new RXCUI (RXNCUICHANGES.RRF); acetaminophen unchanged."""
    release = tmp_path / "RxNorm_full_09012025"
    rrf = release / "rrf"
    shutil.copytree(SAMPLES / "rxnorm" / "RxNorm_full_08042025" / "rrf", rrf)
    moved = {ASPIRIN: ASPIRIN_NEW, VITAMIN_D: VITAMIN_D_NEW}
    for path in rrf.glob("*.RRF"):
        if path.name in ("RXNCUI.RRF", "RXNCUICHANGES.RRF", "RXNATOMARCHIVE.RRF"):
            continue
        lines = path.read_bytes().decode("utf-8").split("\n")
        path.write_bytes("\n".join("|".join(moved.get(f, f) for f in line.split("|")) for line in lines)
                         .encode("utf-8"))
    with (rrf / "RXNCUI.RRF").open("ab") as handle:
        handle.write(f"{ASPIRIN}|RXNORM_25AA_250804F|RXNORM_25AA_250804F|1|{ASPIRIN_NEW}|\n".encode())
    with (rrf / "RXNCUICHANGES.RRF").open("ab") as handle:
        handle.write(f"90000103|{VITAMIN_D}|RXNORM|IN|cholecalciferol|{VITAMIN_D}|{VITAMIN_D_NEW}|\n".encode())
    return release


@pytest.fixture
def rxnorm(engine: Engine, tmp_path: Path) -> tuple[Engine, Project]:
    run_load(engine, "rxnorm", SAMPLES / "rxnorm" / "RxNorm_full_08042025")
    with engine.begin() as conn:
        project = _project(conn, tmp_path, RXNORM, {"ASA": ASPIRIN, "D3": VITAMIN_D, "APAP": ACETAMINOPHEN})
    run_load(engine, "rxnorm", _rxnorm_next(tmp_path))
    return engine, project


def test_rxnorm_retired_targets_go_back_into_review_and_current_ones_stay(rxnorm: tuple[Engine, Project]) -> None:
    reopened, states, _ = _after_revalidate(*rxnorm)
    assert set(reopened) == {"ASA", "D3"}
    assert f"inactive in {RXNORM}|09012025 (status retired)" in reopened["ASA"].reason
    assert {code: s.state for code, s in states.items()} == {"ASA": "pending", "D3": "pending", "APAP": "approved"}


def test_rxnorm_remap_from_rxncui_is_proposed_first(rxnorm: tuple[Engine, Project]) -> None:
    reopened, states, first = _after_revalidate(*rxnorm)
    assert reopened["ASA"].replacements == ((ASPIRIN_NEW, "aspirin", "RxNorm remapped to"),)
    assert first["ASA"][0] == ASPIRIN_NEW and ASPIRIN_NEW in (states["ASA"].comment or "")


def test_rxnorm_remap_from_rxncuichanges_is_proposed_first(rxnorm: tuple[Engine, Project]) -> None:
    reopened, _, first = _after_revalidate(*rxnorm)
    assert reopened["D3"].replacements == ((VITAMIN_D_NEW, "cholecalciferol", "RxNorm remapped to"),)
    assert first["D3"][0] == VITAMIN_D_NEW


def test_snomed_a_replacement_inactivated_in_turn_is_followed_to_an_active_one(
        snomed: tuple[Engine, Project]) -> None:
    reopened, _, first = _after_revalidate(*snomed)
    assert reopened["K"].replacements == (
        (POTASSIUM_NEW, "Potassium measurement in serum", f"SNOMED CT REPLACED BY via {POTASSIUM_MID}"),)
    assert first["K"][0] == POTASSIUM_NEW


def test_snomed_was_a_proposes_the_broader_concept_when_nothing_closer_is_named(
        snomed: tuple[Engine, Project]) -> None:
    reopened, _, _ = _after_revalidate(*snomed)
    assert reopened["LYTES"].replacements == ((ELECTROLYTE_PANEL, "Electrolytes panel", "SNOMED CT WAS A (broader)"),)
    # a concept named by an equivalence and by WAS A is proposed once, for the equivalence
    assert [why for _, _, why in reopened["CULT"].replacements] == ["SNOMED CT POSSIBLY EQUIVALENT TO"] * 2
