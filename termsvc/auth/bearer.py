"""From a request to a Principal: the `Authorization: Bearer` header, verified as a local token or as a JWT
from the configured issuer. FastAPI dependencies here keep the routers thin: `read_access` (installed on the
whole app) enforces read scopes when the settings require them; `credentials` hands the write routes the
caller or the reason it was refused, so a refusal can be audited before it is raised."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import Engine

from termsvc.auth import tokens
from termsvc.auth.jwt_tokens import verifier
from termsvc.auth.principal import AuthError, Principal, insufficient_scope, invalid_token, missing_token
from termsvc.auth.scopes import READ, SEARCH, allows, needed_scope
from termsvc.settings import Settings

_BEARER = re.compile(r"^\s*Bearer\s+(?P<token>[A-Za-z0-9\-._~+/]+=*)\s*$", re.IGNORECASE)
# paths a client must reach before it has a token (SMART discovery reads the CapabilityStatement)
_OPEN_PATHS = frozenset({"/fhir/metadata", "/healthz"})


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header; None without one; 401 when it is malformed."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    match = _BEARER.match(header)
    if match is None:
        raise invalid_token("The Authorization header must be 'Bearer <token>'")
    return match["token"]


def _looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def authenticate(request: Request) -> Principal:
    """The caller; 401 without a token or with one that does not verify."""
    token = bearer_token(request)
    if token is None:
        raise missing_token()
    settings: Settings = request.app.state.settings
    if _looks_like_jwt(token):
        if not settings.auth_issuer or not settings.auth_jwks_url:
            raise invalid_token("This server accepts no JWTs: no issuer is configured")
        return verifier(settings.auth_issuer, settings.auth_jwks_url, settings.auth_audience).verify(token)
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        return tokens.verify(conn, token)


def authorise(principal: Principal, resource_type: str, permission: str) -> None:
    if not allows(principal.scopes, resource_type, permission):
        raise insufficient_scope(f"The token of {principal.display} does not grant "
                                 f"{needed_scope(resource_type, permission)}")


@dataclass(frozen=True)
class Credentials:
    """The caller, or why it could not be identified (raised by the route after auditing)."""

    principal: Principal | None
    error: AuthError | None

    def require(self) -> Principal:
        if self.error is not None:
            raise self.error
        assert self.principal is not None
        return self.principal


def credentials(request: Request) -> Credentials:
    try:
        return Credentials(authenticate(request), None)
    except AuthError as exc:
        return Credentials(None, exc)


def _resource_type(path: str) -> str | None:
    parts = path.split("/")
    # /fhir/{Type}[/...]: a resource type starts with a capital; /fhir alone is the batch endpoint
    if len(parts) >= 3 and parts[1] == "fhir" and parts[2][:1].isupper():
        return parts[2]
    return None


def is_write(method: str, path: str) -> bool:
    if method in ("PUT", "DELETE", "PATCH"):
        return True
    # POST /fhir/{Type} creates; POST /fhir/{Type}[/{id}]/$op is an operation (a read)
    return method == "POST" and "$" not in path and _resource_type(path) is not None


def read_access(request: Request) -> None:
    """App-wide dependency: when reads require a token, every read (read, search, operations) needs one
    with `r` (instance reads and operations) or `s` (searches) on the resource type. Writes check their own
    scopes (and audit); the batch endpoint dispatches each entry through the app, so each is checked.
    A plain `def`: verifying a token reads the store or fetches the issuer's keys, which must not happen on
    the event loop (FastAPI runs it in the worker pool)."""
    settings: Settings = request.app.state.settings
    path = request.url.path.rstrip("/")
    if not settings.auth_required_for_reads or path in _OPEN_PATHS or is_write(request.method, request.url.path):
        return
    resource_type = _resource_type(path)
    if resource_type is None:
        return
    principal = authenticate(request)
    parts = path.split("/")
    permission = SEARCH if len(parts) == 3 and request.method == "GET" else READ
    authorise(principal, resource_type, permission)
