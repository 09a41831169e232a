"""ConceptMap over HTTP: read, search and $translate (type and instance level). The work is in
`termsvc.ops.translate`; inline `tx-resource` maps are visible through `termsvc.ops.context`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection, Engine, text

from termsvc.api.capabilities import ResourceCapability, declare
from termsvc.api.params import read_params
from termsvc.api.render import fhir_response
from termsvc.api.routers.metadata import base_url_of
from termsvc.errors import Invalid, NotFound
from termsvc.ops.context import op_connection
from termsvc.ops.translate import translate

router = APIRouter(tags=["ConceptMap"])

SEARCH_PARAMS = [("url", "uri"), ("version", "token"), ("name", "string"), ("title", "string"),
                 ("status", "token")]
declare(ResourceCapability("ConceptMap", interactions=["read", "search-type"], search_params=SEARCH_PARAMS,
                           operations=["translate"]))

DEFAULT_COUNT = 50
MAX_COUNT = 1000
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
    with op_connection(_engine(request), params) as conn:
        concept_map_id = _row_by_id(conn, resource_id)[0] if resource_id else None
        result = translate(conn, params, concept_map_id)
    return fhir_response(request, result)


@router.get("/ConceptMap/$translate", summary="$translate (GET)", description=_TRANSLATE_DOC)
@router.post("/ConceptMap/$translate", summary="$translate (POST Parameters)", description=_TRANSLATE_DOC)
async def translate_type(request: Request) -> Response:
    return await _translate(request, None)


@router.get("/ConceptMap/{resource_id}/$translate", summary="$translate with one ConceptMap (GET)")
@router.post("/ConceptMap/{resource_id}/$translate", summary="$translate with one ConceptMap (POST)")
async def translate_instance(request: Request, resource_id: str) -> Response:
    return await _translate(request, resource_id)


@router.get("/ConceptMap/{resource_id}", summary="Read a ConceptMap")
def read(request: Request, resource_id: str) -> Response:
    with _engine(request).connect() as conn:
        resource: dict[str, Any] = orjson.loads(_row_by_id(conn, resource_id)[1])
    return fhir_response(request, resource)


def _non_negative(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise Invalid(f"Search parameter '{name}' must be a whole number, not {raw!r}", expression=[name])
    return int(raw)


@router.get("/ConceptMap", summary="Search ConceptMaps (url, version, name, title, status, _count, _offset)")
def search(request: Request) -> Response:
    query = request.query_params
    count = min(_non_negative(request, "_count", DEFAULT_COUNT), MAX_COUNT)
    offset = _non_negative(request, "_offset", 0)
    filters = {name: query[name] for name, _ in SEARCH_PARAMS if query.get(name)}
    clauses: list[str] = []
    bind: dict[str, Any] = {}
    for column in ("url", "version", "status"):
        if column in filters:
            clauses.append(f"{column} = :{column}")
            bind[column] = filters[column]
    for column in ("name", "title"):
        if column in filters:
            # FHIR string search: case-insensitive prefix match
            clauses.append(f"LOWER({column}) LIKE :{column} ESCAPE '\\'")
            value = filters[column].lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            bind[column] = value + "%"
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    with _engine(request).connect() as conn:
        total = int(conn.execute(text(f"SELECT COUNT(*) FROM concept_map{where}"), bind).scalar_one())
        rows = conn.execute(text(f"SELECT concept_map_id, resource_id, resource_json FROM concept_map{where} "
                                 "ORDER BY url, version, concept_map_id LIMIT :lim OFFSET :off"),
                            {**bind, "lim": count, "off": offset}).all() if count else []
    base = base_url_of(request)
    entries = []
    for row in rows:
        resource = orjson.loads(row[2])
        resource_id = row[1] or str(row[0])
        resource.setdefault("id", resource_id)
        entries.append({"fullUrl": f"{base}/ConceptMap/{resource_id}", "resource": resource,
                        "search": {"mode": "match"}})

    def link(at: int) -> str:
        return f"{base}/ConceptMap?{urlencode({**filters, '_count': str(count), '_offset': str(at)})}"

    links = [{"relation": "self", "url": link(offset)}]
    if count and offset + count < total:
        links.append({"relation": "next", "url": link(offset + count)})
    if count and offset > 0:
        links.append({"relation": "previous", "url": link(max(0, offset - count))})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links}
    if entries:
        bundle["entry"] = entries
    return fhir_response(request, bundle)
