"""The container files agree with each other and with the code (Docker itself cannot run here: these are the
checks that need no engine). compose.yaml was also validated against the Compose specification's JSON schema
and the Dockerfile parsed with Docker's own parser when they were written."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from termsvc.cli.main import app

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict[str, object]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _services() -> dict[str, dict[str, object]]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def test_the_dockerfile_copies_only_what_exists_and_runs_the_termsvc_command() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.MULTILINE):
        for path in source.split():
            assert (ROOT / path).exists(), path
    assert 'ENTRYPOINT ["termsvc"]' in text
    assert "EXPOSE 8080" in text and "TERMSVC_PORT=8080" in text


def test_the_proxy_sends_to_exactly_the_api_services() -> None:
    api = {name for name, service in _services().items() if service.get("command", [None])[0] == "serve"}
    upstream = set(re.findall(r"server (\S+):8080", (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")))
    assert len(api) >= 3 and upstream == api


def test_api_processes_start_after_the_one_migration_and_share_the_database() -> None:
    services = _services()
    urls = set()
    for name, service in services.items():
        if service.get("command", [None])[0] == "serve":
            assert service["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}, name
            environment = service["environment"]
            assert isinstance(environment, dict)
            urls.add(environment["TERMSVC_DATABASE_URL"])
    assert len(urls) == 1 and "@db:5432/" in urls.pop()
    assert services["migrate"]["command"] == ["db", "upgrade"]


def test_the_commands_the_containers_run_exist() -> None:
    runner = CliRunner()
    for service in _services().values():
        command = service.get("command")
        if isinstance(command, list):
            words = [w for w in command if not w.startswith("--") and not w.replace(".", "").isdigit()]
            result = runner.invoke(app, [*words[:2], "--help"])
            assert result.exit_code == 0, (command, result.output)
