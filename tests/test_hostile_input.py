"""Hostile input is a 4xx with a clear OperationOutcome, never a 500, a dropped connection or a server limit
walked around; on SQLite and PostgreSQL. Each case is one an attacker (or a broken client) sent and that
once answered 500, hung, parsed 256 MB, or pointed links at a host of the client's choosing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from termsvc.api.app import create_app
from termsvc.auth import tokens
from termsvc.auth.audit import KEPT_BACK
from termsvc.settings import Settings
from termsvc.store.loadrun import load_run
from tests.live_server import live_server
from tests.server_support import serving
from tests.test_auth import AUDIENCE, ISSUER, _jwt, jwks_url  # noqa: F401 (jwks_url is a fixture)

SYSTEM = "http://example.org/cs/numbers"
VS_URL = "http://example.org/vs/numbers"
SIZE = 120
LIMIT = 64 * 1024
HUGE = str(2**63)


def _load(engine: Engine, *, odd_title: str | None = None) -> None:
    with load_run(engine, "test", "numbers") as run:
        writer = run.code_system({"url": SYSTEM, "version": "1", "content": "complete"})
        for n in range(SIZE):
            writer.add_concept(f"n{n:03d}", f"Number {n}")
        writer.finish()
        run.value_set({"resourceType": "ValueSet", "id": "numbers", "url": VS_URL, "version": "1",
                       "status": "active", "title": odd_title or "Numbers",
                       "compose": {"include": [{"system": SYSTEM}]}})


def _settings(store_url: str, **extra: Any) -> Settings:
    return Settings(database_url=store_url, max_request_bytes=LIMIT, **extra)


@pytest.fixture
def client(engine: Engine, store_url: str) -> Iterator[TestClient]:
    _load(engine)
    with TestClient(create_app(_settings(store_url, max_expansion_size=50), engine=engine)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {tokens.issue(engine, 'writer', 'system/*.cud')}"
        yield test_client


def _refused(response: httpx.Response, status: int = 400, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    if code:
        assert body["issue"][0]["code"] == code
    return body


def _audit_rows(engine: Engine) -> int:
    KEPT_BACK.flush()
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM audit_entry")).scalar_one())


def _value_set(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "url": "http://example.org/vs/new", "version": "1", "status": "active",
            "compose": {"include": [{"system": SYSTEM}]}, **extra}


# ---- NUL characters -----------------------------------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.parametrize("path", ["/fhir/CodeSystem/$lookup?system=http://x%00&code=a",
                                  "/fhir/ValueSet/$expand?url=http://example.org/vs/numbers%00",
                                  "/fhir/ValueSet?name=a%00", "/fhir/ValueSet/num%00bers",
                                  "/fhir/CodeSystem/$validate-code?url=" + SYSTEM + "&code=n%00"])
def test_a_nul_in_a_read_path_or_parameter_is_400(client: TestClient, path: str) -> None:
    _refused(client.get(path), 400, "invalid")


@pytest.mark.postgres
def test_a_nul_in_an_operation_body_is_400(client: TestClient) -> None:
    body = {"resourceType": "Parameters", "parameter": [{"name": "url", "valueUri": VS_URL + "\u0000"}]}
    _refused(client.post("/fhir/ValueSet/$expand", json=body), 400, "invalid")


@pytest.mark.postgres
def test_an_escaped_backslash_before_u0000_is_not_a_nul(client: TestClient) -> None:
    body = {"resourceType": "Parameters", "parameter": [{"name": "url", "valueUri": VS_URL},
                                                        {"name": "filter", "valueString": "\\u0000"}]}
    assert client.post("/fhir/ValueSet/$expand", json=body).status_code == 200


@pytest.mark.postgres
@pytest.mark.parametrize(("method", "path", "body"), [
    ("PUT", "/fhir/ValueSet/a%00b", _value_set()),
    ("PUT", "/fhir/ValueSet/new", _value_set(title="a\u0000b")),
    ("POST", "/fhir/ValueSet", _value_set(title="a\u0000b")),
    ("PUT", "/fhir/ValueSet?url=http://example.org/vs/new%00", _value_set()),
    ("DELETE", "/fhir/ValueSet/a%00b", None),
])
def test_a_write_with_a_nul_is_400_and_audited(client: TestClient, engine: Engine, method: str, path: str,
                                               body: dict[str, Any] | None) -> None:
    before = _audit_rows(engine)
    _refused(client.request(method, path, json=body), 400)
    assert _audit_rows(engine) == before + 1


@pytest.mark.postgres
def test_a_stored_value_set_with_characters_xml_cannot_carry_is_still_rendered_as_xml(
        engine: Engine, store_url: str, engine_name: str) -> None:
    # PostgreSQL text cannot hold a NUL (SQLite can); neither can XML hold it or \x01
    _load(engine, odd_title="Numbers\x01" + ("\x00" if engine_name == "sqlite" else ""))
    with TestClient(create_app(_settings(store_url), engine=engine)) as client:
        answer = client.get("/fhir/ValueSet/numbers", params={"_format": "xml"})
        assert answer.status_code == 200
        assert "Numbers\ufffd" in answer.text
        assert client.get("/fhir/ValueSet/numbers").json()["title"].startswith("Numbers\x01")


# ---- shapes the fuzzer found -------------------------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.parametrize("resource", [[1, 2], "ValueSet", {"url": VS_URL}])
def test_a_resource_parameter_that_is_not_a_resource_is_400(client: TestClient, resource: Any) -> None:
    body = {"resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": resource},
                                                        {"name": "code", "valueCode": "1"}]}
    _refused(client.post("/fhir/ValueSet/$validate-code", json=body), 400, "invalid")


@pytest.mark.postgres
def test_parts_that_are_not_parameters_are_400(client: TestClient) -> None:
    body = {"resourceType": "Parameters", "parameter": [{"name": "tx-resource", "part": {"name": "x"}}]}
    _refused(client.post("/fhir/ValueSet/$expand", json=body), 400, "invalid")


@pytest.mark.postgres
def test_a_coding_whose_system_is_not_a_string_is_400(client: TestClient) -> None:
    body = {"resourceType": "Parameters",
            "parameter": [{"name": "coding", "valueCoding": {"system": [SYSTEM], "code": "1"}}]}
    _refused(client.post("/fhir/ConceptMap/$translate", json=body), 400, "invalid")


@pytest.mark.postgres
@pytest.mark.parametrize("resource_type", ["CodeSystem", "ValueSet", "ConceptMap"])
def test_an_id_of_digits_that_are_not_decimal_is_no_match(client: TestClient, resource_type: str) -> None:
    # '²' is a digit to str.isdigit() but not to int(): the fuzzer's _id=² was a 500
    answer = client.get(f"/fhir/{resource_type}", params={"_id": "\u00b2"})
    assert answer.status_code == 200, answer.text[:500]
    assert answer.json()["total"] == 0


@pytest.mark.postgres
def test_a_threshold_header_of_superscript_digits_is_ignored(client: TestClient) -> None:
    answer = client.get("/fhir/ValueSet/$expand", params={"url": VS_URL, "count": "5"},
                        headers={"X-Too-Costly-Threshold": "\u00b2".encode("latin-1")})
    assert answer.status_code == 200, answer.text[:500]


# ---- numbers ------------------------------------------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.parametrize("path", ["/fhir/ValueSet?_offset=" + HUGE, "/fhir/CodeSystem?_count=" + HUGE,
                                  "/fhir/ConceptMap?_offset=" + HUGE,
                                  f"/fhir/ValueSet/$expand?url={VS_URL}&offset={HUGE}",
                                  f"/fhir/ValueSet/$expand?url={VS_URL}&count={HUGE}",
                                  f"/fhir/ValueSet/$expand?url={VS_URL}&count=-{HUGE}",
                                  "/fhir/ValueSet?_count=" + "9" * 5000,
                                  f"/fhir/ValueSet/$expand?url={VS_URL}&offset=" + "9" * 5000])
def test_an_integer_of_2_to_the_63_or_of_thousands_of_digits_is_400(client: TestClient, path: str) -> None:
    _refused(client.get(path), 400, "invalid")


# ---- authorization headers ----------------------------------------------------------------------------------

@pytest.fixture
def jwt_client(engine: Engine, store_url: str, jwks_url: str) -> Iterator[TestClient]:  # noqa: F811
    settings = _settings(store_url, auth_issuer=ISSUER, auth_jwks_url=jwks_url, auth_audience=AUDIENCE)
    with TestClient(create_app(settings, engine=engine)) as test_client:
        yield test_client


@pytest.mark.postgres
@pytest.mark.parametrize("kid", ["rsa-1\r\nX-Injected: yes", "ключ-1", "k\"id\\", "\x00"])
def test_a_jwt_kid_of_any_text_is_401_and_not_reflected(jwt_client: TestClient, kid: str) -> None:
    answer = jwt_client.put("/fhir/ValueSet/new", json=_value_set(),
                            headers={"Authorization": f"Bearer {_jwt(kid=kid)}"})
    _refused(answer, 401, "security")
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="termsvc", error="invalid_token"')
    assert "X-Injected" not in challenge and "ключ" not in challenge and "rsa-1" not in challenge
    assert "X-Injected" not in answer.headers


# ---- sizes --------------------------------------------------------------------------------------------------

@pytest.mark.postgres
def test_a_compose_of_a_thousand_includes_is_expanded(engine: Engine, store_url: str) -> None:
    # SQLite refused the statement built from it (an expression tree deeper than 1,000)
    _load(engine)
    compose = {"include": [{"system": SYSTEM, "concept": [{"code": f"n{n % SIZE:03d}"}]} for n in range(1000)]
               + [{"system": SYSTEM, "filter": [{"property": "concept", "op": "is-a", "value": f"n{n:03d}"}]}
                  for n in range(1000)]}
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "valueSet", "resource": {"resourceType": "ValueSet", "status": "active", "compose": compose}},
        {"name": "count", "valueInteger": 10}]}
    with TestClient(create_app(Settings(database_url=store_url), engine=engine)) as client:
        answer = client.post("/fhir/ValueSet/$expand", json=body)
    assert answer.status_code == 200, answer.text[:500]
    assert answer.json()["expansion"]["total"] == SIZE


def _chunks(total: int, size: int = 16 * 1024) -> Iterator[bytes]:
    """A body sent chunked (no Content-Length): JSON that stays valid however long it gets."""
    yield b'{"resourceType": "Parameters", "parameter": [], "padding": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}'


@pytest.fixture
def server(engine: Engine, store_url: str) -> Iterator[str]:
    _load(engine)
    with live_server(create_app(_settings(store_url), engine=engine)) as base:
        yield base


@pytest.mark.postgres
@pytest.mark.parametrize("path", ["/fhir/ValueSet/$expand", "/fhir/ValueSet", "/fhir"])
def test_a_chunked_body_over_the_limit_is_413(server: str, path: str) -> None:
    answer = httpx.post(server + path, content=_chunks(20 * LIMIT), timeout=60,
                        headers={"Content-Type": "application/fhir+json"})
    _refused(answer, 413, "too-long")


@pytest.mark.postgres
def test_a_chunked_body_within_the_limit_is_read(server: str) -> None:
    answer = httpx.post(server + "/fhir/ValueSet/$expand", content=_chunks(LIMIT // 2), timeout=60,
                        params={"url": VS_URL, "count": "1"}, headers={"Content-Type": "application/fhir+json"})
    assert answer.status_code == 200, answer.text[:500]


# ---- limits the client may lower, never raise --------------------------------------------------------------

@pytest.mark.postgres
def test_x_too_costly_threshold_cannot_raise_the_expansion_limit(client: TestClient) -> None:
    answer = client.get("/fhir/ValueSet/$expand", params={"url": VS_URL},
                        headers={"X-Too-Costly-Threshold": "100000000"})
    _refused(answer, 422, "too-costly")


@pytest.mark.postgres
def test_x_too_costly_threshold_can_lower_the_expansion_limit(engine: Engine, store_url: str) -> None:
    _load(engine)
    with TestClient(create_app(_settings(store_url), engine=engine)) as client:
        assert client.get("/fhir/ValueSet/$expand", params={"url": VS_URL}).status_code == 200
        lowered = client.get("/fhir/ValueSet/$expand", params={"url": VS_URL},
                             headers={"X-Too-Costly-Threshold": "10"})
        _refused(lowered, 422, "too-costly")


# ---- absolute URLs ------------------------------------------------------------------------------------------

@pytest.mark.postgres
def test_links_and_locations_never_come_from_the_host_header(client: TestClient) -> None:
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    bundle = client.get("/fhir/ValueSet", headers=evil).json()
    assert bundle["entry"] and all("evil.example" not in e["fullUrl"] for e in bundle["entry"])
    assert all("evil.example" not in link["url"] for link in bundle["link"])
    written = client.put("/fhir/ValueSet/new", json=_value_set(), headers=evil)
    assert written.status_code == 201
    assert "evil.example" not in written.headers["Location"]


@pytest.mark.postgres
def test_a_trusted_proxy_names_the_public_base(engine: Engine, store_url: str) -> None:
    _load(engine)
    settings = _settings(store_url, trusted_proxies=("testclient",))
    with TestClient(create_app(settings, engine=engine)) as client:
        bundle = client.get("/fhir/ValueSet", headers={"X-Forwarded-Host": "tx.example.org",
                                                        "X-Forwarded-Proto": "https", "X-Forwarded-Prefix": "/api"})
        assert bundle.json()["entry"][0]["fullUrl"] == "https://tx.example.org/api/fhir/ValueSet/numbers"
        spoofed = client.get("/fhir/ValueSet", headers={"X-Forwarded-Host": "evil.example/x?"})
        assert "evil.example" not in spoofed.json()["entry"][0]["fullUrl"]


@pytest.mark.postgres
def test_a_proxy_on_the_same_host_is_judged_by_its_own_address(engine: Engine, store_url: str) -> None:
    """`termsvc serve` behind a proxy on 127.0.0.1: the proxy's address is what TERMSVC_TRUSTED_PROXIES names, not
    the client address the proxy forwards (uvicorn's own proxy-headers middleware put that in its place)."""
    _load(engine)
    with serving(store_url, via_cli=True, TERMSVC_TRUSTED_PROXIES="127.0.0.1") as base:
        bundle = httpx.get(f"{base}/fhir/ValueSet", headers={
            "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "tx.example.org", "X-Forwarded-Proto": "https"})
        entries = bundle.json()["entry"]
        assert entries and all(e["fullUrl"].startswith("https://tx.example.org/fhir/ValueSet/") for e in entries)


@pytest.mark.postgres
def test_the_configured_base_url_wins(engine: Engine, store_url: str) -> None:
    _load(engine)
    settings = _settings(store_url, base_url="https://terminology.example.org/fhir", trusted_proxies=("testclient",))
    with TestClient(create_app(settings, engine=engine)) as client:
        bundle = client.get("/fhir/ValueSet", headers={"X-Forwarded-Host": "other.example"})
        assert bundle.json()["entry"][0]["fullUrl"] == "https://terminology.example.org/fhir/ValueSet/numbers"
