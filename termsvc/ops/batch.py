"""A FHIR `batch` Bundle taken apart into requests, and the `batch-response` Bundle built from their answers.

Transport-free: the router dispatches each request (through the application itself, so every entry gets
exactly the routing, parameters, authorisation and errors of a direct call). Per FHIR, a batch's entries are
independent: an entry that is malformed or fails gets its own status and OperationOutcome and the others
still run; only a body that is not a batch at all fails as a whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import orjson

from termsvc.errors import Invalid, TermsvcError, TooCostly
from termsvc.ops.outcome import from_error

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# a batch is answered in one response: past this many entries the client should send several
MAX_ENTRIES = 1000
# request headers an entry may carry (Bundle.entry.request), with the HTTP header each becomes
CONDITIONAL = {"ifNoneMatch": "if-none-match", "ifModifiedSince": "if-modified-since", "ifMatch": "if-match",
               "ifNoneExist": "if-none-exist"}


@dataclass
class EntryRequest:
    """One entry's request as an HTTP request under the FHIR base; `error` set when it cannot be sent."""

    method: str = "GET"
    path: str = ""
    query: str = ""
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error: TermsvcError | None = None


def entries_of(bundle: Any, base_path: str) -> list[EntryRequest]:
    """The requests of a batch Bundle, in order. `base_path` is the FHIR base on this server ('/fhir')."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        kind = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
        raise Invalid(f"POST to the FHIR base takes a Bundle of type batch, not {kind}", expression=["resourceType"])
    kind = bundle.get("type")
    if kind == "transaction":
        raise Invalid("Transaction Bundles are not supported: send the entries as a batch (each entry is then "
                      "processed on its own)", status=422, issue_code="not-supported", expression=["Bundle.type"])
    if kind != "batch":
        raise Invalid(f"POST to the FHIR base takes a Bundle of type batch, not type {kind!r}",
                      expression=["Bundle.type"])
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise Invalid("Bundle.entry must be a list", expression=["Bundle.entry"])
    if len(entries) > MAX_ENTRIES:
        raise TooCostly(f"The batch has {len(entries)} entries; at most {MAX_ENTRIES} are processed in one Bundle")
    return [_entry(entry, index, base_path) for index, entry in enumerate(entries)]


def _entry(entry: Any, index: int, base_path: str) -> EntryRequest:
    where = f"Bundle.entry[{index}]"
    try:
        return _parse_entry(entry, where, base_path)
    except TermsvcError as error:
        return EntryRequest(error=error)


def _parse_entry(entry: Any, where: str, base_path: str) -> EntryRequest:
    request = entry.get("request") if isinstance(entry, dict) else None
    if not isinstance(request, dict):
        raise Invalid(f"{where} has no request (a batch entry needs request.method and request.url)",
                      expression=[f"{where}.request"])
    method, url = request.get("method"), request.get("url")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise Invalid(f"{where}.request.method must be one of {', '.join(METHODS)}, not {method!r}",
                      expression=[f"{where}.request.method"])
    if not isinstance(url, str) or not url.strip():
        raise Invalid(f"{where}.request.url is missing", expression=[f"{where}.request.url"])
    path, query = _local(url.strip(), base_path, where)
    headers = {header: str(request[key]) for key, header in CONDITIONAL.items() if isinstance(request.get(key), str)}
    body = None
    resource = entry.get("resource")
    if resource is not None:
        if not isinstance(resource, dict) or "resourceType" not in resource:
            raise Invalid(f"{where}.resource is not a FHIR resource", expression=[f"{where}.resource"])
        body = orjson.dumps(resource)
        headers["content-type"] = "application/fhir+json"
    return EntryRequest(method.upper(), path, query, body, headers)


def _local(url: str, base_path: str, where: str) -> tuple[str, str]:
    """A request url (relative to the base, or absolute on this server) as a path under the base and a query."""
    parts = urlsplit(url)
    path = parts.path
    if parts.scheme or parts.netloc:
        if not (path == base_path or path.startswith(base_path + "/")):
            raise Invalid(f"{where}.request.url '{url}' is not on this server (base {base_path})",
                          expression=[f"{where}.request.url"])
        path = path[len(base_path):]
    path = "/" + path.lstrip("/")
    if path == "/":
        raise Invalid(f"{where}.request.url addresses the base itself: batches do not nest",
                      expression=[f"{where}.request.url"])
    return base_path + path, parts.query


@dataclass
class EntryResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def response_entry(answer: EntryResponse) -> dict[str, Any]:
    """Bundle.entry of a batch-response: response.status ('200 OK'), location/etag/lastModified, and the
    answer as `resource` (success) or `response.outcome` (an error's OperationOutcome)."""
    response: dict[str, Any] = {"status": _status_line(answer.status)}
    for header, key in (("location", "location"), ("content-location", "location"), ("etag", "etag"),
                        ("last-modified", "lastModified")):
        if answer.headers.get(header) and key not in response:
            response[key] = answer.headers[header]
    resource = _resource(answer.body)
    entry: dict[str, Any] = {}
    if resource is not None and answer.status >= 400 and resource.get("resourceType") == "OperationOutcome":
        response["outcome"] = resource
    elif resource is not None:
        entry["resource"] = resource
    entry["response"] = response
    return entry


def error_entry(error: TermsvcError) -> dict[str, Any]:
    """An entry that could not be sent: its status and an OperationOutcome saying why."""
    return {"response": {"status": _status_line(error.status), "outcome": from_error(error)}}


def batch_response(entries: list[dict[str, Any]], identifier: str, timestamp: str) -> dict[str, Any]:
    return {"resourceType": "Bundle", "id": identifier, "type": "batch-response", "timestamp": timestamp,
            "entry": entries}


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _resource(body: bytes) -> dict[str, Any] | None:
    if not body.strip():
        return None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None  # not a resource (an entry addressed something that answers in another format)
    return parsed if isinstance(parsed, dict) and "resourceType" in parsed else None
