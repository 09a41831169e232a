"""FHIR search plumbing the resource routers share: paging parameters, `_summary`, and the searchset Bundle
with its paging links (the filters' SQL is in termsvc.store.queries)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from termsvc.errors import Invalid

DEFAULT_COUNT = 50
MAX_COUNT = 1000
MAX_WHOLE = 2**31 - 1
SUMMARY_MODES = ("true", "false", "count", "data", "text")


def whole_number(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise Invalid(f"Search parameter '{name}' must be a whole number, not {raw!r}", expression=[name])
    # the database's integers are 64-bit at most (2^63 failed there); Python refuses to parse 4,300+ digits
    if len(raw) > 10 or int(raw) > MAX_WHOLE:
        raise Invalid(f"Search parameter '{name}' is out of range: {raw} (at most {MAX_WHOLE})", expression=[name])
    return int(raw)


def paging(request: Request) -> tuple[int, int]:
    """(count, offset): `_count` capped at MAX_COUNT, `_offset` from 0."""
    return (min(whole_number(request, "_count", DEFAULT_COUNT), MAX_COUNT), whole_number(request, "_offset", 0))


def summary_mode(request: Request) -> str:
    summary = (request.query_params.get("_summary") or "false").lower()
    if summary not in SUMMARY_MODES:
        raise Invalid(f"_summary must be true, false, count, data or text, not {summary!r}", expression=["_summary"])
    return summary


def kept_parameters(request: Request, filters: dict[str, str], summary: str = "false") -> list[tuple[str, str]]:
    """What a paging link repeats: the filters, a `_summary` other than false, and `_format`."""
    kept = list(filters.items())
    if summary != "false":
        kept.append(("_summary", summary))
    if request.query_params.get("_format"):
        kept.append(("_format", request.query_params["_format"]))
    return kept


def searchset(address: str, kept: Sequence[tuple[str, str]], *, count: int, offset: int, total: int,
              entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A searchset Bundle; `address` is the search's URL without query, `kept` the parameters its paging links
    repeat (not _count/_offset)."""
    def link(at: int) -> str:
        return f"{address}?{urlencode([*kept, ('_count', str(count)), ('_offset', str(at))])}"

    links = [{"relation": "self", "url": link(offset)}]
    if count > 0:
        links.append({"relation": "first", "url": link(0)})
        if offset > 0:
            links.append({"relation": "previous", "url": link(max(0, offset - count))})
        if offset + count < total:
            links.append({"relation": "next", "url": link(offset + count)})
        links.append({"relation": "last", "url": link(max(0, (total - 1) // count * count) if total else 0)})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links}
    if entries:
        bundle["entry"] = entries
    return bundle
