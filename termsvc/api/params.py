"""Operation input off the HTTP request: GET query parameters, or a POSTed Parameters resource (JSON or XML)
or form, into the `OpParams` the services take."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from termsvc.errors import Invalid
from termsvc.ops.params import OpParams, from_parameters, parse_body

__all__ = ["read_params"]


async def read_params(request: Request) -> OpParams:
    """Query parameters (GET, and POST alongside a body), then the body's parameters."""
    items: list[tuple[str, str, Any]] = [
        (name, "query", value) for name, value in request.query_params.multi_items() if name != "_format"
    ]
    if request.method != "POST":
        return OpParams(items)
    body = await request.body()
    if not body.strip():
        return OpParams(items)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        # parsed here rather than by request.form(), which needs python-multipart (not a dependency)
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise Invalid("The form body is not valid UTF-8") from None
        items.extend((name, "query", value) for name, value in pairs)
        return OpParams(items)
    resource = parse_body(body, content_type)
    items.extend(from_parameters(resource).items)
    return OpParams(items)
