"""The FastAPI application: base `/fhir`, FHIR R4 (4.0.1). Composes the routers; nothing imports it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import Engine

from termsvc import __version__
from termsvc.api import handlers
from termsvc.api.outcome import issue, outcome
from termsvc.api.render import fhir_response
from termsvc.api.routers import ROUTERS
from termsvc.auth.bearer import read_access
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

    @app.middleware("http")
    async def limit_body_size(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > settings.max_request_bytes:
            return fhir_response(request, outcome(issue(
                "error", "too-long", f"Request body of {length} bytes exceeds the limit of "
                f"{settings.max_request_bytes} bytes")), 413)
        return await call_next(request)

    @app.get("/healthz", include_in_schema=True, summary="Liveness (no database access)")
    def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    for router in ROUTERS:
        app.include_router(router, prefix="/fhir")
    return app


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def app_state(request: Request) -> Any:
    return request.app.state
