"""The one place errors become HTTP responses: always an OperationOutcome, never a bare 500 page."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from termsvc.api.render import fhir_response
from termsvc.errors import TermsvcError
from termsvc.ops.outcome import from_error, issue, outcome

log = logging.getLogger("termsvc.api")

_HTTP_ISSUE_CODES = {400: "invalid", 401: "security", 403: "forbidden", 404: "not-found", 405: "not-supported",
                     409: "conflict", 413: "too-long", 415: "not-supported", 422: "processing"}


async def _termsvc_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TermsvcError)
    # an auth error carries its RFC 6750 challenge (error="invalid_token", "insufficient_scope")
    challenge = getattr(exc, "challenge", None)
    headers = {"WWW-Authenticate": challenge or 'Bearer realm="termsvc"'} if exc.status == 401 or challenge else None
    return fhir_response(request, from_error(exc), exc.status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
    return fhir_response(request, outcome(issue("error", "invalid", f"Invalid request: {problems}")), 400)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_ISSUE_CODES.get(exc.status_code, "processing")
    return fhir_response(request, outcome(issue("error", code, str(exc.detail))), exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error for %s %s", request.method, request.url.path)
    return fhir_response(request, outcome(issue("fatal", "exception", f"Internal error: {type(exc).__name__}")),
                         500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(TermsvcError, _termsvc_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
