"""Reads, searches and AuditEvent searches have the time budget operations have (TERMSVC_REQUEST_TIME_BUDGET,
termsvc.api.offload): past it they stop and answer 422 too-costly, through a real server on SQLite and
PostgreSQL. The budget is made tiny (a millisecond) and each request does far more than a millisecond of
work (thousands of rows fetched and rendered), so past-the-budget is certain without timing anything; the same
requests under the default budget answer 200, so the 422 is the budget's and nothing else's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import Engine

from termsvc.api.app import create_app
from termsvc.auth import tokens
from termsvc.auth.audit import AuditRecord, record
from termsvc.settings import Settings
from termsvc.store.loadrun import load_run
from tests.live_server import live_server

TINY_BUDGET = 0.001
CONCEPTS = 5_000  # read whole (under ops.codesystems.FULL_CONCEPTS_LIMIT), nested and rendered
RESOURCES = 300  # of each kind, all on one search page
VERSION_ID = "3"

# the reads and searches whose work a request can make large: a big code system read whole, its version read
# (vread), a page of each resource type, a page of AuditEvents
REQUESTS = ["/fhir/CodeSystem/big", f"/fhir/CodeSystem/big/_history/{VERSION_ID}",
            "/fhir/CodeSystem?_count=1000", "/fhir/ValueSet?_count=1000", "/fhir/ConceptMap?_count=1000",
            "/fhir/AuditEvent?_count=1000"]


def _load(engine: Engine) -> None:
    with load_run(engine, "test", "reads") as run:
        writer = run.code_system({"resourceType": "CodeSystem", "id": "big", "url": "http://example.org/cs/big",
                                  "version": "1", "status": "active", "content": "complete",
                                  "meta": {"versionId": VERSION_ID}})
        for n in range(CONCEPTS):
            writer.add_concept(f"b{n}", f"Big concept {n}")
            writer.add_designation(f"b{n}", f"Grand concept {n}", language="fr")
            if n:
                writer.add_edge(f"b{(n - 1) // 4}", f"b{n}")
        writer.finish()
        for n in range(30):
            small = run.code_system({"url": f"http://example.org/cs/small{n}", "version": "1", "status": "active",
                                     "content": "complete"})
            for m in range(50):
                small.add_concept(f"s{m}", f"Small {m}")
            small.finish()
        run.value_sets([{"resourceType": "ValueSet", "id": f"vs{n}", "url": f"http://example.org/vs/{n}",
                         "status": "active", "compose": {"include": [{"system": "http://example.org/cs/big"}]}}
                        for n in range(RESOURCES)])
        for n in range(RESOURCES):
            run.concept_map({"resourceType": "ConceptMap", "id": f"cm{n}", "url": f"http://example.org/cm/{n}",
                             "status": "active", "group": [{"source": "http://example.org/cs/big",
                                                            "target": "http://example.org/cs/small0",
                                                            "element": [{"code": "b1", "target": [
                                                                {"code": "s1", "equivalence": "equivalent"}]}]}]})
    for n in range(RESOURCES):
        record(engine, AuditRecord("update", "loader", "token", "127.0.0.1", "ValueSet", f"vs{n}"))


@contextmanager
def _serving(engine: Engine, store_url: str, **settings: float) -> Iterator[httpx.Client]:
    token = tokens.issue(engine, f"auditor{len(settings)}", "system/AuditEvent.rs")
    app = create_app(Settings(database_url=store_url, **settings), engine=engine)
    with live_server(app) as base, httpx.Client(base_url=base, timeout=120,
                                                headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    _load(engine)
    return engine


@pytest.mark.postgres
def test_every_read_and_search_past_its_time_budget_answers_too_costly(loaded: Engine, store_url: str) -> None:
    with _serving(loaded, store_url, request_time_budget=TINY_BUDGET) as client:
        for path in REQUESTS:
            answer = client.get(path)
            assert answer.status_code == 422, f"{path}: {answer.status_code} {answer.text[:300]}"
            issue = answer.json()["issue"][0]
            assert issue["code"] == "too-costly", path
            assert "time budget" in issue["details"]["text"], path


@pytest.mark.postgres
def test_the_same_reads_and_searches_answer_within_the_default_budget(loaded: Engine, store_url: str) -> None:
    with _serving(loaded, store_url) as client:
        for path in REQUESTS:
            answer = client.get(path)
            assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:300]}"
        assert len(client.get("/fhir/ValueSet?_count=1000").json()["entry"]) == RESOURCES
        assert len(client.get("/fhir/AuditEvent?_count=1000").json()["entry"]) == RESOURCES

