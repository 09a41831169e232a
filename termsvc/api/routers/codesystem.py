"""CodeSystem over HTTP: read, search, $lookup and $validate-code (type and instance level).

The handlers only read parameters and render: the work is in `termsvc.ops.lookup`,
`termsvc.ops.validate_code` and `termsvc.ops.codesystems`. Operations read their body on the event loop;
they, reads and searches do their database work in the worker pool under the request's time budget
(termsvc.api.offload): even an indexed query can wait on a lock or a cold cache, a read of a large code system
or a search of a large store can run long, and the loop must stay free for everyone else."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection, Engine

from termsvc.api import search as fhir_search
from termsvc.api.capabilities import ResourceCapability, declare
from termsvc.api.offload import off_loop
from termsvc.api.params import read_params
from termsvc.api.render import fhir_response
from termsvc.api.routers.metadata import base_url_of
from termsvc.errors import Invalid, NotFound
from termsvc.ops import codesystems as cs_ops
from termsvc.ops.context import op_connection
from termsvc.ops.lookup import lookup
from termsvc.ops.params import OpParams
from termsvc.ops.validate_code import validate_code, validate_codeable_concept, validate_coding
from termsvc.store import queries as q

router = APIRouter(tags=["CodeSystem"])


def engine_of(request: Request) -> Engine:
    # read from app state here: importing termsvc.api.app would be circular (it imports the routers)
    engine: Engine = request.app.state.engine
    return engine


@contextmanager
def reading(request: Request) -> Iterator[Connection]:
    """A connection for read-only work. On PostgreSQL it runs in autocommit, which spares the BEGIN and
    ROLLBACK round trips of a transaction per request (measured: about half the cost of $validate-code).
    Each statement still sees a consistent committed state; a request's few statements may straddle a
    load's commit, which at worst answers from the previous version (loads switch `is_current` atomically)."""
    with engine_of(request).connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn

SEARCH_PARAMS = [("url", "uri"), ("version", "token"), ("name", "string"), ("title", "string"),
                 ("status", "token")]
declare(ResourceCapability("CodeSystem", interactions=["read", "search-type"], search_params=SEARCH_PARAMS,
                           operations=["lookup", "validate-code"]))

# A search page re-nests concepts only for systems this small; larger ones come SUBSETTED (read them).
SEARCH_CONCEPTS_LIMIT = 1000

_OP_DOC = {"lookup": "Given a code/system, get additional details about the concept (R4 $lookup).",
           "validate-code": "Validate that a coded value is in the code system (R4 CodeSystem/$validate-code)."}


def _display_language(request: Request, params: OpParams) -> str | None:
    return params.string("displayLanguage") or request.headers.get("accept-language")


def _instance(request: Request, resource_id: str) -> q.CodeSystemRow:
    with reading(request) as conn:
        row = cs_ops.by_resource_id(conn, resource_id)
    if row is None:
        raise NotFound(f"CodeSystem/{resource_id} is not known", expression=["id"])
    return row


async def _lookup(request: Request, resource_id: str | None) -> Response:
    params = await read_params(request)
    return await off_loop(request, lambda: _lookup_work(request, params, resource_id))


def _lookup_work(request: Request, params: OpParams, resource_id: str | None) -> Response:
    row = _instance(request, resource_id) if resource_id is not None else None
    system, code, version = params.string("system"), params.string("code"), params.string("version")
    coding = params.complex("coding")
    if coding is not None:
        system = system or _str(coding, "system", "coding")
        code = code or _str(coding, "code", "coding")
        version = version or _str(coding, "version", "coding")
    if row is not None:
        if system and system.partition("|")[0] != row.url:
            raise Invalid(f"The system '{system}' is not the url of CodeSystem '{row.url}' addressed",
                          expression=["system"])
        system, version = row.url, version or row.version or None
    params.string("date")  # accepted: the store serves one state per version
    properties = [str(p) for p in params.all("property") if not isinstance(p, dict | list)]
    with op_connection(engine_of(request), params) as conn:
        result = lookup(conn, system=system, code=code, version=version, properties=properties,
                        display_language=_display_language(request, params),
                        use_supplements=[str(v) for v in params.all("useSupplement") if isinstance(v, str)])
    return fhir_response(request, result)


def _str(holder: dict[str, Any], key: str, where: str) -> str | None:
    value = holder.get(key)
    if value is not None and not isinstance(value, str):
        raise Invalid(f"{where}.{key} must be a string", expression=[f"{where}.{key}"])
    return value


async def _validate(request: Request, resource_id: str | None) -> Response:
    params = await read_params(request)
    return await off_loop(request, lambda: _validate_work(request, params, resource_id))


def _validate_work(request: Request, params: OpParams, resource_id: str | None) -> Response:
    row = _instance(request, resource_id) if resource_id is not None else None
    url = params.string("url") or params.string("system")
    version = params.string("version")
    if row is not None:
        url, version = row.url, version or row.version or None
    abstract_allowed = params.boolean("abstract", True) is not False
    language = _display_language(request, params)
    coding = params.complex("coding")
    concept = params.complex("codeableConcept")
    with op_connection(engine_of(request), params) as conn:
        if concept is not None:
            result = validate_codeable_concept(conn, concept, url=url, version=version, display_language=language,
                                               abstract_allowed=abstract_allowed)
        elif coding is not None:
            result = validate_coding(conn, coding, url=url, version=version, display_language=language,
                                     abstract_allowed=abstract_allowed)
        else:
            result = validate_code(conn, url=url, code=params.string("code"), version=version,
                                   display=params.string("display"), display_language=language,
                                   abstract_allowed=abstract_allowed)
    return fhir_response(request, result)


@router.get("/CodeSystem/$lookup", summary="$lookup (GET)", description=_OP_DOC["lookup"])
@router.post("/CodeSystem/$lookup", summary="$lookup (POST Parameters)", description=_OP_DOC["lookup"])
async def lookup_type(request: Request) -> Response:
    return await _lookup(request, None)


@router.get("/CodeSystem/$validate-code", summary="$validate-code (GET)", description=_OP_DOC["validate-code"])
@router.post("/CodeSystem/$validate-code", summary="$validate-code (POST Parameters)",
             description=_OP_DOC["validate-code"])
async def validate_type(request: Request) -> Response:
    return await _validate(request, None)


@router.get("/CodeSystem/{resource_id}/$lookup", summary="$lookup on one CodeSystem (GET)")
@router.post("/CodeSystem/{resource_id}/$lookup", summary="$lookup on one CodeSystem (POST)")
async def lookup_instance(request: Request, resource_id: str) -> Response:
    return await _lookup(request, resource_id)


@router.get("/CodeSystem/{resource_id}/$validate-code", summary="$validate-code on one CodeSystem (GET)")
@router.post("/CodeSystem/{resource_id}/$validate-code", summary="$validate-code on one CodeSystem (POST)")
async def validate_instance(request: Request, resource_id: str) -> Response:
    return await _validate(request, resource_id)


@router.get("/CodeSystem/{resource_id}", summary="Read a CodeSystem (concepts nested; large ones SUBSETTED)")
async def read(request: Request, resource_id: str) -> Response:
    return await off_loop(request, lambda: read_answer(request, resource_id))


def read_answer(request: Request, resource_id: str) -> Response:
    """The read's work (also vread's): in the worker pool, under the request's time budget."""
    row = _instance(request, resource_id)
    with reading(request) as conn:
        resource = cs_ops.render(conn, row, resource_id, concepts_limit=cs_ops.FULL_CONCEPTS_LIMIT)
    return fhir_response(request, resource)


@router.get("/CodeSystem", summary="Search CodeSystems (url, version, name, title, status, _id; _sort, _elements, "
            "_summary, _total, _count, _offset)")
async def search(request: Request) -> Response:
    return await off_loop(request, lambda: _search_answer(request))


def _search_answer(request: Request) -> Response:
    query = fhir_search.parse(request, SEARCH_PARAMS)
    with reading(request) as conn:
        return fhir_search.run(request, conn, "CodeSystem", base_url_of(request), query, _search_page)


def _search_page(conn: Connection, query: fhir_search.Search) -> tuple[int | None, list[tuple[str, dict[str, Any]]]]:
    everything = q.all_code_systems(conn) if query.ids else []
    ids = cs_ops.resource_ids(everything) if query.ids else {}
    keys = [key for key, rid in ids.items() if rid in query.ids] if query.ids else None
    total, rows = q.search_code_systems(conn, query.filters, offset=query.offset, count=query.count, keys=keys,
                                        sort=query.sort, with_total=query.wants_total)
    if rows and not ids:
        ids = cs_ops.resource_ids(q.all_code_systems(conn))
    summary = query.summary in ("true", "text") or (query.elements is not None and "concept" not in query.elements)
    return total, [(ids[row.code_system_id], cs_ops.render(conn, row, ids[row.code_system_id],
                                                           concepts_limit=SEARCH_CONCEPTS_LIMIT, summary=summary))
                   for row in rows]
