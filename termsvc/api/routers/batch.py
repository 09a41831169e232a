"""POST /fhir with a `batch` Bundle: each entry is sent through this application in-process, one after the
other, and the answers come back as a `batch-response` Bundle in entry order.

Going through the application (not calling the operations directly) gives each entry the routing, parameter
parsing, authorisation and error handling of a direct request, with no second copy of any of it. The outer
request's Authorization and Accept-Language headers are passed on, so an entry may do what the caller may."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from termsvc.api.capabilities import SYSTEM_INTERACTIONS
from termsvc.api.render import fhir_response
from termsvc.errors import Invalid
from termsvc.ops.batch import (
    EntryRequest,
    EntryResponse,
    batch_response,
    entries_of,
    error_entry,
    response_entry,
)
from termsvc.ops.params import parse_body

router = APIRouter(tags=["system"])

if "batch" not in SYSTEM_INTERACTIONS:
    SYSTEM_INTERACTIONS.append("batch")

BASE_PATH = "/fhir"
# headers of the batch request that each entry inherits
PASSED_ON = ("authorization", "accept-language", "x-forwarded-for", "x-request-id")


@router.post("", summary="batch: a Bundle of independent requests, answered as a batch-response Bundle")
async def batch(request: Request) -> Response:
    body = await request.body()
    if not body.strip():
        raise Invalid("POST to the FHIR base needs a Bundle of type batch in the body")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    entries = entries_of(parse_body(body, content_type), BASE_PATH)
    inherited = {name: request.headers[name] for name in PASSED_ON if name in request.headers}
    answers: list[dict[str, Any]] = []
    for entry in entries:
        if entry.error is not None:
            answers.append(error_entry(entry.error))
            continue
        answers.append(response_entry(await _send(request, entry, inherited)))
    stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return fhir_response(request, batch_response(answers, str(uuid.uuid4()), stamp))


async def _send(outer: Request, entry: EntryRequest, inherited: dict[str, str]) -> EntryResponse:
    """One ASGI request to the application, answered in JSON, with the status, headers and body it sent."""
    headers = {**inherited, **entry.headers, "accept": "application/fhir+json"}
    body = entry.body or b""
    if body:
        headers["content-length"] = str(len(body))
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": entry.method,
        "scheme": outer.url.scheme, "path": entry.path, "raw_path": entry.path.encode(),
        "query_string": entry.query.encode(), "root_path": outer.scope.get("root_path", ""),
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": outer.scope.get("client"), "server": outer.scope.get("server"),
    }
    sent = False
    status = 500
    answer_headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            answer_headers.update((k.decode("latin-1").lower(), v.decode("latin-1"))
                                  for k, v in message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        await outer.app(scope, receive, send)
    except Exception:
        # the server error middleware re-raises after it has sent its 500 OperationOutcome: that answer stands
        if not chunks:
            raise
    return EntryResponse(status, answer_headers, b"".join(chunks))
