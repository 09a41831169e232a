"""CodeSystem/$subsumes over HTTP (type and instance level, GET and POST Parameters).

Mounted before the CodeSystem router: its `/CodeSystem/{id}` read would otherwise take `$subsumes` as an id."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from termsvc.api.capabilities import ResourceCapability, declare
from termsvc.api.offload import off_loop
from termsvc.api.params import read_params
from termsvc.api.render import fhir_response
from termsvc.errors import Invalid, NotFound
from termsvc.ops import codesystems as cs_ops
from termsvc.ops.context import op_connection
from termsvc.ops.subsumes import side, subsumes
from termsvc.store import queries as q

router = APIRouter(tags=["CodeSystem"])

declare(ResourceCapability("CodeSystem", operations=["subsumes"]))

_DOC = ("Test the subsumption relationship between code/Coding A and code/Coding B in one code system's "
        "is-a hierarchy (R4 $subsumes): equivalent, subsumes, subsumed-by or not-subsumed.")


async def _subsumes(request: Request, resource_id: str | None) -> Response:
    params = await read_params(request)
    a = side(params.string("codeA"), params.complex("codingA"), "A")
    b = side(params.string("codeB"), params.complex("codingB"), "B")
    system, version = params.string("system"), params.string("version")

    def work() -> Response:
        nonlocal system, version
        with op_connection(request.app.state.engine, params) as conn:
            if resource_id is not None:
                row = _instance(conn, resource_id)
                if system and system.partition("|")[0] != row.url:
                    raise Invalid(f"The system '{system}' is not the url of CodeSystem '{row.url}' addressed",
                                  expression=["system"])
                system, version = row.url, version or row.version or None
            result = subsumes(conn, system=system, version=version, a=a, b=b)
        return fhir_response(request, result)
    return await off_loop(request, work)


def _instance(conn: Connection, resource_id: str) -> q.CodeSystemRow:
    row = cs_ops.by_resource_id(conn, resource_id)
    if row is None:
        raise NotFound(f"CodeSystem/{resource_id} is not known", expression=["id"])
    return row


@router.get("/CodeSystem/$subsumes", summary="$subsumes (GET)", description=_DOC)
@router.post("/CodeSystem/$subsumes", summary="$subsumes (POST Parameters)", description=_DOC)
async def subsumes_type(request: Request) -> Response:
    return await _subsumes(request, None)


@router.get("/CodeSystem/{resource_id}/$subsumes", summary="$subsumes in one CodeSystem (GET)", description=_DOC)
@router.post("/CodeSystem/{resource_id}/$subsumes", summary="$subsumes in one CodeSystem (POST)", description=_DOC)
async def subsumes_instance(request: Request, resource_id: str) -> Response:
    return await _subsumes(request, resource_id)
