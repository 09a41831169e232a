"""The `termsvc` command: help, schema management, load errors and load records."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from termsvc.cli.main import app

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("load", "serve", "db", "loads", "demo"):
        assert command in result.output


def test_db_upgrade_creates_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    result = runner.invoke(app, ["--db", url, "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "new.db").exists()


def test_database_url_comes_from_the_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    result = runner.invoke(app, ["db", "upgrade"], env={"TERMSVC_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "env.db").exists()


def test_unknown_load_kind_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'x.db'}", "load", "mesh", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown kind 'mesh'" in result.output


def test_load_records_are_listed(store_url: str) -> None:
    result = runner.invoke(app, ["--db", store_url, "loads"])
    assert result.exit_code == 0, result.output
    assert "kind" in result.output


def test_lenient_is_refused_for_a_loader_without_it(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'x.db'}", "load", "icd10cm", str(tmp_path),
                                 "--lenient"])
    assert result.exit_code == 2
    assert "--lenient applies to" in result.output


def test_lenient_loads_the_snowstorm_lite_sample_that_strict_refuses(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parent.parent / "data-samples" / "snomed"
    url = f"sqlite:///{tmp_path / 'sct.db'}"
    strict = runner.invoke(app, ["--db", url, "load", "snomed", str(sample), "--quiet"])
    lenient = runner.invoke(app, ["--db", url, "load", "snomed", str(sample), "--quiet", "--lenient"])
    assert strict.exit_code == 1, strict.output
    assert "store unchanged" in strict.output
    assert lenient.exit_code == 0, lenient.output


def test_demo_loads_every_bundled_sample_and_its_example_lookup_answers(store_url: str) -> None:
    from fastapi.testclient import TestClient

    from termsvc.api.app import create_app
    from termsvc.settings import Settings
    from termsvc.store.engine import make_engine

    samples = Path(__file__).resolve().parent.parent / "data-samples"
    result = runner.invoke(app, ["--db", store_url, "demo", "--no-serve", "--samples", str(samples)])
    assert result.exit_code == 0, result.output
    for kind in ("icd10cm", "fhir", "loinc", "snomed", "rxnorm"):
        assert f"{kind} " in result.output
    assert "not loaded" not in result.output
    lookup = next(line.strip() for line in result.output.splitlines() if "$lookup" in line)
    path = lookup.split("/fhir", 1)[1].rstrip("'")
    engine = make_engine(store_url)
    try:
        with TestClient(create_app(Settings(database_url=store_url), engine=engine)) as client:
            response = client.get("/fhir" + path)
    finally:
        engine.dispose()
    assert response.status_code == 200, response.text
    assert response.json()["resourceType"] == "Parameters"
