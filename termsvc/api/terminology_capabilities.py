"""GET /fhir/metadata?mode=terminology: a TerminologyCapabilities built from what is stored and mounted.

Truthful by construction: code systems and versions come from the store at request time, and the
expansion / validation / translation sections appear only when their operations are declared."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from sqlalchemy import Engine

from termsvc import __version__
from termsvc.api.capabilities import REGISTRY
from termsvc.ops.codesystems import load_version
from termsvc.store import queries as q
from termsvc.store.versions import version_key

# The $expand parameters named by the HL7 terminology ecosystem's TerminologyCapabilities test.
EXPANSION_PARAMETERS = ("activeOnly", "check-system-version", "count", "displayLanguage", "excludeNested",
                        "force-system-version", "includeDefinition", "includeDesignations", "offset",
                        "property", "system-version", "tx-resource")


def _operations(resource_type: str) -> list[str]:
    capability = REGISTRY.get(resource_type)
    return list(capability.operations) if capability else []


def code_system_entries(rows: list[q.CodeSystemRow]) -> list[dict[str, Any]]:
    by_url: dict[str, list[q.CodeSystemRow]] = {}
    for row in rows:
        by_url.setdefault(row.url, []).append(row)
    entries: list[dict[str, Any]] = []
    for url in sorted(by_url):
        versions: list[dict[str, Any]] = []
        for row in sorted(by_url[url], key=lambda r: version_key(r.version)):
            entry: dict[str, Any] = {}
            if row.version:
                entry["code"] = row.version
            entry["isDefault"] = row.is_current
            language = load_version(row).language
            if language:
                entry["language"] = [language]
            versions.append(entry)
        item: dict[str, Any] = {"uri": url, "version": versions}
        if any(r.content == "supplement" for r in by_url[url]):
            item["subsumption"] = False
        entries.append(item)
    return entries


def terminology_capabilities(request: Request) -> dict[str, Any]:
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        rows = q.all_code_systems(conn)
    configured = request.app.state.settings.base_url
    base = str(configured).rstrip("/") if configured else str(request.base_url).rstrip("/") + "/fhir"
    resource: dict[str, Any] = {
        "resourceType": "TerminologyCapabilities",
        "id": "termsvc",
        "url": f"{base}/metadata?mode=terminology",
        "version": __version__,
        "name": "TermsvcTerminologyCapabilities",
        "title": "termsvc terminology capabilities",
        "status": "active",
        "experimental": False,
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "kind": "instance",
        "software": {"name": "termsvc", "version": __version__},
        "implementation": {"description": "termsvc FHIR R4 terminology service", "url": base},
        "codeSystem": code_system_entries(rows),
    }
    if "expand" in _operations("ValueSet"):
        resource["expansion"] = {"hierarchical": False, "paging": True,
                                 "parameter": [{"name": name} for name in EXPANSION_PARAMETERS]}
    if "validate-code" in _operations("CodeSystem") or "validate-code" in _operations("ValueSet"):
        resource["validateCode"] = {"translations": False}
    if "translate" in _operations("ConceptMap"):
        resource["translation"] = {"needsMap": True}
    if "closure" in _operations("ConceptMap"):
        resource["closure"] = {"translation": False}
    if not resource["codeSystem"]:
        del resource["codeSystem"]
    return resource
