"""GET /fhir/metadata: the CapabilityStatement (and, with mode=terminology, TerminologyCapabilities)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from termsvc import __version__
from termsvc.api.capabilities import REGISTRY, SECURITY, SYSTEM_INTERACTIONS, SYSTEM_OPERATIONS
from termsvc.api.offload import off_loop
from termsvc.api.render import fhir_response
from termsvc.api.search import COMMON_PARAMS

router = APIRouter(tags=["metadata"])

_STARTED = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
# the installed package's build date stands for the release date (the package records no other)
_RELEASED = datetime.fromtimestamp(Path(__file__).stat().st_mtime, UTC).strftime("%Y-%m-%d")


# the FHIR version this server speaks, as $versions names it (major.minor)
FHIR_VERSION = "4.0"
OPERATION_DEFINITIONS = {"versions": "http://hl7.org/fhir/OperationDefinition/CapabilityStatement-versions"}
if "versions" not in SYSTEM_OPERATIONS:
    SYSTEM_OPERATIONS.append("versions")


# application features (the tx-ecosystem IG's FeatureDefinitions): the version of the HL7 terminology
# ecosystem tests this release is checked against (tests/test_conformance.py), and that code systems may be
# sent as parameters (`tx-resource`)
FEATURE = "http://hl7.org/fhir/uv/application-feature/StructureDefinition/feature"
TESTED_WITH = "http://hl7.org/fhir/uv/tx-tests/FeatureDefinition/test-version"
TX_TESTS_VERSION = "1.9.3"
CODESYSTEM_AS_PARAMETER = "http://hl7.org/fhir/uv/tx-ecosystem/FeatureDefinition/CodeSystemAsParameter"


def _feature(definition: str, value: object, kind: str) -> dict[str, Any]:
    return {"url": FEATURE, "extension": [{"url": "definition", "valueCanonical": definition},
                                          {"url": "value", kind: value}]}


def capability_statement(base_url: str, *, cors: bool = False) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for capability in sorted(REGISTRY.values(), key=lambda c: c.type):
        entry: dict[str, Any] = {"type": capability.type}
        if capability.interactions:
            entry["interaction"] = [{"code": code} for code in capability.interactions]
        entry.update(capability.extras)  # conditionalUpdate etc. follow interaction, precede searchParam
        if capability.search_params:
            # every resource's search takes the common parameters too (termsvc.api.search)
            params = [*capability.search_params, *(p for p in COMMON_PARAMS if p not in capability.search_params)]
            entry["searchParam"] = [{"name": name, "type": kind} for name, kind in params]
        if capability.operations:
            entry["operation"] = [
                {"name": op, "definition": f"http://hl7.org/fhir/OperationDefinition/{capability.type}-{op}"}
                for op in capability.operations]
        resources.append(entry)
    # element order matters in XML: security comes between mode and resource
    security = {**SECURITY, "cors": cors} if SECURITY else {}
    rest: dict[str, Any] = {"mode": "server", **({"security": security} if security else {}), "resource": resources}
    if SYSTEM_INTERACTIONS:
        rest["interaction"] = [{"code": code} for code in SYSTEM_INTERACTIONS]
    if SYSTEM_OPERATIONS:
        rest["operation"] = [{"name": op, "definition": OPERATION_DEFINITIONS.get(
            op, f"http://hl7.org/fhir/OperationDefinition/Resource-{op}")} for op in SYSTEM_OPERATIONS]
    return {
        "resourceType": "CapabilityStatement",
        "id": "termsvc",
        "extension": [_feature(TESTED_WITH, TX_TESTS_VERSION, "valueCode"),
                      _feature(CODESYSTEM_AS_PARAMETER, True, "valueBoolean")],
        "url": f"{base_url}/metadata",
        "version": __version__,
        "name": "TermsvcCapabilityStatement",
        "title": "termsvc FHIR terminology server",
        "status": "active",
        "experimental": False,
        "date": _STARTED,
        "publisher": "termsvc",
        "kind": "instance",
        "software": {"name": "termsvc", "version": __version__, "releaseDate": _RELEASED},
        "implementation": {"description": "termsvc FHIR R4 terminology service", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "application/fhir+xml", "json", "xml"],
        "instantiates": ["http://hl7.org/fhir/CapabilityStatement/terminology-server"],
        "rest": [rest],
    }


_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~\-]+)*$")


def base_url_of(request: Request) -> str:
    """The absolute base of Location headers and Bundle links: TERMSVC_BASE_URL; else, from a trusted proxy
    (TERMSVC_TRUSTED_PROXIES), its X-Forwarded-Proto/-Host/-Prefix; else the address the connection came in
    on. Never the Host header: any client can put any host there, and links would point at it."""
    settings = request.app.state.settings
    if settings.base_url:
        return str(settings.base_url).rstrip("/")
    forwarded = _forwarded(request) if request.client and request.client.host in settings.trusted_proxies else None
    if forwarded:
        return forwarded
    scheme = request.scope.get("scheme", "http")
    server = request.scope.get("server") or (settings.host, settings.port)
    host, port = server[0], server[1]
    host = f"[{host}]" if ":" in str(host) else host
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + ("" if port in (None, default) else f":{port}") + "/fhir"


def _forwarded(request: Request) -> str | None:
    headers = request.headers
    host = (headers.get("x-forwarded-host") or "").split(",")[0].strip()
    proto = (headers.get("x-forwarded-proto") or request.scope.get("scheme", "http")).split(",")[0].strip().lower()
    prefix = (headers.get("x-forwarded-prefix") or "").split(",")[0].strip().rstrip("/")
    if not host or not _HOST.match(host) or proto not in ("http", "https") or not _PREFIX.match(prefix):
        return None
    return f"{proto}://{host}{prefix}/fhir"


@router.get("/metadata", summary="CapabilityStatement (mode=terminology: TerminologyCapabilities)")
async def metadata(request: Request, mode: str | None = None) -> Response:
    # TerminologyCapabilities lists what is stored: a read like any other, in the pool under the time budget
    return await off_loop(request, lambda: _metadata(request, mode))


def _metadata(request: Request, mode: str | None) -> Response:
    if mode == "terminology":
        from termsvc.api.terminology_capabilities import terminology_capabilities

        return fhir_response(request, terminology_capabilities(request))
    cors = bool(request.app.state.settings.cors_origin_list())
    return fhir_response(request, capability_statement(base_url_of(request), cors=cors))


def _versions(request: Request) -> Response:
    return fhir_response(request, {"resourceType": "Parameters", "parameter": [
        {"name": "version", "valueCode": FHIR_VERSION}, {"name": "default", "valueCode": FHIR_VERSION}]})


@router.get("/$versions", summary="The FHIR versions this server supports")
def versions(request: Request) -> Response:
    return _versions(request)


@router.post("/$versions", summary="The FHIR versions this server supports (POST)")
def versions_post(request: Request) -> Response:
    return _versions(request)
