"""The tx-ecosystem suite's sct-ecl tests that a small edition in the suite's shape can answer: the ECL errors
(a non-numeric focus, an operator with nothing after it, an unknown concept, AND and OR mixed without
brackets, tokens after a complete expression), over HTTP against the real server on SQLite and PostgreSQL. The
expansion and membership tests of that suite need the suite's own edition (not in ../shared); their
constructs are covered against computed answers in test_ecl_eval and test_ecl_valuesets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from tests.test_conformance import failing_tests
from tests.test_snomed_suite import server  # noqa: F401  (the fixture: the suite-shaped edition served)

TESTS: Final = ("snomed-expand-ecl-invalid-sctid", "snomed-expand-ecl-missing-focus",
                "snomed-expand-ecl-unknown-concept", "snomed-expand-ecl-ambiguous-precedence",
                "snomed-expand-ecl-trailing-tokens")


def test_sct_ecl_error_tests_pass(server: str, tmp_path: Path) -> None:  # noqa: F811
    failed = failing_tests(server, tmp_path, "snomed", "sct-ecl", TESTS)
    assert not failed, json.dumps(failed, indent=1)
