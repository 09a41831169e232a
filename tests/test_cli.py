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
