"""Several API processes over one PostgreSQL, as compose.yaml runs them: three `termsvc serve` processes, a
ConceptMap written through one and translated through the other two at once, and a load through the CLI
(`termsvc load`, its own process) seen by all three. PostgreSQL only: SQLite is one file for one host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlencode

import pytest

from termsvc.auth.tokens import issue
from termsvc.store.engine import make_engine
from tests.conftest import REPO, SAMPLES
from tests.server_support import serving

MAP_URL = "http://example.org/fhir/ConceptMap/scale-out"
SOURCE, TARGET = "http://example.org/cs/lab", "http://loinc.org"
COLOURS = "http://example.org/fhir/CodeSystem/colours"
CONCEPT_MAP = {"resourceType": "ConceptMap", "url": MAP_URL, "version": "1", "name": "ScaleOut", "status": "active",
               "group": [{"source": SOURCE, "target": TARGET, "element": [
                   {"code": f"L{n}", "target": [{"code": f"{n}-0", "equivalence": "equivalent"}]} for n in range(20)]}]}


def _call(base: str, path: str, *, method: str = "GET", body: Any = None, token: str | None = None
          ) -> tuple[int, dict[str, Any]]:
    headers = {"Accept": "application/fhir+json"}
    if body is not None:
        headers["Content-Type"] = "application/fhir+json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None,
                                     headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _translated(base: str, code: str) -> bool:
    status, body = _call(base, "/fhir/ConceptMap/$translate?" + urlencode({"url": MAP_URL, "system": SOURCE,
                                                                           "code": code}))
    assert status == 200, body
    return bool(next(p["valueBoolean"] for p in body["parameter"] if p["name"] == "result"))


@pytest.mark.postgres
def test_three_processes_share_one_store(new_store_url: Callable[[str], str]) -> None:
    url = new_store_url("postgresql")
    engine = make_engine(url, pool_size=1)
    try:
        token = issue(engine, "scale-out", "system/*.cud")
    finally:
        engine.dispose()
    with ExitStack() as stack:
        first, second, third = (stack.enter_context(serving(url, via_cli=True)) for _ in range(3))

        status, written = _call(first, "/fhir/ConceptMap?" + urlencode({"url": MAP_URL, "version": "1"}),
                                method="PUT", body=CONCEPT_MAP, token=token)
        assert status == 201, written
        # both other processes answer at once, each request seeing the map written through the first
        codes = [f"L{n}" for n in range(20)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda job: _translated(*job), [(b, c) for b in (second, third) for c in codes]))
        assert answers == [True] * 40

        for base in (first, second, third):
            status, _ = _call(base, "/fhir/CodeSystem/$lookup?" + urlencode({"system": COLOURS, "code": "red"}))
            assert status == 404
        loaded = subprocess.run([sys.executable, "-m", "termsvc.cli.main", "--db", url, "load", "fhir",
                                 str(SAMPLES / "fhir")], env={**os.environ, "PYTHONPATH": str(REPO)},
                                capture_output=True, text=True, timeout=300)
        assert loaded.returncode == 0, loaded.stderr
        for base in (first, second, third):
            status, body = _call(base, "/fhir/CodeSystem/$lookup?" + urlencode({"system": COLOURS, "code": "red"}))
            assert status == 200, body
            assert next(p["valueString"] for p in body["parameter"] if p["name"] == "display") == "Red"
