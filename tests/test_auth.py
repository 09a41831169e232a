"""Authorisation: SMART v2 (and v1) system scopes, local opaque tokens, JWTs verified against an issuer's
JWKS (served here by a loopback HTTP server, keys made in the test), 401/403 answers, reads that may be made to
require a token, and the `termsvc token` CLI. Store tests run on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import Engine
from typer.testing import CliRunner

from termsvc.api.app import create_app
from termsvc.auth import tokens
from termsvc.auth.scopes import allows, permissions
from termsvc.cli.main import app as cli_app
from termsvc.settings import Settings

ISSUER = "https://issuer.example.org"
AUDIENCE = "https://tx.example.org/fhir"
MAP = {"resourceType": "ConceptMap", "url": "http://example.org/cm/a", "version": "1", "status": "active",
       "group": [{"source": "http://example.org/a", "target": "http://example.org/b",
                  "element": [{"code": "1", "target": [{"code": "one", "equivalence": "equivalent"}]}]}]}

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
STRANGER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


# ---- scopes -----------------------------------------------------------------------------------------------

def test_v2_cud_scope_grants_create_update_delete_on_its_type_only() -> None:
    assert all(allows(["system/ConceptMap.cud"], "ConceptMap", p) for p in "cud")
    assert not allows(["system/ConceptMap.cud"], "ConceptMap", "r")
    assert not allows(["system/ConceptMap.cud"], "ValueSet", "c")


def test_single_letter_scopes_grant_one_interaction() -> None:
    assert allows(["system/ConceptMap.c"], "ConceptMap", "c")
    assert not allows(["system/ConceptMap.c"], "ConceptMap", "u")
    assert allows(["system/ConceptMap.u"], "ConceptMap", "u")
    assert allows(["system/ConceptMap.d"], "ConceptMap", "d")


def test_wildcard_type_and_v1_scopes_are_accepted() -> None:
    assert allows(["system/*.cud"], "ValueSet", "d")
    assert allows(["system/ConceptMap.write"], "ConceptMap", "u")
    assert allows(["system/*.*"], "CodeSystem", "c")
    assert allows(["system/ValueSet.read"], "ValueSet", "s")
    assert not allows(["system/ValueSet.read"], "ValueSet", "c")


def test_user_and_patient_scopes_and_restricted_scopes_grant_nothing() -> None:
    assert not allows(["user/ConceptMap.cud", "patient/*.cud"], "ConceptMap", "c")
    assert not allows(["system/ConceptMap.cud?status=active"], "ConceptMap", "c")


def test_letters_out_of_order_are_not_a_v2_scope() -> None:
    assert permissions("system/ConceptMap.dc", "ConceptMap") == ""


@given(st.sets(st.sampled_from("cruds")))
def test_any_ordered_subset_of_cruds_grants_exactly_its_letters(letters: set[str]) -> None:
    perm = "".join(c for c in "cruds" if c in letters)
    granted = permissions(f"system/ValueSet.{perm}", "ValueSet")
    assert set(granted) == letters


# ---- a JWKS served on loopback ------------------------------------------------------------------------------

def _jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = RSAAlgorithm if alg == "RS256" else ECAlgorithm
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    return jwk


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    body = json.dumps({"keys": [_jwk(RSA_KEY, "rsa-1", "RS256"), _jwk(EC_KEY, "ec-1", "ES256")]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()


def _jwt(*, key: Any = RSA_KEY, kid: str = "rsa-1", alg: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "client-7", "iat": now, "exp": now + 300,
               "scope": "system/ConceptMap.cud", **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm=alg,
                      headers={"kid": kid})


@pytest.fixture
def client(engine: Engine, store_url: str, jwks_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=store_url, auth_issuer=ISSUER, auth_jwks_url=jwks_url,
                        auth_audience=AUDIENCE)
    with TestClient(create_app(settings, engine=engine)) as test_client:
        yield test_client


def _create(client: TestClient, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/fhir/ConceptMap", json=MAP, headers=headers)


def test_write_without_a_token_is_401_with_a_bearer_challenge(client: TestClient) -> None:
    response = _create(client, None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "error=" not in response.headers["www-authenticate"]
    assert response.json()["resourceType"] == "OperationOutcome"


def test_unknown_token_is_401_invalid_token(client: TestClient) -> None:
    response = _create(client, "tsv_not-a-real-token")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_malformed_authorization_header_is_401(client: TestClient) -> None:
    response = client.post("/fhir/ConceptMap", json=MAP, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401


def test_local_token_with_the_scope_may_create(client: TestClient, engine: Engine) -> None:
    token = tokens.issue(engine, "ci", "system/ConceptMap.c")
    assert _create(client, token).status_code == 201


def test_token_with_the_wrong_scope_is_403_forbidden(client: TestClient, engine: Engine) -> None:
    token = tokens.issue(engine, "reader", "system/ConceptMap.rs system/ValueSet.cud")
    response = _create(client, token)
    assert response.status_code == 403
    assert response.json()["issue"][0]["code"] == "forbidden"


def test_create_scope_alone_may_not_update(client: TestClient, engine: Engine) -> None:
    token = tokens.issue(engine, "creator", "system/ConceptMap.c")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.put("/fhir/ConceptMap/a", json=MAP, headers=headers).status_code == 201
    assert client.put("/fhir/ConceptMap/a", json=MAP, headers=headers).status_code == 403
    assert client.delete("/fhir/ConceptMap/a", headers=headers).status_code == 403


def test_revoked_local_token_is_401(client: TestClient, engine: Engine) -> None:
    token = tokens.issue(engine, "old", "system/*.cud")
    tokens.revoke(engine, "old")
    response = _create(client, token)
    assert response.status_code == 401
    assert "revoked" in response.json()["issue"][0]["details"]["text"]


def test_expired_local_token_is_401(client: TestClient, engine: Engine) -> None:
    token = tokens.issue(engine, "brief", "system/*.cud", expires_in_days=0.00001)
    time.sleep(1.0)
    assert _create(client, token).status_code == 401


def test_tokens_are_stored_as_sha256_only(engine: Engine) -> None:
    token = tokens.issue(engine, "hashed", "system/*.cud")
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT token_hash FROM api_token").scalar_one()
    assert stored == tokens.digest(token) and token not in stored


def test_rs256_jwt_from_the_jwks_is_accepted(client: TestClient) -> None:
    assert _create(client, _jwt()).status_code == 201


def test_es256_jwt_with_scp_list_is_accepted(client: TestClient) -> None:
    token = _jwt(key=EC_KEY, kid="ec-1", alg="ES256", scope=None, scp=["system/*.cud"])
    assert _create(client, token).status_code == 201


def test_expired_jwt_is_401(client: TestClient) -> None:
    response = _create(client, _jwt(exp=int(time.time()) - 3600))
    assert response.status_code == 401
    assert "expired" in response.json()["issue"][0]["details"]["text"]


def test_jwt_not_yet_valid_is_401(client: TestClient) -> None:
    assert _create(client, _jwt(nbf=int(time.time()) + 3600)).status_code == 401


def test_jwt_for_another_audience_is_401(client: TestClient) -> None:
    assert _create(client, _jwt(aud="https://elsewhere.example.org")).status_code == 401


def test_jwt_from_another_issuer_is_401(client: TestClient) -> None:
    assert _create(client, _jwt(iss="https://evil.example.org")).status_code == 401


def test_jwt_signed_by_a_key_not_in_the_jwks_is_401(client: TestClient) -> None:
    assert _create(client, _jwt(key=STRANGER_KEY)).status_code == 401


def test_jwt_signed_with_a_shared_secret_is_401(client: TestClient) -> None:
    # HS256 would let anyone who read the (public) JWKS mint tokens: only RS256 and ES256 are accepted
    now = int(time.time())
    forged = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 300, "scope": "system/*.cud"},
                        "a-shared-secret-of-at-least-32-bytes!", algorithm="HS256", headers={"kid": "rsa-1"})
    assert _create(client, forged).status_code == 401


def test_jwt_without_exp_is_401(client: TestClient) -> None:
    assert _create(client, _jwt(exp=None)).status_code == 401


def test_jwt_with_insufficient_scope_is_403(client: TestClient) -> None:
    assert _create(client, _jwt(scope="system/ValueSet.cud")).status_code == 403


def test_reads_are_open_by_default(client: TestClient) -> None:
    assert client.get("/fhir/ConceptMap").status_code == 200


def test_reads_can_be_made_to_require_a_read_scope(engine: Engine, store_url: str) -> None:
    settings = Settings(database_url=store_url, auth_required_for_reads=True)
    with TestClient(create_app(settings, engine=engine)) as client:
        reader = tokens.issue(engine, "reader", "system/ConceptMap.rs")
        writer = tokens.issue(engine, "writer", "system/ConceptMap.cud")
        assert client.get("/fhir/ConceptMap").status_code == 401
        assert client.get("/fhir/ConceptMap", headers={"Authorization": f"Bearer {writer}"}).status_code == 403
        assert client.get("/fhir/ConceptMap", headers={"Authorization": f"Bearer {reader}"}).status_code == 200
        translate = client.get("/fhir/ConceptMap/$translate", params={"system": "http://example.org/a", "code": "1"},
                               headers={"Authorization": f"Bearer {reader}"})
        assert translate.status_code == 200
        # discovery stays open: clients read the CapabilityStatement before they have a token
        assert client.get("/fhir/metadata").status_code == 200


# ---- the CLI ------------------------------------------------------------------------------------------------

def test_cli_issues_lists_and_revokes_tokens(tmp_path: Path) -> None:
    runner = CliRunner()
    db = ["--db", f"sqlite:///{tmp_path / 'tokens.db'}"]
    issued = runner.invoke(cli_app, [*db, "token", "issue", "--name", "ci", "--scope", "system/*.cud",
                                     "--expires-in", "30"])
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[-1]
    assert token.startswith(tokens.PREFIX)
    listed = runner.invoke(cli_app, [*db, "token", "list"])
    assert "ci" in listed.output and "system/*.cud" in listed.output and "active" in listed.output
    assert token not in listed.output
    assert runner.invoke(cli_app, [*db, "token", "revoke", "ci"]).exit_code == 0
    assert "revoked" in runner.invoke(cli_app, [*db, "token", "list"]).output
    again = runner.invoke(cli_app, [*db, "token", "revoke", "ci"])
    assert again.exit_code == 1 and "already revoked" in again.output


def test_cli_refuses_a_token_without_scopes(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_app, ["--db", f"sqlite:///{tmp_path / 't.db'}", "token", "issue", "--name", "x",
                                          "--scope", " "])
    assert result.exit_code == 1
    assert "scope" in result.output
