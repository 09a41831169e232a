"""The OpenAPI document's parameters and bodies, from one table of each operation's FHIR parameters.

The handlers read their input themselves (`termsvc.api.params`: query string, a Parameters resource in JSON
or XML, or a form), so FastAPI sees no parameters to declare. The table below says, per operation, what the
R4 OperationDefinition (and the tx-ecosystem additions this server takes) lists: name, FHIR type,
cardinality and meaning. `install` adds them to the generated document: GET query parameters (the
primitive ones, as FHIR allows on GET), a POST body (Parameters in JSON or XML, or a form), search
parameters, resource bodies for writes, and OperationOutcome answers for the errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from termsvc.api.search import COMMON_PARAMS, SUMMARY_MODES, TOTAL_MODES

FHIR_JSON, FHIR_XML, FORM = "application/fhir+json", "application/fhir+xml", "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class P:
    """One operation parameter: FHIR type (a primitive, Coding, CodeableConcept, or a resource type), min, max."""

    name: str
    type: str
    doc: str
    max: str = "1"
    min: int = 0


RESOURCES = ("CodeSystem", "ValueSet", "ConceptMap", "Parameters")
PRIMITIVES = {"code": "Code", "string": "String", "uri": "Uri", "canonical": "Canonical", "dateTime": "DateTime",
              "boolean": "Boolean", "integer": "Integer"}
TX_RESOURCE = P("tx-resource", "Resource", "A CodeSystem or ValueSet used for this request only", "*")
DISPLAY_LANGUAGE = P("displayLanguage", "code", "Language for displays (BCP 47); else Accept-Language")

LOOKUP = [
    P("code", "code", "The code to look up"), P("system", "uri", "The code system's url"),
    P("version", "string", "The code system's version"), P("coding", "Coding", "The code as a Coding"),
    P("date", "dateTime", "Accepted; the store answers from one state per version"), DISPLAY_LANGUAGE,
    P("property", "code", "Properties to return (designation, parent, child, or the system's own)", "*"),
    P("useSupplement", "canonical", "A supplement to use", "*"), TX_RESOURCE]
CS_VALIDATE = [
    P("url", "uri", "The code system's url"), P("system", "uri", "Synonym of url"),
    P("codeSystem", "CodeSystem", "A code system to validate against (not stored)"),
    P("code", "code", "The code"), P("version", "string", "The code system's version"),
    P("display", "string", "A display to check"), P("coding", "Coding", "The code as a Coding"),
    P("codeableConcept", "CodeableConcept", "Codings, one of which must be valid"),
    P("date", "dateTime", "Accepted; the store answers from one state per version"),
    P("abstract", "boolean", "Whether an abstract code is valid"), DISPLAY_LANGUAGE, TX_RESOURCE]
SUBSUMES = [
    P("codeA", "code", "Code A"), P("codeB", "code", "Code B"), P("system", "uri", "The code system of A and B"),
    P("version", "string", "The code system's version"), P("codingA", "Coding", "Code A as a Coding"),
    P("codingB", "Coding", "Code B as a Coding"), TX_RESOURCE]
EXPAND = [
    P("url", "uri", "The value set's canonical url"), P("valueSet", "ValueSet", "A value set to expand (not stored)"),
    P("valueSetVersion", "string", "The value set's version"), P("filter", "string", "Text filter on displays"),
    P("date", "dateTime", "Accepted; the store answers from one state per version"),
    P("offset", "integer", "Paging: codes to skip"), P("count", "integer", "Paging: codes to return"),
    P("includeDesignations", "boolean", "Include designations"),
    P("designation", "string", "Designations to include (language or use)", "*"),
    P("includeDefinition", "boolean", "Include the value set definition"),
    P("activeOnly", "boolean", "Only active codes"), P("excludeNested", "boolean", "Flat list"),
    P("excludeNotForUI", "boolean", "Leave out codes not for user interfaces"),
    P("excludePostCoordinated", "boolean", "Leave out post-coordinated codes"), DISPLAY_LANGUAGE,
    P("exclude-system", "canonical", "Code systems (url|version) to leave out", "*"),
    P("system-version", "canonical", "Default version for a code system (url|version)", "*"),
    P("check-system-version", "canonical", "Version a code system must have (url|version)", "*"),
    P("force-system-version", "canonical", "Version to use for a code system (url|version)", "*"), TX_RESOURCE]
VS_VALIDATE = [
    P("url", "uri", "The value set's canonical url"), P("valueSet", "ValueSet", "A value set (not stored)"),
    P("valueSetVersion", "string", "The value set's version"), P("code", "code", "The code"),
    P("system", "uri", "The code's system"), P("systemVersion", "string", "The code system's version"),
    P("display", "string", "A display to check"), P("coding", "Coding", "The code as a Coding"),
    P("codeableConcept", "CodeableConcept", "Codings, one of which must be in the value set"),
    P("date", "dateTime", "Accepted; the store answers from one state per version"),
    P("abstract", "boolean", "Whether an abstract code is valid"), DISPLAY_LANGUAGE,
    P("system-version", "canonical", "Default version for a code system (url|version)", "*"), TX_RESOURCE]
BATCH_VALIDATE = [P("validation", "Parameters", "One $validate-code's parameters", "*", 1),
                  *(p for p in VS_VALIDATE if p.type not in RESOURCES and p.name != "code")]
TRANSLATE = [
    P("url", "uri", "The concept map's canonical url"), P("conceptMap", "ConceptMap", "A concept map (not stored)"),
    P("conceptMapVersion", "string", "The concept map's version"), P("code", "code", "The code to translate"),
    P("system", "uri", "The code's system"), P("version", "string", "The code system's version"),
    P("source", "uri", "The source value set"), P("coding", "Coding", "The code as a Coding"),
    P("codeableConcept", "CodeableConcept", "Codings to translate"), P("target", "uri", "The target value set"),
    P("targetsystem", "uri", "The target code system"), P("reverse", "boolean", "Translate target to source"),
    TX_RESOURCE]

# path template (without /fhir) -> (operation's parameters, what a 200 answers with, summary)
OPERATIONS: dict[str, tuple[list[P], str]] = {
    "/CodeSystem/$lookup": (LOOKUP, "Parameters"), "/CodeSystem/{resource_id}/$lookup": (LOOKUP, "Parameters"),
    "/CodeSystem/$validate-code": (CS_VALIDATE, "Parameters"),
    "/CodeSystem/{resource_id}/$validate-code": (CS_VALIDATE, "Parameters"),
    "/CodeSystem/$subsumes": (SUBSUMES, "Parameters"), "/CodeSystem/{resource_id}/$subsumes": (SUBSUMES, "Parameters"),
    "/ValueSet/$expand": (EXPAND, "ValueSet"), "/ValueSet/{resource_id}/$expand": (EXPAND, "ValueSet"),
    "/ValueSet/$validate-code": (VS_VALIDATE, "Parameters"),
    "/ValueSet/{resource_id}/$validate-code": (VS_VALIDATE, "Parameters"),
    "/ValueSet/$batch-validate-code": (BATCH_VALIDATE, "Parameters"),
    "/ConceptMap/$translate": (TRANSLATE, "Parameters"), "/ConceptMap/{resource_id}/$translate": (TRANSLATE, "Parameters"),
    "/$versions": ([], "Parameters"),
}
CANONICAL_SEARCH = [("url", "uri", "Canonical url (exact)"), ("version", "token", "Business version (exact)"),
                    ("name", "string", "Name (starts with, any case)"), ("title", "string", "Title (starts with)"),
                    ("status", "token", "draft | active | retired | unknown")]
SEARCHES = {f"/{t}": CANONICAL_SEARCH for t in ("CodeSystem", "ValueSet", "ConceptMap")}
SEARCHES["/AuditEvent"] = [("date", "date", "When (ge2026-11-23, 2026-11-23T10:00:00Z, ...)"),
                           ("agent", "reference", "Who (token:NAME, jwt:CLIENT, or the bare name)"),
                           ("entity", "reference", "What (ConceptMap/ID or ID)"), ("action", "token", "C | R | U | D"),
                           ("outcome", "token", "0 | 4 | 8 | 12"), ("subtype", "token", "The interaction")]
RESULT_PARAMS: list[tuple[str, dict[str, Any], str]] = [
    ("_count", {"type": "integer", "minimum": 0}, "Page size (at most 1000)"),
    ("_offset", {"type": "integer", "minimum": 0}, "Entries to skip"),
    ("_sort", {"type": "string"}, "Comma-separated url, version, name, title, status; - for descending"),
    ("_elements", {"type": "string"}, "Comma-separated elements to return"),
    ("_summary", {"type": "string", "enum": list(SUMMARY_MODES)}, "Summary form"),
    ("_total", {"type": "string", "enum": list(TOTAL_MODES)}, "Whether to count the matches"),
]
FORMAT = {"name": "_format", "in": "query", "required": False, "description": "json or xml (else by Accept)",
          "schema": {"type": "string", "enum": ["json", "xml", FHIR_JSON, FHIR_XML]}}

CODING = {"type": "object", "properties": {k: {"type": "string"} for k in ("system", "version", "code", "display")},
          "additionalProperties": False}
CODEABLE = {"type": "object", "properties": {"coding": {"type": "array", "items": CODING}, "text": {"type": "string"}},
            "additionalProperties": False}
RESOURCE = {"type": "object", "required": ["resourceType"], "properties": {"resourceType": {"type": "string"}}}
SCHEMAS: dict[str, dict[str, Any]] = {
    "Resource": RESOURCE, "Coding": CODING, "CodeableConcept": CODEABLE,
    "OperationOutcome": {"type": "object", "required": ["resourceType", "issue"], "properties": {
        "resourceType": {"const": "OperationOutcome"}, "issue": {"type": "array", "items": {"type": "object"}}}},
}
ERRORS = {"400": "Invalid request", "401": "Token needed", "403": "Scope missing", "404": "Not known",
          "405": "Not supported", "413": "Body too large", "422": "Not processable"}


def _value_schema(p: P) -> tuple[str, dict[str, Any]]:
    """(Parameters.parameter key, its JSON schema) for a parameter."""
    if p.type in PRIMITIVES:
        kind = {"boolean": "boolean", "integer": "integer"}.get(p.type, "string")
        return f"value{PRIMITIVES[p.type]}", {"type": kind}
    if p.type in ("Coding", "CodeableConcept"):
        return f"value{p.type}", {"$ref": f"#/components/schemas/{p.type}"}
    resource_types = [p.type] if p.type in RESOURCES else ["CodeSystem", "ValueSet"]
    return "resource", {"type": "object", "required": ["resourceType"],
                        "properties": {"resourceType": {"type": "string", "enum": resource_types}}}


def parameters_schema(params: list[P]) -> dict[str, Any]:
    """A Parameters resource whose entries are this operation's parameters (one schema per parameter)."""
    items = []
    for p in params:
        key, schema = _value_schema(p)
        items.append({"type": "object", "required": ["name", key], "additionalProperties": False,
                      "description": f"{p.name} ({p.type} {p.min}..{p.max}): {p.doc}",
                      "properties": {"name": {"type": "string", "enum": [p.name]}, key: schema}})
    parameter: dict[str, Any] = {"type": "array", "items": {"oneOf": items} if items else {"type": "object"}}
    return {"type": "object", "required": ["resourceType"], "additionalProperties": False,
            "properties": {"resourceType": {"type": "string", "enum": ["Parameters"]}, "parameter": parameter}}


def _query(name: str, schema: dict[str, Any], doc: str, repeats: bool = False) -> dict[str, Any]:
    if repeats:
        schema = {"type": "array", "items": schema}
    return {"name": name, "in": "query", "required": False, "description": doc, "schema": schema,
            **({"style": "form", "explode": True} if repeats else {})}


def _primitive_query(params: list[P]) -> list[dict[str, Any]]:
    out = []
    for p in params:
        if p.type in PRIMITIVES:
            schema = _value_schema(p)[1]
            out.append(_query(p.name, schema, f"{p.type} {p.min}..{p.max}: {p.doc}", p.max == "*"))
    return out


def _answers(result: str) -> dict[str, Any]:
    ok = {"$ref": "#/components/schemas/Resource"}
    answers: dict[str, Any] = {"200": {"description": f"A {result}", "content": {
        FHIR_JSON: {"schema": ok}, FHIR_XML: {"schema": {"type": "string"}}}}}
    for status, text in ERRORS.items():
        answers[status] = {"description": f"{text} (OperationOutcome)", "content": {
            FHIR_JSON: {"schema": {"$ref": "#/components/schemas/OperationOutcome"}},
            FHIR_XML: {"schema": {"type": "string"}}}}
    return answers


def _body(params: list[P]) -> dict[str, Any]:
    form = {"type": "object", "properties": {p.name: _value_schema(p)[1] for p in params if p.type in PRIMITIVES}}
    return {"required": False, "content": {
        FHIR_JSON: {"schema": parameters_schema(params)},
        FHIR_XML: {"schema": {"type": "string", "description": "A Parameters resource in FHIR XML"}},
        FORM: {"schema": form}}}


def _with(operation: dict[str, Any], parameters: list[dict[str, Any]]) -> None:
    """Add parameters after the ones FastAPI declared (path parameters), skipping names already there."""
    have = {(p["name"], p["in"]) for p in operation.get("parameters", [])}
    operation["parameters"] = [*operation.get("parameters", []),
                               *(p for p in parameters if (p["name"], p["in"]) not in have)]


def _describe(path: str, method: str, operation: dict[str, Any]) -> None:
    short = path.removeprefix("/fhir")
    if short in OPERATIONS:
        params, result = OPERATIONS[short]
        if method == "get":
            _with(operation, _primitive_query(params))
        elif method == "post":
            operation["requestBody"] = _body(params)
        operation["responses"] = _answers(result)
    elif short in SEARCHES and method == "get":
        own = [_query(name, {"type": "string"}, f"{kind}: {doc}") for name, kind, doc in SEARCHES[short]]
        common = [_query(name, {"type": "string"}, f"{kind}: resource id(s), comma-separated")
                  for name, kind in COMMON_PARAMS]
        _with(operation, [*own, *common, *(_query(n, s, d) for n, s, d in RESULT_PARAMS)])
        operation["responses"] = _answers("Bundle (searchset)")
    elif method in ("post", "put") and short.count("/") in (1, 2) and short.split("/")[1] in RESOURCES:
        resource_type = short.split("/")[1]
        operation["requestBody"] = {"required": True, "content": {
            FHIR_JSON: {"schema": {"type": "object", "required": ["resourceType"], "properties": {
                "resourceType": {"type": "string", "enum": [resource_type]}}}},
            FHIR_XML: {"schema": {"type": "string"}}}}
        operation["responses"] = _answers(resource_type)
        if method == "put" and short.count("/") == 1:  # conditional update
            _with(operation, [_query("url", {"type": "string"}, "The canonical url of the resource to update"),
                              _query("version", {"type": "string"}, "Its business version")])
    elif short == "" and method == "post":
        operation["requestBody"] = {"required": True, "content": {
            FHIR_JSON: {"schema": {"type": "object", "required": ["resourceType", "type"], "properties": {
                "resourceType": {"type": "string", "enum": ["Bundle"]}, "type": {"type": "string", "enum": ["batch"]},
                "entry": {"type": "array", "items": {"type": "object"}}}}},
            FHIR_XML: {"schema": {"type": "string"}}}}
        operation["responses"] = _answers("Bundle (batch-response)")
    elif path.startswith("/fhir"):
        operation["responses"] = _answers("FHIR resource")
    if path.startswith("/fhir"):
        _with(operation, [FORMAT])


def document(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        doc = get_openapi(title=app.title, version=app.version, summary=app.summary, description=app.description,
                          routes=app.routes)
        for path, operations in doc.get("paths", {}).items():
            for method, operation in operations.items():
                _describe(path, method, operation)
        doc.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
        app.openapi_schema = doc
    return app.openapi_schema


def install(app: FastAPI) -> None:
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
