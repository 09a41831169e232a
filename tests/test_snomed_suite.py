"""The tx-ecosystem suite's snomed-mode tests that a small edition in the suite's shape can answer (see
snomed_suite_edition): $lookup of a concept and of an expression, $validate-code of good and bad expressions,
an inactive description as display, expressions in value sets (listed, by filter, implicit is-a and refset), implicit value sets naming
no concept or refset. The real server runs as a uvicorn subprocess and the shared runner drives
it, on SQLite and PostgreSQL; every named test must pass."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from termsvc.ops.loading import run_load
from termsvc.store.engine import make_engine
from tests import snomed_suite_edition
from tests.conftest import ENGINES
from tests.server_support import serving
from tests.test_conformance import RUNNER, failing_tests

TESTS: Final = ("lookup", "lookup-pc", "validate-code-pc-good", "validate-code-pc-bad1", "validate-code-pc-bad2",
                "snomed-inactive-display", "validate-code-pc-list", "validate-code-pc-list-bad",
                "validate-code-pc-filter", "validate-code-implied-1", "validate-code-implied-1b",
                "validate-code-implied-2", "validate-code-implied-2b", "expand-pc-list")


@pytest.fixture(scope="module", params=ENGINES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not RUNNER.exists():
        pytest.skip(f"{RUNNER} is not present (../shared beside the repository)")
    store_url = request.getfixturevalue("new_store_url")(request.param)
    engine = make_engine(store_url, pool_size=1)
    run_load(engine, "snomed", snomed_suite_edition.write(tmp_path_factory.mktemp("edition")), experimental=True,
             current=True)
    engine.dispose()
    with serving(store_url) as base:
        yield base + "/fhir"


def test_the_edition_loads_as_the_suites_xsct_version(tmp_path: Path, engine: object) -> None:
    from sqlalchemy import Engine, text

    assert isinstance(engine, Engine)
    run_load(engine, "snomed", snomed_suite_edition.write(tmp_path), experimental=True)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version FROM code_system WHERE url = 'http://snomed.info/sct'")
                            ).scalar_one() == snomed_suite_edition.VERSION


def test_snomed_mode_tests_pass(server: str, tmp_path: Path) -> None:
    failed = failing_tests(server, tmp_path, "snomed", "snomed", TESTS)
    assert not failed, json.dumps(failed, indent=1)
