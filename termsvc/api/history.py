"""`_history` (instance, type and whole-system) refused clearly: the store keeps only the current version of
each CodeSystem, ValueSet and ConceptMap (a write replaces it), so there is no history to give. Mounted
before the resource routers, whose `/{type}/{id}` read would otherwise take `_history` for an id."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from termsvc.api.render import fhir_response
from termsvc.ops.outcome import issue, outcome

router = APIRouter(tags=["history"])

TYPES = ("CodeSystem", "ValueSet", "ConceptMap")
_WHY = ("this server keeps only the current version of each resource, so it has no history: read the resource "
        "(its meta.versionId names the current version, which /{type}/{id}/_history/{versionId} also serves)")


def _refusal(request: Request, what: str) -> Response:
    # 405 with an empty Allow: no method is allowed on a history (RFC 9110 10.2.1)
    return fhir_response(request, outcome(issue("error", "not-supported", f"{what}: {_WHY}")), 405,
                         headers={"Allow": ""})


@router.get("/_history", summary="Whole-system history: not kept (405)")
async def system_history(request: Request) -> Response:
    return _refusal(request, "History is not supported")


def _register(resource_type: str) -> None:
    async def type_history(request: Request) -> Response:
        return _refusal(request, f"{resource_type} history is not supported")

    async def instance_history(request: Request, resource_id: str) -> Response:
        return _refusal(request, f"History of {resource_type}/{resource_id} is not supported")

    router.add_api_route(f"/{resource_type}/_history", type_history, methods=["GET"],
                         summary=f"{resource_type} history: not kept (405)")
    router.add_api_route(f"/{resource_type}/{{resource_id}}/_history", instance_history, methods=["GET"],
                         summary=f"History of one {resource_type}: not kept (405)")


for _type in TYPES:
    _register(_type)
