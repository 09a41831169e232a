"""The operator's middleware, plain ASGI (see BodySizeLimit in termsvc.api.app for why not
BaseHTTPMiddleware): a request id, one JSON access-log line and the Prometheus request metrics per request
(`RequestContext`); ETag / If-None-Match on reads (`ConditionalGet`); CORS and gzip are Starlette's own.

Order, outermost first: RequestContext (sees every answer, even a CORS refusal), CachedAnswers
(termsvc.api.answer_cache: operation answers sent again as they were), CORS (answers preflights), GZip,
ConditionalGet (hashes the uncompressed body), then the application."""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections.abc import MutableMapping
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from termsvc.api import metrics
from termsvc.api.answer_cache import CachedAnswers
from termsvc.settings import Settings

ACCESS_LOG = logging.getLogger("termsvc.access")
REQUEST_ID = b"x-request-id"
# a caller's id is kept only if it is short and plain, so it cannot forge log lines or headers
_GOOD_ID = re.compile(rb"^[A-Za-z0-9._:/+=@-]{1,128}$")
UNMATCHED = "unmatched"  # the operation label of requests no route took (bounded label values)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware (Starlette adds each new one outside the previous ones: innermost first)."""
    app.add_middleware(ConditionalGet)
    if settings.gzip_minimum_bytes > 0:
        app.add_middleware(GZipMiddleware, minimum_size=settings.gzip_minimum_bytes)
    origins = settings.cors_origin_list()
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["*"], max_age=3600,
                           expose_headers=["ETag", "Location", "Content-Location", "Last-Modified", "X-Request-Id"])
    if settings.answer_cache_bytes > 0 and not settings.auth_required_for_reads:
        # outside gzip, the ETag and CORS (it keeps the bytes as sent: the request's Origin is part of its key),
        # inside the request context (ids, logs and metrics for every answer, kept or not)
        app.add_middleware(CachedAnswers, watch=app.state.generation_watch, max_bytes=settings.answer_cache_bytes)
    app.add_middleware(RequestContext, access_log=settings.access_log)


def log_access_to_stderr() -> None:
    """One JSON object per line on stderr, unless the logger was configured already (called by the server's
    entry point, termsvc.api.asgi: an application embedding create_app configures logging its own way)."""
    if not ACCESS_LOG.handlers:
        # the logging HOWTO's optimisation: records of this server carry no process, thread or multiprocessing
        # names (our lines do not print them), so making one asks the kernel nothing; os.getpid() per record was
        # a fifth of a kept answer's time here
        logging.logProcesses = logging.logThreads = logging.logMultiprocessing = False
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        ACCESS_LOG.addHandler(handler)
        ACCESS_LOG.setLevel(logging.INFO)
        ACCESS_LOG.propagate = False


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def operation_of(scope: Scope) -> str:
    """The route's path template (`/fhir/CodeSystem/$lookup`, `/fhir/CodeSystem/{resource_id}`)."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not template:
        return UNMATCHED
    # FastAPI versions differ on whether an included router's route carries the include's prefix (/fhir):
    # take whatever precedes the template's literal start in the request path
    literal = str(template).split("{")[0]
    at = scope["path"].find(literal)
    return f"{scope['path'][:at]}{template}" if at > 0 else str(template)


class RequestContext:
    """Takes the caller's X-Request-Id (or makes one), echoes it, and after the answer logs one JSON line
    and counts the request in the metrics by method, route template and status."""

    def __init__(self, app: ASGIApp, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = _header(scope, REQUEST_ID)
        request_id = given if given is not None and _GOOD_ID.match(given) else uuid.uuid4().hex.encode()
        scope.setdefault("state", {})["request_id"] = request_id.decode()
        answer: dict[str, int] = {"status": 500, "bytes": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = int(message["status"])
                message["headers"] = [*message.get("headers", []), (REQUEST_ID, request_id)]
            elif message["type"] == "http.response.body":
                answer["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            operation = operation_of(scope)
            metrics.observe(scope["method"], operation, answer["status"], seconds)
            if self.access_log and ACCESS_LOG.isEnabledFor(logging.INFO):
                ACCESS_LOG.info("%s", access_line(scope, request_id, operation, answer, seconds))


def access_line(scope: Scope, request_id: bytes, operation: str, answer: dict[str, int], seconds: float) -> str:
    client = scope.get("client")
    line: dict[str, Any] = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
        "request_id": request_id.decode(), "method": scope["method"], "path": scope["path"],
        "query": scope.get("query_string", b"").decode("latin-1")[:512], "operation": operation,
        "status": answer["status"], "bytes": answer["bytes"], "duration_ms": round(seconds * 1000, 3),
        "client": client[0] if client else None,
    }
    return orjson.dumps(line).decode()


class ConditionalGet:
    """ETag on successful GET answers, and 304 Not Modified when If-None-Match names it.

    The tag is a weak validator over the body (its hash), or the one the route set (writes and versioned
    reads set W/"versionId"). The body is held until complete, which FHIR answers are anyway (one message)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        wanted = _header(scope, b"if-none-match")
        start: MutableMapping[str, Any] = {}
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:
            if message["type"] == "http.response.start":
                if message["status"] != 200:
                    start["passed"] = True
                    await send(message)
                    return
                start.update(message)
                return
            if start.get("passed") or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await self._answer(send, dict(start), b"".join(chunks), wanted)

        await self.app(scope, receive, hold)

    @staticmethod
    async def _answer(send: Send, start: dict[str, Any], body: bytes, wanted: bytes | None) -> None:
        headers = list(start.get("headers", []))
        tag = next((value for key, value in headers if key.lower() == b"etag"), None)
        if tag is None:
            tag = b'W/"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode() + b'"'
            headers.append((b"etag", tag))
        if wanted is not None and _matches(wanted, tag):
            kept = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-type")]
            await send({"type": "http.response.start", "status": 304, "headers": kept})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _matches(wanted: bytes, tag: bytes) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/ prefixes do not count."""
    if wanted.strip() == b"*":
        return True
    bare = tag.removeprefix(b"W/")
    return any(candidate.strip().removeprefix(b"W/") == bare for candidate in wanted.split(b","))
