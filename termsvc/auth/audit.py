"""The audit trail: every write attempt (success, or refusal for authorisation or validation) is one row,
written in its own transaction so a refused or rolled-back write is still recorded (or, while a load holds the
store, spooled to disk and written once it is free); read back as FHIR R4
AuditEvent (plain dicts: not a hot path, but no reason for models either)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Table, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from termsvc.auth.audit_spool import Spool, SpoolError
from termsvc.store.auth_tables import AuditEntry
from termsvc.store.locks import is_lock_error, pg_wait, sqlite_wait

log = logging.getLogger("termsvc.audit")

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


# how long an audit row waits for the store's write lock before it is kept back to be written later
AUDIT_WAIT = 1.0
# how often kept-back rows are tried again
RETRY_EVERY = 1.0


def _text(value: str | None) -> str | None:
    # a NUL cannot be stored in PostgreSQL text: the attempt is audited with it shown, not lost
    return value.replace("\x00", "\\0") if value is not None else None


def _values(entry: AuditRecord) -> dict[str, Any]:
    return {"recorded": _now(), "action": ACTIONS.get(entry.interaction, "E"), "interaction": entry.interaction,
            "outcome": entry.outcome, "outcome_desc": _text(entry.outcome_desc), "agent": _text(entry.agent),
            "agent_kind": entry.agent_kind, "source_address": _text(entry.source_address),
            "resource_type": _text(entry.resource_type), "resource_id": _text(entry.resource_id),
            "url": _text(entry.url), "version": _text(entry.version), "http_status": entry.http_status}


def _insert(engine: Engine, rows: list[dict[str, Any]]) -> list[int]:
    """The rows in one transaction of their own that waits at most AUDIT_WAIT for the store."""
    with _audit_transaction(engine) as conn:
        return [int(conn.execute(insert(TABLE).values(**row).returning(TABLE.c.audit_id)).scalar_one())
                for row in rows]


def _insert_kept(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Kept-back rows, each inserted once however often it is handed in (a spool replayed again after a crash
    between its commit and the deletion of its files, or by two processes at once): by its unique event_key."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(TABLE).on_conflict_do_nothing(index_elements=[TABLE.c.event_key])
    with _audit_transaction(engine) as conn:
        conn.execute(statement, rows)


@contextmanager
def _audit_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
            with sqlite_wait(conn, AUDIT_WAIT):
                transaction = conn.begin()
        else:
            transaction = conn.begin()
            pg_wait(conn, AUDIT_WAIT)
        with transaction:
            yield conn


def spool_directory(configured: Path | None, engine: Engine) -> Path | None:
    """Where `engine`'s kept-back rows are spooled: the configured directory, else beside a SQLite database file
    (`<file>.audit-spool`: on the disk the store is on, writable by whoever writes the store, and tied to that
    one store, so a spool is never replayed into another); none for PostgreSQL (its audit rows do not wait on a
    load) or an in-memory SQLite store (which ends with the process anyway)."""
    if configured is not None:
        return configured
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or "mode=memory" in database:
        return None
    path = Path(database).resolve()
    return path.with_name(path.name + ".audit-spool")


def _to_json(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "recorded": row["recorded"].isoformat()}


# what a kept-back row holds: every column but the one the store assigns
_KEPT_COLUMNS = frozenset(TABLE.c.keys()) - {"audit_id"}


def _from_json(row: dict[str, Any]) -> dict[str, Any]:
    """A spooled row as the insert takes it; ValueError when it is not one (a stray file, another schema)."""
    if set(row) != _KEPT_COLUMNS:
        raise ValueError(f"its fields are not those of an audit row: {', '.join(sorted(set(row) ^ _KEPT_COLUMNS))}")
    return {**row, "recorded": datetime.fromisoformat(row["recorded"])}


class _KeptBack:
    """Audit rows that could not be written at once because a load holds SQLite's write lock for minutes,
    with the time of the attempt: spooled to disk (termsvc.auth.audit_spool) and written by a background thread
    as soon as the lock is free, or by the next process to start if this one ends first. Where there is no spool
    (none configured for the store, or it cannot be written: logged as an error) they are kept in this process
    only. Either way a write never waits on a load for its audit row."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[Engine, list[dict[str, Any]]] = {}
        self._spools: dict[Engine, Spool] = {}
        self._thread: threading.Thread | None = None

    def spool_to(self, engine: Engine, directory: Path | None) -> None:
        """Spool `engine`'s kept-back rows in `directory` (None: keep them in memory)."""
        with self._lock:
            if directory is None:
                self._spools.pop(engine, None)
            else:
                self._spools[engine] = Spool(directory)

    def replay(self) -> None:
        """Write, in the background, what earlier processes left in the spools (called at startup)."""
        self._wake()

    def add(self, engine: Engine, row: dict[str, Any]) -> None:
        key = uuid.uuid4().hex
        row = {**row, "event_key": key}
        spool = self._spools.get(engine)
        if spool is None:
            self._keep(engine, row)
        else:
            try:
                spool.append(key, _to_json(row))
            except SpoolError as exc:
                log.error("%s; the audit row of this %s attempt is kept in memory only, and lost if the process "
                          "ends before the store's write lock is free (set TERMSVC_AUDIT_SPOOL_DIR to a writable "
                          "directory)", exc, row["interaction"])
                self._keep(engine, row)
        self._wake()

    def _keep(self, engine: Engine, row: dict[str, Any]) -> None:
        with self._lock:
            self._rows.setdefault(engine, []).append(row)

    def pending(self) -> int:
        with self._lock:
            return self._pending()

    def _pending(self) -> int:
        return sum(len(rows) for rows in self._rows.values()) + sum(s.pending() for s in self._spools.values())

    def flush(self) -> None:
        """Write what is kept back and spooled (whatever the lock allows now)."""
        with self._lock:
            batches, self._rows = self._rows, {}
            spools = list(self._spools.items())
        for engine, rows in batches.items():
            if not _written(_insert_kept, engine, rows):
                with self._lock:
                    self._rows.setdefault(engine, [])[:0] = rows
        for engine, spool in spools:
            _written(_replay, engine, spool)

    def _wake(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="termsvc-audit", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self.flush()
            with self._lock:
                # decided under the lock `_wake` takes: a row added from now on starts a new thread
                if not self._pending():
                    self._thread = None
                    return
            time.sleep(RETRY_EVERY)


def _replay(engine: Engine, spool: Spool) -> None:
    spool.replay(_from_json, lambda rows: _insert_kept(engine, rows))


def _written(work: Callable[..., object], *args: Any) -> bool:
    """Run `work`; False when the store's lock is still taken (try later) or it failed (logged, tried later)."""
    try:
        work(*args)
        return True
    except OperationalError as exc:
        if not is_lock_error(exc):
            log.exception("kept-back audit rows could not be written")
        return False
    except Exception:
        log.exception("kept-back audit rows could not be written")
        return False


KEPT_BACK = _KeptBack()


def record(engine: Engine, entry: AuditRecord) -> int | None:
    """Write the entry in its own transaction; when the store's write lock stays taken (a load), keep it back
    to be written once the lock is free, and return None."""
    row = _values(entry)
    try:
        return _insert(engine, [row])[0]
    except OperationalError as exc:
        if not is_lock_error(exc):
            raise
        KEPT_BACK.add(engine, row)
        return None


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
