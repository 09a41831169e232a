"""Loads and writes side by side, on SQLite and PostgreSQL, through a real server: while a load holds the
store, reads answer and never wait to keep an expansion, writes that need the store wait a bounded time and
are then refused with 409 lock-error and Retry-After (never a 5xx), and every attempt is audited; on
PostgreSQL a write of one value set locks only that resource, so concurrent writes never clash on a lock that
is not theirs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from termsvc.api.app import create_app
from termsvc.auth import tokens
from termsvc.auth.audit import KEPT_BACK
from termsvc.settings import Settings
from termsvc.store.loadrun import load_run
from tests.live_server import live_server

SYSTEM = "http://example.org/cs/many"
LARGE_VS = "http://example.org/vs/many"
WAIT = 1.0


@pytest.fixture
def store(engine: Engine) -> Engine:
    # a value set large enough for its expansion to be kept in the store (expansion_cache.MIN_KEPT)
    with load_run(engine, "test", "many") as run:
        writer = run.code_system({"url": SYSTEM, "version": "1", "content": "complete"})
        for n in range(3000):
            writer.add_concept(f"m{n}", f"Member {n}")
        writer.finish()
        run.value_set({"resourceType": "ValueSet", "id": "many", "url": LARGE_VS, "status": "active",
                       "compose": {"include": [{"system": SYSTEM}]}})
    return engine


@pytest.fixture
def server(store: Engine, store_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    token = tokens.issue(store, "writer", "system/*.cud")
    settings = Settings(database_url=store_url, write_wait=WAIT)
    with live_server(create_app(settings, engine=store)) as base:
        yield base, {"Authorization": f"Bearer {token}"}


@contextmanager
def load_running(engine: Engine) -> Iterator[None]:
    """A load that holds the store (its transaction open) until the block ends."""
    holding, done = threading.Event(), threading.Event()

    def load() -> None:
        with load_run(engine, "test", "a long load") as run:
            writer = run.code_system({"url": "http://example.org/cs/loading", "version": "1"})
            writer.add_concept("x", "Being loaded")
            run.bulk.flush()
            holding.set()
            done.wait(60)
            writer.finish()

    thread = threading.Thread(target=load)
    thread.start()
    assert holding.wait(30)
    try:
        yield
    finally:
        done.set()
        thread.join(60)


def _value_set(n: int) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "id": f"vs{n}", "url": f"http://example.org/vs/w{n}", "version": "1",
            "status": "active", "compose": {"include": [{"system": SYSTEM, "concept": [{"code": "m1"}]}]}}


def _audit_rows(engine: Engine) -> int:
    KEPT_BACK.flush()
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM audit_entry")).scalar_one())


def _code_system(n: int) -> dict[str, Any]:
    return {"resourceType": "CodeSystem", "id": f"cs{n}", "url": f"http://example.org/cs/w{n}", "version": "1",
            "status": "active", "content": "complete", "concept": [{"code": "a", "display": "A"}]}


@pytest.mark.postgres
def test_a_code_system_write_during_a_load_is_refused_with_409_and_retry_after(
        server: tuple[str, dict[str, str]], store: Engine) -> None:
    base, auth = server
    with load_running(store):
        started = time.monotonic()
        answer = httpx.put(f"{base}/fhir/CodeSystem/cs1", json=_code_system(1), headers=auth, timeout=60)
        waited = time.monotonic() - started
    assert answer.status_code == 409, answer.text[:500]
    assert answer.headers["Retry-After"].isdigit()
    assert answer.json()["issue"][0]["code"] == "lock-error"
    assert WAIT <= waited + 0.1 < WAIT + 10
    again = httpx.put(f"{base}/fhir/CodeSystem/cs1", json=_code_system(1), headers=auth, timeout=60)
    assert again.status_code == 201


@pytest.mark.postgres
def test_a_value_set_write_during_a_load_goes_ahead_on_postgresql_and_is_refused_on_sqlite(
        server: tuple[str, dict[str, str]], store: Engine, engine_name: str) -> None:
    # SQLite has one write lock, which the load holds; PostgreSQL writes lock only the resource
    base, auth = server
    with load_running(store):
        answer = httpx.put(f"{base}/fhir/ValueSet/vs1", json=_value_set(1), headers=auth, timeout=60)
    if engine_name == "sqlite":
        assert answer.status_code == 409, answer.text[:500]
        assert answer.headers["Retry-After"].isdigit()
    else:
        assert answer.status_code == 201, answer.text[:500]


@pytest.mark.postgres
def test_every_write_attempt_during_a_load_is_audited(server: tuple[str, dict[str, str]], store: Engine) -> None:
    base, auth = server
    before = _audit_rows(store)
    with load_running(store):
        statuses = [httpx.put(f"{base}/fhir/CodeSystem/cs{n}", json=_code_system(n), headers=auth,
                              timeout=60).status_code for n in range(3)]
        statuses.append(httpx.put(f"{base}/fhir/ValueSet/vs9", json=_value_set(9), timeout=60).status_code)
    assert statuses == [409, 409, 409, 401]
    deadline = time.monotonic() + 30
    while _audit_rows(store) < before + 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _audit_rows(store) == before + 4


@pytest.mark.postgres
def test_reads_answer_during_a_load_without_waiting_to_keep_an_expansion(server: tuple[str, dict[str, str]],
                                                                        store: Engine) -> None:
    base, _ = server
    with load_running(store), httpx.Client(base_url=base, timeout=60) as client:
        started = time.monotonic()
        expanded = client.get("/fhir/ValueSet/$expand", params={"url": LARGE_VS, "count": "5"})
        took = time.monotonic() - started
        health_started = time.monotonic()
        assert client.get("/healthz").status_code == 200
        health = time.monotonic() - health_started
    assert expanded.status_code == 200, expanded.text[:500]
    assert expanded.json()["expansion"]["total"] == 3000
    assert took < 10.0  # it waited on the load's lock for 30 s before
    assert health < 2.0


@pytest.mark.postgres
def test_a_request_with_inline_resources_during_a_load_is_answered_or_refused_in_bounded_time(
        server: tuple[str, dict[str, str]], store: Engine) -> None:
    # inline resources are written to a rolled-back transaction: on SQLite that needs the load's write lock
    base, _ = server
    inline = {"resourceType": "CodeSystem", "url": "http://example.org/cs/inline", "version": "1",
              "status": "active", "content": "complete", "concept": [{"code": "a", "display": "A"}]}
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "url", "valueUri": "http://example.org/cs/inline"}, {"name": "code", "valueCode": "a"},
        {"name": "tx-resource", "resource": inline}]}
    with load_running(store):
        started = time.monotonic()
        answer = httpx.post(f"{base}/fhir/CodeSystem/$validate-code", json=body, timeout=60)
        took = time.monotonic() - started
    assert answer.status_code in (200, 409), answer.text[:500]
    if answer.status_code == 409:
        assert answer.headers["Retry-After"].isdigit()
    assert took < 15.0  # it waited for the whole load, then answered 500 'database is locked'
    assert httpx.post(f"{base}/fhir/CodeSystem/$validate-code", json=body, timeout=60).status_code == 200


@pytest.mark.postgres
def test_concurrent_writes_without_a_load_all_succeed(server: tuple[str, dict[str, str]], store: Engine) -> None:
    base, auth = server

    def put(n: int) -> int:
        # eight resources, each written three times by different clients at once
        return httpx.put(f"{base}/fhir/ValueSet/vs{n % 8}", json=_value_set(n % 8), headers=auth,
                         timeout=60).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(put, range(24)))
    assert all(status in (200, 201) for status in statuses), statuses
    assert statuses.count(201) == 8
