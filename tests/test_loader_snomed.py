"""The SNOMED CT RF2 loader: both genuine-layout samples load with the right displays, designations,
properties, hierarchy, associations, refset membership and ICD-10 map; editions live side by side; bad input is
refused with file, line and field, and leaves the store as it was."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from termsvc.errors import LoadError
from termsvc.loaders.snomed_ids import sctid_problem, verhoeff_digit, verhoeff_ok
from termsvc.loaders.snomed_refsets import parse_concrete_value
from termsvc.ops.loading import run_load
from termsvc.store.engine import make_engine
from tests.conftest import ENGINES, SAMPLES, shared_path

SCT = "http://snomed.info/sct"
INT_2018 = f"{SCT}/900000000000207008/version/20180731"
SE_VERSION = f"{SCT}/45991000052106/version/20240231"
MINI_INT_VERSION = f"{SCT}/900000000000207008/version/20240301"


def _mini_ct() -> Path:
    return shared_path("data", "snomed", "snowstorm-MiniCT_INT_20180731", "MiniCT", "RF2Release")


def _load(engine: Engine, path: Path, **options: Any) -> None:
    run_load(engine, "snomed", path, **options)


def _scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def _concept(engine: Engine, version: str, code: str) -> tuple[Any, ...]:
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT c.display, c.active, c.definition FROM concept c JOIN code_system s USING (code_system_id) "
            "WHERE s.version = :v AND c.code = :code"), {"v": version, "code": code}).one()
    return tuple(row)


def _properties(engine: Engine, version: str, code: str) -> set[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT p.code, p.type, p.value, p.value_display FROM concept_property p JOIN concept c "
            "USING (concept_id) JOIN code_system s ON s.code_system_id = c.code_system_id "
            "WHERE s.version = :v AND c.code = :code"), {"v": version, "code": code}).all()
    return {tuple(row) for row in rows}


def _designations(engine: Engine, version: str, code: str) -> set[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT d.language, d.use_code, d.value, d.preferred FROM designation d JOIN concept c "
            "USING (concept_id) JOIN code_system s ON s.code_system_id = c.code_system_id "
            "WHERE s.version = :v AND c.code = :code"), {"v": version, "code": code}).all()
    return {(lang, use, value, None if preferred is None else bool(preferred)) for lang, use, value, preferred in rows}


def _ancestors(engine: Engine, version: str, code: str) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT a.code FROM closure k JOIN concept a ON a.concept_id = k.ancestor_id "
            "JOIN concept d ON d.concept_id = k.descendant_id JOIN code_system s ON s.code_system_id = d.code_system_id "
            "WHERE s.version = :v AND d.code = :code AND a.concept_id <> d.concept_id"),
            {"v": version, "code": code}).all()
    return {row[0] for row in rows}


@pytest.fixture(scope="module", params=ENGINES)
def mini_ct(request: pytest.FixtureRequest, new_store_url: Callable[[str], str]) -> Iterator[Engine]:
    engine = make_engine(new_store_url(request.param), pool_size=2)
    _load(engine, _mini_ct())
    yield engine
    engine.dispose()


@pytest.fixture(scope="module", params=ENGINES)
def mini_rf2(request: pytest.FixtureRequest, new_store_url: Callable[[str], str]) -> Iterator[Engine]:
    """The snowstorm-lite sample: International alone, then the Swedish extension with it as base."""
    engine = make_engine(new_store_url(request.param), pool_size=2)
    _load(engine, SAMPLES / "snomed" / "SnomedCT_MiniRF2", strict=False)
    _load(engine, SAMPLES / "snomed" / "SnomedCT_SE_MiniRF2", strict=False, base=SAMPLES / "snomed" / "SnomedCT_MiniRF2")
    yield engine
    engine.dispose()


# --- identifiers -------------------------------------------------------------------------------------------

@given(st.integers(min_value=100, max_value=10**14))
def test_an_appended_verhoeff_digit_checks(number: int) -> None:
    digits = str(number)
    assert verhoeff_ok(digits + verhoeff_digit(digits))


@given(st.integers(min_value=10**5, max_value=10**17), st.data())
def test_verhoeff_catches_every_single_digit_error(number: int, data: st.DataObject) -> None:
    digits = str(number)
    sctid = digits + verhoeff_digit(digits)
    position = data.draw(st.integers(min_value=0, max_value=len(sctid) - 1))
    wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != sctid[position]]))
    assert not verhoeff_ok(sctid[:position] + wrong + sctid[position + 1:])


@given(st.integers(min_value=10**5, max_value=10**17), st.data())
def test_verhoeff_catches_adjacent_transpositions(number: int, data: st.DataObject) -> None:
    digits = str(number)
    sctid = digits + verhoeff_digit(digits)
    i = data.draw(st.integers(min_value=0, max_value=len(sctid) - 2))
    swapped = sctid[:i] + sctid[i + 1] + sctid[i] + sctid[i + 2:]
    if swapped != sctid:
        assert not verhoeff_ok(swapped)


def test_published_sctids_are_valid_and_typed_by_partition() -> None:
    assert sctid_problem("138875005", "concept") is None
    assert sctid_problem("45991000052106", "concept") is None
    assert sctid_problem("1965081000052110", "description") is None
    assert "partition" in (sctid_problem("138875005", "description") or "")
    assert "check digit" in (sctid_problem("138875006") or "")
    assert "not numeric" in (sctid_problem("13887500X") or "")
    assert "leading zero" in (sctid_problem("0138875005") or "")


@given(st.integers())
def test_concrete_integers_parse_as_integer(number: int) -> None:
    assert parse_concrete_value(f"#{number}") == ("integer", str(number))


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4))
def test_concrete_decimals_parse_as_decimal(number: Any) -> None:
    lexical = f"{number:f}"
    expected = "decimal" if "." in lexical else "integer"
    assert parse_concrete_value(f"#{lexical}") == (expected, lexical)


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\t\r\n")))
def test_concrete_strings_are_unquoted(value: str) -> None:
    assert parse_concrete_value('"' + value.replace('"', '""') + '"') == ("string", value)


@pytest.mark.parametrize("value", ["1", "#", "#1.", "#.5", "#1e3", '"open', "text"])
def test_malformed_concrete_values_are_rejected(value: str) -> None:
    assert parse_concrete_value(value) is None


# --- the International-style MiniCT sample ----------------------------------------------------------------

def test_release_becomes_one_version_named_by_module_and_date(mini_ct: Engine) -> None:
    with mini_ct.connect() as conn:
        rows = conn.execute(text("SELECT url, version, concept_count, is_current FROM code_system")).all()
    assert [tuple(r) for r in rows] == [(SCT, INT_2018, 102, True)]


def test_display_is_the_preferred_synonym(mini_ct: Engine) -> None:
    assert _concept(mini_ct, INT_2018, "404684003")[:2] == ("Clinical finding", True)
    assert _concept(mini_ct, INT_2018, "131148009")[0] == "Bleeding"


def test_descriptions_become_designations_per_dialect(mini_ct: Engine) -> None:
    assert _designations(mini_ct, INT_2018, "404684003") == {
        ("en-GB", "900000000000003001", "Clinical finding (finding)", True),
        ("en-GB", "900000000000013009", "Clinical finding", True),
    }


def test_concept_properties_are_typed(mini_ct: Engine) -> None:
    props = _properties(mini_ct, INT_2018, "131148009")
    assert {("inactive", "boolean", "false", None), ("moduleId", "code", "900000000000207008", None),
            ("sufficientlyDefined", "boolean", "true", None), ("effectiveTime", "dateTime", "2005-01-31", None),
            } <= props


def test_inactive_concept_keeps_its_state_and_associations(mini_ct: Engine) -> None:
    assert _concept(mini_ct, INT_2018, "118225008")[1] is False or _concept(mini_ct, INT_2018, "118225008")[1] == 0
    props = _properties(mini_ct, INT_2018, "118225008")
    assert ("inactive", "boolean", "true", None) in props
    # POSSIBLY EQUIVALENT TO, three targets, and the inactivation indicator AMBIGUOUS
    assert {p[2] for p in props if p[0] == "900000000000523009"} == {"118222006", "250171008", "413350009"}
    assert ("900000000000489007", "code", "900000000000484002", "Ambiguous") in props
    assert ("900000000000526001", "code", "404684003", "Clinical finding") in _properties(
        mini_ct, INT_2018, "246188002")


def test_attribute_relationships_are_properties_with_destination(mini_ct: Engine) -> None:
    assert ("116676008", "code", "50960005", "Haemorrhage") in _properties(mini_ct, INT_2018, "131148009")
    declared = _scalar(mini_ct, "SELECT description FROM code_system_property WHERE code = '116676008'")
    assert declared == "Associated morphology"


def test_is_a_relationships_build_the_closure(mini_ct: Engine) -> None:
    assert _ancestors(mini_ct, INT_2018, "131148009") == {"404684003", "138875005"}
    assert _ancestors(mini_ct, INT_2018, "138875005") == set()


def test_load_record_keeps_checksums_and_counts(mini_ct: Engine) -> None:
    with mini_ct.connect() as conn:
        checksums, counts = conn.execute(text("SELECT checksums_json, counts_json FROM load_run")).one()
    assert any(name.endswith("sct2_Concept_Snapshot_INT_20180731.txt") for name in json.loads(checksums))
    assert json.loads(counts)[f"{SCT}|{INT_2018}"] == 102


def test_zipped_release_loads_the_same(engine: Engine, tmp_path: Path) -> None:
    root = _mini_ct()
    archive = tmp_path / "SnomedCT_MiniCT.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in sorted(root.rglob("*.txt")):
            zf.write(file, "SnomedCT_MiniCT/" + file.relative_to(root).as_posix())
    _load(engine, archive)
    assert _concept(engine, INT_2018, "404684003")[0] == "Clinical finding"
    assert _scalar(engine, "SELECT concept_count FROM code_system") == 102


# --- the snowstorm-lite MiniRF2 sample with its Swedish extension -------------------------------------------

def test_made_up_ids_of_the_dummy_sample_are_refused_when_strict(engine: Engine) -> None:
    with pytest.raises(LoadError) as caught:
        _load(engine, SAMPLES / "snomed" / "SnomedCT_MiniRF2")
    assert caught.value.field_name == "id" and "check digit" in caught.value.message
    assert _scalar(engine, "SELECT COUNT(*) FROM code_system") == 0


def test_versions_of_two_editions_live_side_by_side(mini_rf2: Engine) -> None:
    with mini_rf2.connect() as conn:
        versions = {row[0] for row in conn.execute(text("SELECT version FROM code_system"))}
    assert versions == {MINI_INT_VERSION, SE_VERSION}


def test_extension_version_holds_its_base_concepts(mini_rf2: Engine) -> None:
    assert _concept(mini_rf2, SE_VERSION, "404684003")[0] == "Clinical finding"
    assert _ancestors(mini_rf2, SE_VERSION, "362969004") == {"404684003", "138875005"}
    assert ("sv", "900000000000013009", "incision i mellanöra", True) in _designations(
        mini_rf2, SE_VERSION, "12481008")
    assert all(d[0] != "sv" for d in _designations(mini_rf2, MINI_INT_VERSION, "12481008"))


def test_us_and_gb_dialects_are_separate_designations(mini_rf2: Engine) -> None:
    assert _designations(mini_rf2, MINI_INT_VERSION, "404684003") == {
        ("en-GB", "900000000000003001", "Clinical finding (finding)", True),
        ("en-US", "900000000000013009", "Clinical finding", True),
    }
    # a description in no language refset is kept with its bare language code
    assert ("en", "900000000000003001", "Incision of middle ear (procedure)", None) in _designations(
        mini_rf2, MINI_INT_VERSION, "12481008")


def test_display_falls_back_to_the_fsn(mini_rf2: Engine) -> None:
    assert _concept(mini_rf2, MINI_INT_VERSION, "138875005")[0] == "SNOMED CT Concept (SNOMED RT+CTV3)"


def test_concrete_values_are_typed_properties(mini_rf2: Engine) -> None:
    props = _properties(mini_rf2, MINI_INT_VERSION, "362969004")
    assert {("363698007", "string", "Before bed", None), ("363698007", "string", "Daily", None)} <= props
    assert ("363698007", "code", "113331007", "Structure of endocrine system (body structure)") in props


def test_simple_refset_membership_is_the_refset_property(mini_rf2: Engine) -> None:
    with mini_rf2.connect() as conn:
        members = {row[0] for row in conn.execute(text(
            "SELECT c.code FROM concept_property p JOIN concept c USING (concept_id) JOIN code_system s "
            "ON s.code_system_id = c.code_system_id WHERE s.version = :v AND p.code = 'refset' "
            "AND p.value = '11816080008'"), {"v": MINI_INT_VERSION})}
    assert members == {"404684003", "362969004"}


def test_same_as_association_is_kept_on_the_inactive_concept(mini_rf2: Engine) -> None:
    assert _concept(mini_rf2, MINI_INT_VERSION, "75521003")[1] in (False, 0)
    assert ("900000000000527005", "code", "362969004", "Disorder of endocrine system (disorder)") in _properties(
        mini_rf2, MINI_INT_VERSION, "75521003")


def test_icd10_extended_map_is_a_concept_map(mini_rf2: Engine) -> None:
    with mini_rf2.connect() as conn:
        rows = conn.execute(text(
            "SELECT e.source_code, e.target_system, e.target_code, e.equivalence, e.comment FROM concept_map_element e "
            "JOIN concept_map m USING (concept_map_id) WHERE m.url = :url AND m.version = :v ORDER BY e.comment"),
            {"url": f"{SCT}?fhir_cm=447562003", "v": MINI_INT_VERSION}).all()
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("12481008", "http://hl7.org/fhir/sid/icd-10", "Z00.3", "relatedto"),
        ("12481008", "http://hl7.org/fhir/sid/icd-10", "Z00.2", "relatedto"),
        ("12481008", "http://hl7.org/fhir/sid/icd-10", None, "unmatched"),
    ]
    assert rows[0][4].startswith("mapGroup 1; mapPriority 1; mapRule IFA 445518008")
    assert "mapAdvice MAP SOURCE CONCEPT CANNOT BE CLASSIFIED" in rows[2][4]


def test_lenient_load_counts_what_it_skipped(mini_rf2: Engine) -> None:
    with mini_rf2.connect() as conn:
        first = conn.execute(text("SELECT counts_json FROM load_run ORDER BY load_id")).scalars().first()
    counts = json.loads(first or "{}")
    assert counts["skipped: language refset rows naming unknown descriptions"] == 3


# --- bad input ----------------------------------------------------------------------------------------------

def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "release"
    shutil.copytree(_mini_ct() / "Snapshot", target / "Snapshot")
    return target


def _file(release: Path, prefix: str) -> Path:
    return next(release.rglob(f"{prefix}*"))


def _edit_line(path: Path, number: int, change: Callable[[list[str]], list[str]]) -> None:
    lines = path.read_bytes().decode("utf-8").split("\n")
    ending = "\r" if lines[number - 1].endswith("\r") else ""
    fields = lines[number - 1].rstrip("\r").split("\t")
    lines[number - 1] = "\t".join(change(fields)) + ending
    path.write_bytes("\n".join(lines).encode("utf-8"))


def _refused(engine: Engine, release: Path) -> LoadError:
    with pytest.raises(LoadError) as caught:
        _load(engine, release)
    assert _scalar(engine, "SELECT COUNT(*) FROM code_system") == 0
    assert _scalar(engine, "SELECT COUNT(*) FROM concept") == 0
    assert _scalar(engine, "SELECT COUNT(*) FROM load_run") == 0
    return caught.value


def test_missing_relationship_file_is_named(engine: Engine, tmp_path: Path) -> None:
    release = _copy(tmp_path)
    _file(release, "sct2_Relationship_Snapshot").unlink()
    error = _refused(engine, release)
    assert "relationship" in error.message and "sct2_Relationship_Snapshot" in error.message


def test_wrong_header_is_refused(engine: Engine, tmp_path: Path) -> None:
    release = _copy(tmp_path)
    concept_file = _file(release, "sct2_Concept_Snapshot")
    _edit_line(concept_file, 1, lambda f: [*f[:4], "definitionStatus"])
    error = _refused(engine, release)
    assert error.file == str(concept_file) and error.line == 1 and "header" in error.message


def test_short_row_names_the_missing_field(engine: Engine, tmp_path: Path) -> None:
    release = _copy(tmp_path)
    description_file = _file(release, "sct2_Description_Snapshot")
    _edit_line(description_file, 5, lambda f: f[:7])
    error = _refused(engine, release)
    assert (error.file, error.line, error.field_name) == (str(description_file), 5, "term")


def test_bad_check_digit_is_refused(engine: Engine, tmp_path: Path) -> None:
    release = _copy(tmp_path)
    concept_file = _file(release, "sct2_Concept_Snapshot")
    _edit_line(concept_file, 3, lambda f: [f[0][:-1] + str((int(f[0][-1]) + 1) % 10), *f[1:]])
    error = _refused(engine, release)
    assert (error.file, error.line, error.field_name) == (str(concept_file), 3, "id")
    assert "check digit" in error.message


def test_non_numeric_id_is_refused(engine: Engine, tmp_path: Path) -> None:
    release = _copy(tmp_path)
    description_file = _file(release, "sct2_Description_Snapshot")
    _edit_line(description_file, 2, lambda f: ["12345X019", *f[1:]])
    error = _refused(engine, release)
    assert (error.line, error.field_name) == (2, "id") and "not numeric" in error.message


def test_relationship_to_unknown_concept_is_refused(engine: Engine, tmp_path: Path) -> None:
    release = _copy(tmp_path)
    relationship_file = _file(release, "sct2_Relationship_Snapshot")
    _edit_line(relationship_file, 2, lambda f: [*f[:5], "73211009", *f[6:]])  # a real SCTID, not in the release
    error = _refused(engine, release)
    assert (error.file, error.line, error.field_name) == (str(relationship_file), 2, "destinationId")


def test_is_a_cycle_is_refused(engine: Engine, tmp_path: Path) -> None:
    release = _copy(tmp_path)
    relationship_file = _file(release, "sct2_Relationship_Snapshot")
    with relationship_file.open("a", encoding="utf-8", newline="") as handle:
        # 138875005 |SNOMED CT Concept| is-a 404684003 |Clinical finding|, which is-a 138875005
        handle.write("9999999024\t20180731\t1\t900000000000207008\t138875005\t404684003\t0\t116680003\t"
                     "900000000000011006\t900000000000451002\r\n")
    error = _refused(engine, release)
    assert "cycle" in error.message and error.file == str(relationship_file)
    cycle_code = error.message.split("'")[1]
    line = relationship_file.read_text(encoding="utf-8").splitlines()[(error.line or 0) - 1].split("\t")
    assert line[4] == cycle_code and line[7] == "116680003"


def test_language_refset_naming_unknown_description_is_refused(engine: Engine, tmp_path: Path) -> None:
    release = _copy(tmp_path)
    language_file = _file(release, "der2_cRefset_LanguageSnapshot")
    _edit_line(language_file, 4, lambda f: [*f[:5], "1234567014", f[6]])
    error = _refused(engine, release)
    assert (error.file, error.line, error.field_name) == (str(language_file), 4, "referencedComponentId")


def test_byte_order_mark_is_refused(engine: Engine, tmp_path: Path) -> None:
    release = _copy(tmp_path)
    concept_file = _file(release, "sct2_Concept_Snapshot")
    concept_file.write_bytes(b"\xef\xbb\xbf" + concept_file.read_bytes())
    error = _refused(engine, release)
    assert (error.file, error.line) == (str(concept_file), 1) and "byte-order mark" in error.message


def test_wrong_encoding_is_refused(engine: Engine, tmp_path: Path) -> None:
    release = _copy(tmp_path)
    description_file = _file(release, "sct2_Description_Snapshot")
    lines = description_file.read_bytes().split(b"\n")
    lines[6] = lines[6].decode("utf-8").encode("latin-1") + b"\xe9"
    description_file.write_bytes(b"\n".join(lines))
    error = _refused(engine, release)
    assert (error.file, error.line) == (str(description_file), 7) and "UTF-8" in error.message


def test_extension_without_its_base_is_refused(engine: Engine) -> None:
    with pytest.raises(LoadError) as caught:
        _load(engine, SAMPLES / "snomed" / "SnomedCT_SE_MiniRF2")
    assert caught.value.field_name == "conceptId" and "12481008" in caught.value.message


def test_parent_folder_with_base_and_extension_loads_the_extension_edition(engine: Engine) -> None:
    _load(engine, SAMPLES / "snomed", strict=False)
    with engine.connect() as conn:
        versions = [row[0] for row in conn.execute(text("SELECT version FROM code_system"))]
    assert versions == [SE_VERSION]
    assert _concept(engine, SE_VERSION, "404684003")[0] == "Clinical finding"


def test_release_date_and_module_can_be_named(engine: Engine) -> None:
    _load(engine, _mini_ct(), effective_time="20190131", module="900000000000012004")
    assert _scalar(engine, "SELECT version FROM code_system") == f"{SCT}/900000000000012004/version/20190131"
