"""The audit trail as FHIR AuditEvent: GET /AuditEvent/{id} and search by date, agent, entity, _count.

Audit entries name callers and their network addresses, so reading them always needs a token with
`system/AuditEvent.rs` (or `.read`), whether or not other reads are open. Like every read, the work (token
check included: a local token is looked up in the store) runs in the worker pool under the request's time
budget (termsvc.api.offload)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import ColumnElement, Connection, Engine, and_, or_

from termsvc import deadline
from termsvc.api import search as fhir_search
from termsvc.api.capabilities import ResourceCapability, declare
from termsvc.api.offload import off_loop
from termsvc.api.render import fhir_response
from termsvc.api.routers.metadata import base_url_of
from termsvc.auth import audit
from termsvc.auth.bearer import authenticate, authorise
from termsvc.auth.scopes import READ, SEARCH
from termsvc.errors import Invalid, NotFound

router = APIRouter(tags=["AuditEvent"])

SEARCH_PARAMS = [("date", "date"), ("agent", "reference"), ("entity", "reference"), ("action", "token"),
                 ("outcome", "token"), ("subtype", "token")]
declare(ResourceCapability("AuditEvent", interactions=["read", "search-type"], search_params=SEARCH_PARAMS))

_DATE = re.compile(r"^(?P<prefix>eq|ne|gt|lt|ge|le|sa|eb)?(?P<value>\d{4}(-\d{2}(-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:\d{2})?)?)?)?)$")


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _range(value: str) -> tuple[datetime, datetime]:
    """The [start, end) a FHIR date value stands for (its precision decides the width), in UTC."""
    if len(value) == 4:
        start = datetime(int(value), 1, 1, tzinfo=UTC)
        return start, start.replace(year=start.year + 1)
    if len(value) == 7:
        start = datetime(int(value[:4]), int(value[5:7]), 1, tzinfo=UTC)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
        return start, end
    if len(value) == 10:
        start = datetime.fromisoformat(value).replace(tzinfo=UTC)
        return start, start + timedelta(days=1)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
    # a time without an offset is taken as UTC, the zone entries are recorded in
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment, moment + timedelta(milliseconds=1)


def _date_condition(raw: str) -> ColumnElement[bool]:
    match = _DATE.match(raw.strip())
    if match is None:
        raise Invalid(f"date {raw!r} is not a FHIR date search value (e.g. ge2026-11-23 or 2026-11-23T10:00:00Z)",
                      expression=["date"])
    try:
        start, end = _range(match["value"])
    except ValueError as exc:
        raise Invalid(f"date {raw!r} is not a valid date: {exc}", expression=["date"]) from None
    recorded = audit.TABLE.c.recorded
    prefix = match["prefix"] or "eq"
    if prefix == "eq":
        return and_(recorded >= start, recorded < end)
    if prefix == "ne":
        return or_(recorded < start, recorded >= end)
    if prefix in ("gt", "sa"):
        return recorded >= end
    if prefix in ("lt", "eb"):
        return recorded < start
    return recorded >= start if prefix == "ge" else recorded < end


@router.get("/AuditEvent/{audit_id}", summary="Read an AuditEvent (one audited write)")
async def read(request: Request, audit_id: str) -> Response:
    return await off_loop(request, lambda: _read_answer(request, audit_id))


def _read_answer(request: Request, audit_id: str) -> Response:
    authorise(authenticate(request), "AuditEvent", READ)
    if not (audit_id.isascii() and audit_id.isdecimal() and len(audit_id) < 18):
        raise NotFound(f"AuditEvent/{audit_id} is not known", expression=["id"])
    with _engine(request).connect() as conn:
        row = audit.by_id(conn, int(audit_id))
    if row is None:
        raise NotFound(f"AuditEvent/{audit_id} is not known", expression=["id"])
    return fhir_response(request, audit.render(row))


@router.get("/AuditEvent", summary="Search AuditEvents (date, agent, entity, action, outcome, subtype, _id; "
            "_elements, _summary, _count, _offset)")
async def search(request: Request) -> Response:
    return await off_loop(request, lambda: _search_answer(request))


def _search_answer(request: Request) -> Response:
    authorise(authenticate(request), "AuditEvent", SEARCH)
    query = fhir_search.parse(request, SEARCH_PARAMS, sortable=())  # newest first, always
    conditions = _conditions(request, query.ids)

    def page(conn: Connection, found: fhir_search.Search) -> tuple[int | None, list[tuple[str, dict[str, Any]]]]:
        total, rows = audit.search(conn, conditions, count=found.count, offset=found.offset)
        return total, [(str(row.audit_id), audit.render(row)) for row in deadline.checked(rows)]

    with _engine(request).connect() as conn:
        return fhir_search.run(request, conn, "AuditEvent", base_url_of(request), query, page)


def _conditions(request: Request, ids: list[str]) -> list[ColumnElement[bool]]:
    query = request.query_params
    c = audit.TABLE.c
    conditions: list[ColumnElement[bool]] = [_date_condition(raw) for raw in query.getlist("date")]
    if ids:
        # ids are audit_id numbers; anything else (or too long for an integer column) names no entry
        conditions.append(c.audit_id.in_([int(i) for i in ids if i.isascii() and i.isdecimal() and len(i) < 18]))
    if query.get("agent"):
        # the agent as shown in AuditEvent.agent.who.display ("token:ci", "jwt:client-1") or its bare name
        kind, _, name = query["agent"].rpartition(":")
        conditions.append(c.agent == name)
        if kind:
            conditions.append(c.agent_kind == kind)
    if query.get("entity"):
        # a reference "ConceptMap/abc" (or a full URL ending so), or a bare id
        parts = query["entity"].rstrip("/").split("/")
        conditions.append(c.resource_id == parts[-1])
        if len(parts) > 1:
            conditions.append(c.resource_type == parts[-2])
    if query.get("action"):
        conditions.append(c.action == query["action"].upper())
    if query.get("subtype"):
        conditions.append(c.interaction == query["subtype"].rpartition("|")[2])
    if query.get("outcome"):
        if not (query["outcome"].isascii() and query["outcome"].isdecimal() and len(query["outcome"]) < 3):
            raise Invalid("outcome must be 0, 4, 8 or 12", expression=["outcome"])
        conditions.append(c.outcome == int(query["outcome"]))
    return conditions
