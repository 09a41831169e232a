"""Operation answers kept as the bytes sent and served again until the store changes (termsvc.api.answer_cache),
on SQLite and PostgreSQL, through real HTTP: what may be served again, what never is, and that a write through
another instance over the same store is seen by the very next request."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from termsvc.api.answer_cache import GenerationWatch
from termsvc.api.app import create_app
from termsvc.auth import tokens
from termsvc.settings import Settings
from termsvc.store import generation
from termsvc.store.engine import make_engine
from tests.conftest import REPO

CS_URL = "http://example.org/cs/colours"
LOOKUP = "/fhir/CodeSystem/$lookup"


def colours(red: str = "Red") -> dict[str, Any]:
    return {"resourceType": "CodeSystem", "id": "colours", "url": CS_URL, "version": "1", "status": "active",
            "content": "complete", "concept": [{"code": "red", "display": red}, {"code": "blue", "display": "Blue"}]}


def _client(engine: Engine, store_url: str, **settings: Any) -> TestClient:
    return TestClient(create_app(Settings(database_url=store_url, **settings), engine=engine))


@pytest.fixture
def client(engine: Engine, store_url: str) -> Iterator[TestClient]:
    with _client(engine, store_url) as served:
        served.headers["Authorization"] = f"Bearer {tokens.issue(engine, 'writer', 'system/*.cud')}"
        assert served.put("/fhir/CodeSystem/colours", json=colours()).status_code == 201
        yield served


def _hits(client: TestClient) -> float:
    text = client.get("/metrics").text
    found = re.search(r'^termsvc_cache_hits_total\{cache="http-answers"\} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _display(response: Any) -> str:
    assert response.status_code == 200, response.text
    return next(p["valueString"] for p in response.json()["parameter"] if p["name"] == "display")


def test_a_repeated_operation_is_served_from_the_kept_answer(client: TestClient) -> None:
    first = client.get(LOOKUP, params={"system": CS_URL, "code": "red"})
    before = _hits(client)
    second = client.get(LOOKUP, params={"system": CS_URL, "code": "red"})
    assert _hits(client) == before + 1
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]


def test_each_kept_answer_carries_its_own_request_id(client: TestClient) -> None:
    client.get(LOOKUP, params={"system": CS_URL, "code": "red"})
    again = client.get(LOOKUP, params={"system": CS_URL, "code": "red"}, headers={"X-Request-Id": "abc-1"})
    assert again.headers["x-request-id"] == "abc-1"


def test_a_write_is_seen_by_the_next_request(client: TestClient) -> None:
    assert _display(client.get(LOOKUP, params={"system": CS_URL, "code": "red"})) == "Red"
    assert client.put("/fhir/CodeSystem/colours", json=colours("Scarlet")).status_code == 200
    assert _display(client.get(LOOKUP, params={"system": CS_URL, "code": "red"})) == "Scarlet"


def test_a_write_through_another_instance_is_seen_by_the_next_request(client: TestClient, store_url: str) -> None:
    other = make_engine(store_url)
    try:
        with _client(other, store_url) as reader:
            for _ in range(2):
                assert _display(reader.get(LOOKUP, params={"system": CS_URL, "code": "red"})) == "Red"
            assert client.put("/fhir/CodeSystem/colours", json=colours("Crimson")).status_code == 200
            assert _display(reader.get(LOOKUP, params={"system": CS_URL, "code": "red"})) == "Crimson"
    finally:
        other.dispose()


def test_a_load_by_another_process_is_seen_by_the_next_request(client: TestClient, store_url: str,
                                                               tmp_path: Path) -> None:
    for _ in range(2):
        assert _display(client.get(LOOKUP, params={"system": CS_URL, "code": "red"})) == "Red"
    release = tmp_path / "colours.json"
    release.write_text(json.dumps({**colours("Vermilion"), "version": "2"}))
    loaded = subprocess.run([sys.executable, "-m", "termsvc.cli.main", "--db", store_url, "load", "fhir", str(release)],
                            env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    assert _display(client.get(LOOKUP, params={"system": CS_URL, "code": "red"})) == "Vermilion"


def test_the_format_asked_for_is_part_of_the_key(client: TestClient) -> None:
    params = {"system": CS_URL, "code": "red"}
    assert client.get(LOOKUP, params=params).headers["content-type"].startswith("application/fhir+json")
    xml = client.get(LOOKUP, params=params, headers={"Accept": "application/fhir+xml"})
    assert xml.headers["content-type"].startswith("application/fhir+xml")
    assert xml.text.lstrip().startswith("<")


def test_a_browser_origin_is_part_of_the_key(client: TestClient) -> None:
    params = {"system": CS_URL, "code": "red"}
    for _ in range(2):
        assert "access-control-allow-origin" not in client.get(LOOKUP, params=params).headers
    from_browser = client.get(LOOKUP, params=params, headers={"Origin": "https://app.example.org"})
    assert from_browser.headers["access-control-allow-origin"] == "*"


def test_a_posted_body_is_part_of_the_key(client: TestClient) -> None:
    def validate(code: str) -> bool:
        body = {"resourceType": "Parameters", "parameter": [
            {"name": "url", "valueUri": CS_URL}, {"name": "code", "valueCode": code}]}
        response = client.post("/fhir/CodeSystem/$validate-code", json=body)
        assert response.status_code == 200, response.text
        return bool(next(p["valueBoolean"] for p in response.json()["parameter"] if p["name"] == "result"))

    assert validate("red") is True
    assert validate("green") is False
    before = _hits(client)
    assert validate("red") is True
    assert _hits(client) == before + 1


def test_errors_are_never_kept(client: TestClient) -> None:
    params = {"system": "http://example.org/cs/unknown", "code": "x"}
    assert client.get(LOOKUP, params=params).status_code == 404
    before = _hits(client)
    assert client.get(LOOKUP, params=params).status_code == 404
    assert _hits(client) == before


def test_a_caller_asking_for_no_cache_gets_a_fresh_answer(client: TestClient) -> None:
    client.get(LOOKUP, params={"system": CS_URL, "code": "red"})
    before = _hits(client)
    fresh = client.get(LOOKUP, params={"system": CS_URL, "code": "red"}, headers={"Cache-Control": "no-cache"})
    assert fresh.status_code == 200
    assert _hits(client) == before


def test_a_conditional_request_still_gets_304(client: TestClient) -> None:
    tag = client.get(LOOKUP, params={"system": CS_URL, "code": "red"}).headers["etag"]
    again = client.get(LOOKUP, params={"system": CS_URL, "code": "red"}, headers={"If-None-Match": tag})
    assert again.status_code == 304


def _requests(client: TestClient, operation: str) -> float:
    text = client.get("/metrics").text
    found = re.search(rf'^termsvc_http_requests_total\{{method="GET",operation="{re.escape(operation)}",'
                      rf'status="200"\}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_kept_answers_are_counted_under_their_operation(client: TestClient) -> None:
    before, unmatched = _requests(client, LOOKUP), _requests(client, "unmatched")
    for _ in range(3):
        client.get(LOOKUP, params={"system": CS_URL, "code": "blue"})
    assert _requests(client, LOOKUP) == before + 3
    assert _requests(client, "unmatched") == unmatched


def test_reads_that_need_a_token_are_never_served_from_a_kept_answer(engine: Engine, store_url: str) -> None:
    with _client(engine, store_url, auth_required_for_reads=True) as guarded:
        token = tokens.issue(engine, "reader", "system/*.read system/*.cud")
        guarded.headers["Authorization"] = f"Bearer {token}"
        assert guarded.put("/fhir/CodeSystem/colours", json=colours()).status_code == 201
        assert guarded.get(LOOKUP, params={"system": CS_URL, "code": "red"}).status_code == 200
        del guarded.headers["Authorization"]
        assert guarded.get(LOOKUP, params={"system": CS_URL, "code": "red"}).status_code == 401


def test_concurrent_callers_share_a_read_started_after_they_asked(engine: Engine) -> None:
    watch = GenerationWatch(engine)

    async def scenario() -> tuple[set[int], int, int]:
        together = await asyncio.gather(*(watch.latest() for _ in range(20)))
        with engine.begin() as conn:
            generation.bump(conn)
        after = await watch.latest()
        return {g.number for g in together}, together[0].number, after.number

    numbers, before, after = asyncio.run(scenario())
    assert len(numbers) == 1
    assert after == before + 1
