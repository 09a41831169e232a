"""FHIR search, once for every resource: the parameters every resource takes (`_id`, `_sort`, `_elements`,
`_summary`, `_total`, `_count`, `_offset`), strict or lenient handling of the rest (`Prefer:
handling=strict`), and the searchset Bundle with its paging links. A router supplies only its own
parameters and a `Page` function that fetches one page (the filters' SQL is in termsvc.store.queries).

Lenient handling (the default) ignores a parameter it does not know, leaves it out of the self link (which
shows what was applied) and says so in an OperationOutcome entry (search.mode = outcome), as FHIR R4's
search page asks (3.1.1.4 "Handling errors")."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Connection

from termsvc import deadline
from termsvc.api.render import fhir_response
from termsvc.errors import Invalid
from termsvc.ops.codesystems import SUBSETTED
from termsvc.ops.params import MAX_INTEGER
from termsvc.store import queries as q

DEFAULT_COUNT = 50
MAX_COUNT = 1000
# a FHIR integer (32-bit): past any store's size, and within every engine's integer
MAX_OFFSET = MAX_INTEGER
SUMMARY_MODES = ("true", "false", "count", "data", "text")
TOTAL_MODES = ("none", "estimate", "accurate")
# result parameters every resource takes (besides its own search parameters and `_id`)
CONTROL = frozenset({"_format", "_pretty", "_summary", "_count", "_offset", "_elements", "_sort", "_total"})
COMMON_PARAMS: list[tuple[str, str]] = [("_id", "token")]
# what `_sort` may name, for the canonical resources (column of the resource's table)
SORTABLE = ("url", "version", "name", "title", "status")
# elements that are not in a resource's summary (_summary=true), per type; `text` is never in it
NOT_IN_SUMMARY: dict[str, tuple[str, ...]] = {"CodeSystem": ("concept",), "ValueSet": ("compose", "expansion"),
                                              "ConceptMap": ("group",)}
# elements always kept by _elements and _summary=text (FHIR: id, meta and the mandatory elements)
ALWAYS_KEPT = ("resourceType", "id", "meta")
MANDATORY: dict[str, tuple[str, ...]] = {"CodeSystem": ("status", "content"), "ValueSet": ("status",),
                                         "ConceptMap": ("status",)}


@dataclass
class Search:
    """One parsed search: what the router's page function needs, and what the Bundle reports."""

    filters: dict[str, str]
    ids: list[str]
    sort: list[tuple[str, bool]]  # (column, descending)
    count: int
    offset: int
    summary: str
    elements: list[str] | None
    total: str
    applied: list[tuple[str, str]] = field(default_factory=list)  # what the self link repeats
    ignored: list[str] = field(default_factory=list)

    @property
    def wants_total(self) -> bool:
        return self.total != "none" or self.summary == "count"


# (total or None, [(resource id, resource)]) of one page
Page = Callable[[Connection, Search], tuple[int | None, list[tuple[str, dict[str, Any]]]]]


def whole_number(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdecimal()):
        raise Invalid(f"Search parameter '{name}' must be a whole number, not {raw!r}", expression=[name])
    if len(raw) > 10 or int(raw) > MAX_OFFSET:
        raise Invalid(f"Search parameter '{name}' is too large ({raw[:20]}): at most {MAX_OFFSET}",
                      expression=[name])
    return int(raw)


def paging(request: Request) -> tuple[int, int]:
    """(count, offset): `_count` capped at MAX_COUNT, `_offset` from 0."""
    return (min(whole_number(request, "_count", DEFAULT_COUNT), MAX_COUNT), whole_number(request, "_offset", 0))


def summary_mode(request: Request) -> str:
    summary = (request.query_params.get("_summary") or "false").lower()
    if summary not in SUMMARY_MODES:
        raise Invalid(f"_summary must be true, false, count, data or text, not {summary!r}", expression=["_summary"])
    return summary


def strict(request: Request) -> bool:
    """`Prefer: handling=strict` (RFC 7240 preferences, comma or semicolon separated)."""
    prefer = request.headers.get("prefer", "").replace(" ", "").lower()
    return "handling=strict" in prefer.replace(";", ",").split(",")


def unknown_parameters(request: Request, own: Sequence[tuple[str, str]]) -> list[str]:
    """Parameters neither the resource's nor FHIR's result parameters; refused (400) under strict handling."""
    known = {name for name, _ in own} | {name for name, _ in COMMON_PARAMS} | CONTROL
    unknown = sorted({name for name in request.query_params if name not in known})
    if unknown and strict(request):
        raise Invalid(f"Unknown search parameter(s): {', '.join(unknown)} (Prefer: handling=strict)",
                      expression=unknown, issue_code="not-supported")
    return unknown


def parse(request: Request, own: Sequence[tuple[str, str]], sortable: Sequence[str] = SORTABLE) -> Search:
    query = request.query_params
    ignored = unknown_parameters(request, own)
    summary = summary_mode(request)
    count, offset = paging(request)
    if summary == "count":
        count = 0
    total = (query.get("_total") or "accurate").lower()
    if total not in TOTAL_MODES:
        raise Invalid(f"_total must be none, estimate or accurate, not {total!r}", expression=["_total"])
    filters = {name: query[name] for name, _ in own if query.get(name)}
    ids = [part for value in query.getlist("_id") for part in value.split(",") if part]
    sort, bad_sort = _sort(query.get("_sort") or "", sortable)
    if bad_sort and strict(request):
        raise Invalid(f"Cannot sort by {', '.join(bad_sort)}: _sort takes {', '.join(sortable)} (- for descending)",
                      expression=["_sort"], issue_code="not-supported")
    ignored += [f"_sort={key}" for key in bad_sort]
    elements = [e.strip() for v in query.getlist("_elements") for e in v.split(",") if e.strip()] or None
    applied = [(name, value) for name, value in query.multi_items()
               if name not in ("_count", "_offset", "_sort", "_elements") and name not in ignored]
    if sort:
        applied.append(("_sort", ",".join(("-" if desc else "") + key for key, desc in sort)))
    if elements:
        applied.append(("_elements", ",".join(elements)))
    return Search(filters, ids, sort, count, offset, summary, elements, total, applied, ignored)


def _sort(raw: str, sortable: Sequence[str]) -> tuple[list[tuple[str, bool]], list[str]]:
    keys: list[tuple[str, bool]] = []
    bad: list[str] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        name, descending = part.removeprefix("-"), part.startswith("-")
        if name in sortable:
            keys.append((name, descending))
        else:
            bad.append(name)
    return keys, bad


def shaped(resource_type: str, resource: dict[str, Any], search: Search) -> dict[str, Any]:
    """The resource as `_summary` / `_elements` ask, tagged SUBSETTED when something was left out."""
    if search.elements is not None:
        keep = {*ALWAYS_KEPT, *MANDATORY.get(resource_type, ()), *search.elements}
        return _subsetted({k: v for k, v in resource.items() if k in keep}, resource)
    if search.summary == "true":
        dropped = {"text", *NOT_IN_SUMMARY.get(resource_type, ())}
        return _subsetted({k: v for k, v in resource.items() if k not in dropped}, resource)
    if search.summary == "text":
        keep = {*ALWAYS_KEPT, "text", *MANDATORY.get(resource_type, ())}
        return _subsetted({k: v for k, v in resource.items() if k in keep}, resource)
    if search.summary == "data":
        return _subsetted({k: v for k, v in resource.items() if k != "text"}, resource)
    return resource


def _subsetted(kept: dict[str, Any], whole: dict[str, Any]) -> dict[str, Any]:
    if len(kept) == len(whole):
        return kept
    meta = dict(kept.get("meta") or {})
    tags = list(meta.get("tag") or [])
    if not any(t.get("code") == "SUBSETTED" for t in tags if isinstance(t, dict)):
        tags.append(SUBSETTED)
    meta["tag"] = tags
    return {"resourceType": kept.get("resourceType"), "id": kept.get("id"), "meta": meta,
            **{k: v for k, v in kept.items() if k not in ALWAYS_KEPT}}


def run(request: Request, conn: Connection, resource_type: str, base: str, search: Search, page: Page) -> Response:
    """Fetch one page and answer with the searchset Bundle (the one path every resource's search takes)."""
    total, found = page(conn, search)
    entries = [{"fullUrl": f"{base}/{resource_type}/{rid}", "resource": shaped(resource_type, resource, search),
                "search": {"mode": "match"}} for rid, resource in found]
    if search.ignored:
        entries.append(ignored_outcome(search.ignored))
    return fhir_response(request, searchset(f"{base}/{resource_type}", search.applied, count=search.count,
                                            offset=search.offset, total=total, entries=entries))


def stored_page(table: str, key: str) -> Page:
    """The page function of a resource kept whole in the store (value_set, concept_map rows)."""
    def page(conn: Connection, search: Search) -> tuple[int | None, list[tuple[str, dict[str, Any]]]]:
        keys = q.keys_for_ids(conn, table, key, search.ids) if search.ids else None
        total, rows = q.search_stored_resources(conn, table, key, search.filters, offset=search.offset,
                                                count=search.count, keys=keys, sort=search.sort,
                                                with_total=search.wants_total)
        found = []
        for row in deadline.checked(rows):
            resource = orjson.loads(row[2])
            resource_id = row[1] or str(row[0])
            resource.setdefault("id", resource_id)
            found.append((resource_id, resource))
        return total, found
    return page


def ignored_outcome(ignored: list[str]) -> dict[str, Any]:
    text = (f"Search parameter(s) not supported and ignored: {', '.join(ignored)} "
            "(send Prefer: handling=strict to have them refused)")
    return {"resource": {"resourceType": "OperationOutcome", "issue": [
        {"severity": "warning", "code": "not-supported", "diagnostics": text, "expression": ignored}]},
        "search": {"mode": "outcome"}}


def kept_parameters(request: Request, filters: dict[str, str], summary: str = "false") -> list[tuple[str, str]]:
    """What a paging link repeats: the filters, a `_summary` other than false, and `_format`."""
    kept = list(filters.items())
    if summary != "false":
        kept.append(("_summary", summary))
    if request.query_params.get("_format"):
        kept.append(("_format", request.query_params["_format"]))
    return kept


def searchset(address: str, kept: Sequence[tuple[str, str]], *, count: int, offset: int, total: int | None,
              entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A searchset Bundle; `address` is the search's URL without query, `kept` the parameters its paging links
    repeat (not _count/_offset). Without a total (_total=none) there is a next link while a page is full."""
    def link(at: int) -> str:
        return f"{address}?{urlencode([*kept, ('_count', str(count)), ('_offset', str(at))])}"

    matches = sum(1 for e in entries if e.get("search", {}).get("mode") == "match")
    links = [{"relation": "self", "url": link(offset)}]
    if count > 0:
        links.append({"relation": "first", "url": link(0)})
        if offset > 0:
            links.append({"relation": "previous", "url": link(max(0, offset - count))})
        if (offset + count < total) if total is not None else matches >= count:
            links.append({"relation": "next", "url": link(offset + count)})
        if total is not None:
            links.append({"relation": "last", "url": link(max(0, (total - 1) // count * count) if total else 0)})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset",
                              **({"total": total} if total is not None else {}), "link": links}
    if entries:
        bundle["entry"] = entries
    return bundle
