"""The audit trail: every write attempt (success, or refusal for authorisation or validation) is one row,
written in its own transaction so a refused or rolled-back write is still recorded; read back as FHIR R4
AuditEvent (plain dicts: not a hot path, but no reason for models either)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Table, func, insert, select

from termsvc.store.auth_tables import AuditEntry

SUCCESS, MINOR_FAILURE, SERIOUS_FAILURE = 0, 4, 8
ACTIONS = {"create": "C", "update": "U", "delete": "D", "read": "R"}

_EVENT_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest",
               "display": "RESTful Operation"}
_INTERACTION_SYSTEM = "http://hl7.org/fhir/restful-interaction"
_SOURCE_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4",
                "display": "Application Server"}
_ENTITY_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2",
                "display": "System Object"}
_OUTCOME_DESC = {SUCCESS: "Success", MINOR_FAILURE: "Minor failure", SERIOUS_FAILURE: "Serious failure"}

TABLE: Table = AuditEntry.__table__  # type: ignore[attr-defined]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AuditRecord:
    interaction: str
    agent: str
    agent_kind: str
    source_address: str | None
    resource_type: str | None
    resource_id: str | None = None
    url: str | None = None
    version: str | None = None
    outcome: int = SUCCESS
    outcome_desc: str | None = None
    http_status: int = 200


def outcome_for(status: int) -> int:
    """FHIR AuditEvent outcome from the HTTP status: a refused request (4xx) is a minor failure, a server
    failure (5xx) a serious one."""
    if status < 400:
        return SUCCESS
    return MINOR_FAILURE if status < 500 else SERIOUS_FAILURE


def record(engine: Engine, entry: AuditRecord) -> int:
    with engine.begin() as conn:
        return int(conn.execute(insert(TABLE).values(
            recorded=_now(), action=ACTIONS.get(entry.interaction, "E"), interaction=entry.interaction,
            outcome=entry.outcome, outcome_desc=entry.outcome_desc, agent=entry.agent, agent_kind=entry.agent_kind,
            source_address=entry.source_address, resource_type=entry.resource_type, resource_id=entry.resource_id,
            url=entry.url, version=entry.version, http_status=entry.http_status,
        ).returning(TABLE.c.audit_id)).scalar_one())


def _instant(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render(row: Any) -> dict[str, Any]:
    """One audit_entry row as a FHIR R4 AuditEvent."""
    agent: dict[str, Any] = {"type": {"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "code": "humanuser"
        if row.agent_kind == "anonymous" else "dataprocessor"}]},
        "who": {"display": f"{row.agent_kind}:{row.agent}"}, "requestor": True}
    if row.source_address:
        # network type 2: IP address
        agent["network"] = {"address": row.source_address, "type": "2"}
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(row.audit_id),
        "type": _EVENT_TYPE,
        "subtype": [{"system": _INTERACTION_SYSTEM, "code": row.interaction, "display": row.interaction}],
        "action": row.action,
        "recorded": _instant(row.recorded),
        "outcome": str(row.outcome),
        "outcomeDesc": row.outcome_desc or _OUTCOME_DESC.get(row.outcome, "Failure") +
        f" (HTTP {row.http_status})",
        "agent": [agent],
        "source": {"observer": {"display": "termsvc"}, "type": [_SOURCE_TYPE]},
    }
    if row.resource_type:
        what: dict[str, Any] = {}
        if row.resource_id:
            what["reference"] = f"{row.resource_type}/{row.resource_id}"
        else:
            what["type"] = row.resource_type
        entity: dict[str, Any] = {"what": what, "type": _ENTITY_TYPE}
        if row.url:
            canonical = row.url + (f"|{row.version}" if row.version else "")
            what["display"] = canonical
            entity["name"] = canonical
        event["entity"] = [entity]
    return event


def by_id(conn: Connection, audit_id: int) -> Any:
    return conn.execute(select(TABLE).where(TABLE.c.audit_id == audit_id)).first()


def search(conn: Connection, conditions: list[ColumnElement[bool]], *, count: int,
           offset: int) -> tuple[int, list[Any]]:
    """Entries meeting all `conditions` (over TABLE's columns), newest first."""
    total = int(conn.execute(select(func.count()).select_from(TABLE).where(*conditions)).scalar_one())
    rows = conn.execute(select(TABLE).where(*conditions).order_by(TABLE.c.recorded.desc(), TABLE.c.audit_id.desc())
                        .limit(count).offset(offset)).all() if count else []
    return total, list(rows)
