"""SNOMED CT editions as they are shipped: the genuine sample releases re-laid out as a user may hold them (zip or
folder, with or without the Snapshot level, Full/ and Delta/ beside), several packages at once, rows with a
blank effectiveTime, the edition's module and version date named by the user, xsct versions; and a clear
error, leaving the store as it was, for every misuse."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from termsvc.api.app import create_app
from termsvc.cli.main import app
from termsvc.errors import LoadError
from termsvc.loaders.snomed_files import package_root
from termsvc.ops.loading import run_load
from termsvc.settings import Settings
from tests.conftest import SAMPLES, shared_path

SCT = "http://snomed.info/sct"
INT = "900000000000207008"
INT_2018 = f"{SCT}/{INT}/version/20180731"
SE = "45991000052106"
runner = CliRunner()


def _mini_ct_snapshot() -> Path:
    return shared_path("data", "snomed", "snowstorm-MiniCT_INT_20180731", "MiniCT", "RF2Release", "Snapshot")


def _mini_ct_full() -> Path:
    return shared_path("data", "snomed", "snowstorm-MiniCT_INT_20180731", "MiniCT", "RF2Release", "Full")


def _versions(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(row[0] for row in conn.execute(text("SELECT version FROM code_system WHERE url = :u"),
                                                     {"u": SCT}))


def _count(engine: Engine, version: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM concept c JOIN code_system s USING (code_system_id) "
                                     "WHERE s.version = :v"), {"v": version}).scalar_one())


def _property(engine: Engine, version: str, code: str, name: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT p.value FROM concept_property p JOIN concept c USING (concept_id) JOIN code_system s "
            "ON s.code_system_id = c.code_system_id WHERE s.version = :v AND c.code = :c AND p.code = :p"),
            {"v": version, "c": code, "p": name}).scalar()


def _zip(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for item in sorted(folder.rglob("*")):
            if item.is_file():
                archive.write(item, item.relative_to(folder.parent).as_posix())
    return target


def _without_snapshot_level(snapshot: Path, root: Path) -> Path:
    """The package's Terminology/ and Refset/ folders straight under its root."""
    shutil.copytree(snapshot, root)
    return root


def _edit_rows(path: Path, change: Callable[[list[str]], list[str]]) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\r\n".join([lines[0], *("\t".join(change(line.split("\t"))) for line in lines[1:] if line)])
                    + "\r\n", encoding="utf-8")


def _concept_file(root: Path) -> Path:
    return next(root.rglob("sct2_Concept_Snapshot_*.txt"))


def _load(engine: Engine, path: Path, **options: Any) -> None:
    run_load(engine, "snomed", path, **options)


# --- layouts -----------------------------------------------------------------------------------------------

def test_release_without_the_snapshot_level_loads(engine: Engine, tmp_path: Path) -> None:
    root = _without_snapshot_level(_mini_ct_snapshot(), tmp_path / "SnomedCT_MiniCT")
    _load(engine, root)
    assert _versions(engine) == [INT_2018]
    assert _count(engine, INT_2018) == 102


def test_zip_without_the_snapshot_level_loads(engine: Engine, tmp_path: Path) -> None:
    root = _without_snapshot_level(_mini_ct_snapshot(), tmp_path / "SnomedCT_MiniCT")
    _load(engine, _zip(root, tmp_path / "release.zip"))
    assert _count(engine, INT_2018) == 102


def test_flat_folder_of_snapshot_files_loads(engine: Engine, tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    for item in _mini_ct_snapshot().rglob("*.txt"):
        shutil.copy(item, flat / item.name)
    _load(engine, flat)
    assert _count(engine, INT_2018) == 102


def test_full_and_delta_folders_beside_the_snapshot_are_not_read(engine: Engine, tmp_path: Path) -> None:
    root = tmp_path / "SnomedCT_MiniCT"
    shutil.copytree(_mini_ct_snapshot(), root / "Snapshot")
    shutil.copytree(_mini_ct_full(), root / "Full")
    delta = root / "Delta" / "Terminology"
    delta.mkdir(parents=True)
    concept = delta / "sct2_Concept_Delta_INT_20190131.txt"
    shutil.copy(_concept_file(root / "Snapshot"), concept)
    _edit_rows(concept, lambda f: [f[0], "20190131", "0", *f[3:]])  # a delta retiring every concept
    _load(engine, _zip(root, tmp_path / "release.zip"))
    assert _versions(engine) == [INT_2018]
    assert _property(engine, INT_2018, "404684003", "inactive") == "false"


def test_release_holding_only_full_files_is_refused_clearly(engine: Engine, tmp_path: Path) -> None:
    shutil.copytree(_mini_ct_full(), tmp_path / "release" / "Full")
    with pytest.raises(LoadError) as caught:
        _load(engine, tmp_path / "release")
    assert "no SNOMED CT RF2 Snapshot files" in caught.value.message
    assert "Full/ and Delta/ files are not read" in caught.value.message


def test_missing_concept_file_without_snapshot_level_names_the_package_not_refset(engine: Engine,
                                                                                  tmp_path: Path) -> None:
    root = _without_snapshot_level(_mini_ct_snapshot(), tmp_path / "SnomedCT_MiniCT")
    _concept_file(root).unlink()
    with pytest.raises(LoadError) as caught:
        _load(engine, root)
    assert caught.value.file == str(root)
    assert "no concept snapshot file (sct2_Concept_Snapshot_*.txt)" in caught.value.message
    assert _versions(engine) == []


# --- several packages --------------------------------------------------------------------------------------

def test_extension_zip_loads_with_its_base_folder_without_snapshot_level(engine: Engine, tmp_path: Path) -> None:
    base = _without_snapshot_level(SAMPLES / "snomed" / "SnomedCT_MiniRF2" / "Snapshot", tmp_path / "INT")
    extension = _zip(SAMPLES / "snomed" / "SnomedCT_SE_MiniRF2", tmp_path / "SnomedCT_SE.zip")
    _load(engine, extension, base=base, strict=False)
    assert _versions(engine) == [f"{SCT}/{SE}/version/20240231"]


def test_two_editions_of_one_module_are_refused(engine: Engine, tmp_path: Path) -> None:
    shutil.copytree(_mini_ct_snapshot(), tmp_path / "a" / "Snapshot")
    later = tmp_path / "b" / "Snapshot"
    shutil.copytree(_mini_ct_snapshot(), later)
    for item in list(later.rglob("*.txt")):
        item.rename(item.with_name(item.name.replace("20180731", "20190131")))
    with pytest.raises(LoadError) as caught:
        _load(engine, tmp_path)
    assert f"two editions of module {INT}" in caught.value.message
    assert "20180731" in caught.value.message and "20190131" in caught.value.message
    assert _versions(engine) == []


# --- blank effectiveTime -----------------------------------------------------------------------------------

def test_blank_effective_time_rows_take_the_release_version_date(engine: Engine, tmp_path: Path) -> None:
    root = _without_snapshot_level(_mini_ct_snapshot(), tmp_path / "prerelease")
    _edit_rows(_concept_file(root), lambda f: [f[0], "" if f[0] == "404684003" else f[1], *f[2:]])
    for name in ("sct2_Description_Snapshot", "sct2_Relationship_Snapshot", "der2_cRefset_LanguageSnapshot"):
        _edit_rows(next(root.rglob(f"{name}*.txt")), lambda f: [f[0], "", *f[2:]])
    _load(engine, root, strict=True)
    assert _property(engine, INT_2018, "404684003", "effectiveTime") == "2018-07-31"
    assert _property(engine, INT_2018, "138875005", "effectiveTime") != "2018-07-31"


def test_blank_effective_time_wins_over_a_dated_row_of_the_base(engine: Engine, tmp_path: Path) -> None:
    """An extract holding the next state of a concept of its base, not yet dated, is the newer state."""
    extract = _without_snapshot_level(SAMPLES / "snomed" / "SnomedCT_SE_MiniRF2" / "Snapshot", tmp_path / "SE")
    concept = _concept_file(extract)
    with concept.open("a", encoding="utf-8") as handle:
        handle.write("404684003\t\t0\t45991000052106\t900000000000074008\r\n")
    _load(engine, extract, base=SAMPLES / "snomed" / "SnomedCT_MiniRF2", strict=False)
    version = f"{SCT}/{SE}/version/20240231"
    assert _property(engine, version, "404684003", "inactive") == "true"
    assert _property(engine, version, "404684003", "effectiveTime") == "2024-02-31"


def test_undated_release_needs_its_version_date(engine: Engine, tmp_path: Path) -> None:
    root = tmp_path / "extract"
    root.mkdir()
    for item in _mini_ct_snapshot().rglob("*.txt"):
        shutil.copy(item, root / item.name.replace("_INT_20180731", "_INT"))
    _edit_rows(_concept_file(root), lambda f: [f[0], "", *f[2:]])
    with pytest.raises(LoadError) as caught:
        _load(engine, root)
    assert "--version-date" in caught.value.message
    _load(engine, root, effective_time="20250101")
    assert _versions(engine) == [f"{SCT}/{INT}/version/20250101"]


def test_malformed_effective_time_is_still_refused(engine: Engine, tmp_path: Path) -> None:
    root = _without_snapshot_level(_mini_ct_snapshot(), tmp_path / "bad")
    _edit_rows(_concept_file(root), lambda f: [f[0], "2018-07-31" if f[0] == "404684003" else f[1], *f[2:]])
    with pytest.raises(LoadError) as caught:
        _load(engine, root)
    assert caught.value.field_name == "effectiveTime" and caught.value.line is not None


# --- naming the edition ------------------------------------------------------------------------------------

def test_version_uri_names_module_and_date(engine: Engine) -> None:
    _load(engine, _mini_ct_snapshot(), version=f"{SCT}/900000000000012004/version/20190131")
    assert _versions(engine) == [f"{SCT}/900000000000012004/version/20190131"]


def test_xsct_version_makes_an_experimental_edition(engine: Engine) -> None:
    _load(engine, _mini_ct_snapshot(), experimental=True)
    assert _versions(engine) == [f"http://snomed.info/xsct/{INT}/version/20180731"]


def test_experimental_edition_does_not_displace_the_current_one(engine: Engine) -> None:
    _load(engine, _mini_ct_snapshot())
    _load(engine, _mini_ct_snapshot(), version=f"http://snomed.info/xsct/{INT}/version/20190131")
    with engine.connect() as conn:
        current = conn.execute(text("SELECT version FROM code_system WHERE url = :u AND is_current"),
                               {"u": SCT}).scalar_one()
    assert current == INT_2018


@pytest.mark.parametrize(("options", "complaint"), [
    ({"version": "January 2025"}, "neither a SNOMED CT version URI"),
    ({"effective_time": "20250231"}, "not a date written YYYYMMDD"),
    ({"module": "12345"}, "the edition module must be a concept id"),
    ({"module": "999000011000000103"}, "has no concepts in these packages"),
    ({"module": INT, "version": f"{SCT}/900000000000012004/version/20190131"}, "given twice, differently"),
    ({"shoe_size": 9}, "has no option shoe_size"),
])
def test_bad_edition_options_are_refused(engine: Engine, options: dict[str, Any], complaint: str) -> None:
    with pytest.raises(LoadError) as caught:
        _load(engine, _mini_ct_snapshot(), **options)
    assert complaint in caught.value.message
    assert _versions(engine) == []


def test_api_finds_sct_xsct_and_module_only_versions(engine: Engine) -> None:
    _load(engine, _mini_ct_snapshot())
    _load(engine, _mini_ct_snapshot(), version=f"http://snomed.info/xsct/{INT}/version/20190131")
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=engine)) as client:
        for version in (INT_2018, f"http://snomed.info/xsct/{INT}/version/20190131", f"{SCT}/{INT}"):
            response = client.get("/fhir/CodeSystem/$lookup",
                                  params={"system": SCT, "code": "404684003", "version": version})
            assert response.status_code == 200, response.text
            found = {p["name"]: p.get("valueString") for p in response.json()["parameter"]}
            assert found["version"] == (INT_2018 if version.endswith(INT) else version)
        missing = client.get("/fhir/CodeSystem/$lookup", params={
            "system": SCT, "code": "404684003", "version": f"http://snomed.info/xsct/{INT}/version/20180731"})
        assert missing.status_code == 404


# --- the command line --------------------------------------------------------------------------------------

def test_cli_version_option_names_the_edition(store_url: str) -> None:
    result = runner.invoke(app, ["--db", store_url, "load", "snomed", str(_mini_ct_snapshot()), "--quiet",
                                 "--module", INT, "--version-date", "20190131"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["--db", store_url, "load", "snomed", str(_mini_ct_snapshot()), "--quiet",
                                "--version", f"http://snomed.info/xsct/{INT}/version/20190131"])
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize("arguments", [
    ["--version", "not-a-version"],
    ["--version-date", "31/01/2019"],
    ["--module", "42"],
])
def test_cli_misuse_is_an_error_not_a_traceback(store_url: str, arguments: list[str]) -> None:
    result = runner.invoke(app, ["--db", store_url, "load", "snomed", str(_mini_ct_snapshot()), "--quiet",
                                 *arguments])
    assert result.exit_code == 1
    assert "load failed, store unchanged" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # typer's Exit, not an uncaught error


def test_cli_snomed_options_are_refused_for_other_kinds(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'x.db'}", "load", "loinc", str(tmp_path),
                                 "--module", INT])
    assert result.exit_code == 2
    assert "--module applies to snomed, not loinc" in result.output


def test_cli_wrong_folder_is_an_error(store_url: str, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    result = runner.invoke(app, ["--db", store_url, "load", "snomed", str(tmp_path), "--quiet"])
    assert result.exit_code == 1
    assert "no SNOMED CT RF2 Snapshot files found" in result.output


def test_cli_loads_an_extension_with_its_base(store_url: str, tmp_path: Path) -> None:
    extension = _zip(SAMPLES / "snomed" / "SnomedCT_SE_MiniRF2", tmp_path / "SnomedCT_SE.zip")
    result = runner.invoke(app, ["--db", store_url, "load", "snomed", str(extension), "--quiet", "--lenient",
                                 "--base", str(SAMPLES / "snomed" / "SnomedCT_MiniRF2")])
    assert result.exit_code == 0, result.output
    assert f"{SCT}/{SE}/version/20240231" in result.output.replace("\n", "")


def test_a_folder_named_delta_above_the_package_is_no_matter(engine: Engine, tmp_path: Path) -> None:
    root = _without_snapshot_level(_mini_ct_snapshot(), tmp_path / "Delta" / "SnomedCT_MiniCT")
    _load(engine, tmp_path)
    assert _count(engine, INT_2018) == 102
    assert root.exists()


def test_snapshot_named_files_in_a_delta_folder_are_not_read(engine: Engine, tmp_path: Path) -> None:
    root = tmp_path / "SnomedCT_MiniCT"
    shutil.copytree(_mini_ct_snapshot(), root / "Snapshot")
    stray = root / "Delta" / "Terminology"
    stray.mkdir(parents=True)
    shutil.copy(_concept_file(root / "Snapshot"), stray / "sct2_Concept_Snapshot_INT_20190131.txt")
    _load(engine, root)
    assert _versions(engine) == [INT_2018]


folder_names = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd")), min_size=1, max_size=8).filter(
    lambda n: n not in ("Snapshot", "Full", "Delta", "Terminology", "Refset"))


@given(st.lists(folder_names, max_size=3), st.sampled_from([("Terminology",), ("Refset", "Language"), ("Refset",)]),
       st.booleans())
def test_package_root_is_the_folder_above_snapshot_or_the_content_folders(
        prefix: list[str], content: tuple[str, ...], snapshot_level: bool) -> None:
    parts = (*prefix, *(("Snapshot",) if snapshot_level else ()), *content, "sct2_Concept_Snapshot_INT_20250101.txt")
    assert package_root(parts) == ("/".join(prefix) or ".")


@given(st.lists(folder_names, max_size=3), st.sampled_from(["Full", "Delta"]),
       st.sampled_from([("Terminology",), ("Refset", "Map"), ()]))
def test_files_at_the_full_or_delta_level_belong_to_no_package(prefix: list[str], kind: str,
                                                              content: tuple[str, ...]) -> None:
    assert package_root((*prefix, kind, *content, "sct2_Concept_Snapshot_INT_20250101.txt")) is None
