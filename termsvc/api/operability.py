"""Probes and metrics for operators, outside /fhir: `/healthz` (the process answers), `/readyz` (the store
answers and its schema is the one this code expects), `/metrics` (Prometheus text format)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from termsvc.api import metrics
from termsvc.store.schema import current_revision, head_revision

router = APIRouter(tags=["operations"])

_OK = b'{"status":"ok"}'


@router.get("/healthz", summary="Liveness: the process answers (no store access)")
async def healthz() -> Response:
    # async and touching nothing: answered on the event loop even when every worker thread is busy
    return Response(_OK, media_type="application/json")


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _head(request: Request) -> str | None:
    """The newest migration this code ships (read once: the scripts do not change under a running server)."""
    state = request.app.state
    if not hasattr(state, "schema_head"):
        state.schema_head = head_revision(str(_engine(request).url))
    head: str | None = state.schema_head
    return head


def _readiness(request: Request) -> tuple[int, dict[str, str | None]]:
    head = _head(request)
    try:
        current = current_revision(_engine(request))
    except Exception as exc:  # any failure to reach the store means not ready; say which
        return 503, {"status": "unavailable", "store": f"unreachable: {type(exc).__name__}", "expected": head}
    if current != head:
        return 503, {"status": "unavailable", "store": "schema not current (run `termsvc db upgrade`)",
                     "schema": current, "expected": head}
    return 200, {"status": "ok", "store": "reachable", "schema": current}


@router.get("/readyz", summary="Readiness: the store answers and its schema is current")
async def readyz(request: Request) -> Response:
    status, body = await run_in_threadpool(_readiness, request)
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@router.get("/metrics", summary="Prometheus metrics (text exposition format)")
async def prometheus_metrics(request: Request) -> Response:
    body, content_type = await run_in_threadpool(metrics.exposition, _engine(request))
    return Response(body, media_type=content_type)
