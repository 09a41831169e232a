"""The FastAPI application: base `/fhir`, FHIR R4 (4.0.1). Composes the routers; nothing imports it."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from sqlalchemy import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from termsvc import __version__
from termsvc.api import handlers, history, middleware, openapi_ops, operability
from termsvc.api.render import fhir_response
from termsvc.api.routers import ROUTERS
from termsvc.auth.bearer import read_access
from termsvc.ops.outcome import issue, outcome
from termsvc.settings import Settings
from termsvc.store.engine import make_engine


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(
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
    handlers.install(app)

    app.add_middleware(BodySizeLimit, limit=settings.max_request_bytes)
    middleware.install(app, settings)
    openapi_ops.install(app)
    app.include_router(operability.router)
    app.include_router(history.router, prefix="/fhir")  # before the routers: /{type}/_history is not a read

    for router in ROUTERS:
        app.include_router(router, prefix="/fhir")
    return app


class BodySizeLimit:
    """Refuses a request whose declared body is over the limit (413 with an OperationOutcome) before it is read.

    A plain ASGI middleware: `@app.middleware("http")` (BaseHTTPMiddleware) runs every request through a task
    group and memory streams, which cost about as much as a whole $validate-code on the hot paths."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length":
                    if value.isdigit() and int(value) > self.limit:
                        response = fhir_response(Request(scope), outcome(issue(
                            "error", "too-long", f"Request body of {int(value)} bytes exceeds the limit of "
                            f"{self.limit} bytes")), 413)
                        await response(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def app_state(request: Request) -> Any:
    return request.app.state
