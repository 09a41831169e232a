"""The HL7 terminology ecosystem tests (general mode) against the real server, over HTTP.

The server runs as a uvicorn subprocess on a free loopback port over a fresh, migrated store; the shared
runner (`run_tests.py`) drives it. The pass count may only go up: the test fails when the general-mode
total falls below the floor recorded in conformance_floor.json. Per-suite counts are printed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ENGINES, SHARED

FLOOR_FILE = Path(__file__).parent / "conformance_floor.json"
RUNNER = SHARED / "tx-ecosystem" / "run_tests.py"
STARTUP_SECONDS = 30
RUN_SECONDS = 600


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode} before answering")
        try:
            with urllib.request.urlopen(base.removesuffix("/fhir") + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer within {STARTUP_SECONDS}s")


@pytest.fixture(scope="module", params=ENGINES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not RUNNER.exists():
        pytest.skip(f"{RUNNER} is not present (../shared beside the repository)")
    store_url = request.getfixturevalue("new_store_url")(request.param)
    port = _free_port()
    env = {**os.environ, "TERMSVC_DATABASE_URL": store_url}
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "uvicorn", "termsvc.api.asgi:app", "--host", "127.0.0.1",
                                    "--port", str(port), "--log-level", "warning"], env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}/fhir"
    try:
        _wait_until_up(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def run_suite(base: str, report: Path) -> dict[str, object]:
    subprocess.run([sys.executable, str(RUNNER), "--server", base, "--json-report", str(report)],
                   capture_output=True, timeout=RUN_SECONDS, check=False)
    result: dict[str, object] = json.loads(report.read_text(encoding="utf-8"))
    return result


def test_general_mode_pass_count_does_not_fall_below_the_floor(server: str, tmp_path: Path) -> None:
    result = run_suite(server, tmp_path / "report.json")
    suites = result["suites"]
    assert isinstance(suites, list)
    for suite in suites:
        if suite["passed"] or suite["failed"]:
            print(f"{suite['name']:<28} {suite['passed']:>4} passed {suite['failed']:>4} failed")
    summary = result["summary"]
    assert isinstance(summary, dict)
    floor = json.loads(FLOOR_FILE.read_text(encoding="utf-8"))["general"]
    print(f"general mode: {summary['passed']} passed (floor {floor})")
    assert summary["passed"] >= floor, f"conformance fell to {summary['passed']} passed, below the floor of {floor}"
