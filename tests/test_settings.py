"""Settings: TERMSVC_* variables over defaults, flags over both, and a bad value refused in one line naming
the variable, by every command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from termsvc.settings import BadSetting, Settings

REPO = Path(__file__).resolve().parent.parent


def test_defaults_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("TERMSVC_") and not name.startswith("TERMSVC_TEST_"):
            monkeypatch.delenv(name)
    settings = Settings.from_env()
    assert (settings.host, settings.port, settings.auth_required_for_reads) == ("127.0.0.1", 8080, False)
    assert settings.max_request_bytes == 8 * 1024 * 1024 and settings.database_url.startswith("sqlite:///")


def test_environment_values_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMSVC_PORT", "9001")
    monkeypatch.setenv("TERMSVC_AUTH_REQUIRED_FOR_READS", "yes")
    monkeypatch.setenv("TERMSVC_CORS_ORIGINS", "https://a.example.org, https://b.example.org")
    settings = Settings.from_env()
    assert settings.port == 9001 and settings.auth_required_for_reads is True
    assert settings.cors_origin_list() == ["https://a.example.org", "https://b.example.org"]


def test_flags_win_over_the_environment_and_an_empty_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMSVC_PORT", "9001")
    monkeypatch.setenv("TERMSVC_HOST", "")
    settings = Settings.from_env(port=7000, host=None)
    assert (settings.port, settings.host) == (7000, "127.0.0.1")


@pytest.mark.parametrize(("name", "value"), [("TERMSVC_PORT", "eighty"), ("TERMSVC_PORT", "70000"),
                                             ("TERMSVC_AUTH_REQUIRED_FOR_READS", "maybe"),
                                             ("TERMSVC_MAX_REQUEST_BYTES", "-5")])
def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(BadSetting) as caught:
        Settings.from_env()
    assert name in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("command", [["loads"], ["serve"], ["db", "upgrade"], ["token", "list"]])
def test_every_command_reports_a_bad_value_in_one_line(command: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "TERMSVC_PORT": "eighty", "PYTHONPATH": str(REPO),
           "TERMSVC_DATABASE_URL": f"sqlite:///{tmp_path}/store.db"}
    done = subprocess.run([sys.executable, "-m", "termsvc.cli.main", *command], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "TERMSVC_PORT" in lines[0] and "Traceback" not in done.stderr
