"""Operation input off the HTTP request: GET query parameters, or a POSTed Parameters resource (JSON or XML)
or form, into the `OpParams` the services take."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
from fastapi import Request

from termsvc.errors import Invalid
from termsvc.ops.params import NUL_REFUSED, OpParams, from_parameters, parse_body

__all__ = ["parse_body_async", "read_params"]


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
        if any("\x00" in name or "\x00" in value for name, value in pairs):
            raise Invalid(NUL_REFUSED)
        items.extend((name, "query", value) for name, value in pairs)
        return OpParams(items)
    resource = await parse_body_async(body, content_type)
    items.extend(from_parameters(resource).items)
    return OpParams(items)


# bodies larger than this are parsed in the worker pool: a megabyte of XML is tens of ms of CPU the event loop
# would otherwise spend away from every other client
PARSE_OFF_LOOP = 64 * 1024


async def parse_body_async(body: bytes, content_type: str) -> Any:
    if len(body) <= PARSE_OFF_LOOP:
        return parse_body(body, content_type)
    return await anyio.to_thread.run_sync(parse_body, body, content_type)
