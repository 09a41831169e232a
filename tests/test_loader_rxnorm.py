"""The RxNorm RRF loader on the sample release (data-samples/rxnorm), on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from termsvc.errors import LoadError
from termsvc.loaders.rxnorm_files import LAYOUTS, parse_row
from termsvc.loaders.rxnorm_rrf import SYSTEM
from termsvc.ops.loading import run_load
from termsvc.store.engine import make_engine
from tests.conftest import ENGINES, SAMPLES

RELEASE = SAMPLES / "rxnorm" / "RxNorm_full_08042025"
RRF = RELEASE / "rrf"
SCD = "2665428"  # cholecalciferol 0.075 MG / folic acid 1 MG Oral Capsule


@pytest.fixture(scope="module", params=ENGINES)
def loaded(request: pytest.FixtureRequest, new_store_url: Callable[[str], str]) -> Iterator[Engine]:
    engine = make_engine(new_store_url(request.param))
    run_load(engine, "rxnorm", RELEASE)
    yield engine
    engine.dispose()


def _concept(engine: Engine, code: str) -> tuple[str | None, bool, str | None] | None:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT display, active, status FROM concept WHERE code = :c"), {"c": code}).first()
    return None if row is None else (row.display, bool(row.active), row.status)


def _properties(engine: Engine, code: str, prop: str) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(text(
            "SELECT p.value FROM concept_property p JOIN concept c ON c.concept_id = p.concept_id "
            "WHERE c.code = :c AND p.code = :p"), {"c": code, "p": prop}).scalars())


def _designations(engine: Engine, code: str) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        return sorted((r.use_code, r.language, r.value) for r in conn.execute(text(
            "SELECT d.use_code, d.language, d.value FROM designation d JOIN concept c "
            "ON c.concept_id = d.concept_id WHERE c.code = :c"), {"c": code}))


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def _copy(tmp_path: Path, name: str = "RxNorm_full_08042025") -> Path:
    target = tmp_path / name / "rrf"
    shutil.copytree(RRF, target)
    return target


# --- the sample release ---------------------------------------------------------------------------------------

def test_version_is_the_release_date_from_the_folder_name(loaded: Engine) -> None:
    with loaded.connect() as conn:
        row = conn.execute(text("SELECT version, is_current FROM code_system WHERE url = :u"), {"u": SYSTEM}).one()
    assert (row.version, bool(row.is_current)) == ("08042025", True)


def test_display_is_the_clinical_drug_name_not_a_synonym(loaded: Engine) -> None:
    assert _concept(loaded, SCD) == ("cholecalciferol 0.075 MG / folic acid 1 MG Oral Capsule", True, None)


def test_other_atoms_are_designations_with_their_term_type(loaded: Engine) -> None:
    assert _designations(loaded, SCD) == [
        ("PSN", "en", "vitamin D 3 75 MCG (3000 UNT) / folic acid 1 MG Oral Capsule"),
        ("SY", "en", "cholecalciferol 0.075 MG / folate 1 MG Oral Capsule"),
        ("SY", "en", "vitamin D 3 75 MCG (3000 UNT) / folic acid 1 MG Oral Capsule"),
    ]


def test_term_types_and_suppress_flag_are_properties(loaded: Engine) -> None:
    assert _properties(loaded, SCD, "TTY") == ["PSN", "SCD", "SY"]
    assert _properties(loaded, SCD, "SUPPRESS") == []  # N, the usual value, is left implicit


def test_concept_with_only_obsolete_atoms_is_inactive(loaded: Engine) -> None:
    assert _concept(loaded, "2665426") == ("0.8 ML adalimumab-adaz 50 MG/ML Prefilled Syringe [Hyrimoz]", False,
                                           "obsolete")
    assert _properties(loaded, "2665426", "SUPPRESS") == ["O"]


def test_rxcui_without_an_rxnorm_atom_is_not_a_concept(loaded: Engine) -> None:
    assert _concept(loaded, "3") is None


def test_relationship_reads_rxcui2_rela_rxcui1(loaded: Engine) -> None:
    assert _properties(loaded, SCD, "has_ingredient") == ["2418", "4511"]
    assert _properties(loaded, SCD, "has_dose_form") == ["316965"]
    assert _properties(loaded, "4511", "ingredient_of") == [SCD]
    assert _properties(loaded, "316965", "dose_form_of") == [SCD]


def test_current_ndcs_are_properties_once_each(loaded: Engine) -> None:
    assert _properties(loaded, SCD, "NDC") == ["99999000101", "99999000102"]
    assert _properties(loaded, SCD, "RXN_AVAILABLE_STRENGTH") == ["0.075 MG / 1 MG"]


def test_semantic_types_are_properties_with_their_names(loaded: Engine) -> None:
    assert _properties(loaded, "4511", "STY") == ["T109", "T121", "T127"]
    with loaded.connect() as conn:
        name = conn.execute(text("SELECT p.value_display FROM concept_property p JOIN concept c "
                                 "ON c.concept_id = p.concept_id WHERE c.code = '4511' AND p.value = 'T127'")).scalar()
    assert name == "Vitamin"


def test_retired_rxcui_is_inactive_and_remapped(loaded: Engine) -> None:
    assert _concept(loaded, "91811") == (None, False, "retired")
    assert _properties(loaded, "91811", "remapped_to") == ["857082"]


def test_split_rxcui_is_remapped_to_each_part_with_its_archived_name(loaded: Engine) -> None:
    display, active, status = _concept(loaded, "197537") or (None, True, None)
    assert (active, status) == (False, "retired") and display and display.startswith("ferrous sulfate")
    assert _properties(loaded, "197537", "remapped_to") == ["997169", "997170"]


def test_rxcui_whose_atom_moved_is_remapped_to_the_new_rxcui(loaded: Engine) -> None:
    assert _properties(loaded, "90000301", "remapped_to") == [SCD]
    assert (_concept(loaded, "90000301") or (None,))[0] == "vitamin D 3 75 MCG / folic acid 1 MG Oral Capsule " \
                                                          "(constructed)"


def test_no_is_a_hierarchy_only_self_rows_in_the_closure(loaded: Engine) -> None:
    assert _count(loaded, "SELECT COUNT(*) FROM closure WHERE ancestor_id <> descendant_id") == 0
    assert _count(loaded, "SELECT COUNT(*) FROM concept_edge") == 0


def test_load_record_has_checksums_and_counts(loaded: Engine) -> None:
    with loaded.connect() as conn:
        row = conn.execute(text("SELECT checksums_json, counts_json FROM load_run WHERE kind = 'rxnorm'")).one()
    assert "RXNCONSO.RRF" in row.checksums_json and '"RxNorm relationships": 6' in row.counts_json


# --- options and release shapes ---------------------------------------------------------------------------------

def test_other_sources_are_added_when_asked(engine: Engine) -> None:
    run_load(engine, "rxnorm", RELEASE, sabs="MTHSPL")
    assert ("SU", "en", "FOLIC ACID") in _designations(engine, "4511")
    assert _properties(engine, SCD, "NDC") == ["99999-0001-01", "99999000101", "99999000102"]


def test_relationship_to_an_unknown_rxcui_is_an_error(engine: Engine) -> None:
    with pytest.raises(LoadError) as caught:
        run_load(engine, "rxnorm", RELEASE, sabs="SNOMEDCT_US")
    assert caught.value.file.endswith("RXNREL.RRF") and caught.value.line == 8
    assert caught.value.field_name == "RXCUI2"
    assert _count(engine, "SELECT COUNT(*) FROM concept") == 0


def test_subset_with_dangling_relationships_loads_when_not_strict(engine: Engine) -> None:
    summary = run_load(engine, "rxnorm", RELEASE, sabs="SNOMEDCT_US", strict=False)
    assert summary.counts["RxNorm relationships skipped (unknown RXCUI)"] == 1


def test_loads_from_the_release_zip(engine: Engine, tmp_path: Path) -> None:
    archive = tmp_path / "RxNorm_full_08042025.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for item in sorted(RRF.iterdir()):
            zf.write(item, f"rrf/{item.name}")
    run_load(engine, "rxnorm", archive)
    assert _concept(engine, SCD) == ("cholecalciferol 0.075 MG / folic acid 1 MG Oral Capsule", True, None)


def test_version_comes_from_rxnsab_when_the_folder_has_no_date(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    shutil.copytree(RRF, folder)
    run_load(engine, "rxnorm", folder)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version FROM code_system")).scalar() == "08042025"


def test_an_older_release_loaded_later_does_not_become_current(engine: Engine, tmp_path: Path) -> None:
    run_load(engine, "rxnorm", RELEASE)
    run_load(engine, "rxnorm", _copy(tmp_path, "RxNorm_full_12022024").parent)
    with engine.connect() as conn:
        rows = {str(r.version): bool(r.is_current) for r in conn.execute(text(
            "SELECT version, is_current FROM code_system"))}
    assert rows == {"08042025": True, "12022024": False}


# --- bad input: a clear error, the store unchanged -----------------------------------------------------------------

def _fails(engine: Engine, path: Path) -> LoadError:
    run_load(engine, "rxnorm", RELEASE, version="01012020")
    before = _count(engine, "SELECT COUNT(*) FROM concept")
    with pytest.raises(LoadError) as caught:
        run_load(engine, "rxnorm", path)
    assert _count(engine, "SELECT COUNT(*) FROM concept") == before
    assert _count(engine, "SELECT COUNT(*) FROM code_system") == 1
    return caught.value


def test_missing_rxnconso_is_an_error(engine: Engine, tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "RXNCONSO.RRF").unlink()
    error = _fails(engine, folder.parent)
    assert "RXNCONSO.RRF is missing" in error.message


def test_row_with_a_missing_field_names_file_line_and_count(engine: Engine, tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    rel = folder / "RXNREL.RRF"
    lines = rel.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace("|has_dose_form|", "|")
    rel.write_text("".join(lines))
    error = _fails(engine, folder.parent)
    assert error.file.endswith("RXNREL.RRF") and error.line == 3 and "15 fields where 16" in error.message


def test_row_without_its_trailing_pipe_is_an_error(engine: Engine, tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    sat = folder / "RXNSAT.RRF"
    lines = sat.read_text().splitlines()
    lines[1] = lines[1][:-1]
    sat.write_text("\n".join(lines) + "\n")
    error = _fails(engine, folder.parent)
    assert error.file.endswith("RXNSAT.RRF") and error.line == 2 and "does not end with '|'" in error.message


def test_text_that_is_not_utf8_is_an_error(engine: Engine, tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    conso = folder / "RXNCONSO.RRF"
    conso.write_bytes(conso.read_bytes().replace(b"folate 1 MG", b"fol\xe2te 1 MG"))
    error = _fails(engine, folder.parent)
    assert error.file.endswith("RXNCONSO.RRF") and error.line == 8 and "UTF-8" in error.message


def test_byte_order_mark_is_an_error(engine: Engine, tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    sty = folder / "RXNSTY.RRF"
    sty.write_bytes(b"\xef\xbb\xbf" + sty.read_bytes())
    error = _fails(engine, folder.parent)
    assert error.file.endswith("RXNSTY.RRF") and error.line == 1


def test_non_numeric_rxcui_is_an_error(engine: Engine, tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    conso = folder / "RXNCONSO.RRF"
    conso.write_text(conso.read_text().replace("161|ENG|", "16x|ENG|"))
    error = _fails(engine, folder.parent)
    assert error.field_name == "RXCUI" and error.line == 13


# --- the row parser ----------------------------------------------------------------------------------------------

_FIELD = st.text(st.characters(blacklist_characters="|\r\n", blacklist_categories=["Cs"]), max_size=12)


@given(st.sampled_from(sorted(LAYOUTS)), st.data())
def test_row_parser_returns_the_fields_of_a_well_formed_row(name: str, data: st.DataObject) -> None:
    columns = LAYOUTS[name]
    fields = data.draw(st.lists(_FIELD, min_size=len(columns), max_size=len(columns)))
    assert parse_row("|".join(fields) + "|", columns, name, 7) == fields


@given(st.sampled_from(sorted(LAYOUTS)), st.integers(min_value=0, max_value=40), st.booleans(), st.data())
def test_row_parser_rejects_any_other_shape_naming_the_line(name: str, width: int, trailing: bool,
                                                           data: st.DataObject) -> None:
    columns = LAYOUTS[name]
    if width == len(columns) and trailing:
        width += 1
    fields = data.draw(st.lists(_FIELD, min_size=width, max_size=width))
    line = "|".join(fields) + ("|" if trailing else "")
    if not trailing and width == len(columns) + 1 and fields[-1] == "":
        return  # that is a well-formed row
    with pytest.raises(LoadError) as caught:
        parse_row(line, columns, name, 7)
    assert caught.value.line == 7 and caught.value.file == name


def test_prescribable_subset_beside_the_full_release_is_passed_over(engine: Engine, tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    subset = folder.parent / "prescribe" / "rrf"
    subset.mkdir(parents=True)
    (subset / "RXNCONSO.RRF").write_text("1191|ENG||||||90000102|90000102|1191||RXNORM|IN|1191|aspirin||N|4096|\n")
    run_load(engine, "rxnorm", folder.parent)
    assert _concept(engine, SCD) is not None


def test_lookup_answers_with_display_designations_and_relationships(loaded: Engine) -> None:
    from fastapi.testclient import TestClient

    from termsvc.api.app import create_app
    from termsvc.settings import Settings

    with TestClient(create_app(Settings(database_url="sqlite://"), engine=loaded)) as client:
        response = client.get("/fhir/CodeSystem/$lookup", params={"system": SYSTEM, "code": SCD, "property": "*"})
    assert response.status_code == 200, response.text
    parameters = response.json()["parameter"]
    assert {"name": "display", "valueString": "cholecalciferol 0.075 MG / folic acid 1 MG Oral Capsule"} in parameters
    values = {part["name"]: part for p in parameters if p["name"] == "designation" for part in p["part"]}
    assert values["use"]["valueCoding"]["code"] in {"SY", "PSN"}
    ingredients = sorted(next(part.get("valueCode") for part in p["part"] if part["name"] == "value")
                         for p in parameters if p["name"] == "property"
                         and {"name": "code", "valueCode": "has_ingredient"} in p["part"])
    assert ingredients == ["2418", "4511"]
