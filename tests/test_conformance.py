"""The HL7 terminology ecosystem tests (general mode) against the real server, over HTTP.

The server runs as a uvicorn subprocess on a free loopback port over a fresh, migrated store; the shared
runner (`run_tests.py`) drives it. The pass count may only go up: the test fails when the general-mode
total falls below the floor recorded in conformance_floor.json. Per-suite counts are printed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ENGINES, SHARED
from tests.server_support import serving

FLOOR_FILE = Path(__file__).parent / "conformance_floor.json"
RUNNER = SHARED / "tx-ecosystem" / "run_tests.py"
STARTUP_SECONDS = 30
RUN_SECONDS = 600


@pytest.fixture(scope="module", params=ENGINES)
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    if not RUNNER.exists():
        pytest.skip(f"{RUNNER} is not present (../shared beside the repository)")
    store_url = request.getfixturevalue("new_store_url")(request.param)
    with serving(store_url) as base:
        yield base + "/fhir"


def failing_tests(server: str, tmp_path: Path, mode: str, suite: str, tests: tuple[str, ...]) -> dict[str, object]:
    """The named tests of one suite that do not pass against `server`, with the runner's message for each."""
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, str(RUNNER), "--server", server, "--modes", mode, "--suite", suite,
                    "--test", *tests, "--json-report", str(report), "--dump-dir", str(tmp_path / "dump")],
                   capture_output=True, timeout=RUN_SECONDS, check=False)
    results = {r["test"]: r for r in json.loads(report.read_text(encoding="utf-8"))["tests"]}
    return {name: results.get(name, {}).get("message") for name in tests
            if results.get(name, {}).get("status") != "pass"}


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
