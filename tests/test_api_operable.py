"""What an operator relies on, over real HTTP on SQLite and PostgreSQL: liveness and readiness probes,
Prometheus metrics, request ids and the JSON access log, CORS preflights, gzip, ETag / If-None-Match."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text

from termsvc.api.app import create_app
from termsvc.api.middleware import ACCESS_LOG
from termsvc.settings import Settings
from termsvc.store.engine import make_engine
from termsvc.store.loadrun import load_run

COLOURS = "http://example.org/fhir/CodeSystem/colours"


def _load(engine: Engine) -> None:
    with load_run(engine, "fhir", "test") as run:
        cs = run.code_system({"resourceType": "CodeSystem", "id": "colours", "url": COLOURS, "version": "1",
                              "name": "Colours", "status": "active", "content": "complete"})
        for n in range(200):  # big enough for a read to be worth compressing
            cs.add_concept(f"c{n}", f"Colour number {n}")
        cs.finish()


@pytest.fixture
def client(engine: Engine, store_url: str) -> Iterator[TestClient]:
    _load(engine)
    with TestClient(create_app(Settings(database_url=store_url), engine=engine)) as test_client:
        yield test_client


def _samples(client: TestClient, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    body = client.get("/metrics").text
    return {tuple(sorted(s.labels.items())): s.value for family in text_string_to_metric_families(body)
            for s in family.samples if s.name == name}


def test_liveness_answers_without_the_store(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readiness_checks_the_store_and_its_schema(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_readiness_fails_when_the_schema_is_behind(client: TestClient, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["schema"] == "0001"


def test_readiness_fails_when_the_store_is_unreachable(store_url: str, tmp_path: Path) -> None:
    # nothing listens on port 1; a folder is no SQLite file
    broken = make_engine("postgresql://nobody@127.0.0.1:1/none" if "postgresql" in store_url
                         else f"sqlite:///{tmp_path}")
    with TestClient(create_app(Settings(database_url=store_url), engine=broken)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["store"].startswith("unreachable")


def test_metrics_count_requests_by_operation_and_status(client: TestClient) -> None:
    name = "termsvc_http_requests_total"
    ok = (("method", "GET"), ("operation", "/fhir/CodeSystem/$lookup"), ("status", "200"))
    missing = (("method", "GET"), ("operation", "/fhir/CodeSystem/$lookup"), ("status", "404"))
    before = _samples(client, name)
    client.get("/fhir/CodeSystem/$lookup", params={"system": COLOURS, "code": "c1"})
    client.get("/fhir/CodeSystem/$lookup", params={"system": COLOURS, "code": "c1"})
    client.get("/fhir/CodeSystem/$lookup", params={"system": "http://example.org/none", "code": "c1"})
    after = _samples(client, name)
    assert after[ok] - before.get(ok, 0) == 2
    assert after[missing] - before.get(missing, 0) == 1


def test_metrics_have_latency_histograms_and_the_stores_loads(client: TestClient) -> None:
    client.get("/fhir/CodeSystem", params={"_id": "colours"})
    buckets = _samples(client, "termsvc_http_request_duration_seconds_bucket")
    assert any(dict(labels).get("operation") == "/fhir/CodeSystem" for labels in buckets)
    loads = _samples(client, "termsvc_loads")
    assert loads[(("kind", "fhir"), ("status", "completed"))] == 1


def test_metrics_count_the_per_process_cache_hits(client: TestClient) -> None:
    label = (("cache", "value set versions"),)
    before = _samples(client, "termsvc_cache_hits_total").get(label, 0)
    for _ in range(3):  # the versions of a value set url are looked up once, then kept (none, here)
        client.get("/fhir/ValueSet/$expand", params={"url": "http://example.org/fhir/ValueSet/none"})
    after = _samples(client, "termsvc_cache_hits_total")
    assert after[label] - before >= 2
    assert _samples(client, "termsvc_cache_entries")[label] >= 1


def test_a_request_id_is_echoed_or_made(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-Id": "req-42"}).headers["x-request-id"] == "req-42"
    made = client.get("/healthz").headers["x-request-id"]
    assert len(made) == 32
    # an id that could forge a log line is replaced
    assert client.get("/healthz", headers={"X-Request-Id": "a\"b c"}).headers["x-request-id"] != "a\"b c"


def test_each_request_is_one_json_access_log_line(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=ACCESS_LOG.name):
        client.get("/fhir/CodeSystem/colours", headers={"X-Request-Id": "trace-1"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOG.name]
    assert len(lines) == 1
    line = lines[0]
    assert (line["request_id"], line["method"], line["status"]) == ("trace-1", "GET", 200)
    assert line["operation"] == "/fhir/CodeSystem/{resource_id}"
    assert line["duration_ms"] > 0


def test_a_browser_preflight_is_answered_not_405(client: TestClient) -> None:
    response = client.options("/fhir/CodeSystem/$lookup", headers={
        "Origin": "https://app.example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]


def test_cors_is_configurable_and_off_when_no_origin_is_allowed(engine: Engine, store_url: str) -> None:
    only = create_app(Settings(database_url=store_url, cors_origins="https://app.example.org"), engine=engine)
    with TestClient(only) as client:
        allowed = client.get("/healthz", headers={"Origin": "https://app.example.org"})
        other = client.get("/healthz", headers={"Origin": "https://evil.example.org"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.org"
    assert "access-control-allow-origin" not in other.headers
    with TestClient(create_app(Settings(database_url=store_url, cors_origins=""), engine=engine)) as client:
        preflight = client.options("/fhir/metadata", headers={"Origin": "https://a.example.org",
                                                              "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers


def test_large_answers_are_gzipped_when_accepted(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/colours", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["id"] == "colours"  # the client decompressed it
    raw = client.get("/fhir/CodeSystem/colours", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert len(gzip.compress(raw.content)) < len(raw.content)


def test_reads_carry_an_etag_and_if_none_match_gives_304(client: TestClient) -> None:
    first = client.get("/fhir/CodeSystem/colours")
    tag = first.headers["etag"]
    again = client.get("/fhir/CodeSystem/colours", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == tag
    other = client.get("/fhir/CodeSystem/colours", headers={"If-None-Match": 'W/"something-else"'})
    assert other.status_code == 200


def test_the_etag_changes_when_the_resource_does(client: TestClient, engine: Engine) -> None:
    tag = client.get("/fhir/CodeSystem/colours").headers["etag"]
    with engine.begin() as conn:
        conn.execute(text("UPDATE code_system SET title = 'Renamed' WHERE url = :u"), {"u": COLOURS})
        conn.execute(text("UPDATE code_system SET resource_json = REPLACE(resource_json, '\"name\"', "
                          "'\"title\":\"Renamed\",\"name\"') WHERE url = :u"), {"u": COLOURS})
    assert client.get("/fhir/CodeSystem/colours", headers={"If-None-Match": tag}).status_code == 200


def test_a_nul_character_in_the_query_is_refused_with_400(client: TestClient) -> None:
    response = client.get("/fhir/ValueSet?name=%00")
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
