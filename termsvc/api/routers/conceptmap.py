"""ConceptMap over HTTP: read, search and $translate (type and instance level). The work is in
`termsvc.ops.translate`; inline `tx-resource` maps are visible through `termsvc.ops.context`."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection, Engine, text

from termsvc.api import search as fhir_search
from termsvc.api.capabilities import ResourceCapability, declare
from termsvc.api.offload import off_loop
from termsvc.api.params import read_params
from termsvc.api.render import fhir_response
from termsvc.api.routers.metadata import base_url_of
from termsvc.errors import NotFound
from termsvc.ops.context import op_connection
from termsvc.ops.translate import translate

router = APIRouter(tags=["ConceptMap"])

SEARCH_PARAMS = [("url", "uri"), ("version", "token"), ("name", "string"), ("title", "string"),
                 ("status", "token")]
declare(ResourceCapability("ConceptMap", interactions=["read", "search-type"], search_params=SEARCH_PARAMS,
                           operations=["translate"]))

_TRANSLATE_DOC = ("Translate a code from one system to another (R4 ConceptMap/$translate): url, conceptMap, "
                  "conceptMapVersion, source, target, system/code/version, coding, codeableConcept, targetsystem, "
                  "reverse, dependsOn, tx-resource.")


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _row_by_id(conn: Connection, resource_id: str) -> tuple[int, str]:
    row = conn.execute(text("SELECT concept_map_id, resource_json FROM concept_map WHERE resource_id = :id "
                            "ORDER BY is_current DESC, concept_map_id DESC"), {"id": resource_id}).first()
    if row is None:
        raise NotFound(f"ConceptMap/{resource_id} is not known", expression=["id"])
    return int(row[0]), str(row[1])


async def _translate(request: Request, resource_id: str | None) -> Response:
    params = await read_params(request)

    def work() -> Response:
        with op_connection(_engine(request), params) as conn:
            concept_map_id = _row_by_id(conn, resource_id)[0] if resource_id else None
            result = translate(conn, params, concept_map_id)
        return fhir_response(request, result)
    return await off_loop(request, work)


@router.get("/ConceptMap/$translate", summary="$translate (GET)", description=_TRANSLATE_DOC)
@router.post("/ConceptMap/$translate", summary="$translate (POST Parameters)", description=_TRANSLATE_DOC)
async def translate_type(request: Request) -> Response:
    return await _translate(request, None)


@router.get("/ConceptMap/{resource_id}/$translate", summary="$translate with one ConceptMap (GET)")
@router.post("/ConceptMap/{resource_id}/$translate", summary="$translate with one ConceptMap (POST)")
async def translate_instance(request: Request, resource_id: str) -> Response:
    return await _translate(request, resource_id)


@router.get("/ConceptMap/{resource_id}", summary="Read a ConceptMap")
async def read(request: Request, resource_id: str) -> Response:
    return await off_loop(request, lambda: read_answer(request, resource_id))


def read_answer(request: Request, resource_id: str) -> Response:
    """The read's work (also vread's): in the worker pool, under the request's time budget."""
    with _engine(request).connect() as conn:
        resource: dict[str, Any] = orjson.loads(_row_by_id(conn, resource_id)[1])
    return fhir_response(request, resource)


@router.get("/ConceptMap", summary="Search ConceptMaps (url, version, name, title, status, _id; _sort, _elements, "
            "_summary, _total, _count, _offset)")
async def search(request: Request) -> Response:
    return await off_loop(request, lambda: _search_answer(request))


def _search_answer(request: Request) -> Response:
    query = fhir_search.parse(request, SEARCH_PARAMS)
    with _engine(request).connect() as conn:
        return fhir_search.run(request, conn, "ConceptMap", base_url_of(request), query,
                               fhir_search.stored_page("concept_map", "concept_map_id"))
