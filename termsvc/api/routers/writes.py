"""Writes over HTTP for CodeSystem, ValueSet and ConceptMap: POST /{type} (create), PUT /{type}/{id}
(create or update), PUT /{type}?url=&version= (conditional update), DELETE /{type}/{id}.

Order of checks: a token (401), the scope for what the request would do (403), the body (400/413/422), then
the write in one transaction. Every attempt, allowed or refused, leaves an audit entry.

A write's time is bounded part by part rather than by the request time budget: its body by
TERMSVC_MAX_REQUEST_BYTES (413 as the bytes arrive), its wait for the store by TERMSVC_WRITE_WAIT (then 409
lock-error with Retry-After), its audit row's wait by audit.AUDIT_WAIT (then spooled); the write itself is then
work in proportion to a body of bounded size, which stopping half-way would only throw away."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from termsvc.api.capabilities import SECURITY, ResourceCapability, declare
from termsvc.api.offload import off_loop
from termsvc.api.render import fhir_response
from termsvc.api.routers import codesystem, conceptmap, valueset
from termsvc.api.routers.metadata import base_url_of
from termsvc.auth.audit import AuditRecord, outcome_for, record
from termsvc.auth.bearer import Credentials, authorise, credentials
from termsvc.auth.principal import ANONYMOUS
from termsvc.auth.scopes import CREATE, DELETE, UPDATE
from termsvc.errors import Invalid, NotFound, TermsvcError
from termsvc.ops import writes
from termsvc.ops.outcome import issue, outcome

router = APIRouter(tags=["writes"])

_READERS: dict[str, Callable[[Request, str], Response]] = {
    "CodeSystem": codesystem.read_answer, "ValueSet": valueset.read_answer, "ConceptMap": conceptmap.read_answer}

_LETTER = {"create": CREATE, "update": UPDATE, "delete": DELETE}


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _write_wait(request: Request) -> float:
    return float(request.app.state.settings.write_wait)


async def _body(request: Request) -> bytes:
    """The body, refused with 413 past the limit also when no Content-Length announced its size."""
    limit = int(request.app.state.settings.max_request_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TermsvcError(f"Request body exceeds the limit of {limit} bytes", "too-long", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def _audited(request: Request, creds: Credentials, resource_type: str, interaction: str,
             work: Callable[[AuditRecord], Any]) -> Any:
    """Run `work` and record the attempt, whatever its outcome; errors propagate to the handlers."""
    who = creds.principal or ANONYMOUS
    entry = AuditRecord(interaction, who.name, who.kind, request.client.host if request.client else None,
                        resource_type)
    try:
        result = work(entry)
        return result
    except TermsvcError as exc:
        entry.http_status, entry.outcome, entry.outcome_desc = exc.status, outcome_for(exc.status), exc.message
        raise
    except Exception as exc:
        entry.http_status, entry.outcome = 500, outcome_for(500)
        entry.outcome_desc = f"Internal error: {type(exc).__name__}"
        raise
    finally:
        record(_engine(request), entry)


def _headers(request: Request, resource_type: str, written: writes.Written) -> dict[str, str]:
    base = base_url_of(request)
    modified = datetime.fromisoformat(written.last_updated.replace("Z", "+00:00"))
    return {"Location": f"{base}/{resource_type}/{written.resource_id}/_history/{written.version_id}",
            "ETag": f'W/"{written.version_id}"', "Last-Modified": format_datetime(modified, usegmt=True)}


def _answer(request: Request, resource_type: str, written: writes.Written) -> Response:
    status = 201 if written.interaction == "create" else 200
    headers = _headers(request, resource_type, written)
    prefer = request.headers.get("prefer", "").replace(" ", "").lower()
    if "return=minimal" in prefer:
        return Response(status_code=status, headers=headers)
    if "return=operationoutcome" in prefer:
        return fhir_response(request, outcome(issue("information", "informational",
                                                    f"{written.interaction}d {resource_type}/{written.resource_id}")),
                             status, headers=headers)
    return fhir_response(request, written.resource, status, headers=headers)


async def _save(request: Request, creds: Credentials, resource_type: str, *, resource_id: str | None = None,
                canonical: tuple[str, str | None] | None = None) -> Response:
    body = b""
    refusal: TermsvcError | None = None
    try:
        body = await _body(request)
    except TermsvcError as exc:
        refusal = exc
    if refusal is not None:
        # refused before the work starts: audit it like any other refusal
        too_large = refusal

        def refuse(entry: AuditRecord) -> None:
            entry.resource_id = resource_id
            raise too_large
        await run_in_threadpool(_audited, request, creds, resource_type, "create" if resource_id is None
                                else "update", refuse)
    engine = _engine(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()

    def work(entry: AuditRecord) -> writes.Written:
        entry.resource_id = resource_id
        principal = creds.require()
        if resource_id is not None:
            writes.check_id(resource_id)
        updating = canonical is not None or resource_id is not None
        if updating and writes.existing_for(engine, resource_type, resource_id=resource_id, canonical=canonical):
            entry.interaction = "update"
        authorise(principal, resource_type, _LETTER[entry.interaction])
        resource = writes.read_resource(body, content_type, resource_type)
        entry.url, entry.version = resource.get("url"), resource.get("version")

        def allowed(interaction: str) -> None:
            entry.interaction = interaction
            authorise(principal, resource_type, _LETTER[interaction])

        written = writes.save(engine, resource_type, resource, authorise=allowed, resource_id=resource_id,
                              canonical=canonical, if_match=request.headers.get("if-match"),
                              wait=_write_wait(request))
        entry.resource_id = written.resource_id
        entry.http_status = 201 if written.interaction == "create" else 200
        return written

    written = await run_in_threadpool(_audited, request, creds, resource_type, "create", work)
    return _answer(request, resource_type, written)


def _vread(resource_type: str) -> Callable[[Request, str, str], Awaitable[Response]]:
    """The version a write's Location names. No history is kept, so only the current version is there to read;
    an older one is 404 saying so, rather than answering with content that is not that version."""
    reader = _READERS[resource_type]

    async def vread(request: Request, resource_id: str, version_id: str) -> Response:
        return await off_loop(request, lambda: answer(request, resource_id, version_id))

    def answer(request: Request, resource_id: str, version_id: str) -> Response:
        with _engine(request).connect() as conn:
            stored = writes.find_by_id(conn, resource_type, resource_id)
        if stored is None:
            raise NotFound(f"{resource_type}/{resource_id} is not known")
        if version_id != str(stored.version_id):
            raise NotFound(f"Version {version_id} of {resource_type}/{resource_id} is not kept: this server keeps "
                           f"only the current version ({stored.version_id})")
        return reader(request, resource_id)

    return vread


def _register(resource_type: str) -> None:
    async def create(request: Request, creds: Credentials = Depends(credentials)) -> Response:
        return await _save(request, creds, resource_type)

    async def update(request: Request, resource_id: str, creds: Credentials = Depends(credentials)) -> Response:
        return await _save(request, creds, resource_type, resource_id=resource_id)

    async def conditional_update(request: Request, creds: Credentials = Depends(credentials)) -> Response:
        query = request.query_params
        unknown = sorted(set(query) - {"url", "version", "_format"})
        url = query.get("url")
        nul = any("\x00" in value for value in query.values())
        if unknown or not url or nul:
            def refuse(entry: AuditRecord) -> None:
                creds.require()
                if nul:
                    raise Invalid("The url or version holds a NUL character, which no FHIR url or version may "
                                  "contain", expression=["url"])
                raise Invalid(f"A conditional update of a {resource_type} is by url (and version): "
                              + (f"unsupported parameter(s) {', '.join(unknown)}" if unknown else "no url given"),
                              expression=unknown or ["url"])
            await run_in_threadpool(_audited, request, creds, resource_type, "update", refuse)
        return await _save(request, creds, resource_type, canonical=(str(url), query.get("version")))

    async def delete(request: Request, resource_id: str, creds: Credentials = Depends(credentials)) -> Response:
        engine = _engine(request)

        def work(entry: AuditRecord) -> writes.Stored | None:
            entry.resource_id = resource_id
            authorise(creds.require(), resource_type, DELETE)
            writes.check_id(resource_id)
            removed = writes.delete(engine, resource_type, resource_id, wait=_write_wait(request))
            if removed is not None:
                entry.url, entry.version = removed.url, removed.version or None
            entry.http_status = 200 if removed else 204
            entry.outcome_desc = None if removed else "Nothing to delete"
            return removed

        removed = await run_in_threadpool(_audited, request, creds, resource_type, "delete", work)
        if removed is None:
            return Response(status_code=204)
        return fhir_response(request, outcome(issue("information", "informational",
                                                    f"Deleted {resource_type}/{resource_id}")))

    prefix = f"/{resource_type}"
    router.add_api_route(prefix, create, methods=["POST"], summary=f"Create a {resource_type} (server-assigned id)")
    router.add_api_route(prefix, conditional_update, methods=["PUT"],
                         summary=f"Conditional update of a {resource_type} by url (and version)")
    router.add_api_route(prefix + "/{resource_id}", update, methods=["PUT"],
                         summary=f"Create or update a {resource_type} by id")
    router.add_api_route(prefix + "/{resource_id}", delete, methods=["DELETE"], summary=f"Delete a {resource_type}")
    router.add_api_route(prefix + "/{resource_id}/_history/{version_id}", _vread(resource_type), methods=["GET"],
                         summary=f"Read the current version of a {resource_type} by its versionId")
    declare(ResourceCapability(resource_type, interactions=["create", "update", "delete", "vread"],
                               extras={"updateCreate": True, "conditionalUpdate": True}))


for _type in writes.TYPES:
    _register(_type)

_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"
SECURITY.update({
    "cors": False,
    "service": [{"coding": [{"system": _SERVICE, "code": "SMART-on-FHIR", "display": "SMART-on-FHIR"}]},
                {"coding": [{"system": _SERVICE, "code": "OAuth", "display": "OAuth"}]}],
    "description": "Writes need a bearer token (a JWT from the configured OAuth 2.0 issuer, verified with its JWKS, or "
                   "a token issued by `termsvc token issue`) with the SMART v2 system scope for the type and "
                   "interaction, e.g. system/ConceptMap.cud (v1 system/ConceptMap.write accepted). Reads are open "
                   "unless the server is configured to require system/<type>.rs. AuditEvent reads need "
                   "system/AuditEvent.rs.",
})
