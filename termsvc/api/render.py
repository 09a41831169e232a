"""Responses: FHIR JSON (orjson, no models) or XML, chosen by `_format` then `Accept`."""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from termsvc.fhir_xml import to_xml

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"

_XML_FORMATS = {"xml", "text/xml", "application/xml", FHIR_XML}
_JSON_FORMATS = {"json", "text/json", "application/json", FHIR_JSON}


def wants_xml(request: Request) -> bool:
    fmt = request.query_params.get("_format")
    if fmt:
        return fmt.split(";")[0].strip().lower() in _XML_FORMATS
    accept = request.headers.get("accept", "").lower()
    if not accept:
        return False
    # the first FHIR-ish type named wins
    for part in accept.split(","):
        media = part.split(";")[0].strip()
        if media in _XML_FORMATS:
            return True
        if media in _JSON_FORMATS or media in ("*/*", "application/*"):
            return False
    return False


def fhir_response(request: Request, resource: dict[str, Any], status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    if wants_xml(request):
        try:
            body = to_xml(resource)
        except ValueError:
            # a stored string with a character XML 1.0 cannot carry (a NUL, other control characters)
            body = to_xml(_xml_safe(resource))
        return Response(body, status_code=status, media_type=f"{FHIR_XML};charset=utf-8", headers=headers)
    return Response(orjson.dumps(resource), status_code=status, media_type=f"{FHIR_JSON};charset=utf-8",
                    headers=headers)


# characters XML 1.0 cannot carry, even escaped (https://www.w3.org/TR/xml/#charsets)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(value: Any) -> Any:
    """`value` with each character XML cannot carry replaced by U+FFFD, so the answer is still given (as JSON
    would give it, but for those characters)."""
    if isinstance(value, str):
        return _NOT_XML.sub("\ufffd", value)
    if isinstance(value, dict):
        return {key: _xml_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_xml_safe(item) for item in value]
    return value
