"""The FastAPI application: base `/fhir`, FHIR R4 (4.0.1). Composes the routers; nothing imports it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from termsvc import __version__
from termsvc.api import handlers, history, middleware, openapi_ops, operability
from termsvc.api.answer_cache import GenerationWatch
from termsvc.api.offload import size_worker_pool
from termsvc.api.render import fhir_response
from termsvc.api.routers import ROUTERS
from termsvc.auth import audit
from termsvc.auth.bearer import is_write, read_access
from termsvc.errors import TermsvcError
from termsvc.ops.outcome import issue, outcome
from termsvc.settings import Settings
from termsvc.store import interrupt
from termsvc.store.engine import make_engine


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        size_worker_pool(settings.worker_threads)
        audit.KEPT_BACK.replay()  # audit rows an earlier process spooled and could not write
        yield
        app.state.generation_watch.close()

    app = FastAPI(
        lifespan=lifespan,
        title="termsvc",
        version=__version__,
        summary="FHIR R4 terminology mapping and validation service",
        description="FHIR R4 (4.0.1) terminology API: CodeSystem/$lookup, $validate-code, $subsumes, "
                    "ValueSet/$expand, $validate-code, ConceptMap/$translate and the terminology resources.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        # reads need a token only when settings.auth_required_for_reads (writes check their own scopes); when
        # reads are open the dependency is left out, so the hot paths pay nothing for it
        dependencies=[Depends(read_access)] if settings.auth_required_for_reads else None,
    )
    app.state.settings = settings
    app.state.engine = engine or make_engine(settings.database_url)
    interrupt.install(app.state.engine)
    audit.KEPT_BACK.spool_to(app.state.engine, audit.spool_directory(settings.audit_spool_dir, app.state.engine))
    app.state.generation_watch = GenerationWatch(app.state.engine)
    handlers.install(app)

    app.add_middleware(BodySizeLimit, limit=settings.max_request_bytes)
    app.add_middleware(RefuseNul)
    middleware.install(app, settings)
    openapi_ops.install(app)
    app.include_router(operability.router)
    app.include_router(history.router, prefix="/fhir")  # before the routers: /{type}/_history is not a read

    for router in ROUTERS:
        app.include_router(router, prefix="/fhir")
    return app


def _refuse(scope: Scope, status: int, code: str, text: str) -> Response:
    return fhir_response(Request(scope), outcome(issue("error", code, text)), status)


class BodySizeLimit:
    """Refuses a body over the limit with 413 (an OperationOutcome): at once when Content-Length declares it,
    else (chunked) as the bytes arrive, so an endless body is never held whole.

    A plain ASGI middleware: `@app.middleware("http")` (BaseHTTPMiddleware) runs every request through a task
    group and memory streams, which cost about as much as a whole $validate-code on the hot paths."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        if declared is not None:
            # the server holds a body to its Content-Length, so a declared size within the limit is enough
            if declared.isdigit() and int(declared) > self.limit:  # bytes: ASCII digits only
                await _refuse(scope, 413, "too-long", f"Request body of {int(declared)} bytes exceeds the limit "
                              f"of {self.limit} bytes")(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        received = 0
        limit = self.limit

        async def counted() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # raised in the endpoint reading the body: the error handlers answer it with 413
                    raise TermsvcError(f"Request body exceeds the limit of {limit} bytes", "too-long", 413)
            return message
        return counted


class RefuseNul:
    """A NUL character in the path or query of a read is refused with 400: no id, code or url holds one, and
    PostgreSQL cannot store one in text. Writes are let through to be refused where they are audited (the
    write routes check ids and urls); a NUL in a body is refused where the body is parsed (termsvc.api.params)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_write(scope["method"], scope["path"]) and (
                "\x00" in scope["path"] or b"%00" in scope.get("query_string", b"")):
            await _refuse(scope, 400, "invalid", "The request's path or query holds a NUL character (%00), "
                          "which no FHIR id, code or parameter may contain")(scope, receive, send)
            return
        await self.app(scope, receive, send)


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def app_state(request: Request) -> Any:
    return request.app.state
