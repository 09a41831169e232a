"""A load run: one release (or one batch of FHIR resources) written in one database transaction.

Why one transaction: a failed or killed load then leaves the store exactly as it was (the database rolls
it back), and readers keep seeing the previous version until the commit switches them over at once.
SQLite takes the write lock up front (BEGIN IMMEDIATE, readers carry on in WAL mode); PostgreSQL takes a
transaction-scoped advisory lock, so two loads never interleave and concept ids can be handed out here."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from termsvc.errors import Busy, Conflict, LoadError
from termsvc.store import tables as t
from termsvc.store.bulk import BulkWriter
from termsvc.store.closure import build_closure
from termsvc.store.generation import bump
from termsvc.store.locks import is_lock_error, pg_wait, sqlite_wait
from termsvc.store.resources import (
    delete_code_system_version,
    store_concept_map,
    store_value_set,
    store_value_sets,
)
from termsvc.store.versions import pick_current
from termsvc.store.words import index_designation_words, indexes_designations

LOAD_LOCK_KEY = 0x7E57_5C  # advisory-lock key shared by every loader process

CONCEPT_COLUMNS = ("concept_id", "code_system_id", "code", "display", "definition", "active", "abstract",
                   "status")
DESIGNATION_COLUMNS = ("concept_id", "language", "use_system", "use_code", "use_display", "value", "preferred")
PROPERTY_COLUMNS = ("concept_id", "code_system_id", "code", "type", "value", "value_system", "value_display")
EDGE_COLUMNS = ("parent_id", "child_id", "code_system_id")
CS_PROPERTY_COLUMNS = ("code_system_id", "code", "uri", "type", "description")

Use = tuple[str | None, str | None, str | None]  # (system, code, display) of a designation use


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class SourcePosition:
    """Where the loader is reading, so errors raised deep in the writer still name file and line."""

    file: str = "<input>"
    line: int | None = None
    path: str | None = None


class CodeSystemWriter:
    """Writes one code system version. Codes get their concept id on first mention, so designations,
    properties and edges may arrive before or after the concept itself; `finish` checks that every code
    mentioned was defined."""

    def __init__(self, run: LoadRun, code_system_id: int, url: str, version: str) -> None:
        self.run = run
        self.code_system_id = code_system_id
        self.url = url
        self.version = version
        self.position = run.position
        self._ids: dict[str, int] = {}
        self._defined: set[str] = set()
        # code -> where it was first mentioned without being defined
        self._pending: dict[str, SourcePosition] = {}
        self._declared_properties: set[str] = set()
        self.concept_count = 0

    def _error(self, message: str, field_name: str | None = None) -> LoadError:
        p = self.position
        return LoadError(p.file, message, line=p.line, field_name=field_name, path=p.path)

    def concept_id(self, code: str) -> int:
        concept_id = self._ids.get(code)
        if concept_id is None:
            concept_id = self._ids[code] = self.run.next_concept_id()
            self._pending[code] = SourcePosition(self.position.file, self.position.line, self.position.path)
        return concept_id

    def has_code(self, code: str) -> bool:
        return code in self._defined

    def add_concept(self, code: str, display: str | None, *, active: bool = True, abstract: bool = False,
                    status: str | None = None, definition: str | None = None) -> int:
        if not code or code != code.strip():
            raise self._error(f"invalid code {code!r} (empty or surrounded by white space)", "code")
        if code in self._defined:
            raise self._error(f"duplicate code {code!r} in {self.url}|{self.version}", "code")
        concept_id = self.concept_id(code)
        self._pending.pop(code, None)
        self._defined.add(code)
        self.concept_count += 1
        self.run.bulk.add(t.Concept.__table__, CONCEPT_COLUMNS,  # type: ignore[attr-defined]
                          (concept_id, self.code_system_id, code, display, definition, active, abstract,
                           status))
        return concept_id

    def add_designation(self, code: str, value: str, *, language: str | None = None,
                        use: Use | None = None, preferred: bool | None = None) -> None:
        use_system, use_code, use_display = use or (None, None, None)
        self.run.bulk.add(t.Designation.__table__, DESIGNATION_COLUMNS,  # type: ignore[attr-defined]
                          (self.concept_id(code), language, use_system, use_code, use_display, value,
                           preferred))

    def add_property(self, code: str, property_code: str, value: str, *, type: str = "string",
                     system: str | None = None, display: str | None = None) -> None:
        self.run.bulk.add(t.ConceptProperty.__table__, PROPERTY_COLUMNS,  # type: ignore[attr-defined]
                          (self.concept_id(code), self.code_system_id, property_code, type, value, system,
                           display))

    def add_edge(self, parent_code: str, child_code: str) -> None:
        if parent_code == child_code:
            raise self._error(f"code {child_code!r} is its own parent (is-a cycle)", "parent")
        self.run.bulk.add(t.ConceptEdge.__table__, EDGE_COLUMNS,  # type: ignore[attr-defined]
                          (self.concept_id(parent_code), self.concept_id(child_code), self.code_system_id))

    def declare_property(self, code: str, type: str, *, uri: str | None = None,
                         description: str | None = None) -> None:
        if code in self._declared_properties:
            return
        self._declared_properties.add(code)
        self.run.bulk.add(t.CodeSystemProperty.__table__, CS_PROPERTY_COLUMNS,  # type: ignore[attr-defined]
                          (self.code_system_id, code, uri, type, description))

    def finish(self, *, require_defined: bool = True) -> None:
        if require_defined and self._pending:
            code, where = next(iter(self._pending.items()))
            more = len(self._pending) - 1
            raise LoadError(where.file, f"code {code!r} is referenced but not defined in {self.url}|"
                            f"{self.version}" + (f" ({more} more such codes)" if more else ""),
                            line=where.line, path=where.path)
        self.run.bulk.flush()
        build_closure(self.run.conn, self.code_system_id)
        if indexes_designations(self.url):
            with self.run.timed("designation words"):
                index_designation_words(self.run.conn, self.code_system_id)
        self.run.conn.execute(text("UPDATE code_system SET concept_count = :n WHERE code_system_id = :id"),
                              {"n": self.concept_count, "id": self.code_system_id})
        self.run.counts[f"{self.url}|{self.version}"] = self.concept_count


class LoadRun:
    def __init__(self, conn: Connection, kind: str, source: str, replace: bool) -> None:
        self.conn = conn
        self.kind = kind
        self.source = source
        self.replace = replace
        self.bulk = BulkWriter(conn)
        self.position = SourcePosition()
        self.counts: dict[str, int] = {}
        self.checksums: dict[str, str] = {}
        self.timings: dict[str, float] = {}
        self._started = time.perf_counter()
        self._next_id = int(conn.execute(text("SELECT COALESCE(MAX(concept_id), 0) FROM concept")).scalar_one()) + 1
        self.load_id = int(conn.execute(
            text("INSERT INTO load_run (kind, source, status, started_at, replace) "
                 "VALUES (:kind, :source, 'running', :now, :replace) RETURNING load_id"),
            {"kind": kind, "source": source, "now": _now(), "replace": replace}).scalar_one())
        self._code_systems: list[tuple[int, str, bool | None]] = []

    def next_concept_id(self) -> int:
        value = self._next_id
        self._next_id += 1
        return value

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = round(self.timings.get(stage, 0.0) + time.perf_counter() - started, 3)

    def code_system(self, resource: dict[str, Any], *, current: bool | None = None) -> CodeSystemWriter:
        """Start a code system version. `resource` is the CodeSystem resource without concepts; `url` and
        `version` are taken from it. `current`: True or False to choose, None to make the latest current."""
        url = resource.get("url")
        if not url:
            raise LoadError(self.position.file, "CodeSystem has no url", path="CodeSystem.url")
        version = str(resource.get("version") or "")
        existing = self.conn.execute(
            text("SELECT code_system_id FROM code_system WHERE url = :url AND version = :version"),
            {"url": url, "version": version}).scalar()
        if existing is not None:
            if not self.replace:
                raise Conflict(f"{url}|{version} is already loaded; load with --replace to replace it")
            delete_code_system_version(self.conn, int(existing))
        body = {k: v for k, v in resource.items() if k != "concept"}
        row = {
            "url": url, "version": version, "resource_id": resource.get("id"), "name": resource.get("name"),
            "title": resource.get("title"), "status": resource.get("status", "active"),
            "content": resource.get("content", "complete"), "supplements": resource.get("supplements"),
            "case_sensitive": resource.get("caseSensitive"), "hierarchy_meaning": resource.get("hierarchyMeaning"),
            "publisher": resource.get("publisher"), "description": resource.get("description"),
            "resource_json": json.dumps(body, ensure_ascii=False), "kind": self.kind,
            "load_id": self.load_id, "loaded_at": _now(),
        }
        columns = ", ".join(row)
        params = ", ".join(f":{k}" for k in row)
        code_system_id = int(self.conn.execute(
            text(f"INSERT INTO code_system ({columns}, is_current, concept_count) "
                 f"VALUES ({params}, false, 0) RETURNING code_system_id"), row).scalar_one())
        self._code_systems.append((code_system_id, url, current))
        writer = CodeSystemWriter(self, code_system_id, url, version)
        for prop in resource.get("property", []) or []:
            if prop.get("code"):
                writer.declare_property(prop["code"], prop.get("type", "string"), uri=prop.get("uri"),
                                        description=prop.get("description"))
        return writer

    def value_set(self, resource: dict[str, Any]) -> None:
        self.bulk.flush()
        store_value_set(self.conn, resource, load_id=self.load_id, replace=True)
        self.counts["ValueSet"] = self.counts.get("ValueSet", 0) + 1

    def value_sets(self, resources: list[dict[str, Any]]) -> None:
        """Many ValueSets in one batch (same effect as `value_set` on each)."""
        self.bulk.flush()
        written = store_value_sets(self.conn, resources, load_id=self.load_id, replace=True)
        self.counts["ValueSet"] = self.counts.get("ValueSet", 0) + written

    def concept_map(self, resource: dict[str, Any]) -> None:
        self.bulk.flush()
        store_concept_map(self.conn, resource, load_id=self.load_id, replace=True)
        self.counts["ConceptMap"] = self.counts.get("ConceptMap", 0) + 1

    def _complete(self) -> None:
        self.bulk.flush()
        for code_system_id, url, current in self._code_systems:
            pick_current(self.conn, url, code_system_id, current)
        self.timings["total"] = round(time.perf_counter() - self._started, 3)
        counts = dict(self.counts)
        counts.update({f"rows:{name}": n for name, n in self.bulk.counts.items()})
        self.conn.execute(
            text("UPDATE load_run SET status = 'completed', finished_at = :now, checksums_json = :checksums, "
                 "counts_json = :counts, timings_json = :timings WHERE load_id = :id"),
            {"now": _now(), "checksums": json.dumps(self.checksums), "counts": json.dumps(counts),
             "timings": json.dumps(self.timings), "id": self.load_id})


@dataclass
class LoadSummary:
    load_id: int
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


# a load that finds the write lock taken waits this long (a resource write holds it for milliseconds) before
# it is refused as clashing with another load
LOAD_WAIT = 30.0
# advisory locks of single resources: the two-int key space (class, hash of the key), apart from LOAD_LOCK_KEY
RESOURCE_LOCK_CLASS = 0x7E58


@contextmanager
def write_transaction(engine: Engine, busy: str, *, wait: float | None = None, load_lock: bool = True,
                      resources: Sequence[str] = ()) -> Iterator[Connection]:
    """One write transaction. SQLite has one write lock for everything (BEGIN IMMEDIATE). On PostgreSQL,
    loads and CodeSystem writes (which hand out concept ids) take the advisory lock LOAD_LOCK_KEY; a write of
    one ValueSet or ConceptMap (`load_lock` False) leaves it alone and takes an exclusive advisory lock for
    each of `resources` (keys such as 'ValueSet|url'): it goes ahead during a load of other content, and two
    writes of one resource take turns.

    `wait` None (a load): on PostgreSQL wait LOAD_WAIT for the lock, then Conflict (409, `busy`); SQLite waits
    its busy timeout. `wait` seconds (an API write): wait at most that long for any lock, then Busy (409
    lock-error with Retry-After); a resource a load committed meanwhile is a 409 conflict."""
    try:
        with engine.connect() as conn, _begin(conn, wait), conn.begin():
            if conn.dialect.name == "postgresql":
                _pg_locks(conn, busy, wait, load_lock, resources)
            yield conn
    except IntegrityError:
        if wait is None:
            raise
        raise Conflict("The resource was written by a load or another write at the same time: read it and try "
                       "again", issue_code="conflict") from None
    except OperationalError as exc:
        if wait is not None and is_lock_error(exc):
            raise Busy(f"The store is busy (a load or another write holds its write lock) and the write waited "
                       f"{wait:g} s: try again later", retry_after=max(1, math.ceil(wait))) from None
        raise


@contextmanager
def _begin(conn: Connection, wait: float | None) -> Iterator[None]:
    if conn.dialect.name != "sqlite":
        yield
        return
    conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
    if wait is None:
        yield
        return
    with sqlite_wait(conn, wait):
        yield


def _pg_locks(conn: Connection, busy: str, wait: float | None, load_lock: bool, resources: Sequence[str]) -> None:
    pg_wait(conn, LOAD_WAIT if wait is None else wait)
    if wait is None:
        if not conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOAD_LOCK_KEY}).scalar():
            try:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOAD_LOCK_KEY})
            except OperationalError as exc:
                if is_lock_error(exc):
                    raise Conflict(busy, issue_code="lock-error") from None
                raise
        conn.execute(text("SET LOCAL lock_timeout = 0"))  # a load, once it has the store, waits as it must
        return
    if load_lock:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOAD_LOCK_KEY})
    for key in sorted(set(resources)):  # one order everywhere: two writes never wait on each other in a cycle
        conn.execute(text("SELECT pg_advisory_xact_lock(:c, hashtext(:r))"), {"c": RESOURCE_LOCK_CLASS, "r": key})


@contextmanager
def load_run(engine: Engine, kind: str, source: str, *, replace: bool = False,
             wait: float | None = None) -> Iterator[LoadRun]:
    """Open a load: everything written through the yielded LoadRun commits together, or not at all. `wait`:
    see write_transaction (an API write of a CodeSystem passes its bounded wait)."""
    with write_transaction(engine, "another load is in progress; try again when it has finished",
                           wait=wait) as conn:
        run = LoadRun(conn, kind, source, replace)
        yield run
        run._complete()
        bump(conn)
        if conn.dialect.name == "postgresql":
            # Fresh planner statistics: without them the first requests after a load (until autovacuum
            # gets round to it) seq-scan the concept tables, measured 40x slower $lookup on ICD-10-CM.
            # Here, not in _complete, which inline tx-resources also call on every request.
            conn.execute(text("ANALYZE code_system, concept, designation, designation_word, concept_property, "
                              "concept_edge, closure"))
        else:
            # SQLite plans without statistics take an equality on any index as selective: an expansion then
            # scans every concept of the edition through (code_system_id) rather than starting from the closure
            # rows it needs (ECL `<< 404684003`: 917 ms against 252 ms, full-size synthetic SNOMED CT). Sampled
            # statistics (analysis_limit) cost 0.7 s there.
            conn.execute(text("PRAGMA analysis_limit = 1000"))
            conn.execute(text("ANALYZE"))
