"""ValueSet over HTTP: read, search and $expand (type and instance level). The work is in
`termsvc.ops.expand`; inline `tx-resource` resources are visible through `termsvc.ops.context`."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection, Engine, text

from termsvc import deadline
from termsvc.api import search as fhir_search
from termsvc.api.capabilities import ResourceCapability, declare
from termsvc.api.offload import off_loop
from termsvc.api.params import read_params
from termsvc.api.render import fhir_response
from termsvc.api.routers.metadata import base_url_of
from termsvc.deadline import BudgetExceeded
from termsvc.errors import NotFound, TermsvcError
from termsvc.ops.context import op_connection
from termsvc.ops.expand import expand, request_from
from termsvc.ops.outcome import from_error
from termsvc.ops.params import OpParams, from_parameters
from termsvc.ops.vs_validate import validate_in_value_set

router = APIRouter(tags=["ValueSet"])

SEARCH_PARAMS = [("url", "uri"), ("version", "token"), ("name", "string"), ("title", "string"),
                 ("status", "token")]
declare(ResourceCapability("ValueSet", interactions=["read", "search-type"], search_params=SEARCH_PARAMS,
                           operations=["expand", "validate-code", "batch-validate-code"]))

_EXPAND_DOC = "Expand a value set (R4 ValueSet/$expand): url, valueSet, count/offset paging, filter, tx-resource."


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _threshold(request: Request) -> int:
    """The server's expansion limit, or the client's X-Too-Costly-Threshold when that is lower (a client may
    ask for less, never for more)."""
    limit = int(request.app.state.settings.max_expansion_size)
    raw = request.headers.get("x-too-costly-threshold", "").strip()
    return min(int(raw), limit) if raw.isdecimal() and len(raw) <= 18 else limit


def _by_id(conn: Connection, resource_id: str) -> dict[str, Any]:
    row = conn.execute(text("SELECT resource_json FROM value_set WHERE resource_id = :id ORDER BY value_set_id DESC"),
                       {"id": resource_id}).first()
    if row is None:
        raise NotFound(f"ValueSet/{resource_id} is not known", expression=["id"])
    resource: dict[str, Any] = orjson.loads(row[0])
    return resource


async def _expand(request: Request, resource_id: str | None) -> Response:
    params = await read_params(request)

    def work() -> Response:
        with op_connection(_engine(request), params) as conn:
            instance = _by_id(conn, resource_id) if resource_id else None
            expand_request = request_from(conn, params, instance,
                                          accept_language=request.headers.get("accept-language"),
                                          threshold=_threshold(request))
            result = expand(conn, params, expand_request)
        return fhir_response(request, result)
    return await off_loop(request, work)


@router.get("/ValueSet/$expand", summary="$expand (GET)", description=_EXPAND_DOC)
@router.post("/ValueSet/$expand", summary="$expand (POST Parameters)", description=_EXPAND_DOC)
async def expand_type(request: Request) -> Response:
    return await _expand(request, None)


async def _validate(request: Request, resource_id: str | None) -> Response:
    params = await read_params(request)

    def work() -> Response:
        with op_connection(_engine(request), params) as conn:
            instance = _by_id(conn, resource_id) if resource_id else None
            result = validate_in_value_set(conn, params, instance,
                                           accept_language=request.headers.get("accept-language"))
        return fhir_response(request, result)
    return await off_loop(request, work)


@router.post("/ValueSet/$batch-validate-code", summary="$batch-validate-code: several validations in one request")
async def batch_validate(request: Request) -> Response:
    params = await read_params(request)
    shared = [item for item in params.items if item[0] != "validation"]

    def work() -> Response:
        results: list[dict[str, Any]] = []
        with op_connection(_engine(request), params) as conn:
            for validation in params.resources("validation"):
                deadline.check()
                # a validation's own parameters come first, so they override the shared ones
                one = OpParams(from_parameters(validation).items + shared)
                try:
                    answer = validate_in_value_set(conn, one, None,
                                                   accept_language=request.headers.get("accept-language"))
                except BudgetExceeded:
                    raise
                except TermsvcError as exc:
                    # one failed validation is reported in its place; the others still answer
                    answer = from_error(exc)
                results.append({"name": "validation", "resource": answer})
        return fhir_response(request, {"resourceType": "Parameters", "parameter": results})
    return await off_loop(request, work)


@router.get("/ValueSet/$validate-code", summary="$validate-code (GET)")
@router.post("/ValueSet/$validate-code", summary="$validate-code (POST Parameters)")
async def validate_type(request: Request) -> Response:
    return await _validate(request, None)


@router.get("/ValueSet/{resource_id}/$validate-code", summary="$validate-code against one ValueSet (GET)")
@router.post("/ValueSet/{resource_id}/$validate-code", summary="$validate-code against one ValueSet (POST)")
async def validate_instance(request: Request, resource_id: str) -> Response:
    return await _validate(request, resource_id)


@router.get("/ValueSet/{resource_id}/$expand", summary="$expand one ValueSet (GET)")
@router.post("/ValueSet/{resource_id}/$expand", summary="$expand one ValueSet (POST)")
async def expand_instance(request: Request, resource_id: str) -> Response:
    return await _expand(request, resource_id)


@router.get("/ValueSet/{resource_id}", summary="Read a ValueSet")
async def read(request: Request, resource_id: str) -> Response:
    return await off_loop(request, lambda: read_answer(request, resource_id))


def read_answer(request: Request, resource_id: str) -> Response:
    """The read's work (also vread's): in the worker pool, under the request's time budget."""
    with _engine(request).connect() as conn:
        resource = _by_id(conn, resource_id)
    return fhir_response(request, resource)


@router.get("/ValueSet", summary="Search ValueSets (url, version, name, title, status, _id; _sort, _elements, "
            "_summary, _total, _count, _offset)")
async def search(request: Request) -> Response:
    return await off_loop(request, lambda: _search_answer(request))


def _search_answer(request: Request) -> Response:
    query = fhir_search.parse(request, SEARCH_PARAMS)
    with _engine(request).connect() as conn:
        return fhir_search.run(request, conn, "ValueSet", base_url_of(request), query,
                               fhir_search.stored_page("value_set", "value_set_id"))
